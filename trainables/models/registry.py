"""Model registry: `build(name, config, input_shape, num_classes) -> nn.Module`.

A model file holds one `nn.Module` and registers a builder here; it knows nothing of Tune,
files or metrics. Every module of the `models` package is imported (and so registered) when
the package is: a new model is one new file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from contracts.kinds import Kind

from ..keys import Constraint, Key

Builder = Callable[[Mapping[str, Any], tuple[int, ...], int], nn.Module]
_REGISTRY: dict[str, Builder] = {}
_INPUTS: dict[str, tuple[str, ...]] = {}  # kinds, or representations by name
_RAW_INPUT: set[str] = set()
_KEYS: dict[str, tuple[Key, ...]] = {}
_CONSTRAINTS: dict[str, tuple[Constraint, ...]] = {}


def register(name: str, inputs: tuple[Kind | str, ...], keys: tuple[Key, ...],
             raw_input: bool = False, constraints: tuple[Constraint, ...] = ()
             ) -> Callable[[Builder], Builder]:
    """Register a builder under `name`, reading representations of the given kinds (or
    the ones named, for a network trained on one: PANNs' `logmel`) and config `keys`, whose
    values must meet `constraints` (checked before a search starts); `raw_input` models
    normalise their input themselves (as a pretrained network's first layer does) and get
    it without the train-split standardisation."""

    def add(builder: Builder) -> Builder:
        _REGISTRY[name] = builder
        _INPUTS[name] = tuple(str(i) for i in inputs)
        _KEYS[name] = keys
        _CONSTRAINTS[name] = constraints
        if raw_input:
            _RAW_INPUT.add(name)
        return builder

    return add


def inputs(name: str) -> tuple[str, ...]:
    """The kinds (or named representations) model `name` reads."""
    return _INPUTS[name]


def reads(name: str, representation: str, kind: Kind) -> bool:
    """Whether model `name` reads `representation`, an array of `kind`."""
    return representation in _INPUTS[name] or str(kind) in _INPUTS[name]


def keys(name: str) -> tuple[Key, ...]:
    """The config keys model `name` reads."""
    return _KEYS[name]


def constraints(name: str) -> tuple[Constraint, ...]:
    """The rules between model `name`'s keys."""
    return _CONSTRAINTS[name]


def wants_raw_input(name: str) -> bool:
    return name in _RAW_INPUT


def names() -> list[str]:
    return sorted(_REGISTRY)


def build(
    name: str, config: Mapping[str, Any], input_shape: tuple[int, ...], num_classes: int
) -> nn.Module:
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; registered models: {sorted(_REGISTRY)}")
    return _REGISTRY[name](config, tuple(input_shape), num_classes)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one clip's forward pass (torch's FLOP counter, halved)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(torch.zeros(1, *input_shape, device=device))
    model.train(was_training)
    return int(counter.get_total_flops() // 2)

