"""Every private attribute of Ray and Optuna that the search reads, here and nowhere else:
an upgrade that moves one breaks this file and its test (tests/test_compat.py checks each
against the installed versions), loudly, instead of a search halfway through. Each says
why no public API serves.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.trial import FrozenTrial

# A logger whose chatter the console silences: it names Ray's internal module.
RAY_TOKEN_LOGGER = "ray._private.authentication.authentication_token_setup"


# Optuna, through Ray's OptunaSearch: it keeps the study and its live trials to itself,
# and the searcher tells them what Tune alone knows (a trial too slow, lost, pruned).
def searcher_study(searcher: Any) -> optuna.Study:
    return searcher._ot_study


def searcher_trials(searcher: Any) -> dict[str, optuna.Trial]:
    """Tune trial id -> the Optuna trial it runs, while it runs."""
    return searcher._ot_trials


def set_searcher_trials(searcher: Any, trials: dict[str, optuna.Trial]) -> None:
    """Put back the running trials a resumed search rebuilt from the study."""
    searcher._ot_trials = trials


def searcher_completed(searcher: Any) -> set[str]:
    """The Tune trial ids OptunaSearch has told the study about."""
    return searcher._completed_trials


def set_searcher_completed(searcher: Any, completed: set[str]) -> None:
    searcher._completed_trials = completed


def live_trial(study: optuna.Study, trial: FrozenTrial) -> optuna.Trial:
    """A running trial of a loaded study, to set attributes on and tell (Optuna hands a
    loaded study's trials out frozen only)."""
    return optuna.Trial(study, trial._trial_id)


def new_scratch_trial(study: optuna.Study) -> FrozenTrial:
    """A fresh trial in `study`'s storage that no sampler has asked for (a view's trial to
    sample on; `ask` would run the sampler)."""
    return study._storage.get_trial(study._storage.create_new_trial(study._study_id))


def distribution_contains(distribution: BaseDistribution, value: Any) -> bool:
    """Whether `value` lies in `distribution` (Optuna checks it only inside `enqueue`)."""
    return distribution._contains(distribution.to_internal_repr(value))


# Ray Tune's ASHA: its brackets and rungs are not exposed; re-reading a rung needs them.
def asha_rungs(scheduler: Any, trial_id: str) -> tuple[Any, list[tuple[float, dict]]]:
    """The trial's bracket and its rungs: (milestone, {trial id: sign-adjusted value})."""
    bracket = scheduler._trial_info[trial_id]
    return bracket, bracket._rungs


def asha_time_attr(scheduler: Any) -> str:
    return scheduler._time_attr


def asha_count_stopped(scheduler: Any) -> None:
    """Count a stop the way Ray's own decisions are counted (its debug string shows it)."""
    scheduler._num_stopped += 1
