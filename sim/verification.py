"""What an honest verifier does with the submitted model files, step by step.

1. Refuse what a real verifier could refuse: files that could not be fetched and files that
   fail safe loading (wrong names, shapes, dtypes, NaN, oversize, not safetensors).
2. Detect copies: a CID identical to an earlier submission's, or weights whose cosine
   similarity with an earlier accepted model reaches ``sim.learning.safety``'s threshold
   (a plagiarist who adds small noise changes the CID but not the direction of the weights).
   The earlier submission keeps its place; the copy is scored 0.
3. Fuse the remaining models and score each one's contribution on the verification set
   (the learning computation, ``sim.learning.evaluation``, through the run's caches in
   ``LearningService.evaluate``); refused and copied submissions score 0.

``verify`` is the one call for all of it (``expect`` announces its evaluations ahead, for a
run whose learning work runs on a cluster). An honest committee member makes it with the files
it downloaded; a dishonest one's ``Verifier.truth`` and the oracle make it with the files as
stored (no simulated time), the oracle also scoring on the held-out test set.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from contracts.taskmarket import Submission
from contracts.units import Address, Cid
from sim.errors import ModelRejected
from sim.learning_service import SampleSet

if TYPE_CHECKING:
    from sim.learning.config import ContributionConfig
    from sim.learning.models import Net
    from sim.learning_service import LearningService


@dataclass(frozen=True)
class VerificationInput:
    """What a verifier works from: one task's submissions, the data and the seed."""

    task_id: int
    cids: tuple[Cid, ...]
    """The submitted model files, in contract order."""
    contributors: tuple[Address, ...]
    data: SampleSet
    """The verification set the initiator handed out."""
    seed: int
    """The evaluation protocol's seed (split of the verification data, head training)."""

    @classmethod
    def of(
        cls, task_id: int, submissions: Sequence[Submission], data: SampleSet, seed: int
    ) -> VerificationInput:
        """The input for ``submissions`` as the market lists them."""
        return cls(
            task_id=task_id,
            cids=tuple(s.cid for s in submissions),
            contributors=tuple(s.contributor for s in submissions),
            data=data,
            seed=seed,
        )


@dataclass(frozen=True)
class VerificationResult:
    """An honest verifier's findings, one score per submission."""

    cids: tuple[Cid, ...]
    contributors: tuple[Address, ...]
    accuracy: float
    scores: tuple[float, ...]
    rejected: dict[int, str] = field(default_factory=dict)
    duplicates: dict[int, int] = field(default_factory=dict)
    reference_seconds: float = 0.0
    test_accuracy: float | None = None
    test_scores: tuple[float, ...] | None = None
    score_errors: tuple[float, ...] | None = None
    """Each score's Monte Carlo standard error when Shapley values were sampled (above
    ``contribution.shapley_exact_max`` models), else None: pay proportional to such a score
    rests on an estimate."""
    test_errors: tuple[float, ...] | None = None
    """The same for ``test_scores``."""

    @property
    def accepted(self) -> list[int]:
        """Indices of the submissions that were fused."""
        return [
            i for i in range(len(self.cids)) if i not in self.rejected and i not in self.duplicates
        ]


def verify(
    learning: LearningService,
    inputs: VerificationInput,
    files: Sequence[bytes | None],
    *,
    with_test: bool = False,
    test_method: ContributionConfig | None = None,
) -> VerificationResult:
    """Inspect, fuse and score the submissions as an honest verifier does.

    ``files`` holds each submission's model file in ``inputs.cids`` order (None where it
    could not be fetched); ``with_test`` also scores on the held-out test set (the oracle),
    by ``test_method`` when given (the oracle's one ruler: Shapley values, whatever the
    task's own method) and otherwise by the scenario's method.
    """
    blobs = tuple(files)
    models, rejected, duplicates, seconds = _admit(learning, inputs.cids, blobs)
    n = len(inputs.cids)
    keep = [i for i in range(n) if i in models]
    base = VerificationResult(
        cids=inputs.cids,
        contributors=inputs.contributors,
        accuracy=0.0,
        scores=(0.0,) * n,
        rejected=rejected,
        duplicates=duplicates,
        reference_seconds=seconds,
        test_accuracy=math.nan if with_test else None,
        test_scores=(0.0,) * n if with_test else None,
    )
    if not keep:
        return base
    kept = [models[i] for i in keep]
    plan = _plan(learning, with_test, test_method)
    ev = learning.evaluate(kept, inputs.data, inputs.seed, with_test=plan[0][0])
    scores = _spread(ev.contributions, keep, n)
    test = ev.test
    if len(plan) > 1:
        test = learning.evaluate(
            kept, inputs.data, inputs.seed, with_test=True, contribution=plan[1][1]
        ).test
    return dataclasses.replace(
        base,
        accuracy=ev.fused_accuracy,
        scores=scores,
        reference_seconds=seconds + learning.evaluation_seconds(ev),
        test_accuracy=test.fused_accuracy if test is not None else base.test_accuracy,
        test_scores=_spread(test.contributions, keep, n) if test is not None else None,
        score_errors=_errors(ev.standard_errors, keep, n),
        test_errors=_errors(test.standard_errors, keep, n) if test is not None else None,
    )


def expect(
    learning: LearningService,
    inputs: VerificationInput,
    files: Sequence[bytes | None],
    *,
    with_test: bool = False,
    test_method: ContributionConfig | None = None,
) -> None:
    """Announce the evaluations ``verify`` of the same arguments will ask for, so that a
    run's cluster (``LearningService.expect_evaluation``) starts them now; nothing happens
    without one. The files are admitted (refused, copies dropped) as ``verify`` admits them."""
    if not learning.remote:
        return
    blobs = tuple(files)
    models = _admit(learning, inputs.cids, blobs)[0]
    kept = [data for i, data in enumerate(blobs) if i in models and data is not None]
    if not kept:
        return
    for on_test, method in _plan(learning, with_test, test_method):
        learning.expect_evaluation(
            kept, inputs.data, inputs.seed, with_test=on_test, contribution=method
        )


def _plan(
    learning: LearningService, with_test: bool, test_method: ContributionConfig | None
) -> list[tuple[bool, ContributionConfig | None]]:
    """The evaluations ``verify`` makes: (with the test set, by which method; None = the
    scenario's). With another ruler for the test set, only its evaluation scores the test
    set (the fused head, and so the fused test accuracy, is the same in both)."""
    other_ruler = test_method is not None and test_method != learning.scenario.contribution
    if with_test and other_ruler:
        return [(False, None), (True, test_method)]
    return [(with_test, None)]


def _admit(
    learning: LearningService, cids: tuple[Cid, ...], blobs: tuple[bytes | None, ...]
) -> tuple[dict[int, Net], dict[int, str], dict[int, int], float]:
    """Loaded non-duplicate models by index, refusals, copies, and the seconds it took."""
    loaded: dict[int, Net] = {}
    rejected: dict[int, str] = {}
    duplicates: dict[int, int] = {}
    first_with_cid: dict[Cid, int] = {}
    for i, (cid, data) in enumerate(zip(cids, blobs, strict=True)):
        if cid in first_with_cid:
            duplicates[i] = first_with_cid[cid]
            continue
        first_with_cid[cid] = i
        if data is None:
            rejected[i] = "could not be fetched"
            continue
        try:
            loaded[i] = learning.load(data)
        except ModelRejected as err:
            rejected[i] = f"refused: {err}"
    # Each loaded model is compared with the earlier ones that were kept, in submission
    # order (the first of a family keeps its place); one similarity matrix serves them all.
    order = list(loaded)
    originals = learning.near_duplicates([loaded[i] for i in order])
    models: dict[int, Net] = {}
    seconds = 0.0
    for i, original in zip(order, originals, strict=True):
        seconds += learning.similarity_seconds(len(models))
        if original is not None:
            duplicates[i] = order[original]
        else:
            models[i] = loaded[i]
    # in submission order, as a single pass over the submissions would have listed them
    return models, rejected, dict(sorted(duplicates.items())), seconds


def _errors(errors: tuple[float, ...] | None, keep: list[int], n: int) -> tuple[float, ...] | None:
    """Standard errors at their submission indices (0 for unscored ones), or None."""
    return None if errors is None else _spread(errors, keep, n)


def _spread(values: tuple[float, ...], keep: list[int], n: int) -> tuple[float, ...]:
    """Scores of the fused models placed at their submission indices, 0 elsewhere."""
    out = [0.0] * n
    for i, v in zip(keep, values, strict=True):
        out[i] = 0.0 if math.isnan(v) else float(v)
    return tuple(out)
