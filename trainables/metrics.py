"""Metrics as small named classes (after HEAR's `score.py`).

Single-label ones take integer targets (n,) and class probabilities (n, classes);
multi-label ones take multi-hot targets (n, labels) and per-label probabilities. Each
returns a float, or an array for the confusion matrix.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import norm
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)


class Metric:
    name: str

    def __call__(self, targets: np.ndarray, probs: np.ndarray) -> float:
        raise NotImplementedError


class Accuracy(Metric):
    name = "accuracy"

    def __call__(self, targets, probs):
        return float(accuracy_score(targets, probs.argmax(axis=1)))


class _Macro(Metric):
    index: int

    def __call__(self, targets, probs):
        labels = np.arange(probs.shape[1])
        scores = precision_recall_fscore_support(
            targets, probs.argmax(axis=1), labels=labels, average="macro", zero_division=0
        )
        return float(scores[self.index])


class MacroPrecision(_Macro):
    name, index = "precision", 0


class MacroRecall(_Macro):
    name, index = "recall", 1


class MacroF1(_Macro):
    name, index = "macro_f1", 2


class ConfusionMatrix(Metric):
    name = "confusion_matrix"

    def __call__(self, targets, probs):  # type: ignore[override]
        return confusion_matrix(targets, probs.argmax(axis=1), labels=np.arange(probs.shape[1]))


def _scored_labels(targets: np.ndarray) -> np.ndarray:
    """Labels with both a positive and a negative example: the only ones AP and AUC define."""
    positives = targets.sum(axis=0)
    return np.flatnonzero((positives > 0) & (positives < len(targets)))


class MeanAveragePrecision(Metric):
    name = "map"

    def __call__(self, targets, probs):
        labels = _scored_labels(targets)
        if not len(labels):
            return float("nan")
        return float(average_precision_score(targets[:, labels], probs[:, labels],
                                             average="macro"))


class DPrime(Metric):
    """AudioSet's d': sqrt(2) * the inverse normal CDF of the mean ROC AUC over labels."""

    name = "dprime"

    def __call__(self, targets, probs):
        labels = _scored_labels(targets)
        if not len(labels):
            return float("nan")
        auc = roc_auc_score(targets[:, labels], probs[:, labels], average="macro")
        return float(np.sqrt(2.0) * norm.ppf(np.clip(auc, 1e-6, 1 - 1e-6)))


class Lwlrap(Metric):
    """Label-weighted label-ranking average precision (DCASE 2019 task 2): for every
    positive (clip, label) pair, the precision of the clip's label ranking at that label,
    averaged over all pairs (so each label weighs by how often it occurs)."""

    name = "lwlrap"

    def __call__(self, targets, probs):
        total, pairs = 0.0, 0
        for truth, scores in zip(targets, probs, strict=True):
            positives = np.flatnonzero(truth > 0)
            if not len(positives):
                continue
            rank = np.empty(len(scores), dtype=np.int64)
            rank[np.argsort(-scores, kind="stable")] = np.arange(len(scores))
            positive_ranks = rank[positives]
            hits = (positive_ranks[None, :] <= positive_ranks[:, None]).sum(axis=1)
            total += float((hits / (positive_ranks + 1)).sum())
            pairs += len(positives)
        return total / pairs if pairs else float("nan")


def tune_thresholds(targets: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Per label, the threshold (among a grid) that maximises that label's F1."""
    grid = np.linspace(0.05, 0.95, 19)
    predicted = probs[:, :, None] >= grid[None, None, :]  # (clips, labels, thresholds)
    truth = targets[:, :, None] > 0
    tp = (predicted & truth).sum(axis=0)
    fp = (predicted & ~truth).sum(axis=0)
    fn = (~predicted & truth).sum(axis=0)
    f1 = 2 * tp / np.maximum(2 * tp + fp + fn, 1)
    return grid[f1.argmax(axis=1)]


class _ThresholdF1(Metric):
    average: str

    def __init__(self, thresholds: np.ndarray | None = None):
        self.thresholds = thresholds  # None: tuned on the data scored

    def __call__(self, targets, probs):
        thresholds = self.thresholds if self.thresholds is not None else tune_thresholds(
            targets, probs)
        predicted = (probs >= thresholds[None, :]).astype(int)
        return float(precision_recall_fscore_support(
            targets.astype(int), predicted, average=self.average, zero_division=0)[2])


class MicroF1(_ThresholdF1):
    name, average = "micro_f1", "micro"


class MacroF1Tuned(_ThresholdF1):
    name, average = "macro_f1", "macro"


SINGLE_LABEL: tuple[Metric, ...] = (Accuracy(), MacroF1(), MacroPrecision(), MacroRecall())
MULTI_LABEL: tuple[Metric, ...] = (MeanAveragePrecision(), DPrime(), Lwlrap(), MicroF1(),
                                   MacroF1Tuned())


def score_all(targets: np.ndarray, probs: np.ndarray, prefix: str) -> dict[str, float]:
    """Every metric of the task's kind (multi-label when targets are a matrix)."""
    metrics = MULTI_LABEL if targets.ndim == 2 else SINGLE_LABEL
    return {f"{prefix}_{metric.name}": metric(targets, probs) for metric in metrics}
