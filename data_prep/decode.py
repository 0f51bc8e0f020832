"""Decode one file to a mono clip of fixed length, or say why it cannot be used."""

from __future__ import annotations

import numpy as np
import soundfile as sf
import soxr

MAX_CHANNELS = 2


class Rejected(Exception):
    """A clip that cannot be used; the message is the reason recorded in `rejected.csv`."""


def load_clip(path: str, sample_rate: int, clip_samples: int, pad_policy: str) -> np.ndarray:
    try:
        audio, native_rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception as error:  # libsndfile's errors name no common type
        raise Rejected(f"unreadable: {error}") from None
    if audio.shape[0] == 0:
        raise Rejected("empty: no samples")
    if audio.shape[1] > MAX_CHANNELS:
        raise Rejected(f"{audio.shape[1]} channels; expected mono or stereo")
    if not np.isfinite(audio).all():
        raise Rejected("non-finite samples (NaN or inf)")
    mono = audio.mean(axis=1)
    if not np.abs(mono).max() > 0:
        raise Rejected("silent: every sample is zero")
    if native_rate != sample_rate:
        mono = soxr.resample(mono, native_rate, sample_rate).astype(np.float32)
    return fix_length(mono, clip_samples, pad_policy)


def fix_length(clip: np.ndarray, length: int, pad_policy: str) -> np.ndarray:
    """Crop the centre of a long clip; pad a short one with zeros or repeat it (`tile`)."""
    if len(clip) >= length:
        start = (len(clip) - length) // 2
        return clip[start : start + length]
    if pad_policy == "tile":
        return np.tile(clip, int(np.ceil(length / len(clip))))[:length]
    return np.pad(clip, (0, length - len(clip)))
