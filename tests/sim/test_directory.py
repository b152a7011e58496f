"""The run's one agent registry, and the rows the recorder labels from it."""

from __future__ import annotations

import pytest

from contracts.units import Address
from sim.directory import Directory
from sim.recorder import Kind, Recorder

ALICE = Address("0x" + "a" * 40)
BOB = Address("0x" + "b" * 40)


def test_names_and_addresses_map_both_ways_in_joining_order() -> None:
    d = Directory()
    d.add("verifier-0", BOB, "verifier", "lazy")
    d.add("contributor-0", ALICE, "contributor", "honest")
    assert [m.name for m in d] == ["verifier-0", "contributor-0"]
    assert d.name_of(ALICE) == "contributor-0"
    assert d.address_of("verifier-0") == BOB
    assert "verifier-0" in d and "initiator-0" not in d
    assert d.name_of(Address("0x" + "c" * 40)) is None
    assert d.label(Address("0xc")) == "0xc"  # outsiders are named by their address


def test_a_name_or_address_is_registered_once() -> None:
    d = Directory()
    d.add("contributor-0", ALICE, "contributor", "honest")
    with pytest.raises(ValueError, match="already registered"):
        d.add("contributor-0", BOB, "contributor", "honest")
    with pytest.raises(ValueError, match="already registered"):
        d.add("contributor-1", ALICE, "contributor", "honest")


def test_a_sybil_account_resolves_to_its_owner_and_is_listed_after_its_own() -> None:
    d = Directory()
    d.add("verifier-0", BOB, "verifier", "registrant_flood")
    sybil = Address("0x" + "c" * 40)
    d.add_alias("verifier-0", sybil)
    assert d.name_of(sybil) == "verifier-0" and d.label(sybil) == "verifier-0"
    assert d.addresses("verifier-0") == (BOB, sybil)
    assert d.is_alias(sybil) and not d.is_alias(BOB) and not d.is_alias(ALICE)
    assert [m.name for m in d] == ["verifier-0"]  # one member, one balance row
    with pytest.raises(ValueError, match="cannot alias"):
        d.add_alias("verifier-0", BOB)  # an address already taken
    with pytest.raises(ValueError, match="cannot alias"):
        d.add_alias("verifier-9", ALICE)  # no such member


def test_the_recorder_labels_rows_with_role_and_behaviour_from_the_directory() -> None:
    d = Directory()
    rec = Recorder("run", 0, "hash", lambda: 0.0, lambda: 1, d)
    d.add("verifier-0", BOB, "verifier", "lazy")
    row = rec.record(Kind.REPORTED, "verifier-0")
    assert (row.role, row.behaviour) == ("verifier", "lazy")
    assert rec.record(Kind.RUN_STARTED, None).role is None
