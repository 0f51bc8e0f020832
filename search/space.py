"""The `space:` section of a YAML, as an Optuna define-by-run function.

It is a class in an importable module, not a closure, because OptunaSearch pickles it with
its state (a function defined in `__main__` cannot be restored).

    lr:        {loguniform: [1.0e-4, 1.0e-2]}
    dropout:   {uniform: [0.25, 0.75]}
    layers:    {int: [3, 9]}                      # also: step: 2, log: true
    kernel:    {qint: [3, 25, 2]}                 # int with a step
    act:       {choice: [relu, tanh, prelu]}
    momentum:  {uniform: [0.8, 0.99], when: {optimizer: sgd}}
    pool:      {value: 20, when: {front: energy}}  # not searched: set in that branch only

A key may take a list of such entries, each with a `when`, at most one of them searched,
their conditions exclusive (each pair wants different values of one key):

    first_kernel:
      - {value: 16, when: {front: energy}}
      - {choice: [80, 160], when: {front: conv}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from data_prep.config import ConfigError
from trainables.keys import is_number

from . import compat

SEARCHED = ("choice", "uniform", "loguniform", "int", "qint")
KINDS = (*SEARCHED, "value")
OPTIONS = ("when", "step", "log")


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    args: tuple[Any, ...]
    step: int | None = None
    log: bool = False
    when: Mapping[str, Any] = field(default_factory=dict)

    @property
    def searched(self) -> bool:
        """Whether the searcher draws it (a `value` is set, not drawn)."""
        return self.kind != "value"

    @property
    def listed(self) -> bool:
        """Whether it takes only the values it lists (a choice, or a set value)."""
        return self.kind in ("choice", "value")

    def allowed(self, key: str) -> list[Any]:
        """The values of `key` this entry's `when` accepts."""
        wanted = self.when[key]
        return wanted if isinstance(wanted, list) else [wanted]

    def active(self, chosen: Mapping[str, Any]) -> bool:
        """Whether this key exists for a trial whose earlier keys took `chosen`."""
        return all(key in chosen and chosen[key] in self.allowed(key) for key in self.when)

    def excludes(self, other: Param) -> bool:
        """Whether no trial can make both this entry and `other` active."""
        return any(not any(v in other.allowed(key) for v in self.allowed(key))
                   for key in set(self.when) & set(other.when))

    def distribution(self) -> Any:
        """The Optuna distribution `suggest` draws from."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.kind == "choice":
            return CategoricalDistribution(list(self.args))
        if self.kind in ("uniform", "loguniform"):
            return FloatDistribution(*self.args, log=self.kind == "loguniform")
        step = self.args[2] if self.kind == "qint" else (self.step or 1)
        return IntDistribution(self.args[0], self.args[1], step=step, log=self.log)

    def suggest(self, trial: Any) -> Any:
        if self.kind == "value":
            return self.args[0]
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.args))
        if self.kind in ("uniform", "loguniform"):
            low, high = self.args
            return trial.suggest_float(self.name, low, high, log=self.kind == "loguniform")
        low, high = self.args[:2]
        step = self.args[2] if self.kind == "qint" else (self.step or 1)
        return trial.suggest_int(self.name, low, high, step=step, log=self.log)


def parse_entries(name: str, raw: Any, earlier: list[str]) -> list[Param]:
    """One key's entry, or its list of conditional entries."""
    if not isinstance(raw, list):
        return [parse_param(name, raw, earlier)]
    if not raw:
        raise ConfigError(f"space.{name}: expected entries such as "
                          "[{value: 16, when: {front: energy}}, ...], got an empty list")
    entries = [parse_param(name, entry, earlier, f"space.{name}[{i}]")
               for i, entry in enumerate(raw)]
    for i, entry in enumerate(entries):
        if not entry.when:
            raise ConfigError(f"space.{name}[{i}]: each of a key's entries needs a `when`")
        for j, other in enumerate(entries[:i]):
            if not entry.excludes(other):
                raise ConfigError(
                    f"space.{name}[{i}]: its `when` can hold together with entry {j}'s; "
                    "give them different values of one key, e.g. {front: energy} and "
                    "{front: conv}")
    if sum(entry.searched for entry in entries) > 1:
        raise ConfigError(f"space.{name}: at most one of its entries may be searched (the "
                          "searcher keeps one range per key); make the others `value`s")
    return entries


def parse_param(name: str, raw: Any, earlier: list[str], where: str = "") -> Param:
    where = where or f"space.{name}"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping such as {{choice: [a, b]}}, got {raw!r}")
    kinds = [k for k in raw if k in KINDS]
    unknown = sorted(set(raw) - set(KINDS) - set(OPTIONS))
    if unknown:
        raise ConfigError(
            f"{where}.{unknown[0]}: unknown key; use one of {list(KINDS)} with options "
            f"{list(OPTIONS)}"
        )
    if len(kinds) != 1:
        raise ConfigError(f"{where}: give exactly one of {list(KINDS)}, got {kinds or 'none'}")
    kind = kinds[0]
    args = raw[kind]
    if kind == "value":
        if isinstance(args, (list, Mapping)):
            raise ConfigError(f"{where}.value: expected one value, got {args!r}")
        if not raw.get("when"):
            raise ConfigError(f"{where}: a value without `when` is a fixed key; put it "
                              "under fixed:")
        args = [args]
    elif not isinstance(args, list) or not args:
        raise ConfigError(f"{where}.{kind}: expected a non-empty list, got {args!r}")
    if kind in ("choice", "value"):
        pass
    elif kind == "qint":
        if len(args) != 3 or not all(isinstance(a, int) for a in args) or args[2] < 1:
            raise ConfigError(f"{where}.qint: expected [low, high, step] integers, got {args!r}")
    else:
        if len(args) != 2 or not all(is_number(a) for a in args):
            raise ConfigError(f"{where}.{kind}: expected [low, high] numbers, got {args!r}")
        if kind == "int" and not all(isinstance(a, int) for a in args):
            raise ConfigError(f"{where}.int: bounds must be integers, got {args!r}")
        if args[0] >= args[1]:
            raise ConfigError(f"{where}.{kind}: low {args[0]} must be below high {args[1]}")
        if kind == "loguniform" and args[0] <= 0:
            raise ConfigError(f"{where}.loguniform: low must be positive, got {args[0]}")
    when = raw.get("when", {}) or {}
    if not isinstance(when, Mapping):
        raise ConfigError(f"{where}.when: expected a mapping such as {{optimizer: sgd}}")
    for key in when:
        if key not in earlier:
            raise ConfigError(
                f"{where}.when.{key}: a condition must name a key defined above it in space"
            )
    return Param(name, kind, tuple(args), raw.get("step"), bool(raw.get("log", False)), when)


class SearchSpace:
    """Callable define-by-run space: suggests the searched keys, returns the fixed ones."""

    def __init__(self, raw_space: Mapping[str, Any], fixed: Mapping[str, Any]):
        if not isinstance(raw_space, Mapping):
            raise ConfigError("space: expected a mapping of key -> distribution")
        self.params: list[Param] = []  # in order; a key with several entries has each
        for name, raw in raw_space.items():
            if name in fixed:
                raise ConfigError(f"space.{name}: also given a fixed value; keep one of the two")
            self.params += parse_entries(name, raw, self.names)
        self.fixed = dict(fixed)

    def with_fixed(self, extra: Mapping[str, Any]) -> SearchSpace:
        """The same space with more fixed keys (the model name, max_epochs, overrides)."""
        space = SearchSpace({}, {**self.fixed, **extra})
        space.params = list(self.params)
        return space

    def grid(self) -> dict[str, list[Any]]:
        """Every key's values for a grid search: choices as given, integer ranges by step;
        a continuous range has no grid and is an error naming it."""
        values = {}
        for p in self.searched:
            if p.kind == "choice":
                values[p.name] = list(p.args)
            elif p.kind in ("int", "qint"):
                step = p.args[2] if p.kind == "qint" else (p.step or 1)
                values[p.name] = list(range(p.args[0], p.args[1] + 1, step))
            else:
                raise ConfigError(f"space.{p.name}: a {p.kind} range has no grid; with "
                                  "searcher grid, give it as choice: [...]")
        return values

    @property
    def names(self) -> list[str]:
        """Every key the space sets, searched or conditional values, once each, in order."""
        return list(dict.fromkeys(p.name for p in self.params))

    @property
    def searched(self) -> list[Param]:
        """The entries the searcher draws (one per key)."""
        return [p for p in self.params if p.searched]

    def __call__(self, trial: Any) -> dict[str, Any]:
        chosen: dict[str, Any] = {}
        values: dict[str, Any] = {}
        for param in self.params:
            if param.name in chosen or not param.active(chosen):
                continue
            chosen[param.name] = param.suggest(trial)
            if not param.searched:
                values[param.name] = chosen[param.name]
        # Ray merges what this returns into the drawn params: the fixed keys and the
        # conditional values this trial's branch sets.
        return {**self.fixed, **values}

    def branch(self, config: Mapping[str, Any]) -> dict[str, Param]:
        """The entry of each key that exists for a trial whose keys take `config`'s values
        (those it leaves out are drawn, so keys conditioned on them are not known)."""
        chosen: dict[str, Any] = {}
        entries: dict[str, Param] = {}
        for param in self.params:
            if param.name in entries or not param.active(chosen):
                continue
            entries[param.name] = param
            if not param.searched:
                chosen[param.name] = param.args[0]
            elif param.name in config:
                chosen[param.name] = config[param.name]
        return entries

    def distributions_for(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The distributions of the keys a trial with `params` would have drawn, or None when
        those params could not come from this space (a key missing, extra or out of range)."""
        chosen: dict[str, Any] = {}
        found = {}
        for param in self.params:
            if param.name in chosen or not param.active(chosen):
                continue
            if not param.searched:
                chosen[param.name] = param.args[0]
                continue
            if param.name not in params:
                return None
            dist = param.distribution()
            try:
                inside = compat.distribution_contains(dist, params[param.name])
            except (ValueError, TypeError):
                inside = False
            if not inside:
                return None
            chosen[param.name] = params[param.name]
            found[param.name] = dist
        return found if set(found) == set(params) else None

    def describe(self) -> list[str]:
        lines = []
        for p in self.params:
            cond = f"  when {dict(p.when)}" if p.when else ""
            what = f"= {p.args[0]!r}" if p.kind == "value" else f"{p.kind} {list(p.args)}"
            lines.append(f"{p.name}: {what}{cond}")
        return lines
