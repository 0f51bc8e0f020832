"""Learning-rate schedules by name, each with an optional linear warm-up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from .keys import Key

SCHEDULES = ("constant", "cosine", "step", "plateau")
KEYS = (
    Key("schedule", "str", "constant", "learning-rate schedule, stepped once per epoch",
        choices=SCHEDULES),
    Key("warmup_epochs", "int", 0, "epochs of linear warm-up from lr / (warmup + 1)",
        interval="[0, 1000]"),
    Key("step_size", "int", 10, "schedule step: epochs between lr cuts", interval="[1, 1000]"),
    Key("gamma", "float", 0.1, "schedule step: lr factor at each cut", interval="(0, 1]"),
    Key("plateau_factor", "float", 0.1, "schedule plateau: lr factor when val_loss stalls",
        interval="(0, 1)"),
    Key("plateau_patience", "int", 3, "schedule plateau: epochs without improvement first",
        interval="[0, 1000]"),
)


class Schedule:
    """Steps once per epoch. `schedule`: constant, cosine, step (`step_size`, `gamma`) or
    plateau (ReduceLROnPlateau on val_loss: `plateau_factor`, `plateau_patience`);
    `warmup_epochs`: a linear ramp from lr / (warmup + 1) before it."""

    def __init__(self, config: Mapping[str, Any], optimizer: torch.optim.Optimizer):
        name = config.get("schedule", "constant")
        if name not in SCHEDULES:
            raise ValueError(f"schedule {name!r}: choose from {list(SCHEDULES)}")
        self.optimizer = optimizer
        self.base = [group["lr"] for group in optimizer.param_groups]
        self.warmup = int(config.get("warmup_epochs", 0))
        self.name = name
        epochs = max(1, int(config["max_epochs"]) - self.warmup)
        if name == "cosine":
            self.inner = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)
        elif name == "step":
            self.inner = torch.optim.lr_scheduler.StepLR(
                optimizer, config.get("step_size", 10), config.get("gamma", 0.1))
        elif name == "plateau":
            self.inner = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, factor=config.get("plateau_factor", 0.1),
                patience=config.get("plateau_patience", 3))
        else:
            self.inner = None
        self.epoch = 0
        self._set_warmup()

    def _set_warmup(self) -> None:
        if self.epoch < self.warmup:
            scale = (self.epoch + 1) / (self.warmup + 1)
            for group, base in zip(self.optimizer.param_groups, self.base, strict=True):
                group["lr"] = base * scale
        elif self.epoch == self.warmup and self.warmup:
            for group, base in zip(self.optimizer.param_groups, self.base, strict=True):
                group["lr"] = base

    def step(self, val_loss: float) -> None:
        """Call after each epoch."""
        self.epoch += 1
        if self.epoch <= self.warmup:
            self._set_warmup()
        elif self.name == "plateau":
            self.inner.step(val_loss)
        elif self.inner is not None:
            self.inner.step()

    @property
    def lr(self) -> float:
        return self.optimizer.param_groups[0]["lr"]

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch,
                "inner": self.inner.state_dict() if self.inner is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = state["epoch"]
        if self.inner is not None and state["inner"] is not None:
            self.inner.load_state_dict(state["inner"])
