"""Do models hold when the test speakers were recorded quieter? Side by side in one run.

espeak-ng speech (bench/speech.py: 14 words, held-out voices, noise, levels from -30 to
-12 dBFS), the test speakers as recorded and 14 dB quieter. For a cnn1d (waveform) and a
cnn2d (log-mel) config like the default spaces' best, trained once per variant, it prints
the test accuracy at the training level and 14 dB quieter, and the loss:

- `loudness none`: the clips as recorded (the old default);
- `none + gain_db 12`: random gain in training instead;
- `loudness rms`: every clip at -20 dBFS at preparation (the new default).

    .venv/bin/python bench/level_shift.py [--epochs 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import ray
import torch
from speech import make, with_test_gain

from data_prep.config import DatasetConfig
from data_prep.pipeline import prepare
from search.inference import split_probabilities
from trainables import models
from trainables.data import TrialData
from trainables.loop import fit
from trainables.trained import TrainedModel

ROOT = Path("results/bench/speech")
SHIFT_DB = -14.0
MODELS = {
    "cnn1d": ("waveform", {"conv_layers": 5, "channels": 64, "kernel_size": 9,
                           "first_kernel": 80, "first_stride": 8, "pool": 4, "dropout": 0.25,
                           "lr": 3e-3, "batch_size": 32}),
    "cnn2d": ("logmel", {"conv_layers": 3, "channels": 32, "kernel_size": 3, "pool": 2,
                         "dropout": 0.25, "lr": 3e-3, "batch_size": 32}),
}
VARIANTS = {"loudness none": ("none", {}), "none + gain_db 12": ("none", {"gain_db": 12.0}),
            "loudness rms": ("rms", {})}


def best_model(name: str, config: dict, data: TrialData) -> TrainedModel:
    """Train; keep the epoch with the best validation accuracy, as the leaderboard does."""
    best: dict = {"score": -1.0}

    def report(metrics: dict, state: dict) -> None:
        if metrics["val_accuracy"] > best["score"]:
            best.update(score=metrics["val_accuracy"], state={
                **state, "model": {k: v.detach().clone() for k, v in state["model"].items()}})

    fit({**config, "model": name}, data, report)
    state = best["state"]
    model = models.build(name, state["config"], tuple(state["input_shape"]),
                         len(state["label_names"]))
    model.load_state_dict(state["model"])
    return TrainedModel.from_state(model.eval(), state)


def accuracy(trained: TrainedModel, shard_dir: Path, split: str = "test") -> float:
    y, probs = split_probabilities(trained, shard_dir, split)
    return float((probs.argmax(axis=1) == y).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR")
    started = time.perf_counter()
    source = make(ROOT / "level")
    quiet = with_test_gain(source, ROOT / "level-quiet", SHIFT_DB)
    print(f"dataset: {source} ({time.perf_counter() - started:.0f}s)")
    rows = []
    for name, (representation, config) in MODELS.items():
        for variant, (kind, extra) in VARIANTS.items():
            prepared = {}
            for label, folder in (("as recorded", source), ("quiet", quiet)):
                dataset = DatasetConfig.from_dict({
                    "source": str(folder), "sample_rate": 16000, "clip_seconds": 1.0,
                    "representation": representation, "loudness": kind})
                prepared[label] = prepare(dataset, "results").path
            data = TrialData.from_shards(prepared["as recorded"])
            t = time.perf_counter()
            trained = best_model(name, {**config, **extra, "max_epochs": args.epochs,
                                        "seed": args.seed}, data)
            loud, soft = (accuracy(trained, prepared[k]) for k in ("as recorded", "quiet"))
            rows.append((name, variant, loud, soft, time.perf_counter() - t))
            print(f"{name} {variant:<18} test {loud:.3f}, {SHIFT_DB:+.0f} dB {soft:.3f} "
                  f"(loss {100 * (loud - soft):+.1f} points) [{rows[-1][-1]:.0f}s]", flush=True)
    print(f"\n| model | variant | test | test {SHIFT_DB:+.0f} dB | loss (points) |")
    print("|---|---|---|---|---|")
    for name, variant, loud, soft, _ in rows:
        print(f"| {name} | {variant} | {loud:.3f} | {soft:.3f} | {100 * (loud - soft):+.1f} |")
    chance = 1 / len(np.unique(TrialData.from_shards(prepared["as recorded"]).y_train))
    print(f"chance {chance:.3f}; {time.perf_counter() - started:.0f}s in all")


if __name__ == "__main__":
    main()
