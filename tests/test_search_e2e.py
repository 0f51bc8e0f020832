"""One real search, end to end, on a real local Ray: prepare, search, leaderboard."""

import json
from pathlib import Path

import pytest
import torch

from search.leaderboard import read as read_leaderboard
from search.run import run
from search.spec import parse_spec
from trainables.checkpoints import read_state

SPACE = {
    "name": "tiny",
    "dataset": {"sample_rate": 4000, "clip_seconds": 0.5,
                "synthetic": {"clips_per_class": 12, "classes": ["tone", "chirp_up", "beeps"]}},
    "model": "cnn1d",
    "metric": "val_accuracy",
    "mode": "max",
    "searcher": {"type": "optuna_tpe", "seed": 3, "n_startup_trials": 2},
    "scheduler": {"type": "asha", "grace_period": 1, "reduction_factor": 2},
    "max_epochs": 3,
    "num_samples": 4,
    "fixed": {"batch_size": 8, "first_kernel": 16, "first_stride": 4, "pool": 4},
    "space": {
        "lr": {"loguniform": [1e-3, 1e-2]},
        "channels": {"choice": [8, 16]},
        "conv_layers": {"int": [2, 3]},
        "optimizer": {"choice": ["adam", "sgd"]},
        "momentum": {"uniform": [0.5, 0.9], "when": {"optimizer": "sgd"}},
    },
}


@pytest.fixture(scope="module")
def experiment(ray_local, tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    return run(parse_spec(SPACE), results), results


def test_leaderboard_has_every_trial_best_first(experiment):
    experiment_dir, _ = experiment
    board = read_leaderboard(experiment_dir / "leaderboard.csv")
    assert len(board) == 4 and board["trial_id"].is_unique
    assert list(board["rank"]) == [1, 2, 3, 4]
    scores = board["val_accuracy_best"].to_numpy()
    assert (scores[:-1] >= scores[1:]).all()
    for column in ("lr", "channels", "conv_layers", "optimizer", "batch_size", "epochs",
                   "params", "train_seconds", "checkpoint", "stopped_by_scheduler", "status"):
        assert column in board, column
    assert set(board["status"]) <= {"complete", "stopped_early"}
    assert board["epochs"].between(1, 3).all()
    sgd = board["optimizer"] == "sgd"
    assert board.loc[sgd, "momentum"].notna().all() and board.loc[~sgd, "momentum"].isna().all()


def test_leaderboard_matches_what_trials_reported(experiment):
    experiment_dir, _ = experiment
    board = read_leaderboard(experiment_dir / "leaderboard.csv")
    for row in board.itertuples():
        lines = (Path(row.trial_dir) / "result.json").read_text().splitlines()
        reported = [json.loads(line) for line in lines]
        assert len(reported) == row.epochs
        assert max(r["val_accuracy"] for r in reported) == pytest.approx(row.val_accuracy_best)
        assert [r["epoch"] for r in reported] == list(range(1, row.epochs + 1))
        assert list(Path(row.trial_dir).glob("events.out.tfevents.*")), "no TensorBoard file"


def test_best_checkpoint_loads_and_scores_as_reported(experiment):
    from trainables import models
    from trainables.data import TrialData
    from trainables.loop import predict

    experiment_dir, _ = experiment
    best = read_leaderboard(experiment_dir / "leaderboard.csv").iloc[0]
    state = read_state(best.checkpoint)
    metrics = json.loads((Path(best.checkpoint) / "metrics.json").read_text())
    assert metrics["val_accuracy"] == pytest.approx(best.val_accuracy_best)
    model = models.build("cnn1d", state["config"], tuple(state["input_shape"]),
                         len(state["label_names"]))
    model.load_state_dict(state["model"])
    info = json.loads((experiment_dir / "experiment.json").read_text())
    data = TrialData.from_shards(info["shards"]["{}"])
    x = torch.from_numpy((data.x_val - data.mean) / data.std)
    accuracy = (predict(model, x, 64).argmax(1).numpy() == data.y_val).mean()
    assert accuracy == pytest.approx(best.val_accuracy_best)


def test_a_second_run_reuses_the_shards(experiment, capsys):
    _, results = experiment
    spec = parse_spec({**SPACE, "name": "tiny-again", "num_samples": 1, "max_epochs": 1})
    run(spec, results)
    assert "Data reused" in capsys.readouterr().out
    assert len(list((results / "shards").iterdir())) == 1
