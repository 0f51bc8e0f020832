"""A trial's outcome is a type: the loop reports its StopReason beside its words, and no
reader compares the words."""

from __future__ import annotations

import re
from pathlib import Path

from contracts.trial import Status, StopReason

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("contracts", "data_prep", "trainables", "embedding", "search", "bench")
WORDS = "|".join(sorted({*(s.value for s in Status), *(r.value for r in StopReason)}))
COMPARED = re.compile(
    rf"""(==|!=)\s*["']({WORDS})["']|["']({WORDS})["']\s*(==|!=)"""
    rf"""|startswith\(\s*["']({WORDS})|isin\(\[[^\]]*["']({WORDS})["']""")


def test_no_status_word_or_stop_reason_is_compared_as_text_outside_its_module():
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "contracts" / "trial.py":
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if COMPARED.search(line):
                    found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "\n".join(found)


def test_a_stop_reason_is_read_from_its_code_or_from_the_words_of_older_reports():
    assert StopReason.of({"stop": "patience", "stop_reason": "early stop (patience)"}) \
        is StopReason.PATIENCE
    assert StopReason.of({"stop_reason": "too_slow: projected 9.1s per epoch > ..."}) \
        is StopReason.TOO_SLOW
    assert StopReason.of({"stop_reason": "diverged (non-finite loss)"}).status is Status.ERROR
    assert StopReason.of({"stop": "", "stop_reason": ""}) is None
    assert StopReason.MAX_EPOCHS.status is Status.COMPLETE
    assert str(Status.TOO_SLOW) == "too_slow" and Status.TOO_SLOW == "too_slow"


def test_the_loop_reports_its_stop_reason_as_a_code(tmp_path):
    import numpy as np

    from trainables.data import TrialData
    from trainables.loop import fit

    rng = np.random.default_rng(0)
    x = rng.normal(size=(24, 16)).astype(np.float32)
    y = np.repeat([0, 1], 12)
    data = TrialData(x, y, x, y, ["a", "b"], np.zeros(()), np.ones(()),
                     representation="features")
    reports = []
    fit({"model": "mlp", "max_epochs": 2, "batch_size": 8}, data,
        lambda metrics, state: reports.append(metrics))
    assert [r["stop"] for r in reports] == ["", "max_epochs"]
    assert StopReason.of(reports[-1]) is StopReason.MAX_EPOCHS
