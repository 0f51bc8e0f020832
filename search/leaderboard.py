"""`python -m search.leaderboard results/<experiment>`: one row per trial, best first.

Built from the experiment folder alone (each trial's `params.json`, `result.json` and
checkpoints, and how each trial ended as the study in `optuna.journal` records it), so it
works during a search, after one, and on a restored one.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any

import pandas as pd

from contracts.experiment import ExperimentInfo, read_info
from contracts.trial import Status
from trainables.checkpoints import METRICS_FILE
from trainables.data import variant_key

from . import pareto
from .scoring import test_scores
from .study import STOPPED, best_value, trial_records

DEFAULT_TEST_TOP_K = 3


def read_results(trial_dir: str | Path) -> list[dict[str, Any]]:
    """A trial's reports, one per epoch, from Tune's `result.json`: the one reader of it,
    safe while Tune writes (a half-written last line is left for the next read)."""
    path = Path(trial_dir) / "result.json"
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
        metrics_file = folder / METRICS_FILE
        if not metrics_file.exists():
            continue
        value = json.loads(metrics_file.read_text()).get(metric)
        if value is None or not math.isfinite(value):
            continue
        if best_value is None or (value > best_value if mode == "max" else value < best_value):
            best, best_value = str(folder), value
    return best


def _errored(trial_dir: Path, record: dict[str, Any], results: list[dict]) -> bool:
    """Whether a trial ended in an error. Its error.txt stays after a `max_failures` retry
    succeeded, so the study's record decides; without one, results after the error do."""
    error_file = trial_dir / "error.txt"
    if not error_file.exists():
        return False
    if record.get("state") in ("COMPLETE", "PRUNED", "FAIL"):
        return record.get("status") == Status.ERROR
    last_report = max((r.get("reported_at", 0.0) for r in results), default=0.0)
    return error_file.stat().st_mtime >= last_report


def shard_dir_for(info: ExperimentInfo, config: dict[str, Any]) -> str:
    """The prepared data a trial trained on: the variant its `data.*` keys name."""
    return info.shards[variant_key(config)]


def trial_shard_dir(info: ExperimentInfo, trial_dir: str | Path) -> str:
    """`shard_dir_for` a trial folder, from its params.json."""
    params = json.loads((Path(trial_dir) / "params.json").read_text())
    return shard_dir_for(info, params)


def with_checkpoints(board: pd.DataFrame, k: int) -> pd.DataFrame:
    """The best `k` trials (in the board's order) that have a checkpoint."""
    return board if board.empty else board[board["checkpoint"] != ""].head(k)


def best_trials(experiment_dir: str | Path, k: int = 1) -> pd.DataFrame:
    """The experiment's best `k` trials with checkpoints; an error when there are none."""
    trials = with_checkpoints(build(experiment_dir), k)
    if trials.empty:
        raise FileNotFoundError(f"{experiment_dir}: no trial has a checkpoint yet")
    return trials


TIEBREAK = "_val_loss_at_best"


def objective_column(metric: str) -> str:
    """A further objective's column: its value at the epoch best on the metric."""
    return f"{metric}_at_best"


def _finite_or_inf(value: float | None) -> float:
    return float(value) if value is not None and math.isfinite(value) else math.inf


def build(experiment_dir: str | Path, test_top_k: int = 0) -> pd.DataFrame:
    """One row per trial, ranked by the validation metric. The first `test_top_k` rows with
    a checkpoint get their test-split scores as extra columns; they never change the
    ranking."""
    experiment_dir = Path(experiment_dir)
    info = read_info(experiment_dir)
    metric, mode, max_epochs = info.metric, info.mode, info.max_epochs
    others = info.further_objectives
    records = trial_records(experiment_dir)
    rows = []
    for params_file in sorted(experiment_dir.glob("*/params.json")):
        trial_dir = params_file.parent
        params = json.loads(params_file.read_text())
        results = read_results(trial_dir)
        values = [r[metric] for r in results if r.get(metric) is not None]
        best = best_value(values, mode)
        best = math.nan if best is None else best
        at_best = next((r for r in results if r.get(metric) == best), {})
        last = results[-1] if results else {}
        stop_reason = last.get("stop_reason", "")
        epochs = int(last.get("epoch", 0))
        trial_id = last.get("trial_id", trial_dir.name)
        record = records.get(trial_id, {})
        if _errored(trial_dir, record, results):  # the exception's last line says what
            status = Status.ERROR
            stop_reason = (trial_dir / "error.txt").read_text().strip().splitlines()[-1][:300]
        elif record.get("state") == "RUNNING":
            status = Status.RUNNING
        elif record.get("status"):  # what the searcher told the study
            status, stop_reason = record["status"], record.get("stop_reason", stop_reason)
        else:
            status = Status.COMPLETE if stop_reason else Status.STOPPED_EARLY
        rows.append({
            "trial_id": trial_id,
            "model": params.get("model", info.model),
            f"{metric}_best": best,
            "best_epoch": at_best.get("epoch"),
            f"{metric}_last": last.get(metric, math.nan),
            **{objective_column(m): at_best.get(m, math.nan) for m, _ in others},
            "epochs": epochs,
            "status": str(status),
            "stop_reason": stop_reason,
            "stopped_by_scheduler": stop_reason == STOPPED or (
                status == Status.STOPPED_EARLY and not stop_reason and epochs < max_epochs),
            "params": last.get("params"),
            "macs": last.get("macs"),
            "projected_epoch_s": last.get("projected_epoch_s", math.nan),
            "epoch_clips": last.get("epoch_clips"),  # fewer than train's at a lower fidelity
            "train_seconds": sum(r.get("epoch_time_s", 0.0) for r in results),
            "infer_ms_per_clip": last.get("infer_ms_per_clip", math.nan),
            "node": last.get("node", ""),
            **{k: v for k, v in params.items() if k not in ("model",)},
            "checkpoint": _best_checkpoint(trial_dir, metric, mode),
            "trial_dir": str(trial_dir),
            TIEBREAK: _finite_or_inf(at_best.get("val_loss")),
        })
    if not rows:  # no trial reported (a budget that ended first): the header alone
        return pd.DataFrame(columns=["rank", "trial_id", "model", f"{metric}_best",
                                     "best_epoch", f"{metric}_last", "epochs", "status",
                                     "stop_reason", "checkpoint", "trial_dir"])
    board = pd.DataFrame(rows)
    # Small validation sets tie often (accuracy in steps of 1/clips): the lower validation
    # loss at the best epoch ranks first, not whichever trial id sorts first.
    board = board.sort_values([f"{metric}_best", TIEBREAK], ascending=[mode == "min", True],
                              na_position="last", kind="stable")
    board = board.drop(columns=TIEBREAK).reset_index(drop=True)
    board.insert(0, "rank", range(1, len(board) + 1))
    if others:
        columns = [f"{metric}_best", *(objective_column(m) for m, _ in others)]
        usable = board["status"] != Status.ERROR
        marks = pareto.front(board.loc[usable, columns].to_numpy(dtype=float),
                             [mode, *(d for _, d in others)])
        board.insert(2, "pareto", False)
        board.loc[usable, "pareto"] = marks
    if test_top_k and info.shards:
        for index, row in with_checkpoints(board, test_top_k).iterrows():
            for name, value in test_scores(row["checkpoint"],
                                           trial_shard_dir(info, row["trial_dir"])).items():
                board.loc[index, name] = value
    return board


def write(experiment_dir: str | Path, test_top_k: int = DEFAULT_TEST_TOP_K) -> Path:
    """Write `leaderboard.csv` atomically: a reader never sees half a file."""
    experiment_dir = Path(experiment_dir)
    target = experiment_dir / "leaderboard.csv"
    tmp = target.with_suffix(f".csv.tmp-{os.getpid()}")
    build(experiment_dir, test_top_k).to_csv(tmp, index=False)
    os.replace(tmp, target)
    return target


def read(path: str | Path) -> pd.DataFrame:
    """A leaderboard CSV as written, its trial ids kept as text (pandas would read an id such
    as `99e02494` as a number: infinity)."""
    return pd.read_csv(path, dtype={"trial_id": str})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment_dir", type=Path)
    parser.add_argument("--test-top-k", type=int, default=DEFAULT_TEST_TOP_K,
                        help="score this many best trials (by validation) on the test split")
    args = parser.parse_args(argv)
    path = write(args.experiment_dir, args.test_top_k)
    board = read(path)
    print(board.head(20).to_string(index=False))
    print(f"\n{len(board)} trials; written to {path}")


if __name__ == "__main__":
    main()
