import os

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import soundfile as sf

from contracts.manifest import read_manifest
from contracts.shards import array_column, column_array, read_split
from data_prep import synthetic
from data_prep.config import ConfigError, DatasetConfig
from data_prep.pipeline import prepare, summed_in_row_order

CLASSES = ["tone", "chirp_up", "chirp_down", "noise_burst"]


def small_config(**overrides) -> DatasetConfig:
    raw = {"sample_rate": 4000, "clip_seconds": 0.5,
           "synthetic": {"clips_per_class": 10, "classes": CLASSES}}
    return DatasetConfig.from_dict({**raw, **overrides})


def test_shards_follow_the_contract(ray_local, tmp_path):
    prepared = prepare(small_config(), tmp_path)
    manifest = read_manifest(prepared.path)
    assert manifest.fingerprint == prepared.path.name
    assert manifest.label_names == sorted(CLASSES)
    assert manifest.shapes == {"waveform": [2000]}
    assert manifest.sample_rate == 4000 and manifest.rejected == []

    ids = {}
    for split in ("train", "val", "test"):
        table = pq.read_table(prepared.path / f"{split}.parquet")
        assert table.column_names == ["id", "label", "split"]  # arrays in <split>.waveform.npy
        assert set(table.column("split").to_pylist()) == {split}
        ids[split] = set(table.column("id").to_pylist())
        labels = table.column("label").to_numpy()
        expected = manifest.counts[split]
        for index, name in enumerate(manifest.label_names):
            assert (labels == index).sum() == expected[name]
        x, y = read_split(prepared.path, split, "waveform")
        assert x.shape == (len(table), 2000) and x.dtype == np.float32
        np.testing.assert_array_equal(y, labels)
    assert not ids["train"] & ids["val"] and not ids["train"] & ids["test"]
    assert not ids["val"] & ids["test"]
    assert sum(len(s) for s in ids.values()) == 10 * len(CLASSES)
    assert all(manifest.counts[s][c] > 0 for s in ("train", "val", "test") for c in CLASSES)
    # Normalisation statistics come from the train split alone.
    x_train, _ = read_split(prepared.path, "train", "waveform")
    stats = manifest.normalisation["waveform"]
    assert stats["mean"] == [pytest.approx(float(x_train.mean()), abs=1e-5)]
    assert stats["std"] == [pytest.approx(float(x_train.std()), rel=1e-3)]


def test_statistics_do_not_depend_on_the_order_workers_finish():
    """Float sums depend on their order: the same clips, in batches that arrive in any
    order, give bit-identical sums, so that two preparations write the same manifest."""
    rng = np.random.default_rng(0)
    values = rng.standard_normal((60, 3)) * 10.0 ** rng.integers(-8, 9, (60, 1))
    batches = [np.arange(start, start + 10) for start in range(0, 60, 10)]
    orders = [[0, 1, 2, 3, 4, 5], [5, 3, 1, 0, 4, 2], [2, 0, 5, 4, 1, 3]]
    sums = [summed_in_row_order([batches[b] for b in order],
                                [values[batches[b]] for b in order],
                                [values[batches[b]] ** 2 for b in order])
            for order in orders]
    for total, total_sq in sums[1:]:
        np.testing.assert_array_equal(total, sums[0][0])
        np.testing.assert_array_equal(total_sq, sums[0][1])
    # Summed as they came, these orders do not all agree (what the row order is for).
    as_they_came = {tuple(sum(values[batches[b]].sum(axis=0) for b in order))
                    for order in orders}
    assert len(as_they_came) > 1
    np.testing.assert_allclose(sums[0][0], values.sum(axis=0))


def test_waveforms_match_the_files(ray_local, tmp_path):
    prepared = prepare(small_config(), tmp_path)
    table = pq.read_table(prepared.path / "train.parquet").to_pandas()
    row = table.iloc[0]
    audio, _ = sf.read(os.path.join(prepared.manifest.source, row["id"]), dtype="float32")
    stored = np.load(prepared.path / "train.waveform.npy", mmap_mode="r")[0]  # as the README says
    np.testing.assert_allclose(stored, audio, atol=1e-6)


def test_array_columns_round_trip_through_parquet(tmp_path):
    values = np.random.default_rng(0).normal(size=(7, 3, 5)).astype(np.float32)
    pq.write_table(pa.table({"x": array_column(values)}), tmp_path / "a.parquet")
    stored = pq.read_table(tmp_path / "a.parquet").column("x")
    np.testing.assert_array_equal(column_array(stored).reshape(7, 3, 5), values)
    # A slice starts inside its buffer; the rows read must be the slice's.
    np.testing.assert_array_equal(column_array(stored.combine_chunks()[2:5]),
                                  values[2:5].reshape(3, 15))
    assert column_array(array_column(values[:0])).shape == (0, 15)
    # Caches written before binary columns hold list columns: still readable.
    flat = pa.array(values.ravel())
    listed = pa.FixedSizeListArray.from_arrays(flat, 15)
    np.testing.assert_array_equal(column_array(listed), values.reshape(7, 15))


def test_preparation_is_reused_until_an_input_changes(ray_local, tmp_path):
    first = prepare(small_config(), tmp_path)
    again = prepare(small_config(), tmp_path)
    assert not first.reused and again.reused and again.path == first.path
    assert prepare(small_config(clip_seconds=0.25), tmp_path).path != first.path

    clip = next(iter((tmp_path / "datasets").rglob("tone_0000.wav")))
    audio, rate = sf.read(clip)
    sf.write(clip, audio * 0.5, rate)
    changed = prepare(small_config(), tmp_path)
    assert not changed.reused and changed.path != first.path
    assert not list((tmp_path / "shards").glob(".*tmp*")), "temporary folders left behind"


def test_bad_files_are_skipped_and_listed(ray_local, tmp_path):
    root = synthetic.generate(tmp_path / "data", clips_per_class=6, sample_rate=4000,
                              seconds=0.5, classes=["tone", "chord"])
    (root / "tone" / "garbage.wav").write_bytes(b"this is not audio")
    (root / "tone" / "empty.wav").write_bytes(b"")
    sf.write(root / "chord" / "silent.wav", np.zeros(2000), 4000)
    sf.write(root / "chord" / "eight_channels.wav", np.random.rand(2000, 8) - 0.5, 4000)
    config = DatasetConfig.from_dict({"source": str(root), "sample_rate": 4000,
                                      "clip_seconds": 0.5})
    prepared = prepare(config, tmp_path / "cache")
    rejected = pd.read_csv(prepared.path / "rejected.csv")
    reasons = dict(zip(rejected["id"], rejected["reason"], strict=True))
    assert set(reasons) == {"tone/garbage.wav", "tone/empty.wav", "chord/silent.wav",
                            "chord/eight_channels.wav"}
    assert "silent" in reasons["chord/silent.wav"]
    assert "8 channels" in reasons["chord/eight_channels.wav"]
    assert prepared.manifest.rejected == rejected.to_dict("records")
    kept = sum(sum(c.values()) for c in prepared.manifest.counts.values())
    assert kept == 12  # every good clip kept


def test_resamples_and_fixes_length(ray_local, tmp_path):
    root = tmp_path / "data"
    for label, freq in (("low", 300), ("high", 1200)):
        (root / label).mkdir(parents=True)
        for i, seconds in enumerate((0.3, 0.5, 2.0, 1.0)):
            t = np.arange(int(16000 * seconds)) / 16000
            sf.write(root / label / f"{i}.wav", np.sin(2 * np.pi * freq * t) * 0.5, 16000)
    config = DatasetConfig.from_dict({"source": str(root), "sample_rate": 8000,
                                      "clip_seconds": 1.0, "pad_policy": "pad"})
    prepared = prepare(config, tmp_path / "cache")
    x, _ = read_split(prepared.path, "train", "waveform")
    assert x.shape[1] == 8000
    spectrum = np.abs(np.fft.rfft(x, axis=1))
    peaks = set(np.round(spectrum.argmax(axis=1) / 1.0))  # 1 Hz bins for 1 s at 8 kHz
    assert peaks <= {300.0, 1200.0}


def test_dataset_config_errors_name_the_key():
    with pytest.raises(ConfigError, match=r"dataset\.sample_rte: unknown key"):
        DatasetConfig.from_dict({"sample_rte": 8000})
    with pytest.raises(ConfigError, match=r"dataset\.synthetic\.clips: unknown key"):
        DatasetConfig.from_dict({"synthetic": {"clips": 3}})
    with pytest.raises(ConfigError, match=r"dataset\.pad_policy: 'mirror'"):
        DatasetConfig.from_dict({"pad_policy": "mirror"})
