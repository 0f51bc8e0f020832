"""Column makers: a batch of fixed-length clips -> the arrays a model reads.

- `waveform`: the samples, (samples,).
- `logmel`: a log-mel spectrogram in dB, (n_mels, frames); the STFT runs batched in torch.
- `mfcc`: the DCT of the log-mel, as librosa computes it, (n_mfcc, frames).
- `features`: the genre seed's summary vector: MFCC, chroma, spectral centroid, bandwidth,
  contrast, rolloff, zero-crossing rate, RMS and tonnetz, each as mean and std over time.
"""

from __future__ import annotations

from functools import lru_cache

import librosa
import numpy as np
import scipy.fft
import torch

from .config import DatasetConfig

AMIN = 1e-10  # as librosa.power_to_db and PANNs
SUMMARY = (("mfcc", 20), ("chroma", 12), ("centroid", 1), ("bandwidth", 1), ("contrast", 7),
           ("rolloff", 1), ("zcr", 1), ("rms", 1), ("tonnetz", 6))


def frames(config: DatasetConfig) -> int:
    return 1 + config.stored_samples // config.hop_length


def shape(config: DatasetConfig) -> tuple[int, ...]:
    rep = config.representation
    if rep == "waveform":
        return (config.stored_samples,)
    if rep == "logmel":
        return (config.n_mels, frames(config))
    if rep == "mfcc":
        return (config.n_mfcc, frames(config))
    return (2 * sum(n for _, n in SUMMARY),)


def feature_names() -> list[str]:
    """Names of the `features` vector's entries, in order."""
    return [f"{name}_{i}_{stat}" for stat in ("mean", "std") for name, n in SUMMARY
            for i in range(n)]


def normalisation_axes(representation: str) -> tuple[int, ...]:
    """Axes of a (clips, ...) batch that the train statistics pool over: one mean per mel
    bin or MFCC, per summary feature, and one for the whole waveform."""
    return {"waveform": (0, 1), "logmel": (0, 2), "mfcc": (0, 2), "features": (0,)}[
        representation
    ]


@lru_cache(maxsize=8)
def _mel_basis(sr: int, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> torch.Tensor:
    return torch.from_numpy(librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin,
                                                fmax=fmax)).float()


def logmel(clips: np.ndarray, config: DatasetConfig) -> np.ndarray:
    """(n, samples) -> (n, n_mels, frames) dB, matching librosa's melspectrogram(power=2)."""
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(clips, dtype=np.float32))
        window = torch.hann_window(config.n_fft)
        spec = torch.stft(x, config.n_fft, config.hop_length, window=window, center=True,
                          pad_mode="constant", return_complex=True)
        power = spec.real.square() + spec.imag.square()
        mel = _mel_basis(config.sample_rate, config.n_fft, config.n_mels, config.fmin,
                         config.fmax) @ power
        return (10 * torch.log10(mel.clamp_min(AMIN))).numpy()


def mfcc(clips: np.ndarray, config: DatasetConfig) -> np.ndarray:
    db = logmel(clips, config)
    return scipy.fft.dct(db, axis=1, type=2, norm="ortho")[:, : config.n_mfcc].astype(np.float32)


def summary_features(clip: np.ndarray, sr: int, n_fft: int, hop: int) -> np.ndarray:
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


def compute(clips: np.ndarray, config: DatasetConfig) -> np.ndarray:
    """A batch of clips (n, stored_samples) -> (n, *shape(config)), float32."""
    rep = config.representation
    if len(clips) == 0:  # an all-rejected batch; MKL's FFT refuses empty input
        return np.zeros((0, *shape(config)), np.float32)
    if rep == "waveform":
        return clips.astype(np.float32, copy=False)
    if rep == "logmel":
        return logmel(clips, config)
    if rep == "mfcc":
        return mfcc(clips, config)
    if rep == "features":
        return np.stack([summary_features(c, config.sample_rate, config.n_fft,
                                          config.hop_length) for c in clips])
    raise ValueError(f"unknown representation {rep!r}")
