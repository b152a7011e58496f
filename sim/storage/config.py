"""The scenario's ``[storage]`` table: which content store a run uses and how it reaches it."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

# What ipfshttpclient can dial: a host, a TCP port and optionally the HTTP(S) scheme.
_API = re.compile(r"/(ip4|ip6|dns|dns4|dns6)/[^/]+/tcp/\d{1,5}(/https?)?")


@dataclass(frozen=True)
class StorageConfig:
    """Where model files live during a run.

    ``backend`` ``"embedded"`` keeps content on disk under the run directory (or, with
    ``shared``, in one cache directory that runs share); ``"ipfs"`` adds it to the IPFS daemon
    whose RPC API is at ``api``. Both give identical CIDs, and simulated transfer times come
    from the network model, so the choice changes where bytes live, not the results.
    ``timeout_s`` is how long a daemon request may wait for its next bytes (a CID nobody
    provides is waited for that long), and a request that timed out or lost its connection is
    tried ``retries`` more times before the failure is reported.
    """

    backend: Literal["embedded", "ipfs"] = "embedded"
    """Where model files live: on local disk (embedded) or on an IPFS daemon."""
    api: str = "/ip4/127.0.0.1/tcp/5001/http"
    """Multiaddr of the IPFS daemon's RPC API (ipfs backend)."""
    timeout_s: float = 30.0
    """How long a daemon request may wait for its next bytes."""
    retries: int = 2
    """Further tries after a timeout or lost connection before a fetch fails."""
    shared: bool = False
    """Embedded: keep files in one cache for all runs instead of per run."""

    def __post_init__(self) -> None:
        if not _API.fullmatch(self.api):
            raise ValueError(
                "api: expected an IPFS RPC multiaddr such as /ip4/127.0.0.1/tcp/5001/http, "
                f"got {self.api!r}"
            )
        if not (math.isfinite(self.timeout_s) and self.timeout_s > 0):
            raise ValueError(f"timeout_s: expected a number of seconds > 0, got {self.timeout_s}")
        if self.retries < 0:
            raise ValueError(f"retries: expected an integer >= 0, got {self.retries}")
