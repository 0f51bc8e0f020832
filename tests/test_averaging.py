"""The moving average of the weights (`ema_epochs`): its arithmetic, that it is what a trial
scores and keeps, and that a resumed trial carries it on exactly."""

import copy

import numpy as np
import pytest
import torch
from test_loop import CONFIG, run, sine_data

from trainables import models
from trainables.averaging import WeightAverage
from trainables.checkpoints import read_state, write_checkpoint
from trainables.data import normalise
from trainables.loop import predict


def frozen(state: dict) -> dict:
    """A report's state as it was then (the loop's tensors go on changing)."""
    return copy.deepcopy(state)


def test_the_average_follows_each_step_with_its_warm_up_then_its_horizon():
    model = torch.nn.Linear(1, 1, bias=False)
    average = WeightAverage(model, epochs=2.0)
    steps_per_epoch, expected = 50, None
    for n in range(300):
        with torch.no_grad():
            model.weight.fill_(float(n % 7))
        average.update(model, steps_per_epoch)
        if expected is None:
            expected = float(n % 7)  # the first update copies the weights
        else:
            decay = min(1 - 1 / (2.0 * steps_per_epoch), (1 + n) / (10 + n))
            expected = decay * expected + (1 - decay) * float(n % 7)
        assert average.module.weight.item() == pytest.approx(expected, rel=1e-5)
    assert int(average.steps) == 300
    assert abs(average.module.weight.item() - 3.0) < 0.3  # the mean of 0..6, not the last


def test_a_trial_scores_and_keeps_the_average_not_the_last_step():
    data = sine_data()
    reports = run({**CONFIG, "max_epochs": 3, "ema_epochs": 1.0}, data)
    metrics, state = reports[-1]
    assert set(state) >= {"model", "train_model", "averaged_steps"}
    kept, trained = state["model"], state["train_model"]
    assert any(not torch.equal(kept[k], trained[k]) for k in kept
               if kept[k].is_floating_point())
    x_val = torch.from_numpy(normalise(data.x_val, state["normalisation"]))
    y_val = torch.from_numpy(data.y_val)

    def val_loss(weights: dict) -> float:
        model = models.build("cnn1d", state["config"], data.input_shape, data.num_classes)
        model.load_state_dict(weights)
        return torch.nn.functional.cross_entropy(predict(model, x_val, 64), y_val).item()

    assert val_loss(kept) == pytest.approx(metrics["val_loss"], rel=1e-4)
    assert val_loss(trained) != pytest.approx(metrics["val_loss"], rel=1e-3)
    plain = run({**CONFIG, "max_epochs": 3}, data)
    assert "train_model" not in plain[-1][1]


def test_a_resumed_trial_continues_its_average_exactly(tmp_path):
    data = sine_data()
    config = {**CONFIG, "max_epochs": 4, "ema_epochs": 1.0}
    full = run(config, data)
    first = [(m, frozen(s)) for m, s in run({**config, "max_epochs": 2}, data)]
    write_checkpoint(tmp_path, first[-1][1])  # through the checkpoint files, as Tune does
    resumed = run(config, data, resume=read_state(tmp_path))
    assert [m["epoch"] for m, _ in resumed] == [3, 4]
    for name, weights in full[-1][1]["model"].items():
        np.testing.assert_allclose(resumed[-1][1]["model"][name].numpy(), weights.numpy(),
                                   rtol=1e-4, atol=1e-6)
    assert resumed[-1][0]["val_accuracy"] == pytest.approx(full[-1][0]["val_accuracy"])
