"""Folders that appear whole or not at all: an interrupted run leaves no half-written cache."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def building(target: Path) -> Iterator[Path]:
    """A temporary folder beside `target`, renamed to it when the block completes and
    removed when it raises."""
    tmp = target.parent / f".{target.name}.tmp-{time.time_ns()}"
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if target.exists():  # a concurrent run finished first; its result is equivalent
        shutil.rmtree(tmp)
    else:
        tmp.rename(target)
