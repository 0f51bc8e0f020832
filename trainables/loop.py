"""The one training loop every model goes through.

`fit` knows nothing of Tune: it calls `report(metrics, state)` after each epoch and starts
from `resume` when given. `trainables.tune_trainable` adapts it to Ray Tune.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from . import models
from .data import TrialData
from .metrics import score_all

Report = Callable[[dict[str, Any], dict[str, Any]], None]

DEFAULTS: dict[str, Any] = {
    "optimizer": "adam",
    "lr": 1e-3,
    "weight_decay": 0.0,
    "momentum": 0.9,
    "batch_size": 32,
    "max_epochs": 10,
    "patience": 0,  # epochs without improvement of val_loss before stopping; 0: never
    "seed": 0,
}


def make_optimizer(config: Mapping[str, Any], params) -> torch.optim.Optimizer:
    name, lr, wd = config["optimizer"], config["lr"], config["weight_decay"]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=wd, momentum=config["momentum"],
                               nesterov=config["momentum"] > 0)
    raise ValueError(f"unknown optimizer {name!r}; choose from ['adam', 'adamw', 'sgd']")


def pick_device() -> torch.device:
    # Under Tune, CUDA_VISIBLE_DEVICES holds only the GPU(s) assigned to this trial.
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i : i + batch_size]).float() for i in range(0, len(x), batch_size)])


def fit(
    config: Mapping[str, Any],
    data: TrialData,
    report: Report,
    resume: dict[str, Any] | None = None,
) -> None:
    config = {**DEFAULTS, **config}
    torch.manual_seed(config["seed"])
    device = pick_device()
    use_amp = device.type == "cuda"

    def to_tensor(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy((x - data.mean) / data.std).float().to(device)

    x_train, x_val = to_tensor(data.x_train), to_tensor(data.x_val)
    y_train = torch.from_numpy(data.y_train.copy()).to(device)
    y_val = torch.from_numpy(data.y_val.copy()).to(device)

    model = models.build(config["model"], config, data.input_shape, data.num_classes).to(device)
    optimizer = make_optimizer(config, model.parameters())
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp)
    loss_fn = nn.CrossEntropyLoss()
    n_params = models.count_parameters(model)
    generator = torch.Generator().manual_seed(config["seed"])

    start_epoch, best_val_loss, stale = 1, math.inf, 0
    if resume is not None:
        model.load_state_dict(resume["model"])
        optimizer.load_state_dict(resume["optimizer"])
        generator.set_state(resume["generator"])
        start_epoch = resume["epoch"] + 1
        best_val_loss, stale = resume["best_val_loss"], resume["stale"]

    batch_size = config["batch_size"]
    for epoch in range(start_epoch, config["max_epochs"] + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(x_train), generator=generator).to(device)
        total, seen = 0.0, 0
        for i in range(0, len(order), batch_size):
            idx = order[i : i + batch_size]
            if len(idx) < 2 and seen:  # a batch of one breaks batch norm
                continue
            with torch.autocast(device.type, enabled=use_amp):
                loss = loss_fn(model(x_train[idx]), y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            total += loss.item() * len(idx)
            seen += len(idx)
        train_loss = total / max(seen, 1)

        logits = predict(model, x_val, 4 * batch_size)
        val_loss = loss_fn(logits, y_val).item()
        probs = torch.softmax(logits, dim=1).cpu().numpy()
        metrics: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            **score_all(data.y_val, probs, "val"),
            "params": n_params,
            "epoch_time_s": time.perf_counter() - started,
        }
        diverged = not (math.isfinite(train_loss) and math.isfinite(val_loss))
        if val_loss < best_val_loss:
            best_val_loss, stale = val_loss, 0
        else:
            stale += 1
        early_stop = config["patience"] > 0 and stale >= config["patience"]
        done = diverged or early_stop or epoch == config["max_epochs"]
        metrics["stop_reason"] = (
            "diverged (non-finite loss)" if diverged
            else "early stop (patience)" if early_stop
            else "max_epochs" if done else ""
        )
        state = {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "generator": generator.get_state(),
            "epoch": epoch,
            "best_val_loss": best_val_loss,
            "stale": stale,
            "config": dict(config),
            "input_shape": list(data.input_shape),
            "label_names": data.label_names,
            "normalisation": {"mean": data.mean.tolist(), "std": data.std.tolist()},
        }
        report(metrics, state)
        if done:
            return
