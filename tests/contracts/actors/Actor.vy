# pragma version 0.4.3
# pragma evm-version cancun
"""
@title Actor
@notice A hostile contract account for TaskMarket's tests (compiled by the tests, no
        committed artifact). It registers as a verifier and withdraws its credit; its
        fallback, which receives the payout, does what `mode` says:
          0 accepts the ether;
          1 re-enters withdraw() (the market's lock must make the payout revert);
          2 re-enters finalize(target) of another task (allowed: the payout's state is
            already settled, so every sum must still hold);
          3 refuses the ether (the payout reverts; the credit must stay owed).
"""

interface Market:
    def register_verifier(task_id: uint256): payable
    def submit_model(task_id: uint256, cid: String[100]): nonpayable
    def withdraw(): nonpayable
    def finalize(task_id: uint256): nonpayable

market: public(address)
mode: public(uint256)
target: public(uint256)
received: public(uint256)


@deploy
def __init__(market: address, mode: uint256):
    self.market = market
    self.mode = mode


@external
@payable
def register(task_id: uint256):
    extcall Market(self.market).register_verifier(task_id, value=msg.value)


@external
def submit(task_id: uint256, cid: String[100]):
    extcall Market(self.market).submit_model(task_id, cid)


@external
def set_mode(mode: uint256, target: uint256):
    self.mode = mode
    self.target = target


@external
def pull():
    extcall Market(self.market).withdraw()


@external
@payable
def __default__():
    assert self.mode != 3, "Actor: refusing ether"
    self.received += msg.value
    if self.mode == 1:
        extcall Market(self.market).withdraw()
    elif self.mode == 2:
        extcall Market(self.market).finalize(self.target)
