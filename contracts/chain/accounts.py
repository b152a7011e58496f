"""Externally owned accounts: private keys drawn from a run's RNG stream."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from eth_keys.datatypes import PrivateKey
from eth_utils import to_checksum_address

from contracts.units import Address

# Order of the secp256k1 group: a private key must lie in [1, N).
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class Account:
    """An account the simulator can sign for."""

    address: Address
    key: PrivateKey = field(repr=False, compare=False)

    @property
    def canonical(self) -> bytes:
        """The 20-byte address."""
        return bytes(self.key.public_key.to_canonical_address())


def account_from_key(key_bytes: bytes) -> Account:
    """The account of a 32-byte private key."""
    key = PrivateKey(key_bytes)
    return Account(Address(to_checksum_address(key.public_key.to_canonical_address())), key)


def derive_account(rng: np.random.Generator) -> Account:
    """A fresh account whose key comes from ``rng`` (deterministic for a seeded stream)."""
    while True:
        raw = rng.bytes(32)
        if 0 < int.from_bytes(raw, "big") < _SECP256K1_N:
            return account_from_key(raw)
