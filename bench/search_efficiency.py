"""How much of a full grid's work TPE + ASHA needs, and how much wall time Tune adds.

One small space on the synthetic task, searched in one run: the full grid (every point to
max_epochs), random + ASHA, TPE + ASHA and multivariate TPE + ASHA (each after 6 or 4 random
startup trials), and TPE + ASHA as
Ray's OptunaSearch tells Optuna (a trial ASHA stopped as COMPLETE with its last epoch's
value) instead of this project's study searcher (stopped trials PRUNED, finished ones their
best epoch), and TPE + ASHA with its rungs compared on the validation log loss
(`scheduler.metric: val_log_loss`) rather than accuracy, and TPE + ASHA replacing a config
already trained by a random one (`-random-redraw`, before session 13) rather than by a draw
from TPE's model of the good configs, and TPE + ASHA redrawing a repeat from TPE's model
at once (`-no-neighbour`, before session 17) rather than first training an untried
neighbour of the best finished trial, and TPE + ASHA with `recheck` (a trial that later
trials push out of the top third of a rung it passed stops), and GP + ASHA (`optuna_gp`,
Optuna's Gaussian process fitted on the study seen BOHB's way, search/view.py), with and
without recheck, and `auto` (the searcher a space that names none gets: on this space the
GP); each ASHA search once per `--seeds` seed. For each:
the best validation accuracy, the epochs spent, and the epochs spent (in the order they
ran) when a trial first came within 1 point of the grid's best.
Target: at most 15% of the grid's epochs. Also each search's wall time against the sum of
its trials' compute (Tune's time_total_s; and, stricter, the loop's epoch times alone)
divided by the concurrency. Target: at most 1.15.

The rungs and the epochs are the default spaces' (`--grace-period 2 --max-epochs 12`,
reduction 3); `--grace-period 1 --max-epochs 6` is the setting of the first measurements.

    .venv/bin/python bench/search_efficiency.py [--seeds 0 1 2] [--samples 16]
        [--grace-period 2] [--max-epochs 12]
        [--only grid --only tpe+asha] [--results /tmp/search-bench]
        [--grid-from /tmp/search-bench/grid-0] [--fixed ema_epochs=3]

`--fixed KEY=VALUE` trains every trial with that key (the grid too: give it another
`--results`), e.g. `ema_epochs=3`, the weight average the default cnn spaces score.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import tempfile
from pathlib import Path
from unittest.mock import patch

import ray
import yaml

from contracts.experiment import describe_environment
from search import tuning
from search.run import run
from search.spec import parse_spec
from search.study import StudySearcher

# 600 validation clips: "within 1 point" must be more than the validation set's noise (with
# 150, one point was less than one clip and the standard error near 0.9 was 2.4 points; with
# 600 it is 1.2). 750 train clips, as many as 100 a class at the default fractions gave.
SPACE = {
    "dataset": {"sample_rate": 8000, "clip_seconds": 1.0, "representation": "logmel",
                "n_fft": 512, "hop_length": 128, "n_mels": 32,
                "val_fraction": 0.4, "test_fraction": 0.1,
                "synthetic": {"clips_per_class": 150}},
    "model": "cnn2d",
    "metric": "val_accuracy",
    "mode": "max",
    "max_epochs": 12,
    "fixed": {"batch_size": 32},
    "space": {
        "lr": {"choice": [1.0e-4, 3.0e-4, 1.0e-3, 3.0e-3]},
        "channels": {"choice": [8, 16, 32]},
        "conv_layers": {"choice": [2, 3]},
        "dropout": {"choice": [0.0, 0.3]},
    },
}
ASHA = {"type": "asha", "grace_period": 2, "reduction_factor": 3}
# Rungs compared on the probabilities' log loss rather than on accuracy (in steps of a clip).
ASHA_LOG_LOSS = {**ASHA, "metric": "val_log_loss"}
SEARCHES = {
    "grid": ({"type": "grid"}, {"type": "none"}, None),
    "random+asha": ({"type": "random", "seed": 0}, ASHA, 16),
    "tpe+asha": ({"type": "optuna_tpe", "seed": 0, "n_startup_trials": 6}, ASHA, 16),
    "tpe4+asha": ({"type": "optuna_tpe", "seed": 0, "n_startup_trials": 4}, ASHA, 16),
    "tpe-mv+asha": ({"type": "optuna_tpe", "seed": 0, "n_startup_trials": 6,
                     "multivariate": True, "constant_liar": True}, ASHA, 16),
    "tpe4-mv+asha": ({"type": "optuna_tpe", "seed": 0, "n_startup_trials": 4,
                      "multivariate": True, "constant_liar": True}, ASHA, 16),
    "tpe+asha-ray": ({"type": "optuna_tpe", "seed": 0, "n_startup_trials": 6}, ASHA, 16),
    "tpe+asha-ll": ({"type": "optuna_tpe", "seed": 0, "n_startup_trials": 6}, ASHA_LOG_LOSS,
                    16),
    "tpe+asha-recheck": ({"type": "optuna_tpe", "seed": 0, "n_startup_trials": 6},
                         {**ASHA, "recheck": True}, 16),
    "tpe+asha-random-redraw": ({"type": "optuna_tpe", "seed": 0, "n_startup_trials": 6}, ASHA,
                               16),
    "tpe+asha-no-neighbour": ({"type": "optuna_tpe", "seed": 0, "n_startup_trials": 6}, ASHA,
                              16),
    "gp+asha": ({"type": "optuna_gp", "seed": 0, "n_startup_trials": 6}, ASHA, 16),
    # What a space that names no searcher gets: on this space of numbers, the GP.
    "auto+asha": ({"type": "auto", "seed": 0, "n_startup_trials": 6}, ASHA, 16),
    "gp+asha-recheck": ({"type": "optuna_gp", "seed": 0, "n_startup_trials": 6},
                        {**ASHA, "recheck": True}, 16),
}


def rays_optuna_search(spec, seed: int, experiment_dir: Path):
    """The searcher as it was: Ray's OptunaSearch over an in-memory study."""
    import optuna
    from ray.tune.search.optuna import OptunaSearch

    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=6)
    return OptunaSearch(space=spec.space.with_fixed(spec.fixed_config), metric=spec.metric,
                        mode=spec.mode, sampler=sampler)


def random_redraw(options: dict, spec):
    """Before session 13: a config already trained was replaced by a random one."""
    import optuna

    return optuna.samplers.RandomSampler


def no_neighbour(self, seed: int) -> None:
    """Before session 17: a repeat was drawn again from TPE's model at once, not first
    replaced by an untried neighbour of the best finished trial."""
    return None


def replaced_for(name: str) -> contextlib.ExitStack:
    """The project's code that a search named for an earlier way replaces, while it runs."""
    stack = contextlib.ExitStack()
    if name.endswith("-ray"):
        stack.enter_context(patch.object(tuning, "make_searcher", rays_optuna_search))
    if name.endswith("-random-redraw"):
        stack.enter_context(patch.object(tuning, "redraw", random_redraw))
    if name.endswith(("-random-redraw", "-no-neighbour")):
        stack.enter_context(patch.object(StudySearcher, "_untried_neighbour", no_neighbour))
    return stack


def fixed_key(text: str) -> tuple[str, object]:
    """`KEY=VALUE` from the command line, the value read as YAML (3: an int, true: a bool)."""
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"{text!r}: write KEY=VALUE, e.g. ema_epochs=3")
    return key, yaml.safe_load(value)


def epochs_to_target(accuracies: list[float], target: float) -> int | None:
    """Epochs spent, in the order they ended, when one first reached `target`; None: never."""
    return next((i + 1 for i, a in enumerate(accuracies) if a >= target), None)


def tally(name: str, shares: list[float | None]) -> str:
    """Over seeds: how often a search came within 1 point, and within 15% of the grid's
    epochs (`shares`: the grid's share spent when it did, None when it never did)."""
    found = [share for share in shares if share is not None]
    return (f"{name}: within 1 point in {len(found)} of {len(shares)} seeds, within 15% of "
            f"the grid's epochs in {sum(share <= 0.15 for share in found)} of {len(shares)}")


def reports(experiment: Path) -> list[dict]:
    """Every epoch report of every trial, in the order they happened."""
    rows = []
    for path in experiment.glob("*/result.json"):
        rows += [json.loads(line) for line in path.read_text().splitlines()]
    return sorted(rows, key=lambda r: r["reported_at"])


def search(name: str, seed: int, args: argparse.Namespace) -> dict:
    """Run one search; what `searched` tells of it."""
    searcher, scheduler, default_samples = SEARCHES[name]
    if "seed" in searcher:
        searcher = {**searcher, "seed": seed}
    if scheduler["type"] == "asha":
        scheduler = {**scheduler, "grace_period": args.grace_period}
    raw = {**copy.deepcopy(SPACE), "name": f"{name}-{seed}", "searcher": searcher,
           "scheduler": scheduler, "max_epochs": args.max_epochs}
    raw["fixed"].update(args.fixed)
    if default_samples:
        raw["num_samples"] = args.samples
    with replaced_for(name):
        experiment = run(parse_spec(raw), args.results, restart=True)
    return searched(experiment)


def searched(experiment: Path) -> dict:
    """A finished search's reports, epochs, best, wall time and ideal time."""
    info = json.loads((experiment / "experiment.json").read_text())
    rows = reports(experiment)
    trials = {r["trial_id"] for r in rows}
    concurrency = min(int(ray.cluster_resources()["CPU"]), len(trials))
    # A trial's compute as Tune counts it: its last report's time_total_s, from entering
    # the trainable (data fetch, model build, epochs, checkpoints). The loop's epoch
    # times alone leave out each trial's start.
    compute = sum(max(r["time_total_s"] for r in rows if r["trial_id"] == trial)
                  for trial in trials)
    epochs_only = sum(r["epoch_time_s"] for r in rows)
    return {"rows": rows, "trials": len(trials),
            "best": max(r["val_accuracy"] for r in rows), "epochs": len(rows),
            "wall": info["search_seconds"], "ideal": compute / concurrency,
            "environment": info.get("environment", {}),
            "ideal_epochs": epochs_only / concurrency}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path(tempfile.mkdtemp()))
    parser.add_argument("--only", action="append", choices=sorted(SEARCHES),
                        help="run only these searches (no comparison with the grid)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="run each ASHA search once per searcher seed")
    parser.add_argument("--samples", type=int, default=16, help="trials per ASHA search")
    parser.add_argument("--grace-period", type=int, default=ASHA["grace_period"],
                        help="ASHA's first rung, in epochs")
    parser.add_argument("--max-epochs", type=int, default=SPACE["max_epochs"])
    parser.add_argument("--grid-from", type=Path, metavar="EXPERIMENT",
                        help="the grid's trials from an earlier run's experiment folder "
                             "(e.g. RESULTS/grid-0) instead of running it again: it does "
                             "not depend on the searchers, and costs 576 epochs")
    parser.add_argument("--fixed", type=fixed_key, action="append", default=[],
                        metavar="KEY=VALUE", help="a training key every trial gets, e.g. "
                        "ema_epochs=3 (as the default cnn spaces train)")
    args = parser.parse_args()
    ray.init(address="local", include_dashboard=False, logging_level="ERROR",
             log_to_driver=False)
    summary = {}
    for name in SEARCHES:
        earlier = name == "grid" and args.grid_from  # compared with, whatever --only says
        if args.only and name not in args.only and not earlier:
            continue
        for seed in [0] if name == "grid" else args.seeds:
            summary[name, seed] = searched(args.grid_from) if earlier else \
                search(name, seed, args)
    print(f"\nspace: {math.prod(len(p['choice']) for p in SPACE['space'].values())} points, "
          f"up to {args.max_epochs} epochs each, ASHA from {args.grace_period} epochs, "
          "10 classes (chance 0.10)")
    print(f"{'search':<13} {'seed':>4} {'trials':>6} {'best val acc':>12} {'epochs':>7} "
          f"{'% grid':>7} {'wall s':>7} {'ideal s':>8} {'wall/ideal':>10} "
          f"{'epochs-only ideal s':>19} {'wall/that':>9}")
    grid_epochs = summary["grid", 0]["epochs"] if ("grid", 0) in summary else math.nan
    for (name, seed), s in summary.items():
        print(f"{name:<13} {seed:>4} {s['trials']:>6} {s['best']:>12.3f} {s['epochs']:>7} "
              f"{100 * s['epochs'] / grid_epochs:>6.1f}% {s['wall']:>7.1f} "
              f"{s['ideal']:>8.1f} {s['wall'] / s['ideal']:>10.3f} "
              f"{s['ideal_epochs']:>19.1f} {s['wall'] / s['ideal_epochs']:>9.3f}")
    if ("grid", 0) not in summary:
        return
    grid = summary["grid", 0]
    # A search compares only with a grid made on the same machine type and libraries
    # (see contracts.experiment.RESULT_PACKAGES).
    print(f"grid made with {describe_environment(grid['environment'])}")
    for (name, seed), s in summary.items():
        if s["environment"] != grid["environment"]:
            print(f"warning: {name} seed {seed} ran on another machine or other library "
                  "versions than the grid")
    target = grid["best"] - 0.01
    shares: dict[str, list[float | None]] = {}
    for (name, seed), s in summary.items():
        if name == "grid":
            continue
        spent = epochs_to_target([r["val_accuracy"] for r in s["rows"]], target)
        shares.setdefault(name, []).append(None if spent is None else spent / grid["epochs"])
        if spent is None:
            print(f"{name} seed {seed}: never came within 1 point of the grid's best "
                  f"({grid['best']:.3f}) in {s['epochs']} epochs")
        else:
            print(f"{name} seed {seed}: within 1 point of the grid's best ({grid['best']:.3f}) "
                  f"after {spent} epochs = {100 * spent / grid['epochs']:.1f}% of the grid's "
                  f"{grid['epochs']}")

    for name, spent in shares.items():
        print(tally(name, spent))


if __name__ == "__main__":
    main()
