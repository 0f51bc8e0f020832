"""2D CNN over a spectrogram image (the genre seed's CNN and FSD50K's 3-4 conv blocks).

Each block: conv, normalisation, activation (twice when `convs_per_block` is 2), then
downsampling by max-pooling or by the conv's stride; global pooling (mean over frequency,
max plus mean over time, as in PANNs); dropout; a linear head.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ..blocks import GlobalPool, activation, as_image, initialise, norm2d
from . import SPECTROGRAMS, register


class ConvBlock2d(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, pool: int,
                 convs: int, norm: str, act: str):
        layers: list[nn.Module] = []
        for i in range(convs):
            layers += [
                nn.Conv2d(c_in if i == 0 else c_out, c_out, kernel,
                          stride=stride if i == 0 else 1, padding=kernel // 2),
                norm2d(norm, c_out),
                activation(act),
            ]
        if pool > 1:
            layers.append(nn.MaxPool2d(pool, ceil_mode=True))
        super().__init__(*layers)


class CNN2d(nn.Module):
    def __init__(
        self,
        num_classes: int,
        conv_layers: int = 4,
        channels: int = 32,
        channel_growth: float = 2.0,
        kernel_size: int = 3,
        stride: int = 1,
        pool: int = 2,
        convs_per_block: int = 1,
        norm: str = "batch",
        act: str = "relu",
        dropout: float = 0.3,
        init: str = "default",
    ):
        super().__init__()
        blocks: list[nn.Module] = []
        c_in = 1
        for i in range(conv_layers):
            c_out = int(round(channels * channel_growth**i))
            blocks.append(ConvBlock2d(c_in, c_out, kernel_size, stride, pool, convs_per_block,
                                      norm, act))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.pool = GlobalPool()
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(c_in, num_classes))
        initialise(self, init, act)

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.blocks(as_image(spectrogram))))


@register("cnn2d", inputs=SPECTROGRAMS)
def build(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> CNN2d:
    keys = ("conv_layers", "channels", "channel_growth", "kernel_size", "stride", "pool",
            "convs_per_block", "norm", "act", "dropout", "init")
    return CNN2d(num_classes, **{k: config[k] for k in keys if k in config})
