"""`python -m embedding.embed SHARDS --model panns_cnn6 --pretrained Cnn6_mAP=0.343.pth
--layers conv_block4 fc1 pooled`: run a pretrained network (or, with `--checkpoint`, the
best model of an earlier search) over prepared shards, and store each named layer's
activations, pooled over time and frequency, as `embedding.<layer>` columns of new shards
that `mlp` trains on. Cached by fingerprint like any preparation; a space gets the same
through its dataset's `embed:` section, which `python -m embedding.embed --space
spaces/embed_mlp.yaml` prepares and embeds alone, as a search would.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq

from contracts.kinds import Kind
from contracts.manifest import MANIFEST_FILE, Manifest
from contracts.shards import (
    EMBEDDING,
    array_path,
    embedding_column,
    layer_names,
    read_manifest,
    read_split,
)
from data_prep.atomic import building
from data_prep.config import ConfigError, DatasetConfig, EmbedConfig, space_dataset
from data_prep.pipeline import SPLITS, Prepared, prepare
from data_prep.worker import part_path, write_part
from trainables import models
from trainables.blocks import GlobalPool
from trainables.checkpoints import CheckpointMeta
from trainables.pretrained import load_pretrained
from trainables.trained import TrainedModel

from .weights import ensure as ensure_weights

POOLED = "pooled"  # the vector a network's global pooling hands to its dense layers
VERSION = 1


def _file_stamp(path: str | None) -> list:
    if not path:
        return []
    target = Path(path).expanduser().resolve()
    if target.is_dir():
        target = target / "state.pt"
    stat = target.stat() if target.exists() else None
    return [str(target), stat.st_size if stat else -1, stat.st_mtime_ns if stat else -1]


def embedding_fingerprint(base: Manifest, config: EmbedConfig) -> str:
    digest = hashlib.sha256(json.dumps({
        "v": VERSION, "base": base.fingerprint, "model": config.model,
        "layers": list(config.layers), "pretrained": _file_stamp(config.pretrained),
        "checkpoint": _file_stamp(config.checkpoint)}, sort_keys=True).encode())
    return digest.hexdigest()[:16]


class Network:
    """A network ready to embed shard-format arrays, scaled and cropped as it expects."""

    def __init__(self, config: EmbedConfig, manifest: Manifest):
        import torch

        representation = manifest.representation
        shape = tuple(manifest.shapes[representation])
        if config.checkpoint:
            self.trained = TrainedModel.load(config.checkpoint)
            if self.trained.meta.representation != representation:
                raise ConfigError(
                    f"embed.checkpoint: {config.checkpoint} reads "
                    f"{self.trained.meta.representation}, the shards hold "
                    f"{representation}; prepare them as it was trained")
        else:
            if config.model not in models.names():
                raise ConfigError(f"embed.model: {config.model!r} is not one of "
                                  f"{models.names()}")
            if not models.reads(config.model, representation, manifest.representation_kind):
                raise ConfigError(f"embed.model: {config.model} reads "
                                  f"{models.inputs(config.model)}, not {representation}")
            model = models.build(config.model, {}, shape, len(manifest.label_names))
            load_pretrained(model, config.pretrained)
            stats = manifest.normalisation[representation]
            if models.wants_raw_input(config.model):
                stats = {"mean": 0.0, "std": 1.0}
            self.trained = TrainedModel(model, CheckpointMeta(
                config={"model": config.model}, input_shape=list(shape),
                label_names=manifest.label_names, normalisation=stats,
                representation=representation))
        self.model = self.trained.model
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.eval().to(self.device)
        self.layers = list(config.layers)
        self.modules = {name: self._module(name) for name in self.layers}

    def _module(self, name: str):
        model = self.model
        if name == POOLED:
            return getattr(model, "pool", None) or model.head
        try:
            return model.get_submodule(name)
        except AttributeError:
            names = [n for n, _ in model.named_children()] + [POOLED]
            raise ConfigError(f"embed.layers: {name!r} is not a layer of "
                              f"{type(model).__name__}; choose from {names}") from None

    def _pool(self, activation):
        """A layer's output as one vector per clip, pooled as the network pools."""

        if activation.dim() == 4:
            pool = getattr(self.model, "pool", None)
            return (pool if isinstance(pool, GlobalPool) else GlobalPool())(activation)
        if activation.dim() == 3:
            return activation.amax(dim=-1) + activation.mean(dim=-1)
        return activation.flatten(1)

    def __call__(self, x: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        captured: dict[str, Any] = {}
        hooks = []
        for name, module in self.modules.items():
            if name == POOLED and module is getattr(self.model, "head", None):
                def grab_input(_m, args, name=name):
                    captured[name] = args[0]
                hooks.append(module.register_forward_pre_hook(grab_input))
            else:
                def grab_output(_m, _args, output, name=name):
                    captured[name] = output
                hooks.append(module.register_forward_hook(grab_output))
        try:
            tensor = self.trained.inputs(x)
            with torch.no_grad():
                self.model(tensor.to(self.device))
        finally:
            for hook in hooks:
                hook.remove()
        # Pooled after the hooks are gone: pooling runs the network's own pool module.
        with torch.no_grad():
            return {name: self._pool(captured[name]).float().cpu().numpy()
                    for name in self.layers}


def embed_arrays(x: np.ndarray, manifest: Manifest, layer: str | None) -> np.ndarray:
    """Arrays of the representation an embedding manifest was made from -> the embedding
    columns `layer` names, joined as `read_split` joins them (for new files at predict)."""
    config = EmbedConfig(**{**manifest.params["embed"],
                            "layers": tuple(manifest.params["embed"]["layers"])})
    network = Network(config, read_manifest(manifest.embedded_from))
    values = network(x)
    return np.concatenate([values[name] for name in layer_names(layer, manifest.layers)],
                          axis=1)


def _embed_split(network: Network, base: Path, split: str, out: Path, column: str,
                 batch_size: int) -> dict[str, np.ndarray]:
    """Embed one split of the shards at `base` into `out` (its rows as they are, each layer
    an array column); return each layer's embeddings."""
    x, _ = read_split(base, split, column)
    layers: dict[str, list[np.ndarray]] = {name: [] for name in network.layers}
    for i in range(0, len(x), batch_size):
        for name, values in network(np.asarray(x[i : i + batch_size])).items():
            layers[name].append(values)
    table = pq.read_table(base / f"{split}.parquet")
    if column in table.column_names:  # a cache from before arrays left Parquet
        table = table.drop([column])
    part = part_path(str(out), split, 0)
    part.parent.mkdir(parents=True, exist_ok=True)
    write_part(table, part)
    embedded = {name: np.concatenate(chunks) for name, chunks in layers.items()}
    for name, values in embedded.items():
        np.save(array_path(out, split, embedding_column(name)), values.astype(np.float32))
    return embedded


def prepare_dataset(config: DatasetConfig, cache_root: str | Path = "results",
                    progress: bool = False) -> Prepared:
    """A space's dataset section prepared: its shards, and their embeddings when its
    `embed` section names a network."""
    base = prepare(config.replace(embed=EmbedConfig()), cache_root, progress)
    return embed_prepared(base, config.embed, cache_root) if config.embed.enabled else base


def embed_prepared(base: Prepared, config: EmbedConfig, cache_root: str | Path) -> Prepared:
    """Embed prepared shards (or reuse an earlier embedding of them)."""
    started = time.perf_counter()
    if config.pretrained:  # a published name is its cached file, fetched on first use
        config = dataclasses.replace(config, pretrained=ensure_weights(config.pretrained))
    fp = embedding_fingerprint(base.manifest, config)
    target = Path(cache_root).resolve() / "shards" / fp
    if (target / MANIFEST_FILE).exists():
        return Prepared(target, read_manifest(target), True, time.perf_counter() - started)
    network = Network(config, base.manifest)
    column = base.manifest.representation
    with building(target) as tmp:
        dims: dict[str, int] = {}
        normalisation: dict[str, dict[str, list[float]]] = {}
        for split in SPLITS:
            if not (base.path / f"{split}.parquet").exists():
                continue
            embedded = _embed_split(network, base.path, split, tmp, column, config.batch_size)
            dims |= {name: values.shape[1] for name, values in embedded.items()}
            if split == "train":  # statistics from the train split only
                for name, values in embedded.items():
                    normalisation[embedding_column(name)] = {
                        "mean": values.mean(axis=0).tolist(),
                        "std": np.maximum(values.std(axis=0), 1e-6).tolist()}
        manifest = dataclasses.replace(
            base.manifest,
            fingerprint=fp,
            representation=EMBEDDING,
            kind=Kind.VECTOR.value,
            frame_hop=None,
            layers=list(config.layers),
            shapes={embedding_column(n): [dims[n]] for n in config.layers},
            normalisation=normalisation,
            params={**base.manifest.params, "embed": dataclasses.asdict(config)},
            embedded_from=str(base.path),
        )
        manifest.write(tmp)
        shutil.copy(base.path / "rejected.csv", tmp / "rejected.csv")
    return Prepared(target, manifest, False, time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embedding.embed",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("shards", type=Path, nargs="?",
                        help="a prepared shard folder (results/shards/...)")
    parser.add_argument("--space", type=Path, help="or a space file: its dataset section "
                        "prepared and embedded as search.run does (spaces/embed_mlp.yaml)")
    parser.add_argument("--model", help="a pretrained network, e.g. soundnet, panns_cnn6")
    parser.add_argument("--pretrained", help="its weights file, or a published name: soundnet")
    parser.add_argument("--checkpoint", help="or a trained checkpoint folder / model.pt")
    parser.add_argument("--layers", nargs="+", default=[POOLED],
                        help="layers to store (default: pooled)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="where the embedded shards go (default: results/)")
    args = parser.parse_args(argv)
    if args.space:
        return _embed_space(args.space, args.results)
    if args.shards is None:
        parser.error("give a shard folder or --space")
    config = EmbedConfig(args.model, args.pretrained, args.checkpoint, tuple(args.layers),
                         args.batch_size)
    try:
        if not config.enabled:
            raise ConfigError("give --model with --pretrained, or --checkpoint")
        config.validate("embed")
        if not (args.shards / "manifest.json").exists():
            raise ConfigError(f"{args.shards}: no manifest.json; prepare the data first "
                              "(python -m data_prep.run)")
        base = Prepared(args.shards.resolve(), read_manifest(args.shards), True, 0.0)
        done = embed_prepared(base, config, args.results)
    except (ConfigError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _report(done)
    return 0


def _embed_space(space: Path, results: Path) -> int:
    """A space's dataset section prepared and embedded, as a search would start."""
    import ray
    import yaml

    try:
        config = DatasetConfig.from_dict(space_dataset(space))
        if not config.embed.enabled:
            raise ConfigError(f"{space}: its dataset section has no embed: network to run")
        if not ray.is_initialized():
            ray.init(address="local", logging_level="ERROR", include_dashboard=False)
        done = prepare_dataset(config, results, progress=sys.stderr.isatty())
    except (ConfigError, ValueError, FileNotFoundError, yaml.YAMLError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    _report(done)
    return 0


def _report(done: Prepared) -> None:
    verb = "reused" if done.reused else f"made in {done.seconds:.1f}s"
    dims = {k.removeprefix(f"{EMBEDDING}."): v[0] for k, v in done.manifest.shapes.items()}
    print(f"Embeddings {verb}: {done.path}\n  layers and sizes: {dims}")


if __name__ == "__main__":
    sys.exit(main())
