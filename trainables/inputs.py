"""A split's model inputs as a trial reads them: in memory, or streamed from the shards.

- In memory: normalised once into one tensor (on the GPU when it fits there), indexed per
  batch. The fastest path, and a full copy of the split per trial.
- Streaming: each batch's rows read from the memory-mapped `.npy` and normalised on the
  fly. Trials on a node share the OS page cache, so memory stays flat whatever the data's
  size, and a trial's first batch needs no full pass over its data.

Both give the same batches for the same rows: the epoch order never depends on the path, so
a result does not depend on the machine's memory.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from .augment import centre_crop
from .data import normalise
from .keys import Key

# A trial streams when its train and val arrays exceed this share of the node's memory
# divided among the trials the node can run (its CPUs over the trial's threads): 24 GiB and
# 2 one-CPU trials stream above 3 GiB each.
STREAM_SHARE = 0.25
KEYS = (
    Key("streaming", "bool", None, "read batches from the memory-mapped shards instead of a "
        "normalised copy in memory; null: when the data exceeds a share of the node's memory",
        nullable=True),
)


def node_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def streams(config: Mapping[str, Any], nbytes: int) -> bool:
    """Whether a trial of `config` streams data of `nbytes` (train and val)."""
    if config.get("streaming") is not None:
        return bool(config["streaming"])
    trials = max(1, (os.cpu_count() or 1) // max(1, torch.get_num_threads()))
    return nbytes > STREAM_SHARE * node_memory() / trials


class Inputs:
    """Rows of one split, normalised as the model sees them; `inputs[rows]` is a tensor."""

    def __init__(self, x: np.ndarray, normalisation: Mapping[str, Any], device: torch.device,
                 stream: bool, crop: int | None = None) -> None:
        self.x, self.normalisation, self.crop = x, normalisation, crop
        self.stream = stream
        self.tensor = None if stream else self._tensor(x).to(device)

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        t = torch.from_numpy(normalise(np.asarray(x), self.normalisation))
        return centre_crop(t, self.crop) if self.crop else t

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, rows: slice | torch.Tensor) -> torch.Tensor:
        if self.tensor is not None:
            return self.tensor[rows]
        if isinstance(rows, torch.Tensor):
            rows = rows.cpu().numpy()
        return self._tensor(self.x[rows])

    def head(self, n: int) -> Inputs:
        """The first `n` rows, without copying them."""
        head = copy.copy(self)
        head.x = self.x[:n]
        head.tensor = None if self.tensor is None else self.tensor[:n]
        return head
