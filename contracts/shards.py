"""The shard contract: a split's rows as Parquet, its arrays as memory-mappable `.npy`.

    <shards>/<fingerprint>/
        manifest.json
        train.parquet/part-*.parquet   one row per clip (id, label or labels, split, fold, copy)
        train.<column>.npy             (rows, *shape) float32, the rows in the Parquet's order
        val..., test...

Arrays are kept out of Parquet so that a trial maps them read-only: trials on one node share
the OS page cache, and nothing is copied into the driver or into each trial. Caches written
before kept them as a Parquet column, which `read_split` still reads.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .manifest import Manifest, read_manifest

__all__ = ["Manifest", "read_manifest"]  # read here too, with the arrays


def array_column(values: np.ndarray) -> pa.Array:
    """(rows, *shape) float32 -> one fixed-size binary value per row, the row's float32
    bytes in C order. Parquet stores a list column with a level per float: writing it cost
    2.7x and reading 3.5x a binary column's (bench/shard_format.py); the shape is in the
    manifest."""
    values = np.ascontiguousarray(values, dtype=np.float32)
    width = values[0].nbytes if len(values) else 4 * int(np.prod(values.shape[1:]))
    return pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(values),
                                                [None, pa.py_buffer(values)])


def column_array(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A stored array column -> (rows, values) float32; also reads the list columns that
    caches written before `array_column` hold."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    rows = len(column)
    if pa.types.is_fixed_size_list(column.type):
        return column.flatten().to_numpy().astype(np.float32, copy=False).reshape(rows, -1)
    width = column.type.byte_width
    if rows == 0:
        return np.zeros((0, width // 4), np.float32)
    data = np.frombuffer(column.buffers()[1], np.uint8)
    data = data[column.offset * width : (column.offset + rows) * width]
    return data.view(np.float32).reshape(rows, width // 4)


def array_path(shard_dir: str | Path, split: str, column: str) -> Path:
    return Path(shard_dir) / f"{split}.{column}.npy"


def part_array_path(shard_dir: str | Path, split: str, column: str, first_row: int) -> Path:
    """Where a preparation worker leaves its rows' arrays, joined by `join_array_parts`."""
    return Path(shard_dir) / f"{split}.{column}.parts" / f"part-{first_row:09d}.npy"


def join_array_parts(shard_dir: str | Path, split: str, column: str) -> int:
    """Join the workers' array parts of one split, in row order, into its `.npy`, one part
    in memory at a time (written with plain writes, not through a map, so that the
    writer's memory stays one part); the parts are removed. Returns the rows written."""
    folder = part_array_path(shard_dir, split, column, 0).parent
    parts = sorted(folder.glob("part-*.npy"))
    if not parts:
        return 0
    headers = [np.load(part, mmap_mode="r") for part in parts]
    rows, shape = sum(len(h) for h in headers), headers[0].shape[1:]
    del headers
    with open(array_path(shard_dir, split, column), "wb") as out:
        np.lib.format.write_array_header_2_0(
            out, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                  "fortran_order": False, "shape": (rows, *shape)})
        for part in parts:
            np.load(part).astype(np.float32, copy=False).tofile(out)
        # On disk before the folder is renamed into place: a crash cannot leave a finished-
        # looking cache with half its arrays, and the trials that start next do not wait on
        # gigabytes of writeback (measured: first batch 10 s after a 100k-clip preparation
        # without it, 1.2 s with the data already on disk).
        out.flush()
        os.fsync(out.fileno())
    shutil.rmtree(folder)
    return rows


def read_array(shard_dir: str | Path, split: str, column: str) -> np.ndarray | None:
    """One split's array column mapped read-only, or None where the cache predates them."""
    path = array_path(shard_dir, split, column)
    return np.load(path, mmap_mode="r") if path.exists() else None


NOISE_FILE = "noise.npy"  # background-noise excerpts of clip length, (k, samples) float32


def read_noise_bank(shard_dir: str | Path) -> np.ndarray | None:
    """The dataset's background recordings cut to clip length, when it has any."""
    path = Path(shard_dir) / NOISE_FILE
    return np.load(path) if path.exists() else None


EMBEDDING = "embedding"  # the representation of shards made by `embedding.embed`


def embedding_column(layer: str) -> str:
    return f"{EMBEDDING}.{layer}"


def input_columns(manifest: Manifest, layer: str | None = None) -> list[str]:
    """The columns a model reads: the representation's, or the embedding columns of `layer`
    ("conv_block4", several joined by "+", or all when None)."""
    if manifest.representation != EMBEDDING:
        return [manifest.representation]
    return [embedding_column(name) for name in layer_names(layer, manifest.layers)]


def layer_names(choice: str | None, available: list[str]) -> list[str]:
    if choice is None:
        return list(available)
    names = str(choice).split("+")
    unknown = [name for name in names if name not in available]
    if unknown:
        raise ValueError(f"layer: {unknown[0]!r} was not embedded; choose from {available} "
                         "(several joined by '+')")
    return names


def read_split(shard_dir: str | Path, split: str,
               columns: str | list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of one split: x float32 with the manifest's shape, mapped read-only from its
    `.npy` (several vector columns are joined end to end, in memory); y the int64 labels,
    or a float32 multi-hot matrix (clips, classes) for multi-label data."""
    shard_dir = Path(shard_dir)
    manifest = read_manifest(shard_dir)
    columns = [columns] if isinstance(columns, str) else list(columns)
    shapes = [manifest.shapes[c] for c in columns]
    shape = shapes[0] if len(columns) == 1 else [sum(int(np.prod(s)) for s in shapes)]
    classes = len(manifest.label_names)
    multi = manifest.multi_label
    path = shard_dir / f"{split}.parquet"
    if not path.exists():
        y = np.zeros((0, classes), np.float32) if multi else np.zeros(0, np.int64)
        return np.zeros((0, *shape), np.float32), y
    mapped = [read_array(shard_dir, split, c) for c in columns]
    stored = [c for c, array in zip(columns, mapped, strict=True) if array is None]
    table = pq.read_table(path, columns=[*stored, "labels" if multi else "label"])
    parts = [column_array(table.column(c)) if array is None else array.reshape(len(array), -1)
             for c, array in zip(columns, mapped, strict=True)]
    x = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    x = x.reshape(len(table), *shape)
    if not multi:
        return x, table.column("label").to_numpy().astype(np.int64)
    y = np.zeros((len(table), classes), np.float32)
    for row, labels in enumerate(table.column("labels").to_pylist()):
        y[row, labels] = 1.0
    return x, y


COPY = "copy"  # train shards with offline augmentation: 0 the recording, k its k-th copy


def read_copies(shard_dir: str | Path, split: str) -> np.ndarray | None:
    """Each row's version (0: the recording, k: its k-th copy; a clip's rows are adjacent),
    or None when the split holds recordings only."""
    path = Path(shard_dir) / f"{split}.parquet"
    if not path.exists() or COPY not in pq.ParquetDataset(path).schema.names:
        return None
    return pq.read_table(path, columns=[COPY]).column(COPY).to_numpy().astype(np.int64)


def iter_split(shard_dir: str | Path, split: str, columns: str | list[str],
               rows: int = 2048) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """`read_split` in chunks of rows, each copied into memory from a map that is then let
    go: a scan over a split larger than memory keeps the reader's memory flat."""
    _, y = read_split(shard_dir, split, columns)
    for start in range(0, len(y), rows):
        x, _ = read_split(shard_dir, split, columns)
        yield np.array(x[start : start + rows]), y[start : start + rows]
        del x


def read_ids(shard_dir: str | Path, split: str) -> list[str]:
    path = Path(shard_dir) / f"{split}.parquet"
    return pq.read_table(path, columns=["id"]).column("id").to_pylist() if path.exists() else []
