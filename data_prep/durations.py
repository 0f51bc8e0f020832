"""How much of each clip to keep, from the clips' durations (`max_seconds: auto`).

Real collections are longer than the one second a default space reads: ESC-50 5 s,
AudioSet 10 s, GTZAN 30 s. Cutting each to its centre second throws most of it away; the
practice (and the documents') is to train on random crops and score the whole clip. So
when most clips are markedly longer than `clip_seconds`, preparation keeps up to their
90th-percentile duration (at most `LONGEST_KEPT_S`), training crops `clip_seconds` at
random, and validation, test and prediction score whole clips on windows.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import soundfile as sf

from .config import AUTO, DatasetConfig

LONGER = 1.25  # most clips longer than clip_seconds by this factor: keep more
LONGEST_KEPT_S = 30.0  # GTZAN's excerpts; beyond, memory grows with little to learn
KEPT_QUANTILE = 90


def durations(paths: Iterable[str]) -> np.ndarray:
    """Each file's duration in seconds from its header (NaN where it cannot be read: such
    a file is rejected, with its reason, when decoded)."""
    found = []
    for path in paths:
        try:
            info = sf.info(path)
            found.append(info.frames / info.samplerate if info.samplerate else np.nan)
        except Exception:  # unreadable, missing: the decoder lists it
            found.append(np.nan)
    return np.asarray(found, dtype=float)


def resolve_max_seconds(config: DatasetConfig, paths: Iterable[str]) -> DatasetConfig:
    """`config` with `max_seconds: auto` decided from the clips' durations: None (cut to
    clip_seconds) when most are about that long, else their 90th percentile, capped."""
    if config.max_seconds != AUTO:
        return config
    if config.source == "synthetic":
        return config.replace(max_seconds=None)
    found = durations(paths)
    found = found[np.isfinite(found)]
    if not len(found) or np.median(found) <= LONGER * config.clip_seconds:
        return config.replace(max_seconds=None)
    kept = min(LONGEST_KEPT_S, float(np.percentile(found, KEPT_QUANTILE)))
    return config.replace(max_seconds=round(max(kept, config.clip_seconds), 2))
