"""Which training examples an epoch visits: shuffled, class-balanced, or oversampled."""

from __future__ import annotations

import math

import numpy as np
import torch

from .keys import Key

KEYS = (
    Key("sampling", "str", "shuffle", "shuffle: every clip once per epoch; balanced: each "
        "class equally likely", choices=("shuffle", "balanced")),
    Key("oversample_to", "int", None, "repeat each class up to this many clips per epoch",
        interval="[1, 10000000]", nullable=True),
    Key("epoch_fraction", "float", 1.0, "share of the epoch's draws an epoch trains on (a "
        "new draw each epoch): the data fidelity a search lowers when its configs cost more "
        "than max_epoch_seconds", interval="(0, 1]"),
)


def epoch_order(y: np.ndarray, config: dict, g: torch.Generator) -> torch.Tensor:
    """Indices of one epoch.

    - `sampling: shuffle` (default): every example once, shuffled.
    - `sampling: balanced`: as many draws as examples, each class equally likely.
    - `oversample_to: N`: every class repeated (with replacement) up to N examples, the
      MP3 seed's oversampling of minority classes; classes above N keep all theirs.
    Multi-label targets use each clip's rarest label as its class.
    """
    labels = _sampling_labels(y)
    n = len(labels)
    mode = config.get("sampling", "shuffle")
    if mode not in ("shuffle", "balanced"):
        raise ValueError(f"sampling {mode!r}: choose from ['shuffle', 'balanced']")
    if config.get("oversample_to"):
        target = int(config["oversample_to"])
        parts = []
        for c in np.unique(labels):
            members = torch.from_numpy(np.flatnonzero(labels == c))
            extra = max(0, target - len(members))
            picks = torch.randint(0, len(members), (extra,), generator=g)
            parts += [members, members[picks]]
        order = torch.cat(parts)
        return order[torch.randperm(len(order), generator=g)]
    if mode == "balanced":
        counts = np.bincount(labels)
        weights = torch.from_numpy(1.0 / counts[labels])
        return torch.multinomial(weights, n, replacement=True, generator=g)
    return torch.randperm(n, generator=g)


def epoch_rows(y: np.ndarray, versions: np.ndarray | None, config: dict,
               g: torch.Generator) -> torch.Tensor:
    """Rows of one epoch. With offline copies (`versions`: 0 for a recording, k for its k-th
    copy, a clip's rows adjacent) each clip is visited as `epoch_order` says, as one version
    drawn at random: epochs keep their length and their cost whatever the copies. With
    `epoch_fraction` below 1, the epoch is the first share of that order (another subset
    each epoch, in the same proportions as a whole epoch's draws)."""
    if versions is None:
        rows = epoch_order(y, config, g)
    else:
        starts = np.flatnonzero(versions == 0)
        counts = torch.from_numpy(np.diff(np.append(starts, len(versions))))
        order = epoch_order(y[starts], config, g)
        offsets = (torch.rand(len(order), generator=g, dtype=torch.float64)
                   * counts[order]).long()
        rows = torch.from_numpy(starts)[order] + offsets
    fraction = config.get("epoch_fraction", 1.0)
    return rows if fraction >= 1 else rows[: max(2, math.ceil(fraction * len(rows)))]


def _sampling_labels(y: np.ndarray) -> np.ndarray:
    if y.ndim == 1:
        return y
    frequency = y.sum(axis=0)
    rarity = np.where(y > 0, frequency[None, :], np.inf)
    return rarity.argmin(axis=1)
