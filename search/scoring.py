"""A trained trial scored on the test split, once: the leaderboard's `test_*` columns.

Test scores never choose a model (the ranking is on validation); they are computed for the
top trials only, and cached beside the checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

from trainables import metrics

from .inference import TrainedModel, split_probabilities

TEST_SCORES_FILE = "test_scores.json"


def test_scores(checkpoint: str, shard_dir: str) -> dict[str, float]:
    """The checkpoint's scores on the test split, cached beside it. Multi-label F1
    thresholds are tuned on val, never on test."""
    cache = Path(checkpoint).parent / TEST_SCORES_FILE
    cached = json.loads(cache.read_text()) if cache.exists() else {}
    if cached.get("checkpoint") == checkpoint:
        return cached["scores"]
    trained = TrainedModel.load(checkpoint)
    targets, probs = split_probabilities(trained, shard_dir, "test")
    if not len(targets):
        return {}
    if targets.ndim == 2:
        val_targets, val_probs = split_probabilities(trained, shard_dir, "val")
        thresholds = metrics.tune_thresholds(val_targets, val_probs)
        scorers = (metrics.MeanAveragePrecision(), metrics.DPrime(), metrics.Lwlrap(),
                   metrics.MicroF1(thresholds), metrics.MacroF1Tuned(thresholds))
        scores = {f"test_{m.name}": m(targets, probs) for m in scorers}
    else:
        scores = metrics.score_all(targets, probs, "test")
    cache.write_text(json.dumps({"checkpoint": checkpoint, "scores": scores}))
    return scores
