"""What a user takes away: test scores kept apart from selection, and predict."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data_prep.shards import read_manifest, read_split
from search.leaderboard import build
from search.predict import main as predict_main
from search.predict import predict_files
from search.run import run
from search.spec import parse_spec

EASY = ["tone", "noise_burst", "click_train"]
SPACE = {
    "name": "easy",
    "dataset": {"sample_rate": 4000, "clip_seconds": 0.5, "representation": "logmel",
                "n_fft": 256, "hop_length": 64, "n_mels": 32,
                "synthetic": {"clips_per_class": 30, "classes": EASY}},
    "trainable": "cnn2d",
    "metric": "val_accuracy",
    "mode": "max",
    "searcher": {"type": "random", "seed": 0},
    "scheduler": {"type": "none"},
    "max_epochs": 8,
    "num_samples": 4,
    "fixed": {"batch_size": 16, "conv_layers": 2, "channels": 16, "lr": 3e-3},
    "space": {"dropout": {"uniform": [0.0, 0.3]}},
}


@pytest.fixture(scope="module")
def experiment(ray_local, tmp_path_factory):
    return run(parse_spec(SPACE), tmp_path_factory.mktemp("results"))


def test_test_scores_for_the_top_trials_never_change_the_ranking(experiment):
    board = pd.read_csv(experiment / "leaderboard.csv")
    assert list(board["rank"]) == [1, 2, 3, 4]
    scores = board["val_accuracy_best"].to_numpy()
    assert (scores[:-1] >= scores[1:]).all()  # ranked by validation alone
    assert board["test_accuracy"].iloc[:3].notna().all()
    assert board["test_accuracy"].iloc[3:].isna().all()
    for column in ("test_macro_f1", "test_precision", "test_recall", "infer_ms_per_clip"):
        assert column in board
    assert (board["infer_ms_per_clip"] > 0).all()
    # Recomputed by hand from the test shard and the best checkpoint's predictions.
    info = json.loads((experiment / "experiment.json").read_text())
    from search.inference import TrainedModel

    best = TrainedModel.load(board["checkpoint"].iloc[0])
    x, y = read_split(info["shards"]["{}"], "test", "logmel")
    accuracy = (best.probabilities(x).argmax(1) == y).mean()
    assert board["test_accuracy"].iloc[0] == pytest.approx(accuracy)
    assert accuracy > 0.9, "the easy task should be learnt"


def test_leaderboard_without_test_scores_has_no_test_columns(experiment):
    assert not [c for c in build(experiment).columns if c.startswith("test_")]


def test_predict_names_the_label_of_test_clips(experiment, capsys):
    info = json.loads((experiment / "experiment.json").read_text())
    manifest = read_manifest(info["shards"]["{}"])
    test = pd.read_parquet(Path(info["shards"]["{}"]) / "test.parquet")
    files = [str(Path(manifest["source"]) / clip_id) for clip_id in test["id"]]
    table = predict_files(experiment, files, top=2)
    top = table[table["rank"] == 1]
    truth = [manifest["label_names"][label] for label in test["label"]]
    assert (top["label"].to_numpy() == np.array(truth)).mean() > 0.9
    assert (table.groupby("file")["probability"].sum() <= 1.0 + 1e-6).all()
    assert predict_main([str(experiment), files[0]]) == 0
    out = capsys.readouterr().out
    assert out.startswith(files[0]) and truth[0] in out


def test_predict_names_a_file_it_cannot_read(experiment, tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    assert predict_main([str(experiment), str(bad)]) == 2
    assert f"{bad}: unreadable" in capsys.readouterr().err
