"""The project's exception hierarchy: one root, one class per kind of failure.

A revert or a cheating agent is an *outcome* that gets recorded; these exceptions are for
callers that asked for one (``raise_for_status``), for bad input at the edges, and for
broken invariants.
"""

from __future__ import annotations


class BaasimError(Exception):
    """Root of every error baasim raises on purpose."""


class ConfigError(BaasimError, ValueError):
    """A scenario, sweep or command-line value is malformed.

    The message names the file, the key path and what was expected.
    """


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


class StorageError(BaasimError):
    """Content could not be stored or fetched."""


class ContentNotFound(StorageError, KeyError):
    """The store does not hold the requested CID."""

    def __str__(self) -> str:
        # KeyError's str() quotes its message; this one is a sentence for people.
        return BaseException.__str__(self)


class StorageUnavailable(StorageError):
    """The storage backend (e.g. an IPFS daemon) cannot be reached."""


class DataError(BaasimError):
    """A data set cannot be found, fetched or verified."""


class ModelRejected(BaasimError):
    """A model file from a contributor failed validation (never unpickled)."""


class InvariantViolation(BaasimError):
    """An internal invariant of the simulator does not hold: a bug, not an outcome."""
