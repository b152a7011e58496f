"""The scenario's ``[storage]`` table: which content store a run uses and how it reaches it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from sim.config import NON_NEGATIVE, POSITIVE, Checked, Pattern

# What ipfshttpclient can dial: a host, a TCP port and optionally the HTTP(S) scheme.
_API = Pattern(
    r"/(ip4|ip6|dns|dns4|dns6)/[^/]+/tcp/\d{1,5}(/https?)?",
    "an IPFS RPC multiaddr such as /ip4/127.0.0.1/tcp/5001/http",
    ("", "http://127.0.0.1:5001", "/ip4/127.0.0.1/udp/5001"),
)


@dataclass(frozen=True)
class StorageConfig(Checked):
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
    api: Annotated[str, _API] = "/ip4/127.0.0.1/tcp/5001/http"
    """Multiaddr of the IPFS daemon's RPC API (ipfs backend)."""
    timeout_s: Annotated[float, POSITIVE] = 30.0
    """How long a daemon request may wait for its next bytes."""
    retries: Annotated[int, NON_NEGATIVE] = 2
    """Further tries after a timeout or lost connection before a fetch fails."""
    shared: bool = False
    """Embedded: keep files in one cache for all runs instead of per run."""
