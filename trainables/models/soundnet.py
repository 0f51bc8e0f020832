"""SoundNet's 8-layer network (Aytar, Vondrick and Torralba, NIPS 2016) as its authors
published it (`sound8`), so that their weights load (`pretrained: soundnet`): seven 1D
convolutions over the 22050 Hz waveform, each with batch norm (its stored statistics) and
ReLU, max pooling after conv1, conv2 and conv5 (`pool1`, `pool2`, `pool5`). The published
object and scene layers (conv8, conv8_2) are replaced by the task's `head` over conv7's
activations, max plus mean over time. The network reads waveforms in [-256, 256], as the
published one did: the module scales the shards' [-1, 1] itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from contracts.kinds import Kind
from contracts.weights import SEPARATOR

from ..blocks import Backbone
from ..keys import Key
from ..pretrained import KEYS as PRETRAINED_KEYS
from .registry import register

KEYS = (Key("dropout", "float", 0.5, "dropout before the head", interval="[0, 1)"),
        *PRETRAINED_KEYS)
INPUT_SCALE = 256.0  # the published network's input range
# Each convolution: (channels, kernel, stride, padding, max pool after it or 0).
LAYERS = ((16, 64, 2, 32, 8), (32, 32, 2, 16, 8), (64, 16, 2, 8, 0), (128, 8, 2, 4, 0),
          (256, 4, 2, 2, 4), (512, 4, 2, 2, 0), (1024, 4, 2, 2, 0))
# The published file's names, per layer, for each parameter here.
PUBLISHED_NAMES = {"conv.weight": "weights", "conv.bias": "biases", "bn.weight": "gamma",
                   "bn.bias": "beta", "bn.running_mean": "mean", "bn.running_var": "var"}


class ConvBN(nn.Module):
    """A 1D convolution, batch norm with TensorFlow's epsilon, ReLU."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel, stride, padding)
        self.bn = nn.BatchNorm1d(c_out, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


class SoundNet(Backbone):
    def __init__(self, num_classes: int, dropout: float = 0.5):
        super().__init__()
        c_in = 1
        for i, (c_out, kernel, stride, padding, pool) in enumerate(LAYERS, start=1):
            self.add_module(f"conv{i}", ConvBN(c_in, c_out, kernel, stride, padding))
            if pool:
                self.add_module(f"pool{i}", nn.MaxPool1d(pool))
            c_in = c_out
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(c_in, num_classes)

    def stages(self) -> list[nn.Module]:
        return [getattr(self, f"conv{i}") for i in range(1, len(LAYERS) + 1)]

    def body(self, waveform: torch.Tensor) -> torch.Tensor:
        """conv7's activations, (batch, 1024, time)."""
        x = waveform.unsqueeze(1) if waveform.dim() == 2 else waveform
        x = x * INPUT_SCALE
        for name, module in self.named_children():
            if name.startswith(("conv", "pool")):
                x = module(x)
        return x

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        x = self.body(waveform)
        return self.head(self.dropout(x.amax(dim=-1) + x.mean(dim=-1)))

    def adapt_published(self, state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The published `conv1/weights` (kernel, 1, in, out) ... as this module's keys;
        the object and scene layers (conv8, conv8_2) have no place here."""
        if not any(SEPARATOR in key for key in state):
            return state  # already in this layout (a random-weight file, a fine-tuned one)
        adapted = {}
        for i in range(1, len(LAYERS) + 1):
            for ours, theirs in PUBLISHED_NAMES.items():
                value = state.get(f"conv{i}{SEPARATOR}{theirs}")
                if value is None:
                    continue
                if theirs == "weights":
                    value = value[:, 0].permute(2, 1, 0)  # -> (out, in, kernel)
                adapted[f"conv{i}.{ours}"] = value.contiguous()
            adapted[f"conv{i}.bn.num_batches_tracked"] = torch.tensor(0)
        return adapted


@register("soundnet", inputs=(Kind.WAVEFORM,), keys=KEYS, raw_input=True)
def build(config: Mapping[str, Any], input_shape: tuple[int, ...],
          num_classes: int) -> SoundNet:
    return SoundNet(num_classes, config.get("dropout", 0.5))
