"""Deterministic, stratified train/val/test assignment that keeps each group on one side."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd


def _stable_order(keys: list[str], seed: int) -> list[str]:
    return sorted(keys, key=lambda k: hashlib.sha1(f"{seed}:{k}".encode()).hexdigest())


def assign_splits(
    clips: pd.DataFrame, val_fraction: float, test_fraction: float, seed: int
) -> pd.Series:
    """A `split` per row. Within each class, groups are shuffled by a seeded hash (so adding
    files elsewhere never moves a clip) and dealt to test, val, then train."""
    group_label = clips.groupby("group")["label"].agg(lambda s: s.mode().iloc[0])
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
