"""An exponential moving average of a model's weights (as timm's ModelEma keeps it, built on
torch's `AveragedModel`), which validation, checkpoints and predictions use in place of the
weights the optimiser is moving.

`ema_epochs`: the average's horizon, in epochs; the per-step decay follows from the steps an
epoch has, so that one value means the same on a small and a large dataset. 0: off. The
average warms up as timm's does (decay (1 + n) / (10 + n) over its first steps), so that an
early rung does not score a blend with the random initial weights. Batch-norm statistics
are averaged with the weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from .keys import Key

KEYS = (
    Key("ema_epochs", "float", 0.0, "score and keep a moving average of the weights over "
        "about this many recent epochs; 0: off", interval="[0, 1000]"),
)


class WeightAverage:
    """`update(model, steps_per_epoch)` after each optimiser step; `module` is the average."""

    def __init__(self, model: nn.Module, epochs: float):
        self.epochs = epochs
        self.steps_per_epoch = 1
        self.averaged = AveragedModel(model, multi_avg_fn=self._blend, use_buffers=True)

    @property
    def module(self) -> nn.Module:
        return self.averaged.module

    def update(self, model: nn.Module, steps_per_epoch: int) -> None:
        self.steps_per_epoch = steps_per_epoch
        self.averaged.update_parameters(model)

    def _blend(self, averaged: list[torch.Tensor], current: list[torch.Tensor],
               count: torch.Tensor | int) -> None:
        if not averaged[0].is_floating_point():  # batch norm's step counters
            for a, c in zip(averaged, current, strict=True):
                a.copy_(c)
            return
        n = float(count)
        target = 1.0 - 1.0 / max(1.0, self.epochs * self.steps_per_epoch)
        torch._foreach_lerp_(averaged, current, 1.0 - min(target, (1.0 + n) / (10.0 + n)))

    @property
    def steps(self) -> torch.Tensor:
        """How many updates the average has had (its warm-up depends on it)."""
        return self.averaged.n_averaged.detach().clone()

    def resume(self, weights: Mapping[str, Any], steps: torch.Tensor) -> None:
        """Back to an average saved as `module.state_dict()` after `steps` updates."""
        self.module.load_state_dict(weights)
        self.averaged.n_averaged.copy_(steps)


def weight_average(model: nn.Module, config: Mapping[str, Any]) -> WeightAverage | None:
    """The moving average `config` asks for (`ema_epochs`), or None."""
    epochs = float(config.get("ema_epochs", 0.0))
    return WeightAverage(model, epochs) if epochs > 0 else None
