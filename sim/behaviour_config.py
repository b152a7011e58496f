"""Behaviour mixes and the parameters of dishonest behaviours (scenario configuration).

``[population]`` gives each role a mix, ``{kind = share}``: a float is a fraction of the
role's agents, an integer a count; whoever is left is honest. ``[behaviours]`` sets how each
dishonest kind misbehaves. The kinds themselves live in ``agents.behaviours``; this module
only names them, validates mixes and deals kinds to agents from an explicit RNG stream.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from sim.distributions import Dist

CONTRIBUTOR_KINDS: tuple[str, ...] = ("honest", "free_rider", "plagiarist", "poisoner", "dropout")
VERIFIER_KINDS: tuple[str, ...] = (
    "honest",
    "lazy",
    "always_approve",
    "always_reject",
    "colluding",
    "copycat",
    "offline",
)


def check_mix(name: str, mix: Mapping[str, float | int], kinds: tuple[str, ...]) -> None:
    """Raise ValueError naming ``name`` if ``mix`` has unknown kinds or shares out of range."""
    for kind, share in mix.items():
        if kind not in kinds:
            raise ValueError(
                f"{name}.{kind}: unknown behaviour; expected one of {', '.join(kinds)}"
            )
        if isinstance(share, bool) or not isinstance(share, (int, float)):
            raise ValueError(f"{name}.{kind}: expected a fraction (float) or a count (integer)")
        if isinstance(share, float) and not 0.0 <= share <= 1.0:
            raise ValueError(f"{name}.{kind}: expected a fraction in [0, 1], got {share}")
        if isinstance(share, int) and share < 0:
            raise ValueError(f"{name}.{kind}: expected a count >= 0, got {share}")
    fractions = sum(s for s in mix.values() if isinstance(s, float))
    if fractions > 1.0 + 1e-9:
        raise ValueError(f"{name}: fractions add up to {fractions:g}, more than 1")


def counts(mix: Mapping[str, float | int], n: int) -> dict[str, int]:
    """How many of ``n`` agents get each kind (fractions by largest remainder; rest honest)."""
    out = {kind: share for kind, share in mix.items() if isinstance(share, int)}
    fractional = {k: s * n for k, s in mix.items() if isinstance(s, float)}
    floors = {k: math.floor(v) for k, v in fractional.items()}
    left = round(sum(fractional.values())) - sum(floors.values())
    by_remainder = sorted(fractional, key=lambda k: (fractional[k] - floors[k], k), reverse=True)
    for k in by_remainder[:left]:
        floors[k] += 1
    for k, v in floors.items():
        out[k] = out.get(k, 0) + v
    dishonest = sum(v for k, v in out.items() if k != "honest")
    if dishonest > n:
        raise ValueError(f"behaviour mix asks for {dishonest} agents of {n}")
    out["honest"] = n - dishonest
    return {k: v for k, v in out.items() if v > 0}


def deal(mix: Mapping[str, float | int], n: int, rng: np.random.Generator) -> list[str]:
    """The kind of each of ``n`` agents: the mix's counts in an order shuffled by ``rng``."""
    kinds = [kind for kind, c in sorted(counts(mix, n).items()) for _ in range(c)]
    order = rng.permutation(len(kinds))
    return [kinds[i] for i in order]


@dataclass(frozen=True)
class BehaviourSection:
    """``[behaviours]``: how each dishonest kind misbehaves."""

    free_rider_weights: Literal["untrained", "random"] = "untrained"
    """Free riders submit the seeded initial weights, or those plus unit Gaussian noise."""
    plagiarist_noise: float = 0.0
    """0: a byte-identical copy; > 0: the copy's weights get this relative Gaussian noise."""
    poison_rate: float = 0.5
    """Fraction of a poisoner's training labels flipped."""
    dropout_at: float = 0.5
    """A dropout leaves when this fraction of its training is done (it submits nothing)."""
    lazy_accuracy: Dist = field(default_factory=lambda: Dist(kind="uniform", low=0.85, high=0.95))
    """Fused accuracy lazy and guessing verifiers report without computing."""
    approve_margin: float = 0.05
    """always_approve reports MAFR + margin; always_reject reports MAFR − margin."""
    collusion_targets: tuple[int, ...] = (0,)
    """Indices of the contributors the colluding verifiers favour."""
    collusion_boost: float = 0.5
    """Added to the favoured contributors' scores; colluders also report accuracy ≥ MAFR."""
    copycat_fallback: Literal["guess", "absent"] = "guess"
    """What a copycat does when no report is visible in time (e.g. under commit–reveal)."""

    def __post_init__(self) -> None:
        if self.plagiarist_noise < 0:
            raise ValueError(f"plagiarist_noise: expected >= 0, got {self.plagiarist_noise}")
        for name in ("poison_rate", "dropout_at", "approve_margin", "collusion_boost"):
            v = getattr(self, name)
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{name}: expected a fraction in [0, 1], got {v}")
        if any(i < 0 for i in self.collusion_targets):
            raise ValueError(
                f"collusion_targets: expected indices >= 0, got {self.collusion_targets}"
            )
        if self.lazy_accuracy.upper > 1.0:
            raise ValueError(
                "lazy_accuracy: expected accuracies in [0, 1]; this distribution reaches "
                f"{self.lazy_accuracy.upper} (set maximum = 1.0 to clip it)"
            )
