"""The network model: latency per link and transfer time by size and bandwidth.

Endpoints are named by strings (agent ids, ``"chain"``, ``"storage"``). Each link (an
unordered pair of endpoints within a link class) draws its base latency once from the
class's distribution; every message varies around it by a lognormal factor. A transfer of
``b`` bytes takes latency + 8·b / min(bandwidth of both ends). Times are simulated seconds
and never depend on the host.
"""

from __future__ import annotations

import math
from enum import StrEnum

import numpy as np

from sim.distributions import Dist


class LinkClass(StrEnum):
    MESSAGE = "message"
    RPC = "rpc"
    STORAGE = "storage"


CHAIN_ENDPOINT = "chain"
STORAGE_ENDPOINT = "storage"


class Network:
    """Latency and bandwidth of every link, drawn from one RNG stream."""

    def __init__(
        self,
        latency: dict[LinkClass, Dist],
        storage_bandwidth_mbps: float,
        jitter_sigma: float,
        rng: np.random.Generator,
    ):
        self._latency = latency
        self._jitter = jitter_sigma
        self._rng = rng
        self._base: dict[tuple[LinkClass, str, str], float] = {}
        self._bandwidth: dict[str, float] = {STORAGE_ENDPOINT: storage_bandwidth_mbps}
        self.bytes_moved = 0

    def set_bandwidth(self, endpoint: str, mbps: float) -> None:
        if not mbps > 0 or not math.isfinite(mbps):
            raise ValueError(f"bandwidth of {endpoint}: expected a positive number, got {mbps}")
        self._bandwidth[endpoint] = mbps

    def bandwidth(self, endpoint: str) -> float:
        return self._bandwidth.get(endpoint, math.inf)

    def base_latency(self, link: LinkClass, a: str, b: str) -> float:
        key = (link, *sorted((a, b)))
        if key not in self._base:
            self._base[key] = self._latency[link].draw(self._rng)  # type: ignore[index]
        return self._base[key]  # type: ignore[index]

    def latency(self, link: LinkClass, a: str, b: str) -> float:
        """One message's latency from ``a`` to ``b``."""
        base = self.base_latency(link, a, b)
        if self._jitter == 0:
            return base
        return base * float(self._rng.lognormal(0.0, self._jitter))

    def transfer_time(self, link: LinkClass, src: str, dst: str, size: int) -> float:
        """Seconds for ``size`` bytes to go from ``src`` to ``dst`` (and count the bytes)."""
        if size < 0:
            raise ValueError(f"transfer size must be non-negative, got {size}")
        self.bytes_moved += size
        mbps = min(self.bandwidth(src), self.bandwidth(dst))
        wire = 0.0 if math.isinf(mbps) else 8.0 * size / (mbps * 1e6)
        return self.latency(link, src, dst) + wire
