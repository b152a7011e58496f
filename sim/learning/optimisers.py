"""The optimisers of training and fusion: Adam and SGD exactly as ``torch.optim`` computes them.

Why not ``torch.optim`` itself: constructing any of its optimisers imports ``torch._dynamo``
(its methods are wrapped by ``torch._disable_dynamo``, which imports the compiler on first
call), and with it SymPy: ~2 CPU s in every process that trains, a tenth of a cold
1,000-contributor run. These classes do the same arithmetic with the same tensor operations
in the same order (``torch.optim``'s single-tensor Adam and SGD, and its fused Adam kernel,
``torch._fused_adam_``), so parameters match ``torch.optim``'s bit for bit (tested against
it). As in ``torch.optim``, a parameter without a gradient is skipped by a step and keeps its
own step count. Differentially private training keeps a ``torch.optim`` optimiser
(``torch_optimiser``): Opacus wraps one, and private training imports far more than this.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from sim.learning.config import TrainConfig

Widen = Callable[[torch.Tensor], torch.Tensor]
"""Maps a replaced parameter's tensors (moments, anchor) to its replacement's shape."""

BETAS = (0.9, 0.999)
EPS = 1e-8


class Adam:
    """``torch.optim.Adam(params, lr, weight_decay=…, fused=…)`` with default betas and eps.

    Unfused: ``torch.optim``'s single-tensor Adam (its choice on CPU). Fused: its fused
    kernel, one call over all parameters (small heads: per-step overhead dominates).
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        weight_decay: float = 0.0,
        fused: bool = False,
    ):
        self.params = list(params)
        if not self.params:
            raise ValueError("Adam: got an empty parameter list")
        self.lr, self.weight_decay, self.fused = lr, weight_decay, fused
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        _zero_grad(self.params, set_to_none)

    @torch.no_grad()
    def step(self) -> None:
        live = [p for p in self.params if p.grad is not None]
        for p in live:
            if p not in self.state:
                device = p.device if self.fused else None  # torch.optim's choice
                self.state[p] = {
                    "step": torch.zeros((), dtype=torch.float32, device=device),
                    "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                }  # fmt: skip
        if self.fused:
            self._fused_step(live)
        else:
            for p in live:
                self._single_step(p)

    def replace(self, old: torch.Tensor, new: torch.Tensor, widen: Widen) -> int:
        """Optimise ``new`` in place of ``old``: its moments are ``old``'s through ``widen``,
        its step count ``old``'s. Returns its index among the parameters."""
        index = next(i for i, p in enumerate(self.params) if p is old)
        self.params[index] = new
        state = self.state.pop(old, None)
        if state is not None:
            self.state[new] = {
                name: value if name == "step" else widen(value) for name, value in state.items()
            }
        return index

    def _single_step(self, param: torch.Tensor) -> None:
        # torch.optim.adam._single_tensor_adam, its non-capturable branch, operation for operation
        beta1, beta2 = BETAS
        state = self.state[param]
        grad = param.grad
        assert grad is not None
        state["step"] += 1
        if self.weight_decay != 0:
            grad = grad.add(param, alpha=self.weight_decay)
        state["exp_avg"].lerp_(grad, 1 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        step = state["step"].item()
        bias_correction1 = 1 - beta1**step
        bias_correction2 = 1 - beta2**step
        step_size = self.lr / bias_correction1
        denom = (state["exp_avg_sq"].sqrt() / bias_correction2**0.5).add_(EPS)
        param.addcdiv_(state["exp_avg"], denom, value=-step_size)

    def _fused_step(self, live: list[torch.Tensor]) -> None:
        # torch.optim.adam._fused_adam: one device and dtype here (the heads' float32 tensors)
        if not live:
            return
        states = [self.state[p] for p in live]
        grads = [p.grad for p in live if p.grad is not None]
        steps = [s["step"] for s in states]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            live,
            grads,
            [s["exp_avg"] for s in states],
            [s["exp_avg_sq"] for s in states],
            [],
            steps,
            amsgrad=False,
            lr=self.lr,
            beta1=BETAS[0],
            beta2=BETAS[1],
            weight_decay=self.weight_decay,
            eps=EPS,
            maximize=False,
            grad_scale=None,
            found_inf=None,
        )


class SGD:
    """``torch.optim.SGD(params, lr, momentum=…, weight_decay=…)``: its single-tensor step."""

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ):
        self.params = list(params)
        if not self.params:
            raise ValueError("SGD: got an empty parameter list")
        self.lr, self.momentum, self.weight_decay = lr, momentum, weight_decay
        self.buffers: dict[torch.Tensor, torch.Tensor] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        _zero_grad(self.params, set_to_none)

    @torch.no_grad()
    def step(self) -> None:
        for param in self.params:
            grad = param.grad
            if grad is None:
                continue
            if self.weight_decay != 0:
                grad = grad.add(param, alpha=self.weight_decay)
            if self.momentum != 0:
                buffer = self.buffers.get(param)
                if buffer is None:
                    buffer = self.buffers[param] = grad.detach().clone()
                else:
                    buffer.mul_(self.momentum).add_(grad, alpha=1)
                grad = buffer
            param.add_(grad, alpha=-self.lr)


Optimiser = Adam | SGD


def make_optimiser(parameters: Iterable[torch.Tensor], config: TrainConfig) -> Optimiser:
    """The configured optimiser over ``parameters`` (elementwise: stacked models' parameters
    are updated exactly as each model's own would be)."""
    if config.optimizer == "sgd":
        return SGD(parameters, config.lr, config.momentum, config.weight_decay)
    return Adam(parameters, config.lr, config.weight_decay)


def torch_optimiser(
    parameters: Iterable[torch.Tensor], config: TrainConfig
) -> torch.optim.Optimizer:
    """``make_optimiser``'s optimiser as ``torch.optim`` builds it (for Opacus to wrap)."""
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            parameters, lr=config.lr, momentum=config.momentum,
            weight_decay=config.weight_decay,
        )  # fmt: skip
    return torch.optim.Adam(parameters, lr=config.lr, weight_decay=config.weight_decay)


def _zero_grad(params: list[torch.Tensor], set_to_none: bool) -> None:
    for p in params:
        if p.grad is None:
            continue
        if set_to_none:
            p.grad = None
        else:
            p.grad.detach_().zero_()
