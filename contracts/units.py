"""The chain's units and identifiers: money in wei, addresses, CIDs, task ids, PPM and BPS.

These are the contract's own units, so they live with the contract (the lowest layer);
the off-chain world imports them from here. Accuracies and contribution scores go on chain
in parts per million, fractions (MAFR, shares, slashing) in basis points.
"""

from __future__ import annotations

from typing import NewType

Wei = NewType("Wei", int)
"""An amount of ether in wei."""

Address = NewType("Address", str)
"""A checksummed 0x-prefixed account or contract address."""

Cid = NewType("Cid", str)
"""A content identifier (CIDv1, base32 multibase string), as the contract stores it."""

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

# The contract's capacity, as declared in TaskMarket.vy (tests/contracts check they agree).
MAX_SUBMISSIONS = 1024
"""Submissions a claim-settled task accepts (``Aggregation.CLAIM``)."""
PAPER_SUBMISSIONS = 64
"""Submissions a task with the paper's settlement accepts (its finalize is O(N x K))."""
MAX_REGISTRANTS = 256
"""Verifiers who may register for one task."""
MAX_COMMITTEE = 32
"""Largest committee a task may ask for."""


def to_ppm(fraction: float, *, signed: bool = False) -> int:
    """``fraction`` in parts per million as a report puts it on chain: rounded to the nearest
    ppm and clipped to [0, 1e6] (accuracies) or [−1e6, 1e6] (``signed``: contribution
    scores, which may be negative)."""
    value = round(fraction * PPM)
    return max(-PPM if signed else 0, min(PPM, value))


def meets_mafr(accuracy_ppm: int, mafr_bps: int) -> bool:
    """Whether an accuracy (ppm) reaches the task's MAFR (bps): the contract's comparison."""
    return accuracy_ppm >= mafr_bps * (PPM // BPS)


BURN_ADDRESS = Address("0x0000000000000000000000000000000000000000")
"""Where the market sends stakes it burns (``burn_orphan_slashes``): nobody holds its key."""
