"""The paper's experiment (Figs 5 and 6): five contributors, fused by verifiers.

For each seed s (``RngStreams(s)``):
1. partition the data set (stream "partition") into ``contributors`` IID shards, each with
   its local validation part, plus the verification set and the held-out test set;
2. contributor i trains the 3-layer CNN on its shard (seed stream ("contributor", i));
   Fig. 5 is each one's accuracy on its own local validation data;
3. each of ``verifiers`` verifiers (seed stream ("verifier", j)) splits the verification set
   into its fitting and evaluation parts and, for both strategies, fuses every non-empty
   subset of the models. Fig. 6 is, for each number of models k, the mean over verifiers
   and over all C(n, k) subsets of size k of the fused accuracy on the verifiers'
   evaluation parts (so no arbitrary order of the models is privileged).
``fig6_detail.csv`` keeps every (verifier, strategy, subset) with its accuracy on the
held-out test set too. Models are read back through ``load_model`` from their safetensors
bytes, exactly as a verifier would.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import pandas as pd

from sim.config import NON_NEGATIVE, POSITIVE, Checked, Interval
from sim.learning.config import (
    DataConfig,
    DatasetName,
    FusionConfig,
    ModelConfig,
    Strategy,
    TrainConfig,
)
from sim.learning.datasets import Dataset, load_dataset
from sim.learning.evaluation import SubsetFusion
from sim.learning.features import FeatureCache, LabelledData
from sim.learning.partition import partition
from sim.learning.safety import load_model
from sim.learning.training import TrainingCache, TrainRequest, train
from sim.rng import RngStreams

STRATEGIES: tuple[Strategy, ...] = ("I", "II")


def paper_data(dataset: DatasetName) -> DataConfig:
    """The data split of the experiment: IID shards, sizes scaled to the data set."""
    if dataset in ("mnist", "fashion-mnist"):
        return DataConfig(dataset=dataset, test_size=10_000, verification_size=2_000)
    if dataset == "synthetic":
        return DataConfig(dataset=dataset, test_size=400, verification_size=400)
    return DataConfig(dataset=dataset, test_size=1_000, verification_size=1_000)


@dataclass(frozen=True)
class PaperSetup(Checked):
    """Parameters of the reproduction; ``data`` None means ``paper_data(dataset)``."""

    dataset: DatasetName = "mnist"
    data_dir: str | None = None
    contributors: Annotated[int, Interval(1, 12, closed="both", why="every subset is fused")] = 5
    verifiers: Annotated[int, POSITIVE] = 3
    seeds: Annotated[int, POSITIVE] = 3
    first_seed: Annotated[int, NON_NEGATIVE] = 0
    data: DataConfig | None = None
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainConfig = field(default_factory=lambda: TrainConfig(epochs=10))
    fusion: FusionConfig = field(default_factory=FusionConfig)

    def data_config(self) -> DataConfig:
        return self.data if self.data is not None else paper_data(self.dataset)


@dataclass(frozen=True, eq=False)
class PaperResult:
    """Tidy tables: ``fig5`` (seed, contributor, accuracy), ``fig6`` (seed, strategy,
    n_models, accuracy) and ``detail`` (one row per verifier, strategy and subset)."""

    fig5: pd.DataFrame
    fig6: pd.DataFrame
    detail: pd.DataFrame
    dataset: str


Log = Callable[[str], None]


def run_paper(
    setup: PaperSetup, *, cache: TrainingCache | None = None, log: Log | None = None
) -> PaperResult:
    """Run the experiment for ``setup.seeds`` seeds; ``cache`` makes reruns cheap."""
    say = log or (lambda _message: None)
    dataset = load_dataset(setup.dataset, setup.data_dir, download=True)
    say(f"{dataset.name}: {len(dataset)} samples from {dataset.source}")
    fig5: list[dict[str, object]] = []
    detail: list[dict[str, object]] = []
    for seed in range(setup.first_seed, setup.first_seed + setup.seeds):
        seed_fig5, seed_detail = _one_seed(setup, dataset, seed, cache, say)
        fig5 += seed_fig5
        detail += seed_detail
    detail_frame = pd.DataFrame(detail)
    keys = ["seed", "strategy", "n_models"]
    fig6 = detail_frame.groupby(keys)["accuracy"].mean().reset_index()
    return PaperResult(pd.DataFrame(fig5), fig6, detail_frame, dataset.name)


def _one_seed(
    setup: PaperSetup, dataset: Dataset, seed: int, cache: TrainingCache | None, say: Log
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    streams = RngStreams(seed)
    split = partition(dataset, setup.contributors, setup.data_config(), streams.numpy("partition"))
    fig5: list[dict[str, object]] = []
    models = []
    for i, shard in enumerate(split.shards):
        request = TrainRequest.for_shard(
            dataset, shard, setup.model, setup.training, streams.integer_seed("contributor", i)
        )
        trained = train(request, dataset, cache)
        fig5.append({"seed": seed, "contributor": i, "accuracy": trained.validation_accuracy})
        models.append(load_model(trained.weights, setup.model, dataset.n_classes))
        where = "cache" if trained.from_cache else f"{trained.samples_processed} samples"
        accuracy = trained.validation_accuracy
        say(f"seed {seed}: contributor {i} local accuracy {accuracy:.4f} ({where})")
    verification = LabelledData.from_indices(dataset, split.verification)
    test = LabelledData.from_indices(dataset, split.test)
    features = FeatureCache()
    detail = []
    for j in range(setup.verifiers):
        verifier_seed = streams.integer_seed("verifier", j)
        for strategy in STRATEGIES:
            fusion = dataclasses.replace(setup.fusion, strategy=strategy)
            subsets = SubsetFusion(
                models, verification, fusion, verifier_seed, test=test, features=features
            )
            detail += _subset_rows(subsets, seed, j, strategy)
        say(f"seed {seed}: verifier {j} fused all {2 ** len(models) - 1} subsets, both strategies")
    return fig5, detail


def _subset_rows(
    subsets: SubsetFusion, seed: int, verifier: int, strategy: Strategy
) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    n = len(subsets.models)
    every = [frozenset(c) for k in range(1, n + 1) for c in itertools.combinations(range(n), k)]
    subsets.prefetch(every)
    for k in range(1, n + 1):
        for members in itertools.combinations(range(n), k):
            on_eval, on_test = subsets.value(frozenset(members))
            rows.append(
                {
                    "seed": seed,
                    "verifier": verifier,
                    "strategy": strategy,
                    "n_models": k,
                    "models": "+".join(map(str, members)),
                    "accuracy": on_eval,
                    "test_accuracy": on_test,
                }
            )
    return rows


def write_paper(result: PaperResult, out_dir: Path) -> list[Path]:
    """fig5.csv, fig6.csv, fig6_detail.csv, fig5.png, fig6.png and summary.txt in ``out_dir``."""
    from sim.learning import figures

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in ("fig5.csv", "fig6.csv", "fig6_detail.csv")]
    result.fig5.to_csv(paths[0], index=False)
    result.fig6.to_csv(paths[1], index=False)
    result.detail.to_csv(paths[2], index=False)
    paths.append(figures.plot_fig5(result.fig5, out_dir / "fig5.png", result.dataset))
    paths.append(figures.plot_fig6(result.fig6, out_dir / "fig6.png", result.dataset))
    summary = out_dir / "summary.txt"
    summary.write_text(summarise(result) + "\n")
    paths.append(summary)
    return paths


def summarise(result: PaperResult) -> str:
    """Mean ± standard deviation over seeds, as plain-text tables."""
    seeds = result.fig5["seed"].nunique()
    lines = [f"{result.dataset}, {seeds} seed(s); mean ± std over seeds", "", "Fig. 5"]
    lines.append("contributor  local validation accuracy")
    by_contributor = result.fig5.groupby("contributor")["accuracy"]
    for contributor, stats in by_contributor.agg(["mean", "std"]).iterrows():
        lines.append(f"{contributor:>11}  {_pm(stats['mean'], stats['std'])}")
    lines += ["", "Fig. 6 (verifiers' evaluation parts; held-out test set in brackets)"]
    lines.append("n_models  strategy I                  strategy II")
    on_eval = result.fig6.groupby(["n_models", "strategy"])["accuracy"].agg(["mean", "std"])
    per_seed_test = result.detail.groupby(["seed", "n_models", "strategy"])["test_accuracy"]
    on_test = per_seed_test.mean().groupby(["n_models", "strategy"]).mean()
    for k in sorted(result.fig6["n_models"].unique()):
        cells = [
            f"{_pm(on_eval.loc[(k, s), 'mean'], on_eval.loc[(k, s), 'std'])} "
            f"[{on_test.loc[(k, s)]:.4f}]"
            for s in STRATEGIES
        ]
        lines.append(f"{k:>8}  {cells[0]:<26}  {cells[1]}")
    return "\n".join(lines)


def _pm(mean: float, std: float) -> str:
    spread = 0.0 if pd.isna(std) else std
    return f"{mean:.4f} ± {spread:.4f}"
