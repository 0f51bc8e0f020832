"""Spec -> the Ray Tune objects: searcher, scheduler, Tuner."""

from __future__ import annotations

from pathlib import Path

import optuna
from ray import tune
from ray.tune.schedulers import ASHAScheduler, FIFOScheduler, TrialScheduler

from trainables.tune_trainable import train

from .console import SearchConsole
from .median import MedianPruner
from .spec import Spec
from .storage import ExperimentStore
from .study import StudySearcher

EPOCHS = "training_iteration"  # Tune's count of reports: one per epoch

def trial_dirname(trial: tune.experiment.Trial) -> str:
    return trial.trial_id


def make_searcher(spec: Spec, seed: int, experiment_dir: Path) -> StudySearcher:
    options = spec.searcher
    if options["type"] == "random":
        sampler = optuna.samplers.RandomSampler(seed=seed)
    elif options["type"] == "grid":
        sampler = optuna.samplers.GridSampler(spec.space.grid(), seed=seed)
    elif options["type"] == "nsga2":
        sampler = optuna.samplers.NSGAIISampler(
            seed=seed, population_size=options.get("population_size", 50))
    else:
        sampler = optuna.samplers.TPESampler(
            seed=seed,
            n_startup_trials=options.get("n_startup_trials", 10),
            multivariate=options.get("multivariate", False),
            constant_liar=options.get("constant_liar", False),
        )
    space = spec.space.with_fixed(spec.fixed_config)
    metrics, modes = ([m for m, _ in spec.objectives], [d for _, d in spec.objectives])
    if len(metrics) == 1:
        metrics, modes = metrics[0], modes[0]
    return StudySearcher(space, metrics, modes, sampler, experiment_dir,
                         points_to_evaluate=spec.start_from, time_budget_s=spec.time_budget_s,
                         first_rung=grace_period(spec),
                         time_attr=spec.scheduler.get("time_attr", EPOCHS))


def grace_period(spec: Spec) -> float:
    """The scheduler's first rung: epochs, or with `time_attr: time_total_s` seconds of
    training (by default the time one epoch may take, or 10 s)."""
    options = spec.scheduler
    if options.get("time_attr", EPOCHS) == EPOCHS:
        return min(options.get("grace_period", 1), spec.max_epochs)
    return options.get("grace_period", spec.epoch_seconds_limit or 10.0)


def make_scheduler(spec: Spec) -> TrialScheduler:
    options = spec.scheduler
    time_attr = options.get("time_attr", EPOCHS)
    if options["type"] == "asha":
        # On seconds, a trial still ends at max_epochs by itself; max_t only bounds rungs.
        max_t = spec.max_epochs if time_attr == EPOCHS else (spec.time_budget_s or 86400)
        return ASHAScheduler(time_attr=time_attr, max_t=max_t, grace_period=grace_period(spec),
                             reduction_factor=options.get("reduction_factor", 3))
    if options["type"] == "median":
        return MedianPruner(spec.metric, spec.mode, grace_period(spec),
                            options.get("min_samples", 3), time_attr)
    return FIFOScheduler()


def make_trainable(spec: Spec, shard_dirs: dict[str, str]):
    """The function trainable, told where each data variant's shards are: trials map them
    (nothing of the data passes through the driver or the object store)."""
    resources = {"cpu": spec.resources["cpu"], "gpu": spec.resources["gpu"]}
    return tune.with_resources(tune.with_parameters(train, shards=shard_dirs), resources)


def make_tuner(
    spec: Spec, trainable, store: ExperimentStore, max_concurrent: int, seed: int,
    restore: bool, verbose: bool = False,
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
            search_alg=make_searcher(spec, seed, store.local),
            scheduler=make_scheduler(spec),
            num_samples=spec.num_samples,
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
