"""What the default spaces find on realistic speech within their own budgets, side by side
with the documents' way (librosa MFCC statistics into a scikit-learn SVM) on the same split.

The data: espeak-ng speech made on first use by bench/speech.py (14 words; 150 train, 30
val and 30 test speakers whose voice variants never occur in training; accents, pitches,
speeds, levels, background noise; 1 s at 16 kHz; Speech Commands layout; 2940 clips).
Each space runs as a user runs it: `python -m search.run spaces/<space>.yaml --data DIR`.

    .venv/bin/python bench/anytime.py [--spaces cnn1d cnn2d mlp] [--budget SECONDS]
        [--variant NAME KEY=VALUE ...]

Each `--variant` runs every space once more with those keys set (as `search.run --set`),
printed beside the spaces as they stand: for example ASHA's rungs on seconds,
`--variant seconds scheduler.time_attr=time_total_s scheduler.grace_period=10`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import librosa
import numpy as np
import pandas as pd
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from speech import make

from contracts.trial import Status
from data_prep.sources import speech_commands
from search import leaderboard

ROOT = Path("results/bench/anytime")


def mfcc_stats(path: str) -> np.ndarray:
    """The documents' features: 20 MFCCs and their deltas, mean and std over time."""
    y, sr = librosa.load(path, sr=16000)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    delta = librosa.feature.delta(mfcc)
    return np.concatenate([m.mean(axis=1) for m in (mfcc, delta)]
                          + [m.std(axis=1) for m in (mfcc, delta)])


def svm_reference(dataset: Path) -> tuple[float, float, float]:
    """(val accuracy, test accuracy, seconds): C and gamma chosen on val."""
    started = time.perf_counter()
    clips = speech_commands(dataset)
    x = np.stack([mfcc_stats(p) for p in clips["path"]])
    y = clips["labels"].str[0].to_numpy()
    split = clips["split"].to_numpy()
    best = (-1.0, None)
    for c in (1, 10, 100):
        for gamma in ("scale", 0.01, 0.001):
            model = make_pipeline(StandardScaler(), SVC(C=c, gamma=gamma))
            model.fit(x[split == "train"], y[split == "train"])
            score = model.score(x[split == "val"], y[split == "val"])
            if score > best[0]:
                best = (score, model)
    test = best[1].score(x[split == "test"], y[split == "test"])
    return best[0], test, time.perf_counter() - started


def search_as_a_user(space: str, data: Path, name: str, results: Path,
                     budget: float | None, settings: tuple[str, ...] = (),
                     ) -> tuple[subprocess.CompletedProcess, float]:
    """`search.run spaces/<space>.yaml --data DATA` as a user runs it (with `--set` for each
    of `settings`), its console kept in `<results>/<name>.log`; (the run, its wall s)."""
    command = [sys.executable, "-m", "search.run", f"spaces/{space}.yaml", "--data",
               str(data), "--name", name, "--results", str(results), "--restart"]
    if budget:
        command += ["--set", f"time_budget_s={budget}"]
    for setting in settings:
        command += ["--set", setting]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    (results / f"{name}.log").write_text(done.stdout + done.stderr)
    return done, wall


def run_space(space: str, dataset: Path, budget: float | None, variant: str = "",
              settings: tuple[str, ...] = ()) -> dict:
    name = f"anytime-{space}" + (f"-{variant}" if variant else "")
    done, wall = search_as_a_user(space, dataset, name, ROOT, budget, settings)
    board = leaderboard.read(ROOT / name / "leaderboard.csv")
    counted = board[board["status"].isin([Status.COMPLETE, Status.STOPPED_EARLY])]
    top = board.iloc[0]
    return {"space": space, "variant": variant or "as it stands", "exit": done.returncode,
            "trials": len(board),
            "finished or stopped": len(counted),
            "too slow": int((board["status"] == Status.TOO_SLOW).sum()),
            "errors": int((board["status"] == Status.ERROR).sum()),
            "best val": top["val_accuracy_best"], "top trial's test": top.get("test_accuracy"),
            "wall s": round(wall)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spaces", nargs="+", default=["cnn1d", "cnn2d", "mlp"])
    parser.add_argument("--budget", type=float, help="override each space's time_budget_s")
    parser.add_argument("--variant", nargs="+", action="append", default=[],
                        metavar="NAME KEY=VALUE",
                        help="also run every space with these keys set (repeatable)")
    args = parser.parse_args()
    dataset = make(ROOT / "speech", speakers=(150, 30, 30))
    val, test, seconds = svm_reference(dataset)
    print(f"reference (MFCC stats + SVM): val {val:.3f}, test {test:.3f} [{seconds:.0f}s]",
          flush=True)
    rows = []
    for space in args.spaces:
        for variant, *settings in [("",), *args.variant]:
            rows.append(run_space(space, dataset, args.budget, variant, tuple(settings)))
            print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table["test - SVM (points)"] = (100 * (table["top trial's test"] - test)).round(1)
    print(table.to_string(index=False))
    print(f"\nSVM reference: val {val:.3f}, test {test:.3f}; chance "
          f"{1 / len(speech_commands(dataset)['labels'].str[0].unique()):.3f}")


if __name__ == "__main__":
    main()
