"""What a trial trains on: arrays put once in Ray's object store and shared by every trial."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from contracts.kinds import Kind, kind_of
from contracts.shards import (
    EMBEDDING,
    input_columns,
    layer_names,
    read_copies,
    read_manifest,
    read_noise_bank,
    read_split,
)

from .keys import Key

DATA_PREFIX = "data."  # space keys that choose a preparation variant, e.g. data.n_mels
SCALINGS = ("standard", "minmax", "clip", "per_clip")
KEYS = (
    Key("input_scaling", "str", "standard", "train-split standardisation, min-max to [0, 1], "
        "standardised then clipped to +-clip_value, or each clip standardised by its own mean "
        "and std (per_clip: level-free)", choices=SCALINGS),
    Key("clip_value", "float", 3.0, "input_scaling clip: the bound", interval="(0, 1000]"),
    Key("layer", "str", None, "embedding shards: the layer(s) to read, e.g. fc1 or "
        "conv_block4+fc1 (null: all)", nullable=True),
)


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
    # Embedding shards: each layer's slice of the feature vector, and the slice sizes a
    # model reads (one branch per layer).
    layers: dict[str, tuple[int, int]] | None = None
    input_splits: list[int] | None = None
    normalised: bool = True  # False: the train-split standardisation is off (raw input)
    clip_bound: float | None = None  # standardised values clipped to +-clip_bound
    per_clip: bool = False  # each clip standardised by its own mean and std instead
    # Offline augmentation: each train row's version (0: the recording, k: its k-th copy,
    # a clip's rows adjacent); None when train holds recordings only.
    train_versions: np.ndarray | None = None
    sample_rate: int | None = None  # the clips' (a waveform front places its filters by it)
    kind: Kind | None = None  # the representation's; None: known from its name

    def __post_init__(self) -> None:
        if self.kind is None:
            self.kind = kind_of(self.representation)

    @property
    def y_clips(self) -> np.ndarray:
        """The train labels, one per recording (its copies not counted again)."""
        if self.train_versions is None:
            return self.y_train
        return self.y_train[self.train_versions == 0]

    @property
    def normalisation(self) -> dict[str, Any]:
        """How inputs are scaled, as checkpoints store it (see `normalise`)."""
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "clip": self.clip_bound,
                "per_clip": self.per_clip}

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
        representation = manifest.representation
        columns = input_columns(manifest)
        x_train, y_train = read_split(shard_dir, "train", columns)
        x_val, y_val = read_split(shard_dir, "val", columns)
        mean, std = normalisation(manifest, columns)
        crop = _crop_length(manifest)
        kind = manifest.representation_kind
        noise = read_noise_bank(shard_dir) if kind == Kind.WAVEFORM else None
        layers = None
        if representation == EMBEDDING:
            sizes = [manifest.shapes[c][0] for c in columns]
            ends = np.cumsum(sizes).tolist()
            layers = {name: (end - size, end)
                      for name, size, end in zip(manifest.layers, sizes, ends, strict=True)}
        return cls(x_train, y_train, x_val, y_val, manifest.label_names, mean, std,
                   representation, crop, noise, layers, kind=kind,
                   train_versions=read_copies(shard_dir, "train"),
                   sample_rate=manifest.sample_rate)

    def select_layers(self, choice: str | None) -> TrialData:
        """The embedding layers a trial's `layer` names ("fc1", "conv_block4+fc1"; all when
        None), joined end to end, with the size of each."""
        names = layer_names(choice, list(self.layers or {}))
        spans = [self.layers[name] for name in names]

        def take(a: np.ndarray) -> np.ndarray:
            return np.concatenate([a[..., start:stop] for start, stop in spans], axis=-1)

        return dataclasses.replace(
            self, x_train=take(self.x_train), x_val=take(self.x_val), mean=take(self.mean),
            std=take(self.std), layers=None,
            input_splits=[stop - start for start, stop in spans])

    def scaled(self, kind: str = "standard", clip: float = 3.0) -> TrialData:
        """`input_scaling`, the SoundNet seed's preprocessing variants: `standard` (train
        mean and std), `minmax` (train minimum to 0, maximum to 1), `clip` (standard, then
        clipped to +-`clip_value`)."""
        if kind == "standard":
            return self
        if kind == "clip":
            return dataclasses.replace(self, clip_bound=float(clip))
        if kind == "per_clip":
            return dataclasses.replace(self, per_clip=True)
        if kind == "minmax":
            shape = (1,) * (self.x_train.ndim - 1 - self.mean.ndim) + self.mean.shape
            axes = (0, *(i + 1 for i, size in enumerate(shape) if size == 1))
            low = self.x_train.min(axis=axes).reshape(self.mean.shape)
            high = self.x_train.max(axis=axes).reshape(self.mean.shape)
            return dataclasses.replace(self, mean=low.astype(np.float32),
                                       std=np.maximum(high - low, 1e-6).astype(np.float32))
        raise ValueError(f"input_scaling: {kind!r} is not one of {list(SCALINGS)}")

    def unnormalised(self) -> TrialData:
        return dataclasses.replace(self, mean=np.zeros_like(self.mean),
                                   std=np.ones_like(self.std), normalised=False)


def normalise(x: np.ndarray, normalisation: Mapping[str, Any]) -> np.ndarray:
    """Shard-format arrays scaled as a model saw them in training."""
    if normalisation.get("per_clip"):
        axes = tuple(range(1, x.ndim))
        centred = x - x.mean(axis=axes, keepdims=True)
        return (centred / (centred.std(axis=axes, keepdims=True) + 1e-6)).astype(np.float32)
    mean = np.asarray(normalisation["mean"], np.float32)
    std = np.asarray(normalisation["std"], np.float32)
    z = ((x - mean) / std).astype(np.float32, copy=False)
    clip = normalisation.get("clip")
    return np.clip(z, -clip, clip) if clip else z


def normalisation(manifest: dict, columns: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Train-split mean and std of the columns, joined as `read_split` joins them."""
    stats = [manifest.normalisation[c] for c in columns]
    mean, std = ([np.asarray(s[key], np.float32) for s in stats] for key in ("mean", "std"))
    if len(columns) == 1:
        return mean[0], std[0]
    return np.concatenate([m.ravel() for m in mean]), np.concatenate([s.ravel() for s in std])


def _crop_length(manifest: dict) -> int | None:
    """With `max_seconds`, shards keep more than `clip_seconds`: training crops at random."""
    stored, seen = manifest.stored_samples, manifest.clip_samples
    if not stored or stored == seen:
        return None
    kind = manifest.representation_kind
    if kind == Kind.WAVEFORM:
        return seen
    if kind == Kind.SPECTROGRAM:
        return manifest.frames(seen)
    return None
