"""What Ray Data runs on every batch of clips: decode, featurise, and write the batch's
Parquet and array parts itself, so that only row statuses and statistics travel back to the
driver.

Kept apart from the pipeline so a worker imports only numpy, scipy, pyarrow, soundfile and
soxr (no torch, pandas or Ray Data driver code).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from contracts.shards import COPY, part_array_path

from . import pitch, representations
from .config import DatasetConfig
from .copies import make_copies
from .decode import Rejected, decode_clip

SPLITS = ("train", "val", "test")


def write_part(table: pa.Table, path: Path) -> None:
    """One Parquet part. Dictionary-encoding, compressing or taking statistics of float
    arrays is slow and saves nothing (snappy on log-mels: the same size, reading back 3-5x
    slower)."""
    floats = {name for name, kind in zip(table.column_names, table.schema.types, strict=True)
              if pa.types.is_fixed_size_binary(kind) or pa.types.is_fixed_size_list(kind)}
    pq.write_table(table, path, use_dictionary=["id", "split"],
                   write_statistics=[n for n in table.column_names if n not in floats],
                   compression={n: "none" if n in floats else "snappy" for n in table.column_names})


def part_path(out_dir: str, split: str, first_row: int) -> Path:
    """`<out>/<split>.parquet/part-<row>.parquet`: a split is a folder of parts, read as
    one table in row order."""
    return Path(out_dir) / f"{split}.parquet" / f"part-{first_row:09d}.parquet"


def _rows(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """`values[mask]` without copying when every row is selected (the usual batch)."""
    return values if mask.all() else values[mask]


def decode_batch(
    batch: dict[str, np.ndarray], config: DatasetConfig, out_dir: str, multi_label: bool,
    representation: representations.Representation,
) -> dict[str, np.ndarray]:
    """Decode, featurise and write one batch; return per row its reason for rejection ("" if
    kept), what the summary reports of it (seconds, level, a hash of its samples and, for
    the rows marked `pitch`, the median fundamental) and, for kept train rows, sums for the
    normalisation statistics."""
    n = len(batch["path"])
    clips = np.zeros((n, config.stored_samples), dtype=np.float32)
    reasons = np.full(n, "", dtype=object)
    seconds, levels, f0 = np.zeros(n), np.zeros(n), np.full(n, np.nan)
    digests = np.full(n, "", dtype=object)
    for i, path in enumerate(batch["path"]):
        try:
            decoded = decode_clip(path, config)
        except Rejected as why:
            reasons[i] = str(why)
            continue
        clips[i], seconds[i], levels[i], digests[i] = (
            decoded.clip, decoded.seconds, decoded.level_db, decoded.digest)
        if batch["pitch"][i]:  # the summary's sample of its class and split
            f0[i] = pitch.median_f0(decoded.clip, config.sample_rate)
    ok = reasons == ""
    x = representations.compute(_rows(clips, ok), config, representation)

    inner, stat_shape, _ = representations.statistics_layout(config, representation)
    sums = np.zeros((n, *stat_shape))
    sums_sq = np.zeros((n, *stat_shape))
    train = batch["split"][ok] == "train"
    if train.any():
        # Float64 sums of float32 values: a float64 copy of the batch cost 5-7x more.
        x_train = _rows(x, train)
        rows_ok = np.flatnonzero(ok)[train]
        sums[rows_ok] = x_train.sum(axis=inner, keepdims=True, dtype=np.float64)
        sums_sq[rows_ok] = np.square(x_train).sum(axis=inner, keepdims=True, dtype=np.float64)

    kept = {key: values[ok] for key, values in batch.items()}
    for split in SPLITS:
        mask = kept["split"] == split
        if not mask.any():
            continue
        rows = {key: values[mask] for key, values in kept.items()}
        values = _rows(x, mask)
        versions = 1 + (config.augment.copies if split == "train" else 0)
        if versions > 1:  # each recording followed by its copies: a clip's rows are adjacent
            copies = np.concatenate([
                make_copies(clip, clip_id, config.sample_rate, config.augment,
                            config.pad_policy)
                for clip, clip_id in zip(_rows(clips, ok)[mask], rows["id"], strict=True)])
            made = representations.compute(copies, config, representation).reshape(
                len(values), versions - 1, *values.shape[1:])
            values = np.concatenate([values[:, None], made], axis=1).reshape(
                -1, *values.shape[1:])
            rows = {key: np.repeat(v, versions, axis=0) for key, v in rows.items()}
        columns: dict[str, pa.Array | np.ndarray] = {"id": rows["id"].astype(str)}
        if multi_label:
            columns["labels"] = pa.array([list(v) for v in rows["labels"]],
                                         type=pa.list_(pa.int64()))
        else:
            columns["label"] = np.array([v[0] for v in rows["labels"]], np.int64)
        columns["split"] = rows["split"].astype(str)
        if "fold" in rows:
            columns["fold"] = rows["fold"].astype(np.int64)
        if versions > 1:
            columns[COPY] = np.tile(np.arange(versions, dtype=np.int16), int(mask.sum()))
        first = int(kept["row"][mask][0])
        path = part_path(out_dir, split, first)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_part(pa.table(columns), path)
        arrays = part_array_path(out_dir, split, config.representation, first)
        arrays.parent.mkdir(parents=True, exist_ok=True)
        np.save(arrays, np.ascontiguousarray(values, dtype=np.float32))
    return {"row": batch["row"], "reason": reasons, "sum": sums, "sum_sq": sums_sq,
            "seconds": seconds, "level_db": levels, "digest": digests, "f0_hz": f0}
