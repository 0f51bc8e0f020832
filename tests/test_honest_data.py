"""Scores a user can trust: the split and groups they gave, leaks named, duplicates listed,
clips at one loudness, and the summary that shows it all before the trials start."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from contracts.manifest import read_manifest
from contracts.shards import read_ids
from data_prep import loudness, pitch
from data_prep import run as prep_run
from data_prep.config import ConfigError, DataError, DatasetConfig
from data_prep.pipeline import list_clips, prepare
from trainables.data import normalise

RATE = 8000
SPLIT_OF = {"ann": "train", "bob": "train", "cat": "train", "dan": "dev", "eve": "test"}


def voice(freq: float, level_db: float, seed: int, seconds: float = 0.5) -> np.ndarray:
    """A harmonic tone with a little noise, at an RMS level in dBFS."""
    t = np.arange(int(RATE * seconds)) / RATE
    x = sum(np.sin(2 * np.pi * freq * k * t) / k for k in (1, 2, 3))
    x = x + 0.05 * np.random.default_rng(seed).standard_normal(len(t))
    return (x * 10 ** (level_db / 20) / np.sqrt(np.mean(x**2))).astype(np.float32)


def speaker_csv(root, split_of=SPLIT_OF, quiet: tuple[str, ...] = (), columns=None,
                high: tuple[str, ...] = ()):
    """Two words by five speakers, a CSV with `path,label,speaker,split` as datasets ship;
    the `quiet` speakers 20 dB down, the `high` an octave up."""
    rows = []
    for s, (speaker, split) in enumerate(split_of.items()):
        for word, freq in (("yes", 300), ("no", 500)):
            for take in range(3):
                name = f"{speaker}_{word}_{take}.wav"
                level = -40.0 if speaker in quiet else -20.0
                pitch = (freq + 7 * s) * (2 if speaker in high else 1)
                sf.write(root / name, voice(pitch, level, seed=100 * s + take), RATE)
                rows.append({"path": name, "label": word, "speaker": speaker, "split": split})
    table = pd.DataFrame(rows)
    if columns:
        table = table.rename(columns=columns)
    table.to_csv(root / "clips.csv", index=False)
    return root / "clips.csv"


def config(source, **extra) -> DatasetConfig:
    return DatasetConfig.from_dict({"source": str(source), "sample_rate": RATE,
                                    "clip_seconds": 0.5, **extra})


def test_a_csv_split_and_speakers_are_found_with_no_option(ray_local, tmp_path, capsys):
    csv = speaker_csv(tmp_path)
    assert prep_run.main([str(csv), "--results", str(tmp_path / "results")]) == 0
    out = capsys.readouterr().out
    assert "split: column 'split' of clips.csv" in out
    assert "groups: column 'speaker' of clips.csv" in out
    shards = next((tmp_path / "results" / "shards").iterdir())
    manifest = read_manifest(shards)
    assert manifest.origin["split"] == "column 'split' of clips.csv"
    for split, speakers in (("train", {"ann", "bob", "cat"}), ("val", {"dan"}),
                            ("test", {"eve"})):
        assert {clip_id.split("_")[0] for clip_id in read_ids(shards, split)} == speakers
        assert sum(manifest.counts[split].values()) == 6 * len(speakers)


@pytest.mark.parametrize("columns", [{"split": "Subset", "speaker": "client_id"},
                                     {"split": "partition", "speaker": "subject"}])
def test_usual_column_names_are_found(tmp_path, columns):
    csv = speaker_csv(tmp_path, columns=columns)
    clips = list_clips(config(csv), csv)
    assert clips.attrs["origin"]["split"].startswith(f"column {columns['split']!r}")
    assert clips.attrs["origin"]["groups"] == f"column {columns['speaker']!r} of clips.csv"
    assert set(clips.loc[clips["group"] == "eve", "split"]) == {"test"}


def test_null_turns_detection_off_and_an_explicit_column_wins(tmp_path):
    csv = speaker_csv(tmp_path)
    clips = list_clips(config(csv, csv={"split_column": None, "group_column": None}), csv)
    assert clips.attrs["origin"]["split"].startswith("random by class")
    assert clips.attrs["origin"]["groups"] is None
    table = pd.read_csv(csv)
    table["mine"] = table["split"].map({"train": "test", "dev": "train", "test": "val"})
    table.to_csv(csv, index=False)
    clips = list_clips(config(csv, csv={"split_column": "mine"}), csv)
    assert set(clips.loc[clips["group"] == "eve", "split"]) == {"val"}


def test_a_split_without_val_draws_val_from_train_keeping_speakers_whole(tmp_path):
    csv = speaker_csv(tmp_path, split_of={"ann": "train", "bob": "train", "cat": "train",
                                          "dan": "train", "eve": "test"})
    clips = list_clips(config(csv), csv)
    assert set(clips["split"]) == {"train", "val", "test"}
    assert (clips.groupby("group")["split"].nunique() == 1).all()
    assert "val drawn from its train rows" in clips.attrs["origin"]["split"]


def test_a_speaker_on_both_sides_is_an_error_naming_it(tmp_path):
    csv = speaker_csv(tmp_path)
    table = pd.read_csv(csv)
    table.loc[(table["speaker"] == "eve") & (table["label"] == "no"), "split"] = "train"
    table.to_csv(csv, index=False)
    with pytest.raises(DataError, match=r"group 'eve' \(column 'speaker' of clips\.csv\) is in "
                                        r"splits \['test', 'train'\]"):
        list_clips(config(csv), csv)
    clips = list_clips(config(csv, allow_shared_groups=True), csv)
    assert set(clips.loc[clips["group"] == "eve", "split"]) == {"train", "test"}


def test_a_detected_column_with_other_values_says_how_to_turn_it_off(tmp_path):
    csv = speaker_csv(tmp_path)
    table = pd.read_csv(csv)
    table["split"] = "A"
    table.to_csv(csv, index=False)
    with pytest.raises(DataError, match=r"column 'split' holds 'a'.*split_column: null"):
        list_clips(config(csv), csv)


def test_identical_audio_is_listed_across_and_within_splits(ray_local, tmp_path):
    csv = speaker_csv(tmp_path)
    table = pd.read_csv(csv)
    (tmp_path / "eve_yes_0.wav").write_bytes((tmp_path / "ann_yes_0.wav").read_bytes())
    (tmp_path / "bob_no_1.wav").write_bytes((tmp_path / "ann_no_2.wav").read_bytes())
    table.to_csv(csv, index=False)
    prepared = prepare(config(csv), tmp_path / "results")
    found = {tuple(sorted(d["ids"])): sorted(d["splits"])
             for d in prepared.manifest.duplicates}
    assert found == {("ann_yes_0.wav", "eve_yes_0.wav"): ["test", "train"],
                     ("ann_no_2.wav", "bob_no_1.wav"): ["train", "train"]}
    listed = pd.read_csv(prepared.path / "duplicates.csv")
    assert set(listed.loc[listed["across_splits"], "id"]) == {"ann_yes_0.wav", "eve_yes_0.wav"}
    warnings = prep_run.describe(prepared.manifest)
    assert any("1 clips have identical copies in another split" in w for w in warnings)


@pytest.mark.parametrize("kind, target", [("peak", -1.0), ("rms", -20.0), ("lufs", -23.0)])
def test_loudness_brings_any_clip_to_the_target(kind, target):
    for level in (-45.0, -25.0, -8.0):
        clip = voice(300, level, seed=1, seconds=1.0)
        out = loudness.normalise(clip, RATE, kind)
        assert loudness.level_db(out, RATE, kind) == pytest.approx(target, abs=0.1)
    short = voice(300, -35.0, seed=2, seconds=0.3)  # below LUFS's 0.4 s block
    assert loudness.level_db(loudness.normalise(short, RATE, kind), RATE, kind) == \
        pytest.approx(target, abs=0.1)


def test_quiet_test_speakers_are_warned_of_and_loudness_levels_them(ray_local, tmp_path):
    csv = speaker_csv(tmp_path, quiet=("eve",))
    raw = prepare(config(csv), tmp_path / "results").manifest
    assert raw.splits["test"]["level_db"] == pytest.approx(-40, abs=0.5)
    assert any("test is 20.0 dB quieter than train" in w for w in prep_run.describe(raw))
    levelled = prepare(config(csv, loudness="rms"), tmp_path / "results")
    from contracts.shards import read_split

    for split in ("train", "test"):
        x, _ = read_split(levelled.path, split, "waveform")
        assert loudness.rms_db(x) == pytest.approx(-20, abs=0.5)


@pytest.mark.parametrize("rate", [8000, 16000, 44100])
def test_the_fundamental_of_tones_of_known_pitch(rate):
    t = np.arange(rate) / rate
    for f0 in (60.0, 110.0, 440.0, 1000.0):
        tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in (1, 2, 3)).astype(np.float32)
        tone[: rate // 4] *= 0.01  # a quiet lead-in: not a note
        assert pitch.median_f0(tone, rate) == pytest.approx(f0, rel=0.02)
    noise = np.random.default_rng(0).standard_normal(rate).astype(np.float32)
    assert np.isnan(pitch.median_f0(noise, rate))
    assert np.isnan(pitch.median_f0(np.zeros(rate, np.float32), rate))


def test_test_voices_in_another_register_are_warned_of(ray_local, tmp_path):
    csv = speaker_csv(tmp_path, high=("eve",))
    manifest = prepare(config(csv), tmp_path / "results").manifest
    train, test = (manifest.splits[s]["f0_median_hz"] for s in ("train", "test"))
    assert 300 <= train <= 514 and test > train * 2 ** (6 / 12)  # the tones' fundamentals
    lines = prep_run.describe(manifest)
    warned = [line for line in lines if "semitones above train" in line]
    assert warned and "pitch_semitones" in warned[0], lines
    assert 6 <= int(warned[0].split("test sits ")[1].split()[0]) <= 16
    assert any(line.strip().startswith("train") and ", pitch " in line for line in lines)
    (tmp_path / "same").mkdir()
    same = prepare(config(speaker_csv(tmp_path / "same")), tmp_path / "results")
    assert not any("semitones" in line for line in prep_run.describe(same.manifest))


def test_loudness_is_a_searchable_preparation_key(tmp_path):
    from search.spec import parse_spec

    spec = parse_spec({"model": "cnn1d", "metric": "val_accuracy", "mode": "max",
                       "space": {"data.loudness": {"choice": ["none", "rms"]}}})
    assert sorted(v.loudness for v in spec.dataset_variants().values()) == ["none", "rms"]
    with pytest.raises(ConfigError, match=r"dataset\.loudness: 'loud' is not one of"):
        DatasetConfig.from_dict({"loudness": "loud"})


def test_per_clip_scaling_ignores_the_level():
    x = np.stack([voice(300, -20, seed=3), voice(300, -34, seed=3)])
    z = normalise(x, {"mean": 0.0, "std": 1.0, "per_clip": True})
    assert np.allclose(z[0], z[1], atol=1e-4)
    assert np.allclose(z.std(axis=1), 1, atol=1e-3)


def test_pitch_is_measured_on_a_bounded_sample_of_each_class_and_split():
    from data_prep.summary import PITCH_SAMPLE, pitch_sample

    clips = pd.DataFrame({"id": [f"{c}/{i}.wav" for c in "ab" for i in range(100)],
                          "labels": [[c] for c in "ab" for _ in range(100)],
                          "split": (["train"] * 80 + ["val"] * 20) * 2})
    chosen = pitch_sample(clips)
    counts = clips[chosen].groupby(["split", clips["labels"].str[0]]).size().to_dict()
    assert counts == {("train", "a"): PITCH_SAMPLE, ("train", "b"): PITCH_SAMPLE,
                      ("val", "a"): 20, ("val", "b"): 20}
    assert not chosen[:PITCH_SAMPLE].all()  # not simply the listing's first clips
    assert (pitch_sample(clips) == chosen).all()
