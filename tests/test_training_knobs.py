"""Losses, sampling, schedules and multi-label metrics; and the loop using them."""

import numpy as np
import pytest
import torch
from sklearn.metrics import average_precision_score, label_ranking_average_precision_score

from trainables import metrics
from trainables.data import TrialData
from trainables.loop import fit
from trainables.losses import MultiLabelLoss, SoftCrossEntropy, class_weights, make_loss
from trainables.sampling import epoch_order
from trainables.schedules import Schedule


def test_soft_cross_entropy_equals_torch_on_hard_targets():
    logits = torch.randn(8, 5, generator=torch.Generator().manual_seed(0))
    y = torch.arange(8) % 5
    ours = SoftCrossEntropy()(logits, torch.nn.functional.one_hot(y, 5).float())
    torch.testing.assert_close(ours, torch.nn.functional.cross_entropy(logits, y))


def test_focal_loss_down_weights_easy_examples():
    easy = torch.tensor([[8.0, 0.0]])
    hard = torch.tensor([[0.2, 0.0]])
    target = torch.tensor([[1.0, 0.0]])
    plain, focal = SoftCrossEntropy(), SoftCrossEntropy(gamma=2.0)
    assert focal(easy, target) / plain(easy, target) < focal(hard, target) / plain(hard, target)
    bce, focal_bce = MultiLabelLoss(), MultiLabelLoss(gamma=2.0)
    assert focal_bce(easy, target) < bce(easy, target)


def test_class_weights_are_inverse_frequency():
    weights = class_weights(np.array([0, 0, 0, 1]), 2)
    assert weights[1] / weights[0] == pytest.approx(3.0) and weights.mean() == pytest.approx(1)
    with pytest.raises(ValueError, match="loss 'bce' does not fit a single-label task"):
        make_loss({"loss": "bce"}, np.array([0, 1]), 2, multi_label=False)


def test_balanced_sampling_and_oversampling():
    y = np.array([0] * 90 + [1] * 10)
    g = torch.Generator().manual_seed(0)
    balanced = epoch_order(y, {"sampling": "balanced"}, g).numpy()
    assert len(balanced) == 100 and 0.35 < y[balanced].mean() < 0.65
    over = epoch_order(y, {"oversample_to": 50}, g).numpy()
    assert (np.bincount(y[over]) == [90, 50]).all()
    assert set(over[y[over] == 1]) == set(range(90, 100))
    plain = epoch_order(y, {}, g).numpy()
    assert sorted(plain) == list(range(100))


@pytest.mark.parametrize("name, expected", [
    ("constant", [1.0] * 6),
    ("step", [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]),
])
def test_schedules(name, expected):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedule = Schedule({"schedule": name, "max_epochs": 6, "step_size": 2}, optimizer)
    seen = []
    for _ in range(6):
        seen.append(schedule.lr)
        schedule.step(1.0)
    assert seen == pytest.approx(expected)


def test_warmup_then_cosine_and_plateau():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedule = Schedule({"schedule": "cosine", "max_epochs": 7, "warmup_epochs": 3}, optimizer)
    seen = []
    for _ in range(7):
        seen.append(schedule.lr)
        schedule.step(1.0)
    assert seen[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert seen[4] < 1.0 and seen[5] < seen[4]
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    plateau = Schedule({"schedule": "plateau", "max_epochs": 9, "plateau_patience": 1,
                        "plateau_factor": 0.5}, optimizer)
    for _ in range(4):
        plateau.step(1.0)  # no improvement
    assert plateau.lr == pytest.approx(0.5)


def test_multilabel_metrics_against_scikit_learn_and_by_hand():
    rng = np.random.default_rng(0)
    targets = (rng.random((60, 5)) < 0.3).astype(float)
    targets[0] = 1
    probs = np.clip(targets * 0.5 + rng.random((60, 5)) * 0.6, 0, 1)
    assert metrics.MeanAveragePrecision()(targets, probs) == pytest.approx(
        average_precision_score(targets, probs, average="macro"))
    # One label per clip: lwlrap equals sklearn's LRAP.
    single = np.eye(5)[rng.integers(0, 5, 40)]
    scores = rng.random((40, 5))
    assert metrics.Lwlrap()(single, scores) == pytest.approx(
        label_ranking_average_precision_score(single, scores))
    # By hand: clip 1 ranks its label 2nd (1/2); clip 2 ranks its two labels 1st and 3rd
    # (1/1 and 2/3): (1/2 + 1 + 2/3) / 3.
    hand_t = np.array([[0, 1, 0], [1, 0, 1]])
    hand_p = np.array([[0.9, 0.5, 0.1], [0.8, 0.5, 0.2]])
    assert metrics.Lwlrap()(hand_t, hand_p) == pytest.approx((0.5 + 1 + 2 / 3) / 3)
    # d' of a perfect ranking is large; of a random one near zero.
    assert metrics.DPrime()(targets, targets + 0.01 * rng.random(targets.shape)) > 3
    assert abs(metrics.DPrime()(targets, rng.random(targets.shape))) < 0.6
    thresholds = metrics.tune_thresholds(targets, probs)
    assert thresholds.shape == (5,)
    assert metrics.MicroF1()(targets, probs) >= metrics.MicroF1(np.full(5, 0.95))(targets, probs)


def multilabel_data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, 3)) < 0.4).astype(np.float32)
    t = np.arange(400) / 4000
    x = sum(y[:, [k]] * np.sin(2 * np.pi * f * t) for k, f in enumerate((200, 600, 1000)))
    x = (x + 0.1 * rng.standard_normal((n, 400))).astype(np.float32)
    half = n * 2 // 3
    return TrialData(x[:half], y[:half], x[half:], y[half:], ["a", "b", "c"],
                     np.zeros(1, np.float32), np.ones(1, np.float32))


CNN = {"model": "cnn1d", "conv_layers": 3, "channels": 8, "kernel_size": 5, "first_kernel": 16,
       "first_stride": 4, "pool": 2, "dropout": 0.0, "lr": 3e-3, "batch_size": 16}


@pytest.mark.parametrize("loss", ["bce", "focal"])
def test_loop_trains_multilabel(loss):
    reports = []
    fit({**CNN, "max_epochs": 10, "loss": loss}, multilabel_data(),
        lambda m, s: reports.append(m))
    last = reports[-1]
    for key in ("val_map", "val_dprime", "val_lwlrap", "val_micro_f1", "val_macro_f1"):
        assert key in last
    assert last["val_map"] > 0.8 and last["train_loss"] < reports[0]["train_loss"]


def test_loop_knobs_run_together():
    """Every knob at once on a tiny task: trains, and the min-train-loss stop fires."""
    data = multilabel_data()
    single = TrialData(data.x_train, data.y_train.argmax(1).astype(np.int64), data.x_val,
                       data.y_val.argmax(1).astype(np.int64), data.label_names, data.mean,
                       data.std)
    config = {**CNN, "max_epochs": 30, "optimizer": "sgd", "momentum": 0.9, "nesterov": True,
              "lr": 0.05, "schedule": "cosine", "warmup_epochs": 2, "grad_clip": 1.0,
              "sampling": "balanced", "loss": "focal", "class_weights": True,
              "mixup_alpha": 0.2, "gain_db": 3, "noise_snr_db": [20, 30], "time_shift": 0.1,
              "min_train_loss": 0.2}
    reports = []
    fit(config, single, lambda m, s: reports.append(m))
    assert 2 <= len(reports) < 30
    assert reports[-1]["stop_reason"] == "reached min_train_loss"
    assert reports[-1]["train_loss"] < 0.2 <= reports[-2]["train_loss"]
    assert reports[1]["lr"] > reports[0]["lr"]  # warming up
    assert reports[-1]["val_accuracy"] > reports[0]["val_accuracy"]


def _vector_data(seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(60) % 3
    x = rng.normal(5, 2, (60, 6)).astype(np.float32)
    x[np.arange(60), y] += 6
    x[0, 5] = 500.0  # one outlier, as activations have
    return TrialData(x, y, x[:12].copy(), y[:12].copy(), ["a", "b", "c"], x.mean(0), x.std(0),
                     "features")


@pytest.mark.parametrize("kind", ["standard", "minmax", "clip"])
def test_input_scaling_variants_reach_the_model_and_its_checkpoint(kind):
    from trainables.data import normalise
    from trainables.trained import TrainedModel

    data = _vector_data()
    reports = []
    fit({"model": "mlp", "input_scaling": kind, "clip_value": 2.0, "max_epochs": 20,
         "lr": 1e-2}, data, lambda metrics, state: reports.append((metrics, state)))
    metrics, state = reports[-1]
    assert metrics["val_accuracy"] > 0.8
    seen = normalise(data.x_train, state["normalisation"])
    if kind == "minmax":
        assert np.allclose(seen.min(axis=0), 0) and np.allclose(seen.max(axis=0), 1)
    elif kind == "clip":
        assert seen.max() == pytest.approx(2.0) and seen.min() >= -2.0
    else:
        assert seen[0, 5] > 5  # the outlier stays an outlier
    trained = TrainedModel.from_state(torch.nn.Identity(), {**state, "input_shape": [6]})
    assert np.allclose(trained.inputs(data.x_train).numpy(), seen)
    with pytest.raises(ValueError, match=r"input_scaling: 'robust' is not one of"):
        data.scaled("robust")
