"""A clip's fundamental frequency, for the summary: whether the splits sit in one register.

librosa's YIN over frames of about 0.1 s (2048 samples at 16 kHz, hop a quarter: 7 ms for
a 3 s clip, where pYIN's voicing took 15 times longer), its median over the frames within
10 dB of the clip's loudest (the notes or the voice, not the pauses) that repeat at the
period found (not noise). A clip without three such frames has no pitch.
"""

from __future__ import annotations

import math

import librosa
import numpy as np

FMIN, FMAX = 50.0, 2000.0
LOUDEST_DB = 10.0
PERIODIC = 0.6  # normalised autocorrelation at the period above which a frame is pitched
MIN_FRAMES = 3


def median_f0(clip: np.ndarray, sample_rate: int) -> float:
    """Median fundamental (Hz) of the clip's loud frames; NaN when it is silent or too
    short to hold two periods of FMIN."""
    frame = 1024 if sample_rate <= 12000 else 2048 if sample_rate <= 24000 else 4096
    if len(clip) < frame or not np.any(clip):
        return math.nan
    hop = frame // 4
    f0 = librosa.yin(clip, fmin=FMIN, fmax=min(FMAX, sample_rate / 4), sr=sample_rate,
                     frame_length=frame, hop_length=hop, center=False)
    frames = librosa.util.frame(clip, frame_length=frame, hop_length=hop).astype(np.float64)
    n = min(len(f0), frames.shape[1])
    f0, frames = f0[:n], frames[:, :n]
    rms = np.sqrt(np.mean(np.square(frames), axis=0))
    loud = rms >= rms.max() * 10 ** (-LOUDEST_DB / 20)
    # Periodic: the frame correlates with itself one period later (noise does not).
    lags = np.clip(np.round(sample_rate / f0).astype(int), 1, frame // 2)
    periodic = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(loud):
        a, b = frames[: frame - lags[i], i], frames[lags[i]:, i]
        periodic[i] = a @ b > PERIODIC * np.sqrt((a @ a) * (b @ b)) + 1e-12
    pitched = loud & periodic
    return float(np.median(f0[pitched])) if pitched.sum() >= MIN_FRAMES else math.nan


def semitones(high: float, low: float) -> float:
    return 12 * math.log2(high / low)
