"""Losses for single-label (soft targets allowed, for mixup) and multi-label training."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .keys import Key

KEYS = (
    Key("loss", "str", None, "ce or focal (single-label), bce or focal (multi-label); "
        "null: ce or bce", choices=("ce", "bce", "focal"), nullable=True),
    Key("focal_gamma", "float", 2.0, "focal loss exponent", interval="[0, 10]"),
    Key("class_weights", "bool", False, "inverse-frequency class weights in the loss"),
)


def class_weights(y: np.ndarray, num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights with mean 1 (multi-hot targets count every label)."""
    counts = y.sum(axis=0) if y.ndim == 2 else np.bincount(y, minlength=num_classes)
    weights = 1.0 / np.maximum(counts.astype(np.float64), 1.0)
    return torch.tensor(weights / weights.mean(), dtype=torch.float32)


class _WeightedFocal(nn.Module):
    """A loss with optional per-class weights and a focal exponent (0: plain)."""

    def __init__(self, weight: torch.Tensor | None = None, gamma: float = 0.0):
        super().__init__()
        self.register_buffer("weight", weight)
        self.gamma = gamma


class SoftCrossEntropy(_WeightedFocal):
    """Cross-entropy against probability targets, optionally focal (Lin et al., 2017)."""

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        log_probs = F.log_softmax(logits.float(), dim=1)
        losses = -targets * log_probs
        if self.gamma > 0:
            losses = losses * (1 - log_probs.exp()).pow(self.gamma)
        if self.weight is not None:
            losses = losses * self.weight
        return losses.sum(dim=1).mean()


class MultiLabelLoss(_WeightedFocal):
    """Binary cross-entropy per label, optionally focal and label-weighted."""

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        logits = logits.float()
        losses = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        if self.gamma > 0:
            p = torch.sigmoid(logits)
            p_true = targets * p + (1 - targets) * (1 - p)
            losses = losses * (1 - p_true).pow(self.gamma)
        if self.weight is not None:
            losses = losses * self.weight
        return losses.mean()


def make_loss(config: dict, y_train: np.ndarray, num_classes: int, multi_label: bool,
              ) -> nn.Module:
    """`loss`: `ce` or `focal` (single-label), `bce` or `focal` (multi-label);
    `focal_gamma`; `class_weights: true` for inverse-frequency weighting."""
    name = config.get("loss") or ("bce" if multi_label else "ce")
    allowed = ("bce", "focal") if multi_label else ("ce", "focal")
    if name not in allowed:
        kind = "multi-label" if multi_label else "single-label"
        raise ValueError(f"loss {name!r} does not fit a {kind} task; choose from {allowed}")
    gamma = config.get("focal_gamma", 2.0) if name == "focal" else 0.0
    weight = class_weights(y_train, num_classes) if config.get("class_weights") else None
    return (MultiLabelLoss if multi_label else SoftCrossEntropy)(weight, gamma)
