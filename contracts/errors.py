"""The user's mistakes, as one family: every stage raises a `ConfigError` (or a subclass)
whose message names the file, key or value and what to do, and the commands print it
without a traceback."""

from __future__ import annotations


class ConfigError(ValueError):
    """A bad key or value in a space or dataset spec; the message names it."""


class DataError(ConfigError):
    """A dataset that cannot be used as given; the message names the file, row or column."""
