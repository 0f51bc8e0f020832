"""ResNet-18/34/50 (He et al., 2016) with torchvision's layout and state-dict keys, so that
ImageNet weights saved from torchvision load, on a spectrogram image: the genre seed's
ResNet50 transfer learning.

`in_channels: 1` (the default) reads the spectrogram as one channel: a 3-channel `conv1`
from a file is folded by summing over its colour channels, which gives the same output as
repeating the spectrogram three times, at a third of the cost. `in_channels: 3` repeats it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from contracts.kinds import Kind

from ..blocks import Backbone, as_image
from ..keys import Key
from ..pretrained import KEYS as PRETRAINED_KEYS
from .registry import register

KEYS = (Key("in_channels", "int", 1, "1: RGB filters folded to one channel; 3: the "
            "spectrogram repeated as an image", choices=(1, 3)),
        Key("dropout", "float", 0.0, "dropout before the head", interval="[0, 1)"),
        *PRETRAINED_KEYS)


def _downsample(c_in: int, c_out: int, stride: int) -> nn.Module | None:
    if stride == 1 and c_in == c_out:
        return None
    return nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                         nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, c_in: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(c_in, planes, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class Bottleneck(nn.Module):
    """torchvision's ResNet v1.5: the stride sits on the 3x3 convolution."""

    expansion = 4

    def __init__(self, c_in: int, planes: int, stride: int = 1):
        super().__init__()
        c_out = planes * self.expansion
        self.conv1 = nn.Conv2d(c_in, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, c_out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = _downsample(c_in, c_out, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(Backbone):
    PUBLISHED_SKIP = ("fc.",)  # the 1000 ImageNet classes give way to the task's

    def __init__(self, block: type[BasicBlock | Bottleneck], layers: tuple[int, ...],
                 num_classes: int, in_channels: int = 1, dropout: float = 0.0):
        super().__init__()
        if in_channels not in (1, 3):
            raise ValueError(f"in_channels: {in_channels!r} is not one of [1, 3]")
        self.in_channels = in_channels
        self.conv1 = nn.Conv2d(in_channels, 64, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        c_in = 64
        for i, (planes, count) in enumerate(zip((64, 128, 256, 512), layers, strict=True)):
            stride = 1 if i == 0 else 2
            blocks = []
            for j in range(count):
                blocks.append(block(c_in, planes, stride if j == 0 else 1))
                c_in = planes * block.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c_in, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    @property
    def head(self) -> nn.Module:
        return self.fc

    def stages(self) -> list[nn.Module]:
        return [nn.ModuleList([self.conv1, self.bn1]), self.layer1, self.layer2, self.layer3,
                self.layer4]

    def adapt_published(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Fold an RGB `conv1` into one channel when this network reads one."""
        weight = state.get("conv1.weight")
        if weight is not None and self.in_channels == 1 and weight.shape[1] == 3:
            state = {**state, "conv1.weight": weight.sum(dim=1, keepdim=True)}
        return state

    def forward(self, spectrogram: torch.Tensor) -> torch.Tensor:
        x = as_image(spectrogram)
        if self.in_channels == 3 and x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.dropout(self.avgpool(x).flatten(1)))


def _builder(block: type[BasicBlock | Bottleneck], layers: tuple[int, ...]):
    def build(config: Mapping[str, Any], input_shape: tuple[int, ...],
              num_classes: int) -> ResNet:
        return ResNet(block, layers, num_classes, config.get("in_channels", 1),
                      config.get("dropout", 0.0))

    return build


for _name, _block, _layers in (("resnet18", BasicBlock, (2, 2, 2, 2)),
                               ("resnet34", BasicBlock, (3, 4, 6, 3)),
                               ("resnet50", Bottleneck, (3, 4, 6, 3))):
    register(_name, inputs=(Kind.SPECTROGRAM,), keys=KEYS)(_builder(_block, _layers))
