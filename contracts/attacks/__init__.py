"""Contracts an attacker deploys against the market, with their bindings (no part of the market).

``Grinder.vy`` (finding 3 of issue 14): draws a task's committee and reverts unless enough
of its owner's accomplices were drawn, so that its owner, calling it block after block, keeps
only a draw it likes. Its compiled artifact sits beside it (``Grinder.json``, rewritten by
``scripts/compile_contracts.py``) like the market's.
"""

from __future__ import annotations

from collections.abc import Sequence

from contracts import compile_contract
from contracts.chain import Account, Chain, ContractAbi
from contracts.errors import CallArgumentError
from contracts.units import Address, TaskId

GRINDER = "attacks/Grinder"
"""``compile_contract``'s name of the grinder."""
MAX_ACCOMPLICES = 16
"""The most accomplices one ``grind`` call checks (the contract's constant)."""
GRIND_GAS = 10_500_000
"""Gas limit of one ``grind`` call: the market's draw (10,000,000) and the membership reads."""


class Grinder:
    """A deployed ``Grinder`` on a ``Chain``."""

    def __init__(self, chain: Chain, address: Address):
        self.chain = chain
        self.address = address
        self.abi: ContractAbi = compile_contract(GRINDER).contract_abi

    @staticmethod
    def deploy(chain: Chain, owner: Account) -> int:
        """Queue the deployment from ``owner``; the receipt carries the contract's address."""
        compiled = compile_contract(GRINDER)
        return chain.send(owner, None, compiled.bytecode, gas=1_000_000, label="deploy Grinder")

    def grind(
        self,
        owner: Account,
        market: Address,
        task_id: TaskId,
        accomplices: Sequence[Address],
        need: int,
    ) -> int:
        """Queue one try: draw ``task_id``'s committee, revert unless ``need`` of
        ``accomplices`` are in it."""
        if not 0 < len(accomplices) <= MAX_ACCOMPLICES:
            raise CallArgumentError(
                f"Grinder.grind: expected 1 to {MAX_ACCOMPLICES} accomplices, "
                f"got {len(accomplices)}"
            )
        data = self.abi.encode_call("grind", [market, task_id, list(accomplices), need])
        return self.chain.send(owner, self.address, data, gas=GRIND_GAS, label="Grinder.grind")

    def owner(self) -> Address:
        out = self.chain.call(self.address, self.abi.encode_call("owner", []), label="owner")
        return Address(self.abi.function("owner").decode_output(out))
