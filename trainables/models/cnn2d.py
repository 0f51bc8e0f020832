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

from contracts.kinds import Kind

from ..blocks import GlobalPool, activation, as_image, initialise, layer_keys, norm2d
from ..keys import Key
from .registry import register

KEYS = (
    Key("conv_layers", "int", 4, "conv blocks", interval="[1, 12]"),
    Key("channels", "int", 32, "channels of the first block", interval="[1, 4096]"),
    Key("channel_growth", "float", 2.0, "channel factor from one block to the next",
        interval="(0, 4]"),
    Key("kernel_size", "int", 3, "conv kernel", interval="[1, 31]"),
    Key("stride", "int", 1, "stride of each block's first conv", interval="[1, 8]"),
    Key("pool", "int", 2, "max-pool after each block (1: none)", interval="[1, 8]"),
    Key("convs_per_block", "int", 1, "convs per block (2: VGG-style)", interval="[1, 4]"),
    *layer_keys(dropout=0.3),
)


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


@register("cnn2d", inputs=(Kind.SPECTROGRAM,), keys=KEYS)
def build(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> CNN2d:
    return CNN2d(num_classes, **{k.name: config[k.name] for k in KEYS if k.name in config})
