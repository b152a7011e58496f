"""Privacy's costs, measured side by side on one machine (BENCHMARKS.md, Privacy).

    python tests/benchmarks/privacy_costs.py [SCENARIO] [--models N]

On the scenario's data, architecture and training (default
scenarios/private_contributors.toml), for each of the first N contributors' shards:

- training time, ordinary against DP-SGD (the scenario's ``[behaviours.private]`` budget),
  each from a cold start (no training cache), with the validation accuracy of both;
- the audit's cost per model: the loss attack alone (no reference models) against the
  offline LiRA (its reference models trained once per run, timed apart, then one pass of
  each reference over the candidates per model), and the leak each measures.

The training cache is pointed at a fresh temporary directory, so nothing is read from (or
left in) the shared cache.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", nargs="?", default="scenarios/private_contributors.toml")
    parser.add_argument("--models", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="baasim-privacy-bench-") as cache:
        os.environ["BAASIM_CACHE"] = cache
        run(args.scenario, args.models)


def run(path: str, n_models: int) -> None:
    import torch

    from sim.learning.config import PrivacyConfig
    from sim.learning.training import TrainRequest, train
    from sim.learning_service import LearningService
    from sim.rng import RngStreams
    from sim.runner import resolve

    scenario = resolve(path)
    privacy: PrivacyConfig = scenario.behaviours["private"].privacy()
    learning = LearningService(scenario, RngStreams(0))
    dataset = learning.dataset
    audit = scenario.audit
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {path}")
    print(f"DP-SGD: ε = {privacy.epsilon}, δ = {privacy.delta}, C = {privacy.max_grad_norm}")

    start = time.perf_counter()
    references = learning.reference_models(audit.reference_models, audit.reference_size, 1)
    ref_s = time.perf_counter() - start
    print(
        f"{audit.reference_models} reference models, {audit.reference_size} samples: {ref_s:.1f} s"
    )
    print(
        "shard | train s | DP train s | slowdown | acc | DP acc | ε spent | loss audit s | "
        "LiRA audit s | loss AUC | LiRA AUC | DP loss AUC | DP LiRA AUC"
    )
    for i in range(n_models):
        shard = learning.shard_of(i)
        out = []
        for training in (
            dataclasses.replace(scenario.training, privacy=None),
            dataclasses.replace(scenario.training, privacy=privacy),
        ):
            request = TrainRequest.for_shard(dataset, shard, scenario.model, training, 100 + i)
            start = time.perf_counter()
            trained = train(request, dataset, None)
            seconds = time.perf_counter() - start
            model = learning.load(trained.weights)
            start = time.perf_counter()
            (loss,) = learning.membership_audit(model, shard.train, ("loss",), [], audit.candidates)
            loss_s = time.perf_counter() - start
            start = time.perf_counter()
            (lira,) = learning.membership_audit(
                model, shard.train, ("lira_offline",), references, audit.candidates
            )
            lira_s = time.perf_counter() - start
            out.append((seconds, trained, loss_s, lira_s, loss, lira))
        (s0, t0, l0, r0, a0, b0), (s1, t1, _l1, _r1, a1, b1) = out
        print(
            f"{i} | {s0:.1f} | {s1:.1f} | {s1 / s0:.2f}× | {t0.validation_accuracy:.3f} | "
            f"{t1.validation_accuracy:.3f} | {t1.epsilon:.3f} | {l0:.3f} | {r0:.3f} | "
            f"{a0.auc:.3f} | {b0.auc:.3f} | {a1.auc:.3f} | {b1.auc:.3f}"
        )


if __name__ == "__main__":
    main()
