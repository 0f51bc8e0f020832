"""Pieces every model shares: activations, initialisers, normalisation by name."""

from __future__ import annotations

import torch
from torch import nn

from .keys import Key

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "prelu": nn.PReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}

INITIALISERS = (
    "default",
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "orthogonal",
)


def layer_keys(dropout: float, init: str = "default") -> tuple[Key, ...]:
    """The keys every model built from these blocks reads, with the model's defaults."""
    return (
        Key("act", "str", "relu", "activation after each conv or linear layer",
            choices=tuple(ACTIVATIONS)),
        Key("init", "str", init, "weight initialiser", choices=INITIALISERS),
        Key("norm", "str", "batch", "normalisation after each conv or linear layer",
            choices=NORMS),
        Key("dropout", "float", dropout, "dropout before the head",
            interval="[0, 1)"),
    )


def activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose from {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


NORMS = ("batch", "none")


def _norm(kind: str, channels: int, batch_norm: type[nn.Module]) -> nn.Module:
    if kind == "batch":
        return batch_norm(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown normalisation {kind!r}; choose from {list(NORMS)}")


def norm1d(kind: str, channels: int) -> nn.Module:
    return _norm(kind, channels, nn.BatchNorm1d)


def norm2d(kind: str, channels: int) -> nn.Module:
    return _norm(kind, channels, nn.BatchNorm2d)


def as_image(x: torch.Tensor) -> torch.Tensor:
    """(batch, freq, time) spectrograms -> (batch, 1, freq, time) images."""
    return x.unsqueeze(1) if x.dim() == 3 else x


def initialise(model: nn.Module, scheme: str, nonlinearity: str = "relu") -> None:
    """Re-initialise every conv and linear weight (biases to zero) by the named scheme."""
    if scheme not in INITIALISERS:
        raise ValueError(f"unknown initialiser {scheme!r}; choose from {list(INITIALISERS)}")
    if scheme == "default":
        return
    # kaiming's gain is defined for relu-like and a few other nonlinearities only.
    known = ("relu", "leaky_relu", "tanh", "sigmoid")
    gain_name = nonlinearity if nonlinearity in known else "relu"
    for module in model.modules():
        if not isinstance(module, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            continue
        weight = module.weight
        if scheme == "xavier_uniform":
            nn.init.xavier_uniform_(weight)
        elif scheme == "xavier_normal":
            nn.init.xavier_normal_(weight)
        elif scheme == "he_uniform":
            nn.init.kaiming_uniform_(weight, nonlinearity=gain_name)
        elif scheme == "he_normal":
            nn.init.kaiming_normal_(weight, nonlinearity=gain_name)
        elif scheme == "orthogonal":
            nn.init.orthogonal_(weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class GlobalPool(nn.Module):
    """(batch, channels, a, b) maps -> (batch, channels): mean over the frequency axis, then
    max plus mean over time, as PANNs pool."""

    def __init__(self, freq_dim: int = 2, time_dim: int = 3):
        super().__init__()
        self.freq_dim, self.time_dim = freq_dim, time_dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.mean(dim=self.freq_dim, keepdim=True)
        return (x.amax(dim=self.time_dim) + x.mean(dim=self.time_dim)).flatten(1)


class Backbone(nn.Module):
    """A network whose first stages can be frozen for fine-tuning. A frozen stage keeps its
    weights and its batch-norm statistics: it stays in eval mode while the rest trains.
    Subclasses list their stages, input end first; `head` (the task's layer) always trains."""

    head: nn.Module

    def __init__(self) -> None:
        super().__init__()
        self.frozen_stages = 0

    def stages(self) -> list[nn.Module]:
        raise NotImplementedError

    def freeze(self, unfrozen_layers: int) -> None:
        """Train the last `unfrozen_layers` stages and the head; freeze the rest."""
        stages = self.stages()
        if not 0 <= unfrozen_layers <= len(stages):
            raise ValueError(f"unfrozen_layers: {unfrozen_layers} is outside 0..{len(stages)} "
                             f"(this network has {len(stages)} stages before its head)")
        self.frozen_stages = len(stages) - unfrozen_layers
        for i, stage in enumerate(stages):
            stage.requires_grad_(i >= self.frozen_stages)
        self.train(self.training)

    def train(self, mode: bool = True) -> Backbone:
        super().train(mode)
        for stage in self.stages()[: self.frozen_stages]:
            stage.eval()
        return self
