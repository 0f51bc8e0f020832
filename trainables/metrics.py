"""Single-label metrics as small named classes (after HEAR's `score.py`).

Each takes integer targets and class probabilities (n, classes) and returns a float, or an
array for the confusion matrix.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support


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


SINGLE_LABEL: tuple[Metric, ...] = (Accuracy(), MacroF1(), MacroPrecision(), MacroRecall())


def score_all(targets: np.ndarray, probs: np.ndarray, prefix: str) -> dict[str, float]:
    return {f"{prefix}_{metric.name}": metric(targets, probs) for metric in SINGLE_LABEL}
