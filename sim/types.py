"""Off-chain domain types: the roles participants play.

The chain's units and identifiers (``Wei``, ``Address``, ``Cid``, ``TaskId``, ``PPM``,
``BPS`` …) live with the contract in ``contracts.units``.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    """What a participant does in a task."""

    INITIATOR = "initiator"
    CONTRIBUTOR = "contributor"
    VERIFIER = "verifier"
