"""A whole task straight through the bindings: the smoke run the README's demo starts with."""

from __future__ import annotations

from contracts.workload import WorkloadShape, smoke


def test_smoke_task_is_accepted_and_conserves_ether() -> None:
    result = smoke(seed=3, shape=WorkloadShape(contributors=4, verifiers=5, committee=3))
    assert result.accepted
    calls = result.gas_by_call()
    assert set(calls) >= {"create_task", "submit_model", "commit", "reveal", "finalize", "withdraw"}
    assert all(gas > 0 for gas in calls.values())


def test_smoke_without_commit_reveal_uses_plain_reports() -> None:
    shape = WorkloadShape(contributors=3, verifiers=3, committee=3, commit_reveal=False)
    result = smoke(seed=4, shape=shape)
    calls = result.gas_by_call()
    assert "report" in calls
    assert "commit" not in calls
