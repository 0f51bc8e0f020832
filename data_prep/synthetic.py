"""A deterministic synthetic audio dataset: ten classes of sounds made in code.

Each clip draws its pitch, timing, duration, gain and background noise at random, so that
the classes overlap in pitch and loudness and a model has to learn shape (direction of a
sweep, harmonics, modulation, rhythm), not a single spectral peak. Written as 16-bit WAV
files in class folders, the layout users bring.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf

from .config import DataError
from .progress import clip_progress

GENERATOR_VERSION = 1


def _envelope(n: int, rng: np.random.Generator) -> np.ndarray:
    attack = max(1, int(n * rng.uniform(0.01, 0.2)))
    release = max(1, int(n * rng.uniform(0.1, 0.5)))
    env = np.ones(n)
    env[:attack] = np.linspace(0, 1, attack)
    env[n - release :] *= np.linspace(1, 0, release)
    return env


def _sine(freq: np.ndarray | float, n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """A sine whose frequency may vary per sample, with a random starting phase."""
    freq = np.broadcast_to(np.asarray(freq, dtype=np.float64), (n,))
    phase = 2 * np.pi * np.cumsum(freq) / sr + rng.uniform(0, 2 * np.pi)
    return np.sin(phase)


def _pitch(rng: np.random.Generator, sr: int) -> float:
    # One shared range for every tonal class, so pitch alone says nothing about the class.
    return float(np.exp(rng.uniform(np.log(150.0), np.log(min(1800.0, sr / 5)))))


def tone(n, sr, rng):
    return _sine(_pitch(rng, sr), n, sr, rng) * _envelope(n, rng)


def chirp_up(n, sr, rng):
    f0 = _pitch(rng, sr)
    f1 = f0 * rng.uniform(1.5, 3.0)
    return _sine(np.geomspace(f0, f1, n), n, sr, rng) * _envelope(n, rng)


def chirp_down(n, sr, rng):
    f0 = _pitch(rng, sr)
    f1 = f0 / rng.uniform(1.5, 3.0)
    return _sine(np.geomspace(f0, f1, n), n, sr, rng) * _envelope(n, rng)


def harmonic_note(n, sr, rng):
    f0 = _pitch(rng, sr) / 2
    out = np.zeros(n)
    for k in range(1, 7):
        if f0 * k < sr / 2.2:
            out += _sine(f0 * k, n, sr, rng) / k ** rng.uniform(0.5, 1.5)
    decay = np.exp(-np.arange(n) / (n * rng.uniform(0.15, 0.5)))
    return out * decay * _envelope(n, rng)


def noise_burst(n, sr, rng):
    noise = rng.standard_normal(n)
    # A random band: a short moving average (low-pass) or its complement (high-pass).
    width = int(rng.integers(2, 12))
    smooth = np.convolve(noise, np.ones(width) / width, mode="same")
    out = smooth if rng.random() < 0.5 else noise - smooth
    return out / (np.abs(out).max() + 1e-9) * _envelope(n, rng)


def click_train(n, sr, rng):
    out = np.zeros(n)
    period = int(sr / rng.uniform(4, 20))
    click = np.hanning(max(3, int(sr * 0.002))) * rng.choice([-1, 1])
    for start in range(int(rng.integers(0, period)), n - len(click), period):
        out[start : start + len(click)] += click
    return out


def tremolo(n, sr, rng):
    rate = rng.uniform(4, 14)
    am = 0.5 * (1 + np.sin(2 * np.pi * rate * np.arange(n) / sr))
    return _sine(_pitch(rng, sr), n, sr, rng) * am * _envelope(n, rng)


def vibrato(n, sr, rng):
    f0 = _pitch(rng, sr)
    rate = rng.uniform(4, 10)
    depth = rng.uniform(0.03, 0.1)
    freq = f0 * (1 + depth * np.sin(2 * np.pi * rate * np.arange(n) / sr))
    return _sine(freq, n, sr, rng) * _envelope(n, rng)


def chord(n, sr, rng):
    f0 = _pitch(rng, sr)
    ratio = rng.choice([5 / 4, 4 / 3, 3 / 2])
    return (_sine(f0, n, sr, rng) + _sine(f0 * ratio, n, sr, rng)) / 2 * _envelope(n, rng)


def beeps(n, sr, rng):
    out = np.zeros(n)
    f0 = _pitch(rng, sr)
    count = int(rng.integers(2, 5))
    length = n // (2 * count)
    for i in range(count):
        start = i * 2 * length + int(rng.integers(0, length // 2 + 1))
        seg = min(length, n - start)
        out[start : start + seg] = _sine(f0, seg, sr, rng) * np.hanning(seg)
    return out


CLASSES: dict[str, Callable[[int, int, np.random.Generator], np.ndarray]] = {
    "tone": tone,
    "chirp_up": chirp_up,
    "chirp_down": chirp_down,
    "harmonic_note": harmonic_note,
    "noise_burst": noise_burst,
    "click_train": click_train,
    "tremolo": tremolo,
    "vibrato": vibrato,
    "chord": chord,
    "beeps": beeps,
}


def make_clip(
    class_name: str, index: int, sample_rate: int, seconds: float, seed: int
) -> np.ndarray:
    """One clip: the class's sound at a random onset, length and gain over background noise."""
    class_id = list(CLASSES).index(class_name)
    rng = np.random.default_rng([seed, class_id, index])
    total = int(round(sample_rate * seconds))
    length = int(total * rng.uniform(0.3, 0.8))
    onset = int(rng.integers(0, total - length + 1))
    clip = np.zeros(total)
    clip[onset : onset + length] = CLASSES[class_name](length, sample_rate, rng)
    clip *= 10 ** (rng.uniform(-20, 0) / 20) / (np.abs(clip).max() + 1e-9)
    snr_db = rng.uniform(0, 20)
    signal_rms = np.sqrt(np.mean(clip[onset : onset + length] ** 2)) + 1e-9
    clip += rng.standard_normal(total) * signal_rms / 10 ** (snr_db / 20)
    return np.clip(clip, -1, 1).astype(np.float32)


def _made_with(root: Path, params: dict) -> bool:
    """Whether `root` already holds a complete dataset generated with `params`: the stamp
    is written last, so an interrupted generation is redone."""
    stamp = root / "synthetic.json"
    return stamp.exists() and json.loads(stamp.read_text()) == params


def _stamp(root: Path, params: dict) -> None:
    (root / "synthetic.json").write_text(json.dumps(params, indent=2))


def make_mixture(names: list[str], index: int, sample_rate: int, seconds: float,
                 seed: int) -> np.ndarray:
    """One multi-label clip: the named classes' sounds, each at its own onset and gain."""
    mixed = sum(make_clip(name, 10_000 + index, sample_rate, seconds, seed) for name in names)
    return (mixed / max(1.0, np.abs(mixed).max())).astype(np.float32)


def generate_multilabel(
    root: str | Path,
    clips: int = 600,
    sample_rate: int = 8000,
    seconds: float = 1.0,
    seed: int = 0,
    classes: list[str] | None = None,
    max_labels: int = 3,
) -> Path:
    """Write `<root>/clips/<i>.wav`, each a mixture of 1 to `max_labels` classes, and
    `<root>/labels.csv` (`path,labels` with comma-separated labels, as FSD50K). Returns the
    CSV's path; a no-op when already complete."""
    root = Path(root)
    names = classes or list(CLASSES)
    params = {"version": GENERATOR_VERSION, "clips": clips, "sample_rate": sample_rate,
              "seconds": seconds, "seed": seed, "classes": names, "max_labels": max_labels}
    manifest = root / "labels.csv"
    if _made_with(root, params):
        return manifest
    (root / "clips").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([seed, 99])
    lines = ["path,labels"]
    for i in range(clips):
        count = int(rng.integers(1, max_labels + 1))
        chosen = sorted(rng.choice(len(names), size=count, replace=False))
        labels = [names[k] for k in chosen]
        audio = make_mixture(labels, i, sample_rate, seconds, seed)
        sf.write(root / "clips" / f"{i:05d}.wav", audio, sample_rate, subtype="PCM_16")
        lines.append(f'clips/{i:05d}.wav,"{",".join(labels)}"')
    manifest.write_text("\n".join(lines) + "\n")
    _stamp(root, params)
    return manifest


def generate(
    root: str | Path,
    clips_per_class: int = 60,
    sample_rate: int = 8000,
    seconds: float = 1.0,
    seed: int = 0,
    classes: list[str] | None = None,
) -> Path:
    """Write the dataset as `<root>/<class>/<class>_<i>.wav`; a no-op when already complete."""
    root = Path(root)
    names = classes or list(CLASSES)
    unknown = sorted(set(names) - set(CLASSES))
    if unknown:
        raise DataError(f"unknown synthetic classes {unknown}; choose from {list(CLASSES)}")
    params = {
        "version": GENERATOR_VERSION,
        "clips_per_class": clips_per_class,
        "sample_rate": sample_rate,
        "seconds": seconds,
        "seed": seed,
        "classes": names,
    }
    if _made_with(root, params):
        return root
    chunks = [(root / name, name, range(start, min(start + CHUNK, clips_per_class)))
              for name in names for start in range(0, clips_per_class, CHUNK)]
    for folder, *_ in chunks:
        folder.mkdir(parents=True, exist_ok=True)
    work = partial(_write_clips, sample_rate=sample_rate, seconds=seconds, seed=seed)
    total = len(names) * clips_per_class
    if total < PARALLEL_FROM:
        for chunk in chunks:
            work(chunk)
    else:  # 3.5 ms a clip of 1 s at 16 kHz: 100k clips are minutes on one core
        with ProcessPoolExecutor(os.cpu_count()) as pool, clip_progress() as bar:
            task = bar.add_task(f"generating {total} clips", total=total)
            for done in pool.map(work, chunks):
                bar.advance(task, done)
    _stamp(root, params)
    return root


CHUNK = 500  # clips per parallel task
PARALLEL_FROM = 5000  # clips; fewer are quicker in the calling process


def _write_clips(chunk: tuple[Path, str, range], sample_rate: int, seconds: float,
                 seed: int) -> int:
    folder, name, indices = chunk
    for i in indices:
        clip = make_clip(name, i, sample_rate, seconds, seed)
        sf.write(folder / f"{name}_{i:04d}.wav", clip, sample_rate, subtype="PCM_16")
    return len(indices)
