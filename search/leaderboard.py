"""`python -m search.leaderboard results/<experiment>`: one row per trial, best first.

Built from the experiment folder alone (each trial's `params.json`, `result.json` and
checkpoints), so it works during a search, after one, and on a restored one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

EXPERIMENT_FILE = "experiment.json"  # metric, mode, max_epochs, trainable: written by search.run


def _read_results(trial_dir: Path) -> list[dict[str, Any]]:
    path = trial_dir / "result.json"
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:  # a line being written right now
            break
    return rows


def _best_checkpoint(trial_dir: Path, metric: str, mode: str) -> str:
    best, best_value = "", None
    for folder in sorted(trial_dir.glob("checkpoint_*")):
        metrics_file = folder / "metrics.json"
        if not metrics_file.exists():
            continue
        value = json.loads(metrics_file.read_text()).get(metric)
        if value is None or not math.isfinite(value):
            continue
        if best_value is None or (value > best_value if mode == "max" else value < best_value):
            best, best_value = str(folder), value
    return best


def _tune_statuses(experiment_dir: Path) -> dict[str, str]:
    """Trial id -> Tune's status (RUNNING, PAUSED, TERMINATED, ERROR...), from its newest
    experiment snapshot; empty when there is none yet."""
    snapshots = sorted(experiment_dir.glob("experiment_state-*.json"))
    if not snapshots:
        return {}
    try:
        state = json.loads(snapshots[-1].read_text())
    except json.JSONDecodeError:  # being rewritten right now
        return {}
    statuses = {}
    for trial_json, _ in state.get("trial_data", []):
        trial = json.loads(trial_json) if isinstance(trial_json, str) else trial_json
        statuses[trial["trial_id"]] = trial.get("status", "")
    return statuses


def build(experiment_dir: str | Path) -> pd.DataFrame:
    experiment_dir = Path(experiment_dir)
    info = json.loads((experiment_dir / EXPERIMENT_FILE).read_text())
    metric, mode, max_epochs = info["metric"], info["mode"], info["max_epochs"]
    statuses = _tune_statuses(experiment_dir)
    rows = []
    for params_file in sorted(experiment_dir.glob("*/params.json")):
        trial_dir = params_file.parent
        params = json.loads(params_file.read_text())
        results = _read_results(trial_dir)
        errored = (trial_dir / "error.txt").exists()
        values = [r[metric] for r in results if r.get(metric) is not None]
        finite = [v for v in values if math.isfinite(v)]
        best = (max if mode == "max" else min)(finite) if finite else math.nan
        last = results[-1] if results else {}
        stop_reason = last.get("stop_reason", "")
        if errored:
            stop_reason = (trial_dir / "error.txt").read_text().strip().splitlines()[-1][:300]
        epochs = int(last.get("epoch", 0))
        trial_id = last.get("trial_id", trial_dir.name)
        running = statuses.get(trial_id) in ("PENDING", "RUNNING", "PAUSED")
        if errored:
            status = "error"
        elif running:
            status = "running"
        else:
            status = "complete" if stop_reason else "stopped_early"
        rows.append({
            "trial_id": trial_id,
            "trainable": params.get("model", info["trainable"]),
            f"{metric}_best": best,
            "best_epoch": next((r["epoch"] for r in results if r.get(metric) == best), None),
            f"{metric}_last": last.get(metric, math.nan),
            "epochs": epochs,
            "status": status,
            "stop_reason": stop_reason,
            "stopped_by_scheduler": status == "stopped_early" and epochs < max_epochs,
            "params": last.get("params"),
            "train_seconds": sum(r.get("epoch_time_s", 0.0) for r in results),
            **{k: v for k, v in params.items() if k not in ("model",)},
            "checkpoint": _best_checkpoint(trial_dir, metric, mode),
            "trial_dir": str(trial_dir),
        })
    board = pd.DataFrame(rows)
    if board.empty:
        return board
    board = board.sort_values(
        f"{metric}_best", ascending=(mode == "min"), na_position="last", kind="stable"
    ).reset_index(drop=True)
    board.insert(0, "rank", range(1, len(board) + 1))
    return board


def write(experiment_dir: str | Path) -> Path:
    """Write `leaderboard.csv` atomically: a reader never sees half a file."""
    experiment_dir = Path(experiment_dir)
    target = experiment_dir / "leaderboard.csv"
    tmp = target.with_suffix(f".csv.tmp-{os.getpid()}")
    build(experiment_dir).to_csv(tmp, index=False)
    os.replace(tmp, target)
    return target


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment_dir", type=Path)
    args = parser.parse_args(argv)
    path = write(args.experiment_dir)
    board = pd.read_csv(path)
    print(board.head(20).to_string(index=False))
    print(f"\n{len(board)} trials; written to {path}")


if __name__ == "__main__":
    main()
