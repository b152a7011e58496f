"""``baasim dashboard``: the sliders' scenario, the missing-extra message, and the live page
in headless Chromium (step it, read the plots and the task table, stop the server)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sim.cli import main
from sim.dashboard import Settings, apply
from sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny.toml"
LAZY = ROOT / "scenarios" / "lazy_verifiers.toml"


def test_the_sliders_set_every_task_and_the_lazy_share() -> None:
    base = load_scenario(LAZY)
    assert apply(base, Settings()) is base  # nothing moved: the scenario as it is
    assert apply(base, Settings(lazy_share=0.4, stake_ether=1.0)) is base  # its own values
    moved = apply(base, Settings(0.25, 2.5, 0.2, 3))
    assert dict(moved.population.verifier_behaviours) == {"lazy": 0.25}
    task = moved.tasks[0]
    assert (task.verifier_stake_ether, task.slash_fraction, task.committee_size) == (2.5, 0.2, 3)
    assert moved.digest != base.digest


def test_without_the_dashboard_extra_one_message_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "solara.server.settings", None)  # as if not installed
    assert main(["dashboard", str(TINY)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "pip install 'baasim[dashboard]'" in err[0]


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    """``baasim dashboard tests/data/tiny.toml`` on a free port; its address. Stopped after."""
    log = tmp_path / "dashboard.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "sim", "dashboard", str(TINY), "--port", "0", "--step", "300"],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            yield _address(proc, log)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)


def _address(proc: subprocess.Popen[bytes], log: Path, timeout: float = 240.0) -> str:
    """The address the dashboard prints once its server is up."""
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if found := re.search(r"baasim dashboard: (http://127\.0\.0\.1:\d+/)", log.read_text()):
            return found.group(1)
        time.sleep(0.2)
    pytest.fail("the dashboard did not start:\n" + log.read_text()[-3000:])


@pytest.mark.browser
def test_the_dashboard_steps_a_run_in_headless_chromium(dashboard: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(dashboard)
            step = page.get_by_role("button", name="Step")
            step.wait_for(timeout=120_000)
            assert "baasim: tiny" in page.inner_text("body")
            for n in (1, 2, 3, 4):
                step.click()
                page.get_by_text(f"Step: {n}", exact=True).wait_for(timeout=120_000)
            body = page.inner_text("body")
            # four steps of 300 simulated seconds: the task has closed submissions
            assert "Simulated time 1,200 s" in body
            tasks = page.locator(".baasim-tasks").inner_text()
            assert re.search(r"\b1\s+task\s+(commit|reveal|finalize|payouts|paid out)", tasks)
            for name in ("balances", "activity"):
                image = page.locator(f"img.baasim-{name}")
                image.wait_for(timeout=60_000)
                width = image.evaluate("img => img.complete ? img.naturalWidth : 0")
                assert width > 500, name
        finally:
            browser.close()
