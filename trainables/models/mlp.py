"""MLP over a feature vector (the genre seed's summary features, or embeddings); over
several embedding layers at once, one MLP per layer with their logits averaged, as the
SoundNet seed's heads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from contracts.kinds import Kind

from ..blocks import activation, initialise, layer_keys, norm1d
from ..keys import Key
from .registry import register

KEYS = (
    Key("hidden", "ints", None, "hidden layer sizes, e.g. [256, 128] (else hidden_layers x "
        "hidden_units)", nullable=True),
    Key("hidden_layers", "int", 2, "hidden layers, each of hidden_units", interval="[0, 16]"),
    Key("hidden_units", "int", 256, "units per hidden layer", interval="[1, 65536]"),
    *layer_keys(dropout=0.5),
)


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


class BranchedMLP(nn.Module):
    """One MLP per slice of the input (an embedding layer each); logits averaged."""

    def __init__(self, splits: Sequence[int], num_classes: int, **options: Any):
        super().__init__()
        self.splits = list(splits)
        self.branches = nn.ModuleList(MLP(size, num_classes, **options) for size in splits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = x.flatten(1).split(self.splits, dim=1)
        return torch.stack([branch(part) for branch, part in zip(self.branches, parts,
                                                                  strict=True)]).mean(dim=0)


@register("mlp", inputs=tuple(Kind), keys=KEYS)
def build(config: Mapping[str, Any], input_shape: tuple[int, ...],
          num_classes: int) -> nn.Module:
    """`hidden` is a list of sizes, or `hidden_layers` x `hidden_units` (searchable as ints);
    `input_splits` (set by the loop for several embedding layers) gives one branch each."""
    if config.get("hidden"):
        hidden = list(config["hidden"])
    else:
        hidden = [config.get("hidden_units", 256)] * config.get("hidden_layers", 2)
    options = {k: config[k] for k in ("norm", "act", "dropout", "init") if k in config}
    splits = config.get("input_splits")
    if splits and len(splits) > 1:
        return BranchedMLP(splits, num_classes, hidden=hidden, **options)
    in_features = 1
    for size in input_shape:
        in_features *= size
    return MLP(in_features, num_classes, hidden, **options)
