"""What a careful user checks before trusting a score: where the split came from, clips per
split and class, each split's level, durations and pitch, duplicates, and warnings when the
splits differ markedly. Computed once at preparation into the manifest; printed before trials."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from contracts.manifest import Manifest

from .durations import LONGER
from .pitch import semitones

LEVEL_GAP_DB = 6.0  # splits whose median levels differ by more are warned of
PITCH_GAP_SEMITONES = 4.0  # splits whose median fundamentals differ by more are warned of
MIN_PITCHED = 3  # pitched clips a class needs in a split for its median to count
# Clips per class and split whose pitch is measured: its medians need no more, and YIN
# costs 1 to 9 ms a second of audio where a log-mel costs 0.3 (a whole-set pass would
# slow preparation several times over).
PITCH_SAMPLE = 48
BALANCE_GAP = 0.2  # total-variation distance between two splits' class proportions


def split_levels(kept: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per split: median RMS level (dBFS), the min, median and max duration (seconds), and
    the median fundamental with its quartiles and, but for train, its gap to train's."""
    out = {}
    for split, rows in kept.groupby("split", sort=False):
        out[split] = {"clips": len(rows),
                      "level_db": round(float(rows["level_db"].median()), 1),
                      "seconds_min": round(float(rows["seconds"].min()), 3),
                      "seconds_median": round(float(rows["seconds"].median()), 3),
                      "seconds_max": round(float(rows["seconds"].max()), 3)}
        pitched = rows["f0_hz"].dropna() if "f0_hz" in rows else ()
        if len(pitched):
            low, median, high = np.percentile(pitched, (25, 50, 75))
            out[split] |= {"f0_median_hz": round(float(median), 1),
                           "f0_iqr_hz": [round(float(low), 1), round(float(high), 1)]}
    if "f0_hz" in kept and "labels" in kept:
        for split, gap in _class_pitch_gaps(kept).items():
            out[split]["f0_gap_semitones"] = gap
    return out


def pitch_sample(clips: pd.DataFrame) -> np.ndarray:
    """Which clips of a listing (`split`, `labels`, `id`) the summary measures the pitch of:
    up to PITCH_SAMPLE per split and first label, in an order fixed by each id's hash (not
    the listing's, which often runs speaker by speaker)."""
    order = clips["id"].map(lambda i: hashlib.blake2b(str(i).encode(), digest_size=8)
                            .hexdigest())
    groups = pd.DataFrame({"split": clips["split"].to_numpy(),
                           "label": [labels[0] for labels in clips["labels"]],
                           "order": order.to_numpy()})
    rank = groups.sort_values("order").groupby(["split", "label"]).cumcount()
    return (rank.sort_index() < PITCH_SAMPLE).to_numpy()


def _class_pitch_gaps(kept: pd.DataFrame) -> dict[str, float]:
    """Per split but train: the median over classes of how far the class's median
    fundamental sits from its median in train, in semitones (a violin an octave up is an
    octave, however the classes' own registers spread)."""
    per_class = (kept[["split", "labels", "f0_hz"]].dropna().explode("labels")
                 .groupby(["split", "labels"])["f0_hz"].agg(["median", "size"]))
    per_class = per_class[per_class["size"] >= MIN_PITCHED]["median"]
    if "train" not in per_class.index.get_level_values(0):
        return {}
    train = per_class.loc["train"]
    gaps = {}
    for split in per_class.index.get_level_values(0).unique().drop("train"):
        shared = per_class.loc[split].index.intersection(train.index)
        if len(shared):
            ratio = per_class.loc[split][shared] / train[shared]
            gaps[split] = round(float(np.median(12 * np.log2(ratio))), 1)
    return gaps


def duplicates(kept: pd.DataFrame) -> list[dict[str, Any]]:
    """Clips whose decoded samples are identical: one entry per set, with their splits."""
    repeated = kept[kept["digest"].duplicated(keep=False)]
    return [{"digest": digest, "ids": rows["id"].tolist(), "splits": rows["split"].tolist()}
            for digest, rows in repeated.groupby("digest", sort=True)]


def duplicates_table(found: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per duplicated clip (`duplicates.csv`), `across` when its copies span splits."""
    rows = [{"digest": d["digest"], "id": clip_id, "split": split,
             "across_splits": len(set(d["splits"])) > 1}
            for d in found for clip_id, split in zip(d["ids"], d["splits"], strict=True)]
    return pd.DataFrame(rows, columns=["digest", "id", "split", "across_splits"])


def warnings(manifest: Manifest) -> list[str]:
    found = []
    levels = manifest.splits
    train = levels.get("train")
    for split, stats in levels.items():
        if train and split != "train":
            gap = stats["level_db"] - train["level_db"]
            if abs(gap) > LEVEL_GAP_DB:
                found.append(
                    f"{split} is {abs(gap):.1f} dB {'quieter' if gap < 0 else 'louder'} than "
                    "train (median RMS): a model may not transfer; consider dataset.loudness: "
                    "rms or lufs, or gain_db augmentation")
    found += _register_gaps(levels)
    counts = manifest.counts
    if "train" in counts:
        base = _proportions(counts["train"])
        for split in ("val", "test"):
            if split in counts and sum(counts[split].values()):
                distance = 0.5 * np.abs(_proportions(counts[split]) - base).sum()
                if distance > BALANCE_GAP:
                    found.append(f"class balance of {split} differs from train's (total "
                                 f"variation {distance:.2f}); accuracy there weighs classes "
                                 "differently")
    across = [d for d in manifest.duplicates if len(set(d["splits"])) > 1]
    if across:
        found.append(f"{len(across)} clips have identical copies in another split (e.g. "
                     f"{across[0]['ids'][:2]}): listed in duplicates.csv")
    return found


def _register_gaps(levels: dict[str, dict[str, Any]]) -> list[str]:
    """Splits whose median fundamental sits far from train's: what validation drawn from
    the training register cannot see."""
    train = levels.get("train", {}).get("f0_median_hz")
    found = []
    for split, stats in levels.items():
        other = stats.get("f0_median_hz")
        if split == "train" or not (train and other):
            continue
        gap = stats.get("f0_gap_semitones", semitones(other, train))
        if abs(gap) > PITCH_GAP_SEMITONES:
            found.append(
                f"{split} sits {abs(gap):.0f} semitones {'above' if gap > 0 else 'below'} "
                f"train (median fundamental of each class; {other:.0f} Hz against "
                f"{train:.0f} Hz over all): a model "
                "may not transfer to another register; consider pitch copies in training "
                "(dataset.augment: {copies: 4, pitch_semitones: [-7, 7]}), random shifts "
                "along frequency (pitch_bins), or SoundNet's features (spaces/embed_mlp.yaml)")
    return found


def _proportions(counts: dict[str, int]) -> np.ndarray:
    values = np.array(list(counts.values()), dtype=float)
    return values / max(values.sum(), 1)


def _lengths(manifest: Manifest) -> list[str]:
    """What happens to clips longer than what a model reads."""
    seen, kept = manifest.clip_samples, manifest.stored_samples
    train = manifest.splits.get("train")
    if not (seen and kept and manifest.sample_rate and train):
        return []
    read, keep = seen / manifest.sample_rate, kept / manifest.sample_rate
    median = train["seconds_median"]
    if manifest.embedded_from and median > LONGER * read:
        return [f"  clips run {median:.1f} s (train median): the network embeds each whole, "
                f"up to {keep:g} s kept, pooled over time"]
    if kept > seen:
        return [f"  clips run {median:.1f} s (train median) and models read {read:g} s: "
                f"training crops {read:g} s at random from up to {keep:g} s kept; validation, "
                f"test and prediction score whole clips on {read:g} s windows, "
                + ("their maximum (multi-label: a tag holds where any window holds it)"
                   if manifest.multi_label else "their mean")]
    if median > LONGER * read:
        return [f"  clips run {median:.1f} s (train median) and each is cut to its centre "
                f"{read:g} s (max_seconds: null); max_seconds: auto keeps them whole"]
    return []


def describe(manifest: Manifest) -> list[str]:
    """The summary's lines, warnings last."""
    origin = manifest.origin
    lines = [f"split: {origin.get('split') or 'unknown'}",
             f"groups: {origin.get('groups') or 'none (each clip its own)'}"]
    if origin.get("labels"):
        lines.append(f"labels: {origin['labels']}")
    counts, levels = manifest.counts, manifest.splits
    for split, per_class in counts.items():
        n = sum(per_class.values())
        if not n:
            continue
        # A multi-label clip counts under each of its labels: the clips themselves, where
        # the manifest has them (preparations before it did not).
        n = levels.get(split, {}).get("clips", n)
        smallest = min(per_class, key=per_class.get)
        line = (f"  {split:<5} {n:>6} clips, {min(per_class.values())}-"
                f"{max(per_class.values())} per class (fewest: {smallest})")
        if split in levels:
            s = levels[split]
            line += (f", level {s['level_db']:.1f} dBFS, {s['seconds_min']:.2f}/"
                     f"{s['seconds_median']:.2f}/{s['seconds_max']:.2f} s min/median/max")
            if s.get("f0_median_hz"):
                low, high = s["f0_iqr_hz"]
                line += f", pitch {s['f0_median_hz']:.0f} Hz ({low:.0f}-{high:.0f})"
        lines.append(line)
    lines += _lengths(manifest)
    if manifest.copies:
        augment = manifest.params["augment"]
        lines.append(f"  train + {manifest.copies} copies of each clip (pitch "
                     f"{augment['pitch_semitones']} semitones, tempo {augment['stretch']}); "
                     "an epoch draws one version per clip")
    if manifest.duplicates:
        lines.append(f"  {len(manifest.duplicates)} sets of identical clips "
                     "(duplicates.csv)")
    lines += [f"warning: {text}" for text in warnings(manifest)]
    return lines
