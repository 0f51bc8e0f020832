"""Batch augmentations, each a function of a tensor batch and a `torch.Generator`.

Waveforms are (batch, samples); spectrograms (batch, bins, frames). Every function is
deterministic under its generator and returns a new tensor. `Augmenter` applies the ones a
trial's config turns on, in a fixed order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from contracts.kinds import Kind

from .keys import Key

KEYS = (
    Key("gain_db", "float", 0.0, "waveform: random gain within +-dB", interval="[0, 60]"),
    Key("noise_snr_db", "pair", None, "waveform: add noise at an SNR drawn from [low, high] dB",
        interval="[-30, 100]", nullable=True),
    Key("noise", "str", "white", "noise_snr_db's noise: white, or the dataset's background "
        "recordings", choices=("white", "background")),
    Key("time_shift", "float", 0.0, "roll by up to this fraction of the clip",
        interval="[0, 1)"),
    Key("speed", "float", 0.0, "waveform: play up to this much faster or slower",
        interval="[0, 0.9]"),
    Key("eq_db", "float", 0.0, "waveform: filter by a random smooth EQ curve within +-dB",
        interval="[0, 60]"),
    Key("pitch_bins", "int", 0, "spectrogram: shift up or down by up to this many bins",
        interval="[0, 64]"),
    Key("spec_time_masks", "int", 0, "SpecAugment: time masks per clip", interval="[0, 32]"),
    Key("spec_time_width", "int", 10, "SpecAugment: widest time mask, frames",
        interval="[0, 10000]"),
    Key("spec_freq_masks", "int", 0, "SpecAugment: frequency masks per clip",
        interval="[0, 32]"),
    Key("spec_freq_width", "int", None, "SpecAugment: widest frequency mask, bins; by "
        "default an eighth of the input's bins (8 of 64 mel bands, 2 of 13 MFCCs)",
        interval="[0, 1000]", nullable=True),
    Key("mixup_alpha", "float", 0.0, "mixup's Beta(alpha, alpha); 0: off", interval="[0, 10]"),
)


def _uniform(n: int, low: float, high: float, g: torch.Generator, device) -> torch.Tensor:
    return (torch.rand(n, generator=g) * (high - low) + low).to(device)


def random_crop(x: torch.Tensor, length: int, g: torch.Generator) -> torch.Tensor:
    """A random window of `length` along the last axis, per example."""
    total = x.shape[-1]
    if total <= length:
        return x
    starts = torch.randint(0, total - length + 1, (x.shape[0],), generator=g).to(x.device)
    index = starts[:, None] + torch.arange(length, device=x.device)
    index = index.view(x.shape[0], *([1] * (x.dim() - 2)), length).expand(*x.shape[:-1], length)
    return x.gather(-1, index)


def centre_crop(x: torch.Tensor, length: int) -> torch.Tensor:
    start = max(0, (x.shape[-1] - length) // 2)
    return x[..., start : start + length]


def time_shift(x: torch.Tensor, max_fraction: float, g: torch.Generator) -> torch.Tensor:
    """Roll each example by up to `max_fraction` of its length, either way."""
    limit = int(x.shape[-1] * max_fraction)
    if limit == 0:
        return x
    shifts = torch.randint(-limit, limit + 1, (x.shape[0],), generator=g).tolist()
    return torch.stack([torch.roll(row, s, dims=-1) for row, s in zip(x, shifts, strict=True)])


def gain(x: torch.Tensor, max_db: float, g: torch.Generator) -> torch.Tensor:
    """Scale each waveform by a random gain within +-max_db."""
    db = _uniform(x.shape[0], -max_db, max_db, g, x.device)
    return x * (10 ** (db / 20)).view(-1, *([1] * (x.dim() - 1)))


def add_noise(
    x: torch.Tensor,
    snr_db: tuple[float, float],
    g: torch.Generator,
    noise_bank: torch.Tensor | None = None,
) -> torch.Tensor:
    """White noise, or random excerpts of background recordings, at a random SNR."""
    if noise_bank is not None and len(noise_bank):
        rows = torch.randint(0, len(noise_bank), (x.shape[0],), generator=g).to(x.device)
        noise = random_crop(noise_bank[rows], x.shape[-1], g)
    else:
        noise = torch.randn(x.shape, generator=g).to(x.device)
    snr = _uniform(x.shape[0], snr_db[0], snr_db[1], g, x.device).view(-1, 1)
    signal_rms = x.pow(2).mean(dim=-1, keepdim=True).sqrt()
    noise_rms = noise.pow(2).mean(dim=-1, keepdim=True).sqrt().clamp_min(1e-8)
    return x + noise * signal_rms / noise_rms / 10 ** (snr / 20)


EQ_POINTS = 6  # gains at log-spaced frequencies, straight lines between them


def random_eq(x: torch.Tensor, max_db: float, g: torch.Generator) -> torch.Tensor:
    """Filter each waveform by its own random EQ: gains drawn within +-max_db at EQ_POINTS
    log-spaced frequencies (lowest bin to Nyquist), interpolated between them on a
    log-frequency axis. A cut at the top is a low-pass; a tilt, another microphone or room."""
    spectrum = torch.fft.rfft(x, dim=-1)
    bins = spectrum.shape[-1]
    db = _uniform(x.shape[0] * EQ_POINTS, -max_db, max_db, g, x.device).view(-1, EQ_POINTS)
    where = torch.log1p(torch.arange(bins, device=x.device, dtype=x.dtype))
    where = where / where[-1] * (EQ_POINTS - 1)
    left = where.floor().long().clamp(max=EQ_POINTS - 2)
    fraction = where - left
    curve_db = db[:, left] * (1 - fraction) + db[:, left + 1] * fraction
    return torch.fft.irfft(spectrum * 10 ** (curve_db / 20), n=x.shape[-1], dim=-1)


def speed(x: torch.Tensor, max_change: float, g: torch.Generator) -> torch.Tensor:
    """Play each waveform faster or slower by up to `max_change` (pitch moves with it),
    then crop or zero-pad back to its length."""
    length = x.shape[-1]
    out = torch.zeros_like(x)
    factors = _uniform(x.shape[0], 1 - max_change, 1 + max_change, g, "cpu").tolist()
    for i, factor in enumerate(factors):
        new_length = max(2, int(round(length / factor)))
        resampled = F.interpolate(x[i : i + 1, None], size=new_length, mode="linear",
                                  align_corners=False)[0, 0]
        keep = min(length, new_length)
        out[i, :keep] = resampled[:keep]
    return out


def pitch_shift_bins(x: torch.Tensor, max_bins: int, g: torch.Generator) -> torch.Tensor:
    """Shift each spectrogram up or down by up to `max_bins` frequency bins (an
    approximate pitch shift on the mel scale), filling with the example's minimum."""
    if max_bins == 0:
        return x
    shifts = torch.randint(-max_bins, max_bins + 1, (x.shape[0],), generator=g).tolist()
    out = x.clone()
    for i, s in enumerate(shifts):
        if s == 0:
            continue
        floor = x[i].min()
        out[i] = floor
        if s > 0:
            out[i, s:] = x[i, :-s]
        else:
            out[i, :s] = x[i, -s:]
    return out


def spec_augment(
    x: torch.Tensor,
    time_masks: int,
    time_width: int,
    freq_masks: int,
    freq_width: int,
    g: torch.Generator,
    fill_mean: bool = False,
) -> torch.Tensor:
    """SpecAugment (Park et al., 2019): zero random bands of frames and of frequency bins
    (zero is the train mean after normalisation); with `fill_mean`, fill them with each
    example's mean instead (for raw, unnormalised dB)."""
    out = x.clone()
    batch, bins, frames = x.shape
    fill = x.mean(dim=(1, 2), keepdim=True) if fill_mean else x.new_zeros(1, 1, 1)
    for axis, count, width, size in ((2, time_masks, time_width, frames),
                                     (1, freq_masks, freq_width, bins)):
        for _ in range(count):
            widths = torch.randint(0, width + 1, (batch,), generator=g)
            starts = (torch.rand(batch, generator=g) * (size - widths).clamp_min(1)).long()
            positions = torch.arange(size)
            mask = (positions >= starts[:, None]) & (positions < (starts + widths)[:, None])
            mask = mask.to(x.device)
            mask = mask[:, None, :] if axis == 2 else mask[:, :, None]
            out = torch.where(mask, fill, out)
    return out


def mixup(
    x: torch.Tensor, y: torch.Tensor, alpha: float, g: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mixup (Zhang et al., 2018) of inputs and soft targets (batch, classes)."""
    # torch's Beta sampler takes no generator; a numpy one seeded from `g` keeps it repeatable.
    seed = int(torch.randint(0, 2**31 - 1, (1,), generator=g))
    lam = np.random.default_rng(seed).beta(alpha, alpha, size=x.shape[0])
    lam = torch.from_numpy(lam).to(x.device, x.dtype)
    perm = torch.randperm(x.shape[0], generator=g).to(x.device)
    shape = (-1, *([1] * (x.dim() - 1)))
    mixed_x = lam.view(shape) * x + (1 - lam.view(shape)) * x[perm]
    mixed_y = lam.view(-1, 1) * y + (1 - lam.view(-1, 1)) * y[perm]
    return mixed_x, mixed_y


def freq_width(config: Mapping[str, Any], bins: int) -> int:
    """SpecAugment's widest frequency mask: `spec_freq_width` bins, or by default an eighth
    of the input's: the 8 of 64 mel bands this loop always used, in proportion, since a
    fixed 8 masked most of 13 MFCCs (cnn2d trials with two such masks averaged 0.36,
    bench/RESULTS.md)."""
    width = config.get("spec_freq_width")
    return max(1, round(bins / 8)) if width is None else width


class Augmenter:
    """The augmentations a trial's config turns on. Keys (all off by default):

    waveform: `eq_db`, `gain_db`, `noise_snr_db` [low, high] (`noise: background` for the
    dataset's background recordings), `time_shift`, `speed`;
    spectrogram: `spec_time_masks`, `spec_time_width`, `spec_freq_masks`, `spec_freq_width`,
    `pitch_bins`, `time_shift`; both: `mixup_alpha`, random crop from `crop_length`.
    """

    def __init__(self, config: Mapping[str, Any], kind: Kind,
                 noise_bank: torch.Tensor | None = None, normalised: bool = True):
        self.c = config
        self.normalised = normalised
        self.waveform = kind == Kind.WAVEFORM
        self.spectrogram = kind == Kind.SPECTROGRAM
        self.noise_bank = noise_bank if config.get("noise") == "background" else None

    @property
    def mixes_labels(self) -> bool:
        return self.c.get("mixup_alpha", 0) > 0

    def __call__(self, x: torch.Tensor, y: torch.Tensor,
                 g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.c
        if self.waveform:
            if c.get("speed", 0) > 0:
                x = speed(x, c["speed"], g)
            if c.get("eq_db", 0) > 0:
                x = random_eq(x, c["eq_db"], g)
            if c.get("gain_db", 0) > 0:
                x = gain(x, c["gain_db"], g)
            if c.get("noise_snr_db"):
                x = add_noise(x, tuple(c["noise_snr_db"]), g, self.noise_bank)
        if c.get("time_shift", 0) > 0:
            x = time_shift(x, c["time_shift"], g)
        if self.spectrogram:
            if c.get("pitch_bins", 0) > 0:
                x = pitch_shift_bins(x, c["pitch_bins"], g)
            if c.get("spec_time_masks", 0) or c.get("spec_freq_masks", 0):
                x = spec_augment(x, c.get("spec_time_masks", 0), c.get("spec_time_width", 10),
                                 c.get("spec_freq_masks", 0), freq_width(c, x.shape[1]), g,
                                 fill_mean=not self.normalised)
        if self.mixes_labels:
            x, y = mixup(x, y, c["mixup_alpha"], g)
        return x, y
