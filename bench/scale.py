"""The documents' dataset sizes on one machine: 20k and 100k clips prepared and searched.

For each size, one-second synthetic clips at 16 kHz (`data_prep.synthetic`, ten classes,
made on first use) are prepared and searched by `python -m search.run` (a small cnn1d on the
waveform, two trials at once, one epoch each), while a sampler reads the memory of the
whole process tree every half second from `/proc/<pid>/smaps_rollup`. Printed side by side:

- preparation time;
- peak memory of the driver (RSS), of the largest trial (RSS), and of the whole tree (PSS:
  pages two processes share, such as mapped shards in the page cache, counted once);
  its anonymous part (heap: what no file backs) beside each;
- seconds from a trial's start to its first training batch (the first trial to get there,
  and the slowest).

    .venv/bin/python bench/scale.py [--sizes 20000 100000]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import yaml
from ray.tune import ExperimentAnalysis

from data_prep import synthetic

ROOT = Path("results/bench/scale")
GB = 2**30
SPACE = {
    "model": "cnn1d", "metric": "val_accuracy", "mode": "max",
    "searcher": {"type": "random", "seed": 0}, "scheduler": {"type": "none"},
    "max_epochs": 1, "num_samples": 2, "resources": {"cpu": 1, "gpu": 0},
    "fixed": {"batch_size": 64, "first_kernel": 80, "first_stride": 16, "pool": 4,
              "conv_layers": 2, "channels": 8, "kernel_size": 3},
    "space": {"lr": {"loguniform": [1e-3, 1e-2]}},
}


def rollup(pid: int) -> dict[str, int]:
    """Rss, Pss and Anonymous of one process, in bytes."""
    values = {}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return {}
    for key in ("Rss", "Pss", "Anonymous"):
        match = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
        values[key] = int(match[1]) * 1024 if match else 0
    return values


class Sampler(threading.Thread):
    """Peaks of the driver, the largest trial and the tree under `pid`."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.stopped = pid, threading.Event()
        self.peak = {k: 0 for k in ("driver", "driver_anon", "trial", "trial_anon", "tree",
                                    "tree_anon")}

    def run(self) -> None:
        root = psutil.Process(self.pid)
        while not self.stopped.wait(0.5):
            try:
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            tree = tree_anon = 0
            for proc in procs:
                memory = rollup(proc.pid)
                if not memory:
                    continue
                tree += memory["Pss"]
                tree_anon += memory["Anonymous"]
                if proc.pid == self.pid:
                    self._max("driver", memory["Rss"], "driver_anon", memory["Anonymous"])
                elif _is_trial(proc):
                    self._max("trial", memory["Rss"], "trial_anon", memory["Anonymous"])
            self._max("tree", tree, "tree_anon", tree_anon)

    def _max(self, key: str, value: int, anon_key: str, anon: int) -> None:
        if value > self.peak[key]:
            self.peak[key], self.peak[anon_key] = value, anon


def _is_trial(proc: psutil.Process) -> bool:
    try:
        return "ImplicitFunc" in " ".join(proc.cmdline())
    except psutil.Error:
        return False


def run_size(clips: int) -> dict:
    started = time.perf_counter()
    source = synthetic.generate(ROOT / f"data-{clips}", clips_per_class=clips // 10,
                                sample_rate=16000, seconds=1.0)
    generated = time.perf_counter() - started
    name = f"scale-{clips}"
    space = ROOT / f"{name}.yaml"
    space.write_text(yaml.safe_dump({"name": name, **SPACE, "dataset": {
        "source": str(source.resolve()), "sample_rate": 16000, "clip_seconds": 1.0,
        "representation": "waveform", "loudness": "rms"}}))
    shutil.rmtree(ROOT / "shards", ignore_errors=True)  # prepared afresh, and timed
    command = [sys.executable, "-m", "search.run", str(space), "--results", str(ROOT),
               "--restart"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    sampler = Sampler(process.pid)
    sampler.start()
    output = process.communicate()[0]
    sampler.stopped.set()
    sampler.join()
    prepared = re.search(r"Data prepared in ([\d.]+)s", output)
    if process.returncode != 0 or not prepared:
        print(output[-3000:])
        raise SystemExit(f"{name}: search.run exited {process.returncode}")
    trials = ExperimentAnalysis(str((ROOT / name).resolve())).trial_dataframes.values()
    first = [float(frame["first_batch_s"].iloc[0]) for frame in trials
             if "first_batch_s" in frame]
    return {"clips": clips, "generated_s": generated, "prepared_s": float(prepared[1]),
            "search_s": time.perf_counter() - started, "first_batch_s": min(first),
            "slowest_first_batch_s": max(first),
            **sampler.peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20000, 100000])
    args = parser.parse_args()
    ROOT.mkdir(parents=True, exist_ok=True)
    rows = []
    for clips in args.sizes:
        rows.append(run_size(clips))
        r = rows[-1]
        print(f"{clips} clips: generated in {r['generated_s']:.0f}s, prepared in "
              f"{r['prepared_s']:.0f}s, driver {r['driver'] / GB:.2f} GB, largest trial "
              f"{r['trial'] / GB:.2f} GB, tree {r['tree'] / GB:.2f} GB, first batch "
              f"{r['first_batch_s']:.1f}s (slowest trial {r['slowest_first_batch_s']:.1f}s)",
              flush=True)
    print("\n| clips (1 s, 16 kHz) | waveforms | preparation | driver peak (anon) | "
          "largest trial (anon) | whole tree PSS (anon) | first batch (slowest trial) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['clips']:,} | {r['clips'] * 16000 * 4 / GB:.1f} GB | {r['prepared_s']:.0f} s"
              f" | {r['driver'] / GB:.2f} ({r['driver_anon'] / GB:.2f}) GB"
              f" | {r['trial'] / GB:.2f} ({r['trial_anon'] / GB:.2f}) GB"
              f" | {r['tree'] / GB:.2f} ({r['tree_anon'] / GB:.2f}) GB"
              f" | {r['first_batch_s']:.1f} s ({r['slowest_first_batch_s']:.1f} s) |")
    if len(rows) > 1:
        print(f"driver at {rows[-1]['clips']:,} / at {rows[0]['clips']:,}: "
              f"{rows[-1]['driver'] / rows[0]['driver']:.2f}x")


if __name__ == "__main__":
    main()
