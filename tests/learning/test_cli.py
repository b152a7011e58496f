"""The ``baasim data`` and ``baasim reproduce paper`` commands."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.cli import main


def test_data_info_describes_mnist_5k(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", "mnist-5k"]) == 0
    out = capsys.readouterr().out
    assert "mnist-5k: 5000 images" in out and "[500, 500, 500" in out


def test_data_info_reports_a_missing_data_set_clearly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BAASIM_CACHE", str(tmp_path))
    monkeypatch.delenv("BAASIM_DATA", raising=False)
    assert main(["data", "info", "fashion-mnist", "--data-dir", str(tmp_path)]) == 2
    assert "fashion-mnist: no IDX files found" in capsys.readouterr().err


def test_reproduce_rejects_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["reproduce", "paper", "--dataset", "mnist-5k", "--seeds", "0"]) == 2
    assert "--seeds: expected an integer >= 1, got 0" in capsys.readouterr().err


@pytest.mark.slow
def test_reproduce_paper_on_mnist_5k_writes_tidy_tables_and_plots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BAASIM_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    argv = ["reproduce", "paper", "--dataset", "mnist-5k", "--out", str(out)]
    argv += ["--seeds", "2", "--verifiers", "1", "--epochs", "3", "--threads", "1"]
    assert main(argv) == 0
    fig5 = pd.read_csv(out / "fig5.csv")
    fig6 = pd.read_csv(out / "fig6.csv", dtype={"strategy": str})
    assert list(fig5.columns) == ["seed", "contributor", "accuracy"]
    assert list(fig6.columns) == ["seed", "strategy", "n_models", "accuracy"]
    assert len(fig5) == 2 * 5 and sorted(fig5["contributor"].unique()) == [0, 1, 2, 3, 4]
    assert len(fig6) == 2 * 2 * 5 and set(fig6["strategy"]) == {"I", "II"}
    assert fig5["accuracy"].between(0.5, 1.0).all()  # real CNNs on real digits
    assert fig6["accuracy"].between(0.5, 1.0).all()
    mean = fig6.groupby(["strategy", "n_models"])["accuracy"].mean()
    for strategy in ("I", "II"):
        assert mean[(strategy, 5)] > mean[(strategy, 1)]  # fusing more models helps
    for name in ("fig5.png", "fig6.png", "fig6_detail.csv", "summary.txt"):
        assert (out / name).stat().st_size > 0
    assert (out / "fig5.png").read_bytes().startswith(b"\x89PNG")
    assert "Fig. 6" in capsys.readouterr().out
    # a second run reads every model from the cache
    assert main(argv) == 0
    assert capsys.readouterr().out.count("(cache)") == 2 * 5
    assert pd.read_csv(out / "fig6.csv", dtype={"strategy": str}).equals(fig6)
