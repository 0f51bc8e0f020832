"""Offline augmentation: transformed copies of train clips, made once at preparation.

A true pitch shift (same tempo) or time stretch (same pitch) costs about 3 ms per 1 s clip
at 16 kHz on one core (bench/augment_speed.py): too slow for every batch of every epoch,
cheap once per clip in the parallel preparation. librosa's effects and audiomentations'
signalsmith-stretch measured within 15% of each other; librosa is already a dependency and
takes the shift as an argument, so every copy comes from our own seeded draw.

`pitch_method: world` resynthesises a copy with the WORLD vocoder (pyworld, an optional
extra): the clip's pitch track, spectral envelope and aperiodicity are analysed once, and
each copy is spoken again from them with the pitch track moved, and, with
`intonation_semitones`, bent by a smooth random contour. The phase vocoder cannot do the
latter: it moves every frame by one factor. Measured on espeak voices (bench/robustness.py's
speech), a voice raised 11-15 semitones also sings its words: at -p 15 many voices hold one
note (75 Hz throughout), at -p 85 the same word rises and falls over 2-4 semitones.
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


# WORLD's analysis frame (ms); its default.
WORLD_FRAME_MS = 5.0
# Control points of an intonation contour over a clip: rise, fall or both.
INTONATION_POINTS = 4


class WorldVoice:
    """One clip analysed by WORLD, to be spoken again at other pitches."""

    def __init__(self, clip: np.ndarray, sample_rate: int):
        import pyworld

        x = clip.astype(np.float64)
        f0, times = pyworld.dio(x, sample_rate, frame_period=WORLD_FRAME_MS)
        self.f0 = pyworld.stonemask(x, f0, times, sample_rate)
        self.envelope = pyworld.cheaptrick(x, self.f0, times, sample_rate)
        self.aperiodicity = pyworld.d4c(x, self.f0, times, sample_rate)
        self.sample_rate, self.samples = sample_rate, len(clip)

    def speak(self, semitones: float, contour: np.ndarray | None = None) -> np.ndarray:
        """The clip with its pitch `semitones` higher, plus `contour` (semitones per
        frame, as long as the pitch track) when given; the envelope stays where it was."""
        import pyworld

        shift = semitones if contour is None else semitones + contour
        f0 = self.f0 * 2.0 ** (np.asarray(shift) / 12.0)  # unvoiced frames stay 0
        y = pyworld.synthesize(f0, self.envelope, self.aperiodicity, self.sample_rate,
                               frame_period=WORLD_FRAME_MS)
        return fix_length(y.astype(np.float32), self.samples, "pad")

    def contour(self, rng: np.random.Generator, semitones: float) -> np.ndarray:
        """A smooth random intonation within +-`semitones`: a few points joined smoothly."""
        points = rng.uniform(-semitones, semitones, INTONATION_POINTS)
        where = np.linspace(0, 1, len(self.f0))
        curve = np.interp(where, np.linspace(0, 1, INTONATION_POINTS), points)
        window = np.hanning(21)  # 100 ms at WORLD's 5 ms frames: rounds the corners
        edges = np.pad(curve, len(window) // 2, mode="edge")  # "valid" keeps the length
        return np.convolve(edges, window / window.sum(), "valid")


def clip_seed(clip_id: str, seed: int) -> int:
    """A clip's own stream of draws, whichever batch or worker prepares it."""
    return zlib.crc32(clip_id.encode()) ^ (seed * 0x9E3779B1 & 0xFFFFFFFF)


def make_copies(clip: np.ndarray, clip_id: str, sample_rate: int, config: AugmentConfig,
                pad_policy: str = "pad") -> np.ndarray:
    """`config.copies` transformed versions of one stored clip, each of its length:
    (copies, samples) float32."""
    rng = np.random.default_rng(clip_seed(clip_id, config.seed))
    out = np.empty((config.copies, len(clip)), np.float32)
    world = WorldVoice(clip, sample_rate) if config.pitch_method == "world" else None
    for k in range(config.copies):
        semitones = rng.uniform(*config.pitch_semitones)
        # Log-uniform, so that 0.8 and 1.25 are equally likely around 1.
        rate = float(np.exp(rng.uniform(*np.log(config.stretch))))
        if world is None:
            pitched = shift_pitch(clip, sample_rate, semitones, config.keep_formants)
        else:
            bend = world.contour(rng, config.intonation_semitones) \
                if config.intonation_semitones else None
            pitched = world.speak(semitones, bend)
        changed = stretch_time(pitched, rate)
        out[k] = fix_length(changed, len(clip), pad_policy)
    return out
