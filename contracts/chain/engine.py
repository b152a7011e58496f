"""The in-process Ethereum chain: py-evm (Cancun rules), a pending pool, sealing on demand.

This is the only module that touches py-evm. Transactions wait in a FIFO pool as
*intents* (sender, recipient, data, value, gas); nonces are assigned and transactions
signed when a block is sealed, so a dropped transaction never leaves a nonce gap.
``seal(timestamp)`` packs as many pending transactions as fit the block gas limit
(a transaction fits while its gas limit is at most the gas left, as Ethereum clients
pack), executes them in one block and returns their receipts. This is the fast path:
one VM and one state persist per block instead of per transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from eth._utils.address import generate_contract_address
from eth.chains.base import MiningChain
from eth.db.atomic import AtomicDB
from eth.db.backends.memory import MemoryDB
from eth.vm.forks.cancun import CancunVM
from eth.vm.spoof import SpoofTransaction
from eth_utils import to_canonical_address
from eth_utils.exceptions import ValidationError as EvmValidationError

from contracts.chain.abi import ContractAbi, revert_reason
from contracts.chain.accounts import Account, checksum, derive_account
from contracts.chain.receipts import Block, DecodedEvent, Receipt
from contracts.errors import ChainError, TxFailed
from contracts.units import ETHER, GWEI, Address, TxHash, Wei

_ZERO32 = b"\x00" * 32
_ZERO_ADDRESS = b"\x00" * 20


Engine = Literal["py-evm", "revm"]
"""The EVMs a chain can run on."""


@dataclass(frozen=True)
class ChainConfig:
    """Parameters of the simulated chain."""

    chain_id: int = 1337
    gas_price: Wei = GWEI
    """Price every transaction pays per unit of gas (legacy transactions)."""
    block_gas_limit: int = 30_000_000
    default_gas: int = 8_000_000
    """Gas limit of a transaction that names none; only gas used is charged."""
    genesis_timestamp: int = 1_700_000_000
    initial_base_fee: Wei = Wei(7)
    faucet_balance: Wei = Wei(10**9 * ETHER)
    """Ether the faucet holds at genesis to fund accounts created later."""
    engine: Engine = "py-evm"
    """The EVM that executes transactions: py-evm, or revm (``pyrevm``) behind the same
    interface with the same receipts, gas, logs, balances and nonces."""


ENGINES: tuple[Engine, ...] = ("py-evm", "revm")
_ENGINE_CLASSES: dict[str, type[Chain]] = {}


def register_engine(name: str, cls: type[Chain]) -> None:
    """Make ``Chain(ChainConfig(engine=name), ...)`` construct ``cls``."""
    _ENGINE_CLASSES[name] = cls


@dataclass(frozen=True)
class _Intent:
    ticket: int
    sender: Account
    to: bytes  # b"" for contract creation
    data: bytes
    value: int
    gas: int
    label: str | None


@dataclass
class _Applied:
    intent: _Intent
    tx: Any
    receipt: Any
    computation: Any
    nonce: int


Touched = tuple[int, int]
"""A mark in an engine's log of changed accounts (``Chain.touched``)."""


class Chain:
    """A private chain run in-process; the simulator decides when blocks are sealed.

    ``Chain(config, ...)`` opens the engine ``config.engine`` names: this class runs
    py-evm; ``contracts.chain.revm.RevmChain`` (a subclass, registered by
    ``register_engine`` when ``contracts.chain`` is imported) runs revm.
    """

    def __new__(
        cls,
        config: ChainConfig,
        rng: np.random.Generator,
        genesis_balances: Sequence[Wei] = (),
    ) -> Chain:
        if config.engine not in ENGINES:
            raise ChainError(f"chain engine must be one of {ENGINES}, got {config.engine!r}")
        return super().__new__(_ENGINE_CLASSES[config.engine] if cls is Chain else cls)

    def __init__(
        self,
        config: ChainConfig,
        rng: np.random.Generator,
        genesis_balances: Sequence[Wei] = (),
    ):
        alloc = self._genesis(config, rng, genesis_balances)
        self._chain_class = MiningChain.configure(
            __name__="BaasimChain",
            # Cancun, not Prague: revm 8 (pyrevm 0.3.7, the other engine) has no Prague, and
            # TaskMarket.vy is compiled for Cancun so both engines run one fork exactly
            vm_configuration=((0, CancunVM),),
            chain_id=config.chain_id,
        )
        self._kv = MemoryDB()
        params = {
            "difficulty": 0,
            "gas_limit": config.block_gas_limit,
            "timestamp": config.genesis_timestamp,
            "mix_hash": _ZERO32,
            "nonce": b"\x00" * 8,
            "coinbase": to_canonical_address(self.coinbase),
            "base_fee_per_gas": config.initial_base_fee,
        }
        state = {
            addr: {"balance": bal, "nonce": 0, "code": b"", "storage": {}}
            for addr, bal in alloc.items()
        }
        self._chain = self._chain_class.from_genesis(AtomicDB(self._kv), params, state)
        self._view: Any = None
        self._chain.header = self._next_header(self._chain.get_canonical_head())

    def _genesis(
        self, config: ChainConfig, rng: np.random.Generator, genesis_balances: Sequence[Wei]
    ) -> dict[bytes, int]:
        """Draw the faucet, coinbase and genesis accounts (same draws on every engine)."""
        self.config = config
        self._rng = rng
        self.faucet = derive_account(rng)
        self.coinbase = derive_account(rng).address
        self.genesis_accounts = [derive_account(rng) for _ in genesis_balances]
        alloc = {self.faucet.canonical: int(config.faucet_balance)}
        for account, balance in zip(self.genesis_accounts, genesis_balances, strict=True):
            alloc[account.canonical] = int(balance)
        self.genesis_supply = Wei(sum(alloc.values()))
        self._pending: list[_Intent] = []
        self._next_ticket = 0
        self._abis: dict[bytes, ContractAbi] = {}
        self._burned = 0
        self._tx_count = 0
        return alloc

    # ------------------------------------------------------------------ reads

    @property
    def head_number(self) -> int:
        return int(self._chain.get_canonical_head().block_number)

    @property
    def head_timestamp(self) -> int:
        return int(self._chain.get_canonical_head().timestamp)

    @property
    def base_fee(self) -> Wei:
        """Base fee of the next block."""
        return Wei(int(self._chain.header.base_fee_per_gas))

    @property
    def burned_fees(self) -> Wei:
        """Base fee × gas of every included transaction: ether that left circulation."""
        return Wei(self._burned)

    @property
    def tx_count(self) -> int:
        """Transactions included in blocks so far."""
        return self._tx_count

    @property
    def pending_count(self) -> int:
        return len(self._pending)

    def _next_header(self, parent: Any) -> Any:
        """The pending header on ``parent``: same gas limit, no wall-clock timestamp.

        py-evm's default lets the gas limit decay by 1/1024 per block (so after a few
        hundred empty blocks a large transaction would never fit again) and stamps
        the header with the host's clock; both are wrong for a simulated chain.
        """
        return self._chain.create_header_from_parent(
            parent, gas_limit=parent.gas_limit, timestamp=parent.timestamp + 1
        )

    def _state(self) -> Any:
        """A gas-free state on top of the head, reused by every read until the next seal.

        Reads (balances, views) run on it and are reverted after each call, so its
        caches stay warm and no VM is rebuilt per call.
        """
        if self._view is None:
            free = self._chain.header.copy(base_fee_per_gas=0)
            self._view = self._chain.get_vm(free).state
        return self._view

    def balance(self, address: Address) -> Wei:
        return Wei(int(self._state().get_balance(to_canonical_address(address))))

    def touched(self, since: Touched | None) -> tuple[Touched | None, list[bytes] | None]:
        """Accounts whose balance may have changed since mark ``since``: (a new mark, their
        canonical addresses), or (None, None) when the engine cannot tell (py-evm: the
        reader reads every balance it needs again). Lets a reader keep sums of many
        balances current in the work of what changed, not of every account."""
        return None, None

    def nonce(self, address: Address) -> int:
        return int(self._state().get_nonce(to_canonical_address(address)))

    def code(self, address: Address) -> bytes:
        return bytes(self._state().get_code(to_canonical_address(address)))

    def call(
        self,
        to: Address,
        data: bytes,
        sender: Address | None = None,
        label: str | None = None,
        gas: int | None = None,
    ) -> bytes:
        """Execute a read-only call on top of the latest sealed block; TxFailed on revert.

        The call sees the pending block's context (number head + 1, timestamp head + 1),
        may use up to ``gas`` (default: the block gas limit) and pays nothing; nothing
        it does persists.
        """
        state = self._state()
        origin = to_canonical_address(sender) if sender else _ZERO_ADDRESS
        unsigned = self._chain.get_vm_class(self._chain.header).create_unsigned_transaction(
            nonce=state.get_nonce(origin),
            gas_price=0,
            gas=self.config.block_gas_limit if gas is None else gas,
            to=to_canonical_address(to),
            value=0,
            data=data,
        )
        snapshot = state.snapshot()
        try:
            computation = state.costless_execute_transaction(
                SpoofTransaction(unsigned, from_=origin)
            )
        finally:
            state.revert(snapshot)
        if computation.is_error:
            raise TxFailed(revert_reason(computation.output, computation.error), call=label)
        return bytes(computation.output)

    # ------------------------------------------------------------------ writes

    def register_abi(self, address: Address, abi: ContractAbi) -> None:
        """Decode logs emitted by ``address`` with ``abi`` in future receipts."""
        self._abis[to_canonical_address(address)] = abi

    def send(
        self,
        sender: Account,
        to: Address | None,
        data: bytes = b"",
        value: Wei | int = 0,
        gas: int | None = None,
        label: str | None = None,
    ) -> int:
        """Queue a transaction; returns its ticket, whose receipt the next seal produces."""
        if not isinstance(sender, Account):
            raise ChainError(f"send: sender must be an Account, got {type(sender).__name__}")
        if not isinstance(value, int) or value < 0:
            raise ChainError(f"send: value must be a non-negative int of wei, got {value!r}")
        gas = self.config.default_gas if gas is None else gas
        if not 21_000 <= gas <= self.config.block_gas_limit:
            raise ChainError(
                f"send: gas {gas} outside [21000, block gas limit {self.config.block_gas_limit}]"
            )
        ticket = self._next_ticket
        self._next_ticket += 1
        target = b"" if to is None else to_canonical_address(to)
        self._pending.append(_Intent(ticket, sender, target, bytes(data), int(value), gas, label))
        return ticket

    def new_account(self, balance: Wei | int) -> tuple[Account, int]:
        """A fresh account funded by the faucet; the ticket's receipt marks the funding."""
        account = derive_account(self._rng)
        return account, self.fund(account.address, balance)

    def fund(self, address: Address, amount: Wei | int) -> int:
        """Queue a transfer of ``amount`` from the faucet."""
        return self.send(self.faucet, address, value=amount, gas=21_000, label="fund")

    def seal(self, timestamp: int, prevrandao: bytes | None = None) -> Block:
        """Seal one block at ``timestamp`` holding as many pending transactions as fit."""
        if timestamp <= self.head_timestamp:
            raise ChainError(
                f"seal: timestamp {timestamp} must be after the head's {self.head_timestamp}"
            )
        mix = self._rng.bytes(32) if prevrandao is None else prevrandao
        if len(mix) != 32:
            raise ChainError("seal: prevrandao must be 32 bytes")
        header = self._chain.header.copy(
            timestamp=timestamp,
            mix_hash=mix,
            coinbase=to_canonical_address(self.coinbase),
            gas_limit=self.config.block_gas_limit,
        )
        vm = self._chain.get_vm(header)
        applied, rejected, deferred, final_header = self._pack(vm, header)
        block = vm.set_block_transactions_and_withdrawals(
            vm.get_block(),
            final_header,
            [a.tx for a in applied],
            [a.receipt for a in applied],
        )
        mined = vm.mine_block(block).block
        self._chain.persist_block(mined, perform_validation=False)  # mine_block validated it
        self._chain.header = self._next_header(mined.header)
        self._pending = deferred
        self._view = None
        self._tx_count += len(applied)
        base_fee = int(header.base_fee_per_gas)
        receipts = self._receipts(applied, mined, base_fee) + tuple(
            self._rejected_receipt(i, why, int(mined.number), int(mined.header.timestamp))
            for i, why in rejected
        )
        receipts = tuple(sorted(receipts, key=lambda r: r.ticket))
        return Block(
            number=int(mined.number),
            timestamp=int(mined.header.timestamp),
            base_fee=Wei(base_fee),
            gas_used=int(mined.header.gas_used),
            receipts=receipts,
            deferred=len(deferred),
            hash="0x" + mined.hash.hex(),
        )

    def _pack(
        self, vm: Any, header: Any
    ) -> tuple[list[_Applied], list[tuple[_Intent, str]], list[_Intent], Any]:
        applied: list[_Applied] = []
        rejected: list[tuple[_Intent, str]] = []
        deferred: list[_Intent] = []
        blocked: set[bytes] = set()  # senders with a deferred tx: keep their order
        prev = header
        price = self.config.gas_price
        for intent in self._pending:
            who = intent.sender.canonical
            if who in blocked or price < prev.base_fee_per_gas:
                deferred.append(intent)
                blocked.add(who)
                continue
            if intent.gas > prev.gas_limit - prev.gas_used:
                deferred.append(intent)
                blocked.add(who)
                continue
            state = vm.state
            nonce = state.get_nonce(who)
            need = intent.gas * price + intent.value
            if state.get_balance(who) < need:
                rejected.append((intent, f"insufficient funds: need {need} wei for gas and value"))
                continue
            tx = vm.create_unsigned_transaction(
                nonce=nonce,
                gas_price=price,
                gas=intent.gas,
                to=intent.to,
                value=intent.value,
                data=intent.data,
            ).as_signed_transaction(intent.sender.key, chain_id=self.config.chain_id)
            try:
                # py-evm validates before touching state, so a rejected transaction
                # leaves nothing to undo (and apply_transaction locks earlier changes,
                # which makes a snapshot taken here unusable anyway)
                receipt, computation = vm.apply_transaction(prev, tx)
            except EvmValidationError as err:
                rejected.append((intent, f"invalid transaction: {err}"))
                continue
            prev = vm.add_receipt_to_header(prev, receipt)
            prev = vm.increment_blob_gas_used(prev, tx)
            applied.append(_Applied(intent, tx, receipt, computation, nonce))
        return applied, rejected, deferred, prev

    def _receipts(self, applied: list[_Applied], mined: Any, base_fee: int) -> tuple[Receipt, ...]:
        out = []
        cumulative = 0
        logs_before = 0  # log indices run through the whole block, as in Ethereum
        for a in applied:
            gas_used = int(a.receipt.gas_used) - cumulative
            cumulative = int(a.receipt.gas_used)
            self._burned += gas_used * base_fee
            tx_hash = TxHash("0x" + a.tx.hash.hex())
            comp = a.computation
            ok = not comp.is_error
            created = None
            if ok and a.intent.to == b"":
                created = checksum(generate_contract_address(a.intent.sender.canonical, a.nonce))
            logs = (
                (
                    bytes(log.address),
                    [int(t).to_bytes(32, "big") for t in log.topics],
                    bytes(log.data),
                )
                for log in a.receipt.logs
            )
            events = self._decode_events(logs, int(mined.number), tx_hash, logs_before)
            logs_before += len(a.receipt.logs)
            out.append(
                Receipt(
                    ticket=a.intent.ticket,
                    tx_hash=tx_hash,
                    sender=a.intent.sender.address,
                    to=checksum(a.intent.to) if a.intent.to else None,
                    value=Wei(a.intent.value),
                    block_number=int(mined.number),
                    timestamp=int(mined.header.timestamp),
                    included=True,
                    status=ok,
                    gas_used=gas_used,
                    fee=Wei(gas_used * self.config.gas_price),
                    burned=Wei(gas_used * base_fee),
                    revert_reason=None if ok else revert_reason(comp.output, comp.error),
                    return_data=bytes(comp.output),
                    contract_address=created,
                    events=events,
                    label=a.intent.label,
                )
            )
        return tuple(out)

    def _decode_events(
        self,
        logs: Iterable[tuple[bytes, Sequence[bytes], bytes]],
        number: int,
        tx_hash: TxHash,
        first_index: int,
    ) -> tuple[DecodedEvent, ...]:
        """Logs (address, 32-byte topics, data) of contracts with a registered ABI, decoded.

        Logs of other contracts, and those no event of the ABI matches, are skipped; log
        indices count every log of the block from ``first_index`` (both engines use this).
        """
        events = []
        for log_index, (address, topics, data) in enumerate(logs):
            abi = self._abis.get(address)
            if abi is None:
                continue
            decoded = abi.decode_log(list(topics), data)
            if decoded is None:
                continue
            name, args = decoded
            events.append(
                DecodedEvent(
                    name=name,
                    address=checksum(address),
                    args=args,
                    block_number=number,
                    tx_hash=tx_hash,
                    log_index=first_index + log_index,
                )
            )
        return tuple(events)

    @staticmethod
    def _rejected_receipt(intent: _Intent, why: str, number: int, timestamp: int) -> Receipt:
        """The receipt of a transaction the pool refused (never included, no gas, no fee)."""
        return Receipt(
            ticket=intent.ticket,
            tx_hash=None,
            sender=intent.sender.address,
            to=checksum(intent.to) if intent.to else None,
            value=Wei(intent.value),
            block_number=number,
            timestamp=timestamp,
            included=False,
            status=False,
            gas_used=0,
            fee=Wei(0),
            burned=Wei(0),
            revert_reason=f"rejected: {why}",
            return_data=b"",
            contract_address=None,
            events=(),
            label=intent.label,
        )

    # ------------------------------------------------------------------ scoped state

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Everything done inside the block is undone on exit (for tests).

        State, balances, blocks, the pending pool, fee and transaction counters,
        registered ABIs and the account/prevrandao RNG all return to where they were,
        also when the block raises. Snapshots nest.
        """
        saved_kv = dict(self._kv.kv_store)
        saved_rng = self._rng.bit_generator.state
        saved = (
            self._chain.header,
            list(self._pending),
            self._next_ticket,
            self._burned,
            self._tx_count,
            dict(self._abis),
        )
        try:
            yield
        finally:
            self._kv.kv_store = saved_kv
            header, pending, ticket, burned, count, abis = saved
            self._chain = self._chain_class(AtomicDB(self._kv), header)
            self._pending, self._next_ticket, self._burned = pending, ticket, burned
            self._tx_count, self._abis = count, abis
            self._rng.bit_generator.state = saved_rng
            self._view = None


register_engine("py-evm", Chain)
