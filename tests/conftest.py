"""Fixtures for every test area: a real IPFS daemon (tests marked ``ipfs``), headless
Chromium (tests marked ``browser``)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
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


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def render_dom(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], str]:
    """A function that opens an HTML file in headless Chromium and returns the DOM after load.

    ``make test`` installs Debian's ``chromium`` (``make chromium``); without it the tests
    marked ``browser`` fail and say so.
    """
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")
    profile = tmp_path_factory.mktemp("chromium-profile")

    def render(page: Path) -> str:
        done = subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=5000",
                "--dump-dom",
                page.resolve().as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            pytest.fail(f"chromium exited {done.returncode}: {done.stderr[-2000:]}")
        return done.stdout

    return render
