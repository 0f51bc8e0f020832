"""Do models hold when the test voices speak in another register? Side by side in one run.

espeak-ng speech (bench/speech.py: 14 words, held-out voices, accents, speeds, levels and
noise) whose train and validation speakers are pitched low (espeak `-p` 0-35, about 85 Hz)
and test speakers high (`-p` 65-99, about 140 Hz: some 8 semitones up). For a cnn1d
(waveform) and a cnn2d (log-mel) config like the default spaces' best (bench/level_shift.py),
trained once per variant and kept at their best validation epoch, it prints validation and
test accuracy and the preparation time:

- no offline augmentation;
- `dataset.augment`: `--copies` pitch-shifted copies of every train clip, the whole
  spectrum moved (`keep_formants: false`, a tape played faster);
- the same with the spectral envelope kept (the default: only the pitch moves).

    .venv/bin/python bench/robustness.py [--epochs 20] [--copies 4] [--pitch 0 10]
        [--models cnn1d cnn2d] [--variants none spectrum formants]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import ray
import torch
from level_shift import MODELS, accuracy, best_model
from speech import make

from data_prep.config import DatasetConfig
from data_prep.pipeline import prepare
from trainables.data import TrialData

ROOT = Path("results/bench/speech")


def register(rng: np.random.Generator, split: str) -> int:
    return int(rng.integers(65, 100)) if split == "test" else int(rng.integers(0, 36))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--pitch", type=float, nargs=2, default=(0.0, 10.0))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--variants", nargs="+", choices=("none", "spectrum", "formants"),
                        default=("none", "spectrum", "formants"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR",
             log_to_driver=False)
    started = time.perf_counter()
    source = make(ROOT / "register", speakers=(96, 24, 24), seed=1, pitch=register)
    print(f"dataset: {source} ({time.perf_counter() - started:.0f}s)")
    cache = Path(tempfile.mkdtemp(prefix="robustness-", dir="results"))
    copies = {"copies": args.copies, "pitch_semitones": list(args.pitch)}
    variants = {("none", "no copies"): {},
                ("spectrum", f"{args.copies} copies {list(args.pitch)} st, spectrum"): {
                    **copies, "keep_formants": False},
                ("formants", f"{args.copies} copies {list(args.pitch)} st, formants kept"):
                    copies}
    rows = []
    for name in args.models:
        representation, config = MODELS[name]
        for (kind, variant), augment in variants.items():
            if kind not in args.variants:
                continue
            dataset = DatasetConfig.from_dict({
                "source": str(source), "sample_rate": 16000, "clip_seconds": 1.0,
                "representation": representation, "loudness": "rms", "augment": augment})
            prepared = prepare(dataset, cache)  # a fresh cache: every preparation timed
            prep_s = prepared.seconds
            t = time.perf_counter()
            trained = best_model(name, {**config, "max_epochs": args.epochs,
                                        "seed": args.seed},
                                 TrialData.from_shards(prepared.path))
            val, test = (accuracy(trained, prepared.path, s) for s in ("val", "test"))
            rows.append((name, variant, val, test, prep_s, time.perf_counter() - t))
            print(f"{name} {variant:<36} val {val:.3f} test {test:.3f} (gap "
                  f"{100 * (val - test):+.1f} points) prepared in {prep_s:.0f}s, trained in "
                  f"{rows[-1][-1]:.0f}s", flush=True)
    print("\n| model | variant | val | test (high voices) | gap (points) | preparation |")
    print("|---|---|---|---|---|---|")
    for name, variant, val, test, prep_s, _ in rows:
        print(f"| {name} | {variant} | {val:.3f} | {test:.3f} | {100 * (val - test):+.1f} | "
              f"{prep_s:.0f} s |")
    print(f"chance {1 / 14:.3f}; {time.perf_counter() - started:.0f}s in all")
    shutil.rmtree(cache)


if __name__ == "__main__":
    main()
