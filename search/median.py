"""The median rule as Optuna's MedianPruner applies it, for Tune.

Ray's MedianStoppingRule pauses a trial while it lacks trials to compare with, and a paused
trial restarts later from its checkpoint: work repeated, and a slot held by a trial that
may still be stopped. This rule never pauses: at each epoch from `grace_period` on, once
`min_samples` other trials have reported that epoch, a trial whose best value so far is
worse than the median of theirs at that epoch stops; otherwise it continues.

With `time_attr: time_total_s` trials are compared at equal seconds of training instead of
equal epochs (a cheap and a costly trial are then held to the same compute): each other
trial that has trained at least as long counts with its value at its last report by then.
"""

from __future__ import annotations

import math

import numpy as np
from ray.tune.schedulers import FIFOScheduler, TrialScheduler


class MedianPruner(FIFOScheduler):
    def __init__(self, metric: str, mode: str, grace_period: float = 1, min_samples: int = 3,
                 time_attr: str = "training_iteration"):
        super().__init__()
        self._metric, self._mode = metric, mode
        self.grace_period, self.min_samples = grace_period, min_samples
        self.time_attr = time_attr
        self._history: dict[str, dict[float, float]] = {}  # trial -> {time: value}

    def set_search_properties(self, metric: str | None, mode: str | None, **spec) -> bool:
        return True  # built with its metric: the search's, or the scheduler's own

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        now, value = result.get(self.time_attr), result.get(self._metric)
        if now is None or value is None or not math.isfinite(value):
            return TrialScheduler.CONTINUE
        history = self._history.setdefault(trial.trial_id, {})
        history[now] = value
        if now < self.grace_period:
            return TrialScheduler.CONTINUE
        others = [h[max(t for t in h if t <= now)] for tid, h in self._history.items()
                  if tid != trial.trial_id and h and max(h) >= now]
        if len(others) < self.min_samples:
            return TrialScheduler.CONTINUE
        best = (max if self._mode == "max" else min)(history.values())
        median = float(np.median(others))
        worse = best < median if self._mode == "max" else best > median
        return TrialScheduler.STOP if worse else TrialScheduler.CONTINUE

    def debug_string(self) -> str:
        return f"MedianPruner: {len(self._history)} trials seen"
