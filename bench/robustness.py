"""Do models hold when the test voices speak in another register? Side by side in one run.

espeak-ng speech (bench/speech.py: 14 words, held-out voices, accents, speeds, levels and
noise) whose train and validation speakers are pitched low (espeak `-p` 0-35) and test
speakers high (`-p` 65-99). The same voice and word at `-p` 15 and 85 measure (librosa's
pyin) 57-124 Hz and 134-254 Hz, 11 to 15 semitones apart, so the test voices lie some 6 to
18 semitones above the training ones. For a cnn1d (waveform) and a cnn2d config like the
default spaces' best (bench/level_shift.py), the cnn1d with its cepstral front (MFCCs
made in the model; `--cnn1d front=conv ...` for the seed's conv) and the cnn2d on 13 MFCCs
(the cnn2d space's first representation; `--set representation=logmel` for log-mel), both
scoring and keeping a moving average of their weights over 3 epochs (`ema_epochs`), each
trained once per variant and kept at its best validation epoch, it prints validation and
test accuracy and the preparation time:

- no offline augmentation;
- `dataset.augment`: `--copies` pitch-shifted copies of every train clip, the whole
  spectrum moved (`keep_formants: false`, a tape played faster);
- the same with the spectral envelope kept (the default: only the pitch moves);
- the same with the cheap online effects a search would add (`ONLINE`), and with a random
  EQ on top (`FILTERED`, waveforms);
- copies spoken again by the WORLD vocoder (`pitch_method: world`, `pip install -e
  ".[world]"`), the pitch track moved, and also bent by a random intonation contour
  (`--intonation` semitones): espeak's low voices often hold one note where the high ones
  rise and fall.

Each row is trained once per `--seeds` seed (one seed's gap moved by more than 5 points).

The test speakers take the validation speakers' voice variants (`--test-voices
validation's`, never heard in training), so that validation and test differ in register
alone. With voice variants of their own (`--test-voices own`, sessions 5-7) the gap also
held how much harder those voices are: `--control` makes the same speakers with the test
ones pitched low as well, and measured that part alone (4.5 points cnn1d, 0.3 cnn2d).

    .venv/bin/python bench/robustness.py [--epochs 20] [--copies 4] [--pitch 0 10]
        [--seeds 0 1 2] [--models cnn1d cnn2d] [--test-voices own] [--control]
        [--variants none spectrum formants formants+online formants+online+eq world
         world+intonation] [--intonation 3] [--set representation=logmel]
        [--cnn1d front=conv first_kernel=80 first_stride=8 pool=4] [--cnn2d ema_epochs=0]
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
from search.spec import set_key
from trainables.data import TrialData

ROOT = Path("results/bench/speech")
VARIANTS = ("none", "spectrum", "formants", "formants+online", "formants+online+eq", "world",
            "world+intonation")


def register(rng: np.random.Generator, split: str) -> int:
    return int(rng.integers(65, 100)) if split == "test" else int(rng.integers(0, 36))


def control(rng: np.random.Generator, split: str) -> int:
    """The same speakers (one draw each, as above), the test ones pitched low too."""
    return int(rng.integers(0, 36))


# The default spaces' cheap online effects, on top of the copies: what a search would add.
ONLINE = {"cnn1d": {"gain_db": 6.0, "noise_snr_db": [10.0, 40.0], "time_shift": 0.1},
          "cnn2d": {"spec_time_masks": 1, "spec_freq_masks": 1, "time_shift": 0.1}}
# The waveform model's front that held best across register (session 11): 12.5 ms
# mel-scale filters kept as they start, 13 cepstra over 20 ms windows every 10 ms.
# Trained 40 epochs: an epoch draws one version of each clip, so each of six copies is
# seen a seventh as often (0.905 on the high voices at 20 epochs, 0.920 at 40). Dropout
# 0.5 and the weights averaged over 3 epochs (session 13, six seeds: gap 4.2 points
# against 5.2 without the average and 5.6 with neither).
CEPSTRAL = ("front=cepstral", "first_kernel=201", "first_stride=16", "pool=20",
            "max_epochs=40", "dropout=0.5", "ema_epochs=3")
# The spectrogram model's weights averaged over 3 epochs too (session 13, six seeds: gap
# 3.1 points against 5.0 without).
CNN2D = ("ema_epochs=3",)
# A random EQ (waveforms only) on top of those: does filtering help across register?
FILTERED = {"cnn1d": {"eq_db": 6.0}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20,
                        help="max_epochs of every row (--cnn1d max_epochs=N sets its own)")
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--pitch", type=float, nargs=2, default=(0.0, 10.0))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0],
                        help="train each row once per seed; the table gives the mean")
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=sorted(MODELS))
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=VARIANTS[:3])
    parser.add_argument("--intonation", type=float, default=3.0,
                        help="world+intonation: the contour's reach in semitones")
    parser.add_argument("--test-voices", choices=("validation's", "own"),
                        default="validation's",
                        help="the test speakers' voice variants: the validation speakers' "
                             "(the gap is the register's) or their own (sessions 5-7)")
    parser.add_argument("--set", nargs="+", default=["representation=mfcc", "n_mfcc=13"],
                        metavar="KEY=VALUE",
                        help="dataset keys of the spectrogram model's rows: by default the "
                             "cnn2d space's first representation, 13 MFCCs; "
                             "representation=logmel for sessions 5-9's log-mel rows")
    parser.add_argument("--cnn1d", nargs="+", default=list(CEPSTRAL), metavar="KEY=VALUE",
                        help="model keys of the cnn1d rows (max_epochs too, over --epochs): "
                             "by default the cepstral front (MFCCs made in the model, the "
                             "best across register) for 40 epochs; "
                             "front=conv first_kernel=80 first_stride=8 pool=4 for sessions "
                             "5-9's conv front, front=energy first_kernel=32 first_stride=8 "
                             "pool=40 for session 10's")
    parser.add_argument("--cnn2d", nargs="+", default=list(CNN2D), metavar="KEY=VALUE",
                        help="model keys of the cnn2d rows: by default the weights "
                             "averaged over 3 epochs; ema_epochs=0 for sessions 9-12's")
    parser.add_argument("--control", action="store_true",
                        help="test speakers pitched low like the others: the gap that is "
                             "the held-out voices' own, without a change of register")
    args = parser.parse_args()
    torch.set_num_threads(2)
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR",
             log_to_driver=False)
    started = time.perf_counter()
    own = args.test_voices == "own"
    folder = "register" + ("-control" if args.control else "") + ("" if own else "-valvoices")
    source = make(ROOT / folder, speakers=(96, 24, 24), seed=1,
                  pitch=control if args.control else register, test_voices=args.test_voices)
    print(f"dataset: {source} ({time.perf_counter() - started:.0f}s)")
    cache = Path(tempfile.mkdtemp(prefix="robustness-", dir="results"))
    copies = {"copies": args.copies, "pitch_semitones": list(args.pitch)}
    span = f"{args.copies} copies {list(args.pitch)} st"
    variants = {"none": ("no copies", {}, ()),
                "spectrum": (f"{span}, spectrum", {**copies, "keep_formants": False}, ()),
                "formants": (f"{span}, formants kept", copies, ()),
                "formants+online": (f"{span}, formants kept, online effects", copies,
                                    (ONLINE,)),
                "formants+online+eq": (f"{span}, formants kept, online effects, EQ", copies,
                                       (ONLINE, FILTERED)),
                "world": (f"{span}, WORLD", {**copies, "pitch_method": "world"}, ()),
                "world+intonation": (
                    f"{span}, WORLD, intonation +-{args.intonation:g} st",
                    {**copies, "pitch_method": "world",
                     "intonation_semitones": args.intonation}, ())}
    rows = []
    for name in args.models:
        representation, config = MODELS[name]
        for assignment in {"cnn1d": args.cnn1d, "cnn2d": args.cnn2d}[name]:
            config = set_key(config, assignment)
        for kind in args.variants:
            variant, augment, effects = variants[kind]
            if any(name not in effect for effect in effects):
                continue  # e.g. no EQ for spectrograms
            online = {k: v for effect in effects for k, v in effect[name].items()}
            raw = {"source": str(source), "sample_rate": 16000, "clip_seconds": 1.0,
                   "representation": representation, "loudness": "rms", "augment": augment}
            for assignment in [] if representation == "waveform" else args.set:
                raw = set_key(raw, assignment)
            dataset = DatasetConfig.from_dict(raw)
            prepared = prepare(dataset, cache)  # a fresh cache: every preparation timed
            data = TrialData.from_shards(prepared.path)
            model = name if representation == dataset.representation else \
                f"{name} on {dataset.representation}"
            scores = []
            for seed in args.seeds:
                trained = best_model(name, {"max_epochs": args.epochs, **config, **online,
                                            "seed": seed}, data)
                val, test = (accuracy(trained, prepared.path, s) for s in ("val", "test"))
                scores.append((val, test))
                print(f"{model} {variant:<52} seed {seed} val {val:.3f} test {test:.3f} (gap "
                      f"{100 * (val - test):+.1f} points)", flush=True)
            rows.append((model, variant, np.array(scores),
                         "as above" if prepared.reused else f"{prepared.seconds:.0f} s"))
    print(f"\nmeans over seeds {args.seeds} (gap: min to max over seeds)")
    tested = "low voices, control" if args.control else "high voices"
    print(f"| model | variant | val | test ({tested}) | gap (points) | preparation |")
    print("|---|---|---|---|---|---|")
    for name, variant, scores, preparation in rows:
        val, test = scores.mean(axis=0)
        gaps = 100 * (scores[:, 0] - scores[:, 1])
        print(f"| {name} | {variant} | {val:.3f} | {test:.3f} | {100 * (val - test):+.1f} "
              f"({gaps.min():+.1f} to {gaps.max():+.1f}) | {preparation} |")
    print(f"chance {1 / 14:.3f}; {time.perf_counter() - started:.0f}s in all")
    shutil.rmtree(cache)


if __name__ == "__main__":
    main()
