"""The study as a model-based searcher sees it: trials compared at one number of epochs,
numeric choices as ordered scales.

The study records the truth (search/study.py): a trial ASHA stopped after 2 epochs is
PRUNED, a trial that ran its 12 epochs is COMPLETE with its best epoch. A model fitted on
COMPLETE trials alone (Optuna's GPSampler) sees only the few that ran to the end, and under
asynchronous ASHA the first of those ran to the end because nothing was there to compare
them with, not because they were good. So the model is fitted on a view of the study, in
memory, rebuilt at each suggestion, BOHB's way (Falkner et al. 2018): the budget is the
deepest epoch that enough trials reached (the keys searched + 3: BOHB's minimum points in
a model + 2), each trial that reached it is a finished trial with its best value up to
that epoch, and the others stay pruned with their epochs. A trial its own loop ended
(patience, max_epochs) reached every budget; one stopped before its first epoch (too slow)
counts as the worst trial seen.

A `choice` of numbers (channels 8/16/32, lr 1e-4/3e-4/1e-3/3e-3) is a categorical key to
the study and the dashboard, where the values must show as they are; the model gets each
value's rank among the sorted choices, so that "16 channels did well" says something of
32. Measured on bench/search_efficiency.py's grid, replayed over 100 searcher seeds
(RESULTS.md, session 18): GPSampler on this view came within 1 point of the grid's best
within 15% of the grid's epochs in 74 seeds; on the study itself in 26, on the view
without ranks in 49; TPE on the study in 39.
"""

from __future__ import annotations

from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, IntDistribution
from optuna.samplers import BaseSampler
from optuna.trial import FrozenTrial, TrialState, create_trial

from trainables.keys import is_number

from . import compat

MODEL_POINTS_MARGIN = 3  # trials needed at a budget: keys + 3 (BOHB: d + 1 points, + 2)


def ordered(distribution: BaseDistribution) -> bool:
    """A choice among two or more numbers (not booleans): the model reads it as a rank."""
    return isinstance(distribution, CategoricalDistribution) and len(distribution.choices) > 1 \
        and all(is_number(c) for c in distribution.choices)


def model_distribution(distribution: BaseDistribution) -> BaseDistribution:
    if ordered(distribution):
        return IntDistribution(0, len(distribution.choices) - 1)
    return distribution


def model_value(distribution: BaseDistribution, value: Any) -> Any:
    if ordered(distribution):
        return sorted(distribution.choices).index(value)
    return value


def study_value(distribution: BaseDistribution, value: Any) -> Any:
    if ordered(distribution):
        return sorted(distribution.choices)[int(round(value))]
    return value


def budget(trials: list[FrozenTrial], needed: int) -> int | None:
    """The deepest epoch that `needed` trials reached, or with fewer trials the shallowest
    any reached (a trial its loop ended reaches every epoch; one that never reported, none).
    None where that is every epoch: the study as it is."""
    reached = sorted((float("inf") if t.state == TrialState.COMPLETE
                      else max(t.intermediate_values, default=0) for t in trials), reverse=True)
    reached = [epochs for epochs in reached if epochs > 0]
    if not reached:
        return None
    deepest = reached[min(needed, len(reached)) - 1]
    return None if deepest == float("inf") else int(deepest)


class SearcherView(BaseSampler):
    """`sampler`, fitted on the study seen at one budget with numeric choices as ranks.
    Single-objective studies; a multi-objective one is passed through as it is."""

    def __init__(self, sampler: BaseSampler):
        self.sampler = sampler
        # The trials' state when the view was built -> the view and the study's own
        # distribution of each key; the one trial of the view sampled for, once asked.
        self._cached: tuple[tuple, optuna.Study, dict[str, BaseDistribution]] | None = None
        self._scratch: FrozenTrial | None = None

    def _view(self, study: optuna.Study) -> optuna.Study:
        if len(study.directions) > 1:
            return study
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,
                                                          TrialState.PRUNED))
        key = tuple((t.number, t.state, len(t.intermediate_values)) for t in trials)
        if self._cached and self._cached[0] == key:
            return self._cached[1]
        study_distributions = {k: d for t in trials for k, d in t.distributions.items()}
        epochs = budget(trials, len(study_distributions) + MODEL_POINTS_MARGIN)
        better, worse = (max, min) if study.direction == optuna.study.StudyDirection.MAXIMIZE \
            else (min, max)
        values: dict[int, float] = {}
        for trial in trials:
            upto = [v for step, v in trial.intermediate_values.items()
                    if epochs is None or step <= epochs]
            if trial.state == TrialState.COMPLETE and (epochs is None or not upto):
                values[trial.number] = trial.value
            elif upto and epochs is not None and max(trial.intermediate_values) >= epochs:
                values[trial.number] = better(upto)
        # A trial stopped before its first epoch (too slow) is the worst seen, so that a
        # model of finished trials alone learns to avoid its region as TPE does: cnn1d on
        # real speech proposed 25 such configs in 40 trials without this.
        seen = list(values.values())
        for trial in trials:
            if trial.state == TrialState.PRUNED and not trial.intermediate_values and seen:
                values[trial.number] = worse(seen)
        # A container only: its own sampler is never asked (the wrapped one reads it).
        view = optuna.create_study(direction=study.direction,
                                   sampler=optuna.samplers.RandomSampler(0))
        for trial in trials:
            distributions = {k: model_distribution(d) for k, d in trial.distributions.items()}
            params = {k: model_value(trial.distributions[k], v) for k, v in trial.params.items()}
            if trial.number in values:
                view.add_trial(create_trial(params=params, distributions=distributions,
                                            value=values[trial.number]))
            else:
                view.add_trial(create_trial(params=params, distributions=distributions,
                                            state=TrialState.PRUNED,
                                            intermediate_values=trial.intermediate_values))
        self._cached, self._scratch = (key, view, study_distributions), None
        return view

    def _scratch_trial(self, view: optuna.Study) -> FrozenTrial:
        """The view's trial to sample for (samplers may write to the trial they sample),
        made once per view."""
        if self._scratch is None:
            self._scratch = compat.new_scratch_trial(view)
        return self._scratch

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial
                                    ) -> dict[str, BaseDistribution]:
        view = self._view(study)
        if view is study:
            return self.sampler.infer_relative_search_space(study, trial)
        inferred = self.sampler.infer_relative_search_space(view, trial)
        study_distributions = self._cached[2]
        return {name: study_distributions[name] for name in inferred
                if name in study_distributions}

    def sample_relative(self, study: optuna.Study, trial: FrozenTrial,
                        search_space: dict[str, BaseDistribution]) -> dict[str, Any]:
        view = self._view(study)
        if view is study:
            return self.sampler.sample_relative(study, trial, search_space)
        sampled = self.sampler.sample_relative(
            view, self._scratch_trial(view),
            {k: model_distribution(d) for k, d in search_space.items()})
        return {k: study_value(search_space[k], v) for k, v in sampled.items()}

    def sample_independent(self, study: optuna.Study, trial: FrozenTrial, param_name: str,
                           param_distribution: BaseDistribution) -> Any:
        view = self._view(study)
        if view is study:
            return self.sampler.sample_independent(study, trial, param_name,
                                                   param_distribution)
        sampled = self.sampler.sample_independent(
            view, self._scratch_trial(view), param_name, model_distribution(param_distribution))
        return study_value(param_distribution, sampled)

    def before_trial(self, study: optuna.Study, trial: FrozenTrial) -> None:
        self.sampler.before_trial(study, trial)

    def after_trial(self, study: optuna.Study, trial: FrozenTrial, state: TrialState,
                    values: list[float] | None) -> None:
        self.sampler.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self.sampler.reseed_rng()
