"""The honest initiator: runs every task it creates by the protocol."""

from __future__ import annotations

from sim.strategies import NoParams

from .base import InitiatorStrategy


class HonestInitiator(InitiatorStrategy[NoParams]):
    """Never cancels, draws the committee when submissions close and hands every member the
    verification data."""
