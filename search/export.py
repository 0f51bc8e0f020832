"""`python -m search.export results/<experiment> [--out DIR]`: take the best trial away.

Writes `best.yaml`, a space with the best trial's values fixed that `search.run` accepts for
one retraining run (its `data.*` choices folded into the dataset section), and `model.pt`
with `model.json`: the weights, the model's name and config, its label names, and the
preparation parameters its inputs need (what `search.predict` uses).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
import yaml

from contracts.experiment import ExperimentInfo, read_info
from contracts.shards import read_manifest
from data_prep.config import with_dotted
from trainables.checkpoints import read_checkpoint
from trainables.data import DATA_PREFIX

from .leaderboard import best_trials, build, shard_dir_for, with_checkpoints

TRIAL_KEYS = {"model", "max_epochs", "max_epoch_seconds"}  # set at a space's top level


def retraining_spec(info: ExperimentInfo, config: dict[str, Any]) -> dict[str, Any]:
    raw = dict(info.spec)
    chosen = {key[len(DATA_PREFIX):]: value for key, value in config.items()
              if key.startswith(DATA_PREFIX)}
    dataset = with_dotted(dict(raw.get("dataset") or {}), chosen)
    fixed = {key: value for key, value in config.items()
             if not key.startswith(DATA_PREFIX) and key not in TRIAL_KEYS}
    raw.update({"name": f"{raw.get('name', 'experiment')}-best", "dataset": dataset,
                "fixed": fixed, "space": {}, "num_samples": 1, "max_epochs": config["max_epochs"],
                "searcher": {"type": "random"}, "scheduler": {"type": "none"}})
    for key in ("time_budget_s", "start_from", "max_epoch_seconds"):
        raw.pop(key, None)
    return raw


def export(experiment_dir: Path, out: Path, trial_id: str | None = None) -> Path:
    """The best trial, or the trial `trial_id` (a member of a Pareto front, say)."""
    info = read_info(experiment_dir)
    if trial_id is None:
        row = best_trials(experiment_dir).iloc[0]
    else:
        board = build(experiment_dir)
        chosen = board[board["trial_id"] == trial_id] if len(board) else board
        if chosen.empty or not chosen.iloc[0]["checkpoint"]:
            known = list(with_checkpoints(board, len(board))["trial_id"]) if len(board) else []
            raise FileNotFoundError(f"{experiment_dir}: no trial {trial_id!r} with a "
                                    f"checkpoint; trials with one: {known}")
        row = chosen.iloc[0]
    tensors, meta = read_checkpoint(row["checkpoint"])
    config = meta.config
    out.mkdir(parents=True, exist_ok=True)
    (out / "best.yaml").write_text(yaml.safe_dump(retraining_spec(info, config),
                                                  sort_keys=False))
    # The weights alone (no optimiser state): what is shared, loaded with weights_only.
    torch.save({"model": tensors["model"]}, out / "model.pt")
    manifest = read_manifest(shard_dir_for(info, config))
    meta.extra = {"trial_id": row["trial_id"], info.metric: row[f"{info.metric}_best"],
                  "preparation": manifest.params}
    (out / "model.json").write_text(meta.to_json())
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m search.export",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("experiment_dir", type=Path)
    parser.add_argument("--out", type=Path, help="default: <experiment>/export")
    parser.add_argument("--trial", help="a trial id from the leaderboard (default: the best)")
    args = parser.parse_args(argv)
    try:
        out = export(args.experiment_dir, args.out or args.experiment_dir / "export",
                     args.trial)
    except FileNotFoundError as error:
        raise SystemExit(f"error: {error}") from None
    print(f"Exported to {out}: best.yaml (retrain with python -m search.run "
          f"{out / 'best.yaml'}), model.pt, model.json")


if __name__ == "__main__":
    main()
