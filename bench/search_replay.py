"""Replays a searcher on a grid's recorded learning curves, over many searcher seeds.

`bench/search_efficiency.py` trains every trial, so it affords six seeds a search, and
whether a 16-trial search reaches the one best config of 48 is decided by the seed. Training
on the CPU is deterministic, so a config's learning curve is the same whenever a search
trains it: this replays the project's own searcher (`search.tuning.make_searcher`, with
its study and redraws) and scheduler (`make_scheduler`: ASHA at the default rungs) on the
curves that a grid run recorded, two trials at a time on a simulated clock (each epoch
takes the time it took in the grid), and reports over `--seeds` how often the search came
within 1 point of the grid's best, and how often within 15% of the grid's epochs.

    .venv/bin/python bench/search_efficiency.py --only grid --results /tmp/se
    .venv/bin/python bench/search_replay.py /tmp/se/grid-0 [--seeds 200]
        [--search tpe+asha-random-redraw]

Not a substitute for the real bench (Tune's own timing and ordering are simulated), but
the same searcher code decides, seed for seed.
"""

from __future__ import annotations

import argparse
import copy
import heapq
import json
import logging
import tempfile
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import optuna
from ray.tune.schedulers import TrialScheduler
from search_efficiency import SEARCHES, SPACE, epochs_to_target, replaced_for, tally

from search import tuning
from search.spec import parse_spec

KEYS = tuple(SPACE["space"])


def curves(grid: Path) -> dict[tuple, list[dict]]:
    """config (the searched keys' values) -> its epochs' reports, in order."""
    found = {}
    for path in grid.glob("*/result.json"):
        rows = sorted((json.loads(line) for line in path.read_text().splitlines()),
                      key=lambda r: r["training_iteration"])
        found[tuple(rows[0]["config"][k] for k in KEYS)] = rows
    return found


def replay(recorded: dict[tuple, list[dict]], name: str, seed: int, samples: int,
           workers: int = 2) -> list[float]:
    """One search replayed: the val accuracy of every epoch, in the order they ended."""
    searcher_options, scheduler_options, _ = SEARCHES[name]
    raw = {**copy.deepcopy(SPACE), "name": "replay", "num_samples": samples,
           "searcher": {**searcher_options, "seed": seed}, "scheduler": scheduler_options}
    spec = parse_spec(raw)
    searcher = tuning.make_searcher(spec, seed, Path(tempfile.mkdtemp()))
    scheduler = tuning.make_scheduler(spec)
    clock, events, running, started, epochs = 0.0, [], {}, 0, []

    def start() -> None:
        nonlocal started
        started += 1
        tid = f"t{started}"
        config = searcher.suggest(tid)
        trial = SimpleNamespace(trial_id=tid)
        scheduler.on_trial_add(None, trial)
        running[tid] = (trial, recorded[tuple(config[k] for k in KEYS)])
        heapq.heappush(events, (clock + running[tid][1][0]["epoch_time_s"], tid, 0))

    for _ in range(min(workers, samples)):
        start()
    while events:
        clock, tid, epoch = heapq.heappop(events)
        trial, rows = running[tid]
        row = rows[epoch]
        result = {"training_iteration": epoch + 1, "val_accuracy": row["val_accuracy"],
                  "val_log_loss": row.get("val_log_loss"), "time_total_s": clock}
        epochs.append(row["val_accuracy"])
        searcher.on_trial_result(tid, result)
        action = scheduler.on_trial_result(None, trial, result)
        last = epoch + 1 == len(rows)
        if last or action == TrialScheduler.STOP:
            if last:
                result["stop_reason"] = "max_epochs"
            searcher.on_trial_complete(tid, result)
            scheduler.on_trial_remove(None, trial)
            del running[tid]
            if started < samples:
                start()
        else:
            heapq.heappush(events, (clock + rows[epoch + 1]["epoch_time_s"], tid, epoch + 1))
    return epochs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("grid", type=Path, help="a grid run's experiment folder")
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--search", default="tpe+asha", choices=sorted(
        name for name, (_, scheduler, _) in SEARCHES.items()
        if scheduler["type"] == "asha" and not name.endswith("-ray")))
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    logging.getLogger("search").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    recorded = curves(args.grid)
    grid_epochs = sum(len(rows) for rows in recorded.values())
    target = max(r["val_accuracy"] for rows in recorded.values() for r in rows) - 0.01
    shares = []
    with replaced_for(args.search):
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            epochs = replay(recorded, args.search, seed, args.samples)
            spent = epochs_to_target(epochs, target)
            shares.append(None if spent is None else spent / grid_epochs)
    found = [s for s in shares if s is not None]
    print(f"{len(recorded)} configs, {grid_epochs} grid epochs (best {target + 0.01:.3f}), "
          f"seeds {args.first_seed}-{args.first_seed + args.seeds - 1}")
    print(f"{tally(args.search, shares)}; median share when found "
          f"{100 * np.median(found) if found else float('nan'):.1f}%")


if __name__ == "__main__":
    main()
