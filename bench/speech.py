"""Realistic spoken words for benchmarks, made with espeak-ng on first use.

Speech Commands layout (`<word>/<speaker>_nohash_<n>.wav`, `validation_list.txt`,
`testing_list.txt`), 1 s at 16 kHz. Each speaker is an accent, a voice variant, a pitch, a
speed and a recording level; each word is placed at a random offset over background noise.
Train, validation and test speakers use disjoint voice variants (or validation and test the
same ones), so the test voices are never heard in training. Installs espeak-ng (Debian)
when it is missing.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

WORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "one", "two",
         "three", "four")
ACCENTS = ("en-gb", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp",
           "en-gb-x-gbcwmd", "en-029")
RATE = 16000


def ensure_espeak() -> str:
    found = shutil.which("espeak-ng")
    if found:
        return found
    print("installing espeak-ng (Debian package) for the benchmark's speech...")
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "espeak-ng"], check=True)
    return shutil.which("espeak-ng") or "espeak-ng"


def variants(espeak: str) -> list[str]:
    """espeak-ng's voice variants (m1, f2, klatt...), sorted."""
    out = subprocess.run([espeak, "--voices=variant"], capture_output=True, text=True).stdout
    files = [field for line in out.splitlines()[1:] for field in line.split()
             if field.startswith("!v/")]
    return sorted({name.removeprefix("!v/") for name in files})


def speak(espeak: str, word: str, voice: str, pitch: int, speed: int) -> np.ndarray:
    with tempfile.NamedTemporaryFile(suffix=".wav") as f:
        subprocess.run([espeak, "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", f.name,
                        word], check=True, capture_output=True)
        audio, rate = sf.read(f.name, dtype="float32")
    return soxr.resample(audio, rate, RATE).astype(np.float32)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.arange(len(spectrum)) + 1.0)
    noise = np.fft.irfft(spectrum, n)
    return (noise / np.sqrt(np.mean(noise**2))).astype(np.float32)


def place(speech: np.ndarray, rng: np.random.Generator, snr_db: float,
          level_db: float) -> np.ndarray:
    """A 1 s recording: the word at a random offset over noise, at an RMS level in dBFS."""
    speech = speech[:RATE]
    clip = np.zeros(RATE, np.float32)
    start = int(rng.integers(0, RATE - len(speech) + 1))
    clip[start : start + len(speech)] = speech / max(np.sqrt(np.mean(speech**2)), 1e-6)
    clip += pink_noise(RATE, rng) * 10 ** (-snr_db / 20)
    return clip * np.float32(10 ** (level_db / 20) / np.sqrt(np.mean(clip**2)))


Pitch = Callable[[np.random.Generator, str], int]


def make(root: Path, speakers: tuple[int, int, int] = (48, 12, 12), seed: int = 0,
         pitch: Pitch | None = None, words: tuple[str, ...] = WORDS,
         test_voices: str = "own") -> Path:
    """Train, val and test speakers saying every word; returns `root` (made once).
    `test_voices`: "own", voice variants of their own (heard neither in training nor in
    validation); "validation's", the test speaker of each number takes the voice variant
    of the validation speaker of that number (still never heard in training), so that
    validation and test differ only in what `pitch` gives them."""
    if (root / "testing_list.txt").exists():
        return root
    espeak = ensure_espeak()
    rng = np.random.default_rng(seed)
    pool = [v for v in variants(espeak) if v not in ("default",)]
    rng.shuffle(pool)
    thirds = np.array_split(np.array(pool), 3)
    if test_voices == "validation's":
        thirds[2] = thirds[1]
    jobs, lists = [], {"train": [], "val": [], "test": []}
    for split, count, names in zip(("train", "val", "test"), speakers, thirds, strict=True):
        for s in range(count):
            speaker = f"{split[:2]}{s:03d}"
            voice = f"{ACCENTS[int(rng.integers(len(ACCENTS)))]}+{names[s % len(names)]}"
            p = pitch(rng, split) if pitch else int(rng.integers(20, 80))
            speed = int(rng.integers(130, 210))
            level = float(rng.uniform(-30, -12))
            for word in words:
                clip_id = f"{word}/{speaker}_nohash_0.wav"
                jobs.append((clip_id, word, voice, p, speed, level, int(rng.integers(2**31))))
                lists[split].append(clip_id)

    def render(job: tuple) -> None:
        clip_id, word, voice, p, speed, level, job_seed = job
        job_rng = np.random.default_rng(job_seed)
        audio = place(speak(espeak, word, voice, p, speed), job_rng,
                      float(job_rng.uniform(10, 30)), level)
        path = root / clip_id
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, audio, RATE, subtype="FLOAT")

    with ThreadPoolExecutor(4) as pool_:
        list(pool_.map(render, jobs))
    (root / "validation_list.txt").write_text("\n".join(lists["val"]) + "\n")
    (root / "testing_list.txt").write_text("\n".join(lists["test"]) + "\n")
    return root


def with_test_gain(source: Path, target: Path, gain_db: float) -> Path:
    """A copy of a dataset whose test clips are `gain_db` louder (negative: quieter)."""
    if (target / "testing_list.txt").exists():
        return target
    shutil.copytree(source, target)
    for clip_id in (target / "testing_list.txt").read_text().split():
        audio, rate = sf.read(target / clip_id, dtype="float32")
        sf.write(target / clip_id, audio * np.float32(10 ** (gain_db / 20)), rate,
                 subtype="FLOAT")
    return target
