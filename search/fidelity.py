"""What a search can afford: each config's cost known before it runs, and the fidelity a
search lowers by itself when its space costs more than its budget allows.

A config's epoch costs about (seconds per clip at its multiply-adds) x (clips an epoch
trains on). `CostModel` counts a config's multiply-adds by building its model (no data
passes through it), and learns seconds per clip from what trials report: a probe of one
config in the driver before the search, then each trial's first epoch. A config it
predicts well over `max_epoch_seconds` is not started at all (`StudySearcher` tells the
study it was too slow, and draws another).

`plan` lowers the data fidelity when even the space's cheapest configs would be too slow:
each epoch trains on a share of the training clips (`epoch_fraction`, another subset each
epoch), so that the budget buys many configs at a lower fidelity rather than none at full
fidelity. A space whose cheap configs fit runs at full fidelity, as before, and the cost
model keeps its dearest configs from starting. Not below a fifth: under that, an epoch of
a small dataset holds too few clips to learn from (resnet.yaml on 700 clips at 5%: no
trial learnt).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna

from trainables import loop, models
from trainables.data import TrialData, variant_key

from .space import SearchSpace

# A config is not started when predicted over the cap by this factor (the prediction
# scales one measured config by multiply-adds: about right for convolutions, pessimistic
# for small models whose steps are mostly overhead).
SKIP_FACTOR = 1.5
# The fidelity is lowered when the space's cheapest config projects more than FITS of the
# cap, until it projects TARGET_SHARE of it: configs up to about twice its cost then fit.
FITS, TARGET_SHARE = 0.8, 0.5
MIN_FRACTION = 0.2
SAMPLED_CONFIGS = 24  # drawn at random to find the space's costs
FIDELITY_KEY = "epoch_fraction"


@dataclass
class Variant:
    """What a model's cost depends on in one prepared variant."""

    input_shape: tuple[int, ...]
    classes: int
    train_clips: int
    sample_rate: int | None


@dataclass
class CostModel:
    variants: dict[str, Variant]
    # (multiply-adds per clip, training seconds per clip) seen so far
    observations: list[tuple[float, float]] = field(default_factory=list)
    _macs: dict[str, int | None] = field(default_factory=dict)

    @classmethod
    def from_shards(cls, shard_dirs: dict[str, str]) -> CostModel:
        variants = {}
        for key, folder in shard_dirs.items():
            data = TrialData.from_shards(folder)
            variants[key] = Variant(tuple(data.input_shape), data.num_classes,
                                    len(data.y_clips), data.sample_rate)
            if data.layers:  # embeddings: a head over a vector, cheap whatever its config
                return cls({})
        return cls(variants)

    def macs(self, config: dict[str, Any]) -> int | None:
        """Multiply-adds of one clip's forward pass; None when the model cannot be built
        (a config that breaks a rule between keys fails its trial with the words)."""
        variant = self.variants.get(variant_key(config))
        if variant is None:
            return None
        key = json.dumps(config, sort_keys=True, default=str)
        if key not in self._macs:
            try:
                full = loop.schema(config["model"]).with_defaults(config)
                full.pop("pretrained", None)  # the cost is the architecture's
                model = models.build(config["model"], {"sample_rate": variant.sample_rate,
                                                       **full},
                                     variant.input_shape, variant.classes)
                self._macs[key] = models.count_macs(model, variant.input_shape)
            except Exception:
                self._macs[key] = None
        return self._macs[key]

    def clips_per_epoch(self, config: dict[str, Any]) -> int:
        variant = self.variants[variant_key(config)]
        return max(2, math.ceil(config.get(FIDELITY_KEY, 1.0) * variant.train_clips))

    def observe(self, macs: float, epoch_s: float, clips: int) -> None:
        if macs and epoch_s > 0 and clips:
            self.observations.append((float(macs), epoch_s / clips))

    def seconds_per_clip(self, macs: float) -> float | None:
        """From the observations: a power law in multiply-adds, its exponent fitted once
        two sizes are seen (within 0.5 to 1: from per-step overhead to pure compute)."""
        if not self.observations or not macs:
            return None
        m, s = (np.log(np.array(v)) for v in zip(*self.observations, strict=True))
        slope = 1.0
        if np.ptp(m) > 0.1:
            slope = float(np.clip(np.polyfit(m, s, 1)[0], 0.5, 1.0))
        return float(np.exp(np.median(s - slope * m) + slope * math.log(macs)))

    def predicted_epoch_s(self, config: dict[str, Any]) -> float | None:
        macs = self.macs(config)
        per_clip = self.seconds_per_clip(macs) if macs else None
        return None if per_clip is None else per_clip * self.clips_per_epoch(config)


def sample_configs(space: SearchSpace, starts: list[dict[str, Any]], n: int,
                   seed: int = 0) -> list[dict[str, Any]]:
    """`starts` (the space's `start_from`, their other keys drawn) then random configs,
    `n` in all, each with the space's fixed keys."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed))
    for start in starts:
        study.enqueue_trial(start)
    configs = []
    for _ in range(n):
        trial = study.ask()
        values = space(trial)
        configs.append({**trial.params, **values})
        study.tell(trial, 0.0)
    return configs


@dataclass
class Fidelity:
    """The fidelity a search runs at: the share of training clips an epoch trains on."""

    epoch_fraction: float = 1.0
    reason: str = ""
    # what the probe measured, for the record: the config's epoch in seconds at full data
    probed_epoch_s: float | None = None

    def describe(self) -> str:
        if self.epoch_fraction >= 1:
            return f"Fidelity: every epoch trains on all training clips ({self.reason})"
        return (f"Fidelity lowered: each epoch trains on {self.epoch_fraction:.0%} of the "
                f"training clips, another subset each epoch ({self.reason})")


def plan(space: SearchSpace, starts: list[dict[str, Any]], cost: CostModel,
         shard_dirs: dict[str, str], limit: float | None, threads: int = 1) -> Fidelity:
    """Probe the space's cheapest config by multiply-adds (among `start_from` and random
    draws) here; when it projects over `FITS` of `limit`, lower `epoch_fraction` until it
    projects `TARGET_SHARE` of it. Teaches `cost` what it measured."""
    import torch

    if not limit or not cost.variants or FIDELITY_KEY in space.fixed \
            or FIDELITY_KEY in space.names:
        return Fidelity(reason="no cap on an epoch's seconds" if not limit else "as set")
    configs = sample_configs(space, starts, SAMPLED_CONFIGS)
    sized = sorted((m, i) for i, c in enumerate(configs) if (m := cost.macs(c)))
    if not sized:
        return Fidelity(reason="no config of the space could be sized")
    _, index = sized[0]
    reference = configs[index]
    before = torch.get_num_threads()
    torch.set_num_threads(threads)  # as a trial has them
    try:
        report = loop.probe(reference, TrialData.from_shards(shard_dirs[variant_key(reference)]))
    finally:
        torch.set_num_threads(before)
    seconds = loop.epoch_seconds(report)
    cost.observe(report["macs"], seconds, report["epoch_clips"])
    fits = (f"the space's cheapest config projects {seconds:.1f}s per epoch here, "
            f"max_epoch_seconds {limit:.3g}")
    if seconds <= FITS * limit:
        return Fidelity(1.0, fits, seconds)
    fraction = max(MIN_FRACTION, math.floor(100 * TARGET_SHARE * limit / seconds) / 100)
    return Fidelity(fraction, f"{fits}; configs predicted over the cap are not started",
                    seconds)
