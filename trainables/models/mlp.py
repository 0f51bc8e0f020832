"""MLP over a feature vector (the genre seed's summary features, or embeddings)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ..blocks import activation, initialise, norm1d
from . import register


class MLP(nn.Module):
    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden: Sequence[int] = (256, 128),
        norm: str = "batch",
        act: str = "relu",
        dropout: float = 0.5,
        init: str = "default",
    ):
        super().__init__()
        layers: list[nn.Module] = []
        width = in_features
        for size in hidden:
            layers += [nn.Linear(width, size), norm1d(norm, size), activation(act),
                       nn.Dropout(dropout)]
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, num_classes)
        initialise(self, init, act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x.flatten(1)))


@register("mlp", inputs=("features", "waveform", "logmel", "mfcc"))
def build(config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int) -> MLP:
    """`hidden` is a list of sizes, or `hidden_layers` x `hidden_units` (searchable as ints)."""
    if "hidden" in config:
        hidden = list(config["hidden"])
    else:
        hidden = [config.get("hidden_units", 256)] * config.get("hidden_layers", 2)
    in_features = 1
    for size in input_shape:
        in_features *= size
    keys = ("norm", "act", "dropout", "init")
    return MLP(in_features, num_classes, hidden, **{k: config[k] for k in keys if k in config})
