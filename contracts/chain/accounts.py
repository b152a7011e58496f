"""Externally owned accounts: private keys drawn from a run's RNG stream.

An account's address is fixed by its key (the last 20 bytes of the Keccak hash of the public
key), so creating one costs one elliptic-curve multiplication, done here directly with
coincurve. The ``eth_keys`` ``PrivateKey`` a transaction is signed with is built only when the
account first signs: most agents of a large population never do, and the key objects (a
private and a public key object each) are most of an idle account's memory and of its
creation time. Addresses and signatures are the same as with the key built at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
from coincurve import PublicKey
from eth_keys.datatypes import PrivateKey
from eth_utils import keccak, to_checksum_address

from contracts.units import Address

# Order of the secp256k1 group: a private key must lie in [1, N).
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class Account:
    """An account the simulator can sign for."""

    address: Address
    secret: bytes = field(repr=False, compare=False)
    """The 32-byte private key."""
    canonical: bytes = field(repr=False, compare=False)
    """The 20-byte address."""

    @cached_property
    def key(self) -> PrivateKey:
        """The signing key, built on first use (cached_property writes the instance's
        ``__dict__`` directly, which a frozen dataclass allows)."""
        return PrivateKey(self.secret)


def canonical_address_of(key_bytes: bytes) -> bytes:
    """The 20-byte address of a 32-byte private key: Keccak-256 of the uncompressed public
    key (without its 0x04 prefix), last 20 bytes, as ``eth_keys`` computes it."""
    public = PublicKey.from_secret(key_bytes).format(compressed=False)[1:]
    return bytes(keccak(public)[-20:])


@lru_cache(maxsize=1 << 17)
def checksum(address: bytes | str) -> Address:
    """The EIP-55 spelling of a 20-byte address, or of any hex spelling of one.

    Remembered: a run has few addresses and spells each thousands of times (every decoded
    event, receipt and view result), and each spelling costs a Keccak hash.
    """
    return Address(to_checksum_address(address))


def account_from_key(key_bytes: bytes) -> Account:
    """The account of a 32-byte private key."""
    if len(key_bytes) != 32 or not 0 < int.from_bytes(key_bytes, "big") < _SECP256K1_N:
        raise ValueError("account_from_key: expected a 32-byte secp256k1 private key")
    canonical = canonical_address_of(key_bytes)
    # not through ``checksum``: each account's address is spelled once here, and remembering
    # 100,000 of them would cost more than it saves
    return Account(Address(to_checksum_address(canonical)), bytes(key_bytes), canonical)


def derive_account(rng: np.random.Generator) -> Account:
    """A fresh account whose key comes from ``rng`` (deterministic for a seeded stream)."""
    while True:
        raw = rng.bytes(32)
        if 0 < int.from_bytes(raw, "big") < _SECP256K1_N:
            return account_from_key(raw)
