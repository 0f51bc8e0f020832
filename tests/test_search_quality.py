"""A search that spends its budget well: costly configs stopped within seconds, the searcher
told the truth about every trial, rungs on compute, and known-good configs tried first."""

from __future__ import annotations

import pytest
from ray.tune.schedulers import TrialScheduler

from search.leaderboard import read as read_leaderboard
from search.median import MedianPruner
from search.run import SearchIncomplete, run
from search.spec import parse_spec
from search.study import CUT, STOPPED, TUNE_ID, load_study
from search.tuning import grace_period, make_scheduler

DATA = {"sample_rate": 4000, "clip_seconds": 0.25,
        "synthetic": {"clips_per_class": 16, "classes": ["tone", "beeps"]}}
FIXED = {"first_kernel": 16, "first_stride": 4, "channels": 8, "conv_layers": 2}


def spec(**raw):
    return parse_spec({"model": "cnn1d", "metric": "val_accuracy", "mode": "max",
                       "dataset": DATA} | raw)


def study_states(experiment) -> dict[str, str]:
    """Tune trial -> its state in the study (configs never started have no Tune trial)."""
    return {t.user_attrs[TUNE_ID]: t.state.name for t in load_study(experiment).trials
            if TUNE_ID in t.user_attrs}


def test_the_study_records_finished_stopped_and_failed_trials_as_they_ended(ray_local,
                                                                           tmp_path):
    # Rungs on the log loss (continuous, unlike accuracy on a few clips), one trial at a
    # time: ASHA stops every trial whose first epoch is worse than the earlier ones' median.
    experiment = run(spec(
        name="truth", searcher={"type": "random", "seed": 3},
        scheduler={"type": "asha", "grace_period": 1, "reduction_factor": 2,
                   "metric": "val_log_loss"},
        max_epochs=4, num_samples=8, max_concurrent=1, fixed={**FIXED, "batch_size": 8},
        space={"pool": {"choice": [4, 1024]},  # 1024: wider than the clip, raises
               "lr": {"loguniform": [1e-4, 1e-1]}}), tmp_path)
    board = read_leaderboard(experiment / "leaderboard.csv")
    states = study_states(experiment)
    expected = {"complete": "COMPLETE", "stopped_early": "PRUNED", "error": "FAIL"}
    for row in board.itertuples():
        assert states[row.trial_id] == expected[row.status], row
    assert {"complete", "stopped_early", "error"} <= set(board["status"])
    stopped = board[board["status"] == "stopped_early"]
    assert (stopped["stop_reason"] == STOPPED).all() and stopped["stopped_by_scheduler"].all()
    # A finished trial is told its best epoch's value, the one the leaderboard ranks by.
    study = load_study(experiment)
    for trial in study.trials:
        if trial.state.name == "COMPLETE":
            row = board[board["trial_id"] == trial.user_attrs[TUNE_ID]].iloc[0]
            assert trial.value == pytest.approx(row["val_accuracy_best"])
            assert len(trial.intermediate_values) == row["epochs"]


def test_a_too_slow_config_is_stopped_within_seconds_and_recorded(ray_local, tmp_path):
    with pytest.raises(SearchIncomplete, match="every trial was too slow.*max_epoch_seconds"):
        run(spec(name="slow", searcher={"type": "random", "seed": 0},
                 scheduler={"type": "none"}, max_epochs=50, num_samples=1,
                 max_epoch_seconds=0.001,
                 # at the full fidelity the user chose (the search lowers it otherwise)
                 fixed={**FIXED, "batch_size": 2, "epoch_fraction": 1.0},
                 space={"lr": {"choice": [1e-3]}}), tmp_path)
    experiment = tmp_path / "slow"
    row = read_leaderboard(experiment / "leaderboard.csv").iloc[0]
    assert row["status"] == "too_slow" and row["epochs"] == 1
    assert row["stop_reason"].startswith("too_slow: projected")
    assert "max_epoch_seconds 0.001" in row["stop_reason"]
    assert row["train_seconds"] < 10
    assert row["macs"] > 0 and row["params"] > 0
    assert study_states(experiment) == {row["trial_id"]: "PRUNED"}


def test_a_trial_cut_by_the_time_budget_is_told_apart_from_a_stopped_one(ray_local,
                                                                          tmp_path):
    # One trial that would train far longer than the budget: Tune ends the experiment
    # without telling the searcher, and the search must say the budget cut it. (20 s: on
    # a loaded 2-core machine, 8 s ended before the trial's first epoch.)
    experiment = run(spec(name="cut", searcher={"type": "random", "seed": 0},
                          scheduler={"type": "none"}, max_epochs=10_000, num_samples=1,
                          time_budget_s=20, max_epoch_seconds=60,
                          fixed={**FIXED, "batch_size": 8}, space={"lr": {"choice": [1e-3]}}),
                     tmp_path)
    row = read_leaderboard(experiment / "leaderboard.csv").iloc[0]
    assert row["status"] == "stopped_early" and row["stop_reason"] == CUT
    assert not row["stopped_by_scheduler"] and row["epochs"] >= 1
    assert study_states(experiment) == {row["trial_id"]: "PRUNED"}


def test_a_budget_that_ends_before_any_epoch_is_an_error_that_says_so(ray_local, tmp_path):
    with pytest.raises(SearchIncomplete, match=r"time budget \(1s\) ended before any trial "
                                               r"reported an epoch; raise time_budget_s"):
        run(spec(name="short", searcher={"type": "random", "seed": 0},
                 scheduler={"type": "none"}, max_epochs=10_000, num_samples=1,
                 time_budget_s=1, fixed=FIXED, space={"lr": {"choice": [1e-3]}}), tmp_path)
    board = read_leaderboard(tmp_path / "short" / "leaderboard.csv")  # a header, no rows
    assert board.empty and "val_accuracy_best" in board


def test_max_epoch_seconds_defaults_to_a_quarter_of_the_budget_over_the_epochs():
    assert spec(space={}, time_budget_s=300, max_epochs=10).fixed_config[
        "max_epoch_seconds"] == pytest.approx(7.5)
    assert spec(space={}, max_epochs=10).fixed_config["max_epoch_seconds"] is None
    assert spec(space={}, time_budget_s=300, max_epoch_seconds=20).fixed_config[
        "max_epoch_seconds"] == 20


def test_rungs_on_seconds_compare_trials_at_equal_compute():
    seconds = spec(space={}, time_budget_s=300, max_epochs=10,
                   scheduler={"type": "asha", "time_attr": "time_total_s"})
    assert make_scheduler(seconds)._time_attr == "time_total_s"
    assert grace_period(seconds) == pytest.approx(7.5)  # one epoch's allowed seconds
    median = MedianPruner("val_accuracy", "max", grace_period=2.0, min_samples=2,
                          time_attr="time_total_s")

    def report(trial_id: str, seconds: float, value: float) -> str:
        trial = type("Trial", (), {"trial_id": trial_id})()
        return median.on_trial_result(None, trial, {"time_total_s": seconds,
                                                    "val_accuracy": value})

    # Two cheap trials: 0.9 after 3 s of training.
    for trial_id in ("a", "b"):
        report(trial_id, 1.0, 0.6)
        report(trial_id, 3.0, 0.9)
    # A costly trial at its first report, 3 s in, with 0.7: compared with the others at
    # 3 s (0.9), not with their first epoch (0.6); it stops.
    assert report("slow", 3.0, 0.7) == TrialScheduler.STOP
    assert report("good", 3.0, 0.95) == TrialScheduler.CONTINUE
    assert report("early", 1.5, 0.1) == TrialScheduler.CONTINUE  # before the grace period


def test_rungs_may_compare_trials_on_another_reported_value():
    def stops(scheduler) -> list[str]:
        assert scheduler.set_search_properties("val_accuracy", "max")  # as Tune tells it
        actions = []
        for trial_id, accuracy, log_loss in (("a", 0.5, 0.3), ("b", 0.6, 0.9)):
            trial = type("Trial", (), {"trial_id": trial_id, "config": {}})()
            scheduler.on_trial_add(None, trial)
            actions.append(scheduler.on_trial_result(None, trial, {
                "training_iteration": 1, "val_accuracy": accuracy,
                "val_log_loss": log_loss}))
        return actions

    options = {"type": "asha", "grace_period": 1, "reduction_factor": 2}
    # b is the more accurate on the few clips but the less sure of its answers.
    assert stops(make_scheduler(spec(space={}, max_epochs=4, scheduler=options))) == [
        TrialScheduler.CONTINUE, TrialScheduler.CONTINUE]
    on_log_loss = spec(space={}, max_epochs=4,
                       scheduler={**options, "metric": "val_log_loss"})
    assert stops(make_scheduler(on_log_loss)) == [TrialScheduler.CONTINUE,
                                                  TrialScheduler.STOP]
    median = make_scheduler(spec(space={}, scheduler={"type": "median",
                                                      "metric": "val_log_loss"}))
    assert (median._metric, median._mode) == ("val_log_loss", "min")


def test_an_unknown_time_attr_is_an_error():
    from data_prep.config import ConfigError

    with pytest.raises(ConfigError, match=r"scheduler\.time_attr: 'epochs' is not allowed; "
                                        r"expected one of training_iteration, time_total_s"):
        spec(space={}, scheduler={"type": "asha", "time_attr": "epochs"})
    with pytest.raises(ConfigError, match=r"^scheduler\.metric: 'val_acc' is not reported"):
        spec(space={}, scheduler={"type": "asha", "metric": "val_acc"})


def test_start_from_configs_run_first(ray_local, tmp_path):
    starts = [{"lr": 0.0042, "dropout": 0.11}, {"lr": 0.0017}]
    experiment = run(spec(
        name="starts", searcher={"type": "optuna_tpe", "seed": 1}, scheduler={"type": "none"},
        max_epochs=1, num_samples=3, max_concurrent=1, fixed={**FIXED, "batch_size": 8},
        space={"lr": {"loguniform": [1e-4, 1e-2]}, "dropout": {"uniform": [0.0, 0.5]}},
        start_from=starts), tmp_path)
    trials = sorted(load_study(experiment).trials, key=lambda t: t.number)
    assert trials[0].params == {"lr": 0.0042, "dropout": 0.11}
    assert trials[1].params["lr"] == 0.0017 and 0 <= trials[1].params["dropout"] <= 0.5
    assert len(read_leaderboard(experiment / "leaderboard.csv")) == 3


def test_start_from_must_name_searched_keys_and_values_they_take():
    from data_prep.config import ConfigError

    space = {"lr": {"loguniform": [1e-4, 1e-2]}}
    with pytest.raises(ConfigError, match=r"start_from\[0\]\.dropout: not a searched key"):
        spec(space=space, start_from=[{"dropout": 0.1}])
    with pytest.raises(ConfigError, match=r"start_from\[0\]\.lr: 0\.5 is outside"):
        spec(space=space, start_from=[{"lr": 0.5}])


def test_a_warm_started_search_knows_the_earlier_trials_and_reruns_the_best(ray_local,
                                                                           tmp_path):
    space = {"lr": {"loguniform": [1e-4, 1e-2]}, "dropout": {"uniform": [0.0, 0.5]}}
    common = {"scheduler": {"type": "none"}, "max_epochs": 2, "max_concurrent": 1,
              "fixed": {**FIXED, "batch_size": 8}}
    earlier = run(spec(name="earlier", searcher={"type": "random", "seed": 4}, num_samples=3,
                       space=space, **common), tmp_path)
    # One earlier config falls outside the new space (a lower lr ceiling): it is skipped.
    old = sorted(load_study(earlier).trials, key=lambda t: t.params["lr"])
    narrower = {**space, "lr": {"loguniform": [1e-4, old[1].params["lr"] * 1.001]}}
    later = run(spec(name="later", searcher={"type": "optuna_tpe", "seed": 0}, num_samples=1,
                     space=narrower, **common), tmp_path, warm_start_from=earlier,
                warm_start_top=1)
    study = load_study(later)
    told = [t for t in study.trials if "warm_start" in t.user_attrs]
    assert sorted(t.params["lr"] for t in told) == [old[0].params["lr"], old[1].params["lr"]]
    assert all(t.state.name == "COMPLETE" and t.value is not None for t in told)
    best = max(told, key=lambda t: t.value)
    rerun = [t for t in study.trials if TUNE_ID in t.user_attrs]
    assert len(rerun) == 1 and rerun[0].params == best.params


@pytest.mark.parametrize("searcher", ["optuna_tpe", "optuna_gp"])
def test_the_searcher_does_not_train_a_config_twice_while_others_are_left(ray_local,
                                                                          tmp_path, searcher,
                                                                          capsys):
    experiment = run(spec(
        name="dedupe", searcher={"type": searcher, "seed": 0, "n_startup_trials": 1},
        scheduler={"type": "none"}, max_epochs=1, num_samples=4, max_concurrent=1,
        fixed={**FIXED, "batch_size": 8},
        space={"lr": {"choice": [1e-3, 3e-3]}, "dropout": {"choice": [0.0, 0.2]}}), tmp_path)
    study = load_study(experiment)
    trained = [tuple(sorted(t.params.items())) for t in study.trials if TUNE_ID in t.user_attrs]
    assert len(trained) == 4 and len(set(trained)) == 4  # all four points, none twice
    assert f"Searching 4 trials of cnn1d with {searcher}," in capsys.readouterr().out
    assert all(t.state.name == "FAIL" and t.user_attrs["stop_reason"].startswith("duplicate")
               for t in study.trials if TUNE_ID not in t.user_attrs)


def test_a_two_objective_search_marks_its_pareto_front(ray_local, tmp_path, capsys):
    from search.export import main as export_main
    from search.pareto import front

    experiment = run(parse_spec({
        "model": "cnn1d", "name": "front", "dataset": DATA, "max_epochs": 2,
        "objectives": [{"metric": "val_accuracy", "mode": "max"},
                       {"metric": "params", "mode": "min"}],
        "searcher": {"type": "optuna_tpe", "seed": 0, "n_startup_trials": 3},
        "num_samples": 6, "fixed": {"first_kernel": 16, "first_stride": 4, "batch_size": 8},
        "space": {"channels": {"choice": [4, 8, 16]}, "conv_layers": {"int": [1, 3]},
                  "lr": {"loguniform": [1e-3, 1e-2]}}}), tmp_path)
    board = read_leaderboard(experiment / "leaderboard.csv")
    members = board[board["pareto"]]
    assert len(members) >= 1
    # On the front: not dominated; off it: dominated by a member.
    points = board[["val_accuracy_best", "params_at_best"]].to_numpy(float)
    for i, row in board.iterrows():
        better = ((points[:, 0] >= points[i, 0]) & (points[:, 1] <= points[i, 1])
                  & ((points[:, 0] > points[i, 0]) | (points[:, 1] < points[i, 1])))
        assert row["pareto"] == (not better.any()), row
    assert list(front(points, ["max", "min"])) == list(board["pareto"])
    # The searcher is multi-objective, told both objectives at the best epoch.
    study = load_study(experiment)
    assert len(study.directions) == 2 and study.metric_names == ["val_accuracy", "params"]
    for trial in study.trials:
        if trial.state.name == "COMPLETE":
            row = board[board["trial_id"] == trial.user_attrs[TUNE_ID]].iloc[0]
            assert trial.values == pytest.approx([row["val_accuracy_best"],
                                                  row["params_at_best"]])
    report = (experiment / "report" / "report.html").read_text()
    assert "pareto_front.png" in report and (experiment / "report" / "pareto_front.png").exists()
    assert "Pareto front" in report and "plotly" in report
    assert 'src="http' not in report  # plotly.js is in the page: it opens offline
    # Any front member exports.
    member = members.iloc[-1]["trial_id"]
    export_main([str(experiment), "--trial", member, "--out", str(tmp_path / "member")])
    meta = (tmp_path / "member" / "model.json").read_text()
    assert member in meta
    with pytest.raises(SystemExit, match="no trial 'nope'"):
        export_main([str(experiment), "--trial", "nope"])


@pytest.mark.parametrize("raw, message", [
    ({"objectives": [{"metric": "val_accuracy", "mode": "max"}], "metric": "val_loss"},
     "either objectives or metric"),
    ({"objectives": [{"metric": "val_accuracy", "mode": "max"},
                     {"metric": "latency", "mode": "min"}]}, r"objectives\[1\].metric"),
    ({"objectives": [{"metric": "params", "mode": "min"}]}, "metric: 'params'"),
    ({"objectives": [{"metric": "val_accuracy", "mode": "up"}]}, r"objectives\[0\].mode"),
])
def test_bad_objectives_are_named(raw, message):
    from data_prep.config import ConfigError

    with pytest.raises(ConfigError, match=message):
        parse_spec({"model": "cnn1d", "dataset": DATA, "space": {}} | raw)


def test_a_two_objective_trial_keeps_its_epochs_across_a_resume(tmp_path):
    """The epochs of a multi-objective trial live in the study, so a searcher rebuilt after
    an interruption still tells Optuna the objectives at the best epoch, not the last."""
    import optuna

    from search.study import OBJECTIVE_EPOCHS, StudySearcher

    def searcher():
        return StudySearcher({"lr": optuna.distributions.FloatDistribution(1e-3, 1e-2)},
                             ["val_accuracy", "params"], ["max", "min"],
                             optuna.samplers.RandomSampler(seed=0), tmp_path)

    before = searcher()
    before.suggest("t1")
    for epoch, accuracy in ((1, 0.5), (2, 0.9), (3, 0.7)):
        before.on_trial_result("t1", {"training_iteration": epoch, "val_accuracy": accuracy,
                                      "params": 1000.0})
    after = searcher()  # the driver was interrupted: a new searcher, the same study
    after.restore(str(tmp_path / "no-searcher-state.json"))
    after.on_trial_complete("t1", {"training_iteration": 4, "val_accuracy": 0.6,
                                   "params": 1000.0, "stop_reason": "max_epochs"})
    (trial,) = load_study(tmp_path).trials
    assert trial.state.name == "COMPLETE" and trial.values == [0.9, 1000.0]
    assert [e["training_iteration"] for e in trial.user_attrs[OBJECTIVE_EPOCHS]] == [1, 2, 3, 4]


def test_a_config_already_trained_is_redrawn_from_tpes_model_of_the_good_ones():
    """On a space of choices TPE proposes its best config again once it has one; the
    redraw is one draw from TPE's model of the good configs: their values, far more often
    than a random draw, yet not one config every time."""
    import itertools

    import numpy as np
    import optuna

    from search.strategies import redraw

    options = {"type": "optuna_tpe", "n_startup_trials": 6, "multivariate": False,
               "constant_liar": False}
    space = {key: optuna.distributions.CategoricalDistribution([0, 1, 2, 3]) for key in "abc"}
    rng = np.random.default_rng(0)
    study = optuna.create_study(direction="maximize")
    for a, b, c in itertools.product(range(4), repeat=3):  # the good region: a 3 and b 1
        value = 0.4 * (a == 3) + 0.4 * (b == 1) + rng.uniform(0, 0.1)
        study.add_trial(optuna.trial.create_trial(params={"a": a, "b": b, "c": c},
                                                  distributions=space, value=value))

    def draw(sampler: optuna.samplers.BaseSampler) -> tuple[int, int, int]:
        study.sampler = sampler
        trial = study.ask(space)
        study.tell(trial, state=optuna.trial.TrialState.FAIL)  # not told: the model stays
        return trial.params["a"], trial.params["b"], trial.params["c"]

    redraws = [draw(redraw(options, None)(seed)) for seed in range(200)]
    share = np.mean([a == 3 for a, _, _ in redraws]), np.mean([b == 1 for _, b, _ in redraws])
    assert min(share) > 0.4  # a random draw: 0.25 (200 draws: a standard error of 0.03)
    assert len(set(redraws)) > 20  # of 64: neighbours, not one config again and again


def test_a_repeat_is_replaced_by_an_untried_neighbour_of_the_best_finished_trial(tmp_path):
    """On a space of choices the searcher often proposes a config already trained; the one
    trained in its place differs from the best finished trial in one key (a local step, as
    SMAC's local search takes from its incumbents), while such a neighbour is untried."""
    from search.tuning import make_searcher

    choices = {"lr": [1e-4, 1e-3, 1e-2], "dropout": [0.0, 0.2, 0.4],
               "channels": [4, 8, 16]}
    searcher = make_searcher(spec(
        searcher={"type": "random", "seed": 0}, scheduler={"type": "none"}, max_epochs=1,
        num_samples=27, space={k: {"choice": v} for k, v in choices.items()}), 0, tmp_path)

    def score(config):  # best at the corner, each key's own best value
        return sum(choices[k].index(config[k]) for k in choices) / 6

    trained, replaced = [], 0
    for n in range(14):
        study_size = len(searcher.study.trials)
        config = searcher.suggest(f"t{n}")
        params = {k: config[k] for k in choices}
        assert params not in trained
        if len(searcher.study.trials) > study_size + 1:  # a repeat was failed first
            best = max(trained, key=score)
            one_away = sum(params[k] != best[k] for k in choices) == 1
            untried = [1 for k in choices for v in choices[k] if v != best[k]
                       and {**best, k: v} not in trained]
            assert one_away or not untried
            replaced += one_away
        trained.append(params)
        searcher.on_trial_complete(f"t{n}", {"val_accuracy": score(config),
                                              "training_iteration": 1,
                                              "stop_reason": "max_epochs"})
    assert replaced >= 1  # the random searcher repeats itself on 27 points within 14 draws


def test_the_searchers_view_compares_trials_at_the_epochs_enough_of_them_reached():
    """BOHB's rule: a model-based searcher is fitted on every trial's best value up to the
    deepest epoch that enough trials reached (the keys + 3), not on the few that ran to the
    end (under ASHA, the first ones, which nothing stopped); a choice of numbers is a rank
    to the model and its value to the study."""
    import optuna
    from optuna.distributions import CategoricalDistribution
    from optuna.trial import TrialState, create_trial

    from search.view import SearcherView

    space = {"channels": CategoricalDistribution([32, 8, 16]),
             "act": CategoricalDistribution(["relu", "tanh"])}
    study = optuna.create_study(direction="maximize")
    first = {1: 0.2, 2: 0.3, 6: 0.5, 12: 0.6}  # ran to the end: it was first at every rung
    study.add_trial(create_trial(params={"channels": 8, "act": "relu"}, distributions=space,
                                 value=0.6, intermediate_values=first))
    for i, (channels, act) in enumerate([(8, "tanh"), (32, "relu"), (32, "tanh"),
                                         (16, "relu"), (16, "tanh")]):
        curve = {1: 0.3 + 0.05 * i, 2: 0.4 + 0.05 * i}  # all better than the first at 2
        study.add_trial(create_trial(params={"channels": channels, "act": act},
                                     distributions=space, state=TrialState.PRUNED,
                                     intermediate_values=curve))
    study.add_trial(create_trial(params={"channels": 32, "act": "relu"}, distributions=space,
                                 state=TrialState.PRUNED))  # too slow: stopped before epoch 1
    view = SearcherView(optuna.samplers.RandomSampler(0))._view(study)
    # 2 keys + 3 = 5 trials needed: 6 reached epoch 2, 1 reached epoch 6; the too-slow
    # config is the worst seen, so that a model of finished trials moves away from it
    assert [t.state for t in view.trials] == [TrialState.COMPLETE] * 7
    assert [t.value for t in view.trials] == pytest.approx(
        [0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.3])
    assert view.best_trial.params == {"channels": 1, "act": "tanh"}  # 8 < 16 < 32: rank 1
    assert study.best_trial.params == {"channels": 8, "act": "relu"}  # the study unchanged


def test_the_gp_searcher_learns_from_trials_the_scheduler_stopped(tmp_path):
    """Every trial stopped at the first rung (as ASHA stops most): the study holds no
    finished trial, yet the Gaussian process models the rung's values and proposes the
    good corner of a space of numeric choices, with the choices' own values."""
    from search.tuning import make_searcher

    choices = {"lr": [1e-4, 3e-4, 1e-3, 3e-3], "channels": [8, 16, 32],
               "conv_layers": [2, 3, 4]}
    searcher = make_searcher(spec(
        searcher={"type": "optuna_gp", "seed": 0, "n_startup_trials": 5},
        scheduler={"type": "asha", "grace_period": 2}, max_epochs=12, num_samples=16,
        space={k: {"choice": v} for k, v in choices.items()}), 0, tmp_path)

    def score(config):  # best at the largest values, each key on its own
        return sum(choices[k].index(config[k]) / (len(choices[k]) - 1) for k in choices) / 3

    proposed = []
    for n in range(8):
        config = searcher.suggest(f"t{n}")
        assert all(config[k] in choices[k] for k in choices)
        proposed.append(score(config))
        for epoch in (1, 2):
            searcher.on_trial_result(f"t{n}", {"training_iteration": epoch,
                                               "val_accuracy": score(config) * epoch / 2})
        searcher.on_trial_complete(f"t{n}", {"training_iteration": 2,
                                             "val_accuracy": score(config)})
    states = {t.state.name for t in load_study(tmp_path).trials if TUNE_ID in t.user_attrs}
    assert states == {"PRUNED"}
    # The corner within the model's first three proposals (at random: 3 of 31 untried
    # configs), and those near it (random draws score 0.5 on average).
    assert max(proposed[5:8]) == 1.0
    assert sum(proposed[5:8]) / 3 > 0.8
