"""Waveform front ends that hear band energies rather than the samples themselves.

- `LogEnergy`: each channel's log mean square over windows, as in time-domain filterbanks
  (Zeghidour et al., 2018).
- `GaborFilterbank`: complex band-pass filters on the mel scale, as LEAF and time-domain
  filterbanks start theirs (Zeghidour et al., 2018 and 2021), whose squared magnitudes are
  each band's energy envelope; kept as they start unless asked to learn (learnt, they
  held a model across voice register worse: bench/RESULTS.md, session 11).
- `Cepstra`: log band energies to their first coefficients of a DCT-II, as MFCCs are made:
  the few low coefficients keep the spectral envelope and drop the harmonics' fine
  structure, where a voice's pitch sits (bench/RESULTS.md, session 9: 13 MFCCs held a
  spectrogram model across voice register where log-mel did not).
"""

from __future__ import annotations

import math

import torch
from torch import nn

MEL_LOW_HZ = 60.0  # LEAF's lowest centre


class LogEnergy(nn.Module):
    """Each channel's log mean square over windows of `window` frames, half-overlapping;
    with `square` False the input is a power already (a filterbank's squared magnitude)."""

    def __init__(self, window: int, square: bool = True):
        super().__init__()
        self.pool = nn.AvgPool1d(window, stride=max(1, window // 2))
        self.square = square

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The floor sits 100 dB under a full-scale band: silence stays finite.
        return torch.log(self.pool(x * x if self.square else x) + 1e-10)


def _hz_to_mel(hz: float | torch.Tensor) -> torch.Tensor:
    return 2595.0 * torch.log10(1.0 + torch.as_tensor(hz, dtype=torch.float64) / 700.0)


def _mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def mel_gabor_weights(bands: int, kernel: int, sample_rate: int) -> torch.Tensor:
    """(2 * bands, 1, kernel) conv weights: each band's real (cosine) filters, then its
    imaginary (sine) ones. Centres mel-spaced from 60 Hz to Nyquist; each Gaussian's
    half-height width is the gap between its neighbours' centres, as a triangular mel
    filter's is, but no longer in time than the kernel allows (a sixth of it a standard
    deviation): the lowest bands come out wider than mel's, which averages a low voice's
    harmonics instead of resolving them."""
    nyquist = sample_rate / 2
    edges = _mel_to_hz(torch.linspace(float(_hz_to_mel(MEL_LOW_HZ)),
                                      float(_hz_to_mel(nyquist)), bands + 2))
    centres = edges[1:-1]
    width_hz = (edges[2:] - edges[:-2]) / 2
    sigma_f = width_hz / (2 * math.sqrt(2 * math.log(2)))
    sigma_t = torch.clamp(sample_rate / (2 * math.pi * sigma_f), max=kernel / 6)  # samples
    t = torch.arange(kernel, dtype=torch.float64) - (kernel - 1) / 2
    envelope = torch.exp(-0.5 * (t / sigma_t[:, None]) ** 2)
    envelope = envelope / envelope.sum(dim=1, keepdim=True)  # unit gain at the centre
    phase = 2 * math.pi * centres[:, None] / sample_rate * t
    weights = torch.cat([envelope * torch.cos(phase), envelope * torch.sin(phase)])
    return weights.unsqueeze(1).float()


class GaborFilterbank(nn.Module):
    """`bands` complex filters of `kernel` samples, strided: (n, 1, t) -> each band's
    squared magnitude, (n, bands, t / stride)."""

    def __init__(self, bands: int, kernel: int, stride: int, sample_rate: int,
                 learn: bool = False):
        super().__init__()
        self.bands = bands
        self.conv = nn.Conv1d(1, 2 * bands, kernel, stride=stride, padding=kernel // 2,
                              bias=False)
        self.conv.weight.requires_grad_(learn)
        self.reset_parameters(sample_rate)

    def reset_parameters(self, sample_rate: int) -> None:
        with torch.no_grad():
            self.conv.weight.copy_(mel_gabor_weights(self.bands, self.conv.kernel_size[0],
                                                     sample_rate))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        real, imaginary = self.conv(x).split(self.bands, dim=1)
        return real * real + imaginary * imaginary


class Cepstra(nn.Module):
    """(n, bands, t) log energies -> (n, coefficients, t): the first coefficients of each
    frame's orthonormal DCT-II across the bands."""

    def __init__(self, bands: int, coefficients: int):
        super().__init__()
        if not 1 <= coefficients <= bands:
            raise ValueError(f"cepstra {coefficients} must be between 1 and bands {bands}")
        k = torch.arange(coefficients, dtype=torch.float64)[:, None]
        n = torch.arange(bands, dtype=torch.float64)[None, :]
        dct = torch.cos(math.pi / bands * (n + 0.5) * k) * math.sqrt(2 / bands)
        dct[0] /= math.sqrt(2)
        self.register_buffer("dct", dct.float())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("kb,nbt->nkt", self.dct, x)
