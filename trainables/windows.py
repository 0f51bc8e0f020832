"""Scoring a clip longer than what a model reads: the model runs on windows of its input
length that tile the whole clip, and their outputs are pooled into the clip's.

Training crops a window at random (`augment.random_crop`); validation, test and prediction
see every part of the clip: an event anywhere in a 10 s recording counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .keys import Key

POOLINGS = ("auto", "mean", "max")
KEYS = (
    Key("window_pooling", "str", "auto", "a clip longer than the model's input is scored on "
        "windows of that length tiling it, their logits pooled: mean, max, or auto (mean for "
        "one label per clip, max for multi-label, where a tag holds if any window holds it)",
        choices=POOLINGS),
)


def pooling(config: Mapping[str, Any], multi_label: bool) -> str:
    """`window_pooling` with auto resolved."""
    chosen = config.get("window_pooling", "auto")
    return ("max" if multi_label else "mean") if chosen == "auto" else chosen


def starts(total: int, length: int) -> list[int]:
    """Where the windows of `length` begin: end to end from 0, the last one ending at the
    clip's end (it may overlap the one before)."""
    if total <= length:
        return [0]
    found = list(range(0, total - length + 1, length))
    return found if found[-1] == total - length else [*found, total - length]


def windows(x: torch.Tensor, length: int) -> torch.Tensor:
    """(n, ..., total) -> (n, windows, ..., length)."""
    return torch.stack([x[..., s : s + length] for s in starts(x.shape[-1], length)], dim=1)


def pooled_logits(model: torch.nn.Module, x: torch.Tensor, length: int | None,
                  how: str) -> torch.Tensor:
    """The model's logits for each clip of `x`, over windows of `length` when the clips are
    longer (`how`: mean or max over the windows)."""
    if not length or x.shape[-1] <= length:
        return model(x)
    tiled = windows(x, length)
    n, count = tiled.shape[:2]
    logits = model(tiled.reshape(n * count, *tiled.shape[2:])).reshape(n, count, -1)
    return logits.amax(dim=1) if how == "max" else logits.mean(dim=1)
