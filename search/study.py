"""The Optuna study of a search, kept on disk beside its trials, and the searcher that tells it
the truth about each trial.

The study lives in `<experiment>/optuna.journal` (Optuna's JournalStorage: one appended,
fsynced JSON line per change, readable by `optuna-dashboard` while the search runs). It is
the searcher's memory: Tune's own searcher checkpoint holds only which Tune trial is which
Optuna trial, and when that file is lost or corrupt it is rebuilt from the study itself
(every Optuna trial carries its Tune trial id), so resuming never depends on a pickle.

What Optuna is told, per trial (Ray's OptunaSearch tells COMPLETE with the last epoch's
value for a trial the scheduler stopped after two epochs):
- the loop ended it (max_epochs, patience, min_train_loss): COMPLETE, with the best epoch's
  value, the one the leaderboard ranks by;
- a scheduler stopped it, the time budget cut it, or its first steps projected an epoch
  over `max_epoch_seconds` (too_slow): PRUNED, its epochs as intermediate values (TPE ranks
  a trial pruned early below those that went further, and so moves away from its region);
- it raised, or its loss diverged: FAIL.
Each trial also carries the leaderboard's facts as user attributes: status, stop_reason,
params, macs, inference ms, epochs.

With a time budget, no trial starts that cannot reach the scheduler's first rung in the
time left (the median time the finished trials took to reach it).
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from contracts.trial import Status, StopReason
from trainables.loop import epoch_seconds

from . import compat
from .fidelity import SKIP_FACTOR, CostModel
from .space import SearchSpace

STUDY_FILE = "optuna.journal"
STOPPED = "stopped by the scheduler"
CUT = "cut by the time budget"
BUDGET_SLACK_S = 2.0  # a trial ending this close to the deadline was cut by it
# A config already trained is replaced by an untried one a choice away from the best
# trial so far (on bench/search_replay.py's grid: the grid's best found in 171 of 200
# seeds against 130), or failing that drawn again: first from the searcher's model of the
# good configs (`strategies.redraw`), then at random, before a repeat is accepted.
GOOD_REDRAWS, REDRAWS = 5, 15
MAX_SKIPS = 20  # configs predicted too slow in a row: the search has nothing left it affords
STUDY_NAME = "search"
TUNE_ID = "tune_trial_id"  # the user attribute that ties an Optuna trial to a Tune trial
LOST = "lost_to_an_interruption"  # a trial the study started and Tune never recorded
OBJECTIVE_EPOCHS = "objective_epochs"  # with several objectives: each epoch's values
logger = logging.getLogger(__name__)


def study_storage(experiment_dir: Path) -> JournalStorage:
    experiment_dir.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(experiment_dir / STUDY_FILE)))


def load_study(experiment_dir: Path) -> optuna.Study:
    """The study of an experiment folder, as the dashboard and the report read it."""
    path = Path(experiment_dir) / STUDY_FILE
    if not path.exists():
        raise FileNotFoundError(f"{path}: no study here; is {experiment_dir} an experiment "
                                "folder of a search made with this version?")
    return optuna.load_study(study_name=STUDY_NAME, storage=study_storage(Path(experiment_dir)))


def trial_records(experiment_dir: Path) -> dict[str, dict[str, Any]]:
    """Tune trial id -> what the study knows of it: `state` (RUNNING, COMPLETE, PRUNED,
    FAIL) and the user attributes (status, stop_reason, ...); empty without a study."""
    if not (Path(experiment_dir) / STUDY_FILE).exists():
        return {}
    study = load_study(experiment_dir)
    return {t.user_attrs[TUNE_ID]: {"state": t.state.name, **t.user_attrs}
            for t in study.get_trials(deepcopy=False) if TUNE_ID in t.user_attrs}


def configs_not_started(experiment_dir: Path) -> int:
    """How many configs the searcher predicted too slow and did not start."""
    if not (Path(experiment_dir) / STUDY_FILE).exists():
        return 0
    return sum("predicted_epoch_s" in t.user_attrs and TUNE_ID not in t.user_attrs
               for t in load_study(experiment_dir).get_trials(deepcopy=False))


def close_unfinished_trials(experiment_dir: Path, known: set[str]) -> int:
    """Once a search is done, end the study's trials still marked running; returns how many.
    A trial Tune knows was cut by the time budget (Tune ends the experiment without telling
    the searcher): PRUNED with its epochs, `cut by the time budget`. One Tune does not know
    was lost to an interruption before Tune recorded it: FAIL."""
    if not (Path(experiment_dir) / STUDY_FILE).exists():
        return 0
    study = load_study(experiment_dir)
    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    for trial in running:
        if trial.user_attrs.get(TUNE_ID) in known:
            live = compat.live_trial(study, trial)
            live.set_user_attr("status", str(Status.STOPPED_EARLY))
            live.set_user_attr("stop_reason", CUT)
            study.tell(live, state=TrialState.PRUNED)
        else:
            study.tell(trial.number, state=TrialState.FAIL)
    return len(running)


def warm_start(experiment_dir: Path, earlier_dir: Path, space: SearchSpace,
               top: int = 0) -> tuple[int, int]:
    """Tell the study of `experiment_dir` the finished trials of an earlier experiment whose
    configs fit `space` (finished and pruned, with their values and epochs); with `top`,
    enqueue the best `top` of them to run again first. Returns (told, skipped)."""
    earlier = load_study(earlier_dir)
    study = load_study(experiment_dir)
    told, skipped, fitting = 0, 0, []
    for trial in earlier.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED)):
        distributions = space.distributions_for(trial.params)
        if distributions is None:
            skipped += 1
            continue
        if trial.values is not None and len(trial.values) != len(study.directions):
            skipped += 1  # scored on other objectives
            continue
        study.add_trial(optuna.trial.create_trial(
            params=trial.params, distributions=distributions, state=trial.state,
            values=trial.values if trial.state == TrialState.COMPLETE else None,
            intermediate_values=trial.intermediate_values,
            user_attrs={**{k: v for k, v in trial.user_attrs.items() if k != TUNE_ID},
                        "warm_start": f"{earlier_dir} trial {trial.number}"}))
        told += 1
        if trial.state == TrialState.COMPLETE:
            fitting.append(trial)
    reverse = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE
    for trial in sorted(fitting, key=lambda t: t.values[0], reverse=reverse)[:top]:
        study.enqueue_trial(trial.params)
    return told, skipped


def best_value(values: list[float], mode: str) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if not finite:
        return None
    return max(finite) if mode == "max" else min(finite)


class StudySearcher(OptunaSearch):
    """Ray's OptunaSearch over a study on disk, telling Optuna each trial's true outcome."""

    def __init__(self, space: Callable, metric: str | list[str], mode: str | list[str],
                 sampler: optuna.samplers.BaseSampler, experiment_dir: Path,
                 points_to_evaluate: list[dict[str, Any]] | None = None,
                 time_budget_s: float | None = None, first_rung: float = 1,
                 time_attr: str = "training_iteration",
                 redraw: Callable[[int], optuna.samplers.BaseSampler] | None = None,
                 num_samples: int | None = None, too_slow_allowance: int | None = None,
                 cost: CostModel | None = None, epoch_limit: float | None = None):
        self._budget = time_budget_s
        # Trials that count: a too-slow one does not use up num_samples (up to the
        # allowance of them, num_samples by default), and a config the cost model
        # predicts well over `epoch_limit` is not started.
        self._num_samples = num_samples
        self._allowance = num_samples if too_slow_allowance is None else too_slow_allowance
        self._cost, self._epoch_limit = cost, epoch_limit
        self._costed: set[str] = set()  # trials whose first epoch the cost model has seen
        # Trials Tune runs now, as this driver has seen them (given out, or reporting since a
        # resume): a trial the study marks running but an interruption lost never reports,
        # and must not keep the search waiting for it.
        self._live: set[str] = set()
        self._unaffordable = False  # MAX_SKIPS draws in a row were predicted too slow
        self._redraw = redraw or optuna.samplers.RandomSampler
        self._deadline: float | None = None  # set at the first suggestion
        self._first_rung, self._rung_attr = first_rung, time_attr
        self._rung_seconds: dict[str, float] = {}  # trial -> time_total_s at the first rung
        # Several objectives: Optuna takes no intermediate values, so each trial's epochs
        # are kept in the study as a user attribute (a resumed search still has them), and
        # it is told the objectives at its best epoch of the first.
        self._objectives = (list(zip(metric, mode, strict=True))
                            if isinstance(metric, list) else None)
        super().__init__(space=space, metric=metric, mode=mode, sampler=sampler,
                         storage=study_storage(Path(experiment_dir)), study_name=STUDY_NAME,
                         points_to_evaluate=points_to_evaluate)
        if self.study.metric_names is None:  # the dashboard's and the report's labels
            with warnings.catch_warnings():  # experimental since Optuna 3.2, and used as is
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self.study.set_metric_names(metric if isinstance(metric, list) else [metric])

    @property
    def study(self) -> optuna.Study:
        return compat.searcher_study(self)

    @property
    def trials(self) -> dict[str, optuna.Trial]:
        """Tune trial id -> its Optuna trial, while it runs."""
        return compat.searcher_trials(self)

    @trials.setter
    def trials(self, trials: dict[str, optuna.Trial]) -> None:
        compat.set_searcher_trials(self, trials)

    @property
    def completed(self) -> set[str]:
        """The Tune trials the study has been told the end of."""
        return compat.searcher_completed(self)

    @completed.setter
    def completed(self, completed: set[str]) -> None:
        compat.set_searcher_completed(self, completed)

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self._budget and self._deadline is None:
            self._deadline = time.time() + self._budget
        if self._deadline and self._rung_seconds:
            needed = float(np.median(list(self._rung_seconds.values())))
            if time.time() + needed > self._deadline:
                return Searcher.FINISHED  # it could not reach the first rung in time
        if self._unaffordable or (self._num_samples is not None and self._enough_trials()):
            # Not yet finished while a running trial may still turn out too slow.
            return None if self._running() else Searcher.FINISHED
        for _ in range(MAX_SKIPS):
            config = self._draw(trial_id)
            predicted = self._predicted_epoch_s(config)
            if predicted is None:
                break
            self._skip(trial_id, predicted)
        else:  # every draw too slow to start: nothing affordable is left to try (and Tune,
            # asking again while trials run, must not fill the study with more such draws)
            self._unaffordable = True
            return None if self._running() else Searcher.FINISHED
        self.trials[trial_id].set_user_attr(TUNE_ID, trial_id)
        self._live.add(trial_id)
        return config

    def _enough_trials(self) -> bool:
        # Trials given to Tune that ended, or run now; one the study marks running that no
        # longer reports was lost to an interruption, and does not count.
        given = [t for t in self.study.get_trials(deepcopy=False)
                 if TUNE_ID in t.user_attrs and not t.user_attrs.get(LOST)
                 and (t.state.is_finished() or t.user_attrs[TUNE_ID] in self._live)]
        too_slow = sum(t.user_attrs.get("status") == Status.TOO_SLOW for t in given)
        # Too-slow trials do not count, up to the allowance of them; past it they do.
        return len(given) - min(too_slow, self._allowance) >= self._num_samples

    def _running(self) -> bool:
        return bool(self._live - self.completed)

    def _predicted_epoch_s(self, config: dict[str, Any]) -> float | None:
        """The config's predicted epoch, when it is well over the cap; None otherwise."""
        if self._cost is None or not self._epoch_limit:
            return None
        predicted = self._cost.predicted_epoch_s(config)
        too_slow = predicted is not None and predicted > SKIP_FACTOR * self._epoch_limit
        return predicted if too_slow else None

    def _skip(self, trial_id: str, predicted: float) -> None:
        """Tell the study a config is too slow without training it (TPE moves away)."""
        ot_trial = self.trials.pop(trial_id)
        ot_trial.set_user_attr("status", str(Status.TOO_SLOW))
        ot_trial.set_user_attr("stop_reason", f"{StopReason.TOO_SLOW}: predicted "
                               f"{predicted:.1f}s per epoch > max_epoch_seconds "
                               f"{self._epoch_limit:g}; not started")
        ot_trial.set_user_attr("predicted_epoch_s", predicted)
        self.study.tell(ot_trial, state=TrialState.PRUNED)

    def _draw(self, trial_id: str) -> dict[str, Any]:
        """A config from the sampler, never one already trained."""
        sampler = self.study.sampler
        try:
            for retry in range(REDRAWS + 1):
                config = super().suggest(trial_id)
                ot_trial = self.trials[trial_id]
                if retry == REDRAWS or not self._already_tried(ot_trial):
                    break
                # The same config again (frequent on a space of choices, where TPE keeps
                # proposing its favourite): nothing to learn from training it twice. It is
                # failed in the study, and another drawn instead.
                ot_trial.set_user_attr("stop_reason", "duplicate of an earlier config")
                self.study.tell(ot_trial, state=TrialState.FAIL)
                del self.trials[trial_id]
                neighbour = self._untried_neighbour(ot_trial.number) if retry == 0 else None
                if neighbour is not None:
                    self.study.enqueue_trial(neighbour)
                    continue
                self.study.sampler = (
                    self._redraw(ot_trial.number) if retry < GOOD_REDRAWS
                    else optuna.samplers.RandomSampler(ot_trial.number))
        finally:
            self.study.sampler = sampler
        return config

    def _untried_neighbour(self, seed: int) -> dict[str, Any] | None:
        """An untried config one choice away from the best trial so far, at random."""
        best = None if self._objectives else self._incumbent()
        if best is None:
            return None
        tried = self._trained_params()
        options = [
            {**best.params, name: choice}
            for name, distribution in best.distributions.items()
            if isinstance(distribution, optuna.distributions.CategoricalDistribution)
            for choice in distribution.choices if choice != best.params[name]]
        options = [params for params in options if params not in tried]
        if not options:
            return None
        return options[np.random.default_rng(seed).integers(len(options))]

    def _incumbent(self) -> optuna.trial.FrozenTrial | None:
        """The best trial so far: the best finished one, or while none has finished (ASHA
        stopped every trial so far), the one stopped furthest on, best there (the order in
        which TPE ranks stopped trials)."""
        try:
            return self.study.best_trial
        except ValueError:
            pass
        sign = 1 if self.mode == "max" else -1
        stopped = [(step, sign * value, t) for t in self.study.get_trials(
                       deepcopy=False, states=(TrialState.PRUNED,))
                   if t.intermediate_values
                   for step, value in [max(t.intermediate_values.items())]
                   if math.isfinite(value)]
        return max(stopped, key=lambda s: s[:2])[2] if stopped else None

    def _trained_params(self, leaving_out: int | None = None) -> list[dict[str, Any]]:
        """The configs of the trials given to Tune (but trial number `leaving_out`)."""
        return [t.params for t in self.study.get_trials(deepcopy=False)
                if TUNE_ID in t.user_attrs and t.number != leaving_out]

    def _already_tried(self, ot_trial: optuna.Trial) -> bool:
        return ot_trial.params in self._trained_params(leaving_out=ot_trial.number)

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        super().on_trial_result(trial_id, result)
        self._live.add(trial_id)
        if self._cost is not None and trial_id not in self._costed and "macs" in result:
            self._costed.add(trial_id)
            self._cost.observe(result["macs"], epoch_seconds(result),
                               result.get("epoch_clips", 0))
        if self._objectives and trial_id in self.trials:
            self._record_epoch(self.trials[trial_id], result)
        if trial_id not in self._rung_seconds and \
                result.get(self._rung_attr, 0) >= self._first_rung:
            self._rung_seconds[trial_id] = result.get("time_total_s", 0.0)

    def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None,
                          error: bool = False) -> None:
        if trial_id in self.completed or trial_id not in self.trials:
            return
        ot_trial = self.trials[trial_id]
        result = result or {}
        stop, reason = StopReason.of(result), result.get("stop_reason", "")
        value = self._objective_values(trial_id, result) if self._objectives else \
            self._best_of_epochs(ot_trial, result)
        if error or stop is StopReason.DIVERGED or (stop and value is None):
            state, value = TrialState.FAIL, None
            status = Status.ERROR if error else Status.COMPLETE
        elif stop is StopReason.TOO_SLOW:
            state, value, status = TrialState.PRUNED, None, Status.TOO_SLOW
        elif stop:
            state, status = TrialState.COMPLETE, Status.COMPLETE
        else:  # the trial's own loop did not end it: a scheduler or the budget did
            state, value, status = TrialState.PRUNED, None, Status.STOPPED_EARLY
            cut = self._deadline and time.time() > self._deadline - BUDGET_SLACK_S
            reason = CUT if cut else STOPPED
        ot_trial.set_user_attr("status", str(status))
        ot_trial.set_user_attr("stop_reason", reason or "error")
        for key in ("params", "macs", "infer_ms_per_clip", "epoch", "projected_epoch_s"):
            if key in result:
                ot_trial.set_user_attr(key, result[key])
        try:
            self.study.tell(ot_trial, value, state=state)
        except Exception as exc:  # already finished in the study (a resumed search)
            logger.warning("study: trial %s: %s", trial_id, exc)
        self.completed.add(trial_id)

    def _best_of_epochs(self, ot_trial: optuna.Trial, result: dict[str, Any]) -> float | None:
        intermediate = self._intermediate(ot_trial.number)
        step, last = result.get("training_iteration"), result.get(self.metric)
        if step is not None and last is not None and step not in intermediate:
            # Tune hands a trial's final result to on_trial_complete alone.
            ot_trial.report(last, step)
            intermediate = {**intermediate, step: last}
        return best_value(list(intermediate.values()), self.mode)

    def _record_epoch(self, ot_trial: optuna.Trial, result: dict[str, Any]) -> list[dict]:
        """Append one epoch's objectives to the trial's `objective_epochs` attribute (once
        per epoch); returns them all."""
        epochs = ot_trial.user_attrs.get(OBJECTIVE_EPOCHS, [])
        step = result.get("training_iteration")
        if step is None or any(r["training_iteration"] == step for r in epochs):
            return epochs
        row = {"training_iteration": step,
               **{m: result.get(m) for m, _ in self._objectives}}
        epochs = [*epochs, row]
        ot_trial.set_user_attr(OBJECTIVE_EPOCHS, epochs)
        return epochs

    def _objective_values(self, trial_id: str, result: dict[str, Any]) -> list[float] | None:
        """Every objective at the epoch best on the first (None when it has none)."""
        epochs = self._record_epoch(self.trials[trial_id], result or {})
        (first, mode), *_ = self._objectives
        best = best_value([r.get(first) for r in epochs], mode)
        row = next((r for r in epochs if r.get(first) == best), None)
        if best is None or row is None:
            return None
        values = [row.get(metric) for metric, _ in self._objectives]
        ok = all(v is not None and math.isfinite(v) for v in values)
        return [float(v) for v in values] if ok else None

    def _intermediate(self, number: int) -> dict[int, float]:
        return self.study.get_trials(deepcopy=False)[number].intermediate_values

    def save_to_dir(self, checkpoint_dir: str, session_str: str = "default") -> None:
        """Tune's own, but the file is made beside the folder and moved in whole: Tune copies
        that folder to storage while the search runs, and a temporary file made inside it
        could vanish under the copy (a traceback in a healthy search's console)."""
        target = os.path.join(checkpoint_dir, self.CKPT_FILE_TMPL.format(session_str))
        outside = os.path.dirname(os.path.abspath(checkpoint_dir))
        handle, made = tempfile.mkstemp(prefix=".searcher-state-", dir=outside)
        os.close(handle)
        try:
            self.save(made)
            os.replace(made, target)
        finally:
            if os.path.exists(made):
                os.remove(made)

    # Tune's searcher checkpoint: which Tune trial is which Optuna trial, as JSON.
    def save(self, checkpoint_path: str) -> None:
        mapping = {tid: t.number for tid, t in self.trials.items()}
        with open(checkpoint_path, "w") as f:
            json.dump({"trials": mapping, "completed": sorted(self.completed)}, f)
            f.flush()
            os.fsync(f.fileno())

    def restore(self, checkpoint_path: str) -> None:
        try:
            with open(checkpoint_path) as f:
                saved = json.load(f)
            mapping, completed = saved["trials"], set(saved["completed"])
        except (OSError, ValueError, KeyError, TypeError) as error:
            logger.warning("searcher state %s unreadable (%s); rebuilt from the study",
                           checkpoint_path, error)
            mapping, completed = None, None
        self._rebuild(mapping, completed)

    def restore_from_dir(self, checkpoint_dir: str) -> None:
        try:
            super().restore_from_dir(checkpoint_dir)
        except Exception as error:  # no searcher file at all
            logger.warning("no searcher state in %s (%s); rebuilt from the study",
                           checkpoint_dir, error)
            self._rebuild(None, None)

    def _rebuild(self, mapping: dict[str, int] | None, completed: set[str] | None) -> None:
        """Tune trial ids -> live Optuna trials, from the saved mapping or from the study's
        own records; trials the study has finished count as completed. A trial the study
        started for a Tune trial that the interruption lost is failed, so that the sampler
        does not wait on it."""
        trials = self.study.get_trials(deepcopy=False)
        if mapping is None:
            mapping = {t.user_attrs[TUNE_ID]: t.number for t in trials if TUNE_ID in t.user_attrs}
        for trial in trials:
            if trial.state == TrialState.RUNNING and trial.number not in mapping.values():
                compat.live_trial(self.study, trial).set_user_attr(LOST, True)
                self.study.tell(trial.number, state=TrialState.FAIL)
        self.trials = {tid: compat.live_trial(self.study, trials[number])
                       for tid, number in mapping.items() if number < len(trials)}
        finished = {tid for tid, number in mapping.items()
                    if number < len(trials) and trials[number].state.is_finished()}
        self._live = set()
        self.completed = finished | (completed or set())
