"""The typed contracts between the stages: what is written is what is read, and files
written before them still load."""

import json

from contracts.experiment import ExperimentInfo, current_environment, read_info
from contracts.manifest import VERSION, Manifest, read_manifest


def test_experiment_info_round_trips_and_reads_the_first_version(tmp_path):
    info = ExperimentInfo(metric="val_accuracy", mode="max", max_epochs=3, model="cnn1d",
                          shards={"{}": "/x"}, spec={"model": "cnn1d"},
                          objectives=[("val_accuracy", "max"), ("params", "min")],
                          environment=current_environment())
    (tmp_path / "experiment.json").write_text(info.to_json())
    assert read_info(tmp_path) == info
    assert info.further_objectives == [("params", "min")]
    old = {"metric": "val_loss", "mode": "min", "max_epochs": 5, "trainable": "mlp",
           "shards": {"{}": "/y"}, "spec": {}, "search_seconds": 12.5}
    (tmp_path / "experiment.json").write_text(json.dumps(old))
    read = read_info(tmp_path)
    assert read.version == 1 and read.objectives == [("val_loss", "min")]
    assert read.further_objectives == [] and read.search_seconds == 12.5
    assert read.model == "mlp"  # version 1's `trainable`
    assert read.environment == {}  # not recorded before


def test_the_environment_names_the_machine_and_the_installed_libraries():
    import importlib.metadata
    import platform

    import torch

    versions = current_environment()
    assert versions["machine"] == f"{platform.machine()} {torch.backends.cpu.get_cpu_capability()}"
    assert versions["python"] == platform.python_version()
    assert versions["torch"] == importlib.metadata.version("torch")
    assert versions["librosa"] == importlib.metadata.version("librosa")


def test_manifest_round_trips_and_reads_the_first_version(tmp_path):
    manifest = Manifest(fingerprint="f", label_names=["a", "b"], representation="logmel",
                        shapes={"logmel": [8, 5]}, counts={"train": {"a": 2, "b": 1}},
                        normalisation={"logmel": {"mean": [0.0], "std": [1.0]}},
                        params={"n_mels": 8}, copies=2)
    manifest.write(tmp_path)
    assert read_manifest(tmp_path) == manifest and manifest.version == VERSION
    old = manifest.to_dict()
    del old["version"], old["copies"]
    old["a_key_from_elsewhere"] = 1
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    read = read_manifest(tmp_path)
    assert read.version == 1 and read.copies == 0 and read.shapes == manifest.shapes
