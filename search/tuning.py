"""Spec -> the Ray Tune objects: searcher, scheduler, Tuner."""

from __future__ import annotations

from pathlib import Path

from ray import tune
from ray.tune.schedulers import TrialScheduler

from trainables.tune_trainable import train

from .console import SearchConsole
from .fidelity import CostModel
from .spec import Spec
from .storage import ExperimentStore
from .strategies import EPOCHS, SCHEDULERS, SEARCHERS, grace_period, redraw
from .study import StudySearcher

__all__ = ["grace_period", "make_scheduler", "make_searcher", "make_trainable", "make_tuner"]

def trial_dirname(trial: tune.experiment.Trial) -> str:
    return trial.trial_id


def make_searcher(spec: Spec, seed: int, experiment_dir: Path,
                  cost: CostModel | None = None) -> StudySearcher:
    options = spec.searcher
    sampler = SEARCHERS.get(options["type"]).make(options, seed, spec)
    space = spec.space.with_fixed(spec.fixed_config)
    metrics, modes = ([m for m, _ in spec.objectives], [d for _, d in spec.objectives])
    if len(metrics) == 1:
        metrics, modes = metrics[0], modes[0]
    return StudySearcher(space, metrics, modes, sampler, experiment_dir,
                         points_to_evaluate=spec.start_from, time_budget_s=spec.time_budget_s,
                         first_rung=grace_period(spec),
                         time_attr=spec.scheduler.get("time_attr", EPOCHS),
                         redraw=redraw(options, spec), num_samples=spec.num_samples,
                         # a grid runs each of its configs once: none is drawn again
                         too_slow_allowance=0 if options["type"] == "grid" else None,
                         cost=cost, epoch_limit=spec.epoch_seconds_limit)


def make_scheduler(spec: Spec) -> TrialScheduler:
    return SCHEDULERS.get(spec.scheduler["type"]).make(spec)


def make_trainable(spec: Spec, shard_dirs: dict[str, str]):
    """The function trainable, told where each data variant's shards are: trials map them
    (nothing of the data passes through the driver or the object store)."""
    resources = {"cpu": spec.resources["cpu"], "gpu": spec.resources["gpu"]}
    return tune.with_resources(tune.with_parameters(train, shards=shard_dirs), resources)


def make_tuner(
    spec: Spec, trainable, store: ExperimentStore, max_concurrent: int, seed: int,
    restore: bool, verbose: bool = False, cost: CostModel | None = None,
) -> tune.Tuner:
    """A new Tuner, or with `restore` the experiment's own from `store`: finished trials are
    kept, unfinished ones resume from their checkpoints, and the searcher's history
    (Optuna's trials) comes back with it."""
    if restore:
        return tune.Tuner.restore(
            store.uri, trainable, resume_unfinished=True, resume_errored=True
        )
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            metric=spec.metric,
            mode=spec.mode,
            search_alg=make_searcher(spec, seed, store.local, cost),
            scheduler=make_scheduler(spec),
            num_samples=-1,  # the searcher counts its trials: too-slow ones do not count
            max_concurrent_trials=max_concurrent,
            time_budget_s=spec.time_budget_s,
            reuse_actors=True,
            trial_dirname_creator=trial_dirname,
        ),
        run_config=tune.RunConfig(
            name=store.name,
            # Tune's per-trial tables with --verbose; otherwise the search's own console.
            verbose=2 if verbose else 0,
            callbacks=[] if verbose else [SearchConsole(
                spec.metric, spec.mode, spec.num_samples, spec.space.names,
                spec.time_budget_s)],
            storage_path=store.storage,
            checkpoint_config=tune.CheckpointConfig(
                num_to_keep=1,  # the best; Tune also keeps the latest, for resuming
                checkpoint_score_attribute=spec.metric,
                checkpoint_score_order=spec.mode,
            ),
            failure_config=tune.FailureConfig(max_failures=spec.max_failures),
        ),
    )
