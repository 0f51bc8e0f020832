"""Every default space on audio unlike one-second speech, run as a new user runs it, side by
side with hand features (librosa MFCC statistics into scikit-learn) on the same split.

The data (bench/sounds.py, made on first use): `instruments` (10 General MIDI instruments,
3 s melodies, test melodies unheard and noisier), `mixtures` (5 s multi-label mixtures of
them, a `labels` column), `scenes` (10 s, one of six events anywhere in it, test
backgrounds of another colour and noisier), `register` (the instruments, test melodies an
octave above the training ones: run it with `--datasets register`); and `speech`, the
one-second words of bench/anytime.py. Each space runs as `python -m search.run
spaces/<space>.yaml --data <csv or folder>` with nothing else, under its own budget.

    .venv/bin/python bench/breadth.py [--datasets instruments mixtures scenes speech]
        [--spaces cnn1d cnn2d mlp resnet multilabel] [--budget SECONDS]
        [--variant NAME KEY=VALUE ...]

Each `--variant` runs every space once more with those keys set (as `search.run --set`),
printed beside the spaces as they stand.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sounds
from anytime import mfcc_stats, search_as_a_user
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MultiLabelBinarizer, StandardScaler
from sklearn.svm import SVC

from contracts.experiment import read_info
from contracts.manifest import read_manifest
from contracts.trial import Status
from search import leaderboard

ROOT = Path("results/bench/breadth")
SINGLE = ("cnn1d", "cnn2d", "mlp", "resnet")
MULTI = ("multilabel",)
FINISHED = (Status.COMPLETE, Status.STOPPED_EARLY)


def table_of(source: Path) -> pd.DataFrame:
    """path (absolute), labels (a list), split: from a bench CSV or a Speech Commands
    folder."""
    if source.suffix == ".csv":
        table = pd.read_csv(source)
        column = "labels" if "labels" in table else "label"
        return pd.DataFrame({"path": [str(source.parent / p) for p in table["path"]],
                             "labels": table[column].str.split(","),
                             "split": table["split"]})
    from data_prep.sources import speech_commands

    return speech_commands(source)[["path", "labels", "split"]]


def reference(source: Path, multi: bool) -> tuple[float, float]:
    """(val, test) of MFCC statistics into an SVM (C, gamma chosen on val), or for
    multi-label into one-vs-rest logistic regression scored by macro mAP."""
    clips = table_of(source)
    x = np.stack([mfcc_stats(p) for p in clips["path"]])
    split = clips["split"].to_numpy()
    on = {s: split == s for s in ("train", "val", "test")}
    if multi:
        y = MultiLabelBinarizer().fit_transform(clips["labels"])
        best = (-1.0, None)
        for c in (0.1, 1, 10):
            model = make_pipeline(StandardScaler(), OneVsRestClassifier(
                LogisticRegression(C=c, max_iter=2000)))
            model.fit(x[on["train"]], y[on["train"]])
            score = average_precision_score(y[on["val"]], model.predict_proba(x[on["val"]]),
                                            average="macro")
            best = max(best, (score, model), key=lambda b: b[0])
        test = average_precision_score(y[on["test"]], best[1].predict_proba(x[on["test"]]),
                                       average="macro")
        return best[0], test
    y = clips["labels"].str[0].to_numpy()
    best = (-1.0, None)
    for c in (1, 10, 100):
        for gamma in ("scale", 0.01, 0.001):
            model = make_pipeline(StandardScaler(), SVC(C=c, gamma=gamma))
            model.fit(x[on["train"]], y[on["train"]])
            best = max(best, (model.score(x[on["val"]], y[on["val"]]), model),
                       key=lambda b: b[0])
    return best[0], best[1].score(x[on["test"]], y[on["test"]])


def printed_reference(name: str, source: Path, multi: bool) -> float:
    """The reference's test score on a dataset, printed with its validation score and time."""
    started = time.perf_counter()
    val, test = reference(source, multi)
    print(f"{name}: reference (MFCC stats + {'logistic' if multi else 'SVM'}) val "
          f"{val:.3f}, test {test:.3f} [{time.perf_counter() - started:.0f}s]", flush=True)
    return test


def scored_row(row: dict, reference_test: float) -> dict:
    """A run's row beside the reference's test score, printed as it comes."""
    row = {**row, "reference test": round(reference_test, 3)}
    if "top test" in row:
        row["over reference (points)"] = round(100 * (row["top test"] - reference_test), 1)
    print(json.dumps(row, default=str), flush=True)
    return row


def run_space(space: str, dataset: str, source: Path, budget: float | None,
              variant: str = "", settings: tuple[str, ...] = ()) -> dict:
    name = f"breadth-{dataset}-{space}" + (f"-{variant}" if variant else "")
    done, wall = search_as_a_user(space, source, name, ROOT, budget, settings)
    row = {"dataset": dataset, "space": space, "variant": variant or "as it stands",
           "exit": done.returncode, "wall s": round(wall)}
    board_file = ROOT / name / "leaderboard.csv"
    if not board_file.exists():
        return {**row, "error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    board = leaderboard.read(board_file)
    info = read_info(ROOT / name)
    manifest = read_manifest(next(iter(info.shards.values())))
    metric = info.metric
    top = board.iloc[0]
    return {**row,
            "finished": int(board["status"].isin(FINISHED).sum()),
            "too slow": int((board["status"] == Status.TOO_SLOW).sum()),
            "not started": _not_started(done.stdout),
            "epoch share": info.fidelity.get("epoch_fraction", 1.0),
            "kept s": round(manifest.stored_samples / manifest.sample_rate, 2),
            "read s": round(manifest.clip_samples / manifest.sample_rate, 2),
            "metric": metric, "best val": round(float(top[f"{metric}_best"]), 3),
            "top test": round(float(top.get(metric.replace("val_", "test_", 1), np.nan)), 3)}


def _not_started(stdout: str) -> int:
    """The count the search's last lines give of configs predicted too slow to start."""
    line = next((x for x in stdout.splitlines() if "were not started" in x), "0")
    return int(line.split()[0])


def datasets(names: list[str]) -> dict[str, tuple[Path, bool]]:
    """name -> (what --data is given, multi-label)."""
    made = {}
    for name in names:
        if name == "instruments":
            made[name] = (sounds.instruments(ROOT / "instruments"), False)
        elif name == "register":
            made[name] = (sounds.instruments(ROOT / "register", register_shift=True), False)
        elif name == "mixtures":
            made[name] = (sounds.mixtures(ROOT / "mixtures"), True)
        elif name == "scenes":
            made[name] = (sounds.scenes(ROOT / "scenes"), False)
        elif name == "speech":
            from speech import make

            made[name] = (make(Path("results/bench/anytime/speech"), speakers=(150, 30, 30)),
                          False)
        else:
            raise SystemExit(f"unknown dataset {name!r}")
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+",
                        default=["instruments", "mixtures", "scenes", "speech"])
    parser.add_argument("--spaces", nargs="+", default=[*SINGLE, *MULTI])
    parser.add_argument("--budget", type=float, help="override each space's time_budget_s")
    parser.add_argument("--variant", nargs="+", action="append", default=[],
                        metavar="NAME KEY=VALUE",
                        help="also run every space with these keys set (repeatable)")
    parser.add_argument("--only-variants", action="store_true",
                        help="run the variants alone, not the spaces as they stand")
    args = parser.parse_args()
    ROOT.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, (source, multi) in datasets(args.datasets).items():
        test = printed_reference(name, source, multi)
        runs = [] if args.only_variants else [("",)]
        for space in args.spaces:
            if (space in MULTI) != multi:
                continue
            for variant, *settings in [*runs, *args.variant]:
                rows.append(scored_row(run_space(space, name, source, args.budget, variant,
                                                 tuple(settings)), test))
    print(pd.DataFrame(rows).to_string(index=False))


if __name__ == "__main__":
    main()
