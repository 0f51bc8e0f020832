"""Per-clip loudness: a clip's level, and the same clip brought to a target level.

Real datasets mix microphones, gains and distances; a model trained at one level does not
transfer to another (bench/level_shift.py). `dataset.loudness` normalises every clip at
preparation, so that train, validation, test and new recordings all reach the model at one
level:

- `peak`: the largest sample at `loudness_db` dBFS (default -1);
- `rms`: the root-mean-square level at `loudness_db` dBFS (default -20);
- `lufs`: the ITU-R BS.1770-4 integrated loudness (pyloudnorm) at `loudness_db` LUFS
  (default -23, EBU R 128); clips too quiet for its gate fall back to RMS.
"""

from __future__ import annotations

import numpy as np

LOUDNESS = ("none", "peak", "rms", "lufs")
DEFAULT_TARGET_DB = {"peak": -1.0, "rms": -20.0, "lufs": -23.0}
MAX_GAIN_DB = 60.0  # a near-silent clip is raised by at most this much
LUFS_BLOCK_S = 0.4  # BS.1770's gating block; shorter clips use one block of their length


def rms_db(clip: np.ndarray) -> float:
    """Root-mean-square level in dBFS (a full-scale sine is -3)."""
    power = float(np.mean(np.square(clip, dtype=np.float64)))
    return 10 * np.log10(max(power, 1e-20))


def level_db(clip: np.ndarray, sample_rate: int, kind: str) -> float:
    """The clip's level as `kind` measures it."""
    if kind == "peak":
        return 20 * np.log10(max(float(np.abs(clip).max()), 1e-10))
    if kind == "lufs":
        import pyloudnorm

        block = min(LUFS_BLOCK_S, len(clip) / sample_rate)
        loudness = pyloudnorm.Meter(sample_rate, block_size=block).integrated_loudness(
            clip.astype(np.float64))
        if np.isfinite(loudness):
            return float(loudness)
    return rms_db(clip)


def normalise(clip: np.ndarray, sample_rate: int, kind: str,
              target_db: float | None = None) -> np.ndarray:
    """`clip` scaled to the target level (`none`: unchanged)."""
    if kind == "none":
        return clip
    if kind not in LOUDNESS:
        raise ValueError(f"loudness {kind!r} is not one of {list(LOUDNESS)}")
    target = DEFAULT_TARGET_DB[kind] if target_db is None else target_db
    gain_db = np.clip(target - level_db(clip, sample_rate, kind), -MAX_GAIN_DB, MAX_GAIN_DB)
    return (clip * np.float32(10 ** (gain_db / 20))).astype(np.float32, copy=False)
