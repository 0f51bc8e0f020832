"""What a trial's checkpoint folder, and an exported model, hold.

Tensors go in `state.pt` and are loaded with `weights_only=True`; everything else (config,
labels, normalisation, the epoch) is JSON in `meta.json`, a `CheckpointMeta`. Nothing is
unpickled as Python objects, so a checkpoint or a shared `model.pt` cannot run code when
loaded. An exported `model.pt` has its metadata beside it as `model.json`.

torch is imported inside the functions that need it: search reads the file names without it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from contracts.errors import ConfigError

STATE_FILE = "state.pt"  # tensors: model, optimiser, schedule, generator (see TENSOR_KEYS)
META_FILE = "meta.json"  # a CheckpointMeta
METRICS_FILE = "metrics.json"  # the epoch's reported metrics
# With a weight average (`ema_epochs`), "model" is the average, the weights scored and
# used; "train_model" and "averaged_steps" are what resuming the training needs besides.
TENSOR_KEYS = ("model", "optimizer", "schedule", "generator", "train_model", "averaged_steps")
VERSION = 1


class CheckpointError(ConfigError):
    """A checkpoint or model file that cannot be loaded safely; the message says why."""


@dataclass
class CheckpointMeta:
    config: dict[str, Any]
    input_shape: list[int]
    label_names: list[str]
    normalisation: dict[str, Any]
    representation: str = "waveform"
    multi_label: bool = False
    epoch: int = 0
    best_val_loss: float = math.inf
    stale: int = 0  # epochs since val_loss last improved
    version: int = VERSION
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. what search.export adds

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CheckpointMeta:
        """From JSON, or from the state dict of a checkpoint written before `meta.json`
        (version 0, everything in `state.pt`); keys it does not know are left out."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        values.setdefault("version", 0)
        return cls(**values)

    def to_json(self) -> str:
        # JSON has no infinity: a trial that never improved writes null.
        values = asdict(self)
        if not math.isfinite(values["best_val_loss"]):
            values["best_val_loss"] = None
        return json.dumps(values, indent=1, default=str)

    @classmethod
    def from_json(cls, text: str) -> CheckpointMeta:
        raw = json.loads(text)
        if raw.get("best_val_loss") is None:
            raw["best_val_loss"] = math.inf
        return cls.from_dict(raw)


def meta_path(path: Path) -> Path:
    """`meta.json` beside a checkpoint's `state.pt`; `X.json` beside an exported `X.pt`."""
    return path.with_name(META_FILE) if path.name == STATE_FILE else path.with_suffix(".json")


def write_checkpoint(folder: Path, state: dict[str, Any]) -> None:
    """The loop's state (tensors and metadata together) as `state.pt` + `meta.json`."""
    import torch

    folder = Path(folder)
    torch.save({k: state[k] for k in TENSOR_KEYS if k in state}, folder / STATE_FILE)
    (folder / META_FILE).write_text(CheckpointMeta.from_dict(state).to_json())


def load_tensors(path: Path) -> dict[str, Any]:
    """A `.pt` file's tensors, refused when it holds anything that must be unpickled."""
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        first = str(error).strip().splitlines()[0]
        raise CheckpointError(
            f"{path}: refused: it holds pickled Python objects, and unpickling them could run "
            f"code ({first}). Load only tensors: re-export the model with python -m "
            "search.export from the search that made it") from None
    except Exception as error:  # not a torch file at all
        raise CheckpointError(f"{path}: not a PyTorch checkpoint ({error})") from None


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], CheckpointMeta]:
    """(tensors, metadata) from a checkpoint folder, its `state.pt`, or an exported model."""
    path = Path(path)
    path = path / STATE_FILE if path.is_dir() else path
    if not path.exists():
        raise FileNotFoundError(f"no model state at {path}")
    tensors = load_tensors(path)
    if not isinstance(tensors, dict) or "model" not in tensors:
        raise CheckpointError(f"{path}: holds no model state")
    side = meta_path(path)
    meta = (CheckpointMeta.from_json(side.read_text()) if side.exists()
            else CheckpointMeta.from_dict(tensors))
    return tensors, meta


def read_state(path: str | Path) -> dict[str, Any]:
    """The loop's state back, tensors and metadata in one mapping (for resuming)."""
    tensors, meta = read_checkpoint(path)
    return {**asdict(meta), **{k: v for k, v in tensors.items() if k in TENSOR_KEYS}}
