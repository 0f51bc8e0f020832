"""A space YAML, read and validated into a `Spec`. Every error names the key at fault."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from contracts import weights
from contracts.kinds import Kind
from contracts.registry import REPRESENTATIONS, Registry
from contracts.shards import layer_names
from data_prep import representations
from data_prep.config import PRESETS, ConfigError, DatasetConfig, dotted_keys, with_dotted
from data_prep.sources import detect_layout, is_multi_label_csv
from trainables import loop, models
from trainables.data import DATA_PREFIX, variant_key
from trainables.keys import Schema
from trainables.metrics import mode as metric_mode
from trainables.metrics import reported

from .space import Param, SearchSpace
from .strategies import SCHEDULERS, SEARCHERS

TOP_KEYS = {
    "name", "dataset", "model", "metric", "mode", "searcher", "scheduler", "max_epochs",
    "num_samples", "max_concurrent", "time_budget_s", "resources", "fixed", "space",
    "max_failures", "max_epoch_seconds", "start_from", "objectives",
}
REQUIRED = ("model", "space")
LEGACY_MODEL_KEY = "trainable"  # the top-level `model` key's name in earlier space files

# What a trial costs, as each epoch reports it: objectives besides the validation metrics.
COSTS = ("infer_ms_per_clip", "params", "macs", "epoch_time_s", "train_time_s")

RESOURCES = {"cpu", "gpu"}


@dataclass
class Spec:
    name: str
    dataset: DatasetConfig
    model: str  # the registered model family every trial trains
    metric: str
    mode: str
    space: SearchSpace
    searcher: dict[str, Any] = field(default_factory=lambda: {"type": "auto"})
    scheduler: dict[str, Any] = field(default_factory=lambda: {"type": "asha"})
    max_epochs: int = 10
    num_samples: int = 10
    max_concurrent: int | None = None
    time_budget_s: float | None = None
    resources: dict[str, float] = field(default_factory=lambda: {"cpu": 1, "gpu": 0})
    max_failures: int = 0  # retries of a trial that raised, from its last checkpoint
    # A trial whose first steps project a longer epoch stops as too_slow.
    max_epoch_seconds: float | None = None
    # Configs of the searched keys that the searcher evaluates first.
    start_from: list[dict[str, Any]] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    # (metric, mode) of every objective; the first is `metric`, `mode`: what the scheduler
    # stops on and the leaderboard ranks by. Several: the searcher is multi-objective.
    objectives: list[tuple[str, str]] = field(default_factory=list)

    def dataset_variants(self) -> dict[str, DatasetConfig]:
        """Variant key -> dataset config, one per combination of the space's `data.*`
        choices (a single variant when it has none)."""
        return _variants(self.dataset, self.space)

    @property
    def fixed_config(self) -> dict[str, Any]:
        """What every trial's config holds besides the searched keys."""
        return {**self.space.fixed, "model": self.model, "max_epochs": self.max_epochs,
                "max_epoch_seconds": self.epoch_seconds_limit}

    @property
    def epoch_seconds_limit(self) -> float | None:
        """`max_epoch_seconds`, or with a time budget and none given, a quarter of the
        budget over max_epochs: no single trial on one slot may take more than a quarter of
        the search, so that many configs get their turn."""
        if self.max_epoch_seconds is not None:
            return self.max_epoch_seconds
        if self.time_budget_s:
            return self.time_budget_s / (4 * self.max_epochs)
        return None


def _typed(raw: dict, key: str, kind: type | tuple, where: str = "") -> Any:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ConfigError(f"{where}{key}: expected {names}, got {value!r}")
    return value


def _section(raw: dict, key: str, registry: Registry, default: str) -> dict[str, Any]:
    section = dict(raw.get(key) or {"type": default})
    kind = section.get("type", default)
    if kind not in registry:
        raise ConfigError(f"{key}.type: {kind!r} is not one of {sorted(registry.names())}")
    options = registry.get(kind).options
    unknown = sorted(set(section) - set(options) - {"type"})
    if unknown:
        raise ConfigError(
            f"{key}.{unknown[0]}: unknown key for {kind!r}; allowed: {sorted(options)}"
        )
    for name, value in section.items():
        problem = None if name == "type" else options[name].problem(value)
        if problem:
            raise ConfigError(f"{key}.{problem}")
    return {"type": kind, **{name: option.default for name, option in options.items()},
            **section}


def _variants(dataset: DatasetConfig, space: SearchSpace) -> dict[str, DatasetConfig]:
    choices = [p for p in space.params if p.name.startswith(DATA_PREFIX)]
    variants = {}
    for values in itertools.product(*(p.args for p in choices)):
        chosen = {p.name: v for p, v in zip(choices, values, strict=True)}
        changes = {k[len(DATA_PREFIX):]: v for k, v in chosen.items()}
        where = "dataset[" + ", ".join(f"{k}={v}" for k, v in chosen.items()) + "]"
        variants[variant_key(chosen)] = DatasetConfig.from_dict(
            with_dotted(dataset.to_dict(), changes), where=where)
    return variants


def _check_data_keys(space: SearchSpace, dataset: DatasetConfig) -> None:
    not_searched = ("source", "synthetic", "csv", "layout")
    allowed = {key for key in dotted_keys(dataset.to_dict())
               if key.split(".")[0] not in not_searched}
    for param in space.params:
        if not param.name.startswith(DATA_PREFIX):
            continue
        key = param.name[len(DATA_PREFIX):]
        if key not in allowed:
            raise ConfigError(f"space.{param.name}: {key!r} is not a preparation key; "
                              f"choose from {sorted(allowed)}")
        if param.kind != "choice" or param.when:
            raise ConfigError(f"space.{param.name}: preparation keys must be a plain choice "
                              "(each variant is prepared before the trials start)")


def _check_trial_keys(model: str, space: SearchSpace) -> None:
    """Every fixed and searched key is one the model reads, with values it can take;
    every `when` condition can come true."""
    schema = loop.schema(model)
    for name, value in space.fixed.items():
        _check_key(schema, name, "fixed")
        if problem := schema[name].problem(value):
            raise ConfigError(f"fixed.{problem}")
    for param in space.params:
        if param.name.startswith(DATA_PREFIX):
            continue
        _check_key(schema, param.name, "space")
        _check_param(schema, param)
        for name in param.when:
            earlier = [p for p in space.params if p.name == name]
            for value in param.allowed(name):
                if not any(_can_take(p, value) for p in earlier):
                    takes = " or ".join(f"{p.kind} {list(p.args)}" for p in earlier)
                    raise ConfigError(
                        f"space.{param.name}.when.{name}: {value!r} never occurs; {name} "
                        f"takes {takes}")


def _broken_rule(schema: Schema, config: dict[str, Any], known: set[str]) -> str | None:
    """What a rule between the model's keys says against `config` (defaults filled in),
    among the rules whose keys are all `known`; None when it meets them."""
    full = schema.with_defaults(config)
    for constraint in schema.constraints:
        if set(constraint.keys) <= known and (problem := constraint.problem(full)):
            return problem
    return None


def _check_constraints(model: str, space: SearchSpace) -> None:
    """The rules between the model's keys, on the fixed values and defaults, wherever the
    space searches none of a rule's keys (a drawn combination that breaks one fails its
    trial, with the same words)."""
    schema = loop.schema(model)
    if problem := _broken_rule(schema, space.fixed, set(schema.keys) - set(space.names)):
        raise ConfigError(f"fixed: {problem}")


def _check_key(schema: Schema, name: str, where: str) -> None:
    if name in loop.TOP_LEVEL:
        raise ConfigError(f"{where}.{name}: set it at the top level of the space file")
    if name in loop.INTERNAL:
        raise ConfigError(f"{where}.{name}: set by the search itself; use the top-level "
                          "the top-level `model` to choose it")
    if name not in schema:
        raise ConfigError(f"{where}.{schema.unknown(name)}")


def _check_param(schema: Schema, param: Param) -> None:
    key = schema[param.name]
    if param.listed:
        for value in param.args:
            if isinstance(value, (list, dict)):
                raise ConfigError(f"space.{param.name}: choices are single values (Optuna's "
                                  f"categorical); fix a list such as {value!r} instead")
            if problem := key.problem(value):
                raise ConfigError(f"space.{problem}")
        return
    numeric = {"uniform": ("float",), "loguniform": ("float",), "int": ("int", "float"),
               "qint": ("int", "float")}[param.kind]
    if key.type not in numeric or key.choices:
        use = "int or qint" if key.type == "int" and not key.choices else "choice"
        raise ConfigError(f"space.{param.name}: a {param.kind} range does not fit this key "
                          f"({key.allowed}); use {use}")
    for bound in param.args[:2]:
        if problem := key.problem(bound):
            raise ConfigError(f"space.{problem} (a bound of its {param.kind} range)")


def _can_take(param: Param, value: Any) -> bool:
    if param.listed:
        return value in param.args
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    low, high = param.args[:2]
    if param.kind in ("int", "qint"):
        step = param.args[2] if param.kind == "qint" else (param.step or 1)
        return isinstance(value, int) and low <= value <= high and (value - low) % step == 0
    return low <= value <= high


def _check_metric(metric: str, dataset: DatasetConfig, where: str = "metric") -> None:
    multi = multi_label(dataset)
    if metric not in reported(multi):
        kind = "multi-label" if multi else "single-label"
        raise ConfigError(f"{where}: {metric!r} is not reported for this {kind} dataset; "
                          f"choose from {list(reported(multi))}")


def _objectives(raw: dict[str, Any]) -> list[tuple[str, str]]:
    """`metric` and `mode`, or `objectives: [{metric, mode}, ...]` (the first a validation
    metric; the others may be costs too)."""
    if "objectives" not in raw:
        for key in ("metric", "mode"):
            if key not in raw:
                raise ConfigError(f"{key}: missing; a space file needs {list(REQUIRED)} and "
                                  "metric and mode (or objectives)")
        return [(raw["metric"], raw["mode"])]
    if "metric" in raw or "mode" in raw:
        raise ConfigError("objectives: give either objectives or metric and mode, not both "
                          "(the first objective is the metric)")
    items = raw["objectives"]
    if not isinstance(items, list) or not items:
        raise ConfigError("objectives: expected a list such as [{metric: val_accuracy, mode: "
                          "max}, {metric: infer_ms_per_clip, mode: min}]")
    objectives = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or set(item) != {"metric", "mode"}:
            raise ConfigError(f"objectives[{i}]: expected {{metric: ..., mode: max|min}}, "
                              f"got {item!r}")
        if item["mode"] not in ("max", "min"):
            raise ConfigError(f"objectives[{i}].mode: {item['mode']!r} is not one of "
                              "['max', 'min']")
        objectives.append((item["metric"], item["mode"]))
    metrics = [metric for metric, _ in objectives]
    if len(set(metrics)) < len(metrics):
        raise ConfigError(f"objectives: a metric is named twice in {metrics}")
    return objectives


def _check_objectives(objectives: list[tuple[str, str]], dataset: DatasetConfig) -> None:
    first = "objectives[0].metric" if len(objectives) > 1 else "metric"
    _check_metric(objectives[0][0], dataset, first)
    multi = multi_label(dataset)
    for i, (metric, _) in enumerate(objectives[1:], start=1):
        if metric not in (*reported(multi), *COSTS):
            raise ConfigError(f"objectives[{i}].metric: {metric!r} is neither a validation "
                              f"metric nor a cost; choose from "
                              f"{[*reported(multi), *COSTS]}")
    for i, (metric, mode) in enumerate(objectives):
        if metric in reported(multi) and mode != (better := metric_mode(metric)):
            where = f"objectives[{i}].mode" if len(objectives) > 1 else "mode"
            raise ConfigError(f"{where}: {metric} is better "
                              f"{'lower' if better == 'min' else 'higher'}; use mode: {better}")


def _check_loss(space: SearchSpace, dataset: DatasetConfig) -> None:
    multi = multi_label(dataset)
    allowed = ("bce", "focal") if multi else ("ce", "focal")
    for value in _values(space, "loss"):
        if value is not None and value not in allowed:
            where = "fixed.loss" if "loss" in space.fixed else "space.loss"
            kind = "multi-label" if multi else "single-label"
            raise ConfigError(f"{where}: {value!r} does not fit this {kind} dataset; "
                              f"choose from {list(allowed)}")


def _start_from(raw: Any, space: SearchSpace, model: str) -> list[dict[str, Any]]:
    """`start_from`: configs the searcher tries first (Optuna's enqueue_trial), each a
    mapping of searched keys to values the space can take, meeting the rules between the
    model's keys; keys left out are sampled."""
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(c, dict) for c in raw):
        raise ConfigError("start_from: expected a list of mappings, e.g. [{lr: 0.001}]")
    schema = loop.schema(model)
    starts = []
    for i, config in enumerate(raw):
        branch = space.branch(config)
        for key, value in config.items():
            if key not in space.names:
                raise ConfigError(f"start_from[{i}].{key}: not a searched key of this space; "
                                  f"searched: {sorted(space.names)}")
            entry = branch.get(key)
            if entry is None:
                conditions = [dict(p.when) for p in space.params if p.name == key]
                raise ConfigError(f"start_from[{i}].{key}: exists only when "
                                  f"{' or '.join(map(str, conditions))}; give those keys "
                                  "in this config, or drop it")
            if not _can_take(entry, value):
                raise ConfigError(f"start_from[{i}].{key}: {value!r} is outside "
                                  f"{entry.kind} {list(entry.args)}")
        values = {k: p.args[0] for k, p in branch.items() if not p.searched}
        known = set(config) | set(values) | (set(schema.keys) - set(space.names))
        if problem := _broken_rule(schema, {**space.fixed, **values, **config}, known):
            raise ConfigError(f"start_from[{i}]: {problem}")
        # A conditional value is the branch's, not the searcher's: set, not enqueued.
        starts.append({k: v for k, v in config.items() if branch[k].searched})
    return starts


def multi_label(dataset: DatasetConfig) -> bool:
    """Whether the dataset's clips carry several labels each, known before preparation
    (from a CSV's header: FSD50K's `labels` column lists several)."""
    if dataset.source == "synthetic":
        return dataset.synthetic.multi_label
    source = Path(dataset.source).expanduser()
    layout = dataset.layout if dataset.layout != "auto" else detect_layout(source)
    return layout == "csv" and source.is_file() and is_multi_label_csv(source, dataset.csv)


def check_dataset(spec: Spec) -> None:
    """What depends on the dataset, checked again once `--data` has replaced it: the
    metric and the loss fit its kind of labels."""
    _check_objectives(spec.objectives, spec.dataset)
    _check_loss(spec.space, spec.dataset)
    if spec.scheduler.get("metric"):
        _check_metric(spec.scheduler["metric"], spec.dataset, "scheduler.metric")


def _local_file(value: Any, where: str) -> str:
    """A weights or checkpoint path, absolute (trials run in their own folders) and there;
    a published name stands for its cached file, which `search.run` fetches before any
    work when it is not cached yet."""
    published = weights.by_name(value)
    if published:
        return str(published.path)
    path = Path(str(value)).expanduser().resolve()
    if not path.exists():
        raise ConfigError(
            f"{where}: {value} does not exist; weights are never downloaded at run time: put "
            "the file there (README: Pretrained weights) or point the key at your copy")
    return str(path)


def _resolve_files(raw: dict[str, Any]) -> dict[str, Any]:
    """`pretrained` (fixed, or each choice) and `dataset.embed` files, made absolute."""
    raw = {**raw}
    fixed = dict(raw.get("fixed") or {})
    if fixed.get("pretrained"):
        fixed["pretrained"] = _local_file(fixed["pretrained"], "fixed.pretrained")
        raw["fixed"] = fixed
    space = raw.get("space")
    param = space.get("pretrained") if isinstance(space, dict) else None
    if isinstance(param, dict) and isinstance(param.get("choice"), list):
        choices = [_local_file(v, "space.pretrained") if v else v for v in param["choice"]]
        raw["space"] = {**space, "pretrained": {**param, "choice": choices}}
    dataset = raw.get("dataset")
    embed = dataset.get("embed") if isinstance(dataset, dict) else None
    if isinstance(embed, dict):
        embed = {**embed, **{key: _local_file(embed[key], f"dataset.embed.{key}")
                             for key in ("pretrained", "checkpoint") if embed.get(key)}}
        raw["dataset"] = {**dataset, "embed": embed}
    return raw


def _values(space: SearchSpace, key: str) -> list[Any]:
    """Every value `key` can take: its fixed value, or its choices and conditional values."""
    if key in space.fixed:
        return [space.fixed[key]]
    return [v for p in space.params
            if p.name == key and p.listed for v in p.args]


def weight_files(spec: Spec) -> list[str]:
    """Every weights file the spec's trials or its embedding read."""
    files = [v for v in _values(spec.space, "pretrained") if v]
    return [*files, *([spec.dataset.embed.pretrained] if spec.dataset.embed.enabled
                      and spec.dataset.embed.pretrained else [])]


def _check_published_rate(files: list[Any], dataset: DatasetConfig, where: str) -> None:
    for file in files:
        published = weights.at_path(file)
        if published and dataset.sample_rate != published.sample_rate:
            raise ConfigError(
                f"dataset.sample_rate: the published {published.name} weights read "
                f"{published.sample_rate} Hz audio, the dataset is prepared at "
                f"{dataset.sample_rate} Hz ({where}); set dataset.preset: {published.name}")


def _check_pretrained(model: str, space: SearchSpace, dataset: DatasetConfig) -> None:
    _check_published_rate(_values(space, "pretrained"), dataset, "fixed.pretrained")
    if dataset.embed.enabled:
        _check_published_rate([dataset.embed.pretrained], dataset, "dataset.embed.pretrained")
    if model.startswith("panns_") and any(_values(space, "pretrained")):
        differ = {k: getattr(dataset, k) for k, v in PRESETS["panns"].items()
                  if getattr(dataset, k) != v}
        if differ:
            raise ConfigError(f"dataset: the published {model} weights expect the PANNs "
                              f"front end; set dataset.preset: panns (now {differ})")
    if dataset.embed.enabled:
        for value in _values(space, "layer"):
            try:
                layer_names(value, list(dataset.embed.layers))
            except ValueError as error:
                raise ConfigError(f"space.{error} (dataset.embed.layers)") from None


def _check_input(model: str, dataset: DatasetConfig) -> None:
    """The model reads what the dataset prepares, by its kind (or its name)."""
    name = dataset.output_representation
    kind = Kind.VECTOR if dataset.embed.enabled else representations.entry(dataset).kind
    if not models.reads(model, name, kind):
        readable = [n for n in sorted(REPRESENTATIONS.names())
                    if models.reads(model, n, REPRESENTATIONS.get(n).kind)]
        raise ConfigError(f"dataset.representation: {model!r} reads {readable}, not {name!r} "
                          f"(a {kind} representation)")


def parse_spec(raw: dict[str, Any], default_name: str = "experiment") -> Spec:
    if not isinstance(raw, dict):
        raise ConfigError("the space file must hold a mapping of keys at the top level")
    if LEGACY_MODEL_KEY in raw:  # still read: it is the same key
        if "model" in raw:
            raise ConfigError("trainable: the earlier name of `model`; give one of the two")
        raw = {("model" if k == LEGACY_MODEL_KEY else k): v for k, v in raw.items()}
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"{unknown[0]}: unknown key; allowed top-level keys: {sorted(TOP_KEYS)}")
    for key in REQUIRED:
        if key not in raw:
            raise ConfigError(f"{key}: missing; a space file needs {list(REQUIRED)}")
    if raw["model"] not in models.names():
        raise ConfigError(f"model: {raw['model']!r} is not one of {models.names()}")
    objectives = _objectives(raw)
    known_metrics = sorted({*reported(False), *reported(True)})
    if objectives[0][0] not in known_metrics:
        raise ConfigError(f"metric: {objectives[0][0]!r} is not one of {known_metrics}")
    if objectives[0][1] not in ("max", "min"):
        raise ConfigError(f"mode: {objectives[0][1]!r} is not one of ['max', 'min']")
    if raw.get("max_failures") is not None and _typed(raw, "max_failures", int) < 0:
        raise ConfigError(f"max_failures: must not be negative, got {raw['max_failures']}")
    for key in ("max_epochs", "num_samples", "max_concurrent"):
        if raw.get(key) is not None and _typed(raw, key, int) < 1:
            raise ConfigError(f"{key}: must be at least 1, got {raw[key]}")
    for key in ("time_budget_s", "max_epoch_seconds"):
        if raw.get(key) is not None and _typed(raw, key, (int, float)) <= 0:
            raise ConfigError(f"{key}: must be positive, got {raw[key]}")
    resources = {"cpu": 1, "gpu": 0, **(raw.get("resources") or {})}
    unknown = sorted(set(resources) - RESOURCES)
    if unknown:
        raise ConfigError(f"resources.{unknown[0]}: unknown key; allowed: {sorted(RESOURCES)}")
    for key in RESOURCES:
        if _typed(resources, key, (int, float), "resources.") < 0:
            raise ConfigError(f"resources.{key}: must not be negative, got {resources[key]}")
    if resources["cpu"] <= 0 and resources["gpu"] <= 0:
        raise ConfigError("resources: a trial needs a cpu or a gpu share above zero")
    fixed = raw.get("fixed") or {}
    if not isinstance(fixed, dict):
        raise ConfigError("fixed: expected a mapping of key -> value")
    raw = _resolve_files(raw)
    dataset = DatasetConfig.from_dict(raw.get("dataset"))
    space = SearchSpace(raw["space"], raw.get("fixed") or {})
    _check_data_keys(space, dataset)
    _check_trial_keys(raw["model"], space)
    _check_constraints(raw["model"], space)
    _check_objectives(objectives, dataset)
    _check_loss(space, dataset)
    _check_pretrained(raw["model"], space, dataset)
    for variant in _variants(dataset, space).values():
        _check_input(raw["model"], variant)
    searcher = _section(raw, "searcher", SEARCHERS, "auto")
    scheduler = _section(raw, "scheduler", SCHEDULERS, "asha")
    if scheduler.get("metric"):
        _check_metric(scheduler["metric"], dataset, "scheduler.metric")
    num_samples = raw.get("num_samples", 10)
    if searcher["type"] == "grid":
        num_samples = math.prod(len(values) for values in space.grid().values())
    return Spec(
        name=raw.get("name") or default_name,
        dataset=dataset,
        model=raw["model"],
        metric=objectives[0][0],
        mode=objectives[0][1],
        space=space,
        searcher=searcher,
        scheduler=scheduler,
        max_epochs=raw.get("max_epochs", 10),
        num_samples=num_samples,
        max_concurrent=raw.get("max_concurrent"),
        time_budget_s=raw.get("time_budget_s"),
        resources=resources,
        max_failures=raw.get("max_failures", 0),
        max_epoch_seconds=raw.get("max_epoch_seconds"),
        start_from=_start_from(raw.get("start_from"), space, raw["model"]),
        raw=raw,
        objectives=objectives,
    )


def set_key(raw: dict[str, Any], assignment: str) -> dict[str, Any]:
    """Apply one `--set dotted.key=value` (the value read as YAML) to a space's mapping."""
    key, sep, text = assignment.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {assignment}: expected KEY=VALUE, e.g. fixed.pretrained=Cnn6.pth")
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"--set {assignment}: the value is not valid YAML: {error}") from None
    raw = {**raw}
    node = raw
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        rest = ".".join(parts[i:])
        if rest in node:  # a dotted key of its own: space.data.representation
            node[rest] = value
            return raw
        child = node.get(part)
        if child is None:
            child = {}
        elif not isinstance(child, dict):
            raise ConfigError(f"--set {key}: {'.'.join(parts[: i + 1])} is not a mapping")
        node[part] = {**child}
        node = node[part]
    node[parts[-1]] = value
    return raw


def load_spec(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> Spec:
    """Read and validate a space file, with `--set KEY=VALUE` overrides applied first."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"space file {path} does not exist; see spaces/ for examples")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    for assignment in overrides:
        if not isinstance(raw, dict):
            break
        raw = set_key(raw, assignment)
    try:
        return parse_spec(raw, default_name=path.stem)
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from None
