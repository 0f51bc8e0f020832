"""Nothing wrong gets past the first second: bad specs and command lines end before any work
with one line naming the key or path, and files that would run code when loaded are refused."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import torch

from search import keys as search_keys
from search.run import main
from trainables import loop, models
from trainables.checkpoints import CheckpointError
from trainables.trained import TrainedModel

README = Path(__file__).resolve().parents[1] / "README.md"

# (space file, extra arguments, what the message must name)
BAD = [
    ("mlp", ["--set", "fixed.dropuot=0.5"], r"fixed\.dropuot: unknown key; did you mean 'dropout'"),
    ("mlp", ["--set", "fixed.lerning_rate=0.5"], r"fixed\.lerning_rate: unknown key"),
    ("mlp", ["--set", "space.hiden_units={choice: [8, 16]}"],
     r"space\.hiden_units: unknown key; did you mean 'hidden_units'"),
    ("mlp", ["--set", "space.momentum={uniform: [0.8, 0.99], when: {optimizer: sgdd}}"],
     r"space\.momentum\.when\.optimizer: 'sgdd' never occurs"),
    ("mlp", ["--set", "space.lr={choice: [fast]}"], r"space\.lr: 'fast' is not allowed"),
    ("mlp", ["--set", "space.optimizer={choice: [adam, rmsprop]}"],
     r"space\.optimizer: 'rmsprop' is not allowed; expected one of adam, adamw, sgd"),
    ("mlp", ["--set", "space.act={choice: [relu, swish]}"], r"space\.act: 'swish'"),
    ("mlp", ["--set", "fixed.batch_size=0"], r"fixed\.batch_size: 0 is not allowed"),
    ("mlp", ["--set", "space.dropout={uniform: [0.0, 1.5]}"], r"space\.dropout: 1\.5"),
    ("mlp", ["--set", "space.hidden_units={choice: [-5, 64]}"], r"space\.hidden_units: -5"),
    ("mlp", ["--set", "metric=val_map"], r"metric: 'val_map' is not reported for this "
                                         r"single-label"),
    ("mlp", ["--set", "fixed.loss=bce"], r"fixed\.loss: 'bce' does not fit"),
    ("mlp", ["--set", "fixed.model=cnn2d"], r"fixed\.model: set by the search"),
    ("mlp", ["--set", "fixed.max_epochs=3"], r"fixed\.max_epochs: set it at the top level"),
    ("mlp", ["--set", "dataset.source=/nonexistent/clips"], r"/nonexistent/clips does not exist"),
    ("mlp", ["--set", "searcher.type=bayes"], r"searcher\.type: 'bayes'"),
    ("mlp", ["--set", "scheduler.grace=2"], r"scheduler\.grace: unknown key"),
    ("mlp", ["--set", "scheduler.reduction_factor=1"], r"scheduler\.reduction_factor: 1 is "
                                                       r"not allowed; expected float in \(1,"),
    ("mlp", ["--set", "searcher.n_startup_trials=ten"], r"searcher\.n_startup_trials: 'ten'"),
    ("mlp", ["--set", "model=cnn3d"], r"model: 'cnn3d'"),
    ("mlp", ["--set", "resources.gpu=-1"], r"resources\.gpu: must not be negative"),
    ("mlp", ["--data", "/nonexistent"], r"--data /nonexistent: no such file or folder"),
    ("cnn1d", ["--set", "space.channels={uniform: [8, 64]}"],
     r"space\.channels: a uniform range does not fit this key .*use int or qint"),
    ("cnn1d", ["--set", "fixed.noise_snr_db=[30, 10]"], r"fixed\.noise_snr_db: \[30, 10\]"),
    ("cnn1d", ["--set", "fixed.first_stride=2.5"], r"fixed\.first_stride: 2\.5"),
    ("cnn1d", ["--set", "fixed.amp=maybe"], r"fixed\.amp: 'maybe'"),
    ("cnn2d", ["--set", "space.stride={int: [0, 2]}"], r"space\.stride: 0 is not allowed"),
]


@pytest.mark.parametrize("space, args, message", BAD, ids=[" ".join(a) for _, a, _ in BAD])
def test_a_bad_spec_ends_before_any_work_naming_the_key(space, args, message, tmp_path, capsys):
    code = main([f"spaces/{space}.yaml", "--results", str(tmp_path), *args])
    err = capsys.readouterr().err
    assert code == 2
    assert re.search(message, err), err
    assert err.count("\n") == 1 and "Traceback" not in err  # one line
    assert list(tmp_path.iterdir()) == []  # nothing prepared, nothing run


@pytest.mark.parametrize("args", [["--num-samples", "0"], ["--num-samples", "-3"],
                                  ["--max-epochs", "0"], ["--max-concurrent", "0"]])
def test_counts_below_one_are_errors_not_the_files_value(args, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["spaces/mlp.yaml", "--results", str(tmp_path), *args])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert args[0] in err and "must be at least 1" in err
    assert list(tmp_path.iterdir()) == []


def test_every_key_is_declared_once_with_a_default_it_allows():
    for name in models.names():
        schema = loop.schema(name)
        for key in schema.keys.values():
            assert key.problem(key.default) is None, (name, key.name)
            assert key.meaning, (name, key.name)


def test_model_defaults_are_the_constructors_own():
    import inspect

    from trainables.models import cnn1d, cnn2d, resnet_cifar

    for module, cls in ((cnn1d, cnn1d.CNN1d), (cnn2d, cnn2d.CNN2d),
                        (resnet_cifar, resnet_cifar.ResNetCifar)):
        signature = inspect.signature(cls).parameters
        for key in module.KEYS:
            assert signature[key.name].default == key.default, (cls.__name__, key.name)


def test_the_keys_command_prints_every_key(capsys):
    assert search_keys.main(["cnn1d"]) == 0
    out = capsys.readouterr().out
    for name in loop.schema("cnn1d").keys:
        assert re.search(rf"^{name}\s", out, re.M), name


def test_the_readme_names_exactly_the_declared_keys():
    text = README.read_text()
    section = text.split("Any key of the model or of the training loop")[1].split("\n\n")[0]
    named = set(re.findall(r"`([a-z_0-9]+)`", section)) - set(models.names())
    declared = {k for name in models.names() for k in loop.schema(name).keys}
    assert named - declared == set(), "README names keys no component reads"
    assert declared - named == set(), "declared keys the README does not name"


class RunsCode:
    """What a crafted file holds: unpickling it calls os.system."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture
def crafted(tmp_path) -> tuple[Path, Path]:
    marker = tmp_path / "ran"
    path = tmp_path / "model.pt"
    torch.save({"model": {"weight": torch.zeros(1)}, "config": RunsCode(marker)}, path)
    return path, marker


def test_a_pickle_bearing_model_is_refused_by_predict_and_embed(crafted, tmp_path, capsys):
    from embedding import embed
    from search import predict

    path, marker = crafted
    with pytest.raises(CheckpointError, match="refused"):
        TrainedModel.load(path)
    assert predict.main([str(tmp_path), "clip.wav", "--checkpoint", str(path)]) == 2
    assert "refused" in capsys.readouterr().err
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "manifest.json").write_text('{"representation": "waveform", "shapes": '
                                          '{"waveform": [100]}, "label_names": ["a", "b"], '
                                          '"fingerprint": "x"}')
    assert embed.main([str(shards), "--checkpoint", str(path), "--results",
                       str(tmp_path / "out")]) == 2
    assert "refused" in capsys.readouterr().err
    assert not marker.exists()  # nothing ran
