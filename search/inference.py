"""A trained trial's model, and inputs prepared for it exactly as in training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from data_prep import representations
from data_prep.config import DatasetConfig
from data_prep.decode import Rejected, load_clip
from data_prep.shards import read_manifest, read_split
from trainables import models
from trainables.augment import centre_crop
from trainables.checkpoints import STATE_FILE
from trainables.loop import predict, probabilities


@dataclass
class TrainedModel:
    model: torch.nn.Module
    state: dict[str, Any]

    @classmethod
    def load(cls, checkpoint: str | Path) -> TrainedModel:
        """From a checkpoint folder (its state.pt) or a state file (an exported model.pt)."""
        path = Path(checkpoint)
        path = path / STATE_FILE if path.is_dir() else path
        if not path.exists():
            raise FileNotFoundError(f"no model state at {path}")
        state = torch.load(path, weights_only=False, map_location="cpu")
        model = models.build(state["config"]["model"], state["config"],
                             tuple(state["input_shape"]), len(state["label_names"]))
        model.load_state_dict(state["model"])
        return cls(model.eval(), state)

    @property
    def label_names(self) -> list[str]:
        return self.state["label_names"]

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """Class (or label) probabilities for raw shard-format arrays (n, ...)."""
        norm = self.state["normalisation"]
        mean = np.asarray(norm["mean"], np.float32)
        std = np.asarray(norm["std"], np.float32)
        tensor = torch.from_numpy((x - mean) / std).float()
        length = self.state["input_shape"][-1]
        if tensor.shape[-1] != length:
            tensor = centre_crop(tensor, length)
        logits = predict(self.model, tensor, 64, torch.device("cpu"))
        return probabilities(logits, self.state.get("multi_label", False))


def split_probabilities(trained: TrainedModel, shard_dir: str | Path,
                        split: str) -> tuple[np.ndarray, np.ndarray]:
    """(targets, probabilities) of a prepared split."""
    column = read_manifest(shard_dir)["representation"]
    x, y = read_split(shard_dir, split, column)
    return y, trained.probabilities(x)


def featurise_files(paths: list[str], manifest: dict[str, Any]) -> np.ndarray:
    """Decode and featurise audio files with the preparation's own parameters."""
    config = DatasetConfig.from_dict({**manifest["params"], "source": "."})
    clips = []
    for path in paths:
        try:
            clips.append(load_clip(str(path), config.sample_rate, config.stored_samples,
                                   config.pad_policy, 0.0, config.max_file_mb))
        except Rejected as why:
            raise Rejected(f"{path}: {why}") from None
    return representations.compute(np.stack(clips), config)
