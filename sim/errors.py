"""The off-chain world's errors: configuration, storage, data sets and model files.

All derive from ``contracts.errors.BaasimError``, the root that the chain layer owns.
A revert or a cheating agent is an *outcome* that gets recorded; these exceptions are for
bad input at the edges and for callers that asked for one.
"""

from __future__ import annotations

from contracts.errors import BaasimError


class ConfigError(BaasimError, ValueError):
    """A scenario, sweep or command-line value is malformed.

    The message names the file, the key path and what was expected.
    """


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
