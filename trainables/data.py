"""What a trial trains on: arrays put once in Ray's object store and shared by every trial."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from data_prep.decode import Rejected, read_audio
from data_prep.shards import read_manifest, read_split

DATA_PREFIX = "data."  # space keys that choose a preparation variant, e.g. data.n_mels


def variant_key(config: Mapping[str, Any]) -> str:
    """Which prepared variant a trial's config names: its `data.*` keys, canonically."""
    chosen = {k[len(DATA_PREFIX):]: v for k, v in config.items() if k.startswith(DATA_PREFIX)}
    return json.dumps(chosen, sort_keys=True)


@dataclass
class TrialData:
    x_train: np.ndarray
    y_train: np.ndarray  # int labels (n,), or multi-hot (n, labels)
    x_val: np.ndarray
    y_val: np.ndarray
    label_names: list[str]
    mean: np.ndarray  # broadcasts against one clip's array
    std: np.ndarray
    representation: str = "waveform"
    crop_length: int | None = None  # last-axis length a model sees, when shards keep more
    noise_bank: np.ndarray | None = None  # background-noise excerpts, (k, samples)

    @property
    def input_shape(self) -> tuple[int, ...]:
        shape = tuple(self.x_train.shape[1:])
        return (*shape[:-1], self.crop_length) if self.crop_length else shape

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    @property
    def multi_label(self) -> bool:
        return self.y_train.ndim == 2

    @classmethod
    def from_shards(cls, shard_dir: str | Path) -> TrialData:
        """Train and val only: the test split stays out of every trial."""
        manifest = read_manifest(shard_dir)
        column = manifest["representation"]
        x_train, y_train = read_split(shard_dir, "train", column)
        x_val, y_val = read_split(shard_dir, "val", column)
        stats = manifest["normalisation"][column]
        crop = _crop_length(manifest)
        noise = _noise_bank(manifest) if column == "waveform" else None
        return cls(x_train, y_train, x_val, y_val, manifest["label_names"],
                   np.asarray(stats["mean"], np.float32), np.asarray(stats["std"], np.float32),
                   column, crop, noise)


def _crop_length(manifest: dict) -> int | None:
    """With `max_seconds`, shards keep more than `clip_seconds`: training crops at random."""
    stored, seen = manifest.get("stored_samples"), manifest.get("clip_samples")
    if not stored or stored == seen:
        return None
    if manifest["representation"] == "waveform":
        return seen
    if manifest["representation"] in ("logmel", "mfcc"):
        return 1 + seen // manifest["params"]["hop_length"]
    return None


def _noise_bank(manifest: dict) -> np.ndarray | None:
    """The dataset's background recordings cut into clip-length excerpts (up to 256)."""
    import soxr

    length, rate = manifest["stored_samples"], manifest["sample_rate"]
    excerpts = []
    for path in manifest.get("noise_files", []):
        try:
            audio, native = read_audio(path, max_file_mb=1024)
        except Rejected:
            continue
        mono = audio.mean(axis=1)
        if native != rate:
            mono = soxr.resample(mono, native, rate)
        excerpts += [mono[i : i + length] for i in range(0, len(mono) - length + 1, length)]
    return np.stack(excerpts[:256]).astype(np.float32) if excerpts else None
