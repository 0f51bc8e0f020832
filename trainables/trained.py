"""A trained trial's model back from its checkpoint, scoring inputs as in training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import models, windows
from .augment import centre_crop
from .checkpoints import CheckpointMeta, read_checkpoint
from .data import normalise
from .loop import predict, probabilities


@dataclass
class TrainedModel:
    model: torch.nn.Module
    meta: CheckpointMeta  # what it was trained on and how its inputs were scaled

    @classmethod
    def load(cls, checkpoint: str | Path) -> TrainedModel:
        """From a checkpoint folder or an exported model.pt (tensors only, with their JSON
        metadata beside them); a file that needs unpickling is refused."""
        tensors, meta = read_checkpoint(checkpoint)
        model = models.build(meta.config["model"], meta.config, tuple(meta.input_shape),
                             len(meta.label_names))
        model.load_state_dict(tensors["model"])
        return cls(model.eval(), meta)

    @classmethod
    def from_state(cls, model: torch.nn.Module, state: dict[str, Any]) -> TrainedModel:
        """A model beside the loop's state as `fit` reports it."""
        return cls(model, CheckpointMeta.from_dict(state))

    @property
    def label_names(self) -> list[str]:
        return self.meta.label_names

    def inputs(self, x: np.ndarray, crop: bool = True) -> torch.Tensor:
        """Raw shard-format arrays (n, ...) scaled as the model saw them in training, and
        with `crop`, their centre at the length it read."""
        tensor = torch.from_numpy(normalise(x, self.meta.normalisation))
        length = self.meta.input_shape[-1]
        return tensor if not crop or tensor.shape[-1] == length else centre_crop(tensor, length)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Class (or label) probabilities for raw shard-format arrays (n, ...): a clip
        longer than the model's input is scored whole, on windows (as in validation)."""
        multi = self.meta.multi_label
        logits = predict(self.model, self.inputs(x, crop=False), 64, torch.device("cpu"),
                         self.meta.input_shape[-1], windows.pooling(self.meta.config, multi))
        return probabilities(logits, multi)
