"""Epoch time of a trial's loop versus a bare PyTorch loop, same model and tensors.

The trial's loop is `trainables.loop.fit` with the checkpoint writing a Tune trial does each
epoch (state and metrics to a folder; only Tune's own copy of it is left out). The bare loop
is shuffle, forward, loss, backward, step, then a forward pass over val for accuracy: what
a hand-written script does. One torch thread, as Ray gives a 1-CPU trial. Interleaved
repeats so that drift on a shared machine hits both alike.

    .venv/bin/python bench/loop_overhead.py [--model cnn1d|cnn2d] [--epochs 3] [--repeats 3]
        [--streaming]   the trial loop reading each batch from memory-mapped arrays
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from trainables import models
from trainables.checkpoints import write_checkpoint
from trainables.data import TrialData
from trainables.loop import fit

CONFIGS = {
    "cnn1d": ({"model": "cnn1d", "conv_layers": 5, "channels": 64, "kernel_size": 9,
               "first_kernel": 80, "first_stride": 8, "pool": 8, "dropout": 0.3}, (8000,)),
    "cnn2d": ({"model": "cnn2d", "conv_layers": 3, "channels": 32, "dropout": 0.3}, (64, 63)),
}


def make_data(shape: tuple[int, ...], n_train: int = 700, n_val: int = 150) -> TrialData:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n_train + n_val, *shape)).astype(np.float32)
    y = rng.integers(0, 10, n_train + n_val)
    return TrialData(x[:n_train], y[:n_train], x[n_train:], y[n_train:],
                     [str(i) for i in range(10)], np.zeros(1, np.float32),
                     np.ones(1, np.float32))


def trial_loop(config: dict, data: TrialData, epochs: int) -> float:
    folder = Path(tempfile.mkdtemp())

    def report(metrics: dict, state: dict) -> None:  # what tune_trainable writes per epoch
        write_checkpoint(folder, state)
        (folder / "metrics.json").write_text(json.dumps(metrics))

    started = time.perf_counter()
    fit({**config, "max_epochs": epochs, "lr": 1e-3, "batch_size": 32}, data, report)
    return (time.perf_counter() - started) / epochs


def bare_loop(config: dict, data: TrialData, epochs: int) -> float:
    torch.manual_seed(0)
    x_train, y_train = torch.from_numpy(data.x_train), torch.from_numpy(data.y_train)
    x_val, y_val = torch.from_numpy(data.x_val), torch.from_numpy(data.y_val)
    model = models.build(config["model"], config, data.input_shape, data.num_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(x_train))
        for i in range(0, len(order), 32):
            idx = order[i : i + 32]
            loss = loss_fn(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(x_val[i : i + 128]) for i in range(0, len(x_val), 128)])
            (logits.argmax(1) == y_val).float().mean().item()
    return (time.perf_counter() - started) / epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(CONFIGS), default="cnn1d")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--streaming", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config, shape = CONFIGS[args.model]
    data = make_data(shape)
    if args.streaming:  # as a trial maps prepared shards: the same arrays, from files
        folder = Path(tempfile.mkdtemp())
        mapped = []
        for name in ("x_train", "x_val"):
            np.save(folder / f"{name}.npy", getattr(data, name))
            mapped.append(np.load(folder / f"{name}.npy", mmap_mode="r"))
        data = dataclasses.replace(data, x_train=mapped[0], x_val=mapped[1])
        config = {**config, "streaming": True}
    print(f"{args.model} {shape}: 700 train / 150 val clips, batch 32, {args.epochs} epochs, "
          "1 thread")
    bare_loop(config, data, 1)  # warm-up: first-call costs land on neither side
    ratios = []
    for repeat in range(args.repeats):
        ours = trial_loop(config, data, args.epochs)
        bare = bare_loop(config, data, args.epochs)
        ratios.append(ours / bare)
        print(f"run {repeat + 1}: trial loop {ours:6.2f} s/epoch   bare loop {bare:6.2f} s/epoch"
              f"   ratio {ours / bare:.3f}")
    print(f"ratio (median of {len(ratios)}): {np.median(ratios):.3f}")


if __name__ == "__main__":
    main()
