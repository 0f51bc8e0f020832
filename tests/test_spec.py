import copy

import optuna
import pytest
import yaml

from data_prep.config import ConfigError
from search.run import main
from search.space import SearchSpace
from search.spec import load_spec, parse_spec

VALID = {
    "model": "cnn1d",
    "metric": "val_accuracy",
    "mode": "max",
    "space": {"lr": {"loguniform": [1e-4, 1e-2]}},
}


def with_change(path, value):
    raw = copy.deepcopy(VALID)
    node = raw
    *parents, last = path
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value
    return raw


@pytest.mark.parametrize(
    "path, value, message",
    [
        (["learning_rate"], 0.1, r"^learning_rate: unknown key"),
        (["dataset", "sampel_rate"], 8000, r"^dataset\.sampel_rate: unknown key"),
        (["searcher", "type"], "bayes", r"^searcher\.type: 'bayes' is not one of"),
        (["searcher", "startup"], 3, r"^searcher\.startup: unknown key for 'optuna_tpe'"),
        (["scheduler", "grace"], 3, r"^scheduler\.grace: unknown key for 'asha'"),
        (["resources", "gpus"], 1, r"^resources\.gpus: unknown key"),
        (["space", "lr", "loguniform"], [0, 1], r"^space\.lr\.loguniform: low must be positive"),
        (["space", "lr", "logunifrom"], [1, 2], r"^space\.lr\.logunifrom: unknown key"),
        (["space", "act"], {"choice": []}, r"^space\.act\.choice: expected a non-empty list"),
        (["space", "layers"], {"int": [9, 3]}, r"^space\.layers\.int: low 9 must be below"),
        (["space", "m"], {"uniform": [0, 1], "when": {"opt": "sgd"}},
         r"^space\.m\.when\.opt: a condition must name a key defined above"),
        (["model"], "transformer", r"^model: 'transformer' is not one of"),
        (["metric"], "accuracy", r"^metric: 'accuracy' is not one of"),
        (["mode"], "maximise", r"^mode: 'maximise' is not one of"),
        (["num_samples"], "ten", r"^num_samples: expected int"),
    ],
)
def test_every_spec_error_names_its_key(path, value, message):
    with pytest.raises(ConfigError, match=message):
        parse_spec(with_change(path, value))


def test_missing_required_key_is_named():
    raw = dict(VALID)
    del raw["metric"]
    with pytest.raises(ConfigError, match=r"^metric: missing"):
        parse_spec(raw)


def test_cli_reports_the_file_and_key_and_exits_2(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(with_change(["dataset", "clip_secs"], 1.0)))
    assert main([str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "dataset.clip_secs: unknown key" in err


def test_shipped_spaces_are_valid():
    spec = load_spec("spaces/cnn1d.yaml")
    assert spec.model == "cnn1d" and spec.num_samples >= 8
    assert {"lr", "dropout", "conv_layers", "kernel_size", "channels", "norm", "act",
            "init"} <= set(spec.space.names)


def sample(space: SearchSpace, n: int, seed: int = 0) -> list[dict]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    configs = []
    for _ in range(n):
        trial = study.ask()
        fixed = space(trial)
        configs.append({**trial.params, **fixed})
        study.tell(trial, 0.0)
    return configs


def test_conditional_keys_exist_only_when_their_condition_holds():
    space = SearchSpace(
        {
            "optimizer": {"choice": ["adam", "sgd"]},
            "momentum": {"uniform": [0.8, 0.99], "when": {"optimizer": "sgd"}},
            "nesterov": {"choice": [True, False], "when": {"optimizer": ["sgd"]}},
            "kernel": {"qint": [3, 25, 2]},
            "channels": {"int": [32, 256], "log": True},
        },
        fixed={"batch_size": 16},
    )
    configs = sample(space, 60)
    for config in configs:
        assert ("momentum" in config) == (config["optimizer"] == "sgd")
        assert ("nesterov" in config) == (config["optimizer"] == "sgd")
        assert config["kernel"] % 2 == 1 and 3 <= config["kernel"] <= 25
        assert 32 <= config["channels"] <= 256
        assert config["batch_size"] == 16
    assert {c["optimizer"] for c in configs} == {"adam", "sgd"}


def test_space_survives_pickling_as_optuna_search_saves_it():
    import pickle

    space = load_spec("spaces/cnn1d.yaml").space
    restored = pickle.loads(pickle.dumps(space))
    assert restored.names == space.names
    assert sample(restored, 3, seed=1) == sample(space, 3, seed=1)


PANNS = {"model": "panns_cnn6", "metric": "val_accuracy", "mode": "max",
         "dataset": {"preset": "panns", "representation": "logmel"},
         "space": {"unfrozen_layers": {"int": [0, 6]}}}


def test_a_missing_weights_file_is_named_before_anything_runs(tmp_path):
    raw = {**PANNS, "fixed": {"pretrained": str(tmp_path / "Cnn6_mAP=0.343.pth")}}
    with pytest.raises(ConfigError, match=r"^fixed\.pretrained: .*Cnn6_mAP=0\.343\.pth does "
                                          r"not exist; weights are never downloaded"):
        parse_spec(raw)
    raw = {**PANNS, "space": {"pretrained": {"choice": [str(tmp_path / "a.pth")]}}}
    with pytest.raises(ConfigError, match=r"^space\.pretrained: .*a\.pth does not exist"):
        parse_spec(raw)


def test_weight_paths_become_absolute_for_trials_that_run_in_their_own_folders(
        tmp_path, monkeypatch):
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "w.pth").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    spec = parse_spec({**PANNS, "fixed": {"pretrained": "weights/w.pth"}})
    assert spec.space.fixed["pretrained"] == str(tmp_path / "weights" / "w.pth")
    assert spec.raw["fixed"]["pretrained"] == str(tmp_path / "weights" / "w.pth")


def test_published_panns_weights_need_their_front_end(tmp_path):
    (tmp_path / "w.pth").write_bytes(b"")
    raw = {**PANNS, "dataset": {"representation": "logmel", "sample_rate": 16000},
           "fixed": {"pretrained": str(tmp_path / "w.pth")}}
    with pytest.raises(ConfigError, match=r"^dataset: .*set dataset\.preset: panns .*"
                                          r"'sample_rate': 16000"):
        parse_spec(raw)
    parse_spec({**raw, "fixed": {}})  # trained from scratch, any front end will do


def test_embedding_spaces_check_layers_and_representation(tmp_path):
    (tmp_path / "w.pth").write_bytes(b"")
    raw = {"model": "mlp", "metric": "val_accuracy", "mode": "max",
           "dataset": {"preset": "panns", "representation": "logmel",
                       "embed": {"model": "panns_cnn6", "pretrained": str(tmp_path / "w.pth"),
                                 "layers": ["conv_block4", "fc1"]}},
           "space": {"layer": {"choice": ["fc1", "conv_block4+fc1", "conv_block2"]}}}
    with pytest.raises(ConfigError, match=r"^space\.layer: 'conv_block2' was not embedded; "
                                          r"choose from \['conv_block4', 'fc1'\]"):
        parse_spec(raw)
    raw["space"]["layer"]["choice"].pop()
    assert parse_spec(raw).dataset.output_representation == "embedding"
    with pytest.raises(ConfigError, match=r"'cnn2d' reads .* not 'embedding'"):
        parse_spec({**raw, "model": "cnn2d", "space": {"lr": {"uniform": [0.1, 0.2]}}})
    both = copy.deepcopy(raw)
    both["dataset"]["embed"]["checkpoint"] = str(tmp_path / "w.pth")
    with pytest.raises(ConfigError, match=r"^dataset\.embed\.checkpoint: give embed\.model"):
        parse_spec(both)


def test_set_overrides_any_key_of_the_space_file(tmp_path, capsys):
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(VALID))
    spec = load_spec(path, ["max_epochs=3", "fixed.dropout=0.25", "dataset.synthetic.seed=4",
                            "space.lr={uniform: [0.1, 0.2]}"])
    assert spec.max_epochs == 3 and spec.space.fixed["dropout"] == 0.25
    assert spec.dataset.synthetic.seed == 4
    assert [p.kind for p in spec.space.params if p.name == "lr"] == ["uniform"]
    with pytest.raises(ConfigError, match=r"^--set mode\.x: mode is not a mapping"):
        load_spec(path, ["mode.x=1"])
    assert main([str(path), "--set", "max_epochs", "--dry-run"]) == 2
    assert "--set max_epochs: expected KEY=VALUE" in capsys.readouterr().err
    assert main([str(path), "--set", "max_epochs=0", "--dry-run"]) == 2
    assert "max_epochs: must be at least 1" in capsys.readouterr().err
