"""Clips per second preparing log-mels: this pipeline versus the seeds' way, side by side.

The seeds' way: one process, `librosa.load` then `librosa.feature.melspectrogram` (and dB)
per file. The pipeline: `data_prep.prepare` (Ray Data over every core, batched STFT,
Parquet shards). Same files, same log-mel parameters, measured in one run.

    .venv/bin/python bench/prep_throughput.py [--clips 2000] [--seconds 1] [--sample-rate 16000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import librosa
import numpy as np
import ray

from data_prep import synthetic
from data_prep.config import DatasetConfig
from data_prep.pipeline import prepare

N_FFT, HOP, N_MELS = 512, 160, 64


def seeds_way(files: list[Path], sr: int, seconds: float) -> float:
    started = time.perf_counter()
    for path in files:
        y, _ = librosa.load(path, sr=sr)
        y = librosa.util.fix_length(y, size=int(sr * seconds))
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=N_FFT, hop_length=HOP,
                                             n_mels=N_MELS)
        librosa.power_to_db(mel)
    return len(files) / (time.perf_counter() - started)


def pipeline(root: Path, sr: int, seconds: float, cache: Path, n_files: int) -> float:
    config = DatasetConfig.from_dict({"source": str(root), "sample_rate": sr,
                                      "clip_seconds": seconds, "representation": "logmel",
                                      "n_fft": N_FFT, "hop_length": HOP, "n_mels": N_MELS})
    started = time.perf_counter()
    prepared = prepare(config, cache)
    seconds = time.perf_counter() - started
    assert not prepared.reused
    kept = sum(sum(c.values()) for c in prepared.manifest.counts.values())
    assert kept == n_files, (kept, n_files)
    return n_files / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--sample-rate", type=int, default=16000)
    parser.add_argument("--seconds", type=float, default=1.0, help="clip length")
    parser.add_argument("--repeats", type=int, default=4)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="prep-bench-"))
    try:
        per_class = args.clips // len(synthetic.CLASSES)
        root = synthetic.generate(work / "audio", clips_per_class=per_class,
                                  sample_rate=args.sample_rate, seconds=args.seconds)
        files = sorted(root.rglob("*.wav"))
        ray.init(address="local", logging_level="ERROR", include_dashboard=False,
                 log_to_driver=False)
        frames = 1 + int(args.sample_rate * args.seconds) // HOP
        print(f"{len(files)} files, {args.sample_rate} Hz, {args.seconds:g} s, log-mel {N_MELS} x "
              f"{frames}, {ray.cluster_resources()['CPU']:.0f} CPUs")
        ratios = []
        for repeat in range(args.repeats):
            # Interleaved, so that drift on a shared machine hits both alike.
            ours = pipeline(root, args.sample_rate, args.seconds, work / f"cache{repeat}",
                            len(files))
            theirs = seeds_way(files, args.sample_rate, args.seconds)
            ratios.append(ours / theirs)
            note = "   (cold: Ray Data starts its actors, librosa compiles)" if not repeat else ""
            print(f"run {repeat + 1}: pipeline {ours:7.1f} clips/s   seeds' way "
                  f"{theirs:7.1f} clips/s   ratio {ours / theirs:.2f}x{note}")
        warm = ratios[1:] or ratios
        print(f"ratio, warm runs (median of {len(warm)}): {np.median(warm):.2f}x   "
              f"all runs: {np.median(ratios):.2f}x")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
