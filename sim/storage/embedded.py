"""The embedded store: content on local disk, one file per CID, checked on every read."""

from __future__ import annotations

from pathlib import Path

from contracts.units import Cid
from sim.errors import ContentNotFound, StorageError
from sim.paths import atomic_write
from sim.storage.cid import canonical, cid_of


class EmbeddedStore:
    """Files named by their CID in ``root``, written atomically, verified on ``get``.

    Content is never collected, so ``pin`` only checks that the content is here. Many stores
    (and processes) may share one ``root``: a file appears under its final name only once it is
    complete, and two writers of one CID write the same bytes.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def put(self, data: bytes) -> Cid:
        cid = cid_of(data)
        path = self.root / cid
        if not path.exists():
            self._write(path, data)
        return cid

    def get(self, cid: Cid) -> bytes:
        cid = canonical(cid)
        data = self._read(cid)
        if cid_of(data) != cid:
            raise StorageError(
                f"{cid}: the stored content does not match its CID (corrupted file "
                f"{self.root / cid})"
            )
        return data

    def has(self, cid: Cid) -> bool:
        try:
            return (self.root / canonical(cid)).is_file()
        except ContentNotFound:  # not a CID: nothing can be stored under it
            return False

    def pin(self, cid: Cid) -> None:
        self.size(cid)

    def size(self, cid: Cid) -> int:
        cid = canonical(cid)
        try:
            return (self.root / cid).stat().st_size
        except FileNotFoundError as err:
            raise self._missing(cid) from err

    def close(self) -> None:
        """Nothing to release: every operation opens and closes its own file."""

    def _read(self, cid: Cid) -> bytes:
        path = self.root / cid
        try:
            return path.read_bytes()
        except FileNotFoundError as err:
            raise self._missing(cid) from err
        except OSError as err:
            raise StorageError(f"{cid}: cannot read {path}: {err}") from err

    def _write(self, path: Path, data: bytes) -> None:
        try:
            atomic_write(path, data, prefix=".partial-")  # readers see no file or all of it
        except OSError as err:
            raise StorageError(f"cannot write {path}: {err}") from err

    def _missing(self, cid: Cid) -> ContentNotFound:
        return ContentNotFound(f"{cid}: not in the embedded store at {self.root}")
