"""Pretrained weights from a local file into a freshly built model, and which layers train.

Config keys: `pretrained` (a published name such as `soundnet`, see `contracts.weights`, or
a file: safetensors, PANNs' `{"model": state_dict}`, or a bare state dict as torchvision
saves), `unfrozen_layers` (the last N stages train, the rest stay
frozen, see `blocks.Backbone`), `head_lr` (the new head's learning rate; `lr` otherwise).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from contracts import weights
from contracts.errors import ConfigError

from .keys import Key

SHOWN = 5  # keys named in an error
KEYS = (
    Key("pretrained", "str", None, "weights file to start from (its head is replaced)",
        nullable=True),
    Key("unfrozen_layers", "int", None, "the last N stages train, the others stay frozen "
        "(null: all train)", interval="[0, 64]", nullable=True),
    Key("head_lr", "float", None, "learning rate of the new head (null: lr)",
        interval="(0, 10]", nullable=True),
)


class PretrainedError(ConfigError):
    """A pretrained file that is missing or does not fit the model; the message says which."""


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A checkpoint's tensors: a safetensors file, or a PyTorch file loaded without
    unpickling code; a published name (`soundnet`) reads its cached file."""
    published = weights.by_name(str(path)) or weights.at_path(path)
    path = published.path if published else Path(path).expanduser()
    if not path.is_file():
        if published:
            raise PretrainedError(f"pretrained: the published {published.name} weights are "
                                  f"not fetched yet; run: {published.fetch_command}")
        raise PretrainedError(
            f"pretrained: {path} does not exist; weights are never downloaded at run time, "
            "so put the published file there (README: Pretrained weights) or change the path")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise PretrainedError(f"pretrained: {path} is not a PyTorch checkpoint ({error})") \
            from None
    for key in ("model", "state_dict"):
        if isinstance(loaded, dict) and isinstance(loaded.get(key), dict):
            loaded = loaded[key]
    if not isinstance(loaded, dict) or not all(torch.is_tensor(v) for v in loaded.values()):
        raise PretrainedError(f"pretrained: {path} holds no state dict of tensors")
    # Checkpoints saved from nn.DataParallel prefix every key with "module.".
    return {k.removeprefix("module."): v for k, v in loaded.items()}


def load_pretrained(model: nn.Module, path: str | Path) -> None:
    """Load every layer but the head from `path`; the head keeps its fresh weights."""
    state = read_state_dict(path)
    skip = getattr(model, "PUBLISHED_SKIP", ())
    state = {k: v for k, v in state.items() if not k.startswith(skip)}
    if hasattr(model, "adapt_published"):
        state = model.adapt_published(state)
    head = _head_prefix(model)
    expected = {k: v for k, v in model.state_dict().items()
                if not (head and k.startswith(head))}
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong_shape = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
                   for k, v in expected.items() if k in state and state[k].shape != v.shape]
    problems = [(missing, "missing from the file"), (unexpected, "not in the model"),
                (wrong_shape, "of another shape (file vs model)")]
    if any(keys for keys, _ in problems):
        detail = "; ".join(f"{len(keys)} keys {what}: {keys[:SHOWN]}"
                           for keys, what in problems if keys)
        raise PretrainedError(f"pretrained: {path} does not fit {type(model).__name__}: "
                              f"{detail}")
    model.load_state_dict(state, strict=False)


def _head_prefix(model: nn.Module) -> str | None:
    """"fc." or "head.": where the head's keys start in the model's state dict."""
    if not hasattr(model, "head"):
        return None
    return next(f"{name}." for name, module in model.named_modules() if module is model.head)


def start_from_weights(model: nn.Module, config: Mapping[str, Any], load: bool = True) -> None:
    """Load the config's pretrained weights (unless resuming) and freeze its stages."""
    if load and config.get("pretrained"):
        load_pretrained(model, config["pretrained"])
    if config.get("unfrozen_layers") is not None:
        if not hasattr(model, "freeze"):
            raise ValueError(f"unfrozen_layers: model {config['model']!r} has no stages to "
                             "freeze; use a pretrained network (panns_*, resnet18/34/50)")
        model.freeze(int(config["unfrozen_layers"]))


def param_groups(model: nn.Module, config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The trainable parameters; the head in a group of its own at `head_lr` when given."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    if config.get("head_lr") is None or not hasattr(model, "head"):
        return [{"params": trainable}]
    head = {id(p) for p in model.head.parameters()}
    body = [p for p in trainable if id(p) not in head]
    groups = [{"params": body}] if body else []
    return [*groups, {"params": list(model.head.parameters()), "lr": config["head_lr"]}]
