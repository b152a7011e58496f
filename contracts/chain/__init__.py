"""The in-process chain: an EVM behind a small interface the simulator drives by sim time.

Only this package touches py-evm and pyrevm (and, for benchmarks, web3/eth-tester).
``Chain`` holds the pending pool and seals blocks when told, on py-evm (the default) or
revm (``ChainConfig(engine="revm")``, ``contracts.chain.revm``); ``ContractAbi`` encodes
calls and decodes events; ``Receipt`` carries each transaction's outcome.
"""

from contracts.chain.abi import ContractAbi, FunctionAbi, revert_reason
from contracts.chain.accounts import Account, account_from_key, derive_account
from contracts.chain.engine import ENGINES, Chain, ChainConfig, Engine
from contracts.chain.receipts import Block, DecodedEvent, Receipt
from contracts.chain.revm import RevmChain  # registers the revm engine (pyrevm loads lazily)

__all__ = [
    "ENGINES",
    "Account",
    "Block",
    "Chain",
    "ChainConfig",
    "ContractAbi",
    "DecodedEvent",
    "Engine",
    "FunctionAbi",
    "Receipt",
    "RevmChain",
    "account_from_key",
    "derive_account",
    "revert_reason",
]
