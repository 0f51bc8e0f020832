"""ASHA as Ray's ASHAScheduler runs it, optionally with its rungs re-read as they fill.

Ray's asynchronous successive halving decides once at each rung, against the results
recorded there so far: the first trials to reach a rung pass it with few or none to
compare against, and run on to the last epoch. With `recheck`, a trial is held at each of
its later epochs to every rung it has passed: once later trials have filled a rung so
that it is no longer in that rung's top 1/reduction_factor, it stops, as it would have
had it arrived after them. Measured (RESULTS.md, session 14): on bench/search_efficiency.py
the same configs found in fewer epochs; on real speech the same cnn1d model sooner and,
in one run, a worse cnn2d one, so it is off by default.
"""

from __future__ import annotations

from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from . import compat


class ASHA(ASHAScheduler):
    """Ray's ASHA with `recheck`, built with the metric its rungs compare on (the search's
    or `metric`'s): Tune refuses a scheduler's metric beside the search's unless the
    scheduler keeps it."""

    def __init__(self, *args, recheck: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.recheck = recheck

    def set_search_properties(self, metric: str | None, mode: str | None, **spec) -> bool:
        return True

    def on_trial_result(self, tune_controller, trial, result: dict) -> str:
        action = super().on_trial_result(tune_controller, trial, result)
        if action != TrialScheduler.CONTINUE or not self.recheck:
            return action
        # Ray's bracket: (milestone, {trial_id: value, sign-adjusted so higher is better}).
        bracket, rungs = compat.asha_rungs(self, trial.trial_id)
        now = result[compat.asha_time_attr(self)]
        for milestone, recorded in rungs:
            if milestone < now and trial.trial_id in recorded and len(recorded) > 1:
                if recorded[trial.trial_id] < bracket.cutoff(recorded):
                    compat.asha_count_stopped(self)
                    return TrialScheduler.STOP
        return action
