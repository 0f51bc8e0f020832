"""Searchers and schedulers beyond TPE + ASHA: grid, and the median rule without pauses."""

import json
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import yaml
from ray.tune.schedulers import TrialScheduler

from data_prep.config import ConfigError
from search.leaderboard import read as read_leaderboard
from search.median import MedianPruner
from search.run import run
from search.spec import parse_spec
from search.strategies import SEARCHERS
from search.tuning import make_scheduler
from trainables.checkpoints import read_state

TINY = {"sample_rate": 4000, "clip_seconds": 0.25,
        "synthetic": {"clips_per_class": 10, "classes": ["tone", "beeps", "chord"]}}
FIXED = {"batch_size": 8, "first_kernel": 16, "first_stride": 4, "pool": 4, "channels": 8,
         "conv_layers": 2}


def report(rule, trial_id, epoch, value, metric="acc"):
    """One epoch's result to a scheduler, which is told of the trial at its first."""
    trial = SimpleNamespace(trial_id=trial_id)
    if epoch == 1:
        rule.on_trial_add(None, trial)
    return rule.on_trial_result(None, trial, {"training_iteration": epoch, metric: value})


def test_median_rule_stops_below_the_median_and_never_pauses():
    rule = MedianPruner("acc", "max", grace_period=2, min_samples=2)
    for trial, values in {"a": [0.5, 0.6, 0.7], "b": [0.4, 0.5, 0.6]}.items():
        for epoch, value in enumerate(values, start=1):
            assert report(rule, trial, epoch, value) == TrialScheduler.CONTINUE  # too few
    assert report(rule, "c", 1, 0.1) == TrialScheduler.CONTINUE  # within grace
    assert report(rule, "c", 2, 0.2) == TrialScheduler.STOP  # below median(0.6, 0.5)
    assert report(rule, "d", 1, 0.5) == TrialScheduler.CONTINUE
    assert report(rule, "d", 2, 0.9) == TrialScheduler.CONTINUE  # above it
    minimising = MedianPruner("acc", "min", grace_period=1, min_samples=1)
    report(minimising, "a", 1, 1.0)
    assert report(minimising, "b", 1, 2.0) == TrialScheduler.STOP


def test_asha_recheck_stops_a_trial_that_passed_a_rung_before_it_filled():
    def asha_report(rule, trial_id, epoch, value):
        return report(rule, trial_id, epoch, value, metric="val_accuracy")

    def scheduler(recheck):
        spec = parse_spec({"model": "cnn1d", "metric": "val_accuracy", "mode": "max",
                           "max_epochs": 12, "space": {"lr": {"choice": [0.1, 0.01]}},
                           "scheduler": {"type": "asha", "grace_period": 2,
                                         "reduction_factor": 3, "recheck": recheck}})
        return make_scheduler(spec)

    held, as_ray = scheduler(True), scheduler(False)
    for rule in (held, as_ray):
        # "a" reaches the first rung (epoch 2) first: nothing to compare, it goes on.
        assert [asha_report(rule, "a", e, 0.3) for e in (1, 2, 3)] == \
            [TrialScheduler.CONTINUE] * 3
        # Two later trials do better at epoch 2: "a" is no longer in the top third there.
        for trial in ("b", "c"):
            asha_report(rule, trial, 1, 0.4)
            assert asha_report(rule, trial, 2, 0.6) == TrialScheduler.CONTINUE
    # At its next epoch "a" stops, however well it does now; Ray's ASHA lets it run on, and
    # a trial still in the top third runs on.
    assert asha_report(held, "a", 4, 0.9) == TrialScheduler.STOP
    assert [asha_report(as_ray, "a", e, 0.9) for e in (4, 5, 6)] == [TrialScheduler.CONTINUE] * 3
    assert asha_report(held, "b", 3, 0.6) == TrialScheduler.CONTINUE


def test_median_search_stops_weak_trials_without_repeating_epochs(ray_local, tmp_path):
    spec = parse_spec({
        "name": "median", "dataset": TINY, "model": "cnn1d", "metric": "val_accuracy",
        "mode": "max", "searcher": {"type": "random", "seed": 0},
        "scheduler": {"type": "median", "grace_period": 1, "min_samples": 2},
        "max_epochs": 5, "num_samples": 8, "max_concurrent": 2, "fixed": FIXED,
        "space": {"lr": {"choice": [1e-8, 3e-3]}},
    })
    experiment = run(spec, tmp_path)
    board = read_leaderboard(experiment / "leaderboard.csv")
    assert len(board) == 8
    for trial_dir in board["trial_dir"]:
        epochs = [json.loads(line)["epoch"]
                  for line in (Path(trial_dir) / "result.json").read_text().splitlines()]
        assert epochs == list(range(1, len(epochs) + 1)), "an epoch was repeated"
    assert board["stopped_by_scheduler"].any()
    assert board["epochs"].sum() < 8 * 5


def test_grid_visits_every_point_once(ray_local, tmp_path):
    spec = parse_spec({
        "name": "grid", "dataset": TINY, "model": "cnn1d", "metric": "val_accuracy",
        "mode": "max", "searcher": {"type": "grid"}, "scheduler": {"type": "none"},
        "max_epochs": 1, "fixed": FIXED,
        "space": {"act": {"choice": ["relu", "tanh"]}, "kernel_size": {"qint": [3, 7, 2]}},
    })
    assert spec.num_samples == 6
    board = read_leaderboard(run(spec, tmp_path) / "leaderboard.csv")
    points = set(zip(board["act"], board["kernel_size"], strict=True))
    assert points == {(a, k) for a in ("relu", "tanh") for k in (3, 5, 7)}


def test_grid_needs_discrete_keys_and_options_are_checked():
    base = {"model": "cnn1d", "metric": "val_accuracy", "mode": "max",
            "searcher": {"type": "grid"}, "space": {"lr": {"loguniform": [1e-4, 1e-2]}}}
    with pytest.raises(ConfigError, match=r"space\.lr: a loguniform range has no grid"):
        parse_spec(base)
    tpe = {**base, "searcher": {"type": "optuna_tpe", "multivariate": True,
                                "constant_liar": True}}
    assert parse_spec(tpe).searcher["constant_liar"] is True
    # Options not given take their keys' defaults, which the run prints and the samplers use.
    spec = parse_spec({**base, "searcher": {"type": "optuna_tpe"},
                       "scheduler": {"type": "median"}})
    assert spec.searcher == {"type": "optuna_tpe", "seed": 0, "n_startup_trials": 10,
                             "multivariate": False, "constant_liar": False}
    assert make_scheduler(spec).min_samples == 3
    assert isinstance(SEARCHERS.get("optuna_tpe").make(spec.searcher, 0, spec),
                      optuna.samplers.TPESampler)
    with pytest.raises(ConfigError, match=r"scheduler\.reduction_factor: unknown key for "
                                          r"'median'"):
        parse_spec({**tpe, "scheduler": {"type": "median", "reduction_factor": 3}})


def test_preprocessing_variants_are_prepared_once_and_trials_get_theirs(
        ray_local, tmp_path, capsys):

    raw = {
        "name": "variants", "model": "cnn2d", "metric": "val_accuracy", "mode": "max",
        "dataset": {**TINY, "representation": "logmel", "n_fft": 256},
        "searcher": {"type": "random", "seed": 0}, "scheduler": {"type": "none"},
        "max_epochs": 1, "num_samples": 6,
        "fixed": {"batch_size": 8, "conv_layers": 2, "channels": 8},
        "space": {"data.n_mels": {"choice": [16, 24]},
                  "data.hop_length": {"choice": [64, 128]}},
    }
    experiment = run(parse_spec(raw), tmp_path)
    out = capsys.readouterr().out
    assert out.count("prepared in") == 4 and "reused" not in out
    assert len(list((tmp_path / "shards").iterdir())) == 4
    info = json.loads((experiment / "experiment.json").read_text())
    assert len(info["shards"]) == 4
    board = read_leaderboard(experiment / "leaderboard.csv")
    assert len(board) == 6 and (board["status"] == "complete").all()
    for _, row in board.iterrows():
        state = read_state(row["checkpoint"])
        frames = 1 + 1000 // row["data.hop_length"]
        assert state["input_shape"] == [row["data.n_mels"], frames]
    run(parse_spec({**raw, "name": "again", "num_samples": 1}), tmp_path)
    assert capsys.readouterr().out.count("reused in") == 4


@pytest.mark.parametrize("param, message", [
    ({"data.colour": {"choice": [1, 2]}}, r"space\.data\.colour: 'colour' is not a prep"),
    ({"data.n_mels": {"int": [16, 64]}}, r"space\.data\.n_mels: preparation keys must be"),
    ({"data.representation": {"choice": ["waveform", "logmel"]}},
     r"dataset\.representation: 'cnn2d' reads \['cqt', 'logmel', 'mfcc'\], not 'waveform' "
     r"\(a waveform representation\)"),
])
def test_preprocessing_key_errors(param, message):
    raw = {"model": "cnn2d", "metric": "val_accuracy", "mode": "max",
           "dataset": {"representation": "logmel"}, "space": param}
    with pytest.raises(ConfigError, match=message):
        parse_spec(raw)


AUTO = {"model": "cnn1d", "metric": "val_accuracy", "mode": "max", "num_samples": 16,
        "space": {"lr": {"loguniform": [1e-4, 1e-2]}, "channels": {"choice": [8, 16, 32]},
                  "conv_layers": {"int": [2, 4]}}}


@pytest.mark.parametrize("change, chosen, why", [
    ({}, "optuna_gp", "every key searched takes numbers"),
    ({"space": {**AUTO["space"], "act": {"choice": ["relu", "tanh"]}}}, "optuna_tpe",
     "act chooses among ['relu', 'tanh']"),
    ({"space": {**AUTO["space"], "nesterov": {"choice": [True, False]}}}, "optuna_tpe",
     "nesterov chooses among [True, False]"),
    ({"space": {**AUTO["space"], "dropout": {"uniform": [0, 0.5], "when": {"channels": 32}}}},
     "optuna_tpe", "dropout is conditional"),
    ({"objectives": [{"metric": "val_accuracy", "mode": "max"},
                     {"metric": "infer_ms_per_clip", "mode": "min"}]}, "optuna_tpe",
     "2 objectives"),
    ({"num_samples": 300}, "optuna_tpe", "more than 250 trials"),
])
def test_auto_picks_the_gp_for_numeric_spaces_and_tpe_for_the_rest(change, chosen, why):
    """A space that names no searcher gets `auto`: Optuna's AutoSampler rule, measured on
    bench/search_efficiency.py's numeric space (GP) and the default spaces (TPE)."""
    from search.strategies import auto_choice, redraw, searcher_name
    from search.view import SearcherView

    raw = {**AUTO, **change}
    if "objectives" in raw:
        del raw["metric"], raw["mode"]
    spec = parse_spec(raw)
    assert spec.searcher == {"type": "auto", "seed": 0, "n_startup_trials": 10}
    assert auto_choice(spec) == (chosen, why)
    assert searcher_name(spec) == f"{chosen} (auto: {why})"
    sampler = SEARCHERS.get("auto").make(spec.searcher, 0, spec)
    if chosen == "optuna_gp":
        assert isinstance(sampler, SearcherView)
        assert isinstance(sampler.sampler, optuna.samplers.GPSampler)
        assert sampler.sampler._n_startup_trials == 10
        assert isinstance(redraw(spec.searcher, spec)(0), optuna.samplers.RandomSampler)
    else:  # TPE as `optuna_tpe` makes it, and its repeats redrawn from its model
        assert isinstance(sampler, optuna.samplers.TPESampler)
        assert sampler._n_startup_trials == 10 and not sampler._multivariate
        assert redraw(spec.searcher, spec)(0)._n_ei_candidates == 1


def test_a_search_says_which_searcher_auto_picked_and_why(tmp_path, capsys):
    from search.run import main

    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(AUTO))
    assert main([str(path), "--dry-run"]) == 0
    assert "searcher: optuna_gp (auto: every key searched takes numbers)" in \
        capsys.readouterr().out
    assert main([str(path), "--dry-run", "--set", "space.act={choice: [relu, tanh]}"]) == 0
    assert "searcher: optuna_tpe (auto: act chooses among ['relu', 'tanh'])" in \
        capsys.readouterr().out
