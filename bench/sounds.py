"""Realistic sounds unlike one-second speech, for benchmarks, made on first use.

- `instruments`: melodies of 3 s played by General MIDI instruments (FluidR3's real
  samples, rendered by fluidsynth), each with another instrument 6 to 14 dB quieter
  behind it, over noise, at levels from -24 to 0 dB; folder layout. Train, validation and
  test melodies are disjoint, and test clips are noisier. `register`: the same, with the
  test melodies an octave above the training ones (each instrument's lower octave, then
  the next).
- `mixtures`: 5 s mixtures of one to three of those instruments, each entering at a random
  time; a CSV `path,labels,split` with comma-separated labels (FSD50K's convention).
- `scenes`: 10 s of background noise (white to brown) with one event somewhere in it (a
  bark, a siren, a knock, a chirp, an engine, glass), six classes; folder layout. Test
  scenes are noisier: the event 9 dB under to 3 dB over the background, against 3 under to
  12 over in training.

Installs fluidsynth and the FluidR3 soundfont (Debian) when they are missing.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

RATE = 16000
SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
# General MIDI programs (0-based) and the MIDI notes each plays in.
INSTRUMENTS = {
    "piano": (0, 48, 72), "vibraphone": (11, 53, 77), "organ": (19, 48, 72),
    "guitar": (24, 45, 69), "bass": (33, 28, 52), "violin": (40, 55, 79),
    "cello": (42, 36, 60), "trumpet": (56, 52, 76), "flute": (73, 60, 84),
    "clarinet": (71, 50, 74),
}
MELODY_S, GAP_S = 3.0, 1.0
SCALE = (0, 2, 4, 5, 7, 9, 11)


def ensure_fluidsynth() -> str:
    if not shutil.which("fluidsynth") or not SOUNDFONT.exists():
        print("installing fluidsynth and fluid-soundfont-gm (Debian) for the benchmark...")
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "fluidsynth", "fluid-soundfont-gm"],
                       check=True)
    return shutil.which("fluidsynth") or "fluidsynth"


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    return bytes(reversed(out))


def midi_file(program: int, notes: list[tuple[float, float, int, int]]) -> bytes:
    """A format-0 MIDI file: one program, `notes` as (start s, duration s, note, velocity),
    at 120 bpm with 480 ticks a beat (960 ticks a second)."""
    events = []
    for start, length, note, velocity in notes:
        events.append((round(start * 960), 1, bytes([0x90, note, velocity])))
        events.append((round((start + length) * 960), 0, bytes([0x80, note, 0])))
    track, now = bytearray(_varlen(0) + bytes([0xC0, program])), 0
    for tick, _, message in sorted(events):
        track += _varlen(tick - now) + message
        now = tick
    track += _varlen(0) + b"\xff\x2f\x00"
    return (b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480)
            + b"MTrk" + struct.pack(">I", len(track)) + bytes(track))


def melody(rng: np.random.Generator, low: int, high: int) -> list[tuple[float, float, int]]:
    """A phrase of 4 to 8 notes of a major scale in [low, high], filling MELODY_S."""
    count = int(rng.integers(4, 9))
    lengths = rng.dirichlet(np.ones(count)) * (MELODY_S - 0.3) + 0.3 / count
    key = int(rng.integers(0, 12))
    pitches = [p for p in range(low, high + 1) if (p - key) % 12 in SCALE]
    at, notes = 0.0, []
    position = int(rng.integers(0, len(pitches)))
    for length in lengths:
        position = int(np.clip(position + rng.integers(-3, 4), 0, len(pitches) - 1))
        notes.append((at, float(length) * 0.95, pitches[position]))
        at += float(length)
    return notes


def render(program: int, phrases: list[list[tuple[float, float, int]]],
           rng: np.random.Generator) -> list[np.ndarray]:
    """Each phrase played by `program`, MELODY_S long, rendered in one fluidsynth call."""
    notes = [(i * (MELODY_S + GAP_S) + start, length, note, int(rng.integers(60, 120)))
             for i, phrase in enumerate(phrases) for start, length, note in phrase]
    with tempfile.TemporaryDirectory() as tmp:
        mid, wav = Path(tmp) / "p.mid", Path(tmp) / "p.wav"
        mid.write_bytes(midi_file(program, notes))
        subprocess.run([ensure_fluidsynth(), "-ni", "-q", "-g", "0.8", "-r", str(RATE), "-F",
                        str(wav), str(SOUNDFONT), str(mid)], check=True,
                       capture_output=True)
        audio, _ = sf.read(wav, dtype="float32", always_2d=True)
    audio = audio.mean(axis=1)
    step, length = int((MELODY_S + GAP_S) * RATE), int(MELODY_S * RATE)
    out = []
    for i in range(len(phrases)):
        clip = audio[i * step : i * step + length]
        out.append(np.pad(clip, (0, length - len(clip))))
    return out


def _level(x: np.ndarray, db: float) -> np.ndarray:
    rms = np.sqrt(np.mean(x**2)) + 1e-9
    return x * (10 ** (db / 20) / rms)


def _noisy(x: np.ndarray, snr_db: float, rng: np.random.Generator,
           colour: float = 0.0) -> np.ndarray:
    """`x` over noise at `snr_db`; `colour` 1 is pink-ish, 2 brown-ish, 0 white."""
    noise = rng.standard_normal(len(x))
    if colour:
        spectrum = np.fft.rfft(noise)
        freqs = np.maximum(np.fft.rfftfreq(len(x), 1 / RATE), 20.0)
        noise = np.fft.irfft(spectrum / freqs ** (colour / 2), n=len(x))
    signal = np.sqrt(np.mean(x**2)) + 1e-9
    noise *= signal / (np.sqrt(np.mean(noise**2)) + 1e-9) / 10 ** (snr_db / 20)
    return x + noise


def _write(path: Path, x: np.ndarray, level_db: float) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    y = _level(x, level_db - 3)
    peak = np.abs(y).max()
    sf.write(path, (y / peak * 0.99 if peak > 0.99 else y).astype(np.float32), RATE)


def _phrases(seed: int, per_split: tuple[int, int, int],
             register_shift: bool = False) -> dict[str, dict[str, list]]:
    """Per instrument, per split: rendered melodies (disjoint across splits). With
    `register_shift`, training and validation melodies keep to the instrument's lower
    octave and test melodies to the octave above it, never heard in training."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, (program, low, high) in INSTRUMENTS.items():
        if register_shift:
            seen = sum(per_split[:2])
            phrases = [melody(rng, *((low, low + 11) if i < seen else (low + 12, high)))
                       for i in range(sum(per_split))]
        else:
            phrases = [melody(rng, low, high) for _ in range(sum(per_split))]
        audio = render(program, phrases, rng)
        cuts = np.cumsum((0, *per_split))
        out[name] = {split: audio[cuts[i] : cuts[i + 1]]
                     for i, split in enumerate(("train", "val", "test"))}
    return out


def instruments(root: Path, per_split: tuple[int, int, int] = (60, 15, 25),
                seed: int = 0, register_shift: bool = False) -> Path:
    """10 instruments x (train, val, test) melodies of 3 s; `<instrument>/<split>_<n>.wav`,
    with a clips.csv (path,label,split); test melodies an octave up with
    `register_shift`."""
    done = root / "clips.csv"
    if done.exists():
        return done
    rng = np.random.default_rng(seed + 1)
    rows = []
    phrases = _phrases(seed, per_split, register_shift)
    for name, splits in phrases.items():
        others = [other for other in phrases if other != name]
        for split, clips in splits.items():
            for i, clip in enumerate(clips):
                # a quieter instrument behind the labelled one, as in a band
                pool = phrases[others[int(rng.integers(len(others)))]][split]
                behind = pool[int(rng.integers(len(pool)))]
                clip = _level(clip, 0.0) + _level(behind, -rng.uniform(6, 14))
                snr = rng.uniform(5, 15) if split == "test" else rng.uniform(10, 30)
                path = Path(name) / f"{split}_{i:03d}.wav"
                _write(root / path, _noisy(clip, snr, rng), rng.uniform(-24, 0))
                rows.append({"path": str(path), "label": name, "split": split})
    pd.DataFrame(rows).to_csv(done, index=False)
    return done


def mixtures(root: Path, clips: tuple[int, int, int] = (1400, 300, 300), seconds: float = 5.0,
             seed: int = 0) -> Path:
    """Mixtures of 1-3 instruments' melodies, each at a random offset and level, 5 s, over
    noise; `labels.csv` with `path,labels,split`."""
    done = root / "labels.csv"
    if done.exists():
        return done
    per_split = (40, 12, 12)
    sources = _phrases(seed + 10, per_split)
    names = list(sources)
    rng = np.random.default_rng(seed + 2)
    length = int(seconds * RATE)
    rows = []
    for split, count in zip(("train", "val", "test"), clips, strict=True):
        for i in range(count):
            chosen = rng.choice(len(names), size=int(rng.integers(1, 4)), replace=False)
            mix = np.zeros(length, np.float32)
            for k in chosen:
                pool = sources[names[k]][split]
                part = _level(pool[int(rng.integers(len(pool)))], rng.uniform(-12, 0))
                at = int(rng.integers(0, length - len(part) + 1))
                mix[at : at + len(part)] += part
            snr = rng.uniform(5, 15) if split == "test" else rng.uniform(10, 30)
            path = Path("clips") / f"{split}_{i:04d}.wav"
            _write(root / path, _noisy(mix, snr, rng), rng.uniform(-24, 0))
            rows.append({"path": str(path),
                         "labels": ",".join(sorted(names[k] for k in chosen)),
                         "split": split})
    pd.DataFrame(rows).to_csv(done, index=False)
    return done


def _event(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One event of a kind, with its own random parameters."""
    def t(seconds: float) -> np.ndarray:
        return np.arange(int(seconds * RATE)) / RATE

    if kind == "bark":
        out = []
        for _ in range(int(rng.integers(2, 5))):
            f0, tt = rng.uniform(350, 800), t(rng.uniform(0.1, 0.2))
            wave = sum(np.sin(2 * np.pi * f0 * h * tt * (1 - 0.3 * tt)) / h for h in range(1, 8))
            out += [wave * np.exp(-tt * 18), np.zeros(int(rng.uniform(0.1, 0.3) * RATE))]
        return np.concatenate(out)
    if kind == "siren":
        tt = t(rng.uniform(1.5, 3.0))
        low, high, rate = rng.uniform(500, 800), rng.uniform(1000, 1600), rng.uniform(0.5, 2)
        freq = low + (high - low) * (0.5 + 0.5 * np.sin(2 * np.pi * rate * tt))
        return np.sin(2 * np.pi * np.cumsum(freq) / RATE)
    if kind == "knock":
        out = []
        for _ in range(int(rng.integers(3, 6))):
            tt = t(0.06)
            f = rng.uniform(150, 400)
            out += [np.sin(2 * np.pi * f * tt) * np.exp(-tt * 80) + 0.3 * rng.standard_normal(
                len(tt)) * np.exp(-tt * 200), np.zeros(int(rng.uniform(0.12, 0.25) * RATE))]
        return np.concatenate(out)
    if kind == "chirp":
        out = []
        for _ in range(int(rng.integers(3, 8))):
            tt = t(rng.uniform(0.05, 0.12))
            f = np.linspace(rng.uniform(2000, 3000), rng.uniform(3500, 5000), len(tt))
            out += [np.sin(2 * np.pi * np.cumsum(f) / RATE) * np.hanning(len(tt)),
                    np.zeros(int(rng.uniform(0.05, 0.2) * RATE))]
        return np.concatenate(out)
    if kind == "engine":
        tt = t(rng.uniform(1.5, 3.0))
        f0 = rng.uniform(40, 110)
        wave = sum(np.sin(2 * np.pi * f0 * h * tt + rng.uniform(0, 6)) / h for h in range(1, 12))
        return wave * (1 + 0.5 * np.sin(2 * np.pi * rng.uniform(4, 12) * tt))
    if kind == "glass":
        tt = t(rng.uniform(0.8, 1.5))
        partials = rng.uniform(2500, 7000, size=5)
        return sum(np.sin(2 * np.pi * f * tt) * np.exp(-tt * rng.uniform(3, 9))
                   for f in partials) * (tt > 0)
    raise ValueError(kind)


EVENTS = ("bark", "siren", "knock", "chirp", "engine", "glass")


def scenes(root: Path, per_class: tuple[int, int, int] = (100, 25, 40), seconds: float = 10.0,
           seed: int = 0) -> Path:
    """10 s scenes, one event each somewhere in them; `<event>/<split>_<n>.wav` and a
    clips.csv. Test scenes are noisier."""
    done = root / "clips.csv"
    if done.exists():
        return done
    rng = np.random.default_rng(seed + 3)
    length = int(seconds * RATE)
    rows = []
    for kind in EVENTS:
        for split, count in zip(("train", "val", "test"), per_class, strict=True):
            for i in range(count):
                event = _level(_event(kind, rng), 0.0)[:length]
                scene = np.zeros(length)
                at = int(rng.integers(0, length - len(event) + 1))
                scene[at : at + len(event)] = event
                background = _noisy(np.zeros(length) + 1e-3, 0.0, rng, rng.uniform(0, 2))
                background = _level(background - 1e-3, 0.0)
                # the event's level against the background's
                snr = rng.uniform(-9, 3) if split == "test" else rng.uniform(-3, 12)
                mix = background + event_gain(event, background, snr) * scene
                path = Path(kind) / f"{split}_{i:03d}.wav"
                _write(root / path, mix, rng.uniform(-24, 0))
                rows.append({"path": str(path), "label": kind, "split": split})
    pd.DataFrame(rows).to_csv(done, index=False)
    return done


def event_gain(event: np.ndarray, background: np.ndarray, snr_db: float) -> float:
    """The gain that puts the event `snr_db` above the background (both as RMS, the
    event's over its own length)."""
    return float(np.sqrt(np.mean(background**2)) / (np.sqrt(np.mean(event**2)) + 1e-9)
                 * 10 ** (snr_db / 20))
