"""The recorder: typed events of one run collected into one tidy table.

One row per event: run id, seed, scenario hash, simulated time, block number, the agent, its
role and behaviour, the event kind, the task, and value columns. Claims and ground truth sit
side by side: ``value`` holds what an agent claimed or observed, ``truth`` what an honest,
omniscient computation gives for the same quantity (a verifier's reported score next to its
true score; a contributor's payment next to its true contribution on the held-out test set).
Money is exact: ``wei`` and ``fee_wei`` are decimal(38, 0) columns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.directory import Directory
from sim.paths import atomic_path


class Kind(StrEnum):
    """Event kinds; README's "Reading the outputs" explains each one's columns."""

    RUN_STARTED = "run_started"
    RUN_FINISHED = "run_finished"
    AGENT_JOINED = "agent_joined"
    AGENT_LEFT = "agent_left"
    FUNDED = "funded"
    TX = "tx"
    TASK_CREATED = "task_created"
    TASK_SEEN = "task_seen"
    DECLINED = "declined"
    MODEL_TRAINED = "model_trained"
    MODEL_UPLOADED = "model_uploaded"
    MODEL_SUBMITTED = "model_submitted"
    DUPLICATE_SUBMISSION = "duplicate_submission"
    REGISTERED = "registered"
    COMMITTEE_DRAWN = "committee_drawn"
    SELECTED = "selected"
    DATA_RECEIVED = "data_received"
    MODEL_FETCHED = "model_fetched"
    MODEL_REJECTED = "model_rejected"
    DUPLICATE_DETECTED = "duplicate_detected"
    EVALUATED = "evaluated"
    COMMITTED = "committed"
    REPORTED = "reported"
    SCORE = "score"
    TRUE_CONTRIBUTION = "true_contribution"
    GROUND_TRUTH = "ground_truth"
    TASK_FINALIZED = "task_finalized"
    PAID = "paid"
    SLASHED = "slashed"
    STAKE_RETURNED = "stake_returned"
    REFUNDED = "refunded"
    WITHDRAWN = "withdrawn"
    ACCESS_MODEL = "access_model"
    MISSED = "missed"
    FAILED = "failed"
    COMPUTE = "compute"
    CAPITAL_COST = "capital_cost"
    COPIED = "copied"
    ABANDONED = "abandoned"
    ATTACK = "attack"
    MODEL_TAKEN = "model_taken"
    BALANCE = "balance"
    STRATEGY_REVISED = "strategy_revised"
    PRIVACY_SPENT = "privacy_spent"
    MEMBERSHIP_AUDIT = "membership_audit"


@dataclass(frozen=True)
class Row:
    """One event. Unused value columns stay None."""

    time: float
    block: int
    kind: str
    agent: str | None = None
    role: str | None = None
    behaviour: str | None = None
    task: int | None = None
    target: str | None = None
    ok: bool | None = None
    gas: int | None = None
    fee_wei: int | None = None
    wei: int | None = None
    value: float | None = None
    truth: float | None = None
    cid: str | None = None
    tx_hash: str | None = None
    bytes: int | None = None
    detail: str | None = None


_WEI = pa.decimal128(38, 0)
_COLUMN_TYPES: dict[str, pa.DataType] = {
    "time": pa.float64(),
    "block": pa.int64(),
    "kind": pa.string(),
    "agent": pa.string(),
    "role": pa.string(),
    "behaviour": pa.string(),
    "task": pa.int64(),
    "target": pa.string(),
    "ok": pa.bool_(),
    "gas": pa.int64(),
    "fee_wei": _WEI,
    "wei": _WEI,
    "value": pa.float64(),
    "truth": pa.float64(),
    "cid": pa.string(),
    "tx_hash": pa.string(),
    "bytes": pa.int64(),
    "detail": pa.string(),
}
SCHEMA = pa.schema(
    [("run_id", pa.string()), ("seed", pa.int64()), ("scenario_hash", pa.string())]
    + [(f.name, _COLUMN_TYPES[f.name]) for f in fields(Row)]
)


class Recorder:
    """Collects rows; ``now`` and ``block`` tell it the simulated time and head block.

    Each row's role and behaviour come from ``directory`` (the world's registry of agents).
    """

    def __init__(
        self,
        run_id: str,
        seed: int,
        scenario_hash: str,
        now: Callable[[], float],
        block: Callable[[], int],
        directory: Directory,
    ):
        self.run_id = run_id
        self.seed = seed
        self.scenario_hash = scenario_hash
        self._now = now
        self._block = block
        self._directory = directory
        self._rows: list[Row] = []

    def now(self) -> float:
        """The simulated time rows are stamped with."""
        return float(self._now())

    def record(self, kind: Kind | str, agent: str | None = None, **values: Any) -> Row:
        """Append one event at the current time; role/behaviour come from the directory."""
        info = self._directory.member(agent) if agent else None
        row = Row(
            time=float(self._now()),
            block=int(self._block()),
            kind=str(kind),
            agent=agent,
            role=values.pop("role", info.role if info else None),
            behaviour=values.pop("behaviour", info.behaviour if info else None),
            **values,
        )
        self._rows.append(row)
        return row

    @property
    def rows(self) -> list[Row]:
        return list(self._rows)

    def to_arrow(self) -> pa.Table:
        n = len(self._rows)
        columns: dict[str, pa.Array] = {
            "run_id": pa.array([self.run_id] * n, pa.string()),
            "seed": pa.array([self.seed] * n, pa.int64()),
            "scenario_hash": pa.array([self.scenario_hash] * n, pa.string()),
        }
        for f in fields(Row):
            values = [getattr(r, f.name) for r in self._rows]
            if _COLUMN_TYPES[f.name] == _WEI:
                values = [None if v is None else Decimal(v) for v in values]
            columns[f.name] = pa.array(values, _COLUMN_TYPES[f.name])
        return pa.table(columns, schema=SCHEMA)

    def to_frame(self) -> pd.DataFrame:
        """The event table, exactly as ``pandas.read_parquet`` returns the written file."""
        frame: pd.DataFrame = self.to_arrow().to_pandas()
        return frame

    def write(self, path: Path) -> None:
        """Write the table as Parquet atomically (a partial file never has the final name)."""
        with atomic_path(path) as tmp:
            pq.write_table(self.to_arrow(), tmp)
