"""The Ray Tune function trainable: `fit` with Tune's checkpoints and reports."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import ray
from ray import tune

from .checkpoints import METRICS_FILE, read_state, write_checkpoint
from .data import TrialData, variant_key
from .loop import fit


def train(config: dict[str, Any], shards: dict[str, str]) -> None:
    """Train one trial on the prepared variant its config names, mapped read-only from its
    shard folder (which every node reads from the shared results storage); resume from
    Tune's latest checkpoint when the trial restarts."""
    began = time.perf_counter()
    folder = Path(shards[variant_key(config)])
    if not (folder / "manifest.json").exists():
        raise FileNotFoundError(
            f"{folder}: the prepared data is not on this node; on a cluster, give --results "
            "a folder every node mounts (NFS or similar)")
    data = TrialData.from_shards(folder)
    node = ray.get_runtime_context().get_node_id()[:12]  # which machine ran it
    resume = None
    checkpoint = tune.get_checkpoint()
    if checkpoint is not None:
        with checkpoint.as_directory() as folder:
            resume = read_state(folder)

    def report(metrics: dict[str, Any], state: dict[str, Any]) -> None:
        # Tune's own `timestamp` has one-second resolution; reports and benchmarks order
        # epochs across trials by this.
        metrics = {**metrics, "node": node, "reported_at": time.time()}
        with tempfile.TemporaryDirectory() as folder:
            write_checkpoint(Path(folder), state)
            (Path(folder) / METRICS_FILE).write_text(json.dumps(metrics))
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))

    fit(config, data, report, resume, began)
