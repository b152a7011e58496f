"""The network model: latency per link and transfer time by size and bandwidth.

Endpoints are named by strings (agent ids, ``"chain"``, ``"storage"``). Each link (an
unordered pair of endpoints within a link class) draws its base latency once from the
class's distribution; every message varies around it by a lognormal factor. A transfer of
``b`` bytes takes latency + 8·b / min(bandwidth of both ends). Times are simulated seconds
and never depend on the host.

Draws are keyed, not sequential over the whole network (common random numbers): a link's
base latency comes from the stream ``("network", "base", class, a, b)`` and its messages'
jitter from the link's own stream ``("network", "jitter", class, a, b)``, drawn in the order
of that link's messages. So one agent sending a message fewer (a deviation) changes no other
link's latencies.
"""

from __future__ import annotations

import math
from enum import StrEnum

import numpy as np

from sim.distributions import Dist
from sim.rng import RngStreams


class LinkClass(StrEnum):
    MESSAGE = "message"
    RPC = "rpc"
    STORAGE = "storage"


CHAIN_ENDPOINT = "chain"
STORAGE_ENDPOINT = "storage"


class Network:
    """Latency and bandwidth of every link, each link's draws from streams keyed by the link."""

    def __init__(
        self,
        latency: dict[LinkClass, Dist],
        storage_bandwidth_mbps: float,
        jitter_sigma: float,
        streams: RngStreams,
    ):
        self._latency = latency
        self._jitter = jitter_sigma
        self._streams = streams
        self._base: dict[tuple[LinkClass, str, str], float] = {}
        self._jitter_rng: dict[tuple[LinkClass, str, str], np.random.Generator] = {}
        self._bandwidth: dict[str, float] = {STORAGE_ENDPOINT: storage_bandwidth_mbps}
        self.bytes_moved = 0

    def set_bandwidth(self, endpoint: str, mbps: float) -> None:
        if not mbps > 0 or not math.isfinite(mbps):
            raise ValueError(f"bandwidth of {endpoint}: expected a positive number, got {mbps}")
        self._bandwidth[endpoint] = mbps

    def bandwidth(self, endpoint: str) -> float:
        return self._bandwidth.get(endpoint, math.inf)

    def base_latency(self, link: LinkClass, a: str, b: str) -> float:
        key = _key(link, a, b)
        if key not in self._base:
            rng = self._streams.numpy("network", "base", *key)
            self._base[key] = self._latency[link].draw(rng)
        return self._base[key]

    def latency(self, link: LinkClass, a: str, b: str) -> float:
        """One message's latency from ``a`` to ``b``."""
        base = self.base_latency(link, a, b)
        if self._jitter == 0:
            return base
        key = _key(link, a, b)
        rng = self._jitter_rng.get(key)
        if rng is None:
            rng = self._jitter_rng[key] = self._streams.numpy("network", "jitter", *key)
        return base * float(rng.lognormal(0.0, self._jitter))

    def transfer_time(self, link: LinkClass, src: str, dst: str, size: int) -> float:
        """Seconds for ``size`` bytes to go from ``src`` to ``dst`` (and count the bytes)."""
        if size < 0:
            raise ValueError(f"transfer size must be non-negative, got {size}")
        self.bytes_moved += size
        mbps = min(self.bandwidth(src), self.bandwidth(dst))
        wire = 0.0 if math.isinf(mbps) else 8.0 * size / (mbps * 1e6)
        return self.latency(link, src, dst) + wire


def _key(link: LinkClass, a: str, b: str) -> tuple[LinkClass, str, str]:
    """The unordered link's key: its class and its endpoints in sorted order."""
    lo, hi = sorted((a, b))
    return (link, lo, hi)
