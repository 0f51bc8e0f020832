import copy

import optuna
import pytest
import yaml

from data_prep.config import ConfigError
from search.run import main
from search.space import SearchSpace
from search.spec import load_spec, parse_spec

VALID = {
    "trainable": "cnn1d",
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
        (["trainable"], "transformer", r"^trainable: 'transformer' is not one of"),
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
    assert spec.trainable == "cnn1d" and spec.num_samples >= 8
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
