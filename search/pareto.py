"""The Pareto front of trials scored on several objectives."""

from __future__ import annotations

import numpy as np


def front(points: np.ndarray, modes: list[str]) -> np.ndarray:
    """Which rows of `points` (trials x objectives) no other row dominates: at least as
    good on every objective and better on one. Rows with a NaN are never on it."""
    signs = np.array([-1.0 if mode == "max" else 1.0 for mode in modes])
    costs = np.asarray(points, dtype=float) * signs  # lower is better on every column
    valid = ~np.isnan(costs).any(axis=1)
    on_front = np.zeros(len(costs), dtype=bool)
    for i in np.flatnonzero(valid):
        others = costs[valid]
        dominated = ((others <= costs[i]).all(axis=1) & (others < costs[i]).any(axis=1)).any()
        on_front[i] = not dominated
    return on_front
