"""Churn: agents join and leave while the market runs.

Per role (``[churn.contributors]``, ``[churn.verifiers]``): newcomers arrive as a Poisson
process; every agent alternates online sessions and offline spells drawn from
distributions (exponential, lognormal, Weibull, …); or a trace file fixes each agent's
sessions. Leaving interrupts whatever the agent was doing: a contributor that leaves before
submitting submits nothing, a verifier that leaves before revealing is absent. The processes
here act on anything with ``go_offline()`` / ``come_online()``; they never import agents.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Protocol

import numpy as np
import simpy

from sim.config import NON_NEGATIVE, Checked, Pattern
from sim.distributions import Dist
from sim.errors import ConfigError

Process = Generator[simpy.Event, Any, Any]


_SHA256 = Pattern("[0-9a-f]{64}", "64 lowercase hex digits", ("", "abc", "A" * 64, "0" * 63))


@dataclass(frozen=True)
class RoleChurn(Checked):
    """``[churn.<role>]``: arrivals and sessions of one role's agents."""

    arrivals_per_hour: Annotated[float, NON_NEGATIVE] = 0.0
    """Rate of the Poisson process of newcomers (each gets a new account from the faucet)."""
    max_arrivals: Annotated[int, NON_NEGATIVE] = 100
    """No more newcomers than this in one run."""
    session_s: Dist | None = None
    """How long an agent stays online each time; unset: until the run ends."""
    offline_s: Dist | None = None
    """How long an agent stays away before it returns; unset: it leaves for good."""
    trace: str | None = None
    """CSV with columns agent, join_s, leave_s: fixed sessions replacing the processes above."""
    trace_sha256: Annotated[str | None, _SHA256] = None
    """SHA-256 of the trace file: filled in when the scenario is loaded, so the scenario hash
    (and a sweep's run ids) cover the trace's content; a run refuses a file that differs."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.offline_s is not None and self.session_s is None:
            raise ValueError("offline_s: needs session_s (agents must leave before they return)")
        if self.trace is not None and (self.session_s is not None or self.arrivals_per_hour):
            raise ValueError("trace: a trace replaces session_s and arrivals_per_hour; set one")
        if self.trace_sha256 is not None and self.trace is None:
            raise ValueError("trace_sha256: set only with trace")

    @property
    def active(self) -> bool:
        return bool(self.arrivals_per_hour or self.session_s is not None or self.trace)


@dataclass(frozen=True)
class ChurnSection(Checked):
    """``[churn]``: join/leave processes per role (all off by default)."""

    contributors: RoleChurn = RoleChurn()
    verifiers: RoleChurn = RoleChurn()


@dataclass(frozen=True)
class Session:
    agent: str
    join_s: float
    leave_s: float


def trace_digest(path: str | Path) -> str:
    """SHA-256 of a trace file's bytes."""
    p = Path(path)
    try:
        return hashlib.sha256(p.read_bytes()).hexdigest()
    except OSError as err:
        raise ConfigError(f"{p}: cannot read the churn trace: {err}") from err


def read_trace(path: str | Path, sha256: str | None = None) -> list[Session]:
    """Sessions from a trace CSV (header ``agent,join_s,leave_s``); errors name file and line.

    With ``sha256``, the file must be the one the scenario was loaded with.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as err:
        raise ConfigError(f"{p}: cannot read the churn trace: {err}") from err
    if sha256 is not None and (actual := hashlib.sha256(data).hexdigest()) != sha256:
        raise ConfigError(
            f"{p}: the churn trace differs from the one the scenario was loaded with "
            f"(SHA-256 {actual[:12]}…, expected {sha256[:12]}…); a sweep's workers need the "
            "same file at the same path"
        )
    try:
        text = data.decode()
    except UnicodeDecodeError as err:
        raise ConfigError(f"{p}: the churn trace is not UTF-8 text: {err}") from err
    rows = list(csv.reader(text.splitlines()))
    if not rows or [c.strip() for c in rows[0]] != ["agent", "join_s", "leave_s"]:
        raise ConfigError(f"{p}: line 1: expected the header agent,join_s,leave_s")
    sessions = []
    for line, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        sessions.append(_session(p, line, row))
    return sessions


def _session(path: Path, line: int, row: list[str]) -> Session:
    if len(row) != 3:
        raise ConfigError(f"{path}: line {line}: expected 3 columns, got {len(row)}")
    agent = row[0].strip()
    role, _, index = agent.rpartition("-")
    if role not in ("contributor", "verifier") or not index.isdigit():
        raise ConfigError(
            f"{path}: line {line}: agent: expected a name like contributor-3 or verifier-0, "
            f"got {agent!r}"
        )
    try:
        join, leave = float(row[1]), float(row[2])
    except ValueError:
        raise ConfigError(f"{path}: line {line}: join_s and leave_s must be numbers") from None
    if not 0 <= join < leave:
        raise ConfigError(
            f"{path}: line {line}: expected 0 <= join_s < leave_s, got {join}, {leave}"
        )
    return Session(agent, join, leave)


class Member(Protocol):
    """What churn needs of an agent."""

    name: str
    online: bool

    def go_offline(self) -> None: ...

    def come_online(self) -> None: ...


def sessions(
    env: simpy.Environment, member: Member, churn: RoleChurn, rng: np.random.Generator
) -> Process:
    """Alternate online sessions and offline spells (or leave for good after one session)."""
    if churn.session_s is None:
        return
    while True:
        yield env.timeout(churn.session_s.draw(rng))
        member.go_offline()
        if churn.offline_s is None:
            return
        yield env.timeout(churn.offline_s.draw(rng))
        member.come_online()


def arrivals(
    env: simpy.Environment,
    churn: RoleChurn,
    rng: np.random.Generator,
    newcomer: Callable[[], Member],
    on_arrival: Callable[[Member], None],
) -> Process:
    """Poisson arrivals of newcomers, at most ``max_arrivals``."""
    if not churn.arrivals_per_hour:
        return
    mean_gap = 3600.0 / churn.arrivals_per_hour
    for _ in range(churn.max_arrivals):
        yield env.timeout(float(rng.exponential(mean_gap)))
        on_arrival(newcomer())


def replay(env: simpy.Environment, member: Member, spans: list[Session]) -> Process:
    """Follow a trace: offline outside the listed sessions."""
    for span in sorted(spans, key=lambda s: s.join_s):
        if span.join_s > env.now:
            if member.online:
                member.go_offline()
            yield env.timeout(span.join_s - env.now)
        if not member.online:
            member.come_online()
        yield env.timeout(max(0.0, span.leave_s - env.now))
        member.go_offline()
