"""Churn: agents leave mid-work, come back, and newcomers arrive — with real consequences."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import simpy

from sim import churn
from sim.distributions import Dist
from sim.errors import ConfigError
from sim.runner import RunResult, run
from sim.scenario import load_scenario, with_values

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"


def rows(result: RunResult, kind: str, agent: str | None = None) -> pd.DataFrame:
    ev = result.events
    ev = ev[ev["kind"] == kind]
    return ev if agent is None else ev[ev["agent"] == agent]


def scenario_with_trace(tmp_path: Path, role: str, text: str, committee: int = 3) -> Path:
    (tmp_path / "trace.csv").write_text(text)
    base = TINY.read_text().replace("committee_size = 3", f"committee_size = {committee}")
    path = tmp_path / "churny.toml"
    path.write_text(base + f'\n[churn.{role}]\ntrace = "trace.csv"\n')
    return path


@pytest.mark.slow
def test_a_contributor_away_during_submissions_submits_nothing(tmp_path: Path) -> None:
    path = scenario_with_trace(
        tmp_path,
        "contributors",
        "agent,join_s,leave_s\ncontributor-1,5000,9000\ncontributor-3,100,9000\n",
    )
    result = run(path, 0)
    assert result.summary["status"] == "completed"
    submitted = set(rows(result, "model_submitted")["agent"])
    assert "contributor-1" not in submitted  # away until after the submission deadline
    assert "contributor-3" in submitted  # a newcomer the trace brings in at t = 100
    assert set(rows(result, "funded")["agent"]) >= {"contributor-3"}
    assert len(rows(result, "agent_joined", "contributor-3")) == 1


@pytest.mark.slow
def test_leaving_before_revealing_is_absence_unless_back_in_time(tmp_path: Path) -> None:
    # committee = every verifier; both commit, leave before the reveal window opens (900 s);
    # verifier-0 is back at 1000 s and reveals what it committed, verifier-1 never returns
    path = scenario_with_trace(
        tmp_path,
        "verifiers",
        "agent,join_s,leave_s\nverifier-0,0,700\nverifier-0,1000,90000\nverifier-1,0,700\n",
        committee=4,
    )
    result = run(path, 0)
    for name in ("verifier-0", "verifier-1"):
        assert len(rows(result, "committed", name)) == 1
        assert not rows(result, "abandoned", name).empty
    assert len(rows(result, "reported", "verifier-0")) == 1  # resumed: revealed in time
    assert rows(result, "slashed", "verifier-0").empty
    assert not rows(result, "withdrawn", "verifier-0").empty
    assert rows(result, "reported", "verifier-1").empty
    assert list(rows(result, "slashed", "verifier-1")["detail"]) == ["absent"]
    gone = result.summary["agents"]["verifier-1"]
    assert gone["slashed_wei"] == 5 * 10**17  # half of the 1-ether stake
    assert gone["profit_wei"] < -(10**18) + 10**16  # staked, and never came back for the rest
    assert result.summary["market_balance_wei"] == 5 * 10**17  # its unclaimed half stake


@pytest.mark.slow
def test_poisson_arrivals_and_sessions_keep_the_books_balanced() -> None:
    s = load_scenario(TINY)
    busy = dataclasses.replace(
        s.churn,
        verifiers=churn.RoleChurn(
            arrivals_per_hour=12.0,
            max_arrivals=4,
            session_s=Dist(kind="exponential", mean=900.0),
            offline_s=Dist(kind="exponential", mean=300.0),
        ),
    )
    result = run(dataclasses.replace(s, churn=busy), 0)  # run checks ether conservation
    newcomers = {a for a in rows(result, "funded")["agent"] if int(a.split("-")[1]) >= 4}
    assert 1 <= len(newcomers) <= 4
    assert not rows(result, "agent_left").empty
    assert not rows(result, "agent_joined").empty
    for name in newcomers:
        assert result.summary["agents"][name]["start_wei"] == s.chain.genesis_balance


def test_sessions_alternate_and_end_for_good_without_offline_spells() -> None:
    class Member:
        name = "m"
        online = True

        def __init__(self) -> None:
            self.log: list[tuple[float, str]] = []

        def go_offline(self) -> None:
            self.online = False
            self.log.append((env.now, "off"))

        def come_online(self) -> None:
            self.online = True
            self.log.append((env.now, "on"))

    env = simpy.Environment()
    m = Member()
    spec = churn.RoleChurn(session_s=Dist.constant(10.0), offline_s=Dist.constant(5.0))
    env.process(churn.sessions(env, m, spec, np.random.default_rng(0)))
    env.run(until=31)
    assert m.log == [(10, "off"), (15, "on"), (25, "off"), (30, "on")]
    env = simpy.Environment()
    m = Member()
    env.process(
        churn.sessions(
            env, m, churn.RoleChurn(session_s=Dist.constant(4.0)), np.random.default_rng(0)
        )
    )
    env.run(until=100)
    assert m.log == [(4, "off")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("who,when\n", "line 1: expected the header agent,join_s,leave_s"),
        ("agent,join_s,leave_s\nalice,0,10\n", "line 2: agent: expected a name like contributor-3"),
        ("agent,join_s,leave_s\nverifier-1,10,5\n", "line 2: expected 0 <= join_s < leave_s"),
        ("agent,join_s,leave_s\nverifier-1,0\n", "line 2: expected 3 columns, got 2"),
        ("agent,join_s,leave_s\nverifier-1,soon,5\n", "line 2: join_s and leave_s must be numbers"),
    ],
)
def test_bad_trace_files_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = scenario_with_trace(tmp_path, "verifiers", text)
    with pytest.raises(ConfigError) as info:
        load_scenario(path)
    assert str(info.value) == f"{tmp_path / 'trace.csv'}: {message}" or message in str(info.value)
    assert str(tmp_path / "trace.csv") in str(info.value)


def test_a_trace_must_list_agents_of_its_role(tmp_path: Path) -> None:
    path = scenario_with_trace(tmp_path, "verifiers", "agent,join_s,leave_s\ncontributor-0,0,5\n")
    with pytest.raises(
        ConfigError, match=r"churn\.verifiers\.trace: .* lists contributor-0, not a verifier"
    ):
        load_scenario(path)


def test_the_scenario_hash_covers_the_trace_content(tmp_path: Path) -> None:
    """An edited trace is a different scenario (a sweep re-runs it), and a run refuses a
    trace that changed after the scenario was loaded (or differs on a remote worker)."""
    trace = "agent,join_s,leave_s\nverifier-1,0,5000\n"
    path = scenario_with_trace(tmp_path, "verifiers", trace)
    first = load_scenario(path)
    assert first.churn.verifiers.trace_sha256 is not None
    assert load_scenario(path).digest == first.digest
    (tmp_path / "trace.csv").write_text(trace.replace("5000", "6000"))
    second = load_scenario(path)
    assert second.digest != first.digest
    with pytest.raises(ConfigError, match=r"trace\.csv: the churn trace differs from the one"):
        run(first, 0)


def test_a_sweep_value_for_a_new_trace_is_hashed_afresh(tmp_path: Path) -> None:
    path = scenario_with_trace(tmp_path, "verifiers", "agent,join_s,leave_s\nverifier-1,0,50\n")
    base = load_scenario(path)
    other = tmp_path / "other.csv"
    other.write_text("agent,join_s,leave_s\nverifier-2,0,70\n")
    changed = with_values(base, {"churn.verifiers.trace": str(other)})
    assert changed.churn.verifiers.trace == str(other)
    assert changed.churn.verifiers.trace_sha256 == churn.trace_digest(other)
    with pytest.raises(ConfigError, match=r"churn\.verifiers\.trace_sha256: .* has SHA-256"):
        with_values(base, {"churn.verifiers.trace_sha256": "0" * 64})
