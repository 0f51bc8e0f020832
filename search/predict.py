"""`python -m search.predict results/<experiment> clip.wav ...`: what the best model hears.

Each file is decoded and featurised exactly as the training data was (sample rate, clip
length, representation and its parameters, normalisation), then scored by the best trial's
best checkpoint (or `--checkpoint DIR`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from contracts.experiment import read_info
from contracts.shards import read_manifest
from data_prep.decode import Rejected
from trainables.checkpoints import CheckpointError

from .inference import TrainedModel, featurise_files
from .leaderboard import best_trials, shard_dir_for


def predict_files(experiment_dir: Path, files: list[str], top: int = 3,
                  checkpoint: str | None = None) -> pd.DataFrame:
    """One row per file and rank: file, rank, label, probability."""
    trained = TrainedModel.load(checkpoint or best_trials(experiment_dir)["checkpoint"].iloc[0])
    manifest = read_manifest(shard_dir_for(read_info(experiment_dir), trained.meta.config))
    layer = trained.meta.config.get("layer")
    probs = trained.probabilities(featurise_files(files, manifest, layer))
    rows = []
    for path, p in zip(files, probs, strict=True):
        for rank, index in enumerate(np.argsort(-p)[:top], start=1):
            rows.append({"file": path, "rank": rank, "label": trained.label_names[index],
                         "probability": float(p[index])})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m search.predict",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("experiment_dir", type=Path)
    parser.add_argument("files", nargs="+")
    parser.add_argument("--top", type=int, default=3, help="labels to show per file")
    parser.add_argument("--checkpoint", help="a checkpoint folder instead of the best")
    args = parser.parse_args(argv)
    try:
        table = predict_files(args.experiment_dir, args.files, args.top, args.checkpoint)
    except (FileNotFoundError, Rejected, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path, rows in table.groupby("file", sort=False):
        guesses = ", ".join(f"{r.label} {r.probability:.2f}" for r in rows.itertuples())
        print(f"{path}: {guesses}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
