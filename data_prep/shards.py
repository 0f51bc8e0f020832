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
    """(x, y) of one split: x float32 with the manifest's shape, y int64 labels."""
    shard_dir = Path(shard_dir)
    shape = read_manifest(shard_dir)["shapes"][column]
    path = shard_dir / f"{split}.parquet"
    if not path.exists():
        return np.zeros((0, *shape), np.float32), np.zeros(0, np.int64)
    table = pq.read_table(path, columns=[column, "label"])
    values = table.column(column).combine_chunks().flatten().to_numpy()
    x = values.astype(np.float32, copy=False).reshape(len(table), *shape)
    return x, table.column("label").to_numpy().astype(np.int64)
