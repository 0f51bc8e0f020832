"""CIFAR-style ResNet (He et al., 2016) of depth 6n+2 (20, 32, 44, 56, 110) on one channel,
as the MP3 seed's ResNet-110 over log-mels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from contracts.kinds import Kind

from ..blocks import activation, as_image, initialise, layer_keys, norm2d
from ..keys import Key
from .registry import register

DEPTHS = (20, 32, 44, 56, 110)
KEYS = (
    Key("depth", "int", 20, "layers, 6n+2", choices=DEPTHS),
    Key("width", "int", 16, "channels of the first stage (doubled twice)",
        interval="[1, 1024]"),
    *layer_keys(dropout=0.0, init="he_normal"),
)


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int, norm: str, act: str):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = norm2d(norm, c_out)
        self.act1 = activation(act)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = norm2d(norm, c_out)
        self.act2 = activation(act)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                          norm2d(norm, c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        return self.act2(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNetCifar(nn.Module):
    def __init__(self, num_classes: int, depth: int = 20, width: int = 16, norm: str = "batch",
                 act: str = "relu", dropout: float = 0.0, init: str = "he_normal"):
        super().__init__()
        if depth not in DEPTHS and (depth - 2) % 6:
            raise ValueError(f"depth {depth} is not 6n+2; use one of {list(DEPTHS)}")
        n = (depth - 2) // 6
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, padding=1, bias=False),
                                  norm2d(norm, width), activation(act))
        stages: list[nn.Module] = []
        c_in = width
        for stage, c_out in enumerate((width, 2 * width, 4 * width)):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                stages.append(BasicBlock(c_in, c_out, stride, norm, act))
                c_in = c_out
        self.stages = nn.Sequential(*stages)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(c_in, num_classes))
        initialise(self, init, act)

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.stem(as_image(spectrogram)))
        return self.head(x.mean(dim=(2, 3)))


@register("resnet_cifar", inputs=(Kind.SPECTROGRAM,), keys=KEYS)
def build(config: Mapping[str, Any], input_shape: tuple[int, ...],
          num_classes: int) -> ResNetCifar:
    return ResNetCifar(num_classes, **{k.name: config[k.name] for k in KEYS if k.name in config})
