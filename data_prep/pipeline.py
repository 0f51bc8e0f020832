"""Prepare a dataset once: list clips -> split -> decode + featurise in parallel (Ray Data)
-> `<cache>/shards/<fingerprint>/{train,val,test}.parquet` + `manifest.json` + `rejected.csv`.

A finished preparation is reused whenever the fingerprint matches. Shards are written to a
temporary folder renamed into place when complete, so an interrupted run leaves no half cache.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from . import representations, synthetic
from .config import DatasetConfig
from .decode import Rejected, load_clip
from .fingerprint import fingerprint
from .sources import list_source, noise_files
from .splits import assign_splits, splits_from_folds

SPLITS = ("train", "val", "test")
BATCH_SIZE = 32


@dataclass(frozen=True)
class Prepared:
    path: Path
    manifest: dict[str, Any]
    reused: bool
    seconds: float


def resolve_source(config: DatasetConfig, cache_root: Path) -> Path:
    """The folder or CSV to read: the user's, or the synthetic dataset (made on first use)."""
    if config.source != "synthetic":
        return Path(config.source).expanduser().resolve()
    opts = config.synthetic
    name = f"synthetic-{config.sample_rate}hz-{config.clip_seconds:g}s-{opts.clips_per_class}"
    return synthetic.generate(
        cache_root / "datasets" / name,
        clips_per_class=opts.clips_per_class,
        sample_rate=config.sample_rate,
        seconds=config.clip_seconds,
        seed=opts.seed,
        classes=list(opts.classes) if opts.classes else None,
    )


def list_clips(config: DatasetConfig, source: Path) -> pd.DataFrame:
    """The clip table with a `split` for every row."""
    clips = list_source(config, source)
    if "split" not in clips:
        if "fold" in clips:
            clips["split"] = splits_from_folds(clips["fold"], config.val_fold, config.test_fold)
        else:
            clips["split"] = assign_splits(
                clips, config.val_fraction, config.test_fraction, config.split_seed
            )
    train_labels = {n for names in clips.loc[clips["split"] == "train", "labels"] for n in names}
    missing = sorted({n for names in clips["labels"] for n in names} - train_labels)
    if missing:
        raise ValueError(f"{source}: classes {missing} have no clip in the train split")
    return clips


def _decode_batch(batch: dict[str, np.ndarray], config: DatasetConfig) -> dict[str, np.ndarray]:
    """Ray Data map_batches worker: decode every path; mark failures instead of raising."""
    n = len(batch["path"])
    clips = np.zeros((n, config.stored_samples), dtype=np.float32)
    reasons = np.full(n, "", dtype=object)
    for i, path in enumerate(batch["path"]):
        try:
            clips[i] = load_clip(path, config.sample_rate, config.stored_samples,
                                 config.pad_policy, config.min_seconds, config.max_file_mb)
        except Rejected as why:
            reasons[i] = str(why)
    ok = reasons == ""
    features = np.zeros((n, *representations.shape(config)), dtype=np.float32)
    features[ok] = representations.compute(clips[ok], config)
    return {"row": batch["row"], "reason": reasons, "x": features}


def _fixed_shape_column(values: np.ndarray) -> pa.Array:
    flat = pa.array(values.reshape(len(values), -1).ravel(), type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, int(np.prod(values.shape[1:])))


class _TrainStatistics:
    """Running mean and std of the train split over the representation's pooled axes."""

    def __init__(self, representation: str):
        self.axes = representations.normalisation_axes(representation)
        self.total = self.total_sq = 0.0
        self.count = 0

    def add(self, x: np.ndarray) -> None:
        x = x.astype(np.float64)
        self.total = self.total + x.sum(axis=self.axes, keepdims=True)[0]
        self.total_sq = self.total_sq + np.square(x).sum(axis=self.axes, keepdims=True)[0]
        self.count += int(np.prod([x.shape[a] for a in self.axes]))

    def result(self) -> dict[str, list]:
        mean = np.asarray(self.total) / max(self.count, 1)
        var = np.asarray(self.total_sq) / max(self.count, 1) - mean**2
        std = np.sqrt(np.maximum(var, 1e-12))
        return {"mean": mean.tolist(), "std": np.maximum(std, 1e-6).tolist()}


def prepare(config: DatasetConfig, cache_root: str | Path = "results",
            progress: bool = False) -> Prepared:
    """Prepare (or reuse) the shards for `config`; return where they are and the manifest."""
    import ray

    started = time.perf_counter()
    cache_root = Path(cache_root).resolve()
    source = resolve_source(config, cache_root)
    clips = list_clips(config, source)
    params = {k: v for k, v in config.to_dict().items() if k not in ("source", "synthetic")}
    fp = fingerprint(clips, params)
    target = cache_root / "shards" / fp
    if (target / "manifest.json").exists():
        manifest = json.loads((target / "manifest.json").read_text())
        return Prepared(target, manifest, True, time.perf_counter() - started)

    label_names = sorted({n for names in clips["labels"] for n in names})
    label_index = {name: i for i, name in enumerate(label_names)}
    multi_label = bool(config.csv.separator) or bool((clips["labels"].str.len() > 1).any())
    column = config.representation

    context = ray.data.DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = progress
    items = [{"row": i, "path": p} for i, p in enumerate(clips["path"])]
    blocks = max(1, min(len(items) // BATCH_SIZE, 200))
    dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
        _decode_batch, batch_size=BATCH_SIZE, fn_kwargs={"config": config}, batch_format="numpy"
    )

    tmp = target.parent / f".{fp}.tmp-{time.time_ns()}"
    tmp.mkdir(parents=True)
    writers: dict[str, pq.ParquetWriter] = {}
    rejected: list[dict[str, str]] = []
    kept_rows: list[int] = []
    stats = _TrainStatistics(column)
    try:
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            ok = batch["reason"] == ""
            for row, reason in zip(batch["row"][~ok], batch["reason"][~ok], strict=True):
                rejected.append({"id": clips.at[row, "id"], "reason": reason})
            rows, x = batch["row"][ok], batch["x"][ok]
            kept_rows.extend(rows.tolist())
            meta = clips.loc[rows]
            for split in SPLITS:
                mask = (meta["split"] == split).to_numpy()
                if not mask.any():
                    continue
                if split == "train":
                    stats.add(x[mask])
                indices = [[label_index[n] for n in names] for names in meta["labels"]]
                columns: dict[str, Any] = {"id": meta["id"].to_numpy()[mask]}
                if multi_label:
                    columns["labels"] = pa.array([indices[i] for i in np.flatnonzero(mask)],
                                                 type=pa.list_(pa.int64()))
                else:
                    columns["label"] = np.array([i[0] for i in indices], np.int64)[mask]
                columns["split"] = meta["split"].to_numpy()[mask]
                if "fold" in meta:
                    columns["fold"] = meta["fold"].to_numpy(np.int64)[mask]
                columns[column] = _fixed_shape_column(x[mask])
                table = pa.table(columns)
                if split not in writers:
                    writers[split] = pq.ParquetWriter(tmp / f"{split}.parquet", table.schema)
                writers[split].write_table(table)
        for writer in writers.values():
            writer.close()

        kept = clips.loc[sorted(kept_rows)]
        train_kept = {n for names in kept.loc[kept["split"] == "train", "labels"] for n in names}
        if train_kept != set(label_names):
            lost = sorted(set(label_names) - train_kept)
            raise ValueError(f"{source}: every train clip of classes {lost} was rejected; "
                             f"see the reasons in {tmp / 'rejected.csv'}")
        manifest = {
            "fingerprint": fp,
            "source": str(source),
            "label_names": label_names,
            "multi_label": multi_label,
            "sample_rate": config.sample_rate,
            "clip_seconds": config.clip_seconds,
            "clip_samples": config.clip_samples,
            "stored_samples": config.stored_samples,
            "representation": column,
            "params": params,
            "shapes": {column: list(representations.shape(config))},
            "counts": {
                split: {
                    name: int(sum(name in names for names in
                                  kept.loc[kept["split"] == split, "labels"]))
                    for name in label_names
                }
                for split in SPLITS
            },
            "rejected": rejected,
            "normalisation": {column: stats.result()},
            "noise_files": noise_files(source),
        }
        if column == "features":
            manifest["feature_names"] = representations.feature_names()
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
        pd.DataFrame(rejected, columns=["id", "reason"]).to_csv(tmp / "rejected.csv", index=False)
        if target.exists():  # a concurrent run finished first; its shards are equivalent
            shutil.rmtree(tmp)
        else:
            tmp.rename(target)
    except BaseException:
        for writer in writers.values():
            writer.close()
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Prepared(target, manifest, False, time.perf_counter() - started)
