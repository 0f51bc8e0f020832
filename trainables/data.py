"""What a trial trains on: arrays put once in Ray's object store and shared by every trial."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from data_prep.shards import read_manifest, read_split


@dataclass
class TrialData:
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    label_names: list[str]
    mean: np.ndarray  # broadcasts against one clip's array
    std: np.ndarray

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @classmethod
    def from_shards(cls, shard_dir: str | Path) -> TrialData:
        """Train and val only: the test split stays out of every trial."""
        manifest = read_manifest(shard_dir)
        column = manifest["representation"]
        x_train, y_train = read_split(shard_dir, "train", column)
        x_val, y_val = read_split(shard_dir, "val", column)
        stats = manifest["normalisation"][column]
        return cls(x_train, y_train, x_val, y_val, manifest["label_names"],
                   np.asarray(stats["mean"], np.float32), np.asarray(stats["std"], np.float32))
