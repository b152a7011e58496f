# pragma version 0.4.3
# pragma evm-version cancun
# pragma optimize codesize
"""
@title Grinder
@notice An attacker's helper contract (issue 14, finding 3): it draws a
        TaskMarket committee and reverts unless enough of its owner's
        accomplices (Sybil verifiers the owner registered and funded) were
        drawn. The owner calls grind() block after block: every losing draw is
        undone by the revert, so the first draw that stands is one the owner
        chose. The market's seed is keccak256(prevrandao, task id) of the block
        that includes the call, so every new block is a new try.

        With the task's future_seed switch on, the first draw_committee call
        only fixes the seed block; the draw then uses that block's hash, the
        same in every later block: retrying changes nothing, and the grinder
        wins exactly when the fixed draw favours it (the honest probability).
        The owner must send that first call from its own account (through
        grind() the request would be reverted with the losing draw).

        Not part of the market: baasim's grinder strategy deploys it the way a
        real attacker would (agents/strategies/grinder.py).
"""

interface Market:
    def draw_committee(task_id: uint256): nonpayable
    def is_member(task_id: uint256, who: address) -> bool: view

MAX_ACCOMPLICES: constant(uint256) = 16

owner: public(address)


@deploy
def __init__():
    self.owner = msg.sender


@external
def grind(market: address, task_id: uint256, accomplices: DynArray[address, MAX_ACCOMPLICES], need: uint256):
    """@notice Draw the committee of `task_id`; revert unless at least `need` of
    `accomplices` are members."""
    assert msg.sender == self.owner, "grind: only the owner"
    extcall Market(market).draw_committee(task_id)
    drawn: uint256 = 0
    for a: address in accomplices:
        if staticcall Market(market).is_member(task_id, a):
            drawn += 1
    assert drawn >= need, "grind: committee not ours"
