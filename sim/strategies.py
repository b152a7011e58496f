"""The strategy registry: which behaviour kinds exist, their parameters, and the mixes.

A *kind* is a role's way of acting (``("verifier", "lazy")``). The registry maps each
``(role, name)`` to a ``StrategyKind``: the strategy class (opaque here: ``sim`` never imports
``agents``), its typed parameters (a frozen dataclass whose fields have defaults; the scenario's
``[behaviours.<name>]`` table) and a one-line doc. Kinds arrive from two places:

- installed packages, through the entry-point group ``baasim.strategies`` (each entry is a
  ``register(registry)`` function; baasim's own kinds are the ``builtin`` entry), and
- Python files a scenario names (top-level ``plugins = ["my_strategies.py"]``): each defines
  ``register(registry)`` or marks classes with ``@strategy(role, name, params=...)``.

A plugin file is hashed when the scenario is loaded (``plugin_sha256``, so the scenario digest
covers its code) and refused if it changed since. ``Behaviours`` holds every kind's parameters
for one scenario. Mixes (``population.<role>_behaviours``) are validated against the registry
and dealt to agents from an explicit RNG stream (``check_mix``, ``counts``, ``deal``); pins
(``population.assign``) and deviants (``population.deviants``) then switch chosen agents
without changing anyone else's draw (``check_pins``, ``kinds_of``). A kind's parameters class
may define ``not_applicable(scenario) -> str | None``: deviation studies
(``sim.sweep.deviations``) list the kind with that reason instead of running it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.util
import math
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from sim.config import build, to_table
from sim.errors import ConfigError

ROLES: tuple[str, ...] = ("contributor", "verifier", "initiator")
"""The roles a strategy can play."""
ENTRY_POINT_GROUP = "baasim.strategies"
"""Installed packages add kinds through this entry-point group (``register(registry)``)."""
_MARK = "__baasim_strategy__"

C = TypeVar("C", bound=type)


@dataclass(frozen=True)
class NoParams:
    """A kind without parameters."""


@dataclass(frozen=True)
class StrategyKind:
    """One registered kind: what plays it, with which parameters."""

    role: str
    name: str
    strategy: type
    """The strategy class; the role's process instantiates it with the kind's parameters."""
    params: type
    """Frozen dataclass of the kind's parameters: the ``[behaviours.<name>]`` table."""
    doc: str
    """One line on what the kind does (the strategy's docstring unless given)."""
    source: str
    """Where it was registered: an entry point or a plugin file."""


def strategy(
    role: str, name: str, *, params: type = NoParams, doc: str | None = None
) -> Callable[[C], C]:
    """Class decorator for plugin files: register the class as kind ``(role, name)``."""

    def mark(cls: C) -> C:
        setattr(cls, _MARK, (role, name, params, doc))
        return cls

    return mark


class Registry:
    """Kinds by (role, name), in registration order; sealed once loading is done."""

    def __init__(self, plugins: tuple[tuple[str, str], ...] = ()) -> None:
        self._kinds: dict[tuple[str, str], StrategyKind] = {}
        self.plugins = plugins
        """(absolute path, SHA-256) of each plugin file loaded into this registry."""
        self._source = "<registry>"
        self._sealed = False

    # ---------------------------------------------------------------- adding

    def add(self, role: str, name: str, cls: type, params: type = NoParams, doc: str = "") -> None:
        """Register ``cls`` as kind ``(role, name)`` with its ``params`` dataclass."""
        where = self._source
        if self._sealed:
            raise ConfigError(f"{where}: the registry is sealed; register kinds at load time")
        if role not in ROLES:
            raise ConfigError(
                f"{where}: kind {name!r}: unknown role {role!r}; expected one of {', '.join(ROLES)}"
            )
        if not name.isidentifier():
            raise ConfigError(f"{where}: kind {name!r}: expected a name like lazy or my_kind")
        if (role, name) in self._kinds:
            other = self._kinds[role, name].source
            raise ConfigError(
                f"{where}: registers {role} kind {name!r}, already registered by {other}"
            )
        _check_params(where, name, params)
        for (other_role, other_name), kind in self._kinds.items():
            if other_name == name and kind.params is not params:
                raise ConfigError(
                    f"{where}: {role} kind {name!r} has other parameters than the {other_role} "
                    f"kind of that name ({kind.source}); [behaviours.{name}] would be ambiguous"
                )
        line = " ".join((doc or cls.__doc__ or "").split("\n\n")[0].split())
        if not line:
            raise ConfigError(f"{where}: {role} kind {name!r}: give {cls.__name__} a docstring")
        self._kinds[role, name] = StrategyKind(role, name, cls, params, line, where)

    def add_marked(self, namespace: Mapping[str, Any], module: str) -> int:
        """Register the ``@strategy`` classes defined in ``module``; how many there were."""
        found = 0
        for value in list(namespace.values()):
            mark = value.__dict__.get(_MARK) if isinstance(value, type) else None
            if mark is None or value.__module__ != module:
                continue
            role, name, params, doc = mark
            self.add(role, name, value, params, doc or "")
            found += 1
        return found

    # ---------------------------------------------------------------- reading

    def get(self, role: str, name: str) -> StrategyKind:
        """The kind ``(role, name)``; ConfigError listing the role's kinds if unknown."""
        kind = self._kinds.get((role, name))
        if kind is None:
            raise ConfigError(
                f"unknown {role} kind {name!r}; expected one of {', '.join(self.names(role))}"
            )
        return kind

    def names(self, role: str) -> tuple[str, ...]:
        """The role's kind names, in registration order."""
        return tuple(n for r, n in self._kinds if r == role)

    def kinds(self) -> tuple[StrategyKind, ...]:
        return tuple(self._kinds.values())

    def params_by_name(self) -> dict[str, type]:
        """Each kind name's parameter class (one per name across roles)."""
        return {kind.name: kind.params for kind in self._kinds.values()}

    def check_unchanged(self) -> None:
        """Refuse plugin files whose content differs from what was loaded."""
        for path, digest in self.plugins:
            if file_digest(path, "plugins") != digest:
                raise ConfigError(
                    f"{path}: the plugin file changed after the scenario was loaded; reload "
                    "the scenario (a sweep's workers need the same file at the same path)"
                )

    # ---------------------------------------------------------------- loading

    def _copy(self, plugins: tuple[tuple[str, str], ...]) -> Registry:
        out = Registry(plugins)
        out._kinds = dict(self._kinds)
        return out

    def _load_entry_points(self) -> None:
        found = sorted(
            entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name != "builtin", e.name)
        )
        for ep in found:
            self._source = f"entry point {ep.name} ({ep.value})"
            try:
                register = ep.load()
            except Exception as err:
                raise ConfigError(
                    f"{self._source}: failed to import: {type(err).__name__}: {err}"
                ) from err
            register(self)

    def _load_file(self, path: str, digest: str) -> None:
        self._source = path
        module_name = f"baasim_plugin_{digest[:16]}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"{path}: not a Python file a plugin can be loaded from")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # dataclasses and type hints look their module up
        try:
            spec.loader.exec_module(module)
        except Exception as err:
            sys.modules.pop(module_name, None)
            raise ConfigError(
                f"{path}: the plugin failed to import: {type(err).__name__}: {err}"
            ) from err
        before = len(self._kinds)
        self.add_marked(vars(module), module_name)
        register = getattr(module, "register", None)
        if callable(register):
            register(self)
        if len(self._kinds) == before:
            raise ConfigError(
                f"{path}: the plugin registers no kind (define register(registry) or mark "
                "strategy classes with @sim.strategies.strategy)"
            )


def _check_params(where: str, name: str, params: type) -> None:
    if not (dataclasses.is_dataclass(params) and params.__dataclass_params__.frozen):  # type: ignore[attr-defined]
        raise ConfigError(f"{where}: kind {name!r}: params must be a frozen dataclass")
    for f in dataclasses.fields(params):
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"{where}: kind {name!r}: params field {f.name!r} needs a default")


@functools.cache
def builtin_registry() -> Registry:
    """The kinds installed packages register (``baasim.strategies``), baasim's own first."""
    registry = Registry()
    registry._load_entry_points()
    registry._sealed = True
    return registry


@functools.cache
def registry_for(plugins: tuple[tuple[str, str], ...]) -> Registry:
    """The installed kinds plus those of the plugin files, each (absolute path, SHA-256)."""
    if not plugins:
        return builtin_registry()
    registry = builtin_registry()._copy(plugins)
    for path, digest in plugins:
        registry._load_file(path, digest)
    registry._source = "<registry>"
    registry._sealed = True
    return registry


def file_digest(path: str | Path, key: str) -> str:
    """SHA-256 of a plugin file's bytes; ConfigError naming the file if it cannot be read."""
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except FileNotFoundError:
        raise ConfigError(f"{path}: {key}: no such plugin file") from None
    except OSError as err:
        raise ConfigError(f"{path}: {key}: cannot read the plugin file: {err}") from err


def resolve_plugins(
    paths: Sequence[str], digests: Sequence[str], base: Path, where: str
) -> tuple[tuple[str, str], ...]:
    """(absolute path, SHA-256) per plugin file; paths are relative to ``base``.

    ``digests`` (``plugin_sha256``), when given, pins each file's content.
    """
    if digests and len(digests) != len(paths):
        raise ConfigError(
            f"{where}: plugin_sha256: expected {len(paths)} digests (one per plugins file), "
            f"got {len(digests)}"
        )
    out = []
    for i, raw in enumerate(paths):
        p = Path(raw)
        path = str(p if p.is_absolute() else (base / p).resolve())
        digest = file_digest(path, f"plugins[{i}]")
        if digests and digests[i] != digest:
            raise ConfigError(
                f"{where}: plugin_sha256[{i}]: {path} has SHA-256 {digest}, expected {digests[i]}"
            )
        out.append((path, digest))
    return tuple(out)


# ====================================================================== parameters


class Behaviours(Mapping[str, Any]):
    """``[behaviours.<kind>]``: every registered kind's parameters (defaults where unset).

    A mapping from kind name to its frozen parameters. ``registry`` is the registry the
    scenario was loaded with (baasim's kinds plus its plugin files).
    """

    def __init__(self, params: Mapping[str, Any] | None = None, registry: Registry | None = None):
        self.registry = registry if registry is not None else builtin_registry()
        given = dict(params or {})
        self._params = {
            name: given.pop(name, None) or cls()
            for name, cls in self.registry.params_by_name().items()
        }
        if given:
            raise ConfigError(f"behaviours: no kind {sorted(given)[0]!r} is registered")

    @classmethod
    def from_table(cls, table: Any, registry: Registry, where: str) -> Behaviours:
        """Each ``[behaviours.<kind>]`` table built into that kind's parameters."""
        if not isinstance(table, Mapping):
            raise ConfigError(f"{where}: behaviours: expected a table, got {table!r}")
        known = registry.params_by_name()
        params: dict[str, Any] = {}
        for name, sub in table.items():
            if name not in known:
                raise ConfigError(
                    f"{where}: behaviours.{name}: unknown behaviour kind; expected one of "
                    f"{', '.join(known)}"
                )
            params[name] = build(known[name], sub, where=where, path=f"behaviours.{name}")
        return cls(params, registry)

    def __getitem__(self, name: str) -> Any:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __len__(self) -> int:
        return len(self._params)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Behaviours):
            return NotImplemented
        return self._params == other._params and self.registry.plugins == other.registry.plugins

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Behaviours({self._params!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Plugin classes live in modules loaded from files: a worker process re-loads the
        # files (checking their hashes) and rebuilds the parameters from their table.
        return (_rebuild, (self.registry.plugins, to_table(self._params)))


def _rebuild(plugins: tuple[tuple[str, str], ...], table: Mapping[str, Any]) -> Behaviours:
    for path, digest in plugins:
        if file_digest(path, "plugins") != digest:
            raise ConfigError(f"{path}: the plugin file changed after the scenario was loaded")
    return Behaviours.from_table(table, registry_for(plugins), "<behaviours>")


# ====================================================================== mixes


def check_mix(name: str, mix: Mapping[str, float | int], kinds: tuple[str, ...]) -> None:
    """Raise ValueError naming ``name`` if ``mix`` has unknown kinds or shares out of range."""
    for kind, share in mix.items():
        if kind not in kinds:
            raise ValueError(
                f"{name}.{kind}: unknown behaviour; expected one of {', '.join(kinds)}"
            )
        if isinstance(share, bool) or not isinstance(share, (int, float)):
            raise ValueError(f"{name}.{kind}: expected a fraction (float) or a count (integer)")
        if isinstance(share, float) and not 0.0 <= share <= 1.0:
            raise ValueError(f"{name}.{kind}: expected a fraction in [0, 1], got {share}")
        if isinstance(share, int) and share < 0:
            raise ValueError(f"{name}.{kind}: expected a count >= 0, got {share}")
    fractions = sum(s for s in mix.values() if isinstance(s, float))
    if fractions > 1.0 + 1e-9:
        raise ValueError(f"{name}: fractions add up to {fractions:g}, more than 1")


def counts(mix: Mapping[str, float | int], n: int) -> dict[str, int]:
    """How many of ``n`` agents get each kind (fractions by largest remainder; rest honest)."""
    out = {kind: share for kind, share in mix.items() if isinstance(share, int)}
    fractional = {k: s * n for k, s in mix.items() if isinstance(s, float)}
    floors = {k: math.floor(v) for k, v in fractional.items()}
    left = round(sum(fractional.values())) - sum(floors.values())
    by_remainder = sorted(fractional, key=lambda k: (fractional[k] - floors[k], k), reverse=True)
    for k in by_remainder[:left]:
        floors[k] += 1
    for k, v in floors.items():
        out[k] = out.get(k, 0) + v
    dishonest = sum(v for k, v in out.items() if k != "honest")
    if dishonest > n:
        raise ValueError(f"behaviour mix asks for {dishonest} agents of {n}")
    out["honest"] = n - dishonest
    return {k: v for k, v in out.items() if v > 0}


def deal(mix: Mapping[str, float | int], n: int, rng: np.random.Generator) -> list[str]:
    """The kind of each of ``n`` agents: the mix's counts in an order shuffled by ``rng``."""
    kinds = [kind for kind, c in sorted(counts(mix, n).items()) for _ in range(c)]
    order = rng.permutation(len(kinds))
    return [kinds[i] for i in order]


def check_pins(
    role: str,
    n: int,
    mix: Mapping[str, float | int],
    assign: Mapping[str, str],
    deviants: Mapping[str, int],
    kinds: tuple[str, ...],
) -> None:
    """Raise ValueError naming the key if the role's pins or deviants do not fit.

    ``assign`` is the whole ``population.assign`` table (agent name -> kind; only the role's
    own names are checked here), ``deviants`` the role's ``population.deviants`` entry.
    """
    pinned = 0
    for name, kind in assign.items():
        if not name.startswith(f"{role}-"):
            continue
        index = name.removeprefix(f"{role}-")
        if not index.isdigit() or int(index) >= n:
            raise ValueError(
                f"population.assign.{name}: expected {role}-0 .. {role}-{n - 1} "
                f"(the {role}s at the start)"
            )
        if kind not in kinds:
            raise ValueError(
                f"population.assign.{name}: unknown {role} kind {kind!r}; expected one of "
                f"{', '.join(kinds)}"
            )
        pinned += 1
    for kind, count in deviants.items():
        if kind not in kinds:
            raise ValueError(
                f"population.deviants.{role}.{kind}: unknown {role} kind; expected one of "
                f"{', '.join(kinds)}"
            )
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError(f"population.deviants.{role}.{kind}: expected a count >= 1")
    honest = counts(mix, n).get("honest", 0) - pinned
    wanted = sum(deviants.values())
    if wanted > honest:
        raise ValueError(
            f"population.deviants.{role}: asks for {wanted} deviating {role}s, but only "
            f"{max(honest, 0)} are dealt honest and not pinned"
        )


def kinds_of(
    role: str,
    mix: Mapping[str, float | int],
    n: int,
    rng: np.random.Generator,
    assign: Mapping[str, str] | None = None,
    deviants: Mapping[str, int] | None = None,
    deviant_rng: np.random.Generator | None = None,
) -> list[str]:
    """The kind of each of the role's ``n`` agents: dealt, then pinned, then deviating.

    The mix is dealt with ``rng`` exactly as without pins (``deal``), so an agent neither
    pinned nor deviating keeps the kind it has in the run without them (common random
    numbers). ``assign`` pins kinds to names (``verifier-2``). ``deviants`` switches that
    many agents the deal made honest (and not pinned) to each kind: which agents is a
    permutation drawn from ``deviant_rng`` that does not depend on the kinds, so the same seed
    picks the same first agent whatever the kind (and a coalition of k extends the one of k-1).
    """
    kinds = deal(mix, n, rng)
    pinned: set[int] = set()
    for name, kind in (assign or {}).items():
        if name.startswith(f"{role}-"):
            index = int(name.removeprefix(f"{role}-"))
            kinds[index] = kind
            pinned.add(index)
    if not deviants:
        return kinds
    if deviant_rng is None:
        raise ValueError(f"kinds_of: deviating {role}s need a deviant_rng")
    free = [i for i, k in enumerate(kinds) if k == "honest" and i not in pinned]
    order = [free[j] for j in deviant_rng.permutation(len(free))]
    wanted = [kind for kind, c in sorted(deviants.items()) for _ in range(c)]
    if len(wanted) > len(order):
        raise ValueError(f"population.deviants.{role}: more deviants than honest {role}s")
    for index, kind in zip(order, wanted, strict=False):
        kinds[index] = kind
    return kinds
