"""The learning layer as one run uses it: its data, shards, training cache and features.

One ``LearningService`` per world. It loads the scenario's data set and partitions it once
(from the run's ``partition`` stream), trains contributors' models through the shared,
content-keyed training cache, loads untrusted model files safely, evaluates submissions
for verifiers with one feature cache for the whole run, and turns the work done into
simulated seconds with the scenario's timing model (never the host's clock).

The run's sample sets (the initiator's verification set, the held-out test set) are named by
a ``SampleSet`` handle: agents hand the handle around, and the service resolves it to the
samples once per run.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.rng import RngStreams

if TYPE_CHECKING:
    import torch

    from sim.learning.config import AttackName, ContributionConfig, PrivacyConfig
    from sim.learning.datasets import Dataset
    from sim.learning.evaluation import Evaluation
    from sim.learning.evaluation_cache import EvaluationCache
    from sim.learning.features import FeatureCache, LabelledData
    from sim.learning.models import Net
    from sim.learning.partition import Partition, Shard
    from sim.learning.privacy import AttackResult
    from sim.learning.safety import FlatCache
    from sim.learning.training import TrainedModel, TrainingCache, TrainRequest
    from sim.scenario import Scenario

BYTES_PER_SAMPLE = 28 * 28 + 1
"""An MNIST-like sample as handed over: 784 pixel bytes and a label byte."""


@dataclass(frozen=True)
class SampleSet:
    """One of the run's named sample sets, as agents refer to it (not the samples)."""

    name: str
    """``verification`` (the initiator's set, handed to the committee) or ``test``."""
    samples: int

    @property
    def nbytes(self) -> int:
        """What handing the set over moves (an MNIST-like sample is 785 bytes)."""
        return self.samples * BYTES_PER_SAMPLE


@dataclass(frozen=True)
class AccessOutcome:
    """What the initiator obtained after payment: the fused model's held-out accuracy."""

    accuracy: float
    models_used: int
    reference_seconds: float


class LearningService:
    """Data, training, safe loading and evaluation for one run."""

    def __init__(self, scenario: Scenario, streams: RngStreams):
        self.scenario = scenario
        self._streams = streams
        self._dataset: Dataset | None = None
        self._partition: Partition | None = None
        self._cache: TrainingCache | None = None
        self._features: FeatureCache | None = None
        self._evaluations: EvaluationCache | None = None
        self._loaded: OrderedDict[str, Net] = OrderedDict()
        self._flat: FlatCache | None = None
        self._data: dict[str, LabelledData] = {}
        self._executor: Executor | None = None
        self._trained: dict[str, TrainedModel] = {}
        """Models trained in batches or on a cluster and not yet asked for, by request key
        (one-at-a-time local training reads the on-disk cache instead, as it always has)."""
        self._stored: dict[str, str] = {}
        """Request key -> cache key of each such model once handed out (a second ask reads
        the cache: a run does not hold every model's bytes)."""
        self._pending: dict[str, TrainRequest] = {}
        """Announced batched trainings not yet done (they join the next batch)."""
        self._futures: dict[str, Future[list[TrainedModel]]] = {}
        self._evaluating: dict[str, Future[Evaluation]] = {}
        """Evaluations submitted to the attached cluster and not yet asked for, by key."""

    # ---------------------------------------------------------------- data

    @property
    def dataset(self) -> Dataset:
        if self._dataset is None:
            from sim.learning.datasets import load_dataset

            d = self.scenario.data
            self._dataset = load_dataset(d.dataset, d.data_dir)
        return self._dataset

    @property
    def partition(self) -> Partition:
        if self._partition is None:
            from sim.learning.partition import partition

            self._partition = partition(
                self.dataset,
                self.scenario.population.contributors,
                self.scenario.data,
                self._streams.numpy("partition"),
            )
        return self._partition

    def shard_of(self, contributor: int) -> Shard:
        """Contributor ``contributor``'s private shard.

        Contributors beyond the partition's shards (late joiners) reuse shards in turn.
        """
        shards = self.partition.shards
        return shards[contributor % len(shards)]

    def verification_set(self) -> SampleSet:
        """The initiator's verification set (what it hands the committee)."""
        return SampleSet("verification", len(self.partition.verification))

    def labelled(self, name: str) -> LabelledData:
        """The samples of the sample set ``name`` ('verification', 'test'), loaded once."""
        from sim.learning.features import LabelledData

        if name not in self._data:
            indices = {"verification": self.partition.verification, "test": self.partition.test}
            if name not in indices:
                raise ValueError(f"sample set: expected 'verification' or 'test', got {name!r}")
            self._data[name] = LabelledData.from_indices(self.dataset, indices[name])
        return self._data[name]

    # ---------------------------------------------------------------- training

    def train(
        self,
        contributor: int,
        seed: int,
        *,
        label_flip_rate: float = 0.0,
        epochs: int | None = None,
        privacy: PrivacyConfig | None = None,
    ) -> TrainedModel:
        """Train (or fetch from the cache) contributor ``contributor``'s model on its shard;
        ``privacy`` replaces the scenario's ``training.privacy`` (a private contributor).

        One at a time and here by default. With ``training.batched``, the first call that
        needs a model trains it together with every training announced (``expect``) and not
        yet done; with a cluster attached (``attach``), the result of a training submitted
        when it was announced is awaited (anything else is trained here: the same result).
        """
        from sim.learning.training import train

        request = self._request(contributor, seed, label_flip_rate, epochs, privacy)
        cache = self._training_cache()
        if self._executor is None and not request.batched:
            return train(request, self.dataset, cache)
        key = request.key()
        if key in self._stored and (hit := cache.read(self._stored[key])) is not None:
            return hit  # handed out before (another task of the same contributor)
        if key not in self._trained:
            if request.batched:
                self._pending.pop(key, None)
                batch = [request, *self._pending.values()]
                self._pending.clear()
                results = self._train_now(batch)
                self._trained.update(zip((r.key() for r in batch), results, strict=True))
            elif (future := self._futures.pop(key, None)) is not None:
                self._trained[key] = future.result()[0]
            else:
                # not announced (a free rider's untrained weights): no earlier start to gain
                self._trained[key] = train(request, self.dataset, cache)
        result = self._trained.pop(key)
        if self._executor is not None and not cache.has(result.key):
            cache.put(result)  # trained on another machine: kept here for a second ask
        self._stored[key] = result.key
        return result

    def expect(
        self,
        contributor: int,
        seed: int,
        *,
        label_flip_rate: float = 0.0,
        epochs: int | None = None,
    ) -> None:
        """A contributor joining a task will ask for this training: start it where that helps.

        Nothing happens by default (the training is done when asked for, as always). With
        ``training.batched`` the request waits for the batch of the next training asked for;
        with a cluster attached it is submitted now. Either way the result is what ``train``
        would give, so when it is announced never changes a simulated outcome.
        """
        if self._executor is None and not self.scenario.training.batched:
            return
        request = self._request(contributor, seed, label_flip_rate, epochs)
        key = request.key()
        known = (self._stored, self._trained, self._pending, self._futures)
        if any(key in table for table in known):
            return
        if request.batched:
            self._pending[key] = request
        elif self._executor is not None:
            self._futures[key] = self._submit([request])

    def attach(self, executor: Executor) -> None:
        """Run this run's training and announced evaluations on ``executor`` (a Dask
        client's ``get_executor()``)."""
        self._executor = executor

    @property
    def remote(self) -> bool:
        """Whether a cluster is attached (announcing work ahead of need pays only then)."""
        return self._executor is not None

    def _request(
        self,
        contributor: int,
        seed: int,
        label_flip_rate: float,
        epochs: int | None,
        privacy: PrivacyConfig | None = None,
    ) -> TrainRequest:
        from sim.learning.training import TrainRequest

        training = self.scenario.training
        if epochs is not None:
            training = dataclasses.replace(training, epochs=epochs)
        if privacy is not None:
            training = dataclasses.replace(training, privacy=privacy)
        shard = self.shard_of(contributor)
        return TrainRequest.for_shard(
            self.dataset, shard, self.scenario.model, training, seed, label_flip_rate
        )

    def _training_cache(self) -> TrainingCache:
        from sim.learning.training import TrainingCache

        if self._cache is None:
            self._cache = TrainingCache()
        return self._cache

    def _train_now(self, requests: list[TrainRequest]) -> list[TrainedModel]:
        """Train ``requests`` together, here or on the attached cluster, and wait."""
        from sim.learning.batched import train_many

        if self._executor is not None:
            return self._submit(requests).result()
        return train_many(requests, self.dataset, self._training_cache())

    def _submit(self, requests: list[TrainRequest]) -> Future[list[TrainedModel]]:
        import torch

        from sim.learning.remote import batch_of, train_remote

        if self._executor is None:
            raise RuntimeError("no cluster attached")  # pragma: no cover - callers check
        d = self.scenario.data
        batch = batch_of(requests, d.dataset, d.data_dir, torch.get_num_threads())
        return self._executor.submit(train_remote, batch)

    # ---------------------------------------------------------------- privacy audits

    def reference_models(self, count: int, size: int, seed: int) -> list[Net]:
        """``count`` reference models for the offline LiRA, each trained (non-privately, with
        the scenario's architecture and training) on ``size`` samples drawn from the
        verification set — data no contributor trained on and no test sample."""
        from sim.learning.training import TrainRequest, train

        pool = self.partition.verification
        training = dataclasses.replace(self.scenario.training, privacy=None)
        rng = np.random.default_rng(seed)
        held = max(1, size // 5)  # its own validation part, as a contributor keeps one
        models = []
        for i in range(count):
            chosen = rng.choice(pool, size=size, replace=False)
            request = TrainRequest(
                self.dataset.fingerprint, np.sort(chosen[held:]), np.sort(chosen[:held]),
                self.scenario.model, training, seed + i,
            )  # fmt: skip
            models.append(self.load(train(request, self.dataset, self._training_cache()).weights))
        return models

    def membership_audit(
        self,
        target: torch.nn.Module,
        members: np.ndarray,
        attacks: tuple[AttackName, ...],
        references: list[Net],
        candidates: int,
    ) -> list[AttackResult]:
        """Each attack against ``target``: the sample indices ``members`` (at most
        ``candidates``, in their order) against as many held-out test samples."""
        from sim.learning.features import LabelledData
        from sim.learning.privacy import lira_offline, loss_attack

        n = min(len(members), len(self.partition.test), candidates)
        ins = LabelledData.from_indices(self.dataset, members[:n])
        outs = LabelledData.from_indices(self.dataset, self.partition.test[:n])
        target = target.cpu().eval()
        results = []
        for attack in attacks:
            if attack == "loss":
                results.append(loss_attack(target, (ins.x, ins.y), (outs.x, outs.y)))
            else:
                refs = [r.cpu().eval() for r in references]
                results.append(lira_offline(target, refs, (ins.x, ins.y), (outs.x, outs.y)))
        return results

    def fused_model(self, blobs: list[bytes], seed: int) -> torch.nn.Module | None:
        """The model the initiator builds from ``blobs`` with ``seed`` (``initiator_model``'s
        fusion: its head, on the same verification rows), as one network; None if no file
        loads."""
        from sim.errors import ModelRejected
        from sim.learning.privacy import fuse

        models = []
        for data in blobs:
            try:
                models.append(self.load(data))
            except ModelRejected:
                continue
        if not models:
            return None
        return fuse(models, self.labelled("verification"), self.scenario.fusion, seed)

    def train_seconds(self, samples_processed: int) -> float:
        return samples_processed * self.scenario.timing.train_s_per_sample

    # ---------------------------------------------------------------- model files

    def load(self, data: bytes) -> Net:
        """A frozen model from untrusted bytes; ModelRejected names the failed check."""
        from sim.learning.safety import content_hash, load_model

        key = content_hash(data)
        if key in self._loaded:
            self._loaded.move_to_end(key)
            return self._loaded[key]
        model = load_model(data, self.scenario.model, self.dataset.n_classes)
        self._loaded[key] = model
        while len(self._loaded) > 256:
            self._loaded.popitem(last=False)
        return model

    def near_duplicates(self, models: list[Net]) -> list[int | None]:
        """For each model in order, the index of the first earlier kept model it is a
        (possibly perturbed) copy of, else None (``sim.learning.safety.first_duplicates``);
        each model's weights are flattened once per run (``FlatCache``)."""
        from sim.learning.safety import FlatCache, first_duplicates

        if self._flat is None:
            self._flat = FlatCache()
        return first_duplicates([self._flat.vector(m) for m in models])

    def similarity_seconds(self, comparisons: int) -> float:
        """Reference seconds of comparing one model's weights with ``comparisons`` others."""
        return comparisons * self.scenario.timing.infer_s_per_sample

    def perturb(self, data: bytes, scale: float, rng: np.random.Generator) -> bytes:
        from sim.learning.safety import perturb

        return perturb(data, scale, rng)

    # ---------------------------------------------------------------- evaluation

    def evaluate(
        self,
        models: list[Net],
        data: SampleSet,
        seed: int,
        *,
        with_test: bool = False,
        contribution: ContributionConfig | None = None,
    ) -> Evaluation:
        """Fuse and score ``models`` on the sample set ``data`` (the verification set).

        Identical evaluations (same model files, data, settings, seed and numeric
        environment) are read from the content-keyed evaluation cache; one announced to a
        cluster (``expect_evaluation``) is awaited.
        """
        from sim.learning.evaluation import evaluate_submissions

        features, evaluations = self._caches()
        verification = self.labelled(data.name)
        test = self.labelled("test") if with_test else None
        method = contribution or self.scenario.contribution
        key = self._evaluation_key(models, data, seed, with_test, method)
        future = self._evaluating.pop(key, None)
        if future is not None:
            return evaluations.get_or_compute(key, future.result)
        return evaluations.get_or_compute(
            key,
            lambda: evaluate_submissions(
                models,
                verification,
                self.scenario.fusion,
                method,
                seed,
                test=test,
                features=features,
            ),
        )

    def expect_evaluation(
        self,
        files: list[bytes],
        data: SampleSet,
        seed: int,
        *,
        with_test: bool = False,
        contribution: ContributionConfig | None = None,
    ) -> None:
        """An evaluation of the model ``files`` that ``evaluate`` will be asked for: with a
        cluster attached, submit it now (unless it is cached or already submitted), so that
        it runs while the simulation goes on; nothing happens otherwise. ``evaluate`` gives
        the same result either way, so announcing never changes a simulated outcome."""
        if self._executor is None:
            return
        import torch

        from sim.learning.remote import EvaluationJob, evaluate_remote

        models = [self.load(f) for f in files]
        method = contribution or self.scenario.contribution
        key = self._evaluation_key(models, data, seed, with_test, method)
        if key in self._evaluating or self._caches()[1].has(key):
            return
        d = self.scenario.data
        indices = {"verification": self.partition.verification, "test": self.partition.test}
        job = EvaluationJob(
            files=tuple(files),
            model=self.scenario.model,
            verification=indices[data.name],
            test=indices["test"] if with_test else None,
            fusion=self.scenario.fusion,
            contribution=method,
            seed=seed,
            key=key,
            dataset=d.dataset,
            data_dir=d.data_dir,
            threads=torch.get_num_threads(),
        )
        self._evaluating[key] = self._executor.submit(evaluate_remote, job)

    def _evaluation_key(
        self,
        models: list[Net],
        data: SampleSet,
        seed: int,
        with_test: bool,
        method: ContributionConfig,
    ) -> str:
        from sim.learning.evaluation_cache import evaluation_key

        verification = self.labelled(data.name)
        test = self.labelled("test") if with_test else None
        return evaluation_key(models, verification, self.scenario.fusion, method, seed, test)

    def _caches(self) -> tuple[FeatureCache, EvaluationCache]:
        """This run's feature cache and the shared on-disk evaluation cache."""
        from sim.learning.evaluation_cache import EvaluationCache
        from sim.learning.features import FeatureCache

        if self._features is None or self._evaluations is None:
            self._features, self._evaluations = FeatureCache(), EvaluationCache()
        return self._features, self._evaluations

    def evaluation_seconds(self, evaluation: Evaluation) -> float:
        """Reference-machine seconds of the work an evaluation did."""
        t = self.scenario.timing
        return (
            evaluation.forward_samples * t.infer_s_per_sample
            + evaluation.head_samples * t.head_s_per_sample
        )

    def initiator_model(self, blobs: list[bytes], seed: int) -> AccessOutcome:
        """Fuse the paid models on the verification data; their accuracy on held-out data."""
        from sim.errors import ModelRejected

        models = []
        for data in blobs:
            try:
                models.append(self.load(data))
            except ModelRejected:
                continue
        if not models:
            return AccessOutcome(math.nan, 0, 0.0)
        fused_only = dataclasses.replace(self.scenario.contribution, method="individual")
        ev = self.evaluate(
            models, self.verification_set(), seed, with_test=True, contribution=fused_only
        )
        accuracy = ev.test.fused_accuracy if ev.test is not None else math.nan
        return AccessOutcome(accuracy, len(models), self.evaluation_seconds(ev))
