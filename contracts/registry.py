"""Registries: the extension points, each a name -> entry table filled by registration.

A new representation, dataset layout, searcher or scheduler is one function registered
under its name (models have theirs in `trainables.models`). Error messages list the
registered names, so a new entry is offered to users as soon as it exists.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Generic, TypeVar

from .errors import ConfigError

T = TypeVar("T")


class UnknownName(ConfigError):
    """A name no entry is registered under; the message lists the registered ones."""

OUR_PACKAGES = ("contracts", "data_prep", "trainables", "embedding", "search")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str, entry: T, module: str | None = None) -> T:
        """Add `entry` under `name` (a later registration of a name replaces it). Entries
        from outside this project's packages (a script, a test, a plugin) travel to Ray's
        workers by value, so registering in the driver is enough."""
        self._entries[name] = entry
        if module and module.split(".")[0] not in OUR_PACKAGES and module in sys.modules:
            from ray import cloudpickle

            cloudpickle.register_pickle_by_value(sys.modules[module])
        return entry

    def get(self, name: str, where: str | None = None) -> T:
        if name not in self._entries:
            raise UnknownName(f"{where or self.kind}: {name!r} is not one of {self.names()}")
        return self._entries[name]

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[T]:
        return iter(self._entries.values())


REPRESENTATIONS: Registry = Registry("representation")  # data_prep.representations
LAYOUTS: Registry = Registry("layout")  # data_prep.sources
