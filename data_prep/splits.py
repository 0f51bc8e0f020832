"""Train/val/test assignment: the layout's own, by folds, or deterministic and stratified
with each group (speaker, source file) kept on one side."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from .config import DataError


def _stable_order(keys: list[str], seed: int) -> list[str]:
    return sorted(keys, key=lambda k: hashlib.sha1(f"{seed}:{k}".encode()).hexdigest())


def assign_splits(
    clips: pd.DataFrame, val_fraction: float, test_fraction: float, seed: int
) -> pd.Series:
    """A `split` per row. Within each class (a clip's first label), groups are shuffled by a
    seeded hash, so adding files elsewhere never moves a clip, and dealt to test, val, then
    train."""
    # Each group's most common first label (the smallest on a tie), without a Python call
    # per group: 0.13 s of a 2000-clip preparation's 1.3 s before.
    counts = pd.DataFrame({"group": clips["group"], "label": clips["labels"].str[0]})
    counts = counts.value_counts().reset_index(name="n")
    counts = counts.sort_values(["group", "n", "label"], ascending=[True, False, True])
    group_label = counts.drop_duplicates("group").set_index("group")["label"]
    split_of_group: dict[str, str] = {}
    for _, groups in group_label.groupby(group_label):
        order = _stable_order(list(groups.index), seed)
        n = len(order)
        n_test = int(np.floor(n * test_fraction + 0.5)) if n >= 3 else 0
        n_val = max(1, int(np.floor(n * val_fraction + 0.5))) if n >= 2 else 0
        for i, group in enumerate(order):
            split_of_group[group] = (
                "test" if i < n_test else "val" if i < n_test + n_val else "train"
            )
    return clips["group"].map(split_of_group).rename("split")


def splits_from_folds(folds: pd.Series, val_fold: int | None, test_fold: int | None) -> pd.Series:
    """ESC-50 style: one fold is test, one is val (by default the last two), the rest train."""
    ordered = sorted(folds.unique())
    if len(ordered) < 3:
        raise DataError(f"folds {ordered}: need at least three to hold train, val and test")
    test_fold = ordered[-1] if test_fold is None else test_fold
    val_fold = next(f for f in reversed(ordered) if f != test_fold) if val_fold is None \
        else val_fold
    for name, fold in (("test_fold", test_fold), ("val_fold", val_fold)):
        if fold not in ordered:
            raise DataError(f"dataset.{name}: {fold} is not one of the folds {ordered}")
    return folds.map(lambda f: "test" if f == test_fold else "val" if f == val_fold
                     else "train").rename("split")
