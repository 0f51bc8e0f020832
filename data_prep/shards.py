"""Read prepared shards back as arrays."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq


def read_manifest(shard_dir: str | Path) -> dict[str, Any]:
    return json.loads((Path(shard_dir) / "manifest.json").read_text())


def read_split(shard_dir: str | Path, split: str, column: str) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of one split: x float32 with the manifest's shape; y the int64 labels, or a
    float32 multi-hot matrix (clips, classes) for multi-label data."""
    shard_dir = Path(shard_dir)
    manifest = read_manifest(shard_dir)
    shape = manifest["shapes"][column]
    classes = len(manifest["label_names"])
    multi = manifest.get("multi_label", False)
    path = shard_dir / f"{split}.parquet"
    if not path.exists():
        y = np.zeros((0, classes), np.float32) if multi else np.zeros(0, np.int64)
        return np.zeros((0, *shape), np.float32), y
    table = pq.read_table(path, columns=[column, "labels" if multi else "label"])
    values = table.column(column).combine_chunks().flatten().to_numpy()
    x = values.astype(np.float32, copy=False).reshape(len(table), *shape)
    if not multi:
        return x, table.column("label").to_numpy().astype(np.int64)
    y = np.zeros((len(table), classes), np.float32)
    for row, labels in enumerate(table.column("labels").to_pylist()):
        y[row, labels] = 1.0
    return x, y


def read_ids(shard_dir: str | Path, split: str) -> list[str]:
    path = Path(shard_dir) / f"{split}.parquet"
    return pq.read_table(path, columns=["id"]).column("id").to_pylist() if path.exists() else []
