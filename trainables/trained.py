"""A trained trial's model back from its checkpoint, scoring inputs as in training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import models, windows
from .augment import centre_crop
from .checkpoints import read_state
from .data import normalise
from .loop import predict, probabilities


@dataclass
class TrainedModel:
    model: torch.nn.Module
    state: dict[str, Any]

    @classmethod
    def load(cls, checkpoint: str | Path) -> TrainedModel:
        """From a checkpoint folder or an exported model.pt (tensors only, with their JSON
        metadata beside them); a file that needs unpickling is refused."""
        state = read_state(checkpoint)
        model = models.build(state["config"]["model"], state["config"],
                             tuple(state["input_shape"]), len(state["label_names"]))
        model.load_state_dict(state["model"])
        return cls(model.eval(), state)

    @property
    def label_names(self) -> list[str]:
        return self.state["label_names"]

    def inputs(self, x: np.ndarray, crop: bool = True) -> torch.Tensor:
        """Raw shard-format arrays (n, ...) scaled as the model saw them in training, and
        with `crop`, their centre at the length it read."""
        tensor = torch.from_numpy(normalise(x, self.state["normalisation"]))
        length = self.state["input_shape"][-1]
        return tensor if not crop or tensor.shape[-1] == length else centre_crop(tensor, length)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Class (or label) probabilities for raw shard-format arrays (n, ...): a clip
        longer than the model's input is scored whole, on windows (as in validation)."""
        multi = self.state.get("multi_label", False)
        logits = predict(self.model, self.inputs(x, crop=False), 64, torch.device("cpu"),
                         self.state["input_shape"][-1],
                         windows.pooling(self.state["config"], multi))
        return probabilities(logits, multi)
