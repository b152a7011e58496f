"""The in-process chain: py-evm behind a small interface the simulator drives by sim time.

Only this package touches py-evm (and, for benchmarks, web3/eth-tester). ``Chain`` holds
the pending pool and seals blocks when told; ``ContractAbi`` encodes calls and decodes
events; ``Receipt`` carries each transaction's outcome.
"""

from contracts.chain.abi import ContractAbi, FunctionAbi, revert_reason
from contracts.chain.accounts import Account, account_from_key, derive_account
from contracts.chain.engine import Chain, ChainConfig
from contracts.chain.receipts import Block, DecodedEvent, Receipt

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
