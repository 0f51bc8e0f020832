"""How a search proposes and stops trials: the searchers (Optuna samplers) and the
schedulers, each a function registered under the name a space's `searcher.type` or
`scheduler.type` gives, with the option keys it takes (the spec checks their names and
values before any work starts, and fills in the defaults of those not given)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from contracts.registry import Registry
from trainables import metrics
from trainables.keys import Key, is_number

from .asha import ASHA
from .median import MedianPruner
from .view import SearcherView

# The factories take the search's `search.spec.Spec` (not imported: the spec reads the
# registered names from here).
Spec = Any

EPOCHS = "training_iteration"  # Tune's count of reports: one per epoch
TIME_ATTRS = (EPOCHS, "time_total_s")  # rungs on epochs, or on seconds of training


@dataclass(frozen=True)
class Strategy:
    name: str
    options: dict[str, Key]  # the keys its section of a space may hold besides `type`
    make: Callable[..., Any]


SEARCHERS: Registry = Registry("searcher.type")
SCHEDULERS: Registry = Registry("scheduler.type")


def register(registry: Registry, name: str, options: tuple[Key, ...] = ()) -> Callable:
    def add(make: Callable) -> Callable:
        strategy = Strategy(name, {key.name: key for key in options}, make)
        registry.register(name, strategy, make.__module__)
        return make

    return add


SEED = Key("seed", "int", 0, "the searcher's random seed", interval="[0, inf)")
STARTUP = Key("n_startup_trials", "int", 10, "random trials before the searcher's model "
              "proposes the rest", interval="[0, inf)")
GRACE_PERIOD = Key("grace_period", "float", None, "the first rung: epochs (by default 1), or "
                   "with time_attr time_total_s seconds of training (by default the time one "
                   "epoch may take, or 10)", interval="(0, inf)", nullable=True)
TIME_ATTR = Key("time_attr", "str", EPOCHS, "compare trials at equal epochs or seconds",
                choices=TIME_ATTRS)
RUNG_METRIC = Key("metric", "str", None, "compare trials at the rungs on this reported value "
                  "(by default the search's metric), e.g. val_log_loss, which moves smoothly "
                  "where accuracy on a few clips moves in steps", nullable=True)


def rung_metric(spec: Spec) -> tuple[str, str]:
    """(metric, mode) the scheduler compares trials on."""
    given = spec.scheduler.get("metric")
    return (given, metrics.mode(given)) if given else (spec.metric, spec.mode)


# Searchers: (section options, seed, spec) -> an Optuna sampler.
@register(SEARCHERS, "optuna_tpe", (
    SEED, STARTUP,
    Key("multivariate", "bool", False, "model the keys jointly"),
    Key("constant_liar", "bool", False, "treat running trials as bad, so that parallel "
        "trials spread out")))
def tpe(options: dict, seed: int, spec: Spec, candidates: int = 24
        ) -> optuna.samplers.BaseSampler:
    """TPE; with several objectives, Optuna's multi-objective TPE. `candidates`: configs
    drawn from its model of the good ones, of which it takes the likeliest to be good
    (Optuna's n_ei_candidates)."""
    return optuna.samplers.TPESampler(
        seed=seed, n_startup_trials=options["n_startup_trials"],
        multivariate=options["multivariate"], constant_liar=options["constant_liar"],
        n_ei_candidates=candidates)


@register(SEARCHERS, "optuna_gp", (SEED, STARTUP))
def gp(options: dict, seed: int, spec: Spec) -> optuna.samplers.BaseSampler:
    """Optuna's Gaussian-process sampler, fitted on the study seen at one number of epochs
    with numeric choices as ranks (search/view.py): on the study itself it would see only
    the trials that ran to the end. Single objective."""
    return SearcherView(optuna.samplers.GPSampler(
        seed=seed, n_startup_trials=options["n_startup_trials"],
        warn_independent_sampling=False))


GP_MAX_TRIALS = 250  # its fit grows as trials cubed; AutoSampler's limit for it


def auto_choice(spec: Spec) -> tuple[str, str]:
    """(searcher, why) `auto` picks for the spec's space, by the rule of Optuna's
    AutoSampler: the Gaussian process (on the view's ranks) where every key searched takes
    numbers and none is conditional, TPE where a key takes names or exists in some trials
    only, or where the search has several objectives or more trials than a GP fits in good
    time. On the search-efficiency bench's space of numeric choices the GP came within a
    point of the grid's best within 15% of its epochs in 7 of 8 seeds, TPE in none of 6; on
    the default spaces (names, conditions) it was not better than TPE (RESULTS.md,
    sessions 18 and 19)."""
    named = [p for p in spec.space.searched
             if p.kind == "choice" and not all(is_number(v) for v in p.args)]
    conditional = [p.name for p in spec.space.searched if p.when]
    if len(spec.objectives) > 1:
        return "optuna_tpe", f"{len(spec.objectives)} objectives"
    if named:
        return "optuna_tpe", f"{named[0].name} chooses among {list(named[0].args)}"
    if conditional:
        return "optuna_tpe", f"{conditional[0]} is conditional"
    if spec.num_samples > GP_MAX_TRIALS:
        return "optuna_tpe", f"more than {GP_MAX_TRIALS} trials"
    return "optuna_gp", "every key searched takes numbers"


def concrete(options: dict, spec: Spec) -> dict:
    """The searcher's options, with `auto` replaced by the searcher it picks for the spec
    and that searcher's defaults for the options `auto` does not take."""
    if options["type"] != "auto":
        return options
    chosen = SEARCHERS.get(auto_choice(spec)[0])
    defaults = {name: key.default for name, key in chosen.options.items()}
    return {**defaults, **{k: v for k, v in options.items() if k in defaults},
            "type": chosen.name}


def searcher_name(spec: Spec) -> str:
    """The searcher's name as the console says it, with `auto`'s pick and why."""
    if spec.searcher["type"] != "auto":
        return spec.searcher["type"]
    chosen, why = auto_choice(spec)
    return f"{chosen} (auto: {why})"


@register(SEARCHERS, "auto", (SEED, STARTUP))
def auto(options: dict, seed: int, spec: Spec) -> optuna.samplers.BaseSampler:
    """The searcher `auto_choice` picks for the spec's space."""
    options = concrete(options, spec)
    return SEARCHERS.get(options["type"]).make(options, seed, spec)


@register(SEARCHERS, "nsga2", (SEED, Key("population_size", "int", 50, "trials per "
                                         "generation", interval="[2, inf)")))
def nsga2(options: dict, seed: int, spec: Spec) -> optuna.samplers.BaseSampler:
    return optuna.samplers.NSGAIISampler(seed=seed, population_size=options["population_size"])


@register(SEARCHERS, "random", (SEED,))
def random(options: dict, seed: int, spec: Spec) -> optuna.samplers.BaseSampler:
    return optuna.samplers.RandomSampler(seed=seed)


@register(SEARCHERS, "grid")
def grid(options: dict, seed: int, spec: Spec) -> optuna.samplers.BaseSampler:
    return optuna.samplers.GridSampler(spec.space.grid(), seed=seed)


def redraw(options: dict, spec: Spec) -> Callable[[int], optuna.samplers.BaseSampler]:
    """seed -> the sampler that draws again when the searcher proposes a config already
    trained. TPE's pick among its candidates is, on a space of choices, the same config
    again once it has found a good one; one draw from its model of the good configs (a
    single candidate, no pick) tries a neighbour of theirs instead. Other searchers draw
    at random. Measured on bench/search_efficiency.py's space (RESULTS.md, session 13)."""
    options = concrete(options, spec)
    if options["type"] == "optuna_tpe":
        return lambda seed: tpe(options, seed, spec, candidates=1)
    return optuna.samplers.RandomSampler


def grace_period(spec: Spec) -> float:
    """The scheduler's first rung: epochs, or with `time_attr: time_total_s` seconds of
    training (by default the time one epoch may take, or 10 s)."""
    given = spec.scheduler.get("grace_period")  # a scheduler without rungs has none
    if spec.scheduler.get("time_attr", EPOCHS) == EPOCHS:
        return min(given or 1, spec.max_epochs)
    return given or spec.epoch_seconds_limit or 10.0


# Schedulers: spec -> a Tune trial scheduler.
@register(SCHEDULERS, "asha", (GRACE_PERIOD, TIME_ATTR, RUNG_METRIC, Key(
    "reduction_factor", "float", 3, "keep 1 in this many at each rung", interval="(1, inf)"),
    Key("recheck", "bool", False, "at each epoch, stop a trial that later trials have "
        "pushed out of the top 1/reduction_factor of a rung it passed")))
def asha(spec: Spec) -> TrialScheduler:
    time_attr = spec.scheduler["time_attr"]
    # On seconds, a trial still ends at max_epochs by itself; max_t only bounds rungs.
    max_t = spec.max_epochs if time_attr == EPOCHS else (spec.time_budget_s or 86400)
    metric, mode = rung_metric(spec)
    return ASHA(metric=metric, mode=mode, time_attr=time_attr, max_t=max_t,
                grace_period=grace_period(spec),
                reduction_factor=spec.scheduler["reduction_factor"],
                recheck=spec.scheduler["recheck"])


@register(SCHEDULERS, "median", (GRACE_PERIOD, TIME_ATTR, RUNG_METRIC, Key(
    "min_samples", "int", 3, "trials at a rung before any is stopped", interval="[1, inf)")))
def median(spec: Spec) -> TrialScheduler:
    return MedianPruner(*rung_metric(spec), grace_period(spec),
                        spec.scheduler["min_samples"], spec.scheduler["time_attr"])


@register(SCHEDULERS, "none")
def fifo(spec: Spec) -> TrialScheduler:
    return FIFOScheduler()
