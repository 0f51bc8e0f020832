"""Prepare a dataset once: list clips -> split -> decode + featurise in parallel (Ray Data)
-> `<cache>/shards/<fingerprint>/{train,val,test}.parquet` + `manifest.json` + `rejected.csv`.

A finished preparation is reused whenever the fingerprint matches. Shards are written to a
temporary folder renamed into place when complete, so an interrupted run leaves no half cache.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from contracts.kinds import Kind
from contracts.manifest import MANIFEST_FILE, Manifest, read_manifest
from contracts.shards import NOISE_FILE, join_array_parts

from . import representations, summary, synthetic
from .atomic import building
from .config import CsvConfig, DataError, DatasetConfig
from .decode import Rejected, load_mono
from .durations import resolve_max_seconds
from .fingerprint import fingerprint
from .kernels import warm_kernels
from .progress import clip_progress
from .sources import list_source, noise_files
from .splits import assign_splits, splits_from_folds
from .worker import SPLITS, decode_batch

# Samples per Ray task: about 0.3 s of decoding and featurising on one core, against Ray's
# ~20 ms per task (measured: 128 clips of 1 s a task, 1550 clips/s; 256, 1750).
SAMPLES_PER_TASK = 8_000_000
MEASURED = ("seconds", "level_db", "digest", "f0_hz")  # what workers report of each kept clip


@dataclass(frozen=True)
class Prepared:
    path: Path
    manifest: Manifest
    reused: bool
    seconds: float


SYNTHETIC_MULTILABEL_CSV = CsvConfig(path_column="path", label_column="labels", separator=",")


def resolve_source(config: DatasetConfig, cache_root: Path) -> tuple[Path, DatasetConfig]:
    """The folder or CSV to read, and the config to read it with: the user's, or the
    synthetic dataset (made on first use)."""
    if config.source != "synthetic":
        return Path(config.source).expanduser().resolve(), config
    opts = config.synthetic
    name = f"synthetic-{config.sample_rate}hz-{config.clip_seconds:g}s-{opts.clips_per_class}"
    classes = list(opts.classes) if opts.classes else None
    if opts.multi_label:
        n_classes = len(classes or synthetic.CLASSES)
        csv = synthetic.generate_multilabel(
            cache_root / "datasets" / f"{name}-multilabel",
            clips=opts.clips_per_class * n_classes, sample_rate=config.sample_rate,
            seconds=config.clip_seconds, seed=opts.seed, classes=classes)
        return csv, config.replace(layout="csv", csv=SYNTHETIC_MULTILABEL_CSV)
    return synthetic.generate(
        cache_root / "datasets" / name,
        clips_per_class=opts.clips_per_class,
        sample_rate=config.sample_rate,
        seconds=config.clip_seconds,
        seed=opts.seed,
        classes=classes,
    ), config


def list_clips(config: DatasetConfig, source: Path) -> pd.DataFrame:
    """The clip table with a `split` for every row; `attrs["origin"]` says where the split
    and the groups came from."""
    clips = list_source(config, source)
    origin = clips.attrs["origin"]
    if "split" in clips and not (clips["split"] == "val").any():
        train = clips["split"] == "train"
        fraction = config.val_fraction / (1 - config.test_fraction)
        clips.loc[train, "split"] = assign_splits(clips[train], fraction, 0.0, config.split_seed)
        origin["split"] += f"; val drawn from its train rows ({fraction:.0%} of groups)"
    elif "split" not in clips and "fold" in clips:
        clips["split"] = splits_from_folds(clips["fold"], config.val_fold, config.test_fold)
        origin["split"] = f"folds of {origin['folds']}"
    elif "split" not in clips:
        clips["split"] = assign_splits(
            clips, config.val_fraction, config.test_fraction, config.split_seed
        )
        origin["split"] = (f"random by class, {1 - config.val_fraction - config.test_fraction:.0%}"
                           f"/{config.val_fraction:.0%}/{config.test_fraction:.0%}, groups kept "
                           f"together (split_seed {config.split_seed})")
    clips.attrs["origin"] = origin
    if not config.allow_shared_groups:
        check_groups(clips, source)
    train_labels = {n for names in clips.loc[clips["split"] == "train", "labels"] for n in names}
    missing = sorted({n for names in clips["labels"] for n in names} - train_labels)
    if missing:
        raise DataError(f"{source}: classes {missing} have no clip in the train split")
    return clips


def check_groups(clips: pd.DataFrame, source: Path) -> None:
    """A group (a speaker, a session) in two splits lets a model be scored on whom it has
    heard: an error naming the group and its splits."""
    if clips.attrs["origin"]["groups"] is None:
        return
    pairs = clips[["group", "split"]].drop_duplicates()
    shared = pairs[pairs["group"].duplicated(keep=False)]
    if shared.empty:
        return
    group = shared["group"].iloc[0]
    splits = sorted(shared.loc[shared["group"] == group, "split"])
    count = shared["group"].nunique()
    raise DataError(
        f"{source}: group {group!r} ({clips.attrs['origin']['groups']}) is in splits {splits}"
        f", and {count - 1} more groups span splits too: scores on its clips would measure "
        "voices the model has heard. Fix the split, or set dataset.allow_shared_groups: true")


def clips_per_task(clips: int, samples_per_clip: int, cpus: float) -> int:
    """Tasks big enough to amortise scheduling, yet at least four per CPU to balance."""
    by_size = SAMPLES_PER_TASK // max(samples_per_clip, 1)
    by_balance = math.ceil(clips / (4 * max(cpus, 1)))
    return int(max(8, min(by_size, by_balance, 1024)))


def _counts(kept: pd.DataFrame, label_names: list[str]) -> dict[str, dict[str, int]]:
    """Clips per split and label (a multi-label clip counts once under each of its labels)."""
    pairs = kept[["split", "labels"]].explode("labels")
    table = pd.crosstab(pairs["split"], pairs["labels"]).reindex(
        index=list(SPLITS), columns=label_names, fill_value=0)
    return {split: {name: int(table.at[split, name]) for name in label_names}
            for split in SPLITS}


def summed_in_row_order(rows: list[np.ndarray], *values: list[np.ndarray]) -> list[np.ndarray]:
    """Each of `values` (per-row arrays, in batches, with `rows` their row numbers) summed
    over all rows in row order. Workers' batches arrive in any order, and a float sum
    depends on its order: summed as they came, two preparations of the same clips wrote
    statistics 5e-15 apart (the same once cast to the float32 a model reads, but not the
    same manifest)."""
    if not rows:
        return [np.zeros(()) for _ in values]
    order = np.argsort(np.concatenate(rows), kind="stable")
    return [np.concatenate(parts)[order].sum(axis=0) for parts in values]


def _statistics(config: DatasetConfig, total, total_sq, train_clips: int) -> dict[str, list]:
    """Train-split mean and std over the representation's pooled axes, from worker sums."""
    count = train_clips * representations.statistics_layout(config)[2]
    mean = np.asarray(total) / max(count, 1)
    std = np.sqrt(np.maximum(np.asarray(total_sq) / max(count, 1) - mean**2, 1e-12))
    return {"mean": mean.tolist(), "std": np.maximum(std, 1e-6).tolist()}


def prepare(config: DatasetConfig, cache_root: str | Path = "results",
            progress: bool = False) -> Prepared:
    """Prepare (or reuse) the shards for `config`; return where they are and the manifest.
    Its `embed` section is the embedding stage's (`embedding.embed.prepare_dataset`)."""
    import ray

    cache_root = Path(cache_root).resolve()
    started = time.perf_counter()
    source, config = resolve_source(config, cache_root)
    clips = list_clips(config, source)
    config = resolve_max_seconds(config, clips["path"])
    params = {k: v for k, v in config.to_dict().items()
              if k not in ("source", "synthetic", "embed")}
    fp = fingerprint(clips, params)
    target = cache_root / "shards" / fp
    if (target / MANIFEST_FILE).exists():
        return Prepared(target, read_manifest(target), True, time.perf_counter() - started)

    label_names = sorted({n for names in clips["labels"] for n in names})
    label_index = {name: i for i, name in enumerate(label_names)}
    multi_label = clips.attrs["multi_label"]
    column = config.representation

    entry = representations.entry(config)
    if entry.numba_kernels:
        warm_kernels(config)
    with building(target) as tmp:
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # ours counts clips, theirs blocks
        # ... and Ray Data warns that they are off, once, in its own words: not the user's.
        logging.getLogger("ray.data._internal.progress").setLevel(logging.ERROR)
        # With its per-operator reservation, Ray Data runs about one task at a time on a
        # small machine (measured: 1050 vs 1650 clips/s on 2 CPUs, bench/RESULTS.md).
        context.op_resource_reservation_enabled = False
        pitched = summary.pitch_sample(clips)
        items = [
            {"row": i, "path": row.path, "id": row.id, "split": row.split,
             "labels": [label_index[n] for n in row.labels], "pitch": bool(pitched[i]),
             **({"fold": row.fold} if "fold" in clips else {})}
            for i, row in enumerate(clips.itertuples(index=False))
        ]
        batch_size = clips_per_task(len(items), config.stored_samples,
                                    ray.cluster_resources().get("CPU", 1))
        blocks = max(1, min(math.ceil(len(items) / batch_size), 200))
        dataset = ray.data.from_items(items, override_num_blocks=blocks).map_batches(
            decode_batch, batch_size=batch_size, batch_format="numpy",
            fn_kwargs={"config": config, "out_dir": str(tmp), "multi_label": multi_label,
                       "representation": entry},
        )
        rejected_at: dict[int, dict[str, str]] = {}  # row -> id and reason
        measured: list[pd.DataFrame] = []
        rows, sums, sums_sq = [], [], []
        with clip_progress(disable=not progress) as bar:
            task = bar.add_task(f"preparing {len(items)} clips", total=len(items))
            for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
                bar.advance(task, len(batch["row"]))
                ok = batch["reason"] == ""
                for row, reason in zip(batch["row"][~ok], batch["reason"][~ok], strict=True):
                    rejected_at[row] = {"id": clips.at[row, "id"], "reason": reason}
                measured.append(pd.DataFrame({key: batch[key][ok] for key in MEASURED},
                                             index=batch["row"][ok]))
                rows.append(batch["row"])
                sums.append(batch["sum"])
                sums_sq.append(batch["sum_sq"])

        total, total_sq = summed_in_row_order(rows, sums, sums_sq)
        rejected = [rejected_at[row] for row in sorted(rejected_at)]  # in the listing's order
        for split in SPLITS:
            join_array_parts(tmp, split, column)
        kept = clips.join(pd.concat(measured), how="inner").sort_index()
        train_kept = {n for names in kept.loc[kept["split"] == "train", "labels"] for n in names}
        if train_kept != set(label_names):
            lost = sorted(set(label_names) - train_kept)
            examples = "; ".join(f"{r['id']}: {r['reason']}" for r in rejected[:3])
            raise DataError(f"{source}: every train clip of classes {lost} was rejected "
                             f"({len(rejected)} files in all, e.g. {examples})")
        manifest = Manifest(
            fingerprint=fp,
            source=str(source),
            label_names=label_names,
            multi_label=multi_label,
            sample_rate=config.sample_rate,
            clip_seconds=config.clip_seconds,
            clip_samples=config.clip_samples,
            stored_samples=config.stored_samples,
            representation=column,
            kind=entry.kind.value,
            frame_hop=entry.hop(config) if entry.kind == Kind.SPECTROGRAM else None,
            params=params,
            shapes={column: list(representations.shape(config))},
            counts=_counts(kept, label_names),
            copies=config.augment.copies,
            rejected=rejected,
            normalisation={column: _statistics(config, total, total_sq,
                                               int((kept["split"] == "train").sum()))},
            noise_files=noise_files(source),
            origin=clips.attrs["origin"],
            splits=summary.split_levels(kept),
            duplicates=summary.duplicates(kept),
            feature_names=representations.feature_names() if column == "features" else None,
        )
        manifest.write(tmp)
        pd.DataFrame(rejected, columns=["id", "reason"]).to_csv(tmp / "rejected.csv", index=False)
        summary.duplicates_table(manifest.duplicates).to_csv(tmp / "duplicates.csv",
                                                                index=False)
        noise = noise_bank(manifest.noise_files, config) if column == "waveform" else None
        if noise is not None:
            np.save(tmp / NOISE_FILE, noise)
    return Prepared(target, manifest, False, time.perf_counter() - started)


def noise_bank(files: list[str], config: DatasetConfig) -> np.ndarray | None:
    """Background recordings (Speech Commands' `_background_noise_/`) cut into excerpts of
    the stored clip length at the dataset's rate (up to 256), for `noise: background`."""
    length, excerpts = config.stored_samples, []
    for path in files:
        try:
            mono = load_mono(path, config.sample_rate, max_file_mb=1024)
        except Rejected:
            continue
        excerpts += [mono[i : i + length] for i in range(0, len(mono) - length + 1, length)]
    return np.stack(excerpts[:256]).astype(np.float32) if excerpts else None
