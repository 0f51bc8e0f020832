"""The one training loop every model goes through.

`fit` knows nothing of Tune: it calls `report(metrics, state)` after each epoch and starts
from `resume` when given. `trainables.tune_trainable` adapts it to Ray Tune.

Config keys (besides the model's): `optimizer` (adam, adamw, sgd), `lr`, `weight_decay`,
`momentum`, `nesterov`, `batch_size`, `max_epochs`, `schedule` and its keys (see
`schedules.Schedule`), `warmup_epochs`, `patience` (early stop on val_loss),
`min_train_loss` (stop once reached), `grad_clip` (max gradient norm), `sampling` and
`oversample_to` (see `sampling.epoch_order`), `ema_epochs` (see `averaging`), `loss`,
`focal_gamma`, `class_weights` (see `losses.make_loss`), augmentation keys (see
`augment.Augmenter`), `amp`, `seed`; `pretrained`, `unfrozen_layers`, `head_lr` (see
`pretrained`); `layer` for embedding inputs (see `TrialData.select_layers`);
`input_scaling`, `clip_value` (see `TrialData.scaled`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from contracts.trial import StopReason

from . import (
    augment,
    averaging,
    data,
    inputs,
    losses,
    models,
    pretrained,
    sampling,
    schedules,
    windows,
)
from .augment import Augmenter, random_crop
from .averaging import weight_average
from .data import TrialData
from .inputs import Inputs
from .keys import Key, Schema
from .losses import make_loss
from .metrics import score_all
from .sampling import epoch_rows
from .schedules import Schedule

Report = Callable[[dict[str, Any], dict[str, Any]], None]

OPTIMIZERS = ("adam", "adamw", "sgd")
KEYS = (
    Key("optimizer", "str", "adam", "optimiser", choices=OPTIMIZERS),
    Key("lr", "float", 1e-3, "learning rate", interval="(0, inf)"),
    Key("weight_decay", "float", 0.0, "weight decay", interval="[0, 1]"),
    Key("momentum", "float", 0.9, "sgd momentum", interval="[0, 1)"),
    Key("nesterov", "bool", False, "sgd: Nesterov momentum"),
    Key("batch_size", "int", 32, "clips per training batch", interval="[1, 65536]"),
    Key("max_epochs", "int", 10, "epochs at most (the space's top-level max_epochs)",
        interval="[1, 100000]"),
    Key("max_epoch_seconds", "float", None, "stop a trial whose first steps project a longer "
        "epoch (the space's top-level max_epoch_seconds)", interval="(0, inf)",
        nullable=True),
    Key("patience", "int", 0, "stop after this many epochs without a better val_loss; "
        "0: never", interval="[0, 100000]"),
    Key("min_train_loss", "float", 0.0, "stop once the train loss falls below; 0: never",
        interval="[0, inf)"),
    Key("grad_clip", "float", 0.0, "max gradient norm; 0: no clipping", interval="[0, inf)"),
    Key("amp", "bool", True, "mixed precision where there is a GPU"),
    Key("seed", "int", 0, "seed of the weights, the batches and the augmentations",
        interval="[0, 4294967295]"),
)
# Set by the search itself, never by a space: the model's name, and the embedding layers'
# sizes that the loop hands the model.
INTERNAL = ("model", "input_splits")
# Set at a space's top level, not in fixed or space.
TOP_LEVEL = ("max_epochs", "max_epoch_seconds")
# Training steps timed to project an epoch's length, after one untimed warm-up step.
PROBE_STEPS = 4


def schema(model: str) -> Schema:
    """Every key a trial of `model` reads: the loop's and its parts', and the model's,
    with the rules between the model's keys."""
    return Schema((*KEYS, *schedules.KEYS, *losses.KEYS, *sampling.KEYS, *augment.KEYS,
                   *averaging.KEYS, *data.KEYS, *inputs.KEYS, *windows.KEYS,
                   *models.keys(model)),
                  models.constraints(model))


def make_optimizer(config: Mapping[str, Any], params) -> torch.optim.Optimizer:
    name, lr, wd = config["optimizer"], config["lr"], config["weight_decay"]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=wd)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=wd)
    if name == "sgd":
        nesterov = bool(config["nesterov"]) and config["momentum"] > 0
        return torch.optim.SGD(params, lr=lr, weight_decay=wd, momentum=config["momentum"],
                               nesterov=nesterov)
    raise ValueError(f"unknown optimizer {name!r}; choose from ['adam', 'adamw', 'sgd']")


def pick_device() -> torch.device:
    # Under Tune, CUDA_VISIBLE_DEVICES holds only the GPU(s) assigned to this trial.
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def data_device(device: torch.device, *arrays: np.ndarray) -> torch.device:
    """Hold the data on the GPU when it takes under half of the free memory."""
    if device.type != "cuda":
        return device
    free, _ = torch.cuda.mem_get_info(device)
    return device if sum(a.nbytes for a in arrays) < free / 2 else torch.device("cpu")


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor | Inputs, batch_size: int,
            device: torch.device | None = None, window: int | None = None,
            pooling: str = "mean") -> torch.Tensor:
    """Logits for every row of `x`, in batches, as float32 on the CPU; rows longer than
    `window` are scored on windows tiling them, pooled (see `windows`)."""
    model.eval()
    device = device or next(model.parameters()).device
    count = len(windows.starts(x[:1].shape[-1], window)) if window and len(x) else 1
    step = max(1, batch_size // count)  # a batch of windows as large as one of clips
    outputs = [windows.pooled_logits(model, x[i : i + step].to(device, non_blocking=True),
                                     window, pooling).float().cpu()
               for i in range(0, len(x), step)]
    return torch.cat(outputs)


def probabilities(logits: torch.Tensor, multi_label: bool) -> np.ndarray:
    return (torch.sigmoid(logits) if multi_label else torch.softmax(logits, dim=1)).numpy()


def probe(config: Mapping[str, Any], data: TrialData) -> dict[str, Any]:
    """What one epoch of `config` costs on `data` here: the first report of a trial whose
    first steps are timed and then stopped (`projected_epoch_s`, or on data too small to
    project, the whole epoch's `train_time_s`), with its `macs` and `epoch_clips`. Its
    inputs are held or streamed as a trial's would be: streamed batches cost more."""
    reports: list[dict[str, Any]] = []
    fit({**config, "max_epochs": 1, "max_epoch_seconds": 1e-9}, data,
        lambda metrics, state: reports.append(metrics))
    return reports[0]


def epoch_seconds(metrics: Mapping[str, Any]) -> float:
    """An epoch's training seconds, from its report: the projection of a stopped one."""
    return metrics.get("projected_epoch_s") or metrics["train_time_s"]


def fit(
    config: Mapping[str, Any],
    data: TrialData,
    report: Report,
    resume: dict[str, Any] | None = None,
    began: float | None = None,
) -> None:
    """Train `config` on `data`, calling `report` after each epoch. `began`: the
    `time.perf_counter()` at which the trial started, for its `first_batch_s`."""
    began = time.perf_counter() if began is None else began
    config = schema(config["model"]).with_defaults(config)
    if data.layers:
        data = data.select_layers(config.get("layer"))
        config["input_splits"] = data.input_splits  # the model builds one branch per layer
    if models.wants_raw_input(config["model"]):
        data = data.unnormalised()
    else:
        data = data.scaled(config.get("input_scaling", "standard"), config.get("clip_value", 3))
    torch.manual_seed(config["seed"])
    device = pick_device()
    use_amp = bool(config["amp"]) and device.type == "cuda"
    amp_dtype = torch.bfloat16 if use_amp and torch.cuda.is_bf16_supported() else torch.float16
    stream = inputs.streams(config, data.x_train.nbytes + data.x_val.nbytes)
    store = device if stream else data_device(device, data.x_train, data.x_val)
    x_train = Inputs(data.x_train, data.normalisation, store, stream)
    # Validation scores whole clips, on windows of what training crops.
    x_val = Inputs(data.x_val, data.normalisation, store, stream)
    pooling = windows.pooling(config, data.multi_label)
    multi = data.multi_label
    classes = data.num_classes

    def as_targets(y: np.ndarray) -> torch.Tensor:
        """Multi-hot as it is; labels one-hot, as soft targets that mixup can blend."""
        labels = torch.from_numpy(y.copy())
        return labels.float() if multi else nn.functional.one_hot(labels, classes).float()

    targets_train = as_targets(data.y_train).to(store)
    noise = torch.from_numpy(data.noise_bank).to(store) if data.noise_bank is not None else None
    augment = Augmenter(config, data.kind, noise, data.normalised)

    model = models.build(config["model"], {"sample_rate": data.sample_rate, **config},
                         data.input_shape, classes)
    pretrained.start_from_weights(model, config, load=resume is None)
    model.to(device)
    average = weight_average(model, config)  # what is scored and kept, when asked for
    scored_model = average.module if average else model
    optimizer = make_optimizer(config, pretrained.param_groups(model, config))
    schedule = Schedule(config, optimizer)
    scaler = torch.amp.GradScaler(device.type, enabled=use_amp and amp_dtype == torch.float16)
    loss_fn = make_loss(config, data.y_clips, classes, multi).to(device)
    val_targets = as_targets(data.y_val)
    n_params = models.count_parameters(model)
    macs = models.count_macs(model, data.input_shape)
    generator = torch.Generator().manual_seed(config["seed"])

    start_epoch, best_val_loss, stale = 1, math.inf, 0
    if resume is not None:
        model.load_state_dict(resume.get("train_model", resume["model"]))
        if average and "averaged_steps" in resume:
            average.resume(resume["model"], resume["averaged_steps"])
        optimizer.load_state_dict(resume["optimizer"])
        schedule.load_state_dict(resume["schedule"])
        generator.set_state(resume["generator"])
        start_epoch = resume["epoch"] + 1
        best_val_loss, stale = resume["best_val_loss"], resume["stale"]

    batch_size, limit = config["batch_size"], config["max_epoch_seconds"]
    first_batch_s: float | None = None
    for epoch in range(start_epoch, config["max_epochs"] + 1):
        started = time.perf_counter()
        model.train()
        order = epoch_rows(data.y_train, data.train_versions, config, generator).to(store)
        total, seen = 0.0, 0
        steps = math.ceil(len(order) / batch_size)
        probing = epoch == start_epoch and steps > 1 + PROBE_STEPS
        projected, probe_started, too_slow = None, started, False
        for step, i in enumerate(range(0, len(order), batch_size)):
            if probing and step == 1:
                probe_started = time.perf_counter()
            elif probing and step == 1 + PROBE_STEPS:  # the epoch's cost, known from a few steps
                per_step = (time.perf_counter() - probe_started) / PROBE_STEPS
                projected = (time.perf_counter() - started) + per_step * (steps - step)
                too_slow = bool(limit and projected > limit)
                if too_slow:
                    break
            idx = order[i : i + batch_size]
            if len(idx) < 2 and seen:  # a batch of one breaks batch norm
                continue
            x, y = x_train[idx], targets_train[idx]
            if data.crop_length:
                x = random_crop(x, data.crop_length, generator)
            x, y = augment(x, y, generator)
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=amp_dtype, enabled=use_amp):
                loss = loss_fn(model(x), y)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if config["grad_clip"] > 0:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip"])
            scaler.step(optimizer)
            scaler.update()
            if average:
                average.update(model, steps)
            total += loss.item() * len(idx)
            seen += len(idx)
            if first_batch_s is None:
                first_batch_s = time.perf_counter() - began
        train_loss = total / max(seen, 1)
        train_time = time.perf_counter() - started
        # A trial stopped for its cost is scored on a slice of val, not made to pay for it all.
        scored = slice(0, 8 * batch_size) if too_slow else slice(None)

        infer_started = time.perf_counter()
        logits = predict(scored_model, x_val.head(8 * batch_size) if too_slow else x_val,
                         4 * batch_size, device, data.crop_length, pooling)
        infer_ms = 1000 * (time.perf_counter() - infer_started) / max(len(logits), 1)
        val_loss = loss_fn(logits.to(device), val_targets[scored].to(device)).item()
        metrics: dict[str, Any] = {
            "epoch": epoch,
            "train_loss": train_loss,
            "val_loss": val_loss,
            **score_all(data.y_val[scored], probabilities(logits, multi), "val"),
            "lr": schedule.lr,
            "params": n_params,
            "macs": macs,
            "epoch_time_s": time.perf_counter() - started,
            "train_time_s": train_time,
            "epoch_clips": len(order),
            "infer_ms_per_clip": infer_ms,
        }
        if projected is not None:
            metrics["projected_epoch_s"] = projected
        if epoch == start_epoch:
            metrics["first_batch_s"] = first_batch_s
        schedule.step(val_loss)
        diverged = not (math.isfinite(train_loss) and math.isfinite(val_loss))
        if val_loss < best_val_loss:
            best_val_loss, stale = val_loss, 0
        else:
            stale += 1
        reasons = [
            (too_slow, StopReason.TOO_SLOW, f"{StopReason.TOO_SLOW}: projected "
             f"{projected:.1f}s per epoch > max_epoch_seconds {limit:g}" if too_slow else ""),
            (diverged, StopReason.DIVERGED, "diverged (non-finite loss)"),
            (config["patience"] > 0 and stale >= config["patience"], StopReason.PATIENCE,
             "early stop (patience)"),
            (train_loss < config["min_train_loss"], StopReason.MIN_TRAIN_LOSS,
             "reached min_train_loss"),
            (epoch == config["max_epochs"], StopReason.MAX_EPOCHS, "max_epochs"),
        ]
        stop, words = next(((code, why) for hit, code, why in reasons if hit), ("", ""))
        metrics["stop"], metrics["stop_reason"] = str(stop), words
        state = {
            "model": scored_model.state_dict(),
            **({"train_model": model.state_dict(), "averaged_steps": average.steps}
               if average else {}),
            "optimizer": optimizer.state_dict(),
            "schedule": schedule.state_dict(),
            "generator": generator.get_state(),
            "epoch": epoch,
            "best_val_loss": best_val_loss,
            "stale": stale,
            "config": dict(config),
            "input_shape": list(data.input_shape),
            "label_names": data.label_names,
            "multi_label": multi,
            "representation": data.representation,
            "normalisation": data.normalisation,
        }
        report(metrics, state)
        if stop:
            return
