"""Accounts: the address of each key as eth_keys computes it, the signing key built lazily."""

from __future__ import annotations

import numpy as np
import pytest
from eth_keys.datatypes import PrivateKey
from eth_utils import to_checksum_address

from contracts.chain import account_from_key, derive_account
from contracts.chain.accounts import checksum


def test_addresses_are_those_of_the_eth_keys_key_pair() -> None:
    rng = np.random.default_rng(7)
    for _ in range(50):
        account = derive_account(rng)
        key = PrivateKey(account.secret)
        expected = to_checksum_address(key.public_key.to_canonical_address())
        assert str(account.address) == str(expected)
        assert account.canonical == key.public_key.to_canonical_address()


def test_the_signing_key_is_built_on_first_use_and_kept() -> None:
    account = derive_account(np.random.default_rng(3))
    assert "key" not in vars(account)
    key = account.key
    assert account.key is key and key.to_bytes() == account.secret
    assert account_from_key(account.secret) == account  # accounts compare by address


def test_keys_outside_the_group_are_refused() -> None:
    for bad in (b"\x00" * 32, b"\xff" * 32, b"\x01" * 31):
        with pytest.raises(ValueError):
            account_from_key(bad)


def test_checksum_spells_any_form_of_an_address_as_eip55() -> None:
    rng = np.random.default_rng(11)
    for _ in range(20):
        raw = bytes(rng.integers(0, 256, 20, dtype=np.uint8))
        expected = str(to_checksum_address(raw))
        spellings = (
            raw,
            "0x" + raw.hex(),
            "0x" + raw.hex().upper()[:-2] + raw.hex()[-2:],
            expected,
        )
        assert {str(checksum(s)) for s in spellings} == {expected}
    with pytest.raises(ValueError):
        checksum("0x1234")  # not 20 bytes: refused every time, never remembered
    with pytest.raises(ValueError):
        checksum("0x1234")
