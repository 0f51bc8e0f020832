"""A search's console holds only the product's words: no traceback it survived, no library
line it has already handled."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from search.spec import parse_spec
from search.tuning import make_searcher

ROOT = Path(__file__).resolve().parents[1]
SPACE = {"model": "cnn1d", "metric": "val_accuracy", "mode": "max",
         "dataset": {"sample_rate": 4000, "clip_seconds": 0.25,
                     "synthetic": {"clips_per_class": 12, "classes": ["tone", "beeps"]}},
         "searcher": {"type": "optuna_tpe", "seed": 0}, "max_epochs": 2, "num_samples": 3,
         "fixed": {"first_kernel": 16, "first_stride": 4, "channels": 4, "conv_layers": 2,
                   "batch_size": 8},
         "space": {"lr": {"loguniform": [1e-4, 1e-2]}, "act": {"choice": ["relu", "tanh"]}}}


def test_the_searcher_state_is_never_half_made_in_the_folder_tune_copies(tmp_path):
    """Tune copies its driver folder to storage while the searcher saves into it: the copy
    must never meet a file that vanishes under it."""
    searcher = make_searcher(parse_spec(SPACE), 0, tmp_path / "experiment")
    folder = tmp_path / "driver_artifacts"
    folder.mkdir()
    errors, done = [], threading.Event()

    def sync():
        while not done.is_set():
            try:
                shutil.copytree(folder, tmp_path / "storage", dirs_exist_ok=True)
            except (OSError, shutil.Error) as error:
                errors.append(error)

    copier = threading.Thread(target=sync)
    copier.start()
    try:
        for _ in range(400):
            searcher.save_to_dir(str(folder), "run")
    finally:
        done.set()
        copier.join()
    assert not errors, errors[:3]
    assert [p.name for p in folder.iterdir()] == ["searcher-state-run.pkl"]
    assert not list(tmp_path.glob(".searcher-state-*"))  # nothing left beside it


TIMESTAMPED = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+\s", re.MULTILINE)


@pytest.mark.slow
@pytest.mark.parametrize("data", ["synthetic", "csv"])
def test_a_search_console_holds_no_traceback_and_no_library_warning(tmp_path, data):
    """The demo's way (synthetic data) and a user's (`--data` a CSV of their clips)."""
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(SPACE))
    command = [sys.executable, "-m", "search.run", str(space), "--results",
               str(tmp_path / "results"), "--name", "clean"]
    if data == "csv":
        rng = np.random.default_rng(0)
        rows = []
        for i in range(24):
            t = np.arange(1000) / 4000
            tone = np.sin(2 * np.pi * (300 if i % 2 else 900) * t) * 0.3
            sf.write(tmp_path / f"{i}.wav", tone + rng.normal(0, 0.01, t.size), 4000)
            rows.append(f"{i}.wav,{'low' if i % 2 else 'high'}")
        (tmp_path / "clips.csv").write_text("filename,category\n" + "\n".join(rows) + "\n")
        command += ["--data", str(tmp_path / "clips.csv")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600)
    console = done.stdout + done.stderr
    assert done.returncode == 0, console[-3000:]
    assert "Search finished" in done.stdout and "Leaderboard:" in done.stdout
    for unwanted in ("Traceback", "ExperimentalWarning", "UserWarning", "FutureWarning",
                     "Progress bars disabled", "Token authentication is enabled"):
        assert unwanted not in console, console
    assert not TIMESTAMPED.search(console), TIMESTAMPED.search(console).group(0)
