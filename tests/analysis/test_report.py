"""Figures are chosen by what a sweep varies and measures; the report renders in Chromium."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analysis.plots import choose_figures, draw
from analysis.runs import runs_table
from analysis.stats import point_stats
from sim.sweep.tables import write_report

ADVERSARY_METRICS = [
    "initiator_accuracy",
    "task_success_rate",
    "payment_fairness",
    "honest_payment_fairness",
    "wrong_outcome_rate",
    "gas_per_task",
    "net_profit_by_behaviour.verifier.honest",
    "net_profit_by_behaviour.verifier.lazy",
    "net_profit_by_behaviour.initiator.honest",
]


def names(axes: list[list[str]], metrics: list[str]) -> list[str]:
    return [f.name for f in choose_figures(axes, metrics)]


def test_varying_contributors_draws_paper_fig6_with_a_line_per_strategy() -> None:
    (fig6, *rest) = choose_figures(
        [["population.contributors"], ["fusion.strategy"]], ["oracle_fused_accuracy"]
    )
    assert fig6.name == "fig6-fused-accuracy-vs-population-contributors"
    assert "Fig. 6" in fig6.title
    assert fig6.lines_by == ("fusion.strategy",)
    assert all(f.x != "fusion.strategy" or f.name.startswith("outcomes") for f in rest)


def test_a_dishonest_fraction_by_stake_sweep_draws_fairness_outcomes_and_incentives() -> None:
    axes = [["population.verifier_behaviours.lazy"], ["tasks[0].verifier_stake_ether"]]
    figures = {f.name: f for f in choose_figures(axes, ADVERSARY_METRICS)}
    assert set(figures) == {
        "payment-fairness-vs-population-verifier-behaviours-lazy",
        "wrong-outcome-rate-vs-population-verifier-behaviours-lazy",
        "incentives-vs-tasks-0-verifier-stake-ether",
        "gas-per-task-vs-population-verifier-behaviours-lazy",
        "outcomes-vs-population-verifier-behaviours-lazy",
        "outcomes-vs-tasks-0-verifier-stake-ether",
    }
    outcomes = figures["outcomes-vs-tasks-0-verifier-stake-ether"]
    assert outcomes.metrics == ("task_success_rate", "initiator_accuracy")
    fairness = figures["payment-fairness-vs-population-verifier-behaviours-lazy"]
    # as paid beside as an honest committee would pay: integrity apart from noise
    assert fairness.metrics == ("payment_fairness", "honest_payment_fairness")
    incentives = figures["incentives-vs-tasks-0-verifier-stake-ether"]
    # contributors' and verifiers' profits by behaviour; initiators are left out
    assert incentives.metrics == (
        "net_profit_by_behaviour.verifier.honest",
        "net_profit_by_behaviour.verifier.lazy",
    )
    assert incentives.scale == 1e-18
    assert incentives.zero_line
    assert incentives.lines_by == ("population.verifier_behaviours.lazy",)


def test_free_riders_share_is_drawn_against_a_dishonest_contributor_fraction() -> None:
    metrics = ["payment_fairness", "free_rider_share"]
    got = names([["population.contributor_behaviours.free_rider"]], metrics)
    assert got == [
        "payment-fairness-vs-population-contributor-behaviours-free-rider",
        "free-rider-share-vs-population-contributor-behaviours-free-rider",
    ]
    assert "free-rider-share" not in " ".join(
        names([["population.verifier_behaviours.lazy"]], metrics)
    )


def test_a_churn_sweep_draws_time_to_withdrawal_and_unclaimed_credit() -> None:
    payout = [
        "payout_time_first.contributor",
        "payout_time_last.contributor",
        "payout_time_first.initiator",
        "unclaimed_credit_share.contributor",
    ]
    got = names([["churn.verifiers.arrivals_per_hour"]], [*payout, "task_success_rate"])
    assert got == [
        "payout-time-vs-churn-verifiers-arrivals-per-hour",
        "unclaimed-credit-vs-churn-verifiers-arrivals-per-hour",
        "outcomes-vs-churn-verifiers-arrivals-per-hour",
    ]
    (times, _) = choose_figures([["churn.contributors.session_s.mean"]], payout)
    # the initiator's refund is not pay held by the market's workers
    assert times.metrics == ("payout_time_first.contributor", "payout_time_last.contributor")


def test_a_privacy_budget_sweep_draws_the_price_of_privacy() -> None:
    measured = [
        "mia_auc_loss",
        "mia_auc_lira",
        "mia_tpr_at_1pct_lira",
        "initiator_accuracy",
        "task_success_rate",
        "net_profit_by_behaviour.contributor.private",
        "net_profit_by_behaviour.contributor.honest",
        "net_profit_by_behaviour.verifier.honest",
    ]
    axes = [["behaviours.private.epsilon"], ["population.contributor_behaviours.private"]]
    figures = {f.name: f for f in choose_figures(axes, measured)}
    price = figures["privacy-price-vs-behaviours-private-epsilon"]
    assert price.metrics == (
        "mia_auc_loss",
        "mia_auc_lira",
        "mia_tpr_at_1pct_lira",
        "initiator_accuracy",
    )
    assert price.lines_by == ("population.contributor_behaviours.private",)
    pay = figures["contributor-pay-vs-behaviours-private-epsilon"]
    assert pay.metrics == (
        "net_profit_by_behaviour.contributor.private",
        "net_profit_by_behaviour.contributor.honest",
    )
    # the accuracy is drawn with the leak; the headline figure keeps the success rate
    outcomes = figures["outcomes-vs-behaviours-private-epsilon"]
    assert outcomes.metrics == ("task_success_rate",)
    assert names([["training.privacy.epsilon"]], ["mia_auc_loss"]) == [
        "privacy-price-vs-training-privacy-epsilon"
    ]


def test_a_zipped_key_matches_and_its_partner_is_not_plotted_against_it() -> None:
    axes = [["tasks[0].max_contributors", "population.contributors"]]
    assert names(axes, ["oracle_fused_accuracy", "task_success_rate"]) == [
        "fig6-fused-accuracy-vs-population-contributors",
        "outcomes-vs-population-contributors",
    ]


def test_any_other_parameter_gets_the_headline_outcomes() -> None:
    (fig,) = choose_figures(
        [["tasks[0].mafr"]], ["task_success_rate", "initiator_accuracy", "tasks"]
    )
    assert (fig.x, fig.metrics) == ("tasks[0].mafr", ("task_success_rate", "initiator_accuracy"))


def test_nothing_varied_or_measured_means_no_figures() -> None:
    assert choose_figures([], ADVERSARY_METRICS) == []
    assert choose_figures([["tasks[0].mafr"]], ["tasks"]) == []


# ---------------------------------------------------------------- drawing and the page


def market(values: dict[str, Any], seed: int) -> dict[str, Any] | None:
    lazy = values["population.verifier_behaviours.lazy"]
    stake = values["tasks[0].verifier_stake_ether"]
    if lazy == 0.5 and stake == 0.1 and seed == 2:
        return None
    wei = 10**18
    return {
        "initiator_accuracy": 0.9 - lazy * 0.2 + seed * 0.005,
        "task_success_rate": 1.0 - lazy,
        "payment_fairness": 0.9 - lazy + 0.01 * seed,
        "honest_payment_fairness": 0.95 + 0.01 * seed,
        "wrong_outcome_rate": lazy / 2 + 0.01 * seed,
        "gas_per_task": 2e6 + 1e4 * seed,
        "net_profit_by_behaviour": {
            "verifier": {"honest": int((0.3 + 0.01 * seed) * wei), "lazy": int((0.5 - stake) * wei)}
        },
    }


@pytest.fixture
def report(sweep_factory: Callable[..., Path]) -> Path:
    root = sweep_factory(
        [
            [("population.verifier_behaviours.lazy", [0.0, 0.25, 0.5])],
            [("tasks[0].verifier_stake_ether", [0.1, 1.0, 10.0])],
        ],
        [0, 1, 2],
        market,
        pending=["syn-0000000005-s2"],
    )
    return write_report(root)


def test_draw_writes_a_png_with_a_band_per_line(
    tmp_path: Path, sweep_factory: Callable[..., Path]
) -> None:
    root = sweep_factory(
        [[("population.contributors", [2, 3, 5])], [("fusion.strategy", ["I", "II"])]],
        [0, 1],
        lambda v, s: {
            "oracle_fused_accuracy": 0.7 + 0.02 * v["population.contributors"] + 0.01 * s
        },
    )
    stats = point_stats(runs_table(root), ["population.contributors", "fusion.strategy"])
    (spec, *_) = choose_figures(
        [["population.contributors"], ["fusion.strategy"]], ["oracle_fused_accuracy"]
    )
    png = draw(spec, stats)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 10_000


def test_the_report_lists_points_with_cis_failures_and_the_definition(report: Path) -> None:
    page = report.read_text()
    folder = report.parent
    assert "Sweep: synthetic" in page
    assert "Fewer than 20 runs per point" in page
    assert "Failed runs" in page and "ValueError: made to fail" in page
    assert 'href="../failed/syn-0000000006-s2.json"' in page
    assert "pending: 1" in page
    assert "name = &quot;synthetic&quot;" in page  # the definition, escaped
    # the wide table: mean [low, high] per headline metric
    assert re.search(r"<td>0\.9[0-9]* \[0\.[89][0-9]*, 0\.9[0-9]*\]</td>", page)
    images = re.findall(r'<img src="([^"]+)"', page)
    assert "incentives-vs-tasks-0-verifier-stake-ether.png" in images
    assert "payment-fairness-vs-population-verifier-behaviours-lazy.png" in images
    assert all((folder / i).is_file() for i in images)
    points = pd.read_csv(folder / "points.csv")
    assert set(points["point"]) == set(range(9))
    assert "bootstrap" in set(points["method"])  # bounded metrics at n = 3
    fair = points[points["metric"] == "payment_fairness"]
    assert (fair["ci_low"].dropna() >= 0.0).all() and (fair["ci_high"].dropna() <= 1.0).all()
    assert "What each metric means" in page and "honest committee would have given" in page


def test_the_report_shows_paired_contrasts(report: Path) -> None:
    page = report.read_text()
    assert "<h2>Paired contrasts</h2>" in page
    assert "step in tasks[0].verifier_stake_ether" in page and "vs baseline" in page
    contrasts = pd.read_csv(report.parent / "contrasts.csv")
    lazy = contrasts[
        (contrasts["metric"] == "task_success_rate")
        & (contrasts["contrast"] == "neighbour")
        & (contrasts["axis"] == "population.verifier_behaviours.lazy")
    ]
    # success falls by exactly 0.25 per step on every seed: all equal, so no interval
    assert (lazy["mean"].round(9) == -0.25).all()
    honest = contrasts[
        (contrasts["metric"] == "net_profit_by_behaviour.verifier.honest")
        & (contrasts["contrast"] == "baseline")
    ]
    # every seed moves honest profit alike at every point: the paired difference is 0
    assert (honest["mean"].abs() < 1e3).all()
    # point 6 lost seed 2 (failed): its contrasts count the partner-less run
    six = contrasts[(contrasts["to_point"] == 6) & (contrasts["contrast"] == "baseline")]
    assert (six["n"] == 2).all()
    assert six["note"].str.contains("without a partner seed").all()


@pytest.mark.browser
def test_the_report_renders_in_headless_chromium_with_every_image(
    report: Path, render_dom: Callable[[Path], str]
) -> None:
    images = re.findall(r'<img src="([^"]+)"', report.read_text())
    dom = render_dom(report)
    assert f'data-images-loaded="{len(images)}/{len(images)}"' in dom
    assert '<p class="missing">' not in dom
    assert "<h2>Metrics per point</h2>" in dom


@pytest.mark.browser
def test_a_missing_image_is_marked_on_the_page(
    report: Path, render_dom: Callable[[Path], str]
) -> None:
    images = re.findall(r'<img src="([^"]+)"', report.read_text())
    (report.parent / images[0]).unlink()
    dom = render_dom(report)
    assert f'data-images-loaded="{len(images) - 1}/{len(images)}"' in dom
    assert f"figure missing: {images[0]}" in dom


def test_a_deviation_study_in_the_directory_is_linked(
    sweep_factory: Callable[..., Path],
) -> None:
    root = sweep_factory(
        [[("tasks[0].verifier_stake_ether", [0.1, 1.0])]],
        [0, 1],
        lambda v, s: {"task_success_rate": 1.0, "initiator_accuracy": 0.9 + 0.01 * s},
    )
    assert "deviation study" not in write_report(root).read_text()
    (root / "deviations").mkdir()
    (root / "deviations" / "index.html").write_text("<html></html>")
    page = write_report(root).read_text()
    assert 'href="../deviations/index.html"' in page and "deviation study" in page
