"""Embeddings: a network's layers over prepared shards, stored as columns an MLP trains on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from published import write_panns

from contracts.shards import read_ids, read_manifest, read_split
from data_prep.config import DatasetConfig
from data_prep.pipeline import prepare
from embedding import embed
from search.inference import featurise_files
from trainables import models
from trainables.data import TrialData
from trainables.loop import fit
from trainables.pretrained import load_pretrained
from trainables.trained import TrainedModel

PANNS_DATA = {"source": "synthetic", "preset": "panns", "representation": "logmel",
              "clip_seconds": 0.5,
              "synthetic": {"clips_per_class": 6, "classes": ["tone", "chirp_up", "beeps"]}}


@pytest.fixture(scope="module")
def base(ray_local, tmp_path_factory):
    root = tmp_path_factory.mktemp("embed")
    weights = root / "Cnn6.pth"
    write_panns("panns_cnn6", weights)
    return prepare(DatasetConfig.from_dict(PANNS_DATA), root / "results"), weights


def _embed(base_dir: Path, results: Path, *args: str, capsys=None) -> Path:
    assert embed.main([str(base_dir), "--results", str(results), *args]) == 0
    return Path(capsys.readouterr().out.split(": ", 1)[1].split("\n")[0])


def test_layers_become_columns_that_the_network_itself_connects(base, tmp_path, capsys):
    prepared, weights = base
    out = _embed(prepared.path, tmp_path, "--model", "panns_cnn6", "--pretrained",
                 str(weights), "--layers", "conv_block3", "pooled", "fc1", capsys=capsys)
    manifest = read_manifest(out)
    assert manifest.representation == "embedding"
    assert manifest.shapes == {"embedding.conv_block3": [256], "embedding.pooled": [512],
                                  "embedding.fc1": [512]}
    for split in ("train", "val", "test"):
        assert read_ids(out, split) == read_ids(prepared.path, split)
    columns = pq.read_table(out / "train.parquet").column_names
    assert columns == ["id", "label", "split"]
    assert (out / "train.embedding.fc1.npy").exists() and not list(out.glob("*logmel*"))

    # pooled is what fc1 reads: fc1's stored output is fc1 applied to the stored pooled.
    network = models.build("panns_cnn6", {}, (64, 51), 3)
    load_pretrained(network, weights)
    pooled, _ = read_split(out, "train", "embedding.pooled")
    fc1, y = read_split(out, "train", "embedding.fc1")
    with torch.no_grad():
        assert np.allclose(network.fc1(torch.from_numpy(pooled.copy())).numpy(), fc1, atol=1e-4)
    assert np.array_equal(y, read_split(prepared.path, "train", "logmel")[1])
    assert np.ptp(fc1, axis=0).max() > 0  # clips differ

    # Cached like any preparation; other layers are another embedding.
    again = _embed(prepared.path, tmp_path, "--model", "panns_cnn6", "--pretrained",
                   str(weights), "--layers", "conv_block3", "pooled", "fc1", capsys=capsys)
    assert again == out
    other = _embed(prepared.path, tmp_path, "--model", "panns_cnn6", "--pretrained",
                   str(weights), "--layers", "fc1", capsys=capsys)
    assert other != out

    # New audio files get the same numbers as the shards hold for them.
    source = Path(read_manifest(prepared.path).source)
    ids = read_ids(out, "val")[:3]
    fresh = featurise_files([str(source / i) for i in ids], manifest, "pooled+fc1")
    stored = read_split(out, "val", ["embedding.pooled", "embedding.fc1"])[0][:3]
    assert np.allclose(fresh, stored, atol=1e-4)


def test_a_trained_checkpoint_embeds_with_its_own_normalisation(base, tmp_path, capsys):
    prepared, _ = base
    data = TrialData.from_shards(prepared.path)
    states = []
    fit({"model": "cnn2d", "conv_layers": 2, "channels": 8, "max_epochs": 1}, data,
        lambda metrics, state: states.append(state))
    torch.save(states[-1], tmp_path / "model.pt")

    out = _embed(prepared.path, tmp_path, "--checkpoint", str(tmp_path / "model.pt"),
                 capsys=capsys)
    pooled, _ = read_split(out, "test", "embedding.pooled")
    assert pooled.shape[1] == 16  # cnn2d's last block: 8 channels x growth 2
    trained = TrainedModel.load(tmp_path / "model.pt")
    x_test, _ = read_split(prepared.path, "test", "logmel")
    with torch.no_grad():
        from_pooled = torch.softmax(trained.model.head(torch.from_numpy(pooled.copy())), 1).numpy()
    assert np.allclose(from_pooled, trained.probabilities(x_test), atol=1e-5)


def test_bad_embedding_requests_name_what_to_fix(base, tmp_path, capsys):
    prepared, weights = base
    args = [str(prepared.path), "--results", str(tmp_path), "--model", "panns_cnn6",
            "--pretrained", str(weights)]
    assert embed.main([*args, "--layers", "conv_block9"]) == 2
    assert "embed.layers: 'conv_block9' is not a layer of Panns; choose from" in \
        capsys.readouterr().err
    assert embed.main([*args[:-2], "--pretrained", str(tmp_path / "none.pth")]) == 2
    assert "none.pth does not exist" in capsys.readouterr().err
    assert embed.main([str(prepared.path), "--model", "resnet18"]) == 2
    assert "embed.pretrained: embed.model 'resnet18' needs its weights file" in \
        capsys.readouterr().err
    assert not list(tmp_path.glob("shards/.*tmp*"))  # nothing half-written left behind


def test_an_mlp_reads_one_layer_or_several_with_a_head_each():
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    x = rng.normal(size=(60, 12)).astype(np.float32)
    x[np.arange(60), y] += 3  # layer "a" (columns 0-3) carries the class
    data = TrialData(x, y, x[:12], y[:12], ["p", "q", "r"], x.mean(0), x.std(0), "embedding",
                     layers={"a": (0, 4), "b": (4, 12)})
    for layer, splits in (("a", [4]), ("a+b", [4, 8]), (None, [4, 8])):
        reports = []
        fit({"model": "mlp", "layer": layer, "max_epochs": 15, "lr": 1e-2}, data,
            lambda metrics, state, reports=reports: reports.append((metrics, state)))
        scores, state = [m for m, _ in reports], reports[-1][1]
        assert state["config"]["input_splits"] == splits
        branched = any(k.startswith("branches.1.") for k in state["model"])
        assert branched == (len(splits) > 1)
        assert scores[-1]["val_accuracy"] > 0.8
        assert len(state["normalisation"]["mean"]) == sum(splits)


def test_a_space_is_embedded_by_the_embedding_command_and_named_by_data_prep(
        ray_local, tmp_path, capsys):
    """data_prep.run prepares the shards and names the embedding command; that command,
    given the space, makes the embedding the search would read."""
    import yaml
    from published import write_soundnet

    from data_prep import run as prep_run

    weights = tmp_path / "soundnet.safetensors"
    write_soundnet("soundnet", weights)
    space = yaml.safe_load(open("spaces/embed_mlp.yaml"))
    space["dataset"]["embed"]["pretrained"] = str(weights)
    space["dataset"]["synthetic"] = {"clips_per_class": 6, "classes": ["tone", "beeps"]}
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(space))
    results = tmp_path / "results"
    assert prep_run.main(["--space", str(path), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert f"python -m embedding.embed --space {path} --results {results}" in out
    assert read_manifest(out.split("shards: ")[1].split()[0]).representation == "waveform"
    assert embed.main(["--space", str(path), "--results", str(results)]) == 0
    made = capsys.readouterr().out.split("Embeddings made in ")[1].split(": ")[1].split()[0]
    manifest = read_manifest(made)
    assert manifest.layers == ["conv5", "pool5", "conv6"] and manifest.kind == "vector"
