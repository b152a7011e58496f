"""The embedded store keeps content on disk by CID and refuses content that does not match."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from multiformats import CID

from contracts.units import Cid
from sim.errors import ContentNotFound, StorageError
from sim.storage import EmbeddedStore, StorageConfig, cid_of, open_store


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedStore:
    return EmbeddedStore(tmp_path / "store")


def test_put_then_get_returns_the_bytes_under_their_cid(
    store: EmbeddedStore, model_file: bytes
) -> None:
    cid = store.put(model_file)
    assert cid == cid_of(model_file)
    assert store.get(cid) == model_file
    assert store.has(cid)
    assert store.size(cid) == len(model_file)
    store.pin(cid)


def test_empty_content_is_content(store: EmbeddedStore) -> None:
    cid = store.put(b"")
    assert (store.get(cid), store.size(cid)) == (b"", 0)


def test_same_bytes_are_stored_once_and_nothing_partial_stays(
    store: EmbeddedStore, make_payload: Callable[[int], bytes]
) -> None:
    data = make_payload(300_000)
    assert store.put(data) == store.put(data)
    assert [p.name for p in store.root.iterdir()] == [cid_of(data)]


def test_any_spelling_of_the_cid_finds_the_content(store: EmbeddedStore) -> None:
    cid = store.put(b"weights")
    other = Cid(CID.decode(cid).encode("base58btc"))
    assert store.has(other)
    assert store.get(other) == b"weights"


@pytest.mark.parametrize("call", ["get", "size", "pin"])
def test_absent_content_is_not_found(store: EmbeddedStore, call: str) -> None:
    store.put(b"something else")
    cid = cid_of(b"never stored")
    assert not store.has(cid)
    with pytest.raises(ContentNotFound, match=f"{cid}: not in the embedded store at"):
        getattr(store, call)(cid)


def test_a_name_that_is_no_cid_is_not_found_and_never_touches_other_paths(
    store: EmbeddedStore, tmp_path: Path
) -> None:
    (tmp_path / "secret").write_bytes(b"x")
    assert not store.has(Cid("../secret"))
    with pytest.raises(ContentNotFound, match="is not a CID"):
        store.get(Cid("../secret"))


@pytest.mark.parametrize("damage", ["flip", "truncate", "append"])
def test_corrupted_content_fails_the_integrity_check(
    store: EmbeddedStore, make_payload: Callable[[int], bytes], damage: str
) -> None:
    data = make_payload(600_000)
    cid = store.put(data)
    path = store.root / cid
    stored = bytearray(path.read_bytes())
    if damage == "flip":
        stored[400_000] ^= 0x10
    elif damage == "truncate":
        del stored[-1]
    else:
        stored += b"\0"
    path.write_bytes(bytes(stored))
    with pytest.raises(StorageError, match=f"{cid}: the stored content does not match its CID"):
        store.get(cid)


def test_runs_keep_their_own_content_unless_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BAASIM_CACHE", str(tmp_path / "cache"))
    private = StorageConfig()
    shared = StorageConfig(shared=True)
    cid = open_store(private, tmp_path / "run1").put(b"model A")
    assert (tmp_path / "run1" / "store" / cid).is_file()
    assert not open_store(private, tmp_path / "run2").has(cid)

    cid = open_store(shared, tmp_path / "run3").put(b"model B")
    assert open_store(shared, tmp_path / "run4").get(cid) == b"model B"
    assert (tmp_path / "cache" / "store" / cid).is_file()
    assert not (tmp_path / "run3").exists()
