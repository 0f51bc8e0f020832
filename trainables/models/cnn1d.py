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

With `front: cepstral` the filters are `bands` complex Gabor filters on the mel scale
(LEAF, Zeghidour et al., 2021; learnt only with `learn_filters`), and each window's log
band energies are turned into their first `cepstra` DCT coefficients, as MFCCs are: the
blocks see the spectral envelope, with the harmonics' fine structure (the voice's pitch)
left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from contracts.kinds import Kind

from ..blocks import activation, initialise, layer_keys, norm1d
from ..fronts import Cepstra, GaborFilterbank, LogEnergy
from ..keys import Constraint, Key
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
    Key("pool", "int", 4, "max-pool after the front conv (fronts energy and cepstral: the "
        "energy window, frames)", interval="[1, 1024]"),
    Key("convs_per_block", "int", 1, "convs per block (2: VGG-style)", interval="[1, 4]"),
    Key("front", "str", "conv", "first layer: conv (conv, norm, activation, max-pool), "
        "energy (a learnt filterbank's log band energies over `pool`-frame windows) or "
        "cepstral (mel-scale Gabor filters' log energies to `cepstra` DCT coefficients, as "
        "MFCCs are made)",
        choices=("conv", "energy", "cepstral")),
    Key("bands", "int", 40, "front cepstral: its filters", interval="[2, 512]"),
    Key("cepstra", "int", 13, "front cepstral: DCT coefficients kept (at most bands)",
        interval="[1, 512]"),
    Key("learn_filters", "bool", False, "front cepstral: train its filters (they start on "
        "the mel scale and are kept there by default)"),
    *layer_keys(dropout=0.5),
)


def _cepstra_within_bands(config: Mapping[str, Any]) -> str | None:
    if config["front"] != "cepstral" or config["cepstra"] <= config["bands"]:
        return None
    return (f"cepstra {config['cepstra']} is more than bands {config['bands']} (a DCT of "
            f"{config['bands']} bands has {config['bands']} coefficients); lower cepstra or "
            "raise bands")


CONSTRAINTS = (Constraint(("front", "bands", "cepstra"), _cepstra_within_bands),)


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
        bands: int = 40,
        cepstra: int = 13,
        learn_filters: bool = False,
        sample_rate: int = 16000,
        norm: str = "batch",
        act: str = "relu",
        dropout: float = 0.5,
        init: str = "default",
    ):
        super().__init__()
        length = (num_samples + 2 * (first_kernel // 2) - first_kernel) // first_stride + 1
        if front == "cepstral":
            filters = GaborFilterbank(bands, first_kernel, first_stride, sample_rate,
                                      learn_filters)
            c_in = cepstra
        else:
            filters = nn.Conv1d(1, channels, first_kernel, stride=first_stride,
                                padding=first_kernel // 2)
            c_in = channels
        if front == "conv":
            self.front = nn.Sequential(filters, norm1d(norm, c_in), activation(act),
                                       nn.MaxPool1d(pool))
            length //= pool
        else:
            energy = LogEnergy(pool, square=front == "energy")  # the filterbank's is a power
            cepstral = [Cepstra(bands, cepstra)] if front == "cepstral" else []
            # Normalised after the log, so the blocks see band energies on one scale.
            self.front = nn.Sequential(filters, energy, *cepstral, norm1d(norm, c_in))
            length = (length - pool) // energy.pool.stride[0] + 1
        blocks: list[nn.Module] = []
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
        if front == "cepstral":
            filters.reset_parameters(sample_rate)  # the mel start, whatever `init` did

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = waveform.unsqueeze(1) if waveform.dim() == 2 else waveform
        x = self.blocks(self.front(x))
        return self.head(x.mean(dim=-1))


@register("cnn1d", inputs=(Kind.WAVEFORM,), keys=KEYS, constraints=CONSTRAINTS)
def build(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> CNN1d:
    # The sample rate places the cepstral front's first filters; it is the data's, which
    # the loop adds to the config (a checkpoint's weights replace the start anyway).
    return CNN1d(input_shape[-1], num_classes, sample_rate=config.get("sample_rate") or 16000,
                 **{k.name: config[k.name] for k in KEYS if k.name in config})
