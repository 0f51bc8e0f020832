import copy

import optuna
import pytest
import yaml

from data_prep.config import ConfigError
from search.fidelity import sample_configs
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
        (["searcher", "startup"], 3, r"^searcher\.startup: unknown key for 'auto'"),
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
        (["mode"], "min", r"^mode: val_accuracy is better higher; use mode: max"),
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
    return sample_configs(space, [], n, seed)


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


BRANCHES = {
    "front": {"choice": ["energy", "conv"]},
    "first_kernel": [{"value": 16, "when": {"front": "energy"}},
                     {"choice": [80, 160], "when": {"front": "conv"}}],
    "pool": {"value": 20, "when": {"front": "energy"}},
    "lr": {"loguniform": [1e-4, 1e-2]},
}


def test_a_branch_sets_its_own_values_and_the_searcher_draws_only_the_rest():
    """`value` entries: each branch of `front` gets its own first_kernel (set for energy,
    searched for conv) and energy alone a pool; Optuna is told only what it drew."""
    space = SearchSpace(BRANCHES, fixed={"batch_size": 16})
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    fronts = set()
    for _ in range(40):
        trial = study.ask()
        values = space(trial)
        config = {**trial.params, **values}
        study.tell(trial, 0.0)
        fronts.add(config["front"])
        if config["front"] == "energy":
            assert config["first_kernel"] == 16 and config["pool"] == 20
            assert set(trial.params) == {"front", "lr"}
        else:
            assert config["first_kernel"] in (80, 160) and "pool" not in config
            assert set(trial.params) == {"front", "first_kernel", "lr"}
        assert config["batch_size"] == 16
        # What a warm start tells a new study: the drawn keys and their ranges alone.
        assert set(space.distributions_for(trial.params)) == set(trial.params)
    assert fronts == {"energy", "conv"}
    assert space.names == ["front", "first_kernel", "pool", "lr"]
    grid = SearchSpace({k: v for k, v in BRANCHES.items() if k != "lr"}, {}).grid()
    assert grid == {"front": ["energy", "conv"], "first_kernel": [80, 160]}


@pytest.mark.parametrize("key, entries, message", [
    ("first_kernel", [{"value": 16, "when": {"front": "energy"}},
                      {"value": 80, "when": {"front": ["conv", "energy"]}}],
     r"^space\.first_kernel\[1\]: its `when` can hold together with entry 0's"),
    ("first_kernel", [{"choice": [8, 16], "when": {"front": "energy"}},
                      {"choice": [80, 160], "when": {"front": "conv"}}],
     r"^space\.first_kernel: at most one of its entries may be searched"),
    ("first_kernel", [{"value": 16, "when": {"front": "energy"}}, {"value": 80}],
     r"^space\.first_kernel\[1\]: a value without `when` is a fixed key"),
    ("pool", {"value": [20, 40], "when": {"front": "energy"}},
     r"^space\.pool\.value: expected one value"),
    ("pool", {"value": 20.5, "when": {"front": "energy"}}, r"^space\.pool: 20\.5 is not allowed"),
])
def test_conditional_value_mistakes_are_named(key, entries, message):
    raw = {**VALID, "space": {**BRANCHES, key: entries}}
    with pytest.raises(ConfigError, match=message):
        parse_spec(raw)


def test_start_from_sets_a_branch_values_and_enqueues_only_the_drawn_keys():
    raw = {**VALID, "space": BRANCHES,
           "start_from": [{"front": "energy", "first_kernel": 16, "lr": 1e-3},
                          {"front": "conv", "first_kernel": 160}]}
    assert parse_spec(raw).start_from == [{"front": "energy", "lr": 1e-3},
                                          {"front": "conv", "first_kernel": 160}]
    for start, message in [({"front": "energy", "first_kernel": 80},
                            r"first_kernel: 80 is outside value"),
                           ({"front": "conv", "pool": 20}, r"pool: exists only when")]:
        with pytest.raises(ConfigError, match=r"^start_from\[0\]\." + message):
            parse_spec({**raw, "start_from": [start]})


def test_rules_between_model_keys_are_checked_before_the_search_starts():
    too_many = r"cepstra 20 is more than bands 16 .*; lower cepstra or raise bands"
    fixed = {"front": "cepstral", "bands": 16, "cepstra": 20}
    with pytest.raises(ConfigError, match=r"^fixed: " + too_many):
        parse_spec({**VALID, "fixed": fixed})
    parse_spec({**VALID, "fixed": {**fixed, "front": "conv"}})  # the conv front has no DCT
    # A searched key leaves the rule to the trials (bands 64 would do) ...
    searched = {**VALID, "fixed": {"front": "cepstral", "cepstra": 20},
                "space": {**VALID["space"], "bands": {"choice": [16, 64]}}}
    parse_spec(searched)
    # ... but a start point is one whole config, checked as such.
    with pytest.raises(ConfigError, match=r"^start_from\[1\]: " + too_many):
        parse_spec({**searched, "start_from": [{"bands": 64}, {"bands": 16}]})
    branches = {**VALID, "space": {"front": {"choice": ["conv", "cepstral"]},
                                   "bands": {"value": 16, "when": {"front": "cepstral"}},
                                   "cepstra": {"value": 20, "when": {"front": "cepstral"}}},
                "start_from": [{"front": "conv"}, {"front": "cepstral"}]}
    with pytest.raises(ConfigError, match=r"^start_from\[1\]: " + too_many):
        parse_spec(branches)


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
    # A searched preparation key is a dotted key of its own under `space`.
    searched = load_spec("spaces/cnn2d.yaml", ["space.data.representation={choice: [cqt]}",
                                               "start_from=[]"])
    assert [v.representation for v in searched.dataset_variants().values()] == ["cqt"]
    with pytest.raises(ConfigError, match=r"^--set mode\.x: mode is not a mapping"):
        load_spec(path, ["mode.x=1"])
    assert main([str(path), "--set", "max_epochs", "--dry-run"]) == 2
    assert "--set max_epochs: expected KEY=VALUE" in capsys.readouterr().err
    assert main([str(path), "--set", "max_epochs=0", "--dry-run"]) == 2
    assert "max_epochs: must be at least 1" in capsys.readouterr().err
