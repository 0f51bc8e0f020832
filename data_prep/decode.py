"""Decode one file to a mono clip of fixed length, or say why it cannot be used."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

import numpy as np
import soundfile as sf
import soxr

from . import loudness
from .config import DatasetConfig

MAX_CHANNELS = 2


class Rejected(Exception):
    """A clip that cannot be used; the message is the reason recorded in `rejected.csv`."""


def read_audio(path: str, max_file_mb: float) -> tuple[np.ndarray, int]:
    """(frames, channels) float32 and the native rate, or `Rejected` with the reason."""
    try:
        size = os.path.getsize(path)
    except OSError:
        raise Rejected("missing: no such file") from None
    if size == 0:
        raise Rejected("empty: the file has no bytes")
    if size > max_file_mb * 2**20:
        raise Rejected(f"oversized: {size / 2**20:.0f} MB exceeds max_file_mb {max_file_mb:g}")
    try:
        with sf.SoundFile(path) as f:
            declared = f.frames
            if f.channels > MAX_CHANNELS:
                raise Rejected(f"{f.channels} channels; expected mono or stereo")
            audio = f.read(dtype="float32", always_2d=True)
            rate = f.samplerate
            notes = f.extra_info
    except Rejected:
        raise
    except Exception as error:  # libsndfile's errors share no common type
        raise Rejected(f"unreadable: {str(error).strip()}") from None
    truncated = _truncation(notes)
    if truncated or len(audio) < declared:
        raise Rejected(f"truncated: {truncated or f'{len(audio)} of {declared} frames'}")
    if len(audio) == 0:
        raise Rejected("empty: no samples")
    return audio, rate


_SHORT_CHUNK = re.compile(r"^(data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def _truncation(notes: str) -> str:
    """libsndfile reads a cut-off WAV or AIFF without error, shortening it silently, but
    notes in its header report that the audio chunk is shorter than declared."""
    match = _SHORT_CHUNK.search(notes)
    return f"{match[3]} of {match[2]} audio bytes present" if match else ""


@dataclass(frozen=True)
class Decoded:
    clip: np.ndarray  # float32, the configured length and level
    seconds: float  # the recording's own duration
    level_db: float  # its RMS level in dBFS, before any loudness normalisation
    digest: str  # a hash of its samples at the configured rate, to find duplicates


def decode_clip(path: str, config: DatasetConfig) -> Decoded:
    """One file as the dataset config prepares it, with what the summary reports of it."""
    mono = load_mono(path, config.sample_rate, config.min_seconds, config.max_file_mb)
    digest = hashlib.blake2b(mono.tobytes(), digest_size=8).hexdigest()
    level = loudness.rms_db(mono)
    mono = loudness.normalise(mono, config.sample_rate, config.loudness, config.loudness_db)
    clip = fix_length(mono, config.stored_samples, config.pad_policy)
    return Decoded(clip, len(mono) / config.sample_rate, level, digest)


def load_mono(path: str, sample_rate: int, min_seconds: float = 0.0,
              max_file_mb: float = 512.0) -> np.ndarray:
    """The whole recording, mixed to mono and resampled; `Rejected` with the reason."""
    audio, native_rate = read_audio(path, max_file_mb)
    mono = audio[:, 0] if audio.shape[1] == 1 else audio.mean(axis=1)
    # One pass finds both: the peak of a clip with a NaN or an inf is not finite.
    peak = np.abs(mono).max()
    if not np.isfinite(peak):
        raise Rejected("non-finite samples (NaN or inf)")
    if peak == 0:
        raise Rejected("silent: every sample is zero")
    if len(mono) < min_seconds * native_rate:
        raise Rejected(f"too short: {len(mono) / native_rate:.3f}s < min_seconds {min_seconds}")
    if native_rate != sample_rate:
        mono = soxr.resample(mono, native_rate, sample_rate).astype(np.float32)
    return np.ascontiguousarray(mono, dtype=np.float32)


def fix_length(clip: np.ndarray, length: int, pad_policy: str) -> np.ndarray:
    """Crop the centre of a long clip; pad a short one with zeros or repeat it (`tile`)."""
    if len(clip) >= length:
        start = (len(clip) - length) // 2
        return clip[start : start + length]
    if pad_policy == "tile":
        return np.tile(clip, int(np.ceil(length / len(clip))))[:length]
    return np.pad(clip, (0, length - len(clip)))
