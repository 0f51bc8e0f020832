"""Trial keys: each component declares the config keys it reads, once, next to its code.

A `Key` says the key's type, what values it allows, its default and its meaning. The spec
checks every `fixed`, `space` and `--set` value against the trainable's keys before Ray
starts (`search.spec`; `python -m search.keys` prints them), and `with_defaults` fills a
trial's config from the same table.

    Key("dropout", "float", 0.5, "dropout before the head", interval="[0, 1)")
    Key("act", "str", "relu", "activation", choices=("relu", "tanh"))
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

TYPES = ("int", "float", "bool", "str", "ints", "pair")


@dataclass(frozen=True)
class Key:
    name: str
    type: str  # one of TYPES; "ints": a list of positive ints; "pair": [low, high] numbers
    default: Any
    meaning: str
    choices: tuple[Any, ...] = ()
    interval: str = ""  # e.g. "[0, 1)", "(0, inf)", "[1, inf)": bounds of a number
    nullable: bool = False  # None (YAML null) is allowed

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"key {self.name}: type {self.type!r} is not one of {TYPES}")

    @property
    def allowed(self) -> str:
        """What the key takes, in words, for errors and the table."""
        if self.choices:
            text = "one of " + ", ".join(str(c) for c in self.choices)
        elif self.type == "ints":
            text = "a list of positive integers"
        elif self.type == "pair":
            text = f"[low, high] numbers in {self.interval}" if self.interval else "[low, high]"
        else:
            text = f"{self.type} in {self.interval}" if self.interval else self.type
        return f"{text} or null" if self.nullable else text

    def problem(self, value: Any) -> str | None:
        """Why `value` does not fit this key, or None when it does."""
        if value is None:
            return None if self.nullable else f"{self.name}: null is not allowed; {self.allowed}"
        if self.choices:
            ok = any(_same(value, c) for c in self.choices)
        elif self.type == "ints":
            ok = (isinstance(value, (list, tuple)) and len(value) > 0
                  and all(_is_int(v) and v > 0 for v in value))
        elif self.type == "pair":
            ok = (isinstance(value, (list, tuple)) and len(value) == 2
                  and all(is_number(v) and _inside(v, self.interval) for v in value)
                  and value[0] <= value[1])
        else:
            ok = _of_type(value, self.type) and (not is_number(value)
                                                 or _inside(value, self.interval))
        return None if ok else f"{self.name}: {value!r} is not allowed; expected {self.allowed}"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """An int or a float, not a bool (which Python counts as an int)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _same(value: Any, choice: Any) -> bool:
    return value == choice and isinstance(value, bool) == isinstance(choice, bool)


def _of_type(value: Any, kind: str) -> bool:
    return {"int": _is_int, "float": is_number, "bool": lambda v: isinstance(v, bool),
            "str": lambda v: isinstance(v, str)}[kind](value)


def _inside(value: float, interval: str) -> bool:
    if not interval:
        return math.isfinite(value)
    low_text, high_text = (part.strip() for part in interval[1:-1].split(","))
    low, high = float(low_text), float(high_text)
    above = value > low if interval[0] == "(" else value >= low
    below = value < high if interval[-1] == ")" else value <= high
    return above and below


@dataclass(frozen=True)
class Constraint:
    """A rule between keys that no one key's check can see: `problem` says what is wrong
    with a config that holds every key (defaults filled in), or returns None."""

    keys: tuple[str, ...]
    problem: Callable[[Mapping[str, Any]], str | None]


class Schema:
    """The keys one trainable reads, by name, and the rules between them."""

    def __init__(self, keys: Iterable[Key], constraints: Iterable[Constraint] = ()):
        self.constraints = tuple(constraints)
        self.keys: dict[str, Key] = {}
        for key in keys:
            if key.name in self.keys and self.keys[key.name] != key:
                raise ValueError(f"key {key.name} is declared twice, differently")
            self.keys[key.name] = key

    def __contains__(self, name: str) -> bool:
        return name in self.keys

    def __getitem__(self, name: str) -> Key:
        return self.keys[name]

    def unknown(self, name: str) -> str:
        """The error for a key no component reads, with the closest known key."""
        close = difflib.get_close_matches(name, list(self.keys), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{name}: unknown key{hint} (`python -m search.keys` lists them)"

    def with_defaults(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {**{name: key.default for name, key in self.keys.items()}, **config}

    def table(self) -> list[tuple[str, str, str, str]]:
        """(key, default, allowed, meaning) rows, sorted by key."""
        return [(k.name, "null" if k.default is None else str(k.default), k.allowed, k.meaning)
                for k in sorted(self.keys.values(), key=lambda k: k.name)]
