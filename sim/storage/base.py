"""The content-store interface every storage backend implements."""

from __future__ import annotations

from typing import Protocol

from contracts.units import Cid


class Store(Protocol):
    """Content-addressed bytes: what goes in under a CID comes back out under it.

    A CID is the base32 CIDv1 that ``ipfs add --cid-version=1 --raw-leaves`` gives
    (``sim.storage.cid_of``), whichever backend holds the bytes. Stores know nothing of time:
    the simulator charges transfer time from its network model.
    """

    def put(self, data: bytes) -> Cid:
        """Store ``data`` (pinned) and return its CID; storing the same bytes again is a no-op."""
        ...

    def get(self, cid: Cid) -> bytes:
        """The bytes stored under ``cid``.

        Raises ``ContentNotFound`` when no one holds them (for a daemon: none arrived within the
        timeout, after the configured retries), ``StorageUnavailable`` when the backend cannot
        be reached, and ``StorageError`` when what arrived does not match the CID.
        """
        ...

    def has(self, cid: Cid) -> bool:
        """Whether this store holds ``cid`` itself (without fetching it from anywhere)."""
        ...

    def pin(self, cid: Cid) -> None:
        """Keep ``cid`` from garbage collection; ``ContentNotFound`` if it cannot be had."""
        ...

    def size(self, cid: Cid) -> int:
        """The length in bytes of the content under ``cid``; ``ContentNotFound`` if absent."""
        ...

    def close(self) -> None:
        """Release connections; the stored content stays."""
        ...
