"""Scenario files: one TOML file describes a whole experiment; it loads into a frozen ``Scenario``.

Each TOML table maps onto one frozen dataclass below (or one owned by the subsystem it
configures: ``[storage]``, ``[data]``, ``[model]``, ``[training]``, ``[fusion]``,
``[contribution]``). ``load_scenario`` validates everything at load: unknown keys, wrong types,
out-of-range values and cross-field rules stop with one ``ConfigError`` naming the file, the key
path and what was expected. ``with_overrides`` applies ``KEY.PATH=VALUE`` settings and validates
them the same way. README's "Scenario reference" is generated from these classes
(``baasim schema``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from contracts.chain import Engine
from contracts.units import ETHER, GWEI, MAX_COMMITTEE, MAX_SUBMISSIONS, PAPER_SUBMISSIONS, Wei
from sim.adaptation import AdaptationSection, check_adaptation
from sim.churn import ChurnSection, read_trace, trace_digest
from sim.config import (
    FRACTION,
    NON_NEGATIVE,
    POSITIVE,
    Checked,
    Interval,
    Items,
    build,
    coerce,
    to_table,
)
from sim.distributions import Dist
from sim.errors import ConfigError
from sim.learning.config import (
    DP_TRAINING_KEYS,
    SHAPLEY_MAX_MODELS,
    AuditConfig,
    ContributionConfig,
    DataConfig,
    FusionConfig,
    ModelConfig,
    TrainConfig,
)
from sim.storage import StorageConfig
from sim.strategies import (
    ROLES,
    Behaviours,
    check_mix,
    check_pins,
    counts,
    registry_for,
    resolve_plugins,
)

DATASET_SIZES = {"mnist": 70_000, "mnist-5k": 5_000, "fashion-mnist": 70_000, "synthetic": 2_000}
"""Samples in each data set (synthetic: its default size)."""


@dataclass(frozen=True)
class ChainSection(Checked):
    """``[chain]``: the private chain."""

    block_interval_s: Annotated[int, POSITIVE] = 12
    """Seconds between blocks; block timestamps are genesis + multiples of it."""
    gas_price_gwei: Annotated[float, POSITIVE] = 1.0
    """Price of gas every transaction pays; fees show up in balances."""
    block_gas_limit: Annotated[int, Interval(5_000_000, None)] = 30_000_000
    """Gas a block holds; transactions that do not fit wait for the next block."""
    genesis_balance_ether: Annotated[float, POSITIVE] = 100.0
    """Ether each agent's account holds at genesis."""
    chain_id: int = 1337
    """EIP-155 chain id used to sign transactions."""
    engine: Engine = "py-evm"
    """EVM that executes transactions: py-evm, or revm (pyrevm, much faster) with the same
    receipts, gas, balances and event tables; not part of the scenario hash."""

    @property
    def gas_price(self) -> Wei:
        return Wei(round(self.gas_price_gwei * GWEI))

    @property
    def genesis_balance(self) -> Wei:
        return Wei(round(self.genesis_balance_ether * ETHER))


def _latency(median: float) -> Dist:
    return Dist(kind="lognormal", median=median, sigma=0.5)


@dataclass(frozen=True)
class NetworkSection(Checked):
    """``[network]``: latency per link class, and bandwidth of the storage network.

    Each link (a pair of endpoints) gets its own base latency drawn once from its class's
    distribution; each message then varies around it by a lognormal factor (``jitter_sigma``).
    A transfer of ``b`` bytes takes ``latency + 8 b / bandwidth``, the bandwidth being the
    smaller of the two ends'.
    """

    message_latency_s: Dist = field(default_factory=lambda: _latency(0.08))
    """Agent to agent (model links, verification-data hand-off)."""
    rpc_latency_s: Dist = field(default_factory=lambda: _latency(0.05))
    """Agent to its chain node (a transaction reaching the pool, an event reaching the agent)."""
    storage_latency_s: Dist = field(default_factory=lambda: _latency(0.2))
    """Agent to the storage network (IPFS)."""
    storage_bandwidth_mbps: Annotated[float, POSITIVE] = 1000.0
    """Bandwidth of the storage network's side of every storage transfer."""
    jitter_sigma: Annotated[float, NON_NEGATIVE] = 0.2
    """Sigma of the lognormal factor by which a message's latency varies around its link's."""


@dataclass(frozen=True)
class TimingSection(Checked):
    """``[timing]``: the analytic cost model that turns work into simulated seconds.

    Times are for an agent of speed 1.0; an agent of speed s takes 1/s of it. Defaults are
    the default 3-layer CNN (``[model]``, 80k parameters) measured on a 2-core CPU: ~17,000
    training samples/s (BENCHMARKS.md, Learning).
    """

    train_s_per_sample: Annotated[float, POSITIVE] = 6.0e-5
    """One training sample for one epoch."""
    infer_s_per_sample: Annotated[float, POSITIVE] = 2.0e-5
    """One forward pass of one base model (feature extraction, evaluation)."""
    head_s_per_sample: Annotated[float, POSITIVE] = 2.0e-6
    """One fusion-head training sample for one epoch (features are precomputed)."""


Aggregation = Literal["majority", "median", "trimmed_mean"]


@dataclass(frozen=True)
class TaskSection(Checked):
    """``[[tasks]]``: a task template; ``count`` tasks are created from it over time."""

    name: str = "task"
    """Template name, recorded with each task."""
    initiator: Annotated[int, NON_NEGATIVE] = 0
    """Index of the initiator that creates these tasks."""
    start_s: Annotated[float, NON_NEGATIVE] = 0.0
    """When the first task of this template is created (simulated seconds)."""
    count: Annotated[int, POSITIVE] = 1
    """How many tasks of this template are created."""
    interarrival_s: Dist = field(default_factory=lambda: Dist.constant(3600.0))
    """Time between successive tasks of this template."""
    reward_ether: Annotated[float, POSITIVE] = 10.0
    """Reward escrowed by the initiator for each task."""
    mafr: Annotated[float, Interval(0, 1, closed="right")] = 0.8
    """Minimum acceptable fitness rate: fused accuracy a majority must report, in (0, 1]."""
    committee_size: Annotated[int, Interval(1, MAX_COMMITTEE, closed="both")] = 3
    """Verifiers drawn on chain from those registered (all of them if fewer)."""
    verifier_share: Annotated[float, FRACTION] = 0.2
    """Fraction of the reward that pays the verifiers."""
    verifier_stake_ether: Annotated[float, NON_NEGATIVE] = 0.0
    """Stake a verifier locks to register (0: no stake)."""
    slash_fraction: Annotated[float, FRACTION] = 0.0
    """Share of an absent or disagreeing member's stake it loses."""
    commit_reveal: bool = False
    """Reports as commit then reveal (no member can copy another), or plain reports."""
    aggregation: Aggregation = "majority"
    """How finalize combines reports: the paper's majority, median, or trimmed mean."""
    trim_fraction: Annotated[float, Interval(0, 0.5)] = 0.2
    """For trimmed_mean: the fraction cut from each end."""
    tolerance: Annotated[float, FRACTION] = 0.0
    """Agreement tolerance on accuracy and scores (fraction); 0 keeps the paper's side-only rule."""
    submission_window_s: Annotated[float, POSITIVE] = 3600.0
    """From creation to the submission (and registration) deadline."""
    commit_window_s: Annotated[float, POSITIVE] = 600.0
    """From the submission deadline to the commit deadline."""
    reveal_window_s: Annotated[float, POSITIVE] = 600.0
    """From the commit deadline to the reveal deadline (commit–reveal only)."""
    max_contributors: Annotated[int, Interval(1, MAX_SUBMISSIONS, closed="both")] = (
        PAPER_SUBMISSIONS
    )
    """Contributors that may join one task (the contract holds at most 64 with the paper's
    settlement, 1,024 with ``settlement = "claim"``)."""
    settlement: Literal["paper", "claim"] = "paper"
    """"paper": finalize pays every contributor in one transaction (gas grows with
    submissions × committee; at most 64 submissions). "claim": finalize is O(committee)
    and each contributor claims its own pay (``claim_pay``), so a task takes up to 1,024
    contributors; needs aggregation "majority" and tolerance 0 (README, "Capacity and claim
    settlement")."""
    participation: Annotated[float, FRACTION] = 1.0
    """Chance that an online contributor joins a task of this template (each decides alone)."""
    verifier_participation: Annotated[float, FRACTION] = 1.0
    """With ``population.offers = "sampled"``: chance that a verifier hears of a task of this
    template (and registers, as every verifier does with the default offers)."""
    evaluation_seed: Literal["committee", "own"] = "committee"
    """Seed of the verifiers' evaluation protocol: "committee" (the contract's committee-draw
    seed, so honest members compute identical reports) or "own" (each member's, so honest
    reports differ a little)."""
    # Defences against attacks on the protocol (README, "Mechanism switches"): each off
    # reproduces the paper's contract; each on closes one attack.
    report_window_s: Annotated[float, NON_NEGATIVE] = 0.0
    """> 0: members report (or commit, then reveal) within this many seconds of the committee
    draw, however late it came (closes the initiator's last-second draw); 0: off."""
    future_seed: bool = False
    """The first draw call fixes the next block and the draw uses that block's hash, so the
    caller cannot pick a block whose randomness suits it (closes committee grinding)."""
    no_cancel_after_submission: bool = False
    """The initiator cannot cancel once a model is submitted (closes peek-and-cancel)."""
    exclusive_roles: bool = False
    """A task's contributor may not register as its verifier, nor a registrant contribute
    (closes the self-verifying Sybil)."""
    min_stake_ether: Annotated[float, NON_NEGATIVE] = 0.0
    """The contract refuses a task whose verifier stake is below this (the stake a registrant
    flood must lock)."""
    burn_orphan_slashes: bool = False
    """Slashed stakes with no agreeing member to take them are burned instead of refunded to
    the initiator (closes the initiator's profit from absent members)."""
    unrevealed_slash_fraction: Annotated[float, FRACTION] = 0.0
    """> 0: share of its stake a member without a revealed report (absent, or committed and
    withheld) loses, instead of slash_fraction; above slash_fraction, revealing a dissent costs
    less than hiding it (closes the selective revealer). 0: off (absent slashed as dissent)."""
    undrawn_pays_contributors: bool = False
    """A task finalized with submissions but no committee drawn pays its whole escrow to the
    contributors in equal shares instead of refunding the initiator (closes free access: an
    initiator that takes the public models and never draws pays for them)."""
    sealed_window_s: Annotated[float, NON_NEGATIVE] = 0.0
    """> 0: sealed submissions: contributors commit a hash of their CID before the submission
    deadline and reveal the CID within this many seconds after it; the committee is drawn when
    the window closes, and the initiator records its access after payment (claim_access).
    Must be below commit_window_s. 0: off (CIDs public as they are submitted)."""
    encrypted_models: bool = False
    """Contributors upload their models encrypted (AES-256-GCM, one key per model) and hand
    the key only to the committee members, once drawn, and to the initiator after payment
    (its claim_access): fetching a CID before payment gives ciphertext (closes free access
    to the models; an off-chain switch, the contract does not see it)."""

    @property
    def reward(self) -> Wei:
        return Wei(round(self.reward_ether * ETHER))

    @property
    def verifier_stake(self) -> Wei:
        return Wei(round(self.verifier_stake_ether * ETHER))


@dataclass(frozen=True)
class PopulationSection(Checked):
    """``[population]``: who takes part, how fast they compute and how fast they transfer."""

    initiators: Annotated[int, POSITIVE] = 1
    """Initiators (each creates the tasks whose ``initiator`` index names it)."""
    contributors: Annotated[int, POSITIVE] = 5
    """Computing contributors at the start (churn may add more)."""
    verifiers: Annotated[int, POSITIVE] = 3
    """Verifiers at the start (churn may add more)."""
    contributor_speed: Dist = field(default_factory=lambda: Dist.constant(1.0))
    """Compute speed relative to the timing model's reference machine."""
    verifier_speed: Dist = field(default_factory=lambda: Dist.constant(1.0))
    """Verifiers' compute speed relative to the reference machine."""
    bandwidth_mbps: Dist = field(default_factory=lambda: Dist.constant(100.0))
    """Each agent's bandwidth, drawn once."""
    contributor_behaviours: dict[str, int | float] = field(default_factory=dict)
    """Mix of contributor kinds: ``{poisoner = 0.2, free_rider = 1}`` (fraction or count); the
    rest are honest. Kinds: those registered for the role (listed under ``[behaviours]``)."""
    verifier_behaviours: dict[str, int | float] = field(default_factory=dict)
    """Mix of verifier kinds, likewise."""
    initiator_behaviours: dict[str, int | float] = field(default_factory=dict)
    """Mix of initiator kinds, likewise."""
    assign: dict[str, str] = field(default_factory=dict)
    """Kinds pinned to agents by name: ``{"verifier-2" = "lazy"}``. The mixes are dealt as
    without pins (the same draws) and each pinned agent then takes its kind; every other agent
    keeps the kind the mix deals it. For deviation studies at fixed positions."""
    deviants: dict[str, dict[str, int]] = field(default_factory=dict)
    """Deviating agents chosen per seed: ``{verifier = {lazy = 1}}`` switches that many of the
    role's agents that the mix deals honest (and are not pinned) to the kind. Which ones is
    drawn from the run's ``("deviants", role)`` stream, whatever the kind: the same seed picks
    the same agents (``baasim deviations`` sets this)."""
    max_tasks_per_agent: Annotated[int, NON_NEGATIVE] = 0
    """Tasks a contributor or verifier works on at once; 0: no limit."""
    task_choice: Literal["all", "expected_profit"] = "all"
    """How agents pick tasks: ``all`` joins every task seen (contributors with the task's
    ``participation`` chance); ``expected_profit`` also declines a task whose estimated pay is
    below the estimated cost of the work (compute at ``costs``, gas), recorded as ``declined``."""
    offers: Literal["broadcast", "sampled"] = "broadcast"
    """How agents hear of a new task. ``broadcast``: every contributor and verifier does, and
    each contributor draws its ``participation`` chance from its own stream. ``sampled``
    (for large populations): the task's own stream draws which contributors' chances come
    up (each with the task's ``participation``, the same law) and which verifiers hear of it
    (each with ``verifier_participation``); only they are told, so a task costs work in its
    takers, not in the population. A newcomer arriving while a task is open hears only of
    later tasks."""
    plugin: str = "default"
    """Name of the population plugin (entry point group ``baasim.populations``)."""

    def __post_init__(self) -> None:
        super().__post_init__()

    def mixes(self) -> tuple[tuple[str, dict[str, int | float], int], ...]:
        """(role, mix, agents at the start) for each role."""
        return (
            ("contributor", self.contributor_behaviours, self.contributors),
            ("verifier", self.verifier_behaviours, self.verifiers),
            ("initiator", self.initiator_behaviours, self.initiators),
        )


YEAR_S = 365 * 24 * 3600.0
"""Seconds in the year a ``stake_rate_per_year`` is quoted for."""


@dataclass(frozen=True)
class CostSection(Checked):
    """``[costs]``: prices that turn resources into money for net-profit metrics."""

    compute_price_ether_per_hour: Annotated[float, NON_NEGATIVE] = 0.0
    """What one hour of reference-machine compute costs an agent (training, fusing)."""

    stake_rate_per_year: Annotated[float, NON_NEGATIVE] = 0.0
    """Cost of capital of a locked stake, as a fraction of the stake per year: a verifier's
    net profit is charged stake × rate × the time from registering to the stake's release
    (``capital_cost`` events); 0: stakes cost nothing to lock."""

    def compute_cost(self, seconds: float) -> Wei:
        return Wei(round(seconds * self.compute_price_ether_per_hour * ETHER / 3600))

    def capital_cost(self, stake: int, seconds: float) -> Wei:
        """What locking ``stake`` wei for ``seconds`` costs at ``stake_rate_per_year``."""
        return Wei(round(stake * self.stake_rate_per_year * seconds / YEAR_S))


@dataclass(frozen=True)
class RunSection(Checked):
    """``[run]``: seeds and when to stop."""

    seeds: Annotated[tuple[int, ...], Items(NON_NEGATIVE, min_len=1, what="seed")] = (0,)
    """Seeds ``baasim run`` runs (one run each); ``--seed`` runs just one."""
    max_time_s: Annotated[float, POSITIVE] = 30 * 24 * 3600.0
    """Simulated time after which the run stops even if tasks are open."""
    collect_interval_s: Annotated[float, POSITIVE] = 60.0
    """Period of the model-level series (balances, agents online, tasks open)."""


@dataclass(frozen=True)
class Scenario(Checked):
    """A whole experiment, validated."""

    name: str
    """Name of the experiment (default: the file's stem); names the output directory."""
    description: str = ""
    """One line on what the scenario shows."""
    run: RunSection = field(default_factory=RunSection)
    chain: ChainSection = field(default_factory=ChainSection)
    network: NetworkSection = field(default_factory=NetworkSection)
    timing: TimingSection = field(default_factory=TimingSection)
    storage: StorageConfig = field(default_factory=StorageConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainConfig = field(default_factory=TrainConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    contribution: ContributionConfig = field(default_factory=ContributionConfig)
    audit: AuditConfig = field(default_factory=AuditConfig)
    """Membership-inference audits of published models (off by default)."""
    population: PopulationSection = field(default_factory=PopulationSection)
    behaviours: Behaviours = field(default_factory=Behaviours)
    plugins: tuple[str, ...] = ()
    """Python files that register strategy kinds (paths relative to the scenario file)."""
    plugin_sha256: tuple[str, ...] = ()
    """SHA-256 of each plugins file: filled in when the scenario is loaded, so the scenario
    hash covers the plugins' code; a file that changed since is refused."""
    churn: ChurnSection = field(default_factory=ChurnSection)
    costs: CostSection = field(default_factory=CostSection)
    adaptation: AdaptationSection = field(default_factory=AdaptationSection)
    """Strategy revision per role (README, "Adaptive agents"); off unless a rule is set."""
    tasks: Annotated[tuple[TaskSection, ...], Items(min_len=1, what="[[tasks]] table")] = (
        TaskSection(),
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        for i, task in enumerate(self.tasks):
            self._check_task(i, task)
        self._check_data_sizes()
        self._check_behaviours()

    def _check_behaviours(self) -> None:
        """Mixes name registered kinds; each kind's parameters fit the rest of the scenario."""
        registry = self.behaviours.registry
        if tuple(path for path, _ in registry.plugins) != self.plugins:
            raise ValueError(
                "plugins: the behaviours were built with other plugin files; change plugins "
                "with sim.scenario.with_values"
            )
        for role, mix, n in self.population.mixes():
            key = f"population.{role}_behaviours"
            check_mix(key, mix, registry.names(role))
            try:
                counts(mix, n)
            except ValueError as err:
                raise ValueError(f"{key}: {err}") from None
            deviants = self.population.deviants.get(role, {})
            check_pins(role, n, mix, self.population.assign, deviants, registry.names(role))
        for role in self.population.deviants:
            if role not in ROLES:
                raise ValueError(
                    f"population.deviants.{role}: unknown role; expected one of {', '.join(ROLES)}"
                )
        for name in self.population.assign:
            if not name.startswith(tuple(f"{r}-" for r in ROLES)):
                raise ValueError(
                    f"population.assign.{name}: expected an agent name such as verifier-2"
                )
        pop = self.population
        check_adaptation(self.adaptation, registry, pop.mixes(), pop.assign, pop.deviants)
        for name, params in self.behaviours.items():
            check = getattr(params, "check_scenario", None)
            if check is None:
                continue
            try:
                check(self)
            except ValueError as err:
                raise ValueError(f"behaviours.{name}.{err}") from None

    def _check_task(self, i: int, task: TaskSection) -> None:
        pop = self.population
        key = f"tasks[{i}]"
        if task.initiator >= pop.initiators:
            raise ValueError(
                f"{key}.initiator: expected an index below population.initiators "
                f"({pop.initiators}), got {task.initiator}"
            )
        if task.committee_size > pop.verifiers:
            raise ValueError(
                f"{key}.committee_size: expected at most population.verifiers "
                f"({pop.verifiers}), got {task.committee_size}"
            )
        block = self.chain.block_interval_s
        for name in ("submission_window_s", "commit_window_s", "reveal_window_s"):
            if getattr(task, name) < 2 * block:
                got = getattr(task, name)
                raise ValueError(
                    f"{key}.{name}: expected at least two blocks "
                    f"({2 * block} s at chain.block_interval_s = {block}), got {got}"
                )
        balance = self.chain.genesis_balance_ether
        if task.reward_ether * task.count >= balance:
            raise ValueError(
                f"{key}.reward_ether: {task.count} task(s) of {task.reward_ether} ether need more "
                f"than the initiator's chain.genesis_balance_ether ({balance}) leaves for gas"
            )
        if task.verifier_stake_ether >= balance:
            raise ValueError(
                f"{key}.verifier_stake_ether: expected below chain.genesis_balance_ether "
                f"({balance}) so a verifier can stake and pay gas, got {task.verifier_stake_ether}"
            )
        _check_settlement(key, task)
        _check_shapley(key, task, self.contribution)
        if task.future_seed and self.chain.engine == "revm":
            # pyrevm gives no way to set the hashes BLOCKHASH returns: revm's are keccak of
            # the block number, known in advance, which would void the defence
            raise ValueError(
                f'{key}.future_seed: needs chain.engine = "py-evm" (revm\'s BLOCKHASH is '
                "predictable, so a future seed would be too)"
            )
        if task.verifier_participation < 1.0 and self.population.offers != "sampled":
            raise ValueError(
                f'{key}.verifier_participation: needs population.offers = "sampled" (with '
                "broadcast offers every verifier hears of every task)"
            )
        if task.slash_fraction > 0 and task.verifier_stake_ether == 0:
            raise ValueError(
                f"{key}.slash_fraction: slashing needs a stake; set verifier_stake_ether > 0"
            )
        if task.verifier_stake_ether < task.min_stake_ether:
            raise ValueError(
                f"{key}.verifier_stake_ether: expected at least {key}.min_stake_ether "
                f"({task.min_stake_ether}), got {task.verifier_stake_ether}"
            )
        sealed = task.sealed_window_s
        if sealed > 0 and (sealed < 2 * block or sealed >= task.commit_window_s):
            raise ValueError(
                f"{key}.sealed_window_s: expected 0 (off) or at least two blocks ({2 * block} s) "
                f"and below {key}.commit_window_s ({task.commit_window_s}), got {sealed}"
            )
        if 0 < task.report_window_s < 2 * block:
            raise ValueError(
                f"{key}.report_window_s: expected 0 (off) or at least two blocks "
                f"({2 * block} s), got {task.report_window_s}"
            )

    def _check_data_sizes(self) -> None:
        """The shards, verification and test sets must fit the data set (known sizes)."""
        data = self.data
        size = DATASET_SIZES.get(data.dataset)
        if size is None:
            return
        try:
            data.shard_sizes(data.shards or self.population.contributors, size)
        except ValueError as err:
            raise ValueError(f"data.{err}") from None
        audit = self.audit
        if audit.enabled and audit.reference_size > data.verification_size:
            raise ValueError(
                f"audit.reference_size: expected at most data.verification_size "
                f"({data.verification_size}), got {audit.reference_size}"
            )

    @property
    def digest(self) -> str:
        """SHA-256 of the scenario's canonical JSON (seeds excluded): the scenario hash."""
        table = to_table(self)
        table["run"] = {k: v for k, v in table["run"].items() if k != "seeds"}
        # the engine changes how fast a run goes, never what it records (tests/scenario/
        # test_engines.py): both engines give the same run id and scenario hash
        table["chain"] = {k: v for k, v in table["chain"].items() if k != "engine"}
        if table["adaptation"] == to_table(AdaptationSection()):
            del table["adaptation"]  # off: the hash (and every run id) is as before the key
        if self.audit == AuditConfig():
            del table["audit"]  # scenarios without audits keep their hash
        for dp in (table["behaviours"].get("private"), table["training"].get("privacy")):
            if isinstance(dp, dict):  # DP training settings left unset: the hash as before them
                for name in DP_TRAINING_KEYS:
                    if name in dp and dp[name] is None:
                        del dp[name]
        # keys added for large populations, claim settlement and structured fusion (issue 15),
        # left out at their defaults so that every scenario without them keeps its hash and
        # run ids
        if table["population"]["offers"] == "broadcast":
            del table["population"]["offers"]
        for task in table["tasks"]:
            if task["verifier_participation"] == 1.0:
                del task["verifier_participation"]
            if task["settlement"] == "paper":
                del task["settlement"]
        if table["data"]["shards"] == 0:
            del table["data"]["shards"]
        if not table["fusion"]["structured"]:
            del table["fusion"]["structured"]
        text = json.dumps(table, sort_keys=True, default=str, allow_nan=True)
        return hashlib.sha256(text.encode()).hexdigest()


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    where = str(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{where}: no such scenario file") from None
    except OSError as err:
        raise ConfigError(f"{where}: cannot read: {err}") from err
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{where}: not valid TOML: {err}") from err
    table.setdefault("name", p.stem)
    scenario = build(Scenario, _with_strategies(table, p.parent, where), where=where)
    return _resolve_traces(scenario, p.parent, where)


def _with_strategies(table: Mapping[str, Any], base: Path, where: str) -> dict[str, Any]:
    """``table`` with its plugin files resolved (relative to ``base``) and hashed, and its
    ``[behaviours.<kind>]`` tables built against the registry those files extend."""
    if not isinstance(table, Mapping):
        return table  # type: ignore[return-value]  # build names the problem
    paths = coerce(tuple[str, ...], table.get("plugins", []), where=where, path="plugins")
    pinned = coerce(
        tuple[str, ...], table.get("plugin_sha256", []), where=where, path="plugin_sha256"
    )
    plugins = resolve_plugins(paths, pinned, base, where)
    try:
        registry = registry_for(plugins)
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from err
    out = dict(table)
    out["plugins"] = [path for path, _ in plugins]
    out["plugin_sha256"] = [digest for _, digest in plugins]
    out["behaviours"] = Behaviours.from_table(out.get("behaviours", {}), registry, where)
    return out


def _resolve_traces(scenario: Scenario, base: Path, where: str) -> Scenario:
    """Make churn trace paths absolute (relative to the scenario file) and check the files."""
    churn = scenario.churn
    roles = {}
    for role in ("contributors", "verifiers"):
        rc = getattr(churn, role)
        if rc.trace is None:
            continue
        path = Path(rc.trace)
        path = path if path.is_absolute() else (base / path).resolve()
        digest = trace_digest(path)
        if rc.trace_sha256 is not None and rc.trace_sha256 != digest:
            raise ConfigError(
                f"{where}: churn.{role}.trace_sha256: {path} has SHA-256 {digest}, "
                f"expected {rc.trace_sha256}"
            )
        for s in read_trace(path):
            if not s.agent.startswith(role[:-1] + "-"):
                raise ConfigError(
                    f"{where}: churn.{role}.trace: {path} lists {s.agent}, not a {role[:-1]}"
                )
        roles[role] = dataclasses.replace(rc, trace=str(path), trace_sha256=digest)
    if not roles:
        return scenario
    return dataclasses.replace(scenario, churn=dataclasses.replace(churn, **roles))


def with_overrides(scenario: Scenario, settings: Sequence[str], where: str = "--set") -> Scenario:
    """Apply ``KEY.PATH=VALUE`` settings (VALUE in TOML syntax) and validate the result."""
    values: dict[str, Any] = {}
    for setting in settings:
        key, sep, raw = setting.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{where}: {setting!r}: expected KEY.PATH=VALUE")
        values[key.strip()] = _parse_value(raw.strip(), where, key)
    return with_values(scenario, values, where)


def with_values(scenario: Scenario, values: Mapping[str, Any], where: str = "<values>") -> Scenario:
    """A new scenario with each ``key.path`` set to its (TOML-typed) value, validated.

    Key paths use dots between tables and ``[i]`` (or ``.i``) for items of a list of tables:
    ``tasks[0].verifier_stake_ether``, ``population.verifier_speed.high``.
    """
    table = to_table(scenario)
    for key, value in values.items():
        _assign(table, key, value, where)
    for role in ("contributors", "verifiers"):
        prefix = f"churn.{role}."
        if prefix + "trace" in values and prefix + "trace_sha256" not in values:
            table["churn"][role]["trace_sha256"] = None  # a new file: hashed below
    if "plugins" in values and "plugin_sha256" not in values:
        table["plugin_sha256"] = []  # new files: hashed below
    # new plugin paths are relative to here; the loaded ones are absolute already
    changed = build(Scenario, _with_strategies(table, Path.cwd(), where), where=where)
    if not any(k.startswith("churn.") and ".trace" in k for k in values):
        return changed
    return _resolve_traces(changed, Path.cwd(), where)  # new paths are relative to here


def _parse_value(raw: str, where: str, key: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        # a bare word is a string: --set data.dataset=mnist
        if raw and all(c.isalnum() or c in "-_." for c in raw):
            return raw
        raise ConfigError(f"{where}: {key}: {raw!r} is not a TOML value") from None


def _assign(table: dict[str, Any], key: str, value: Any, where: str) -> None:
    """Set ``key`` (dots between tables, ``[i]`` or ``.i`` for list items) in ``table``."""
    parts = key.replace("[", ".").replace("]", "").split(".")
    node: Any = table
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"{where}: {key}: no item {part!r} (the list has {len(node)})")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            elif part not in node or node[part] is None:
                node[part] = {}
                node = node[part]
            else:
                node = node[part]
        else:
            raise ConfigError(f"{where}: {key}: {'.'.join(parts[:i])} is not a table")


def _check_shapley(key: str, task: TaskSection, contribution: ContributionConfig) -> None:
    """Shapley values (the method or the oracle's ruler) only where they can be computed."""
    uses = [f'{name} = "shapley"' for name in ("method", "truth")
            if getattr(contribution, name) == "shapley"]  # fmt: skip
    if uses and task.max_contributors > SHAPLEY_MAX_MODELS:
        raise ValueError(
            f"{key}.max_contributors: contribution.{' and '.join(uses)} computes Shapley values "
            f"for at most {SHAPLEY_MAX_MODELS} models per task (sampled orders train ~n² fused "
            f"heads of up to n models: the work grows as n⁴), got {task.max_contributors}; "
            'set contribution.truth = "method" with method = "individual" or "leave_one_out"'
        )


def _check_settlement(key: str, task: TaskSection) -> None:
    """The paper's settlement keeps its cap; claim settlement needs a tolerance-free majority."""
    if task.settlement == "paper" and task.max_contributors > PAPER_SUBMISSIONS:
        raise ValueError(
            f"{key}.max_contributors: expected at most {PAPER_SUBMISSIONS} with the paper's "
            f'settlement (settlement = "claim" takes {MAX_SUBMISSIONS}), '
            f"got {task.max_contributors}"
        )
    if task.settlement == "claim" and (task.aggregation != "majority" or task.tolerance):
        raise ValueError(
            f'{key}.settlement: "claim" needs aggregation = "majority" and tolerance = 0, '
            f"got {task.aggregation!r} and {task.tolerance}"
        )
