"""The run's one registry of agents: name, address, role and behaviour of each participant.

The world owns one ``Directory``; the population adds each participant as it joins the
market. Everything that needs to turn an address into a name (the ledger, the oracle, agents
naming whom they copied) or to label a row with its agent's role and behaviour (the recorder)
reads it here. Members are kept in the order they joined, which is the order of the run's
final balance rows. A member may hold further addresses (``add_alias``: a Sybil's accounts,
as the ``registrant_flood`` and ``self_verifier`` attacks open them): they resolve to the
member, so the ledger books their payments to it and its end balance sums them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from contracts.units import Address


@dataclass(frozen=True)
class Member:
    """One participant as the rest of the run knows it."""

    name: str
    address: Address
    role: str
    behaviour: str


class Directory:
    """Participants by name and by address, in the order they joined."""

    def __init__(self) -> None:
        self._by_name: dict[str, Member] = {}
        self._by_address: dict[Address, Member] = {}
        self._aliases: dict[str, list[Address]] = {}

    def add(self, name: str, address: Address, role: str, behaviour: str) -> Member:
        """Register a participant; a name or address already taken is a broken invariant."""
        if name in self._by_name or address in self._by_address:
            raise ValueError(f"directory: {name} ({address}) is already registered")
        member = Member(name, address, role, behaviour)
        self._by_name[name] = member
        self._by_address[address] = member
        return member

    def add_alias(self, name: str, address: Address) -> None:
        """Give member ``name`` a further address (a Sybil account it controls)."""
        member = self._by_name.get(name)
        if member is None or address in self._by_address:
            raise ValueError(f"directory: cannot alias {address} to {name}")
        self._by_address[address] = member
        self._aliases.setdefault(name, []).append(address)

    def addresses(self, name: str) -> tuple[Address, ...]:
        """Every address of member ``name``: its own first, then its aliases in order."""
        member = self._by_name.get(name)
        if member is None:
            return ()
        return (member.address, *self._aliases.get(name, ()))

    def is_alias(self, address: Address) -> bool:
        """Whether ``address`` is a member's further address rather than its own."""
        member = self._by_address.get(address)
        return member is not None and member.address != address

    def set_behaviour(self, name: str, behaviour: str) -> Member:
        """Record that ``name`` now plays ``behaviour`` (an adaptive agent revised its kind):
        rows written from now on carry the new kind."""
        old = self._by_name[name]
        member = Member(old.name, old.address, old.role, behaviour)
        self._by_name[name] = member
        self._by_address[old.address] = member
        return member

    def member(self, name: str) -> Member | None:
        return self._by_name.get(name)

    def name_of(self, address: Address) -> str | None:
        """The participant's name, or None for an address that is no participant's."""
        member = self._by_address.get(address)
        return member.name if member is not None else None

    def label(self, address: Address) -> str:
        """The participant's name, or the address itself (for rows about outsiders)."""
        return self.name_of(address) or address

    def address_of(self, name: str) -> Address | None:
        member = self._by_name.get(name)
        return member.address if member is not None else None

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Member]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)
