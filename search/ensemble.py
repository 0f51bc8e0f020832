"""`python -m search.ensemble results/<experiment> --top 5`: vote the best trials on test.

The top k trials by validation (never by test) each predict the test split; the soft vote
averages their probabilities, the hard vote takes the most common label (ties broken by
the soft vote). Printed beside the best single model and written to `ensemble.csv`.
Multi-label: the hard vote keeps a label when most models predict it (probability >= 0.5).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from contracts.experiment import read_info
from contracts.shards import read_ids
from trainables.metrics import score_all

from .inference import TrainedModel, split_probabilities
from .leaderboard import best_trials, trial_shard_dir


def member_predictions(experiment_dir: Path, top: int):
    """(targets, [probabilities per member], trial ids), aligned on the test clips that
    every member's preparation kept."""
    info = read_info(experiment_dir)
    members = best_trials(experiment_dir, top)
    outputs = []
    for _, row in members.iterrows():
        shard_dir = trial_shard_dir(info, row["trial_dir"])
        targets, probs = split_probabilities(TrainedModel.load(row["checkpoint"]), shard_dir,
                                             "test")
        outputs.append((read_ids(shard_dir, "test"), targets, probs))
    common = sorted(set.intersection(*(set(ids) for ids, _, _ in outputs)))
    aligned = []
    for ids, targets, probs in outputs:
        index = pd.Series(range(len(ids)), index=ids)[common].to_numpy()
        aligned.append((targets[index], probs[index]))
    return aligned[0][0], [p for _, p in aligned], list(members["trial_id"])


def votes(probs: list[np.ndarray], multi_label: bool) -> tuple[np.ndarray, np.ndarray]:
    """(soft, hard) ensemble outputs, each shaped like one member's probabilities."""
    stacked = np.stack(probs)
    soft = stacked.mean(axis=0)
    if multi_label:
        hard = ((stacked >= 0.5).mean(axis=0) > 0.5).astype(float)
        return soft, hard
    counts = np.zeros_like(soft)
    for member in stacked:
        counts[np.arange(len(member)), member.argmax(axis=1)] += 1
    hard = counts + 1e-6 * soft  # most votes; the soft vote breaks ties
    return soft, hard


def compare(experiment_dir: Path, top: int) -> pd.DataFrame:
    targets, probs, trial_ids = member_predictions(experiment_dir, top)
    soft, hard = votes(probs, targets.ndim == 2)
    rows = {f"best single ({trial_ids[0]})": probs[0], f"soft vote of {len(probs)}": soft,
            f"hard vote of {len(probs)}": hard}
    table = pd.DataFrame([{"model": name, **score_all(targets, p, "test")}
                          for name, p in rows.items()])
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m search.ensemble",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("experiment_dir", type=Path)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args(argv)
    table = compare(args.experiment_dir, args.top)
    path = args.experiment_dir / "ensemble.csv"
    table.to_csv(path, index=False)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
