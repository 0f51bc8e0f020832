"""The `space:` section of a YAML, as an Optuna define-by-run function.

It is a class in an importable module, not a closure, because OptunaSearch pickles it with
its state (a function defined in `__main__` cannot be restored).

    lr:        {loguniform: [1.0e-4, 1.0e-2]}
    dropout:   {uniform: [0.25, 0.75]}
    layers:    {int: [3, 9]}                      # also: step: 2, log: true
    kernel:    {qint: [3, 25, 2]}                 # int with a step
    act:       {choice: [relu, tanh, prelu]}
    momentum:  {uniform: [0.8, 0.99], when: {optimizer: sgd}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from data_prep.config import ConfigError

KINDS = ("choice", "uniform", "loguniform", "int", "qint")
OPTIONS = ("when", "step", "log")


@dataclass(frozen=True)
class Param:
    name: str
    kind: str
    args: tuple[Any, ...]
    step: int | None = None
    log: bool = False
    when: Mapping[str, Any] = field(default_factory=dict)

    def active(self, chosen: Mapping[str, Any]) -> bool:
        """Whether this key exists for a trial whose earlier keys took `chosen`."""
        for key, wanted in self.when.items():
            allowed = wanted if isinstance(wanted, list) else [wanted]
            if key not in chosen or chosen[key] not in allowed:
                return False
        return True

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
        if self.kind == "choice":
            return trial.suggest_categorical(self.name, list(self.args))
        if self.kind in ("uniform", "loguniform"):
            low, high = self.args
            return trial.suggest_float(self.name, low, high, log=self.kind == "loguniform")
        low, high = self.args[:2]
        step = self.args[2] if self.kind == "qint" else (self.step or 1)
        return trial.suggest_int(self.name, low, high, step=step, log=self.log)


def parse_param(name: str, raw: Any, earlier: list[str]) -> Param:
    where = f"space.{name}"
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
    if not isinstance(args, list) or not args:
        raise ConfigError(f"{where}.{kind}: expected a non-empty list, got {args!r}")
    if kind == "choice":
        pass
    elif kind == "qint":
        if len(args) != 3 or not all(isinstance(a, int) for a in args) or args[2] < 1:
            raise ConfigError(f"{where}.qint: expected [low, high, step] integers, got {args!r}")
    else:
        numeric = all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args)
        if len(args) != 2 or not numeric:
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
        self.params: list[Param] = []
        for name, raw in raw_space.items():
            if name in fixed:
                raise ConfigError(f"space.{name}: also given a fixed value; keep one of the two")
            self.params.append(parse_param(name, raw, [p.name for p in self.params]))
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
        for p in self.params:
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
        return [p.name for p in self.params]

    def __call__(self, trial: Any) -> dict[str, Any]:
        chosen: dict[str, Any] = {}
        for param in self.params:
            if param.active(chosen):
                chosen[param.name] = param.suggest(trial)
        return dict(self.fixed)

    def distributions_for(self, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """The distributions of the keys a trial with `params` would have drawn, or None when
        those params could not come from this space (a key missing, extra or out of range)."""
        chosen: dict[str, Any] = {}
        found = {}
        for param in self.params:
            if not param.active(chosen):
                continue
            if param.name not in params:
                return None
            dist = param.distribution()
            try:
                inside = dist._contains(dist.to_internal_repr(params[param.name]))
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
            lines.append(f"{p.name}: {p.kind} {list(p.args)}{cond}")
        return lines
