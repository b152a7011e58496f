"""Named domain types shared across the simulator (time, money, addresses, CIDs, roles)."""

from __future__ import annotations

from enum import StrEnum
from typing import NewType

SimTime = NewType("SimTime", float)
"""Simulated seconds since the start of a run (SimPy time)."""

Wei = NewType("Wei", int)
"""An amount of ether in wei."""

Address = NewType("Address", str)
"""A checksummed 0x-prefixed account or contract address."""

Cid = NewType("Cid", str)
"""A content identifier (CIDv1, base32 multibase string)."""

TaskId = NewType("TaskId", int)
"""A task's id in the TaskMarket contract."""

TxHash = NewType("TxHash", str)
"""A 0x-prefixed transaction hash."""

ETHER: Wei = Wei(10**18)
GWEI: Wei = Wei(10**9)
PPM = 1_000_000
"""Parts per million: the contract's unit for accuracies and contribution scores."""
BPS = 10_000
"""Basis points: the contract's unit for MAFR and fractions."""


class Role(StrEnum):
    """What a participant does in a task."""

    INITIATOR = "initiator"
    CONTRIBUTOR = "contributor"
    VERIFIER = "verifier"
