"""What sealing a block produces: receipts, decoded events, blocks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from contracts.errors import TxFailed
from contracts.units import Address, TxHash, Wei


@dataclass(frozen=True)
class DecodedEvent:
    """One log decoded by the ABI registered for the emitting contract."""

    name: str
    address: Address
    args: Mapping[str, Any]
    block_number: int
    tx_hash: TxHash
    log_index: int

    def __getitem__(self, key: str) -> Any:
        return self.args[key]


@dataclass(frozen=True)
class Receipt:
    """The outcome of one transaction.

    ``included`` is False when the pool dropped the transaction at sealing (e.g. the
    sender could not pay for gas and value); then ``status`` is False, no gas was used
    and no fee was charged. ``fee`` is what the sender paid: gas used × gas price.
    """

    ticket: int
    tx_hash: TxHash | None
    sender: Address
    to: Address | None
    value: Wei
    block_number: int
    timestamp: int
    included: bool
    status: bool
    gas_used: int
    fee: Wei
    burned: Wei
    revert_reason: str | None
    return_data: bytes
    contract_address: Address | None
    events: tuple[DecodedEvent, ...]
    label: str | None = None

    @property
    def ok(self) -> bool:
        return self.status

    def raise_for_status(self) -> Receipt:
        """Return self, or raise TxFailed carrying the revert reason."""
        if not self.status:
            raise TxFailed(self.revert_reason or "failed", self, call=self.label)
        return self

    def events_named(self, name: str) -> list[DecodedEvent]:
        return [e for e in self.events if e.name == name]


@dataclass(frozen=True)
class Block:
    """A sealed block and the receipts of the transactions it settled."""

    number: int
    timestamp: int
    base_fee: Wei
    gas_used: int
    receipts: tuple[Receipt, ...]
    deferred: int = 0
    """Transactions left pending for a later block (no room, or gas price below base fee)."""
    hash: str = field(default="")
