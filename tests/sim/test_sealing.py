"""Encrypted model files: a sealed file opens with its key and task only; the scenario key's
bounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.errors import ConfigError
from sim.scenario import load_scenario, with_overrides
from sim.sealing import SealError, new_key, open_sealed, seal

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny.toml"


def test_a_sealed_file_opens_with_its_key_and_task_only() -> None:
    rng = np.random.default_rng(0)
    key, data = new_key(rng), b"model weights" * 100
    blob = seal(data, key, 7, rng)
    assert data not in blob and len(blob) == len(data) + 28  # nonce and tag
    assert open_sealed(blob, key, 7) == data
    with pytest.raises(SealError):
        open_sealed(blob, new_key(rng), 7)  # another key
    with pytest.raises(SealError):
        open_sealed(blob, key, 8)  # moved to another task
    with pytest.raises(SealError):
        open_sealed(blob[:-1] + bytes([blob[-1] ^ 1]), key, 7)  # tampered
    with pytest.raises(SealError):
        open_sealed(blob[:20], key, 7)


def test_the_sealed_window_must_fit_before_the_commit_deadline() -> None:
    tiny = load_scenario(TINY)
    with pytest.raises(ConfigError, match=r"tasks\[0\].sealed_window_s: expected 0 \(off\)"):
        with_overrides(tiny, ["tasks[0].sealed_window_s=300"])  # the commit window is 300 s
    with pytest.raises(ConfigError, match="at least two blocks"):
        with_overrides(tiny, ["tasks[0].sealed_window_s=5"])
    assert with_overrides(tiny, ["tasks[0].sealed_window_s=60"]).tasks[0].sealed_window_s == 60
