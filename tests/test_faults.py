"""Faults a search must survive: trials that raise or diverge, a driver killed mid-way."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from search.leaderboard import read as read_leaderboard
from search.run import run
from search.spec import parse_spec
from search.study import TUNE_ID, load_study

TINY_DATA = {"sample_rate": 4000, "clip_seconds": 0.25,
             "synthetic": {"clips_per_class": 8, "classes": ["tone", "beeps"]}}
FIXED = {"batch_size": 8, "first_kernel": 16, "first_stride": 4, "pool": 4, "channels": 8,
         "conv_layers": 2}


def test_raising_and_diverging_trials_are_recorded_and_the_search_goes_on(ray_local, tmp_path):
    spec = parse_spec({
        "name": "faults", "dataset": TINY_DATA, "model": "cnn1d",
        "metric": "val_accuracy", "mode": "max",
        "searcher": {"type": "random", "seed": 5}, "scheduler": {"type": "none"},
        "max_epochs": 3, "num_samples": 6,
        "fixed": {**{k: v for k, v in FIXED.items() if k != "pool"}, "norm": "none"},
        # A pool wider than what is left of the clip raises inside the trial.
        "space": {"pool": {"choice": [4, 1024]}, "lr": {"choice": [1e-3, 1e12]},
                  "optimizer": {"choice": ["sgd"]}},
    })
    board = read_leaderboard(run(spec, tmp_path) / "leaderboard.csv")
    assert len(board) == 6
    raised = board[board["pool"] == 1024]
    diverged = board[(board["pool"] == 4) & (board["lr"] > 1)]
    healthy = board[(board["pool"] == 4) & (board["lr"] < 1)]
    assert len(raised) and len(diverged) and len(healthy)
    assert (raised["status"] == "error").all()
    assert raised["stop_reason"].str.contains("Invalid computed output size").all()
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


# The emptied-state case is the slower twin of the first (a minute each): CI runs it.
@pytest.mark.parametrize("corrupt", [False, pytest.param(True, marks=pytest.mark.slow)],
                         ids=["as-left", "searcher-state-emptied"])
def test_a_killed_search_resumes_without_rerunning_finished_trials(tmp_path, corrupt):
    space = tmp_path / "tiny.yaml"
    space.write_text(yaml.safe_dump({
        "name": "killed", "model": "cnn1d",
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
    if corrupt:  # as a kill -9 that lands while Tune saves it can leave it
        states = list(experiment.glob("searcher-state-*.pkl"))
        assert states
        for path in states:
            path.write_bytes(b"")

    # As if the first run had had another numpy: the resume says so.
    record = experiment / "experiment.json"
    started = json.loads(record.read_text())
    record.write_text(json.dumps({**started, "environment": {**started["environment"],
                                                             "numpy": "1.0.0"}}))

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Resuming" in again.stdout
    assert f"numpy {np.__version__} (was 1.0.0)" in again.stdout
    board = read_leaderboard(experiment / "leaderboard.csv")
    assert len(board) == 8 and (board["status"] == "complete").all()
    assert (board["epochs"] == 3).all()
    after = finished_trials(experiment, 3)
    for trial_id, text in before.items():
        assert after[trial_id] == text, f"trial {trial_id} was run again"
    study = load_study(experiment)  # the searcher's history: every trial, none left running
    told = {t.user_attrs.get(TUNE_ID): t.state.name for t in study.trials}
    assert all(told[trial_id] == "COMPLETE" for trial_id in board["trial_id"])
    assert "RUNNING" not in told.values()


def test_storage_uri_holds_the_experiment_and_a_rerun_resumes_it(ray_local, tmp_path):
    """`--storage` as a URI (here file://, as s3:// or gs:// would be): trials and the
    leaderboard land there; the same command again restores the finished experiment."""
    raw = {"name": "stored", "dataset": TINY_DATA, "model": "cnn1d",
           "metric": "val_accuracy", "mode": "max", "searcher": {"type": "random", "seed": 0},
           "scheduler": {"type": "none"}, "max_epochs": 2, "num_samples": 3, "fixed": FIXED,
           "space": {"lr": {"loguniform": [1e-3, 1e-2]}}}
    shared = tmp_path / "bucket"
    uri = f"file://{shared}"
    run(parse_spec(raw), tmp_path / "local", storage=uri)
    board = read_leaderboard(shared / "stored" / "leaderboard.csv")
    assert len(board) == 3 and (board["status"] == "complete").all()
    assert len(list((shared / "stored").glob("*/checkpoint_*"))) >= 3
    trial_results = {p.parent.name: p.read_bytes()
                     for p in (shared / "stored").glob("*/result.json")}
    run(parse_spec(raw), tmp_path / "local", storage=uri)
    assert {p.parent.name: p.read_bytes()
            for p in (shared / "stored").glob("*/result.json")} == trial_results
    assert len(read_leaderboard(shared / "stored" / "leaderboard.csv")) == 3


def test_max_failures_restarts_a_killed_trial_from_its_checkpoint(ray_local, tmp_path):
    """The trial's process dies after its first epoch; the retry continues from that
    epoch's checkpoint in a new process, and no epoch runs twice."""
    import json
    import threading

    spec = parse_spec({
        "name": "retry", "model": "cnn1d", "metric": "val_accuracy", "mode": "max",
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
    board = read_leaderboard(run(spec, tmp_path) / "leaderboard.csv")
    watcher.join()
    assert killed, "the trial finished before it could be killed"
    rows = [json.loads(line) for result in (tmp_path / "retry").glob("*/result.json")
            for line in result.read_text().splitlines()]
    assert board["status"].tolist() == ["complete"] and board["epochs"].tolist() == [6]
    epochs = [r["epoch"] for r in rows]
    assert epochs == sorted(set(epochs)) and epochs[-1] == 6, epochs  # none ran twice
    assert killed[0] in {r["pid"] for r in rows}
    assert len({r["pid"] for r in rows}) == 2  # the retry ran in a new process


@pytest.mark.slow  # two searches at once on two cores: 40 s; CI runs it
def test_two_searches_run_side_by_side_and_keep_the_token_private(tmp_path):
    """Each starts its own Ray with its own dashboard port (the first free from 8265)."""
    commands = []
    for name in ("left", "right"):
        space = tmp_path / f"{name}.yaml"
        space.write_text(yaml.safe_dump({
            "name": name, "model": "cnn1d", "dataset": TINY_DATA,
            "metric": "val_accuracy", "mode": "max", "searcher": {"type": "random", "seed": 0},
            "scheduler": {"type": "none"}, "max_epochs": 2, "num_samples": 2,
            "max_concurrent": 1, "fixed": FIXED, "space": {"lr": {"choice": [1e-3, 3e-3]}},
        }))
        commands.append([sys.executable, "-m", "search.run", str(space),
                         "--results", str(tmp_path / "results")])
    env = {**os.environ, "RAY_DEDUP_LOGS": "0"}
    drivers = [subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for c in commands]
    outputs = [driver.communicate(timeout=300) for driver in drivers]
    for driver, (out, err) in zip(drivers, outputs, strict=True):
        assert driver.returncode == 0, err[-3000:]
        assert "Search finished" in out
    ports = {line.split("127.0.0.1:")[1].split()[0] for out, _ in outputs
             for line in out.splitlines() if line.startswith("Ray dashboard:")}
    assert len(ports) == 2
    for name in ("left", "right"):
        board = read_leaderboard(tmp_path / "results" / name / "leaderboard.csv")
        assert len(board) == 2 and (board["status"] == "complete").all()
    token = Path.home() / ".ray" / "auth_token"
    if token.exists():
        assert token.stat().st_mode & 0o077 == 0


@pytest.mark.slow  # 40 s on 2 cores; the killed-search test keeps resuming in the default run
def test_ctrl_c_ends_with_a_non_zero_exit_and_keeps_the_leaderboard(tmp_path):
    space = tmp_path / "interrupted.yaml"
    space.write_text(yaml.safe_dump({
        "name": "interrupted", "model": "cnn1d",
        "dataset": {**TINY_DATA, "synthetic": {"clips_per_class": 60,
                                               "classes": ["tone", "beeps"]}},
        "metric": "val_accuracy", "mode": "max", "searcher": {"type": "random", "seed": 0},
        "scheduler": {"type": "none"}, "max_epochs": 30, "num_samples": 4,
        "max_concurrent": 1, "fixed": FIXED, "space": {"lr": {"loguniform": [1e-3, 1e-2]}},
    }))
    experiment = tmp_path / "interrupted"
    driver = subprocess.Popen([sys.executable, "-m", "search.run", str(space), "--results",
                               str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    deadline = time.time() + 240
    while not finished_trials(experiment, 1) and time.time() < deadline:
        assert driver.poll() is None, driver.communicate()[1][-3000:]
        time.sleep(0.1)
    driver.send_signal(signal.SIGINT)
    out, err = driver.communicate(timeout=120)
    assert driver.returncode == 1, err[-3000:]
    assert "search incomplete: interrupted" in err and "run the same command to resume" in err
    assert "Search stopped" in out and "Search finished" not in out
    assert len(read_leaderboard(experiment / "leaderboard.csv")) >= 1
