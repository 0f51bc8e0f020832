"""Column makers: a fixed-length clip -> the array a model reads, with its fixed shape."""

from __future__ import annotations

import numpy as np

from .config import DatasetConfig


def shape(config: DatasetConfig) -> tuple[int, ...]:
    if config.representation == "waveform":
        return (config.clip_samples,)
    raise ValueError(f"unknown representation {config.representation!r}")


def compute(clips: np.ndarray, config: DatasetConfig) -> np.ndarray:
    """A batch of clips (n, samples) -> (n, *shape(config)), float32."""
    if config.representation == "waveform":
        return clips.astype(np.float32, copy=False)
    raise ValueError(f"unknown representation {config.representation!r}")
