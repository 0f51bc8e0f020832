"""PANNs CNN6, CNN10 and CNN14 (Kong et al., 2020), laid out as `audioset_tagging_cnn`'s
`pytorch/models.py` so that the published checkpoints load: `bn0` over the mel bins, then
`conv_block1..N`, mean over frequency, max plus mean over time, `fc1`; the 527-way
`fc_audioset` is replaced by the task's `head`, fed by fc1's embedding as in PANNs'
`Transfer_Cnn14`.

The log-mel front end (32 kHz, 1024/320, 64 mels, 50 to 14000 Hz: `dataset.preset: panns`)
runs in data preparation, so the checkpoints' STFT and mel buffers are not needed. Inputs are
raw dB log-mels, as the published networks saw them: `bn0` normalises them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..blocks import Backbone, GlobalPool, initialise
from ..keys import Key
from ..pretrained import KEYS as PRETRAINED_KEYS
from .registry import register

KEYS = (Key("dropout", "float", 0.5, "dropout before the head", interval="[0, 1)"),
        *PRETRAINED_KEYS)

# Published checkpoint keys that belong to no layer here.
PUBLISHED_SKIP = ("spectrogram_extractor.", "logmel_extractor.", "fc_audioset.")


class ConvBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and ReLU, then average pooling."""

    def __init__(self, c_in: int, c_out: int, pool: int = 2):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.relu(self.bn2(self.conv2(x)))
        return F.avg_pool2d(x, self.pool) if self.pool > 1 else x


class ConvBlock5x5(nn.Module):
    """One 5x5 convolution with batch norm and ReLU, then average pooling (CNN6)."""

    def __init__(self, c_in: int, c_out: int, pool: int = 2):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 5, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.bn1(self.conv1(x)))
        return F.avg_pool2d(x, self.pool) if self.pool > 1 else x


class Panns(Backbone):
    """The shared body of CNN6/10/14: `channels` per conv block, the last `unpooled` blocks
    without pooling, `fc1` of `embedding` units."""

    PUBLISHED_SKIP = PUBLISHED_SKIP

    def __init__(self, block: type[nn.Module], channels: tuple[int, ...], embedding: int,
                 n_mels: int, num_classes: int, unpooled: int = 0, dropout: float = 0.5):
        super().__init__()
        self.bn0 = nn.BatchNorm2d(n_mels)
        c_in = 1
        for i, c_out in enumerate(channels, start=1):
            pool = 1 if i > len(channels) - unpooled else 2
            self.add_module(f"conv_block{i}", block(c_in, c_out, pool))
            c_in = c_out
        self.blocks = len(channels)
        self.pool = GlobalPool(freq_dim=3, time_dim=2)  # maps are (batch, c, time, mel)
        self.fc1 = nn.Linear(c_in, embedding)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(embedding, num_classes)
        initialise(self, "xavier_uniform")

    def conv_blocks(self) -> list[nn.Module]:
        return [getattr(self, f"conv_block{i}") for i in range(1, self.blocks + 1)]

    def stages(self) -> list[nn.Module]:
        return [self.bn0, *self.conv_blocks(), self.fc1]

    def forward(self, logmel: torch.Tensor) -> torch.Tensor:
        x = logmel.transpose(1, 2)[:, None]  # (batch, mel, time) -> (batch, 1, time, mel)
        x = self.bn0(x.transpose(1, 3)).transpose(1, 3)
        for block in self.conv_blocks():
            x = F.dropout(block(x), p=0.2, training=self.training)
        x = F.dropout(self.pool(x), p=0.5, training=self.training)
        x = F.relu(self.fc1(x))
        return self.head(self.dropout(x))


def _builder(block: type[nn.Module], channels: tuple[int, ...], embedding: int,
             unpooled: int = 0):
    def build(config: Mapping[str, Any], input_shape: tuple[int, ...],
              num_classes: int) -> Panns:
        return Panns(block, channels, embedding, input_shape[0], num_classes, unpooled,
                     config.get("dropout", 0.5))

    return build


register("panns_cnn6", inputs=("logmel",), keys=KEYS, raw_input=True)(
    _builder(ConvBlock5x5, (64, 128, 256, 512), 512))
register("panns_cnn10", inputs=("logmel",), keys=KEYS, raw_input=True)(
    _builder(ConvBlock, (64, 128, 256, 512), 512))
register("panns_cnn14", inputs=("logmel",), keys=KEYS, raw_input=True)(
    _builder(ConvBlock, (64, 128, 256, 512, 1024, 2048), 2048, unpooled=1))
