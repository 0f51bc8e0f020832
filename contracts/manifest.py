"""The manifest: what a shard folder holds, written once beside the shards as
`manifest.json` and read back as the same typed object.

Version 1 (before this module) is read too: its keys are this one's, less `version` and
`copies`, and its arrays sit in Parquet (see `contracts.shards`).
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .kinds import Kind, kind_of

MANIFEST_FILE = "manifest.json"
VERSION = 2  # 2: arrays in <split>.<column>.npy; offline augmentation copies


@dataclass
class Manifest:
    fingerprint: str
    label_names: list[str]
    representation: str  # the array column a model reads, or "embedding"
    shapes: dict[str, list[int]]  # column -> one clip's array shape
    counts: dict[str, dict[str, int]] = field(default_factory=dict)  # split -> label ->
    # recordings (copies not counted)
    normalisation: dict[str, dict[str, list]] = field(default_factory=dict)  # column ->
    # train-split mean and std
    params: dict[str, Any] = field(default_factory=dict)  # preparation keys fingerprinted
    source: str = ""
    multi_label: bool = False
    sample_rate: int | None = None
    clip_seconds: float | None = None
    clip_samples: int | None = None  # what a model sees
    stored_samples: int | None = None  # what the shards keep (more with max_seconds)
    rejected: list[dict[str, str]] = field(default_factory=list)  # id, reason
    noise_files: list[str] = field(default_factory=list)
    origin: dict[str, Any] = field(default_factory=dict)  # where split and groups came from
    splits: dict[str, dict[str, float]] = field(default_factory=dict)  # levels, durations
    duplicates: list[dict[str, Any]] = field(default_factory=list)  # sets of identical clips
    copies: int = 0  # offline augmentation: transformed copies per train clip
    feature_names: list[str] | None = None  # the `features` representation's entries
    layers: list[str] | None = None  # embedding shards: the layers embedded
    embedded_from: str | None = None  # embedding shards: the shards they were made from
    kind: str | None = None  # the representation's `Kind` (None: read from its name)
    frame_hop: int | None = None  # spectrogram kinds: samples per frame
    version: int = VERSION

    @property
    def representation_kind(self) -> Kind:
        return kind_of(self.representation, self.kind)

    def frames(self, samples: int) -> int:
        """Frames a spectrogram of `samples` holds (centred frames, as librosa's)."""
        hop = self.frame_hop or self.params["hop_length"]
        return 1 + samples // hop

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Manifest:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{"version": 1, **{k: v for k, v in raw.items() if k in known}})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def write(self, folder: str | Path) -> None:
        (Path(folder) / MANIFEST_FILE).write_text(json.dumps(self.to_dict(), indent=2))


def read_manifest(shard_dir: str | Path) -> Manifest:
    return Manifest.from_dict(json.loads((Path(shard_dir) / MANIFEST_FILE).read_text()))
