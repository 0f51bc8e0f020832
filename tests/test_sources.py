"""Every dataset layout users bring, on files the tests make and on ../shared/data."""

import json
import wave

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from contracts.shards import read_ids, read_split
from data_prep.config import ConfigError, DatasetConfig
from data_prep.pipeline import list_clips, prepare

RATE = 8000


def tone(freq: float, seconds: float = 0.5, rate: int = RATE, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    mono = 0.5 * np.sin(2 * np.pi * freq * t)
    return np.stack([mono] * channels, axis=1) if channels > 1 else mono


def write(path, audio, rate=RATE, **kwargs):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio, rate, **kwargs)
    return path


def config(source, **extra) -> DatasetConfig:
    return DatasetConfig.from_dict({"source": str(source), "sample_rate": RATE,
                                    "clip_seconds": 0.5, **extra})


def test_class_folders_any_depth_and_format(ray_local, tmp_path):
    """GTZAN-style .au, a folder of MP3s, FLAC and OGG, nested below the label."""
    root = tmp_path / "genres"
    for i in range(4):
        write(root / "blues" / f"blues.{i:05d}.au", tone(220 + 10 * i))
        write(root / "rock" / "live" / f"track{i}.mp3", tone(880 + 10 * i), format="MP3")
        write(root / "jazz" / f"j{i}.flac", tone(440 + 10 * i))
        write(root / "pop" / f"p{i}.ogg", tone(660 + 10 * i), format="OGG")
    (root / "rock" / "notes.txt").write_text("not audio, not listed")
    prepared = prepare(config(root), tmp_path / "cache")
    assert prepared.manifest.label_names == ["blues", "jazz", "pop", "rock"]
    assert prepared.manifest.rejected == []
    ids = []
    for split in ("train", "val", "test"):
        x, y = read_split(prepared.path, split, "waveform")
        assert x.shape[1:] == (4000,) and len(x) == len(y)
        ids += pd.read_parquet(prepared.path / f"{split}.parquet")["id"].tolist()
    assert "rock/live/track0.mp3" in ids and len(ids) == 16
    # The MP3 decodes to its tone (encoder delay aside): the spectrum peaks at 880 Hz.
    x, _ = read_split(prepared.path, "train", "waveform")
    rock = [i for i, clip in enumerate(read_ids(prepared.path, "train")) if clip.startswith("rock")]
    assert rock
    for waveform in x[rock]:
        spectrum = np.abs(np.fft.rfft(waveform))
        assert abs(spectrum.argmax() * RATE / 4000 - 880) < 40


def make_speech_commands(root, words=("yes", "no", "up"), speakers=6):
    val, test = [], []
    for word in words:
        for s in range(speakers):
            clip_id = f"{word}/spk{s:02d}ab_nohash_0.wav"
            write(root / clip_id, tone(300 + 100 * words.index(word) + s, 1.0), 16000)
            (val if s == 4 else test if s == 5 else []).append(clip_id)
    write(root / "_background_noise_" / "white_noise.wav",
          np.random.default_rng(0).uniform(-0.1, 0.1, 16000 * 3), 16000)
    (root / "validation_list.txt").write_text("\n".join(val) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    return val, test


def test_speech_commands_lists_define_val_and_test(tmp_path):
    root = tmp_path / "sc"
    val, test = make_speech_commands(root)
    clips = list_clips(config(root), root)
    assert set(clips.loc[clips["split"] == "val", "id"]) == set(val)
    assert set(clips.loc[clips["split"] == "test", "id"]) == set(test)
    assert not clips["id"].str.startswith("_background_noise_").any()
    assert set(clips["group"]) == {f"spk{s:02d}ab" for s in range(6)}


def test_speech_commands_noise_is_recorded_not_a_class(ray_local, tmp_path):
    root = tmp_path / "sc"
    make_speech_commands(root)
    prepared = prepare(config(root, sample_rate=16000, clip_seconds=1.0), tmp_path / "cache")
    assert prepared.manifest.label_names == ["no", "up", "yes"]
    assert [p.split("/")[-1] for p in prepared.manifest.noise_files] == ["white_noise.wav"]


def test_without_lists_speakers_stay_on_one_side(tmp_path):
    root = tmp_path / "sc"
    for word in ("yes", "no"):
        for s in range(20):
            for n in range(3):
                write(root / word / f"s{s:03d}_nohash_{n}.wav", tone(300 + s, 0.1))
    clips = list_clips(config(root, val_fraction=0.2, test_fraction=0.2), root)
    assert (clips.groupby("group")["split"].nunique() == 1).all()
    assert set(clips["split"]) == {"train", "val", "test"}


def test_multilabel_csv_with_vocabulary(ray_local, tmp_path):
    """FSD50K style: comma-separated labels, a split column, an index,label,mid vocabulary."""
    audio = tmp_path / "clips"
    names = ["Bark", "Speech", "Music"]
    rows = []
    rng = np.random.default_rng(0)
    for i in range(24):
        labels = [n for n in names if rng.random() < 0.5] or ["Speech"]
        write(audio / f"{i}.wav", tone(200 + 50 * i, 0.3))
        rows.append({"fname": f"{i}.wav", "labels": ",".join(labels),
                     "split": ["train", "train", "val", "train"][i % 4] if i < 20 else "eval"})
    rows[0]["labels"] = "Bark,Speech,Music"
    pd.DataFrame(rows).to_csv(tmp_path / "dev.csv", index=False)
    (tmp_path / "vocabulary.csv").write_text("0,Bark,/m/05tny_\n1,Speech,/m/09x0r\n"
                                             "2,Music,/m/04rlf\n")
    csv = {"path_column": "fname", "label_column": "labels", "separator": ",",
           "vocabulary": "vocabulary.csv", "split_column": "split", "audio_dir": "clips"}
    prepared = prepare(config(tmp_path / "dev.csv", csv=csv, min_seconds=0.1),
                       tmp_path / "cache")
    manifest = prepared.manifest
    assert manifest.multi_label and manifest.label_names == sorted(names)
    x, y = read_split(prepared.path, "train", "waveform")
    assert y.shape == (len(x), 3) and set(np.unique(y)) <= {0.0, 1.0}
    table = pd.read_parquet(prepared.path / "train.parquet")
    first = table[table["id"] == "0.wav"]
    assert sorted(first["labels"].iloc[0]) == [0, 1, 2]
    assert len(pd.read_parquet(prepared.path / "test.parquet")) == 4  # eval -> test
    assert manifest.counts["train"]["Speech"] == int(y[:, 2].sum())


def test_a_labels_column_is_found_as_fsd50k_writes_it_without_options(ray_local, tmp_path):
    """`fname,labels,split` with comma-separated names, `fname` without its extension, and
    a `vocabulary.csv` beside the CSV: multi-label, every convention found by itself."""
    names = ["Bark", "Music", "Speech"]
    rows = []
    for i in range(18):
        write(tmp_path / f"{i}.wav", tone(200 + 40 * i, 0.3))
        rows.append({"fname": str(i), "labels": ",".join(names[: 1 + i % 3]),
                     "split": ["train", "train", "val", "train"][i % 4] if i < 15 else "test"})
    pd.DataFrame(rows).to_csv(tmp_path / "dev.csv", index=False)
    (tmp_path / "vocabulary.csv").write_text("0,Bark,/m/05tny_\n1,Speech,/m/09x0r\n"
                                             "2,Music,/m/04rlf\n")
    clips = list_clips(config(tmp_path / "dev.csv", min_seconds=0.1), tmp_path / "dev.csv")
    assert clips.attrs["multi_label"]
    assert clips["labels"].iloc[2] == ["Bark", "Music", "Speech"]
    assert clips["path"].iloc[0].endswith("0.wav")
    assert "'labels'" in clips.attrs["origin"]["labels"]
    assert "vocabulary.csv" in clips.attrs["origin"]["labels"]
    # The vocabulary found beside it is used: a label outside it is an error naming it.
    rows[4]["labels"] = "Bark,Dog"
    pd.DataFrame(rows).to_csv(tmp_path / "dev.csv", index=False)
    with pytest.raises(ValueError, match=r"row 6: label 'Dog' is not in the vocabulary"):
        list_clips(config(tmp_path / "dev.csv"), tmp_path / "dev.csv")
    # Explicit keys still win: the same column read as one label per clip.
    single = list_clips(config(tmp_path / "dev.csv", csv={"separator": None,
                                                          "vocabulary": None}),
                        tmp_path / "dev.csv")
    assert not single.attrs["multi_label"] and single["labels"].iloc[4] == ["Bark,Dog"]


def test_a_search_spec_knows_a_labels_csv_is_multi_label_before_preparing(tmp_path):
    from search.spec import check_dataset, load_spec, multi_label

    pd.DataFrame({"path": ["a.wav"], "labels": ["x,y"], "split": ["train"]}).to_csv(
        tmp_path / "tags.csv", index=False)
    pd.DataFrame({"filename": ["a.wav"], "category": ["x"]}).to_csv(tmp_path / "one.csv",
                                                                    index=False)
    assert multi_label(config(tmp_path / "tags.csv"))
    assert not multi_label(config(tmp_path / "one.csv"))
    spec = load_spec("spaces/cnn2d.yaml")
    spec.dataset = spec.dataset.replace(source=str(tmp_path / "tags.csv"))
    with pytest.raises(ConfigError, match="'val_accuracy' is not reported for this multi-label"):
        check_dataset(spec)


def test_csv_errors_name_the_file_row_and_column(tmp_path):
    write(tmp_path / "a.wav", tone(300))
    pd.DataFrame({"where": ["a.wav", "a.wav"], "label": ["x", "Dog"]}).to_csv(
        tmp_path / "w.csv", index=False)
    with pytest.raises(ConfigError, match=r"w\.csv: none of its columns \['where', 'label'\] "
                                          r"is a usual name for the path .*dataset\.csv\.path_c"):
        list_clips(config(tmp_path / "w.csv"), tmp_path / "w.csv")
    with pytest.raises(ConfigError, match=r"w\.csv: no column 'path' \(dataset\.csv\.path_col"):
        list_clips(config(tmp_path / "w.csv", csv={"path_column": "path"}),
                   tmp_path / "w.csv")
    pd.DataFrame({"file": ["a.wav", "a.wav"], "label": ["x", "Dog"]}).to_csv(
        tmp_path / "m.csv", index=False)
    (tmp_path / "vocab.txt").write_text("x\ny\n")
    with pytest.raises(ValueError, match=r"m\.csv, row 3: label 'Dog' is not in the vocabulary"):
        list_clips(config(tmp_path / "m.csv", csv={"path_column": "file",
                                                   "vocabulary": "vocab.txt"}),
                   tmp_path / "m.csv")
    pd.DataFrame({"file": ["a.wav"] * 3, "label": ["x"] * 3}).to_csv(tmp_path / "one.csv",
                                                                     index=False)
    with pytest.raises(ValueError, match=r"one\.csv: found 1 class"):
        list_clips(config(tmp_path / "one.csv", csv={"path_column": "file"}),
                   tmp_path / "one.csv")


def test_a_class_without_train_clips_is_an_error(tmp_path):
    write(tmp_path / "a.wav", tone(300))
    pd.DataFrame({"path": ["a.wav"] * 4, "label": ["x", "x", "y", "y"],
                  "split": ["train", "val", "val", "test"]}).to_csv(tmp_path / "m.csv",
                                                                    index=False)
    with pytest.raises(ValueError, match=r"classes \['y'\] have no clip in the train split"):
        list_clips(config(tmp_path / "m.csv", csv={"split_column": "split"}),
                   tmp_path / "m.csv")


def make_esc50(root, folds=5, per_fold=2, categories=("dog", "rain", "siren")):
    rows = []
    for fold in range(1, folds + 1):
        for c, category in enumerate(categories):
            for i in range(per_fold):
                name = f"{fold}-{c}{i}-A-{c}.wav"
                write(root / "audio" / name, tone(200 + 300 * c + 10 * i + fold, 0.5))
                rows.append({"filename": name, "fold": fold, "target": c,
                             "category": category, "esc10": False, "src_file": f"{c}{i}",
                             "take": "A"})
    (root / "meta").mkdir()
    pd.DataFrame(rows).to_csv(root / "meta" / "esc50.csv", index=False)


def test_esc50_folds_become_splits(ray_local, tmp_path):
    root = tmp_path / "ESC-50"
    make_esc50(root)
    clips = list_clips(config(root), root)
    assert dict(clips.groupby("fold")["split"].first()) == {
        1: "train", 2: "train", 3: "train", 4: "val", 5: "test"}
    chosen = list_clips(config(root, val_fold=1, test_fold=2), root)
    assert dict(chosen.groupby("fold")["split"].first()) == {
        1: "val", 2: "test", 3: "train", 4: "train", 5: "train"}
    prepared = prepare(config(root, test_fold=1, val_fold=2), tmp_path / "cache")
    table = pd.read_parquet(prepared.path / "test.parquet")
    assert set(table["fold"]) == {1} and len(table) == 6
    with pytest.raises(ValueError, match=r"dataset\.test_fold: 9 is not one of the folds"):
        list_clips(config(root, test_fold=9), root)


def write_bad_files(folder):
    """Every kind of file that must be skipped, with the word its reason must contain."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "empty.wav").write_bytes(b"")
    (folder / "text.wav").write_text("definitely not a RIFF header")
    good = write(folder / "for_truncation.wav", tone(300, 1.0))
    (folder / "truncated.wav").write_bytes(good.read_bytes()[: 44 + 2000])
    good.unlink()
    write(folder / "nan.wav", np.where(np.arange(4000) == 7, np.nan, tone(300)), subtype="FLOAT")
    write(folder / "silent.wav", np.zeros(4000))
    write(folder / "short.wav", tone(300, 0.01))
    write(folder / "eight_channels.wav", tone(300, channels=8))
    with wave.open(str(folder / "header_only.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
    big = write(folder / "huge.wav", tone(300, 8.0))
    return {"empty.wav": "empty", "text.wav": "unreadable", "truncated.wav": "truncated",
            "nan.wav": "non-finite", "silent.wav": "silent", "short.wav": "too short",
            "eight_channels.wav": "8 channels", "header_only.wav": "empty",
            big.name: "oversized"}


def test_every_kind_of_bad_file_is_skipped_and_listed(ray_local, tmp_path):
    root = tmp_path / "data"
    for label in ("a", "b"):
        for i in range(5):
            write(root / label / f"good{i}.wav", tone(300 + 200 * (label == "b") + i))
    expected = write_bad_files(root / "a")
    prepared = prepare(config(root, max_file_mb=0.1, min_seconds=0.05), tmp_path / "cache")
    rejected = pd.read_csv(prepared.path / "rejected.csv")
    reasons = dict(zip(rejected["id"].str.removeprefix("a/"), rejected["reason"], strict=True))
    assert set(reasons) == set(expected)
    for name, word in expected.items():
        assert word in reasons[name], (name, reasons[name])
    assert prepared.manifest.rejected == rejected.to_dict("records")
    kept = sum(sum(c.values()) for c in prepared.manifest.counts.values())
    assert kept == 10  # every good clip kept


def test_an_interrupted_preparation_leaves_no_cache(ray_local, tmp_path, monkeypatch):
    import data_prep.pipeline as pipeline

    root = tmp_path / "data"
    for label in ("a", "b"):
        for i in range(4):
            write(root / label / f"{i}.wav", tone(300 + 100 * i))

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    # The last step before the rename: shards and manifest are already written.
    monkeypatch.setattr(pipeline.pd.DataFrame, "to_csv", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prepare(config(root), tmp_path / "cache")
    assert list((tmp_path / "cache" / "shards").iterdir()) == []
    monkeypatch.undo()
    assert not prepare(config(root), tmp_path / "cache").reused


@pytest.mark.parametrize("policy", ["pad", "tile"])
def test_pad_and_tile_policies(ray_local, tmp_path, policy):
    root = tmp_path / "data"
    for label in ("a", "b"):
        for i in range(3):
            write(root / label / f"{i}.wav", tone(400, 0.2))
    prepared = prepare(config(root, pad_policy=policy), tmp_path / "cache")
    x, _ = read_split(prepared.path, "train", "waveform")
    tail = x[:, 1600:]
    assert (np.abs(tail).max() == 0) == (policy == "pad")


def test_max_seconds_keeps_more_than_a_model_sees(ray_local, tmp_path):
    root = tmp_path / "data"
    for label in ("a", "b"):
        for i in range(3):
            write(root / label / f"{i}.wav", tone(400, 2.0))
    prepared = prepare(config(root, max_seconds=1.5), tmp_path / "cache")
    assert prepared.manifest.shapes["waveform"] == [12000]
    assert prepared.manifest.clip_samples == 4000


def test_clips_longer_than_the_space_reads_are_kept_whole_by_default(ray_local, tmp_path):
    """3 s clips under a 0.5 s space: kept up to their length (auto), the summary says
    what training and scoring will do; `max_seconds: null` cuts them and says so."""
    from data_prep.summary import describe

    root = tmp_path / "data"
    for label, freq in (("a", 300), ("b", 900)):
        for i in range(4):
            write(root / label / f"{i}.wav", tone(freq + 10 * i, 3.0))
    prepared = prepare(config(root), tmp_path / "cache")
    assert prepared.manifest.params["max_seconds"] == 3.0
    assert prepared.manifest.stored_samples == 3 * RATE
    assert prepared.manifest.clip_samples == RATE // 2
    lines = "\n".join(describe(prepared.manifest))
    assert "training crops 0.5 s at random from up to 3 s kept" in lines
    assert "score whole clips on 0.5 s windows" in lines
    cut = prepare(config(root, max_seconds=None), tmp_path / "cache")
    assert cut.manifest.stored_samples == RATE // 2
    assert "cut to its centre 0.5 s (max_seconds: null)" in "\n".join(describe(cut.manifest))
    # Clips about as long as the space reads are cut as before.
    short = tmp_path / "short"
    for label in ("a", "b"):
        for i in range(3):
            write(short / label / f"{i}.wav", tone(400, 0.55))
    assert prepare(config(short), tmp_path / "cache").manifest.params["max_seconds"] is None


def test_shared_speech_commands_small(ray_local, tmp_path, shared_data):
    root = shared_data / "speech_commands_small"
    # Its lists put every clip of some words in val or test: an error that names them.
    with pytest.raises(ValueError, match=r"classes \['bed', 'cat', 'dog'\] have no clip in the"):
        prepare(config(root), tmp_path)
    listed = {s: set((root / f).read_text().split()) for s, f in
              (("val", "validation_list.txt"), ("test", "testing_list.txt"))}
    words = {"yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"}
    kept = tmp_path / "ten_words"
    kept.mkdir()
    for word in words:
        (kept / word).symlink_to(root / word)
    for name in ("validation_list.txt", "testing_list.txt"):
        (kept / name).symlink_to(root / name)
    (kept / "_background_noise_").symlink_to(root / "_background_noise_")
    prepared = prepare(config(kept, sample_rate=16000, clip_seconds=1.0), tmp_path)
    manifest = prepared.manifest
    assert set(manifest.label_names) == words
    assert manifest.noise_files[0].endswith("running_tap.wav")
    for split in ("val", "test"):
        ids = set(pd.read_parquet(prepared.path / f"{split}.parquet")["id"])
        assert ids and ids <= listed[split]
    train = set(pd.read_parquet(prepared.path / "train.parquet")["id"])
    assert not train & (listed["val"] | listed["test"])


def test_shared_speech_commands_test_layout(ray_local, tmp_path, shared_data):
    root = shared_data / "speech_commands_test_small"
    prepared = prepare(config(root, sample_rate=16000, clip_seconds=1.0,
                              representation="logmel"), tmp_path)
    names = prepared.manifest.label_names
    assert "_unknown_" in names and "_silence_" in names and len(names) == 12
    x, y = read_split(prepared.path, "train", "logmel")
    assert x.shape[1:] == (64, 1 + 16000 // 128) and np.isfinite(x).all()
    total = sum(sum(c.values()) for c in prepared.manifest.counts.values())
    assert total + len(prepared.manifest.rejected) == 96


def test_shared_spoken_digit_csv(ray_local, tmp_path, shared_data):
    root = shared_data / "spoken_digit_small"
    csv = {"path_column": "filename", "audio_dir": "audio"}
    prepared = prepare(config(root / "train_labels.csv", csv=csv, clip_seconds=1.0,
                              representation="mfcc", n_mfcc=13), tmp_path)
    manifest = prepared.manifest
    assert manifest.label_names == [str(d) for d in range(10)]
    # Its manifest names 2500 clips of which the subset ships 100: the rest are listed.
    present = {p.name for p in (root / "audio").iterdir()}
    total = sum(sum(c.values()) for c in manifest.counts.values())
    assert total == len(present) == 100
    assert {r["reason"] for r in manifest.rejected} == {"missing: no such file"}
    assert len(manifest.rejected) == 2500 - 100
    assert not present & {r["id"] for r in manifest.rejected}
    x, _ = read_split(prepared.path, "train", "mfcc")
    assert x.shape[1:] == (13, 1 + 8000 // 128)
    mean = np.asarray(manifest.normalisation["mfcc"]["mean"])
    assert mean.shape == (13, 1)
    np.testing.assert_allclose(mean[:, 0], x.mean(axis=(0, 2)), rtol=1e-4, atol=1e-3)
    json.dumps(manifest.to_dict())  # serialisable as written


def test_data_prep_command_prints_a_summary(ray_local, tmp_path, capsys):
    from data_prep.run import main

    root = tmp_path / "data"
    for label in ("low", "high"):
        for i in range(5):
            write(root / label / f"{i}.wav", tone(300 if label == "low" else 900))
    (root / "low" / "broken.wav").write_text("nope")
    code = main([str(root), "--representation", "mfcc", "--n_mfcc", "13",
                 "--results", str(tmp_path / "cache")])
    out = capsys.readouterr().out
    assert code == 0
    assert "rejected: 1" in out and "low/broken.wav: unreadable" in out
    assert "prepared 11 clips (10 kept)" in out and "shards:" in out
    assert main([str(root), "--representation", "chroma"]) == 2
    assert "dataset.representation: 'chroma' is not one of" in capsys.readouterr().err


def test_a_class_whose_every_clip_is_bad_is_an_error_with_the_reasons(ray_local, tmp_path):
    root = tmp_path / "data"
    for i in range(4):
        write(root / "good" / f"{i}.wav", tone(300 + 50 * i))
        (root / "broken").mkdir(exist_ok=True)
        (root / "broken" / f"{i}.wav").write_text("not audio")
    with pytest.raises(ValueError, match=r"every train clip of classes \['broken'\] was "
                                         r"rejected \(4 files in all, e\.g\. broken/0\.wav: "
                                         r"unreadable"):
        prepare(config(root), tmp_path / "cache")
    assert list((tmp_path / "cache" / "shards").iterdir()) == []
