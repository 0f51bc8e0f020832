"""What a search writes about itself beside its trials (`experiment.json`), for the
leaderboard, report, export, predict and ensemble to read back as the same typed object.

Version 1 (before this module) had no `version` and no `objectives` (read as one objective,
the metric), and named the model `trainable`.
"""

from __future__ import annotations

import dataclasses
import json
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

EXPERIMENT_FILE = "experiment.json"
VERSION = 2
# What a trial's numbers depend on besides its config and seed: the libraries, and the
# CPU's vector instructions (which pick torch's kernels, and so the float rounding that a
# training run then amplifies). The same space and seeds gave a grid's best 0.952, 0.945,
# 0.923 and 0.952 in four sessions (bench/RESULTS.md): a result compares with one made on
# the same of these.
RESULT_PACKAGES = ("torch", "numpy", "scipy", "librosa", "soxr", "soundfile", "ray", "optuna")


def current_environment() -> dict[str, str]:
    """The machine ("x86_64 AVX512"), Python's and each of RESULT_PACKAGES' installed
    version ("missing" if absent)."""
    versions = {"machine": platform.machine(), "python": platform.python_version()}
    try:
        import torch

        versions["machine"] += f" {torch.backends.cpu.get_cpu_capability()}"
    except ImportError:  # the contracts do not need torch; a reader may not have it
        pass
    for name in RESULT_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "missing"
    return versions


def describe_environment(environment: dict[str, str]) -> str:
    """As a line: "machine x86_64 AVX512, python 3.11.7, torch 2.13.0+cpu, ..."."""
    return ", ".join(f"{name} {version}" for name, version in environment.items())


@dataclass
class ExperimentInfo:
    metric: str  # the first objective: what the scheduler stops on and trials rank by
    mode: str
    max_epochs: int
    model: str  # the model family the trials train
    shards: dict[str, str]  # data variant key -> shard folder
    spec: dict[str, Any]  # the space file as given (its keys resolved)
    objectives: list[tuple[str, str]] = field(default_factory=list)  # (metric, mode) each
    search_seconds: float | None = None
    environment: dict[str, str] = field(default_factory=dict)  # `current_environment()`
    # What the search lowered to afford its configs: `epoch_fraction`, and why.
    fidelity: dict[str, Any] = field(default_factory=dict)
    version: int = VERSION

    def __post_init__(self) -> None:
        self.objectives = [tuple(o) for o in self.objectives] or [(self.metric, self.mode)]

    @property
    def further_objectives(self) -> list[tuple[str, str]]:
        """The objectives besides the metric."""
        return self.objectives[1:]

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ExperimentInfo:
        known = {f.name for f in dataclasses.fields(cls)}
        raw = {("model" if k == "trainable" else k): v for k, v in raw.items()}  # version 1
        return cls(**{"version": 1, **{k: v for k, v in raw.items() if k in known}})

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)


def read_info(experiment_dir: str | Path) -> ExperimentInfo:
    return ExperimentInfo.from_dict(
        json.loads((Path(experiment_dir) / EXPERIMENT_FILE).read_text()))
