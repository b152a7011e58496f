"""The [storage] table: defaults, and one message naming the key for each bad value."""

from __future__ import annotations

import pytest

from sim.config import build
from sim.errors import ConfigError
from sim.storage import StorageConfig


def test_defaults_are_the_embedded_store_and_a_local_daemon_address() -> None:
    config = build(StorageConfig, {}, where="s.toml", path="storage")
    assert config == StorageConfig("embedded", "/ip4/127.0.0.1/tcp/5001/http", 30.0, 2, False)


def test_a_table_for_a_daemon() -> None:
    table = {
        "backend": "ipfs",
        "api": "/dns4/ipfs.lab/tcp/5001/https",
        "timeout_s": 5,
        "retries": 0,
    }
    config = build(StorageConfig, table, where="s.toml", path="storage")
    assert (config.backend, config.api, config.timeout_s, config.retries) == (
        "ipfs",
        "/dns4/ipfs.lab/tcp/5001/https",
        5.0,
        0,
    )


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            {"backend": "s3"},
            "s.toml: storage.backend: expected one of 'embedded', 'ipfs', got 's3'",
        ),
        (
            {"api": "http://127.0.0.1:5001"},
            "s.toml: storage.api: expected an IPFS RPC multiaddr such as "
            "/ip4/127.0.0.1/tcp/5001/http, got 'http://127.0.0.1:5001'",
        ),
        ({"api": "/ip4/127.0.0.1/udp/5001"}, "s.toml: storage.api: expected an IPFS RPC multiaddr"),
        ({"timeout_s": 0}, "s.toml: storage.timeout_s: expected a positive number, got 0"),
        ({"timeout_s": float("inf")}, "s.toml: storage.timeout_s: expected a finite number"),
        ({"timeout_s": float("nan")}, "s.toml: storage.timeout_s: expected a number, got nan"),
        ({"timeout_s": "5"}, "s.toml: storage.timeout_s: expected a number, got '5'"),
        ({"retries": -1}, "s.toml: storage.retries: expected an integer >= 0, got -1"),
        ({"retries": True}, "s.toml: storage.retries: expected an integer, got True"),
        ({"shared": "yes"}, "s.toml: storage.shared: expected true or false"),
        (
            {"bandwidth": 1},
            "s.toml: unknown key 'storage.bandwidth'; expected one of: api, backend",
        ),
    ],
)
def test_bad_values_name_the_key_and_what_was_expected(table: dict, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        build(StorageConfig, table, where="s.toml", path="storage")
    assert str(info.value).startswith(expected)
