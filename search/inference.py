"""A trained trial's model, and inputs prepared for it exactly as in training."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from contracts.manifest import Manifest
from contracts.shards import EMBEDDING, input_columns, iter_split, read_manifest, read_split
from data_prep import representations
from data_prep.config import DatasetConfig
from data_prep.decode import Rejected, decode_clip
from trainables.trained import TrainedModel

__all__ = ["TrainedModel", "featurise_files", "split_probabilities"]


def split_probabilities(trained: TrainedModel, shard_dir: str | Path,
                        split: str) -> tuple[np.ndarray, np.ndarray]:
    """(targets, probabilities) of a prepared split, scored a chunk at a time (the search's
    driver scores the test split: its memory must not grow with the split)."""
    columns = input_columns(read_manifest(shard_dir), trained.meta.config.get("layer"))
    targets, probs = [], []
    for x, y in iter_split(shard_dir, split, columns):
        targets.append(y)
        probs.append(trained.probabilities(x))
    if not targets:
        _, y = read_split(shard_dir, split, columns)
        return y, np.zeros((0, len(trained.label_names)), np.float32)
    return np.concatenate(targets), np.concatenate(probs)


def featurise_files(paths: list[str], manifest: Manifest,
                    layer: str | None = None) -> np.ndarray:
    """Decode and featurise audio files with the preparation's own parameters (and, for
    embedding shards, run the network that made them, keeping the `layer` a model reads)."""
    params = {k: v for k, v in manifest.params.items() if k != "embed"}
    config = DatasetConfig.from_dict({**params, "source": "."})
    clips = []
    for path in paths:
        try:
            clips.append(decode_clip(str(path), config.replace(min_seconds=0.0)).clip)
        except Rejected as why:
            raise Rejected(f"{path}: {why}") from None
    x = representations.compute(np.stack(clips), config)
    if manifest.representation == EMBEDDING:
        from embedding.embed import embed_arrays

        return embed_arrays(x, manifest, layer)
    return x
