import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
)

from trainables.data import TrialData
from trainables.loop import fit
from trainables.metrics import ConfusionMatrix, mode, score_all

REQUIRED = {"epoch", "train_loss", "val_loss", "val_accuracy", "val_macro_f1", "params",
            "epoch_time_s"}
CONFIG = {"model": "cnn1d", "conv_layers": 3, "channels": 8, "kernel_size": 5,
          "first_kernel": 16, "first_stride": 4, "pool": 2, "dropout": 0.0,
          "lr": 3e-3, "batch_size": 16}


def sine_data(n=96, length=400, seed=0) -> TrialData:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    t = np.arange(length) / 4000
    x = np.sin(2 * np.pi * (200 + 400 * y[:, None]) * t + rng.uniform(0, 6.28, (n, 1)))
    x = (x + 0.1 * rng.standard_normal(x.shape)).astype(np.float32)
    half = n * 2 // 3
    return TrialData(x[:half], y[:half], x[half:], y[half:], ["a", "b", "c"],
                     np.zeros(1, np.float32), np.full(1, 0.7, np.float32))


def run(config, data, resume=None):
    reports = []
    fit(config, data, lambda metrics, state: reports.append((metrics, state)), resume)
    return reports


def test_loop_reports_every_epoch_and_learns():
    reports = run({**CONFIG, "max_epochs": 8}, sine_data())
    assert [m["epoch"] for m, _ in reports] == list(range(1, 9))
    for metrics, _ in reports:
        assert REQUIRED <= set(metrics)
    assert reports[-1][0]["train_loss"] < 0.5 * reports[0][0]["train_loss"]
    assert reports[-1][0]["val_accuracy"] > 0.8
    assert reports[-1][0]["stop_reason"] == "max_epochs"


def test_resume_continues_from_the_saved_epoch():
    data = sine_data()
    full = run({**CONFIG, "max_epochs": 4}, data)
    first = run({**CONFIG, "max_epochs": 2}, data)
    resumed = run({**CONFIG, "max_epochs": 4}, data, resume=first[-1][1])
    assert [m["epoch"] for m, _ in resumed] == [3, 4]
    assert resumed[-1][0]["train_loss"] == pytest.approx(full[-1][0]["train_loss"], rel=1e-4)


def test_divergence_ends_the_trial_with_a_reason():
    reports = run({**CONFIG, "max_epochs": 5, "lr": 1e12, "norm": "none",
                   "optimizer": "sgd", "momentum": 0.0}, sine_data())
    assert len(reports) < 5
    assert reports[-1][0]["stop_reason"].startswith("diverged")


def test_patience_stops_early():
    reports = run({**CONFIG, "max_epochs": 30, "patience": 2, "lr": 1e-7}, sine_data())
    assert len(reports) < 30
    assert reports[-1][0]["stop_reason"] == "early stop (patience)"


def test_metrics_agree_with_scikit_learn():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 4, 200)
    probs = rng.dirichlet(np.ones(4), 200)
    probs[np.arange(100), targets[:100]] += 1  # better than chance
    preds = probs.argmax(axis=1)
    scores = score_all(targets, probs, "val")
    assert scores["val_accuracy"] == pytest.approx(accuracy_score(targets, preds))
    assert scores["val_macro_f1"] == pytest.approx(f1_score(targets, preds, average="macro"))
    assert scores["val_precision"] == pytest.approx(
        precision_score(targets, preds, average="macro"))
    assert scores["val_recall"] == pytest.approx(recall_score(targets, preds, average="macro"))
    normalised = probs / probs.sum(axis=1, keepdims=True)
    assert score_all(targets, normalised, "val")["val_log_loss"] == pytest.approx(
        log_loss(targets, normalised, labels=range(4)))
    labels = (rng.random((200, 4)) < 0.3).astype(int)
    per_label = rng.random((200, 4))
    assert score_all(labels, per_label, "val")["val_log_loss"] == pytest.approx(
        np.mean([log_loss(labels[:, j], per_label[:, j], labels=[0, 1]) for j in range(4)]))
    assert [mode(name) for name in ("val_accuracy", "val_log_loss", "val_loss", "val_map")] \
        == ["max", "min", "min", "max"]
    matrix = ConfusionMatrix()(targets, probs)
    np.testing.assert_array_equal(matrix, confusion_matrix(targets, preds, labels=range(4)))
    # A class never predicted and a class with no example score 0, as scikit-learn's
    # zero_division=0 over every label.
    targets, probs = np.array([0, 0, 1, 1, 1]), np.eye(4)[[0, 1, 1, 3, 3]]
    preds, labels = probs.argmax(axis=1), list(range(4))
    scores = score_all(targets, probs, "val")
    for key, sk in (("macro_f1", f1_score), ("precision", precision_score),
                    ("recall", recall_score)):
        assert scores[f"val_{key}"] == pytest.approx(
            sk(targets, preds, labels=labels, average="macro", zero_division=0)), key
