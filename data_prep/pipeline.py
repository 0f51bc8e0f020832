"""Prepare a dataset once: list clips -> split -> decode + featurise in parallel (Ray Data)
-> `<cache>/<fingerprint>/{train,val,test}.parquet` + `manifest.json` + `rejected.csv`.

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
from .sources import class_folders
from .splits import assign_splits

SPLITS = ("train", "val", "test")
BATCH_SIZE = 32


@dataclass(frozen=True)
class Prepared:
    path: Path
    manifest: dict[str, Any]
    reused: bool
    seconds: float


def resolve_source(config: DatasetConfig, cache_root: Path) -> Path:
    """The folder to read: the user's, or the synthetic dataset (generated on first use)."""
    if config.source != "synthetic":
        return Path(config.source).expanduser().resolve()
    opts = config.synthetic
    root = cache_root / "datasets" / f"synthetic-{config.sample_rate}hz-{opts.clips_per_class}"
    return synthetic.generate(
        root,
        clips_per_class=opts.clips_per_class,
        sample_rate=config.sample_rate,
        seconds=config.clip_seconds,
        seed=opts.seed,
        classes=list(opts.classes) if opts.classes else None,
    )


def list_clips(config: DatasetConfig, source: Path) -> pd.DataFrame:
    clips = class_folders(source)
    clips["split"] = assign_splits(
        clips, config.val_fraction, config.test_fraction, config.split_seed
    )
    missing = sorted(set(clips["label"]) - set(clips.loc[clips["split"] == "train", "label"]))
    if missing:
        raise ValueError(f"{source}: classes {missing} have no clip in the train split")
    return clips.reset_index(drop=True)


def _decode_batch(batch: dict[str, np.ndarray], config: DatasetConfig) -> dict[str, np.ndarray]:
    """Ray Data map_batches worker: decode every path; mark failures instead of raising."""
    n = len(batch["path"])
    clips = np.zeros((n, config.clip_samples), dtype=np.float32)
    reasons = np.full(n, "", dtype=object)
    for i, path in enumerate(batch["path"]):
        try:
            clips[i] = load_clip(path, config.sample_rate, config.clip_samples, config.pad_policy)
        except Rejected as why:
            reasons[i] = str(why)
    features = representations.compute(clips, config)
    return {"row": batch["row"], "reason": reasons, "x": features}


def _fixed_shape_column(values: np.ndarray) -> pa.Array:
    flat = pa.array(values.reshape(len(values), -1).ravel(), type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, int(np.prod(values.shape[1:])))


def prepare(config: DatasetConfig, cache_root: str | Path = "results") -> Prepared:
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

    label_names = sorted(clips["label"].unique())
    label_index = {name: i for i, name in enumerate(label_names)}
    items = [{"row": i, "path": p} for i, p in enumerate(clips["path"])]
    dataset = ray.data.from_items(items, override_num_blocks=max(1, len(items) // BATCH_SIZE))
    dataset = dataset.map_batches(
        _decode_batch, batch_size=BATCH_SIZE, fn_kwargs={"config": config}, batch_format="numpy"
    )

    tmp = target.parent / f".{fp}.tmp-{time.time_ns()}"
    tmp.mkdir(parents=True)
    writers: dict[str, pq.ParquetWriter] = {}
    rejected: list[dict[str, str]] = []
    kept_rows: list[int] = []
    total, total_sq, count = 0.0, 0.0, 0
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
                    total += float(x[mask].sum(dtype=np.float64))
                    total_sq += float(np.square(x[mask], dtype=np.float64).sum())
                    count += int(x[mask].size)
                table = pa.table({
                    "id": meta["id"].to_numpy()[mask],
                    "label": meta["label"].map(label_index).to_numpy(np.int64)[mask],
                    "split": meta["split"].to_numpy()[mask],
                    config.representation: _fixed_shape_column(x[mask]),
                })
                if split not in writers:
                    writers[split] = pq.ParquetWriter(tmp / f"{split}.parquet", table.schema)
                writers[split].write_table(table)
        for writer in writers.values():
            writer.close()

        kept = clips.loc[sorted(kept_rows)]
        if kept.loc[kept["split"] == "train", "label"].nunique() < len(label_names):
            lost = sorted(set(label_names) - set(kept.loc[kept["split"] == "train", "label"]))
            raise ValueError(f"{source}: every train clip of classes {lost} was rejected")
        mean = total / max(count, 1)
        std = float(np.sqrt(max(total_sq / max(count, 1) - mean**2, 1e-12)))
        manifest = {
            "fingerprint": fp,
            "source": str(source),
            "label_names": label_names,
            "sample_rate": config.sample_rate,
            "clip_seconds": config.clip_seconds,
            "clip_samples": config.clip_samples,
            "representation": config.representation,
            "params": params,
            "shapes": {config.representation: list(representations.shape(config))},
            "counts": {
                split: {
                    name: int(((kept["split"] == split) & (kept["label"] == name)).sum())
                    for name in label_names
                }
                for split in SPLITS
            },
            "rejected": rejected,
            "normalisation": {config.representation: {"mean": mean, "std": std}},
        }
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
