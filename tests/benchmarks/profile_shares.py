"""Where a run's time went: py-spy's collapsed stacks bucketed by the first matching frame.

    py-spy record -r 20 --nonblocking --format raw -o prof.txt --pid PID
    python tests/benchmarks/profile_shares.py prof.txt [--top 15]

Each sample (a line ``frame;frame;... count``) goes to the first bucket, scanning from the
outermost frame inwards, whose pattern one of its frames contains; ``--top`` also lists the
innermost frames of our own code that took the most samples. Buckets (BENCHMARKS.md uses
them): imports, outputs (summary, tables written at the end), series (the model-level
samples), chain (sealing, views, transaction building), training, evaluation (fusion heads,
features, contributions, near-duplicate check), storage (CIDs, files), agents/SimPy (the
rest of the event loop: agents, churn, watcher, recorder).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

BUCKETS: list[tuple[str, tuple[str, ...]]] = [
    ("imports", ("<frozen importlib._bootstrap>",)),
    ("outputs", ("LiveRun.finish", "_write_outputs")),
    ("series", ("MarketModel.collector", "DataCollector.collect")),
    ("storage", ("sim/storage/",)),
    ("training", ("sim/learning/batched.py", "sim/learning/training.py", "LearningService.train")),
    (
        "evaluation",
        ("LearningService.evaluate", "LearningService.near_duplicates", "sim/learning/"),
    ),
    ("chain", ("contracts/chain/", "contracts/taskmarket.py")),
    ("recorder", ("sim/recorder.py",)),
    ("agents/SimPy", ("simpy/", "agents/", "sim/")),
]
_LINE = re.compile(r"^(.*) (\d+)$")


def shares(path: str) -> tuple[Counter[str], Counter[str], int]:
    buckets: Counter[str] = Counter()
    inner: Counter[str] = Counter()
    total = 0
    with Path(path).open() as f:
        for line in f:
            m = _LINE.match(line.rstrip("\n"))
            if m is None:
                continue
            frames, count = m.group(1).split(";"), int(m.group(2))
            total += count
            buckets[_bucket(frames)] += count
            ours = [fr for fr in frames if re.search(r"\((sim|agents|contracts)/", fr)]
            if ours:
                inner[re.sub(r":\d+\)", ")", ours[-1])] += count
    return buckets, inner, total


def _bucket(frames: list[str]) -> str:
    for name, patterns in BUCKETS:
        if any(p in fr for fr in frames for p in patterns):
            return name
    return "other"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile")
    parser.add_argument("--top", type=int, default=0)
    args = parser.parse_args()
    buckets, inner, total = shares(args.profile)
    print(f"{total} samples")
    for name, count in buckets.most_common():
        print(f"{100 * count / total:6.1f} %  {count / 20:8.1f} s at 20 Hz  {name}")
    for frame, count in inner.most_common(args.top):
        print(f"{100 * count / total:6.1f} %  {frame}")


if __name__ == "__main__":
    main()
