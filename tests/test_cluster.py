"""`--address`: a search joins an existing two-node Ray cluster, started as users start one."""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from search.leaderboard import read as read_leaderboard

RAY = str(Path(sys.executable).with_name("ray"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_search_places_trials_on_both_nodes_of_a_cluster(tmp_path):
    env = {**os.environ, "RAY_AUTH_MODE": "token"}  # as `ray start --address` requires
    port = free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus=1", "--block", "--disable-usage-stats"]
    # --block keeps each node in the foreground, so ending it ends only this cluster.
    head = subprocess.Popen([RAY, "start", "--head", f"--port={port}",
                             "--include-dashboard=false", *common], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    try:
        time.sleep(8)
        worker = subprocess.Popen([RAY, "start", f"--address={address}", *common], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(8)
        space = tmp_path / "tiny.yaml"
        space.write_text(yaml.safe_dump({
            "name": "two-nodes", "model": "cnn1d", "metric": "val_accuracy",
            "mode": "max",
            "dataset": {"sample_rate": 8000, "clip_seconds": 0.5,
                        "synthetic": {"clips_per_class": 40, "classes": ["tone", "beeps"]}},
            "searcher": {"type": "random", "seed": 0}, "scheduler": {"type": "none"},
            "max_epochs": 3, "num_samples": 6,
            "fixed": {"batch_size": 8, "first_kernel": 16, "first_stride": 4, "pool": 4,
                      "channels": 16, "conv_layers": 3},
            "space": {"lr": {"loguniform": [1e-3, 1e-2]}},
        }))
        shared = tmp_path / "shared"  # both nodes see it: the storage path of the run
        done = subprocess.run([sys.executable, "-m", "search.run", str(space), "--address",
                               address, "--results", str(shared)], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "2 at once" in done.stdout  # one CPU on each node
        board = read_leaderboard(shared / "two-nodes" / "leaderboard.csv")
        assert len(board) == 6 and (board["status"] == "complete").all()
        nodes = set()
        for trial_dir in board["trial_dir"]:
            lines = (Path(trial_dir) / "result.json").read_text().splitlines()
            nodes |= {json.loads(line)["node"] for line in lines}
            assert Path(trial_dir).is_relative_to(shared)
        assert len(nodes) == 2, f"trials ran on {nodes}"
    finally:
        for node in (worker, head):
            if node is not None:
                node.terminate()
                node.wait(timeout=60)
        # `ray start --head` records its address for later `ray.init()` calls to join.
        current = Path("/tmp/ray/ray_current_cluster")
        if current.exists() and current.read_text().strip().endswith(f":{port}"):
            current.unlink()
