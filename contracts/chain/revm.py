"""The revm engine: the same ``Chain`` with transactions executed by revm (``pyrevm``).

Opt-in (``ChainConfig(engine="revm")``, scenario key ``chain.engine``); py-evm stays the
default. ``Chain(config, ...)`` returns a ``RevmChain`` when the config asks for revm, and
everything outside this module sees the ``Chain`` interface only: the pending pool, packing,
rejection rules, receipts, fees, the base fee and snapshots behave as py-evm's, and the tests
(``tests/chain/test_revm.py``, ``tests/scenario/test_engines.py``) compare the two receipt
for receipt and event table for event table.

pyrevm 0.3.7 (revm 8) is a thin binding meant for calls against a fork, not a block
builder, and three of its behaviours would silently give different results than py-evm.
Each is handled here where it matters:

1. revm 8 has no Prague spec. Both engines run Cancun (``spec_id="CANCUN"`` here,
   ``CancunVM`` in py-evm, ``# pragma evm-version cancun`` in the contract).
2. One long-lived ``EVM`` never finalises revm's journal between calls: every account and
   slot touched once stays *warm* (EIP-2929 cold surcharges vanish) and SSTORE's *original*
   value stays the one first loaded (EIP-2200 pricing goes wrong). Each transaction is
   therefore isolated: execute above a checkpoint, read the post-state (touched accounts
   and written slots), revert to the checkpoint (the journal is empty again, so the next
   transaction starts cold), and write the post-state into revm's database underneath the
   journal. ``_clean`` does the revert; reads that load accounts (views) are followed by it.
3. ``message_call`` neither debits fees nor bumps the nonce, and runs with BASEFEE and
   GASPRICE 0. Fees and nonces are applied here as py-evm applies them: the sender pays
   gas limit x price up front (so BALANCE sees what py-evm shows), gets the unused gas
   back, the coinbase earns gas used x (price - base fee) and gas used x base fee is burned;
   the nonce is bumped before execution for calls, and by revm's CREATE for deployments.
   The BASEFEE and GASPRICE opcodes read 0 under revm (TaskMarket reads neither).

Python keeps a mirror of every account and written slot: reads (balance, nonce, code) come
from it without touching revm's journal, and ``snapshot`` copies it and rebuilds the EVM
from it on exit. Transactions are built and signed with py-evm's own transaction classes
(the same signatures, hashes and intrinsic-gas validation as the py-evm engine); py-evm's
state machinery is not used.

Differences that remain (none reached by the shipped scenarios): block hashes are this
module's own (no state root is computed), and revm's BLOCKHASH opcode returns keccak of the
block number's decimal text (pyrevm cannot set block hashes), so the scenario loader refuses
``future_seed`` tasks on revm; a halt other than out-of-gas is reported with revm's halt
reason instead of py-evm's exception name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from eth_hash.auto import keccak
from eth_utils import to_canonical_address

from contracts.chain.abi import revert_reason
from contracts.chain.accounts import checksum
from contracts.chain.engine import Chain, ChainConfig, Touched, _Intent, register_engine
from contracts.chain.receipts import Block, DecodedEvent, Receipt
from contracts.errors import ChainError, TxFailed
from contracts.units import Address, TxHash, Wei

_ZERO32 = b"\x00" * 32
_ZERO_ADDRESS = "0x" + "00" * 20
_KECCAK_EMPTY = keccak(b"")
# Written slots are listed in revm's journal as StorageChange entries; pyrevm exposes the
# journal only as its Debug text.
_STORAGE_CHANGE = re.compile(r"StorageChange \{ address: (0x[0-9a-fA-F]{40}), key: (\d+)")
# pyrevm raises a failed execution as the Debug text of revm's ExecutionResult.
_REVERT_OUTPUT = re.compile(r"^Revert \{ gas_used: \d+, output: 0x([0-9a-f]*) \}$")
_HALT = re.compile(r"^Halt \{ reason: (.*), gas_used: \d+ \}$")
# EIP-1559 (py-evm's London rules, unchanged since)
_ELASTICITY = 2
_BASE_FEE_DENOMINATOR = 8


def next_base_fee(base_fee: int, gas_used: int, gas_limit: int) -> int:
    """The base fee of a block whose parent had ``base_fee`` and used ``gas_used`` gas
    (py-evm's ``calculate_expected_base_fee_per_gas``)."""
    target = gas_limit // _ELASTICITY
    if gas_used == target:
        return base_fee
    if gas_used > target:
        return base_fee + max(base_fee * (gas_used - target) // target // _BASE_FEE_DENOMINATOR, 1)
    return max(base_fee - base_fee * (target - gas_used) // target // _BASE_FEE_DENOMINATOR, 0)


def _hex(canonical: bytes) -> str:
    return "0x" + canonical.hex()


@dataclass
class _Account:
    balance: int = 0
    nonce: int = 0
    code_hash: bytes = _KECCAK_EMPTY


def _info(acc: _Account, code: bytes | None) -> Any:
    """revm's AccountInfo (its stub leaves out the balance its constructor takes first)."""
    import pyrevm

    info: Any = pyrevm.AccountInfo
    return info(acc.balance, acc.nonce, acc.code_hash, code)


def _unpadded(code: bytes, code_hash: bytes) -> bytes:
    """The deployed code itself: revm analyses new code and pads it with zero bytes (33 in
    revm 8), and pyrevm hands out the padded bytes; the code hash names the original."""
    for end in range(len(code), max(len(code) - 64, 0) - 1, -1):
        if keccak(code[:end]) == code_hash:
            return code[:end]
    raise ChainError(f"revm: deployed code does not match its hash 0x{code_hash.hex()}")


@dataclass(frozen=True)
class _Head:
    number: int
    timestamp: int
    base_fee: int
    gas_used: int
    hash: bytes


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    gas_used: int
    output: bytes
    reason: str | None
    logs: tuple[tuple[bytes, tuple[bytes, ...], bytes], ...]
    created: str | None


class RevmChain(Chain):
    """``Chain`` on revm; construct it through ``Chain(ChainConfig(engine="revm"), ...)``."""

    def __init__(
        self,
        config: ChainConfig,
        rng: np.random.Generator,
        genesis_balances: Sequence[Wei] = (),
    ):
        from eth.vm.forks.cancun import CancunVM

        alloc = self._genesis(config, rng, genesis_balances)
        self._vm_class = CancunVM  # building and signing transactions, intrinsic gas only
        self._accounts: dict[str, _Account] = {_hex(a): _Account(b) for a, b in alloc.items()}
        self._codes: dict[bytes, bytes] = {}
        self._storage: dict[tuple[str, int], int] = {}
        self._coinbase_hex = self.coinbase.lower()
        # every account write, in order (``touched``); a snapshot's end restarts the log
        self._touched: list[str] = []
        self._generation = 0
        self._head = _Head(
            0, config.genesis_timestamp, int(config.initial_base_fee), 0, keccak(b"genesis")
        )
        self._rebuild()

    # ------------------------------------------------------------------ revm state

    def _rebuild(self) -> None:
        """A fresh EVM holding the mirrored state (at start and when a snapshot ends)."""
        from pyrevm import EVM, CfgEnv, Env

        # gas_limit is what GASLIMIT reads (pyrevm puts it in the block of every call);
        # CHAINID is revm's default 1 unless the config says otherwise
        self._evm = EVM(
            env=Env(cfg=CfgEnv(chain_id=self.config.chain_id)),
            spec_id="CANCUN",
            gas_limit=self.config.block_gas_limit,
        )
        # Every load happens above this checkpoint, so reverting to it empties the journal.
        self._base = self._evm.snapshot()
        for (address, slot), value in self._storage.items():
            self._store(address, slot, value)
        for address, acc in self._accounts.items():
            code = self._codes.get(acc.code_hash)
            self._evm.insert_account_info(address, _info(acc, code))

    def _store(self, address: str, slot: int, value: int) -> None:
        """Write a slot into revm's database (not the journal, where it would be warm).

        pyrevm writes to the database only while the account is out of the journal, and
        then loads the account into the journal: clean after each write.
        """
        self._evm.insert_account_storage(address, slot, value)
        self._clean()

    def _clean(self) -> None:
        """Empty revm's journal: every account and slot is cold again, originals current."""
        self._evm.revert(self._base)
        self._base = self._evm.snapshot()

    def _block_env(self, number: int, timestamp: int, mix: bytes, coinbase: str) -> None:
        from pyrevm import BlockEnv

        self._evm.set_block_env(
            BlockEnv(
                number=number,
                coinbase=coinbase,
                timestamp=timestamp,
                difficulty=0,
                prevrandao=mix,
                basefee=0,  # pyrevm forces 0 for message calls anyway
                gas_limit=self.config.block_gas_limit,
                excess_blob_gas=0,
            )
        )

    def _account(self, address: str) -> _Account:
        return self._accounts.get(address) or _Account()

    def _put_account(self, address: str, acc: _Account, code: bytes | None = None) -> None:
        self._accounts[address] = acc
        self._touched.append(address)
        if code is not None:
            self._codes.setdefault(acc.code_hash, code)
        stored = self._codes.get(acc.code_hash) if acc.code_hash != _KECCAK_EMPTY else None
        self._evm.insert_account_info(address, _info(acc, stored))

    # ------------------------------------------------------------------ reads

    @property
    def head_number(self) -> int:
        return self._head.number

    @property
    def head_timestamp(self) -> int:
        return self._head.timestamp

    @property
    def base_fee(self) -> Wei:
        """Base fee of the next block."""
        h = self._head
        return Wei(next_base_fee(h.base_fee, h.gas_used, self.config.block_gas_limit))

    def balance(self, address: Address) -> Wei:
        return Wei(self._account(_hex(to_canonical_address(address))).balance)

    def nonce(self, address: Address) -> int:
        return self._account(_hex(to_canonical_address(address))).nonce

    def touched(self, since: Touched | None) -> tuple[Touched | None, list[bytes] | None]:
        """Accounts written since ``since`` (every account when the mark is from before a
        snapshot ended or is None): the mirror is the state, so nothing else changes."""
        mark = (self._generation, len(self._touched))
        if since is None or since[0] != self._generation:
            return mark, [bytes.fromhex(a[2:]) for a in self._accounts]
        return mark, [bytes.fromhex(a[2:]) for a in dict.fromkeys(self._touched[since[1] :])]

    def code(self, address: Address) -> bytes:
        acc = self._account(_hex(to_canonical_address(address)))
        return self._codes.get(acc.code_hash, b"")

    def call(
        self,
        to: Address,
        data: bytes,
        sender: Address | None = None,
        label: str | None = None,
        gas: int | None = None,
    ) -> bytes:
        """A read-only call in the pending block's context (as ``Chain.call``)."""
        h = self._head
        # py-evm's pending header: number and timestamp head + 1, zero mix hash and coinbase
        self._block_env(h.number + 1, h.timestamp + 1, _ZERO32, _ZERO_ADDRESS)
        origin = _hex(to_canonical_address(sender)) if sender else _ZERO_ADDRESS
        gas = self.config.block_gas_limit if gas is None else gas
        try:
            outcome = self._run(origin, _hex(to_canonical_address(to)), data, 0, gas)
        finally:
            self._clean()  # nothing a view does persists, and it leaves nothing warm
        if not outcome.ok:
            raise TxFailed(outcome.reason or "failed", call=label)
        return outcome.output

    # ------------------------------------------------------------------ execution

    def _run(self, sender: str, to: str | None, data: bytes, value: int, gas: int) -> _Outcome:
        """Execute one message on top of the journal; the caller reads or reverts it."""
        evm = self._evm
        created = None
        try:
            if to is None:
                # gas_price stays 0: revm would otherwise charge and pay fees for a deploy
                created = evm.deploy(sender, data, value=value, gas=gas).lower()
                output = b""
            else:
                output = bytes(evm.message_call(sender, to, data, value=value, gas=gas))
        except RuntimeError as err:
            return self._failure(str(err))
        result = evm.result
        if result is None:
            raise ChainError("revm: no execution result after a successful call")
        logs = tuple(
            (
                to_canonical_address(log.address),
                tuple(bytes(t) for t in log.data[0]),
                bytes(log.data[1]),
            )
            for log in result.logs
        )
        return _Outcome(True, int(result.gas_used), output, None, logs, created)

    def _failure(self, text: str) -> _Outcome:
        """A reverted or halted execution from pyrevm's error text (its only carrier of the
        revert data); anything else is a failure of the engine, not of the transaction."""
        result = self._evm.result
        revert = _REVERT_OUTPUT.match(text)
        halt = _HALT.match(text)
        if result is None or (revert is None and halt is None):
            raise ChainError(f"revm: {text}")
        if revert is not None:
            output = bytes.fromhex(revert.group(1))
            reason = revert_reason(output)
        else:
            output = b""
            why = halt.group(1) if halt is not None else ""
            # py-evm names this OutOfGas; other halts keep revm's name for the reason
            reason = "out of gas" if why.startswith("OutOfGas") else f"halted: {why}"
        return _Outcome(False, int(result.gas_used), output, reason, (), None)

    def _post_state(self) -> tuple[dict[str, Any], dict[tuple[str, int], int]]:
        """Accounts the journal holds and the slots written, as they are now."""
        infos = {a.lower(): info for a, info in self._evm.journal_state.items()}
        keys = {(a.lower(), int(k)) for a, k in _STORAGE_CHANGE.findall(self._evm.journal_str)}
        return infos, {key: int(self._evm.storage(*key)) for key in keys}

    def _transact(
        self, intent: _Intent, nonce: int, price: int, base_fee: int, intrinsic: int
    ) -> _Outcome:
        """One transaction, isolated (pitfall 2) and charged as py-evm charges (pitfall 3)."""
        sender = _hex(intent.sender.canonical)
        to = None if intent.to == b"" else _hex(intent.to)
        acc = self._account(sender)
        # py-evm charges EIP-3860's initcode words inside the execution (out of gas, all gas
        # used, nonce bumped); revm refuses such a transaction before it starts
        short = to is None and intent.gas < intrinsic + 2 * ((len(intent.data) + 31) // 32)
        # up front, as py-evm: the whole gas limit at the gas price, and the nonce for calls
        # (CREATE bumps the nonce itself, after deriving the address from the old one)
        bump = 0 if to is None and not short else 1
        self._put_account(
            sender, _Account(acc.balance - intent.gas * price, nonce + bump, acc.code_hash)
        )
        if short:
            outcome = _Outcome(False, intent.gas, b"", "out of gas", (), None)
        else:
            outcome = self._run(sender, to, intent.data, intent.value, intent.gas)
        infos, slots = self._post_state()
        self._clean()
        for (address, slot), value in slots.items():
            self._store(address, slot, value)
            self._storage[(address, slot)] = value
        infos.setdefault(sender, None)
        for address, info in infos.items():
            self._write_back(address, info)
        refund = (intent.gas - outcome.gas_used) * price
        tip = outcome.gas_used * (price - base_fee)
        for address, extra in ((sender, refund), (self._coinbase_hex, tip)):
            a = self._account(address)
            self._put_account(address, _Account(a.balance + extra, a.nonce, a.code_hash))
        return outcome

    def _write_back(self, address: str, info: Any) -> None:
        if info is None:
            return
        code_hash = bytes(info.code_hash)
        code = None
        if code_hash != _KECCAK_EMPTY and code_hash not in self._codes:
            code = _unpadded(bytes(info.code or b""), code_hash)
        self._put_account(address, _Account(int(info.balance), int(info.nonce), code_hash), code)

    # ------------------------------------------------------------------ sealing

    def seal(self, timestamp: int, prevrandao: bytes | None = None) -> Block:
        """Seal one block at ``timestamp`` holding as many pending transactions as fit."""
        if timestamp <= self.head_timestamp:
            raise ChainError(
                f"seal: timestamp {timestamp} must be after the head's {self.head_timestamp}"
            )
        mix = self._rng.bytes(32) if prevrandao is None else prevrandao
        if len(mix) != 32:
            raise ChainError("seal: prevrandao must be 32 bytes")
        number = self._head.number + 1
        base_fee = int(self.base_fee)
        self._block_env(number, timestamp, mix, self._coinbase_hex)
        receipts, deferred, gas_used, hashes = self._pack_revm(number, timestamp, base_fee)
        block_hash = keccak(
            self._head.hash
            + number.to_bytes(32, "big")
            + timestamp.to_bytes(32, "big")
            + mix
            + gas_used.to_bytes(32, "big")
            + b"".join(hashes)
        )
        self._head = _Head(number, timestamp, base_fee, gas_used, block_hash)
        self._pending = deferred
        self._tx_count += len(hashes)
        return Block(
            number=number,
            timestamp=timestamp,
            base_fee=Wei(base_fee),
            gas_used=gas_used,
            receipts=tuple(sorted(receipts, key=lambda r: r.ticket)),
            deferred=len(deferred),
            hash="0x" + block_hash.hex(),
        )

    def _pack_revm(
        self, number: int, timestamp: int, base_fee: int
    ) -> tuple[list[Receipt], list[_Intent], int, list[bytes]]:
        """Chain._pack's rules (defer, reject, include) with revm executing."""
        receipts: list[Receipt] = []
        deferred: list[_Intent] = []
        hashes: list[bytes] = []
        blocked: set[bytes] = set()
        gas_used = 0
        logs_before = 0
        price = int(self.config.gas_price)
        for intent in self._pending:
            who = intent.sender.canonical
            if who in blocked or price < base_fee or intent.gas > self._room(gas_used):
                deferred.append(intent)
                blocked.add(who)
                continue
            acc = self._account(_hex(who))
            need = intent.gas * price + intent.value
            if acc.balance < need:
                why = f"insufficient funds: need {need} wei for gas and value"
                receipts.append(self._rejected_receipt(intent, why, number, timestamp))
                continue
            tx = self._vm_class.create_unsigned_transaction(
                nonce=acc.nonce,
                gas_price=price,
                gas=intent.gas,
                to=intent.to,
                value=intent.value,
                data=intent.data,
            ).as_signed_transaction(intent.sender.key, chain_id=self.config.chain_id)
            # py-evm's tx.validate(): of its checks only the intrinsic gas can fail for a
            # transaction this pool built and signed (skipping the signature recovery
            # saves ~0.1 ms per transaction); same message as py-evm's
            if intent.gas < tx.intrinsic_gas:
                why = "invalid transaction: Insufficient gas"
                receipts.append(self._rejected_receipt(intent, why, number, timestamp))
                continue
            outcome = self._transact(intent, acc.nonce, price, base_fee, tx.intrinsic_gas)
            gas_used += outcome.gas_used
            tx_hash = TxHash("0x" + bytes(tx.hash).hex())
            hashes.append(bytes(tx.hash))
            events = self._decode_events(outcome.logs, number, tx_hash, logs_before)
            logs_before += len(outcome.logs)
            receipts.append(
                self._receipt(intent, outcome, tx_hash, number, timestamp, base_fee, events)
            )
        return receipts, deferred, gas_used, hashes

    def _room(self, gas_used: int) -> int:
        return self.config.block_gas_limit - gas_used

    def _receipt(
        self,
        intent: _Intent,
        outcome: _Outcome,
        tx_hash: TxHash,
        number: int,
        timestamp: int,
        base_fee: int,
        events: tuple[DecodedEvent, ...],
    ) -> Receipt:
        gas = outcome.gas_used
        self._burned += gas * base_fee
        created = None
        output = outcome.output
        if outcome.ok and outcome.created is not None:
            created = checksum(outcome.created)
            output = self.code(created)  # py-evm's computation output: the runtime code
        return Receipt(
            ticket=intent.ticket,
            tx_hash=tx_hash,
            sender=intent.sender.address,
            to=checksum(intent.to) if intent.to else None,
            value=Wei(intent.value),
            block_number=number,
            timestamp=timestamp,
            included=True,
            status=outcome.ok,
            gas_used=gas,
            fee=Wei(gas * self.config.gas_price),
            burned=Wei(gas * base_fee),
            revert_reason=outcome.reason,
            return_data=output,
            contract_address=created,
            events=events,
            label=intent.label,
        )

    # ------------------------------------------------------------------ scoped state

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """As ``Chain.snapshot``: everything inside is undone on exit, also on error."""
        saved_rng = self._rng.bit_generator.state
        saved = (
            {a: _Account(x.balance, x.nonce, x.code_hash) for a, x in self._accounts.items()},
            dict(self._codes),
            dict(self._storage),
            self._head,
            list(self._pending),
            self._next_ticket,
            self._burned,
            self._tx_count,
            dict(self._abis),
        )
        try:
            yield
        finally:
            (
                self._accounts,
                self._codes,
                self._storage,
                self._head,
                self._pending,
                self._next_ticket,
                self._burned,
                self._tx_count,
                self._abis,
            ) = saved
            self._rng.bit_generator.state = saved_rng
            self._touched, self._generation = [], self._generation + 1
            self._rebuild()


register_engine("revm", RevmChain)
