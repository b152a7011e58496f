"""``[adaptation]``: which roles learn their strategy from profits, by which rule, how often.

Each role (``[adaptation.contributor]``, ``[adaptation.verifier]``, ``[adaptation.initiator]``)
has a rule — ``none`` (the default: kinds stay as dealt), ``imitation`` (pairwise comparison
with a peer, the Fermi rule), ``best_response`` (ε-greedy or softmax on the agent's own
running mean profit per kind) or ``replicator`` (population shares move by the discrete
replicator equation, realised by reassigning agents) — the strategy set the role's agents
choose from (registered kinds), when they revise (after each task they took part in, or at
a Poisson rate in simulated time) and the rules' parameters. The rules themselves run in
``agents.adaptation``; this module owns the keys, their ranges and the checks against the
registry and the population (``check_adaptation``), so a bad table stops at load with one
``ConfigError`` naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Literal

from sim.config import FRACTION, NON_NEGATIVE, POSITIVE, Checked, Interval
from sim.strategies import counts

if TYPE_CHECKING:
    from sim.strategies import Registry

Rule = Literal["none", "imitation", "best_response", "replicator"]
Timing = Literal["after_task", "poisson"]
Choice = Literal["epsilon_greedy", "softmax"]

RULES_BY_ROLE: dict[str, tuple[str, ...]] = {
    "contributor": ("none", "imitation", "best_response", "replicator"),
    "verifier": ("none", "imitation", "best_response", "replicator"),
    # An initiator's profit comes from its own tasks alone and a market has one or a few:
    # there is no population of peers to imitate or to shift shares within.
    "initiator": ("none", "best_response"),
}
"""The rules each role supports."""


@dataclass(frozen=True)
class RoleAdaptation(Checked):
    """``[adaptation.<role>]``: how the role's agents revise their strategy."""

    rule: Rule = "none"
    """``none`` (kinds stay as dealt), ``imitation``, ``best_response`` or ``replicator``."""
    strategies: tuple[str, ...] = ()
    """The kinds the role's agents choose from (registered kinds of the role, at least two,
    including every kind the mix, pins and deviants deal)."""
    revise: Timing = "after_task"
    """When an agent revises: ``after_task`` (each time a task it took part in is settled and
    its work on it ended; for ``replicator``, each time a task the role took part in is
    settled) or ``poisson`` (at ``rate_per_hour`` in simulated time)."""
    rate_per_hour: Annotated[float, POSITIVE] = 1.0
    """With ``revise = "poisson"``: revisions per agent per simulated hour (per role for
    ``replicator``)."""
    mutation: Annotated[float, FRACTION] = 0.0
    """ε: at each revision, with this probability the agent takes a kind drawn uniformly
    from the set instead of applying the rule (for ``replicator``: the shares mix
    (1 − ε) · shares + ε / |set|)."""
    window: Annotated[int, POSITIVE] = 5
    """Memory: an agent's profit per task is the mean over its last ``window`` settled tasks
    played with the kind in question."""
    beta: Annotated[float, NON_NEGATIVE] = 5.0
    """Selection intensity per ether of profit per task. ``imitation``: adopt the peer's kind
    with probability 1 / (1 + exp(−β (π_peer − π_self))); ``replicator``: a kind's share
    changes by the factor 1 + β (π_kind − π̄) (never below 0)."""
    choice: Choice = "epsilon_greedy"
    """``best_response``: ``epsilon_greedy`` (the best running mean, or a uniform draw with
    probability ``explore``) or ``softmax`` (probabilities ∝ exp(mean / temperature_ether))."""
    explore: Annotated[float, FRACTION] = 0.1
    """``best_response`` with ``epsilon_greedy``: chance of a uniformly drawn kind."""
    temperature_ether: Annotated[float, POSITIVE] = 0.1
    """``best_response`` with ``softmax``: temperature, in ether per task."""
    optimistic_ether: Annotated[float, Interval(None, None)] = 1.0
    """``best_response``: the running mean of a kind not yet played (an optimistic start makes
    every kind tried once)."""

    @property
    def active(self) -> bool:
        return self.rule != "none"


@dataclass(frozen=True)
class AdaptationSection(Checked):
    """``[adaptation]``: strategy revision per role (all ``none`` by default)."""

    contributor: RoleAdaptation = field(default_factory=RoleAdaptation)
    verifier: RoleAdaptation = field(default_factory=RoleAdaptation)
    initiator: RoleAdaptation = field(default_factory=RoleAdaptation)

    def of(self, role: str) -> RoleAdaptation:
        """The role's table."""
        found: RoleAdaptation = getattr(self, role)
        return found

    @property
    def roles(self) -> tuple[str, ...]:
        """The roles whose agents adapt."""
        return tuple(r for r in ("contributor", "verifier", "initiator") if self.of(r).active)

    @property
    def enabled(self) -> bool:
        return bool(self.roles)


def check_adaptation(
    adaptation: AdaptationSection,
    registry: Registry,
    mixes: tuple[tuple[str, dict[str, int | float], int], ...],
    assign: dict[str, str],
    deviants: dict[str, dict[str, int]],
) -> None:
    """Raise ValueError naming the ``adaptation.<role>.<key>`` that does not fit.

    ``mixes`` are the population's (role, mix, agents at the start).
    """
    for role, mix, n in mixes:
        spec = adaptation.of(role)
        key = f"adaptation.{role}"
        if spec.rule not in RULES_BY_ROLE[role]:
            allowed = ", ".join(repr(r) for r in RULES_BY_ROLE[role])
            raise ValueError(f"{key}.rule: the {role} role supports {allowed}, got {spec.rule!r}")
        kinds = registry.names(role)
        for i, kind in enumerate(spec.strategies):
            if kind not in kinds:
                raise ValueError(
                    f"{key}.strategies[{i}]: unknown {role} kind {kind!r}; expected one of "
                    f"{', '.join(kinds)}"
                )
            if kind in spec.strategies[:i]:
                raise ValueError(f"{key}.strategies[{i}]: {kind!r} is listed twice")
        if not spec.active:
            continue
        if len(spec.strategies) < 2:
            raise ValueError(
                f"{key}.strategies: expected at least two {role} kinds to choose from, "
                f"got {list(spec.strategies)}"
            )
        if spec.rule in ("imitation", "replicator") and n < 2:
            raise ValueError(
                f"{key}.rule: {spec.rule} needs at least two {role}s at the start, got {n}"
            )
        dealt = set(counts(mix, n))
        dealt |= {k for name, k in assign.items() if name.startswith(f"{role}-")}
        dealt |= set(deviants.get(role, {}))
        missing = sorted(dealt - set(spec.strategies))
        if missing:
            raise ValueError(
                f"{key}.strategies: the population deals {role} kind {missing[0]!r}, which "
                "the set lacks; add it to the set (an agent can only revise between kinds "
                "of the set)"
            )
