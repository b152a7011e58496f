"""Common random numbers in the network: a link's draws do not depend on other links' traffic."""

from __future__ import annotations

from sim.distributions import Dist
from sim.network import LinkClass, Network
from sim.rng import RngStreams


def _network(seed: int = 3) -> Network:
    latency = Dist(kind="lognormal", median=0.05, sigma=0.5)
    return Network(
        {LinkClass.MESSAGE: latency, LinkClass.RPC: latency, LinkClass.STORAGE: latency},
        100.0,
        0.2,
        RngStreams(seed),
    )


def test_a_link_draws_the_same_whatever_other_links_do() -> None:
    quiet, busy = _network(), _network()
    for _ in range(5):
        busy.latency(LinkClass.RPC, "verifier-1", "chain")
        busy.latency(LinkClass.MESSAGE, "verifier-1", "verifier-2")
    a = [quiet.latency(LinkClass.RPC, "verifier-0", "chain") for _ in range(4)]
    b = [busy.latency(LinkClass.RPC, "verifier-0", "chain") for _ in range(4)]
    assert a == b
    assert len(set(a)) == 4  # jitter still varies message by message


def test_a_link_is_unordered_and_keyed_by_its_class() -> None:
    net = _network()
    assert net.base_latency(LinkClass.RPC, "a", "chain") == net.base_latency(
        LinkClass.RPC, "chain", "a"
    )
    assert net.base_latency(LinkClass.RPC, "a", "b") != net.base_latency(
        LinkClass.MESSAGE, "a", "b"
    )
    assert _network(4).base_latency(LinkClass.RPC, "a", "b") != net.base_latency(
        LinkClass.RPC, "a", "b"
    )
