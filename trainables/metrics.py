"""Metrics as small named classes (after HEAR's `score.py`).

Single-label ones take integer targets (n,) and class probabilities (n, classes);
multi-label ones take multi-hot targets (n, labels) and per-label probabilities. Each
returns a float, or an array for the confusion matrix.
"""

from __future__ import annotations

import numpy as np

# The single-label metrics come from one confusion matrix in numpy: importing
# scikit-learn and scipy.stats cost every trial process 0.9 s (bench/RESULTS.md), so they
# are imported only by the multi-label metrics that need them.


class Metric:
    name: str
    mode = "max"  # the better direction

    def __call__(self, targets: np.ndarray, probs: np.ndarray) -> float:
        raise NotImplementedError


def confusion(targets: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """(classes, classes) counts: rows the true class, columns the predicted one."""
    classes = probs.shape[1]
    pairs = np.asarray(targets, np.int64) * classes + probs.argmax(axis=1)
    return np.bincount(pairs, minlength=classes * classes).reshape(classes, classes)


class Accuracy(Metric):
    name = "accuracy"

    def __call__(self, targets, probs):
        return float((probs.argmax(axis=1) == targets).mean()) if len(targets) else 0.0


class _Macro(Metric):
    """The unweighted mean over every class, 0 where a class has no prediction or no
    example (scikit-learn's average="macro", zero_division=0)."""

    def __call__(self, targets, probs):
        matrix = confusion(targets, probs)
        hits = np.diag(matrix).astype(np.float64)
        return float(np.mean(self.per_class(hits, matrix.sum(axis=0), matrix.sum(axis=1))))

    @staticmethod
    def per_class(hits, predicted, actual) -> np.ndarray:
        raise NotImplementedError


def _ratio(top: np.ndarray, bottom: np.ndarray) -> np.ndarray:
    return np.divide(top, bottom, out=np.zeros_like(top), where=bottom > 0)


class MacroPrecision(_Macro):
    name = "precision"

    @staticmethod
    def per_class(hits, predicted, actual):
        return _ratio(hits, predicted)


class MacroRecall(_Macro):
    name = "recall"

    @staticmethod
    def per_class(hits, predicted, actual):
        return _ratio(hits, actual)


class MacroF1(_Macro):
    name = "macro_f1"

    @staticmethod
    def per_class(hits, predicted, actual):
        return _ratio(2 * hits, predicted + actual)


class LogLoss(Metric):
    """The probabilities' cross-entropy (per label, binary, for multi-label targets): what
    the model predicts, not only which class wins, so it moves smoothly where accuracy on
    a few clips moves in steps. The same whatever loss a trial trains with (its val_loss
    follows its own: focal, smoothed or weighted)."""

    name = "log_loss"
    mode = "min"

    def __call__(self, targets, probs):
        p = np.clip(probs, 1e-7, 1 - 1e-7)
        if targets.ndim == 2:
            return float(-np.mean(targets * np.log(p) + (1 - targets) * np.log(1 - p)))
        return float(-np.mean(np.log(p[np.arange(len(targets)), targets]))) \
            if len(targets) else float("nan")


class ConfusionMatrix(Metric):
    name = "confusion_matrix"

    def __call__(self, targets, probs):  # type: ignore[override]
        return confusion(targets, probs)


def _scored_labels(targets: np.ndarray) -> np.ndarray:
    """Labels with both a positive and a negative example: the only ones AP and AUC define."""
    positives = targets.sum(axis=0)
    return np.flatnonzero((positives > 0) & (positives < len(targets)))


class MeanAveragePrecision(Metric):
    name = "map"

    def __call__(self, targets, probs):
        from sklearn.metrics import average_precision_score

        labels = _scored_labels(targets)
        if not len(labels):
            return float("nan")
        return float(average_precision_score(targets[:, labels], probs[:, labels],
                                             average="macro"))


class DPrime(Metric):
    """AudioSet's d': sqrt(2) * the inverse normal CDF of the mean ROC AUC over labels."""

    name = "dprime"

    def __call__(self, targets, probs):
        from scipy.stats import norm
        from sklearn.metrics import roc_auc_score

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
        from sklearn.metrics import precision_recall_fscore_support

        thresholds = self.thresholds if self.thresholds is not None else tune_thresholds(
            targets, probs)
        predicted = (probs >= thresholds[None, :]).astype(int)
        return float(precision_recall_fscore_support(
            targets.astype(int), predicted, average=self.average, zero_division=0)[2])


class MicroF1(_ThresholdF1):
    name, average = "micro_f1", "micro"


class MacroF1Tuned(_ThresholdF1):
    name, average = "macro_f1", "macro"


SINGLE_LABEL: tuple[Metric, ...] = (Accuracy(), MacroF1(), MacroPrecision(), MacroRecall(),
                                    LogLoss())
MULTI_LABEL: tuple[Metric, ...] = (MeanAveragePrecision(), DPrime(), Lwlrap(), MicroF1(),
                                   MacroF1Tuned(), LogLoss())


def reported(multi_label: bool, prefix: str = "val") -> tuple[str, ...]:
    """The names a trial reports for a task of this kind, the loss included."""
    metrics = MULTI_LABEL if multi_label else SINGLE_LABEL
    return (*(f"{prefix}_{metric.name}" for metric in metrics), f"{prefix}_loss")


def mode(name: str) -> str:
    """The better direction of a reported name (`val_accuracy`: max; `val_log_loss`,
    `val_loss`: min)."""
    base = name.split("_", 1)[1] if "_" in name else name
    found = [m.mode for m in (*SINGLE_LABEL, *MULTI_LABEL) if m.name == base]
    return found[0] if found else "min" if base == "loss" else "max"


def score_all(targets: np.ndarray, probs: np.ndarray, prefix: str) -> dict[str, float]:
    """Every metric of the task's kind (multi-label when targets are a matrix)."""
    metrics = MULTI_LABEL if targets.ndim == 2 else SINGLE_LABEL
    return {f"{prefix}_{metric.name}": metric(targets, probs) for metric in metrics}
