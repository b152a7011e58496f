"""The root of baasim's exception hierarchy, and the chain's errors.

The root lives in the lowest layer (the chain) so that every package can derive from it;
the off-chain errors (configuration, storage, data, models) are in ``sim.errors``. A revert
or a cheating agent is an *outcome* that gets recorded; these exceptions are for callers
that asked for one (``raise_for_status``), for bad calls, and for broken invariants.
"""

from __future__ import annotations


class BaasimError(Exception):
    """Root of every error baasim raises on purpose."""


class ChainError(BaasimError):
    """Something went wrong talking to the in-process chain."""


class TxFailed(ChainError):
    """A transaction reverted, ran out of gas, or could not be included.

    ``reason`` is the decoded revert reason (or why the pool rejected it);
    ``receipt`` is the receipt that carries the failure.
    """

    def __init__(self, reason: str, receipt: object | None = None, call: str | None = None):
        self.reason = reason
        self.receipt = receipt
        self.call = call
        prefix = f"{call} failed: " if call else ""
        super().__init__(f"{prefix}{reason}")


class CallArgumentError(ChainError, TypeError):
    """A contract call got an argument of the wrong type or shape; names the call."""


class InvariantViolation(BaasimError):
    """An internal invariant of the simulator does not hold: a bug, not an outcome."""
