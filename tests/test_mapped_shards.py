"""Shards a trial maps instead of copying, and the streaming path that keeps memory flat."""

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from contracts.shards import array_column, array_path, read_split
from data_prep.config import DatasetConfig
from data_prep.pipeline import prepare
from trainables.data import TrialData
from trainables.inputs import Inputs, streams
from trainables.loop import fit
from trainables.sampling import epoch_rows


def small(**overrides) -> DatasetConfig:
    return DatasetConfig.from_dict({
        "sample_rate": 4000, "clip_seconds": 0.5, "representation": "logmel",
        "n_fft": 256, "hop_length": 64, "n_mels": 24, "max_seconds": 0.75,
        "synthetic": {"clips_per_class": 12, "classes": ["tone", "chirp_up", "noise_burst"]},
        **overrides})


@pytest.fixture(scope="module")
def prepared(ray_local, tmp_path_factory):
    return prepare(small(), tmp_path_factory.mktemp("mapped"))


def test_arrays_are_mapped_from_one_file_per_split(prepared):
    for split in ("train", "val", "test"):
        assert array_path(prepared.path, split, "logmel").exists()
        assert "logmel" not in pq.read_table(prepared.path / f"{split}.parquet").column_names
        x, y = read_split(prepared.path, split, "logmel")
        assert isinstance(x, np.memmap) and not x.flags.writeable
        assert x.shape == (len(y), *prepared.manifest.shapes["logmel"])
    assert not list(prepared.path.glob("*.parts"))  # the workers' parts are joined


def test_caches_with_arrays_in_parquet_still_read(prepared, tmp_path):
    """Caches written before arrays left Parquet keep them as a column."""
    import shutil

    old = tmp_path / prepared.path.name
    shutil.copytree(prepared.path, old)
    expected, labels = read_split(prepared.path, "val", "logmel")
    table = pq.read_table(old / "val.parquet")
    table = table.append_column("logmel", array_column(np.asarray(expected)))
    shutil.rmtree(old / "val.parquet")
    (old / "val.parquet").mkdir()
    pq.write_table(table, old / "val.parquet" / "part-000000000.parquet")
    array_path(old, "val", "logmel").unlink()
    x, y = read_split(old, "val", "logmel")
    np.testing.assert_array_equal(x, expected)
    np.testing.assert_array_equal(y, labels)


def test_streamed_batches_equal_the_in_memory_ones(prepared):
    data = TrialData.from_shards(prepared.path).scaled("clip", 2.0)
    loaded = np.array(data.x_train)  # the arrays wholly in memory, as before mapping
    paths = {
        "in memory": Inputs(loaded, data.normalisation, torch.device("cpu"), stream=False),
        "mapped": Inputs(data.x_train, data.normalisation, torch.device("cpu"), stream=False),
        "streamed": Inputs(data.x_train, data.normalisation, torch.device("cpu"), stream=True),
    }
    g = torch.Generator().manual_seed(3)
    order = epoch_rows(data.y_train, data.train_versions, {}, g)
    for start in range(0, len(order), 8):
        rows = order[start : start + 8]
        batches = {name: inputs[rows] for name, inputs in paths.items()}
        for name in ("mapped", "streamed"):
            torch.testing.assert_close(batches[name], batches["in memory"], rtol=0, atol=0)
    cropped = {stream: Inputs(data.x_val, data.normalisation, torch.device("cpu"), stream,
                              crop=data.crop_length) for stream in (False, True)}
    assert cropped[True][0:5].shape[-1] == data.crop_length
    torch.testing.assert_close(cropped[True][0:5], cropped[False][0:5], rtol=0, atol=0)
    torch.testing.assert_close(cropped[True].head(3)[0:3], cropped[False][0:3])


def test_a_trial_trains_alike_streaming_or_not(prepared):
    """Same seed, same batches in the same order: the same losses on either path."""
    data = TrialData.from_shards(prepared.path)
    runs = {}
    for streaming in (False, True):
        reports = []
        fit({"model": "cnn2d", "conv_layers": 2, "channels": 4, "max_epochs": 2,
             "batch_size": 8, "streaming": streaming, "gain_db": 3.0, "spec_augment": True},
            data, lambda metrics, state, out=reports: out.append(metrics))
        runs[streaming] = reports
    for plain, streamed in zip(runs[False], runs[True], strict=True):
        for key in ("train_loss", "val_loss", "val_accuracy"):
            assert streamed[key] == pytest.approx(plain[key], rel=1e-6)
    assert runs[True][0]["first_batch_s"] > 0 and "first_batch_s" not in runs[True][1]


def test_large_data_streams_and_small_data_stays_in_memory():
    assert streams({"streaming": None}, 10 * 2**40)
    assert not streams({"streaming": None}, 2**20)
    assert streams({"streaming": True}, 1) and not streams({"streaming": False}, 10 * 2**40)
