"""Offline augmentation: transformed copies of train clips, made once at preparation.

A true pitch shift (same tempo) or time stretch (same pitch) costs about 3 ms per 1 s clip
at 16 kHz on one core (bench/augment_speed.py): too slow for every batch of every epoch,
cheap once per clip in the parallel preparation. librosa's effects and audiomentations'
signalsmith-stretch measured within 15% of each other; librosa is already a dependency and
takes the shift as an argument, so every copy comes from our own seeded draw.
"""

from __future__ import annotations

import zlib

import librosa
import numpy as np

from .config import AugmentConfig
from .decode import fix_length

# The spectral envelope: the log spectrum's cepstrum up to this quefrency (1.5 ms), below the
# period of any voice's pitch (2.5 ms at 400 Hz), so that the harmonics are smoothed away.
ENVELOPE_QUEFRENCY_S = 0.0015
ENVELOPE_FFT_S = 0.064


def shift_pitch(clip: np.ndarray, sample_rate: int, semitones: float,
                keep_formants: bool = False) -> np.ndarray:
    """The same clip, `semitones` higher (negative: lower), at the same tempo and length.
    A phase vocoder moves the whole spectrum, resonances too (a tape played faster); with
    `keep_formants` the spectral envelope is put back where it was, so that only the pitch
    moves, as when a speaker or an instrument plays in another register."""
    if semitones == 0:
        return clip
    shifted = librosa.effects.pitch_shift(clip, sr=sample_rate, n_steps=float(semitones),
                                          res_type="soxr_hq")
    if keep_formants:
        shifted = _restore_envelope(clip, shifted, sample_rate)
    return shifted.astype(np.float32)


def _restore_envelope(original: np.ndarray, shifted: np.ndarray, sample_rate: int
                      ) -> np.ndarray:
    n_fft = int(2 ** np.ceil(np.log2(ENVELOPE_FFT_S * sample_rate)))
    hop = n_fft // 4
    before = librosa.stft(original, n_fft=n_fft, hop_length=hop)
    after = librosa.stft(shifted, n_fft=n_fft, hop_length=hop)
    gain = np.exp(_log_envelope(before, sample_rate) - _log_envelope(after, sample_rate))
    return librosa.istft(after * gain, hop_length=hop, n_fft=n_fft, length=len(original))


def _log_envelope(spectrum: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per frame, the log magnitude smoothed over frequency by liftering its cepstrum."""
    log_magnitude = np.log(np.abs(spectrum) + 1e-8)
    cepstrum = np.fft.irfft(log_magnitude, axis=0)
    cutoff = max(1, int(ENVELOPE_QUEFRENCY_S * sample_rate))
    cepstrum[cutoff : len(cepstrum) - cutoff + 1] = 0
    return np.fft.rfft(cepstrum, axis=0).real[: len(log_magnitude)]


def stretch_time(clip: np.ndarray, rate: float) -> np.ndarray:
    """The same clip played `rate` times as fast at the same pitch: len(clip) / rate long."""
    if rate == 1:
        return clip
    return librosa.effects.time_stretch(clip, rate=float(rate)).astype(np.float32)


def clip_seed(clip_id: str, seed: int) -> int:
    """A clip's own stream of draws, whichever batch or worker prepares it."""
    return zlib.crc32(clip_id.encode()) ^ (seed * 0x9E3779B1 & 0xFFFFFFFF)


def make_copies(clip: np.ndarray, clip_id: str, sample_rate: int, config: AugmentConfig,
                pad_policy: str = "pad") -> np.ndarray:
    """`config.copies` transformed versions of one stored clip, each of its length:
    (copies, samples) float32."""
    rng = np.random.default_rng(clip_seed(clip_id, config.seed))
    out = np.empty((config.copies, len(clip)), np.float32)
    for k in range(config.copies):
        semitones = rng.uniform(*config.pitch_semitones)
        # Log-uniform, so that 0.8 and 1.25 are equally likely around 1.
        rate = float(np.exp(rng.uniform(*np.log(config.stretch))))
        changed = stretch_time(
            shift_pitch(clip, sample_rate, semitones, config.keep_formants), rate)
        out[k] = fix_length(changed, len(clip), pad_policy)
    return out
