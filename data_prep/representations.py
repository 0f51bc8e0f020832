"""Column makers: a batch of fixed-length clips -> the arrays a model reads.

Each is a function registered with `register_representation` (its name, the shape of one
clip's array, the axes its train statistics pool over, and its `Kind`: waveform,
spectrogram or vector, all that training reads of it): a new representation is one
function here or anywhere else.

- `waveform`: the samples, (samples,).
- `logmel`: a log-mel spectrogram in dB, (n_mels, frames); the STFT runs batched (scipy's
  FFT over strided frames: faster than per-clip librosa, and no torch import in the
  preparation workers).
- `mfcc`: the DCT of the log-mel, as librosa computes it, (n_mfcc, frames).
- `cqt`: the constant-Q transform in dB, a bin a semitone from C1, (bins, frames): a pitch
  shift is a shift along its bins.
- `features`: the genre seed's summary vector: MFCC, chroma, spectral centroid, bandwidth,
  contrast, rolloff, zero-crossing rate, RMS and tonnetz, each as mean and std over time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft

from contracts.kinds import Kind
from contracts.registry import REPRESENTATIONS

from .config import DatasetConfig

Compute = Callable[[np.ndarray, DatasetConfig], np.ndarray]


@dataclass(frozen=True)
class Representation:
    name: str
    compute: Compute  # (clips, stored_samples) float32 -> (clips, *shape)
    shape: Callable[[DatasetConfig], tuple[int, ...]]  # one clip's array
    # Axes of a (clips, ...) batch that the train statistics pool over: (0, 1) one mean for
    # a whole waveform, (0, 2) one per mel bin, (0,) one per vector entry.
    pooled_axes: tuple[int, ...]
    kind: Kind
    # It calls librosa functions whose numba kernels are cached on disk: the preparation
    # compiles them once, alone, before workers run them in parallel (see `kernels`).
    numba_kernels: bool = False
    # Spectrogram kinds: samples per frame (frames = 1 + samples // hop); the dataset's
    # `hop_length` unless the representation says otherwise.
    hop: Callable[[DatasetConfig], int] = lambda config: config.hop_length


def register_representation(name: str, shape: Callable[[DatasetConfig], tuple[int, ...]],
                            pooled_axes: tuple[int, ...], kind: Kind,
                            numba_kernels: bool = False,
                            hop: Callable[[DatasetConfig], int] | None = None,
                            ) -> Callable[[Compute], Compute]:
    """Register `compute` as representation `name`, whose arrays are of `kind`; training
    crops, augments and feeds models by the kind alone."""
    def add(compute: Compute) -> Compute:
        entry = Representation(name, compute, shape, pooled_axes, Kind(kind), numba_kernels)
        if hop is not None:
            entry = dataclasses.replace(entry, hop=hop)
        REPRESENTATIONS.register(name, entry, compute.__module__)
        return compute

    return add

AMIN = 1e-10  # as librosa.power_to_db and PANNs
SUMMARY = (("mfcc", 20), ("chroma", 12), ("centroid", 1), ("bandwidth", 1), ("contrast", 7),
           ("rolloff", 1), ("zcr", 1), ("rms", 1), ("tonnetz", 6))


def frames(config: DatasetConfig) -> int:
    return 1 + config.stored_samples // config.hop_length


def entry(config: DatasetConfig) -> Representation:
    return REPRESENTATIONS.get(config.representation, "dataset.representation")


def shape(config: DatasetConfig, rep: Representation | None = None) -> tuple[int, ...]:
    """One clip's array. `rep`: the registered entry, handed to Ray's workers (where a
    representation registered in the driver alone is not in the registry)."""
    return tuple((rep or entry(config)).shape(config))


def feature_names() -> list[str]:
    """Names of the `features` vector's entries, in order."""
    return [f"{name}_{i}_{stat}" for stat in ("mean", "std") for name, n in SUMMARY
            for i in range(n)]


def statistics_layout(config: DatasetConfig, rep: Representation | None = None,
                      ) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """How train statistics pool one clip's array: the axes summed within a clip (numbered
    as in a (clips, ...) batch), the shape of one clip's sums, and the values each sum
    pools per clip."""
    rep = rep or entry(config)
    inner = tuple(a for a in rep.pooled_axes if a != 0)
    clip_shape = shape(config, rep)
    stat_shape = tuple(1 if i + 1 in inner else n for i, n in enumerate(clip_shape))
    pooled = int(np.prod([clip_shape[a - 1] for a in inner]))
    return inner, stat_shape, pooled


_F_SP, _MIN_LOG_HZ, _LOGSTEP = 200.0 / 3, 1000.0, np.log(6.4) / 27.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale, as librosa's default: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, _MIN_LOG_HZ) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, hz / _F_SP)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    log_part = _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL))
    return np.where(mel >= _MIN_LOG_MEL, log_part, _F_SP * mel)


@lru_cache(maxsize=8)
def mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> np.ndarray:
    """Slaney-normalised triangular mel filters, (n_mels, n_fft // 2 + 1): the same matrix
    as `librosa.filters.mel`, without importing librosa (and numba) in every worker."""
    fmax = sr / 2 if fmax is None else fmax
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_freqs = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(mel_freqs)
    ramps = mel_freqs[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    return weights.astype(np.float32)


@lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


# Samples per STFT chunk: the frames and spectra of a larger batch overflow the CPU caches
# (measured: 5 s clips at 526 clips/s in batches of 128, 995 in chunks of 4).
CHUNK_SAMPLES = 320_000


@register_representation("waveform", lambda c: (c.stored_samples,), pooled_axes=(0, 1),
                         kind=Kind.WAVEFORM)
def waveform(clips: np.ndarray, config: DatasetConfig) -> np.ndarray:
    return clips.astype(np.float32, copy=False)


@register_representation("logmel", lambda c: (c.n_mels, frames(c)), pooled_axes=(0, 2),
                         kind=Kind.SPECTROGRAM)
def logmel(clips: np.ndarray, config: DatasetConfig) -> np.ndarray:
    """(n, samples) -> (n, n_mels, frames) dB, matching librosa's melspectrogram(power=2)
    with a centred, zero-padded periodic Hann window."""
    n_fft, hop = config.n_fft, config.hop_length
    basis = mel_basis(config.sample_rate, n_fft, config.n_mels, config.fmin, config.fmax)
    window = _hann(n_fft)
    out = np.empty((len(clips), config.n_mels, 1 + clips.shape[1] // hop), np.float32)
    step = max(1, CHUNK_SAMPLES // max(clips.shape[1], 1))
    for start in range(0, len(clips), step):
        chunk = np.asarray(clips[start : start + step], dtype=np.float32)
        padded = np.pad(chunk, ((0, 0), (n_fft // 2, n_fft // 2)))
        frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=1)[:, ::hop]
        power = np.abs(scipy.fft.rfft(frames * window, axis=-1)) ** 2  # 2.8x re² + im²
        out[start : start + step] = np.einsum("mf,btf->bmt", basis, power, optimize=True)
    np.maximum(out, AMIN, out=out)
    np.log10(out, out=out)
    out *= 10
    return out


@register_representation("mfcc", lambda c: (c.n_mfcc, frames(c)), pooled_axes=(0, 2),
                         kind=Kind.SPECTROGRAM)
def mfcc(clips: np.ndarray, config: DatasetConfig) -> np.ndarray:
    db = logmel(clips, config)
    return scipy.fft.dct(db, axis=1, type=2, norm="ortho")[:, : config.n_mfcc].astype(np.float32)


CQT_FMIN = 32.70  # C1, when `fmin` is 0: the lowest note of most instruments
CQT_BINS_PER_OCTAVE = 12  # a bin a semitone: pitch_bins shifts by semitones


def cqt_bins(config: DatasetConfig) -> int:
    """Semitone bins from `fmin` (or C1) up to 0.9 of Nyquist (or `fmax`)."""
    fmin = config.fmin or CQT_FMIN
    top = min(config.fmax or config.sample_rate / 2, 0.9 * config.sample_rate / 2)
    return int(np.floor(CQT_BINS_PER_OCTAVE * np.log2(top / fmin)))


@register_representation("cqt", lambda c: (cqt_bins(c), frames(c)), pooled_axes=(0, 2),
                         kind=Kind.SPECTROGRAM, numba_kernels=True)
def cqt(clips: np.ndarray, config: DatasetConfig) -> np.ndarray:
    """(n, samples) -> (n, semitone bins, frames): the constant-Q transform's magnitude in dB
    (librosa), where a note moved by k semitones moves by k bins (20 ms for 3 s at 16 kHz)."""
    import librosa

    out = np.stack([np.abs(librosa.cqt(
        clip, sr=config.sample_rate, hop_length=config.hop_length,
        fmin=config.fmin or CQT_FMIN, n_bins=cqt_bins(config),
        bins_per_octave=CQT_BINS_PER_OCTAVE)) for clip in clips])
    return (20 * np.log10(np.maximum(out, 1e-5))).astype(np.float32)


def summary_features(clip: np.ndarray, sr: int, n_fft: int, hop: int) -> np.ndarray:
    import librosa

    stft = np.abs(librosa.stft(clip, n_fft=n_fft, hop_length=hop))
    harmonic = librosa.effects.harmonic(clip)
    parts = [
        librosa.feature.mfcc(y=clip, sr=sr, n_mfcc=20, n_fft=n_fft, hop_length=hop),
        librosa.feature.chroma_stft(S=stft**2, sr=sr, n_fft=n_fft, hop_length=hop),
        librosa.feature.spectral_centroid(S=stft, sr=sr, n_fft=n_fft, hop_length=hop),
        librosa.feature.spectral_bandwidth(S=stft, sr=sr, n_fft=n_fft, hop_length=hop),
        librosa.feature.spectral_contrast(S=stft, sr=sr, n_fft=n_fft, hop_length=hop,
                                          fmin=min(200.0, sr / 2**7)),
        librosa.feature.spectral_rolloff(S=stft, sr=sr, n_fft=n_fft, hop_length=hop),
        librosa.feature.zero_crossing_rate(clip, frame_length=n_fft, hop_length=hop),
        librosa.feature.rms(S=stft, frame_length=n_fft, hop_length=hop),
        librosa.feature.tonnetz(y=harmonic, sr=sr, chroma=librosa.feature.chroma_stft(
            y=harmonic, sr=sr, n_fft=n_fft, hop_length=hop)),
    ]
    stacked = np.concatenate(parts, axis=0)
    return np.concatenate([stacked.mean(axis=1), stacked.std(axis=1)]).astype(np.float32)


@register_representation("features", lambda c: (2 * sum(n for _, n in SUMMARY),),
                         pooled_axes=(0,), kind=Kind.VECTOR, numba_kernels=True)
def features(clips: np.ndarray, config: DatasetConfig) -> np.ndarray:
    return np.stack([summary_features(c, config.sample_rate, config.n_fft, config.hop_length)
                     for c in clips])


def compute(clips: np.ndarray, config: DatasetConfig,
            rep: Representation | None = None) -> np.ndarray:
    """A batch of clips (n, stored_samples) -> (n, *shape(config)), float32."""
    rep = rep or entry(config)
    if len(clips) == 0:  # an all-rejected batch; MKL's FFT refuses empty input
        return np.zeros((0, *shape(config, rep)), np.float32)
    return np.asarray(rep.compute(clips, config), dtype=np.float32)
