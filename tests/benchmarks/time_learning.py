"""CPU seconds a run spends in its learning arithmetic (not collected by pytest; a script).

    BAASIM_CACHE=$COLD OMP_NUM_THREADS=1 .venv/bin/python tests/benchmarks/time_learning.py \\
        run tests/benchmarks/scale.toml --seed 0 --out /tmp/scale

Runs ``baasim`` with these arguments, timing (``time.process_time``) every call of the
functions that do the run's learning arithmetic — fused-head training (``fusion._fit``),
feature extraction (``features.extract_features``), batched and one-at-a-time contributor
training (``batched.fit_batched``, ``training.fit``) and head scoring
(``HeadBatch.accuracies``) — then prints calls and CPU seconds of each and their sum against
the whole of ``main()``. With a fresh cache this is the part of a cold run no bookkeeping
change can remove: what is left is imports, chain, agents, storage and outputs.
"""

from __future__ import annotations

import functools
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sim.cli import main as baasim
from sim.learning import batched, features, fusion, training

SECONDS: dict[str, float] = {}
CALLS: Counter[str] = Counter()
_INSIDE = [0]


def _timed(owner: Any, name: str, label: str) -> None:
    """Replace ``owner.name`` by a wrapper adding its outermost calls' CPU time to ``label``."""
    original: Callable[..., Any] = getattr(owner, name)

    @functools.wraps(original)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if _INSIDE[0]:  # nested in a timed call: counted there
            return original(*args, **kwargs)
        _INSIDE[0] += 1
        start = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            SECONDS[label] = SECONDS.get(label, 0.0) + time.process_time() - start
            CALLS[label] += 1
            _INSIDE[0] -= 1

    setattr(owner, name, wrapper)


def main() -> None:
    _timed(fusion, "_fit", "heads (fusion._fit)")
    _timed(features, "extract_features", "features (extract_features)")
    _timed(batched, "fit_batched", "training (fit_batched)")
    _timed(training, "fit", "training (fit)")
    _timed(fusion.HeadBatch, "accuracies", "head accuracies")
    start = time.process_time()
    try:
        baasim(sys.argv[1:])
    finally:
        total = time.process_time() - start
        for label, seconds in sorted(SECONDS.items(), key=lambda item: -item[1]):
            print(f"{label:30s} {CALLS[label]:6d} calls {seconds:8.2f} CPU s", file=sys.stderr)
        learning = sum(SECONDS.values())
        print(
            f"{'learning arithmetic':30s} {learning:21.2f} CPU s of {total:.2f} in main()",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
