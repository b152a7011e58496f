"""Probability distributions named in scenario files (latencies, speeds, bandwidths, sessions).

A ``Dist`` is a frozen configuration value: ``{kind = "lognormal", median = 0.05, sigma = 0.5}``.
Only the parameters of its kind may be set; each parameter's range is declared next to it;
``sample`` draws from an explicit generator.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Annotated, Literal

import numpy as np

from sim.config import NON_NEGATIVE, POSITIVE, Checked, Interval

DistKind = Literal["constant", "uniform", "normal", "lognormal", "exponential", "weibull"]

_PARAMS: dict[str, tuple[str, ...]] = {
    "constant": ("value",),
    "uniform": ("low", "high"),
    "normal": ("mean", "std"),
    "lognormal": ("median", "sigma"),
    "exponential": ("mean",),
    "weibull": ("shape", "scale"),
}
_OPTIONAL = ("minimum", "maximum")


@dataclass(frozen=True)
class Dist(Checked):
    """A distribution of non-negative reals, clipped to [minimum, maximum]."""

    kind: DistKind = "constant"
    value: Annotated[float | None, NON_NEGATIVE] = None
    low: Annotated[float | None, NON_NEGATIVE] = None
    high: Annotated[float | None, NON_NEGATIVE] = None
    mean: Annotated[float | None, NON_NEGATIVE] = None
    std: Annotated[float | None, POSITIVE] = None
    median: Annotated[float | None, POSITIVE] = None
    sigma: Annotated[float | None, POSITIVE] = None
    shape: Annotated[float | None, POSITIVE] = None
    scale: Annotated[float | None, POSITIVE] = None
    minimum: Annotated[float, NON_NEGATIVE] = 0.0
    maximum: Annotated[float, Interval(0, None, finite=False)] = math.inf
    """Upper clip; unbounded by default."""

    def __post_init__(self) -> None:
        super().__post_init__()
        needed = _PARAMS[self.kind]
        for f in fields(self):
            if f.name in ("kind", *_OPTIONAL):
                continue
            given = getattr(self, f.name) is not None
            if f.name in needed and not given:
                raise ValueError(f"{f.name}: required for a {self.kind} distribution")
            if f.name not in needed and given:
                listed = ", ".join((*needed, *_OPTIONAL))
                raise ValueError(
                    f"{f.name}: not a parameter of a {self.kind} distribution (use {listed})"
                )
        self._check_ranges()

    def _check_ranges(self) -> None:
        # Each parameter's own range is declared on its field; these involve the kind or
        # another field.
        if self.kind == "exponential" and (self.mean or 0) <= 0:
            raise ValueError(f"mean: expected a positive number, got {self.mean}")
        if self.kind == "uniform" and (self.high or 0) < (self.low or 0):
            raise ValueError(f"high: expected >= low ({self.low}), got {self.high}")
        if self.maximum < self.minimum:
            raise ValueError(f"maximum: expected >= minimum ({self.minimum}), got {self.maximum}")

    @classmethod
    def constant(cls, value: float) -> Dist:
        return cls(kind="constant", value=float(value))

    def sample(self, rng: np.random.Generator, size: int | None = None) -> np.ndarray:
        """Draws as an array (``size`` of them, or a 0-d array)."""
        draws = self._raw(rng, size)
        return np.asarray(np.clip(draws, self.minimum, self.maximum), dtype=float)

    def draw(self, rng: np.random.Generator) -> float:
        """One draw as a float."""
        return float(self.sample(rng))

    def _raw(self, rng: np.random.Generator, size: int | None) -> np.ndarray:
        p = {name: float(getattr(self, name)) for name in _PARAMS[self.kind]}
        k = self.kind
        if k == "constant":
            return np.full(size if size is not None else (), p["value"])
        if k == "uniform":
            draws = rng.uniform(p["low"], p["high"], size)
        elif k == "normal":
            draws = rng.normal(p["mean"], p["std"], size)
        elif k == "lognormal":
            draws = rng.lognormal(math.log(p["median"]), p["sigma"], size)
        elif k == "exponential":
            draws = rng.exponential(p["mean"], size)
        else:
            draws = p["scale"] * rng.weibull(p["shape"], size)
        return np.asarray(draws, dtype=float)

    @property
    def upper(self) -> float:
        """The largest value a draw can take (after clipping); inf when unbounded."""
        k = self.kind
        natural = math.inf
        if k == "constant":
            natural = float(self.value or 0.0)
        elif k == "uniform":
            natural = float(self.high or 0.0)
        return min(natural, self.maximum)

    @property
    def expected(self) -> float:
        """The mean before clipping (for documentation and sanity checks)."""
        k = self.kind
        if k == "constant":
            return float(self.value or 0.0)
        if k == "uniform":
            return ((self.low or 0.0) + (self.high or 0.0)) / 2
        if k in ("normal", "exponential"):
            return float(self.mean or 0.0)
        if k == "lognormal":
            return float((self.median or 0.0) * math.exp((self.sigma or 0.0) ** 2 / 2))
        return float((self.scale or 0.0) * math.gamma(1 + 1 / (self.shape or 1.0)))
