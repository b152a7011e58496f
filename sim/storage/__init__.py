"""Content-addressed storage for model files: one ``Store`` protocol, two backends.

``open_store(config, run_dir)`` gives the backend a scenario's ``[storage]`` table names: the
embedded store (files on local disk) or an IPFS daemon (``IpfsStore``, imported only when
asked for). Both address content by ``cid_of``, the exact CID an IPFS node gives.
"""

from __future__ import annotations

from pathlib import Path

from sim.paths import cache_dir
from sim.storage.base import Store
from sim.storage.cid import CHUNK_SIZE, MAX_LINKS, canonical, cid_of
from sim.storage.config import StorageConfig
from sim.storage.embedded import EmbeddedStore

__all__ = [
    "CHUNK_SIZE",
    "MAX_LINKS",
    "EmbeddedStore",
    "StorageConfig",
    "Store",
    "canonical",
    "cid_of",
    "open_store",
]


def open_store(config: StorageConfig, run_dir: Path) -> Store:
    """The store ``config`` names, ready for use.

    Embedded: ``run_dir/store``, or the shared cache ``<cache>/store`` when ``config.shared``.
    IPFS: the daemon must answer now, or ``StorageUnavailable`` says where and what to do.
    """
    if config.backend == "ipfs":
        from sim.storage.ipfs import IpfsStore

        store = IpfsStore(config)
        try:
            store.check()
        except BaseException:
            store.close()
            raise
        return store
    return EmbeddedStore(cache_dir("store") if config.shared else run_dir / "store")
