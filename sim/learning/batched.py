"""Training many contributors' models as one stacked computation (``training.batched``).

Contributors of one run train the same architecture with the same hyper-parameters, each on
its own shard from its own seed. ``train_many`` trains such requests together: their
parameters are stacked along a leading model axis (``torch.func.stack_module_state``
layout), one ``torch.func.vmap`` of ``functional_call`` computes every model's minibatch
loss at once, and one optimiser steps the stacked tensors (Adam and SGD are elementwise, so
each model's slice is updated as its own optimiser would update it). Per model, everything
random is what one-at-a-time training draws (``training.fit``): the seeded initial weights,
the label flips, and each epoch's permutation from the model's own ``torch.Generator``; the
losses are summed, so each model's gradient is its own. Only the float arithmetic differs
(batched kernels round differently), so a batched model is keyed apart
(``TrainRequest.batched``, ``BATCHED_VERSION``) and never aliases a one-at-a-time one.

Models are stacked only with requests of the same architecture, hyper-parameters, device and
training-set size, so no shard is padded and every model takes the same steps. An MLP's
weights on CPU do not depend on which other models share its batch (checked bitwise by
``tests/learning/test_batched.py``), so its cache entry is the one any batch would have
produced. A CNN's do (vmap makes its convolutions one grouped convolution, which rounds by
the number of groups), so a batched CNN is cached under its own key and its batch-mates'
(``chunk_keys``): deterministic given the batch, which the run forms deterministically.
At most ``MAX_BATCH`` models are stacked at a time (memory).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Sequence

import torch
from torch.func import functional_call, vmap
from torch.nn import functional

from sim.errors import DataError
from sim.learning.datasets import Dataset
from sim.learning.device import resolve_device
from sim.learning.models import Net, build_model, empty_model
from sim.learning.optimisers import make_optimiser
from sim.learning.safety import to_bytes
from sim.learning.training import (
    TrainedModel,
    TrainingCache,
    TrainRequest,
    _seeds,
    accuracy,
    gather,
    train,
)

MAX_BATCH = 64
"""Most models stacked in one computation (the activations of all of them are held at once)."""

GroupKey = tuple[object, ...]


def train_many(
    requests: Sequence[TrainRequest], dataset: Dataset, cache: TrainingCache | None = None
) -> list[TrainedModel]:
    """Train (or fetch from ``cache``) every request, in order; batched ones stacked.

    Requests that are not batched (``training.batched`` off, or no epochs) go one at a time
    through ``training.train``; identical requests are trained once. Batched requests are
    grouped (same architecture, hyper-parameters, device, shard size), sorted by key and cut
    into chunks of at most ``MAX_BATCH``: which models share a chunk is a function of the
    set of requests only, never of their order.
    """
    for request in requests:
        if request.dataset != dataset.fingerprint:
            raise DataError(
                f"training request names data set {request.dataset[:12]}…, "
                f"got {dataset.name} ({dataset.fingerprint[:12]}…)"
            )
    keys = [r.key(resolve_device(r.training.device)) for r in requests]
    done: dict[str, TrainedModel] = {}
    groups: dict[GroupKey, dict[str, TrainRequest]] = {}
    for request, key in zip(requests, keys, strict=True):
        if not request.batched:
            if key not in done:
                done[key] = train(request, dataset, cache)
        else:
            groups.setdefault(_group_of(request), {})[key] = request
    for group in groups.values():
        members = sorted(group.items())
        for start in range(0, len(members), MAX_BATCH):
            done.update(_train_chunk(dict(members[start : start + MAX_BATCH]), dataset, cache))
    return [done[key] for key in keys]


def batch_invariant(request: TrainRequest) -> bool:
    """Whether a batched model's weights are the same whatever else shares its batch.

    True for MLPs on CPU: every stacked kernel (batched matmul, elementwise optimiser steps,
    per-model reductions) treats each model's slice alone. Convolutions are not: vmap turns
    them into one grouped convolution whose rounding depends on the number of groups, so a
    CNN's batched weights are keyed by the whole chunk as well (``chunk_keys``).
    """
    device = resolve_device(request.training.device)
    return request.model.architecture == "mlp" and device.type == "cpu"


def chunk_keys(chunk: dict[str, TrainRequest]) -> dict[str, str]:
    """Each member's cache key: its own key when batch-invariant, else its own key together
    with every member's key (the weights depend on the chunk)."""
    together = hashlib.sha256("\n".join(sorted(chunk)).encode()).hexdigest()
    return {
        key: key
        if batch_invariant(request)
        else hashlib.sha256(f"{key}:{together}".encode()).hexdigest()
        for key, request in chunk.items()
    }


def _group_of(request: TrainRequest) -> GroupKey:
    """Requests that can share one stacked computation have the same group."""
    device = resolve_device(request.training.device)
    return (request.model, request.training, len(request.train_indices), device.type)


def _train_chunk(
    chunk: dict[str, TrainRequest], dataset: Dataset, cache: TrainingCache | None
) -> dict[str, TrainedModel]:
    """The chunk's models by request key: cached, or trained together while every entry's
    lock is held (claimed in sorted order, so overlapping chunks cannot deadlock)."""
    stored = chunk_keys(chunk)
    invariant = all(batch_invariant(r) for r in chunk.values())
    with contextlib.ExitStack() as locks:
        done: dict[str, TrainedModel] = {}
        if cache is not None:
            done = _cached(chunk, stored, cache)
            if len(done) < len(chunk):
                for key in sorted(stored.values()):
                    locks.enter_context(cache.claim(key))
                # another process may have trained some while this one waited for the locks
                done = _cached(chunk, stored, cache)
        if not invariant and len(done) < len(chunk):
            done = {}  # a chunk-keyed model is only what the whole chunk produces
        if cache is not None:
            cache.hits += len(done)
        missing = {key: r for key, r in chunk.items() if key not in done}
        if missing:
            device = resolve_device(next(iter(missing.values())).training.device)
            models, processed = fit_batched(list(missing.values()), dataset, device)
            for (key, request), model in zip(missing.items(), models, strict=True):
                x_val, y_val = gather(dataset, request.validation_indices, device)
                weights, score = to_bytes(model), accuracy(model, x_val, y_val)
                result = TrainedModel(weights, score, processed, stored[key])
                if cache is not None:
                    cache.misses += 1
                    cache.put(result)
                done[key] = result
        return done


def _cached(
    chunk: dict[str, TrainRequest], stored: dict[str, str], cache: TrainingCache
) -> dict[str, TrainedModel]:
    found = {key: cache.read(stored[key]) for key in chunk}
    return {key: hit for key, hit in found.items() if hit is not None}


def fit_batched(
    requests: Sequence[TrainRequest], dataset: Dataset, device: torch.device
) -> tuple[list[Net], int]:
    """The trained networks, in order, and the samples each processed (train size × epochs).

    Every request must have the same architecture, hyper-parameters and training-set size
    (``train_many`` groups them so).
    """
    first = requests[0]
    if any(_group_of(r) != _group_of(first) for r in requests):
        raise ValueError("fit_batched: requests differ in model, training or shard size")
    config = first.training
    n_classes = dataset.n_classes
    seeds = [_seeds(r.seed) for r in requests]
    models = [
        build_model(r.model, n_classes, seed=init, device=device)
        for r, (init, _) in zip(requests, seeds, strict=True)
    ]
    generators = [torch.Generator().manual_seed(s[1]) for s in seeds]
    xs, ys = [], []
    for request, generator in zip(requests, generators, strict=True):
        x, y = gather(dataset, request.train_indices, device)
        if request.label_flip_rate > 0:
            # the same draw, from the same stream, as one-at-a-time training
            flipped = torch.rand(len(y), generator=generator) < request.label_flip_rate
            y = torch.where(flipped.to(device), n_classes - 1 - y, y)
        xs.append(x)
        ys.append(y)
    x_all, y_all = torch.stack(xs), torch.stack(ys)
    params = {
        name: torch.stack([m.get_parameter(name).detach() for m in models]).requires_grad_()
        for name, _ in models[0].named_parameters()
    }
    forward = _stacked_logits(empty_model(first.model, n_classes))
    optimiser = make_optimiser(params.values(), config)
    n = len(first.train_indices)
    rows = torch.arange(len(requests), device=device)[:, None]
    for _ in range(config.epochs):
        order = torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)
        for start in range(0, n, config.batch_size):
            batch = order[:, start : start + config.batch_size]
            # each model's loss depends on its own slice only: the sum's gradient is each one's
            total = _summed_loss(forward(params, x_all[rows, batch]), y_all[rows, batch])
            optimiser.zero_grad(set_to_none=True)
            total.backward()
            optimiser.step()
    with torch.no_grad():
        for i, model in enumerate(models):
            for name, p in model.named_parameters():
                p.copy_(params[name][i])
            model.eval()
    return models, n * config.epochs


def _stacked_logits(
    skeleton: Net,
) -> Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor]:
    """Logits [K, B, C] of stacked parameters on stacked minibatches [K, B, …]."""

    def logits(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = functional_call(skeleton, p, (x,))
        return out

    stacked: Callable[[dict[str, torch.Tensor], torch.Tensor], torch.Tensor] = vmap(logits)
    return stacked


def _summed_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The sum over models of each one's mean cross-entropy (each model's gradient is its
    own). Outside vmap: there cross-entropy would run PyTorch's Python decomposition of
    nll_loss, slower per step and importing SymPy (~2 CPU s a process); the gradients are
    the same numbers (-1/B at each target, through the same log-softmax)."""
    flat = functional.cross_entropy(
        logits.reshape(-1, logits.shape[2]), y.reshape(-1), reduction="sum"
    )
    return flat / y.shape[1]
