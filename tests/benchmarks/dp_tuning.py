"""DP-SGD's training settings, side by side (BENCHMARKS.md, Privacy: tuning DP training).

    python tests/benchmarks/dp_tuning.py [SCENARIO] [--shards N] [--epsilons 1,4,8]
        [--settings NAME,...]

On the scenario's data and architecture (default scenarios/private_contributors.toml), for
each of the first N contributors' shards: an ordinary model with the scenario's
``[training]``, then a DP-SGD model per (setting, ε) — the settings below are the DP
overrides of ``training.privacy`` / ``[behaviours.private]`` (``epochs``, ``batch_size``,
``lr``, ``optimizer``, ``momentum``) and the clipping norm. Each is trained cold (no cache);
printed: training seconds, ε spent, the contributor's validation accuracy (its own held-out
part of the shard) and the accuracy on the 1,000 held-out test samples (no agent sees them).
"""

from __future__ import annotations

import argparse
import dataclasses
import time

# a setting is named OPT-lrLR-bBATCH-eEPOCHS-cCLIP (e.g. sgd-lr0.05-b240-e30-c1; SGD with
# momentum 0.9); "training" is the scenario's own [training] (clipping norm 1)
DEFAULT = "training,sgd-lr0.02-b240-e30-c1,sgd-lr0.05-b240-e30-c1,sgd-lr0.1-b240-e30-c1"


def setting(name: str) -> dict[str, object]:
    """The DP settings (clipping norm and training overrides) a setting's name describes."""
    if name == "training":
        return {"max_grad_norm": 1.0}
    optimizer, *parts = name.split("-")
    fields = {p[0] if p[0] != "l" else "lr": p[2:] if p.startswith("lr") else p[1:] for p in parts}
    out: dict[str, object] = {"optimizer": optimizer, "momentum": 0.9}
    out["lr"] = float(fields["lr"])
    out["batch_size"] = int(fields["b"])
    out["epochs"] = int(fields["e"])
    out["max_grad_norm"] = float(fields["c"])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", nargs="?", default="scenarios/private_contributors.toml")
    parser.add_argument("--shards", type=int, default=1)
    parser.add_argument("--epsilons", default="1,4,8")
    parser.add_argument("--settings", default=DEFAULT)
    parser.add_argument("--no-baseline", action="store_true", help="skip the model without DP")
    args = parser.parse_args()
    epsilons = [float(e) for e in args.epsilons.split(",")]
    run(args.scenario, args.shards, epsilons, args.settings.split(","), not args.no_baseline)


def run(path: str, shards: int, epsilons: list[float], names: list[str], baseline: bool) -> None:
    import torch

    from sim.learning.config import PrivacyConfig
    from sim.learning.safety import load_model
    from sim.learning.training import TrainRequest, accuracy, gather, train
    from sim.learning_service import LearningService
    from sim.rng import RngStreams
    from sim.runner import resolve

    scenario = resolve(path)
    learning = LearningService(scenario, RngStreams(0))
    dataset = learning.dataset
    cpu = torch.device("cpu")
    x_test, y_test = gather(dataset, learning.partition.test, cpu)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {path}")
    print("shard | setting | ε | ε spent | train s | val. acc. | test acc.")
    for i in range(shards):
        shard = learning.shard_of(i)
        points: list[tuple[str, float | None]] = [("no DP", None)] if baseline else []
        points += [(name, eps) for name in names for eps in epsilons]
        for name, eps in points:
            training = dataclasses.replace(scenario.training, privacy=None, device="cpu")
            if eps is not None:
                privacy = PrivacyConfig(epsilon=eps, **setting(name))  # type: ignore[arg-type]
                training = dataclasses.replace(training, privacy=privacy)
            request = TrainRequest.for_shard(dataset, shard, scenario.model, training, 100 + i)
            start = time.perf_counter()
            trained = train(request, dataset, None)
            seconds = time.perf_counter() - start
            model = load_model(trained.weights, scenario.model)
            test = accuracy(model, x_test, y_test)
            spent = "-" if trained.epsilon is None else f"{trained.epsilon:.2f}"
            print(
                f"{i} | {name} | {eps if eps is not None else '-'} | {spent} | {seconds:.1f} | "
                f"{trained.validation_accuracy:.3f} | {test:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
