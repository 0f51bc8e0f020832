"""1D CNN on the raw waveform, after the Speech Commands seed and M5 (Dai et al., 2017).

A strided first layer downsamples early (the waveform is long); then `conv_layers - 1`
blocks of conv, normalisation, activation and max-pooling, optionally VGG-style (two
convs per block); global average pooling; dropout; a linear head.

With `front: energy` the first layer is a learnt filterbank in the manner of
time-domain filterbanks (Zeghidour et al., 2018): each filter's output squared, averaged
over `pool` frames (half-overlapping windows) and log-compressed, so that what the blocks
see is each band's log energy, as in a spectrogram, rather than the waveform's pitch
pulses. A window longer than a pitch period (20 ms covers voices down to 50 Hz) averages
the voice's pitch out of the bands.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..blocks import activation, initialise, layer_keys, norm1d
from ..keys import Key
from .registry import register

KEYS = (
    Key("conv_layers", "int", 4, "conv layers, the strided front one included",
        interval="[1, 16]"),
    Key("channels", "int", 64, "channels of the first conv", interval="[1, 4096]"),
    Key("channel_growth", "float", 1.0, "channel factor from one block to the next",
        interval="(0, 4]"),
    Key("kernel_size", "int", 9, "kernel of the conv blocks", interval="[1, 1024]"),
    Key("first_kernel", "int", 80, "kernel of the strided front conv", interval="[1, 4096]"),
    Key("first_stride", "int", 4, "stride of the front conv", interval="[1, 1024]"),
    Key("pool", "int", 4, "max-pool after the front conv (front energy: the energy window, "
        "frames)", interval="[1, 1024]"),
    Key("convs_per_block", "int", 1, "convs per block (2: VGG-style)", interval="[1, 4]"),
    Key("front", "str", "conv", "first layer: conv (conv, norm, activation, max-pool) or "
        "energy (a learnt filterbank's log band energies over `pool`-frame windows)",
        choices=("conv", "energy")),
    *layer_keys(dropout=0.5),
)


class ConvBlock1d(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, convs: int, norm: str, act: str):
        layers: list[nn.Module] = []
        for i in range(convs):
            layers += [
                nn.Conv1d(c_in if i == 0 else c_out, c_out, kernel, padding=kernel // 2),
                norm1d(norm, c_out),
                activation(act),
            ]
        super().__init__(*layers)


class LogEnergy(nn.Module):
    """Each channel's log mean square over windows of `window` frames, half-overlapping."""

    def __init__(self, window: int):
        super().__init__()
        self.pool = nn.AvgPool1d(window, stride=max(1, window // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The floor sits 100 dB under a full-scale band: silence stays finite.
        return torch.log(self.pool(x * x) + 1e-10)


class CNN1d(nn.Module):
    def __init__(
        self,
        num_samples: int,
        num_classes: int,
        conv_layers: int = 4,
        channels: int = 64,
        channel_growth: float = 1.0,
        kernel_size: int = 9,
        first_kernel: int = 80,
        first_stride: int = 4,
        pool: int = 4,
        convs_per_block: int = 1,
        front: str = "conv",
        norm: str = "batch",
        act: str = "relu",
        dropout: float = 0.5,
        init: str = "default",
    ):
        super().__init__()
        filters = nn.Conv1d(1, channels, first_kernel, stride=first_stride,
                            padding=first_kernel // 2)
        length = (num_samples + 2 * (first_kernel // 2) - first_kernel) // first_stride + 1
        if front == "energy":
            energy = LogEnergy(pool)
            # Normalised after the log, so the blocks see band energies on one scale.
            self.front = nn.Sequential(filters, energy, norm1d(norm, channels))
            length = (length - pool) // energy.pool.stride[0] + 1
        else:
            self.front = nn.Sequential(filters, norm1d(norm, channels), activation(act),
                                       nn.MaxPool1d(pool))
            length //= pool
        blocks: list[nn.Module] = []
        c_in = channels
        for i in range(conv_layers - 1):
            c_out = int(round(channels * channel_growth ** (i + 1)))
            blocks.append(ConvBlock1d(c_in, c_out, kernel_size, convs_per_block, norm, act))
            # Pool while there is length left to halve, so any depth fits any clip length.
            if length >= 2:
                blocks.append(nn.MaxPool1d(2))
                length //= 2
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(c_in, num_classes))
        initialise(self, init, act)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = waveform.unsqueeze(1) if waveform.dim() == 2 else waveform
        x = self.blocks(self.front(x))
        return self.head(x.mean(dim=-1))


@register("cnn1d", inputs=("waveform",), keys=KEYS)
def build(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> CNN1d:
    return CNN1d(input_shape[-1], num_classes,
                 **{k.name: config[k.name] for k in KEYS if k.name in config})
