"""The IPFS backend against a real daemon: same CIDs as cid_of, round trips, failures."""

from __future__ import annotations

import io
import logging
import socket
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.units import Cid
from sim.errors import ContentNotFound, StorageError, StorageUnavailable
from sim.storage import CHUNK_SIZE, MAX_LINKS, StorageConfig, Store, cid_of, open_store

SIZES = [0, 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3_000_000]


@pytest.fixture(scope="module")
def client(ipfs_api: str) -> Iterator[Any]:
    """ipfshttpclient on its own, so the daemon's answers do not pass through our code."""
    import ipfshttpclient

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # urllib3 2 on ipfshttpclient 0.7.0
        with ipfshttpclient.Client(addr=ipfs_api, timeout=120) as client:
            yield client


@pytest.fixture
def store(ipfs_api: str, tmp_path: Path) -> Iterator[Store]:
    store = open_store(StorageConfig(backend="ipfs", api=ipfs_api, timeout_s=0.3), tmp_path)
    yield store
    store.close()


def daemon_cid(client: Any, data: bytes, **options: Any) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        added = client.add(
            io.BytesIO(data), cid_version=1, raw_leaves=True, opts={"cid-base": "base32"}, **options
        )
    return str(added["Hash"])


@pytest.mark.ipfs
@pytest.mark.parametrize("size", SIZES)
def test_cid_of_equals_the_daemons_cid(
    client: Any, make_payload: Callable[[int], bytes], size: int
) -> None:
    data = make_payload(size)
    assert cid_of(data) == daemon_cid(client, data)


@pytest.mark.ipfs
def test_cid_of_a_model_file_equals_the_daemons_cid(client: Any, model_file: bytes) -> None:
    assert len(model_file) > 4_000_000
    assert cid_of(model_file) == daemon_cid(client, model_file)


@pytest.mark.ipfs
def test_cid_of_a_two_level_dag_equals_the_daemons_cid(
    client: Any, make_payload: Callable[[int], bytes]
) -> None:
    data = make_payload(MAX_LINKS * CHUNK_SIZE + CHUNK_SIZE // 2)  # 175 chunks: 45.7 MB
    assert cid_of(data) == daemon_cid(client, data)


@pytest.mark.ipfs
@pytest.mark.parametrize("size", SIZES)
def test_put_then_get_round_trips(
    store: Store, make_payload: Callable[[int], bytes], size: int
) -> None:
    data = make_payload(size)
    cid = store.put(data)
    assert cid == cid_of(data)
    assert store.get(cid) == data
    assert store.has(cid)
    assert store.size(cid) == size
    store.pin(cid)


@pytest.mark.ipfs
def test_both_backends_give_one_cid_for_a_model(
    store: Store, model_file: bytes, tmp_path: Path
) -> None:
    embedded = open_store(StorageConfig(), tmp_path)
    assert store.put(model_file) == embedded.put(model_file)


@pytest.mark.ipfs
@pytest.mark.parametrize("call", ["get", "size", "pin"])
def test_absent_content_is_not_found_after_the_retries(
    store: Store, call: str, caplog: pytest.LogCaptureFixture
) -> None:
    cid = cid_of(b"no one ever added this")
    assert not store.has(cid)
    with (
        caplog.at_level(logging.INFO, logger="sim.storage.ipfs"),
        pytest.raises(ContentNotFound, match=f"{call} {cid}: .* did not deliver it in 3 tries"),
    ):
        getattr(store, call)(cid)
    retries = [r.getMessage() for r in caplog.records]
    assert retries == [f"{call} {cid}: timed out; retry {n} of 2" for n in (1, 2)]


@pytest.mark.ipfs
def test_a_name_that_is_no_cid_is_not_found(store: Store) -> None:
    assert not store.has(Cid("not-a-cid"))
    with pytest.raises(ContentNotFound, match="is not a CID"):
        store.get(Cid("not-a-cid"))


@pytest.mark.ipfs
def test_content_imported_another_way_fails_the_integrity_check(
    client: Any, store: Store, make_payload: Callable[[int], bytes]
) -> None:
    data = make_payload(100_000)
    other = daemon_cid(client, data, chunker="size-1024")  # a valid CID, not cid_of's
    assert other != cid_of(data)
    with pytest.raises(StorageError, match="returned content with another CID"):
        store.get(Cid(other))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_no_daemon_is_one_clear_error_before_the_run(tmp_path: Path) -> None:
    api = f"/ip4/127.0.0.1/tcp/{free_port()}/http"
    with pytest.raises(StorageUnavailable) as info:
        open_store(StorageConfig(backend="ipfs", api=api, timeout_s=2), tmp_path)
    message = str(info.value)
    assert message.startswith(f"no IPFS daemon answers at {api} (Connection refused). Start one")
    assert 'storage.backend = "embedded"' in message
