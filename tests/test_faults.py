"""Faults a search must survive: trials that raise or diverge, a driver killed mid-way."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from search.run import run
from search.spec import parse_spec

TINY_DATA = {"sample_rate": 4000, "clip_seconds": 0.25,
             "synthetic": {"clips_per_class": 8, "classes": ["tone", "beeps"]}}
FIXED = {"batch_size": 8, "first_kernel": 16, "first_stride": 4, "pool": 4, "channels": 8,
         "conv_layers": 2}


def test_raising_and_diverging_trials_are_recorded_and_the_search_goes_on(ray_local, tmp_path):
    spec = parse_spec({
        "name": "faults", "dataset": TINY_DATA, "trainable": "cnn1d",
        "metric": "val_accuracy", "mode": "max",
        "searcher": {"type": "random", "seed": 5}, "scheduler": {"type": "none"},
        "max_epochs": 3, "num_samples": 6, "fixed": {**FIXED, "norm": "none"},
        "space": {"act": {"choice": ["relu", "swish"]}, "lr": {"choice": [1e-3, 1e12]},
                  "optimizer": {"choice": ["sgd"]}},
    })
    board = pd.read_csv(run(spec, tmp_path) / "leaderboard.csv")
    assert len(board) == 6
    raised = board[board["act"] == "swish"]
    diverged = board[(board["act"] == "relu") & (board["lr"] > 1)]
    healthy = board[(board["act"] == "relu") & (board["lr"] < 1)]
    assert len(raised) and len(diverged) and len(healthy)
    assert (raised["status"] == "error").all()
    assert raised["stop_reason"].str.contains("unknown activation 'swish'").all()
    assert diverged["stop_reason"].str.startswith("diverged").all()
    assert (healthy["stop_reason"] == "max_epochs").all()
    assert board["rank"].iloc[0] in set(healthy["rank"])  # failures rank last


def finished_trials(experiment: Path, epochs: int) -> dict[str, bytes]:
    done = {}
    for result in experiment.glob("*/result.json"):
        text = result.read_bytes()
        if text.count(b"\n") >= epochs:
            done[result.parent.name] = text
    return done


def test_a_killed_search_resumes_without_rerunning_finished_trials(tmp_path):
    space = tmp_path / "tiny.yaml"
    space.write_text(yaml.safe_dump({
        "name": "killed", "trainable": "cnn1d",
        # Trials of about a second each, so that the kill lands between two of them.
        "dataset": {**TINY_DATA, "sample_rate": 8000, "clip_seconds": 0.5,
                    "synthetic": {"clips_per_class": 60, "classes": ["tone", "beeps"]}},
        "metric": "val_accuracy", "mode": "max",
        "searcher": {"type": "optuna_tpe", "seed": 0, "n_startup_trials": 2},
        "scheduler": {"type": "none"}, "max_epochs": 3, "num_samples": 8,
        "max_concurrent": 1, "fixed": FIXED,
        "space": {"lr": {"loguniform": [1e-3, 1e-2]}, "dropout": {"uniform": [0.0, 0.5]}},
    }))
    command = [sys.executable, "-m", "search.run", str(space), "--results", str(tmp_path)]
    env = {**os.environ, "RAY_DEDUP_LOGS": "0"}
    experiment = tmp_path / "killed"

    driver = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 240
    while len(finished_trials(experiment, 3)) < 2 and time.time() < deadline:
        assert driver.poll() is None, "the search ended before it could be killed"
        time.sleep(0.1)
    os.killpg(driver.pid, signal.SIGKILL)
    driver.wait()
    before = finished_trials(experiment, 3)
    assert 2 <= len(before) < 8

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Resuming" in again.stdout
    board = pd.read_csv(experiment / "leaderboard.csv")
    assert len(board) == 8 and (board["status"] == "complete").all()
    assert (board["epochs"] == 3).all()
    after = finished_trials(experiment, 3)
    for trial_id, text in before.items():
        assert after[trial_id] == text, f"trial {trial_id} was run again"


def test_storage_uri_holds_the_experiment_and_a_rerun_resumes_it(ray_local, tmp_path):
    """`--storage` as a URI (here file://, as s3:// or gs:// would be): trials and the
    leaderboard land there; the same command again restores the finished experiment."""
    raw = {"name": "stored", "dataset": TINY_DATA, "trainable": "cnn1d",
           "metric": "val_accuracy", "mode": "max", "searcher": {"type": "random", "seed": 0},
           "scheduler": {"type": "none"}, "max_epochs": 2, "num_samples": 3, "fixed": FIXED,
           "space": {"lr": {"loguniform": [1e-3, 1e-2]}}}
    shared = tmp_path / "bucket"
    uri = f"file://{shared}"
    run(parse_spec(raw), tmp_path / "local", storage=uri)
    board = pd.read_csv(shared / "stored" / "leaderboard.csv")
    assert len(board) == 3 and (board["status"] == "complete").all()
    assert len(list((shared / "stored").glob("*/checkpoint_*"))) >= 3
    trial_results = {p.parent.name: p.read_bytes()
                     for p in (shared / "stored").glob("*/result.json")}
    run(parse_spec(raw), tmp_path / "local", storage=uri)
    assert {p.parent.name: p.read_bytes()
            for p in (shared / "stored").glob("*/result.json")} == trial_results
    assert len(pd.read_csv(shared / "stored" / "leaderboard.csv")) == 3


def test_max_failures_restarts_a_killed_trial_from_its_checkpoint(ray_local, tmp_path):
    """The trial's process dies after its first epoch; the retry continues from that
    epoch's checkpoint in a new process, and no epoch runs twice."""
    import json
    import threading

    spec = parse_spec({
        "name": "retry", "trainable": "cnn1d", "metric": "val_accuracy", "mode": "max",
        "dataset": {**TINY_DATA, "clip_seconds": 1.0,
                    "synthetic": {"clips_per_class": 40, "classes": ["tone", "beeps"]}},
        "searcher": {"type": "random", "seed": 0}, "scheduler": {"type": "none"},
        "max_epochs": 6, "num_samples": 1, "max_failures": 1, "fixed": FIXED,
        "space": {"lr": {"choice": [1e-3]}},
    })
    killed: list[int] = []

    def kill_after_first_epoch() -> None:
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            for result in (tmp_path / "retry").glob("*/result.json"):
                lines = result.read_text().splitlines()
                if lines and json.loads(lines[0])["training_iteration"] == 1:
                    pid = json.loads(lines[0])["pid"]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.02)

    watcher = threading.Thread(target=kill_after_first_epoch, daemon=True)
    watcher.start()
    board = pd.read_csv(run(spec, tmp_path) / "leaderboard.csv")
    watcher.join()
    assert killed, "the trial finished before it could be killed"
    rows = [json.loads(line) for result in (tmp_path / "retry").glob("*/result.json")
            for line in result.read_text().splitlines()]
    assert board["status"].tolist() == ["complete"] and board["epochs"].tolist() == [6]
    epochs = [r["epoch"] for r in rows]
    assert epochs == sorted(set(epochs)) and epochs[-1] == 6, epochs  # none ran twice
    assert killed[0] in {r["pid"] for r in rows}
    assert len({r["pid"] for r in rows}) == 2  # the retry ran in a new process
