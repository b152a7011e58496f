"""The IPFS backend: content kept by a real daemon (kubo or js-ipfs), reached over its RPC API."""

from __future__ import annotations

import io
import logging
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import ipfshttpclient
from ipfshttpclient import exceptions as ipfs_errors

from contracts.units import Cid
from sim.errors import ContentNotFound, StorageError, StorageUnavailable
from sim.storage.cid import CHUNK_SIZE, MAX_LINKS, canonical, cid_of
from sim.storage.config import StorageConfig

log = logging.getLogger(__name__)

T = TypeVar("T")

# Worth another try: the daemon did not answer in time, or the connection failed or broke.
_TRANSIENT = (ipfs_errors.TimeoutError, ipfs_errors.ConnectionError, ipfs_errors.ProtocolError)


class IpfsStore:
    """Adds content to the daemon at ``config.api`` with the importer settings ``cid_of`` models.

    Every request carries ``config.timeout_s`` (a ``cat`` of a CID nobody provides would
    otherwise wait forever) and a request that times out or loses its connection is tried
    ``config.retries`` more times. ``put`` checks the daemon's CID against ``cid_of`` and
    ``get`` checks the bytes against their CID, so both backends always agree. ``has`` asks
    whether the daemon pins the CID: ``put`` and ``pin`` pin, merely cached blocks do not count.
    """

    def __init__(self, config: StorageConfig) -> None:
        self.config = config
        # Client() rather than connect(): connect() rejects every daemon since go-ipfs 0.8.
        self._client = ipfshttpclient.Client(
            addr=config.api, timeout=config.timeout_s, session=True
        )

    def check(self) -> str:
        """The daemon's version; ``StorageUnavailable`` with what to do if it does not answer."""
        try:
            with _quiet():
                return str(self._client.version()["Version"])
        except ipfs_errors.Error as err:
            raise StorageUnavailable(
                f"no IPFS daemon answers at {self.config.api} ({_reason(err)}). Start one with "
                "its RPC API there (kubo: `ipfs daemon`), or point storage.api at the daemon you "
                "have (`scripts/jsipfs.sh start REPO` starts a js-ipfs one and prints its "
                'address), or set storage.backend = "embedded".'
            ) from err

    def put(self, data: bytes) -> Cid:
        expected = cid_of(data)
        added = self._call(f"put of {len(data)} bytes", lambda: self._add(data), missing=False)
        if added != expected:
            raise StorageError(
                f"the IPFS daemon at {self.config.api} stored {len(data)} bytes as {added}, but "
                f"their CID is {expected}: its import settings differ from the defaults "
                f"(size-{CHUNK_SIZE} chunks, {MAX_LINKS} links per node, raw leaves)"
            )
        return expected

    def get(self, cid: Cid) -> bytes:
        cid = canonical(cid)
        data: bytes = self._call(f"get {cid}", lambda: self._client.cat(cid), missing=True)
        if cid_of(data) != cid:
            raise StorageError(f"{cid}: the IPFS daemon returned content with another CID")
        return data

    def has(self, cid: Cid) -> bool:
        try:
            cid = canonical(cid)
            with _quiet():
                self._client.pin.ls(cid, type="recursive")
        except ContentNotFound:  # not a CID: nothing can be stored under it
            return False
        except ipfs_errors.ErrorResponse as err:
            if "not pinned" in str(err):
                return False
            raise StorageError(f"has {cid}: the IPFS daemon answered: {err}") from err
        except ipfs_errors.CommunicationError as err:
            raise self._unavailable(f"has {cid}", err, attempts=1) from err
        return True

    def pin(self, cid: Cid) -> None:
        cid = canonical(cid)
        self._call(f"pin {cid}", lambda: self._client.pin.add(cid), missing=True)

    def size(self, cid: Cid) -> int:
        cid = canonical(cid)
        stat = self._call(
            f"size {cid}", lambda: self._client.files.stat(f"/ipfs/{cid}"), missing=True
        )
        return int(stat["Size"])

    def close(self) -> None:
        self._client.close()

    def _add(self, data: bytes) -> Cid:
        added = self._client.add(
            io.BytesIO(data),
            cid_version=1,
            raw_leaves=True,
            chunker=f"size-{CHUNK_SIZE}",
            opts={"cid-base": "base32"},
        )
        return Cid(added["Hash"])

    def _call(self, what: str, request: Callable[[], T], *, missing: bool) -> T:
        """``request()``, tried ``1 + retries`` times while it fails in a transient way.

        When every try timed out and ``missing`` is set, the content is reported not found;
        a connection that never succeeded means the daemon is unavailable.
        """
        attempts = 1 + self.config.retries
        attempt = 1
        while True:
            try:
                with _quiet():
                    return request()
            except _TRANSIENT as err:
                if attempt == attempts:
                    raise self._failure(what, err, attempts, missing=missing) from err
                log.info("%s: %s; retry %d of %d", what, _reason(err), attempt, attempts - 1)
                attempt += 1
            except ipfs_errors.Error as err:
                raise StorageError(
                    f"{what}: the IPFS daemon at {self.config.api} answered: {err}"
                ) from err

    def _failure(self, what: str, err: Exception, attempts: int, *, missing: bool) -> StorageError:
        if isinstance(err, ipfs_errors.TimeoutError) and missing:
            return ContentNotFound(
                f"{what}: the IPFS daemon at {self.config.api} did not deliver it in "
                f"{attempts} tries of {self.config.timeout_s} s"
            )
        if isinstance(err, ipfs_errors.TimeoutError):
            return StorageError(
                f"{what}: the IPFS daemon at {self.config.api} did not answer in "
                f"{attempts} tries of {self.config.timeout_s} s"
            )
        return self._unavailable(what, err, attempts)

    def _unavailable(self, what: str, err: Exception, attempts: int) -> StorageUnavailable:
        return StorageUnavailable(
            f"{what}: the IPFS daemon at {self.config.api} could not be reached "
            f"({_reason(err)}; {attempts} {'try' if attempts == 1 else 'tries'})"
        )


def _reason(err: Exception) -> str:
    """The useful part of an ipfshttpclient error: the OS's words if there are some."""
    if isinstance(err, ipfs_errors.TimeoutError):
        return "timed out"
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(err))
    return found.group(1).strip() if found else str(err)


@contextmanager
def _quiet() -> Iterator[None]:
    """Hide one warning ipfshttpclient 0.7.0 causes on every request.

    It hands urllib3 1.x's ``strict`` argument to its connection pools, which urllib3 2 warns
    about as a FutureWarning; the argument does nothing there.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The 'strict' parameter", FutureWarning)
        yield
