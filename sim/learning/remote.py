"""Training on another process or machine (a Dask worker), with the same results as here.

``train_remote`` is what a run submits to a ``concurrent.futures.Executor`` (a Dask client's
``get_executor()``) when its learning work runs on a cluster: it loads the data set by name
(once per worker process), trains the requests through the worker's training cache, and
returns the trained models. Training is a pure function of the request and the numeric
environment, so the worker first takes the submitting process's torch thread count and
checks that it computes the very cache keys the submitter computed (same torch version,
device type and threads): otherwise its weights could differ in the last bits and the run
would not be the one a local run gives, so it refuses (``DataError``) instead.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from sim.errors import DataError
from sim.learning.datasets import Dataset, load_dataset
from sim.learning.device import numeric_environment, resolve_device, torch_threads
from sim.learning.training import TrainedModel, TrainingCache, TrainRequest


@dataclass(frozen=True)
class RemoteBatch:
    """What a worker needs to reproduce the submitter's training of ``requests``."""

    requests: tuple[TrainRequest, ...]
    keys: tuple[str, ...]
    """Each request's key as the submitter computed it."""
    dataset: str
    data_dir: str | None
    threads: int
    """The submitter's torch CPU threads (they change the last bits of the weights)."""


def train_remote(batch: RemoteBatch) -> list[TrainedModel]:
    """Train ``batch`` here exactly as its submitter would have (see the module docstring)."""
    from sim.learning.batched import train_many

    dataset = _dataset(batch.dataset, batch.data_dir)
    with torch_threads(batch.threads):
        for request, key in zip(batch.requests, batch.keys, strict=True):
            device = resolve_device(request.training.device)
            if request.key(device) != key:
                raise DataError(
                    "a learning worker computes in another numeric environment than the run "
                    f"({numeric_environment(device)}); give workers the run's torch version "
                    "and device"
                )
        return train_many(batch.requests, dataset, TrainingCache())


@functools.lru_cache(maxsize=4)
def _dataset(name: str, data_dir: str | None) -> Dataset:
    return load_dataset(name, data_dir)


def batch_of(
    requests: Sequence[TrainRequest], dataset: str, data_dir: str | None, threads: int
) -> RemoteBatch:
    """The ``RemoteBatch`` of ``requests`` with this process's keys."""
    keys = tuple(r.key(resolve_device(r.training.device)) for r in requests)
    return RemoteBatch(tuple(requests), keys, dataset, data_dir, threads)
