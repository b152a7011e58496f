"""Fixtures for every test area: a real IPFS daemon for the tests marked ``ipfs``."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

JSIPFS = Path(__file__).resolve().parents[1] / "scripts" / "jsipfs.sh"


@pytest.fixture(scope="session")
def ipfs_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The RPC multiaddr of an IPFS daemon for this session (the ``storage.api`` value).

    By default a js-ipfs daemon, offline and bound to 127.0.0.1, started on a fresh repo
    the first time a test asks and stopped when the session ends (``make test`` installs it;
    a bare ``pytest`` installs it on first use). Set ``BAASIM_IPFS_API`` to test against a
    daemon of your own, such as kubo, instead.
    """
    own = os.environ.get("BAASIM_IPFS_API")
    if own:
        yield own
        return
    repo = tmp_path_factory.mktemp("jsipfs") / "repo"
    started = subprocess.run(
        [JSIPFS, "start", repo], stdout=subprocess.PIPE, text=True, check=False, timeout=900
    )
    try:
        if started.returncode != 0:
            pytest.fail(f"{JSIPFS} start {repo} failed (exit {started.returncode}); see stderr")
        yield started.stdout.strip()
    finally:
        subprocess.run([JSIPFS, "stop", repo], check=True, timeout=60)
