"""A content-keyed cache of verifier evaluations, so identical evaluations cost a file read.

An evaluation is a pure function of the models' files, the verification (and test) samples,
the fusion and contribution settings, the seed, and the numeric environment (torch version,
device type and CPU thread count, which can change the last bits of a float). The key hashes
exactly those. Sweeps over incentive parameters repeat the same evaluations run after run;
with this cache they are read instead of recomputed. Entries are JSON files written to a
temporary name and renamed into place, so concurrent processes can share the directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sim.config import to_table
from sim.learning.config import ContributionConfig, FusionConfig
from sim.learning.device import numeric_environment, resolve_device
from sim.learning.evaluation import Evaluation, Scores
from sim.learning.features import LabelledData
from sim.learning.models import Net
from sim.paths import atomic_write, cache_dir, exclusive

CODE_VERSION = "evaluate-2"
"""Bump when a change to fusion, contribution or verification changes what they return."""


def evaluation_key(
    models: Sequence[Net],
    verification: LabelledData,
    fusion: FusionConfig,
    contribution: ContributionConfig,
    seed: int,
    test: LabelledData | None,
) -> str:
    """SHA-256 over everything that determines an evaluation."""
    if any(m.fingerprint is None for m in models):
        raise ValueError("evaluation_key: every model needs its file's fingerprint")
    described = {
        "code": CODE_VERSION,
        # not memoised: the thread count can change within a process (``torch_threads``)
        "env": numeric_environment(resolve_device(fusion.device)),
        "models": [m.fingerprint for m in models],
        "verification": verification.key,
        "test": test.key if test is not None else None,
        "fusion": _fusion_table(fusion),
        "contribution": _contribution_table(contribution),
        "seed": seed,
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


@functools.lru_cache(maxsize=64)
def _fusion_table(fusion: FusionConfig) -> dict[str, Any]:
    """The fusion settings as the key describes them (the device aside), made once per
    settings object: the tables are only serialised, never changed. ``structured`` is
    described only when set: dense evaluations keep the keys of before the switch existed."""
    table: dict[str, Any] = to_table(fusion)
    table.pop("device")
    if not table["structured"]:
        table.pop("structured")
    return table


@functools.lru_cache(maxsize=64)
def _contribution_table(contribution: ContributionConfig) -> dict[str, Any]:
    table: dict[str, Any] = to_table(contribution)
    return table


def _to_json(e: Evaluation) -> dict[str, Any]:
    return dataclasses.asdict(e)


def _scores(d: dict[str, Any]) -> Scores:
    return Scores(
        fused_accuracy=float(d["fused_accuracy"]),
        contributions=tuple(float(v) for v in d["contributions"]),
        individual_accuracies=tuple(float(v) for v in d["individual_accuracies"]),
        empty_value=float(d["empty_value"]),
        standard_errors=(
            None
            if d.get("standard_errors") is None
            else tuple(float(v) for v in d["standard_errors"])
        ),
    )


def _from_json(d: dict[str, Any]) -> Evaluation:
    return Evaluation(
        scores=_scores(d["scores"]),
        test=_scores(d["test"]) if d["test"] is not None else None,
        method=d["method"],
        strategy=d["strategy"],
        error_bound=d["error_bound"],
        heads_trained=int(d["heads_trained"]),
        forward_samples=int(d["forward_samples"]),
        head_samples=int(d["head_samples"]),
    )


class EvaluationCache:
    """Evaluations on disk by ``evaluation_key``, with an in-process layer in front."""

    def __init__(self, directory: Path | str | None = None):
        self.directory = Path(directory) if directory is not None else cache_dir("evaluations")
        self._memory: dict[str, Evaluation] = {}
        self.hits = 0
        self.misses = 0
        self.computed = 0

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> Evaluation | None:
        """The stored evaluation, counted as a hit or a miss."""
        found = self._read(key)
        if found is None:
            self.misses += 1
        else:
            self.hits += 1
        return found

    def has(self, key: str) -> bool:
        """Whether ``key`` is stored (not counted as a hit or a miss)."""
        return self._read(key) is not None

    def _read(self, key: str) -> Evaluation | None:
        found = self._memory.get(key)
        if found is None:
            try:
                found = _from_json(json.loads(self._path(key).read_text()))
            except (OSError, ValueError, KeyError, TypeError):
                return None
            self._memory[key] = found
        return found

    def claim(self, key: str) -> contextlib.AbstractContextManager[None]:
        """Hold the lock on ``key`` across processes (an advisory ``flock`` beside the entry)."""
        return exclusive(self._path(key).with_name(f".{key}.lock"))

    def get_or_compute(self, key: str, compute: Callable[[], Evaluation]) -> Evaluation:
        """The evaluation stored under ``key``, computing and storing it if missing.

        Concurrent callers with the same key (a sweep's workers starting on points of one
        seed) compute it once: one holds the lock and computes, the others wait and read.
        """
        if (found := self.get(key)) is not None:
            return found
        with self.claim(key):
            if (found := self._read(key)) is not None:  # computed while this one waited
                return found
            evaluation = compute()
            self.computed += 1
            self.put(key, evaluation)
        return evaluation

    def put(self, key: str, evaluation: Evaluation) -> None:
        self._memory[key] = evaluation
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(_to_json(evaluation), allow_nan=True))
