"""Large populations (issue 15): sampled offers, shared shards, and per-sample work that
does not grow with the number of agents (online counts, role balances, open tasks)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from agents.population import DefaultPopulation, _pick
from contracts.chain import Chain, ChainConfig
from contracts.units import ETHER, Wei
from sim.directory import Directory
from sim.learning_service import LearningService
from sim.rng import RngStreams
from sim.scenario import Scenario, load_scenario, with_values
from sim.world import build_world

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny.toml"
SCALE_100K = ROOT / "tests" / "benchmarks" / "scale_100k.toml"


def test_pick_draws_each_index_with_the_chance() -> None:
    rng = np.random.default_rng(0)
    assert _pick(rng, 10, 1.0) == list(range(10))
    assert _pick(rng, 10, 0.0) == []
    assert _pick(rng, 0, 0.5) == []
    counts = np.zeros(1000)
    for _ in range(400):
        picked = _pick(rng, 1000, 0.05)
        assert len(set(picked)) == len(picked)
        counts[picked] += 1
    # each index in with probability 0.05: 400 x 0.05 = 20 picks on average
    assert abs(counts.mean() - 20) < 1.0
    assert counts.std() < 8
    again = [_pick(np.random.default_rng(7), 100_000, 0.0003) for _ in range(2)]
    assert again[0] == again[1]  # the same stream picks the same agents


def test_directory_lists_members_in_join_order_from_a_count() -> None:
    d = Directory()
    d.add("a", "0xA", "contributor", "honest")  # type: ignore[arg-type]
    d.add("b", "0xB", "verifier", "honest")  # type: ignore[arg-type]
    assert d.joined_since(0) == [("0xA", "contributor"), ("0xB", "verifier")]
    d.add_alias("a", "0xC")  # type: ignore[arg-type]  # an alias is no new member
    assert d.joined_since(1) == [("0xB", "verifier")]
    assert d.joined_since(2) == []


def test_revm_tells_which_accounts_changed() -> None:
    chain = Chain(ChainConfig(engine="revm"), np.random.default_rng(0), [Wei(ETHER)] * 3)
    a, b, c = chain.genesis_accounts
    mark, everything = chain.touched(None)
    assert everything is not None and {x.canonical for x in (a, b, c)} <= set(everything)
    chain.send(a, b.address, value=Wei(10), gas=21_000)
    chain.seal(chain.head_timestamp + 12)
    mark2, changed = chain.touched(mark)
    assert changed is not None
    assert {a.canonical, b.canonical} <= set(changed) and c.canonical not in changed
    assert chain.touched(mark2)[1] == []
    with chain.snapshot():
        chain.send(a, c.address, value=Wei(10), gas=21_000)
        chain.seal(chain.head_timestamp + 12)
    # a snapshot's end rolls state back: every account may have changed
    assert set(chain.touched(mark2)[1] or []) >= {x.canonical for x in (a, b, c)}
    pyevm = Chain(ChainConfig(), np.random.default_rng(0), [Wei(ETHER)])
    assert pyevm.touched(None) == (None, None)


def _world(tmp_path: Path, engine: str) -> tuple[Scenario, DefaultPopulation]:
    scenario = with_values(
        load_scenario(TINY), {"chain.engine": engine, "population.contributors": 6}
    )
    world = build_world(scenario, 0, tmp_path / engine)
    return scenario, DefaultPopulation(world)


@pytest.mark.parametrize("engine", ["revm", "py-evm"])
def test_role_balances_follow_the_chain(tmp_path: Path, engine: str) -> None:
    _, pop = _world(tmp_path, engine)
    world = pop.world
    chain = world.chain

    def by_scan(role: str) -> float:
        total = sum(chain.balance(m.address) for m in world.directory if m.role == role)
        return total / 1e18

    roles = ("initiator", "contributor", "verifier")
    assert [pop.role_balance(r) for r in roles] == [by_scan(r) for r in roles]
    c0, v0 = pop.contributors[0], pop.verifiers[0]
    chain.send(c0.account, v0.account.address, value=Wei(3 * ETHER), gas=21_000)
    chain.seal(chain.head_timestamp + 12)
    newcomer = pop.newcomer("contributor")  # a member new since the last sample
    chain.seal(chain.head_timestamp + 12)  # its funding
    assert chain.balance(newcomer.account.address) > 0
    assert [pop.role_balance(r) for r in roles] == [by_scan(r) for r in roles]
    pop.close()


def test_online_counts_follow_churn(tmp_path: Path) -> None:
    _, pop = _world(tmp_path, "revm")
    assert pop.online_count("contributor") == 6
    assert pop.online_count("verifier") == 4
    pop.contributors[2].go_offline()
    pop.contributors[2].go_offline()  # twice: counted once
    newcomer = pop.newcomer("contributor")  # joins offline
    assert not newcomer.online
    assert pop.online_count("contributor") == 5
    pop.contributors[2].online = True
    assert pop.online_count("contributor") == 6
    pop.close()


def test_sampled_offers_and_shared_shards_are_checked_and_hashed() -> None:
    base = load_scenario(TINY)
    assert base.population.offers == "broadcast"
    # the new keys at their defaults leave the scenario hash as it was
    same = with_values(
        base,
        {
            "population.offers": "broadcast",
            "tasks[0].verifier_participation": 1.0,
            "data.shards": 0,
        },
    )
    assert same.digest == base.digest
    sampled = with_values(base, {"population.offers": "sampled"})
    assert sampled.digest != base.digest
    with pytest.raises(ValueError, match=r"verifier_participation: needs population\.offers"):
        with_values(base, {"tasks[0].verifier_participation": 0.5})
    # more contributors than shards: the shards are dealt once and reused in turn
    shared = with_values(base, {"data.shards": 2, "population.contributors": 5})
    service = LearningService(shared, RngStreams(0))
    assert len(service.partition.shards) == 2
    assert service.shard_of(4) is service.partition.shards[0]
    with pytest.raises(ValueError, match="shard_size"):
        with_values(base, {"data.shards": 20, "population.contributors": 25})


def test_the_100k_scenario_loads_within_the_contract_caps() -> None:
    s = load_scenario(SCALE_100K)
    task = s.tasks[0]
    assert s.population.contributors == 100_000 and s.population.verifiers == 2_000
    assert task.count == 1_000 and s.chain.engine == "revm" and s.training.batched
    # picked contributors per task: far below the contract's 64 submissions
    mean = s.population.contributors * task.participation
    assert mean + 6 * np.sqrt(mean) < 64
