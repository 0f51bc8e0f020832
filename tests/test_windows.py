"""A clip longer than what a model reads: trained on random crops, scored whole, on
windows tiling it (mean of their logits, or the maximum for multi-label)."""

from __future__ import annotations

import numpy as np
import torch

from trainables import windows
from trainables.data import TrialData
from trainables.loop import fit, predict


def test_windows_tile_the_whole_clip_the_last_ending_at_its_end():
    assert windows.starts(12, 4) == [0, 4, 8]
    assert windows.starts(10, 4) == [0, 4, 6]
    assert windows.starts(3, 4) == [0]
    x = torch.arange(20.0).reshape(2, 10)
    tiled = windows.windows(x, 4)
    assert tiled.shape == (2, 3, 4)
    torch.testing.assert_close(tiled[1, 2], torch.arange(16.0, 20.0))


class Loudest(torch.nn.Module):
    """One logit per clip: its loudest sample, as a detector of a short event would."""

    def __init__(self, length: int):
        super().__init__()
        self.length, self.w = length, torch.nn.Parameter(torch.ones(()))

    def forward(self, x):
        assert x.shape[-1] == self.length, "reads exactly its input length"
        return self.w * x.abs().amax(dim=-1, keepdim=True)


def test_an_event_anywhere_in_a_long_clip_is_seen_where_a_centre_crop_misses_it():
    x = torch.zeros(3, 3000)
    x[0, 100], x[1, 2990], x[2, 1500] = 1.0, 2.0, 3.0  # start, end, centre
    model = Loudest(1000)
    peak = predict(model, x, 2, window=1000, pooling="max")[:, 0]
    torch.testing.assert_close(peak, torch.tensor([1.0, 2.0, 3.0]))
    mean = predict(model, x, 2, window=1000, pooling="mean")[:, 0]
    torch.testing.assert_close(mean, torch.tensor([1.0, 2.0, 3.0]) / 3)
    centre = predict(model, x[:, 1000:2000], 2)[:, 0]
    torch.testing.assert_close(centre, torch.tensor([0.0, 0.0, 3.0]))
    assert windows.pooling({}, multi_label=True) == "max"
    assert windows.pooling({}, multi_label=False) == "mean"
    assert windows.pooling({"window_pooling": "mean"}, multi_label=True) == "mean"


def test_a_3_s_clip_under_a_1_s_space_trains_on_crops_and_is_scored_whole():
    """An MLP reads exactly its input: trained on 1 s crops of 3 s clips (anything longer
    would not fit its first layer) and validated on whole clips, on three windows."""
    rng = np.random.default_rng(0)
    rate, n = 400, 64
    y = np.repeat([0, 1], n // 2)
    x = rng.normal(0, 0.05, (n, 3 * rate)).astype(np.float32)
    for i in range(n):  # a one-window burst, somewhere: loud for class 1
        at = rng.integers(0, 2 * rate)
        x[i, at : at + rate // 4] += rng.normal(0, 1.0 if y[i] else 0.1, rate // 4)
    data = TrialData(x, y, x.copy(), y.copy(), ["quiet", "loud"], np.zeros(()), np.ones(()),
                     crop_length=rate, sample_rate=rate)
    reports = []
    fit({"model": "mlp", "max_epochs": 2, "batch_size": 16, "hidden_layers": 1},
        data, lambda metrics, state: reports.append((metrics, state)))
    metrics, state = reports[-1]
    assert state["input_shape"] == [rate] and metrics["epoch"] == 2
    assert metrics["epoch_clips"] == n and 0 <= metrics["val_accuracy"] <= 1
