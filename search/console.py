"""A calm console for a search. On a terminal: one line per finished trial and a status
line refreshed in place (rich): trials done, running and stopped, the best so far with its
searched keys, and the time left in the budget. In a log or CI: the status as a plain line
when the best improves, and at most every 30 s otherwise. Tune's per-trial boxes are for
`--verbose`."""

from __future__ import annotations

import math
import sys
import time
from typing import Any

from ray.tune import Callback

from contracts.trial import StopReason

from .study import STOPPED

REFRESH_S = 0.5
LOG_EVERY_S = 30.0  # in a log, a status line at least this often while nothing improves


class SearchConsole(Callback):
    def __init__(self, metric: str, mode: str, total: int, keys: list[str],
                 budget_s: float | None = None):
        self.metric, self.mode, self.total, self.keys = metric, mode, total, keys
        self.budget_s = budget_s
        self.started = time.time()
        self.best: tuple[float, str, dict[str, Any]] | None = None
        self.ended: dict[str, str] = {}  # trial id -> how it ended
        self.too_slow: set[str] = set()
        self._live = None
        self._shown = 0.0
        self._logged: tuple[float, float | None] = (0.0, None)  # when, and the best then

    def __getstate__(self) -> dict[str, Any]:  # Tune pickles callbacks with the Tuner
        return {**self.__dict__, "_live": None}

    def _better(self, value: float) -> bool:
        if self.best is None:
            return True
        return value > self.best[0] if self.mode == "max" else value < self.best[0]

    def on_trial_result(self, iteration, trials, trial, result, **info) -> None:
        value = result.get(self.metric)
        if value is not None and math.isfinite(value) and self._better(value):
            config = {k: trial.config.get(k) for k in self.keys if k in trial.config}
            self.best = (value, trial.trial_id, config)

    def on_trial_complete(self, iteration, trials, trial, **info) -> None:
        result = trial.last_result or {}
        reason = result.get("stop_reason") or STOPPED
        self._finished(trial, reason, StopReason.of(result))

    def on_trial_error(self, iteration, trials, trial, **info) -> None:
        self._finished(trial, "error (see the leaderboard)", None)

    def _finished(self, trial, reason: str, stop: StopReason | None) -> None:
        self.ended[trial.trial_id] = reason
        if stop is StopReason.TOO_SLOW:
            self.too_slow.add(trial.trial_id)
        if not self._terminal():
            best = self.best[0] if self.best else None
            if best != self._logged[1] or time.time() - self._logged[0] > LOG_EVERY_S:
                self._logged = (time.time(), best)
                self._print(self.status(trial_count=None))
            return
        result = trial.last_result or {}
        value = result.get(self.metric)
        score = f"{self.metric} {value:.3f}" if isinstance(value, float) else "no score"
        self._print(f"trial {trial.trial_id}: {score} after {result.get('epoch', 0)} epochs, "
                    f"{reason.split(':')[0]}")

    def on_step_end(self, iteration, trials, **info) -> None:
        if self._terminal() and time.time() - self._shown > REFRESH_S:
            self._shown = time.time()
            self._live_view().update(self.status(len([t for t in trials
                                                      if t.status == "RUNNING"])))

    def on_experiment_end(self, trials, **info) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def status(self, trial_count: int | None) -> str:
        elapsed = time.time() - self.started
        # A too-slow trial does not count against the total (the searcher draws another).
        slow = len(self.too_slow)
        stopped = sum(1 for r in self.ended.values() if r == STOPPED)
        parts = [f"[{elapsed:4.0f}s] {len(self.ended) - slow}/{self.total} done ({stopped} "
                 "stopped early" + (f", {slow} too slow" if slow else "") + ")"]
        if trial_count is not None:
            parts.append(f"{trial_count} running")
        if self.best:
            keys = ", ".join(f"{k}={_short(v)}" for k, v in self.best[2].items())
            parts.append(f"best {self.metric} {self.best[0]:.3f} ({self.best[1]}: {keys})")
        if self.budget_s:
            parts.append(f"{max(0.0, self.budget_s - elapsed):.0f}s left")
        return " | ".join(parts)

    def _terminal(self) -> bool:
        return sys.stdout.isatty()

    def _live_view(self):
        if self._live is None:
            from rich.live import Live

            self._live = Live("", refresh_per_second=4, transient=True)
            self._live.start()
        return self._live

    def _print(self, line: str) -> None:
        if self._live is not None:
            self._live.console.print(line, highlight=False)
        else:
            print(line, flush=True)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
