"""The in-process chain: py-evm behind a small interface the simulator drives by sim time.

Only this package touches py-evm (and, for benchmarks, web3/eth-tester). ``Chain`` holds
the pending pool and seals blocks when told; ``ContractAbi`` encodes calls and decodes
events; ``Receipt`` carries each transaction's outcome.
"""

from sim.chain.abi import ContractAbi, FunctionAbi, revert_reason
from sim.chain.accounts import Account, account_from_key, derive_account
from sim.chain.engine import Chain, ChainConfig
from sim.chain.receipts import Block, DecodedEvent, Receipt

__all__ = [
    "Account",
    "Block",
    "Chain",
    "ChainConfig",
    "ContractAbi",
    "DecodedEvent",
    "FunctionAbi",
    "Receipt",
    "account_from_key",
    "derive_account",
    "revert_reason",
]
