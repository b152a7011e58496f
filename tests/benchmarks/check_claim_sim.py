"""A claim-settled task through the simulator: more contributors than the paper's cap, each
claiming its own pay after finalize; every wei the contract credits is withdrawn.

Not collected by CI (over 5 CPU minutes: 70 models trained and fused); run it explicitly:
    .venv/bin/python -m pytest -q tests/benchmarks/check_claim_sim.py
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from contracts.units import PAPER_SUBMISSIONS
from sim.runner import RunResult, run

N = PAPER_SUBMISSIONS + 6

SCENARIO = f"""
name = "claim"
[data]
dataset = "mnist-5k"
shard_size = 20
verification_size = 400
test_size = 400
[model]
architecture = "mlp"
hidden = [8]
[training]
epochs = 1
batch_size = 20
lr = 0.01
[fusion]
strategy = "II"
phase1_epochs = 2
phase2_epochs = 2
[contribution]
method = "individual"
truth = "method"  # Shapley values of this many models are out of reach (SHAPLEY_MAX_MODELS)
[population]
contributors = {N}
verifiers = 3
[[tasks]]
reward_ether = 6.0
mafr = 0.1
committee_size = 3
verifier_stake_ether = 1.0
slash_fraction = 0.5
commit_reveal = true
settlement = "claim"
max_contributors = {N}
submission_window_s = 1800
commit_window_s = 600
reveal_window_s = 600
"""

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    path = tmp_path_factory.mktemp("claim") / "claim.toml"
    path.write_text(SCENARIO)
    return run(path, 0, out=path.parent / "out")


def _wei(values: pd.Series) -> int:
    return int(sum((Decimal(v) for v in values if v is not None), Decimal(0)))


def test_contributors_beyond_the_paper_cap_claim_their_pay(result: RunResult) -> None:
    ev = result.events
    assert result.summary["status"] == "completed"
    (outcome,) = result.summary["task_outcomes"]
    assert outcome["accepted"] is True
    assert (ev["kind"] == "model_submitted").sum() == N
    claims = ev[(ev["kind"] == "tx") & (ev["detail"].fillna("").str.startswith("claim_pay"))]
    paid = ev[(ev["kind"] == "paid") & (ev["role"] == "contributor")]
    assert len(paid) > PAPER_SUBMISSIONS // 2
    assert len(claims) >= len(paid) and claims["ok"].all()
    # each paid contributor withdrew exactly what it was paid
    withdrawn = ev[ev["kind"] == "withdrawn"].groupby("agent")["wei"].apply(_wei)
    for agent, group in paid.groupby("agent"):
        assert withdrawn[agent] == _wei(group["wei"])
    assert (ev["kind"] == "failed").sum() == 0
