"""What a user takes away: test scores kept apart from selection, and predict."""

import importlib.metadata
import json
import platform
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from contracts.shards import read_manifest, read_split
from search.leaderboard import build
from search.leaderboard import read as read_leaderboard
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
    "model": "cnn2d",
    "metric": "val_accuracy",
    "mode": "max",
    "searcher": {"type": "random", "seed": 0},
    "scheduler": {"type": "none"},
    "max_epochs": 8,
    "num_samples": 4,
    "fixed": {"batch_size": 8, "conv_layers": 2, "channels": 16, "lr": 3e-3},
    "space": {"dropout": {"uniform": [0.0, 0.3]}},
}


@pytest.fixture(scope="module")
def experiment(ray_local, tmp_path_factory):
    return run(parse_spec(SPACE), tmp_path_factory.mktemp("results"))


def test_test_scores_for_the_top_trials_never_change_the_ranking(experiment):
    board = read_leaderboard(experiment / "leaderboard.csv")
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
    assert accuracy > 0.6, "the easy task should be learnt (chance is 1/3)"


def test_tied_trials_rank_by_validation_loss(experiment):
    """Accuracy on 15 validation clips ties often; the lower loss at the best epoch wins."""
    board = read_leaderboard(experiment / "leaderboard.csv")
    loss_at_best = []
    for row in board.itertuples():
        results = [json.loads(line)
                   for line in (Path(row.trial_dir) / "result.json").read_text().splitlines()]
        loss_at_best.append(next(r["val_loss"] for r in results
                                 if r["val_accuracy"] == row.val_accuracy_best))
    board["loss_at_best"] = loss_at_best
    tied = board.groupby("val_accuracy_best")["loss_at_best"]
    assert (tied.size() > 1).any(), "this experiment's trials tie (else the test is vacuous)"
    for _, losses in tied:
        assert losses.is_monotonic_increasing, board[["val_accuracy_best", "loss_at_best"]]


def test_leaderboard_without_test_scores_has_no_test_columns(experiment):
    assert not [c for c in build(experiment).columns if c.startswith("test_")]


def test_predict_names_the_label_of_test_clips(experiment, capsys):
    info = json.loads((experiment / "experiment.json").read_text())
    manifest = read_manifest(info["shards"]["{}"])
    test = pd.read_parquet(Path(info["shards"]["{}"]) / "test.parquet")
    files = [str(Path(manifest.source) / clip_id) for clip_id in test["id"]]
    table = predict_files(experiment, files, top=2)
    top = table[table["rank"] == 1]
    truth = [manifest.label_names[label] for label in test["label"]]
    board = read_leaderboard(experiment / "leaderboard.csv")
    # From the audio files, predict reaches the best model's test accuracy on the shards.
    accuracy = (top["label"].to_numpy() == np.array(truth)).mean()
    assert accuracy == pytest.approx(board["test_accuracy"].iloc[0]) and accuracy > 0.6
    assert (table.groupby("file")["probability"].sum() <= 1.0 + 1e-6).all()
    assert predict_main([str(experiment), files[0]]) == 0
    out = capsys.readouterr().out
    assert out.startswith(files[0]) and truth[0] in out


def test_predict_names_a_file_it_cannot_read(experiment, tmp_path, capsys):
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    assert predict_main([str(experiment), str(bad)]) == 2
    assert f"{bad}: unreadable" in capsys.readouterr().err


def assert_report_shows_its_plots(experiment: Path) -> str:
    import re

    from search.report import write

    page = write(experiment).read_text()
    images = re.findall(r'<img src="([^"]+)"', page)
    assert images
    for name in images:
        data = (experiment / "report" / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000, name
    return page


def test_report_has_every_plot_and_the_per_class_table(experiment):
    page = assert_report_shows_its_plots(experiment)
    for name in ("best_so_far.png", "learning_curves.png", "importance.png",
                 "metric_by_key.png", "confusion_matrix.png"):
        assert f'src="{name}"' in page, name
    for name in EASY:
        assert f"<td>{name}</td>" in page  # per-class precision/recall/F1 row
    torch_version = importlib.metadata.version("torch")
    assert f"python {platform.python_version()}, torch {torch_version}," in page
    # Nothing fetched: it opens offline (plotly.js is inlined; links inside its code are
    # not the page's).
    markup = re.sub(r"<script[^>]*>.*?</script>", "", page.split("</style>")[1], flags=re.S)
    assert not re.search(r'(src|href)="https?:', markup)
    assert not re.search(r"<script[^>]*\bsrc=", page)


def test_multilabel_report_has_roc_and_pr(ray_local, tmp_path):
    raw = {**SPACE, "name": "tags", "metric": "val_map", "num_samples": 3, "max_epochs": 2,
           "dataset": {**SPACE["dataset"],
                       "synthetic": {"clips_per_class": 12, "classes": EASY,
                                     "multi_label": True}}}
    experiment = run(parse_spec(raw), tmp_path)
    board = read_leaderboard(experiment / "leaderboard.csv")
    assert "test_map" in board and board["test_map"].iloc[0] > 0
    page = assert_report_shows_its_plots(experiment)
    assert 'src="roc_pr.png"' in page and "confusion_matrix" not in page


def test_ensemble_numbers_come_from_the_members_predictions(experiment):
    from search.ensemble import compare, member_predictions, votes

    targets, probs, trial_ids = member_predictions(experiment, 3)
    assert len(probs) == 3 and len(targets) == len(probs[0])
    board = read_leaderboard(experiment / "leaderboard.csv")
    assert trial_ids == list(board["trial_id"].head(3))  # top 3 by validation
    soft, hard = votes(probs, multi_label=False)
    by_hand = (np.mean(probs, axis=0).argmax(1) == targets).mean()
    majority = np.array([np.bincount([p[i].argmax() for p in probs], minlength=3).argmax()
                         for i in range(len(targets))])
    table = compare(experiment, 3).set_index("model")
    assert table.filter(like="soft", axis=0)["test_accuracy"].item() == pytest.approx(by_hand)
    assert (hard.argmax(1) == majority).mean() > 0.9  # ties may go to the soft vote
    single = table.filter(like="best single", axis=0)["test_accuracy"].item()
    assert single == pytest.approx(board["test_accuracy"].iloc[0])


def test_export_retrains_from_its_yaml_and_ships_the_model(experiment, tmp_path):
    import yaml

    from search.export import export
    from search.inference import TrainedModel
    from search.spec import load_spec

    out = export(experiment, tmp_path / "export")
    meta = json.loads((out / "model.json").read_text())
    best = read_leaderboard(experiment / "leaderboard.csv").iloc[0]
    assert meta["extra"]["trial_id"] == best["trial_id"] and meta["label_names"] == sorted(EASY)
    preparation = meta["extra"]["preparation"]
    assert preparation["n_mels"] == 32 and preparation["sample_rate"] == 4000
    assert set(torch.load(out / "model.pt", weights_only=True)) == {"model"}  # weights alone
    exported = TrainedModel.load(out / "model.pt")
    spec = load_spec(out / "best.yaml")
    assert spec.num_samples == 1 and spec.space.names == []
    assert spec.space.fixed["dropout"] == pytest.approx(best["dropout"])
    retrained = run(spec, tmp_path / "retrain")
    again = read_leaderboard(retrained / "leaderboard.csv")
    assert len(again) == 1
    # Same config, seed and data: the retraining reproduces the exported trial.
    assert again["val_accuracy_best"].iloc[0] == pytest.approx(best["val_accuracy_best"])
    assert exported.label_names == sorted(EASY)
    assert yaml.safe_load((out / "best.yaml").read_text())["fixed"]["lr"] == 3e-3


def test_trial_ids_that_look_like_numbers_are_read_as_written(tmp_path):
    # Tune's ids are 8 hex digits: `99e02494` reads as a float (infinity) by default.
    ids = ["99e02494", "00012345", "a1b2c3d4"]
    path = tmp_path / "leaderboard.csv"
    path.write_text("trial_id,val_accuracy_best\n" + "".join(f"{i},0.5\n" for i in ids))
    assert list(read_leaderboard(path)["trial_id"]) == ids


def test_a_trials_reports_read_while_tune_writes_them(tmp_path):
    """Leaderboard and report read result.json through one reader: a line Tune is still
    writing is left for the next read, never an error."""
    from search.leaderboard import read_results
    from search.report import _epoch_reports

    rows = [{"epoch": 1, "val_accuracy": 0.5}, {"epoch": 2, "val_accuracy": 0.7}]
    (tmp_path / "result.json").write_text(
        "".join(json.dumps(r) + "\n" for r in rows) + '{"epoch": 3, "val_acc')
    assert read_results(tmp_path) == rows
    assert read_results(tmp_path / "none") == []
    reports = _epoch_reports(pd.DataFrame({"trial_dir": [str(tmp_path)]}))
    assert reports["epoch"].tolist() == [1, 2]
