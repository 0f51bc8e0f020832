"""`python -m data_prep.run SOURCE [options]`: prepare a dataset into shards, with a summary.

Options are the keys of a space YAML's `dataset:` section (`--sample_rate 16000`,
`--representation logmel`, `--csv.label_column genre`, `--synthetic.clips_per_class 50`);
`--space spaces/x.yaml` starts from that file's section. A section with `embed:` is
prepared here and embedded by the stage above, whose command the last line gives
(`python -m embedding.embed --space spaces/x.yaml`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from contracts.manifest import Manifest

from .config import (
    AugmentConfig,
    ConfigError,
    CsvConfig,
    DatasetConfig,
    EmbedConfig,
    SyntheticConfig,
    space_dataset,
)
from .pipeline import prepare
from .summary import describe

NESTED = {"csv": CsvConfig, "synthetic": SyntheticConfig, "embed": EmbedConfig,
          "augment": AugmentConfig}


def _option_names() -> list[str]:
    names = [f.name for f in dataclasses.fields(DatasetConfig) if f.name not in NESTED]
    for prefix, cls in NESTED.items():
        names += [f"{prefix}.{f.name}" for f in dataclasses.fields(cls)]
    return names


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, dict[str, Any]]:
    parser = argparse.ArgumentParser(prog="python -m data_prep.run", description=__doc__)
    parser.add_argument("source", nargs="?", help="folder, CSV file, or 'synthetic'")
    parser.add_argument("--space", type=Path, help="take the dataset section of this YAML")
    parser.add_argument("--results", type=Path, default=Path("results"),
                        help="cache root: shards go to <results>/shards/<fingerprint>/")
    for name in _option_names():
        parser.add_argument(f"--{name}", dest=f"opt:{name}", metavar="VALUE",
                            help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    raw: dict[str, Any] = {}
    if args.space:
        raw = space_dataset(args.space)
    for key, value in vars(args).items():
        if not key.startswith("opt:") or value is None:
            continue
        name = key[4:]
        parsed = yaml.safe_load(value)  # 16000 -> int, null -> None, [a, b] -> list
        if "." in name:
            section, field = name.split(".", 1)
            raw.setdefault(section, {})[field] = parsed
        else:
            raw[name] = parsed
    if args.source:
        raw["source"] = args.source
    return args, raw


def summary(manifest: Manifest, seconds: float, reused: bool) -> str:
    counts = manifest.counts
    names = manifest.label_names
    width = max(len(n) for n in names)
    lines = [f"{'class':<{width}}  " + "  ".join(f"{s:>6}" for s in counts)]
    for name in names:
        lines.append(f"{name:<{width}}  " + "  ".join(f"{counts[s][name]:>6}" for s in counts))
    totals = {s: sum(c.values()) for s, c in counts.items()}
    lines.append(f"{'total':<{width}}  " + "  ".join(f"{totals[s]:>6}" for s in counts))
    rejected = manifest.rejected
    clips = sum(totals.values()) + len(rejected)
    lines.append(f"rejected: {len(rejected)}" + (" (all listed in rejected.csv)" if rejected
                                                else ""))
    for row in rejected[:10]:
        lines.append(f"  {row['id']}: {row['reason']}")
    if len(rejected) > 10:
        lines.append(f"  ... and {len(rejected) - 10} more")
    lines += describe(manifest)
    verb = "reused" if reused else "prepared"
    rate = "" if reused else f", {clips / max(seconds, 1e-9):.0f} clips/s"
    lines.append(f"{verb} {clips} clips ({sum(totals.values())} kept) in {seconds:.1f}s{rate}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args, raw = parse_args(argv)
    try:
        config = DatasetConfig.from_dict(raw)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    import ray

    if not ray.is_initialized():
        ray.init(address="local", logging_level="ERROR", include_dashboard=False)
    started = time.perf_counter()
    try:
        prepared = prepare(config.replace(embed=EmbedConfig()), args.results,
                           progress=sys.stderr.isatty())
    except (ConfigError, ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary(prepared.manifest, time.perf_counter() - started, prepared.reused))
    print(f"shards: {prepared.path}")
    if config.embed.enabled:  # the stage above makes them: it loads networks
        print("dataset.embed: the embedding stage adds the network's layers (search.run "
              f"does it by itself): {embed_command(prepared.path, config.embed, args)}")
    return 0


def embed_command(shards: Path, embed: EmbedConfig, args: argparse.Namespace) -> str:
    """The `embedding.embed` command that embeds `shards` as `embed` asks."""
    if args.space:
        return f"python -m embedding.embed --space {args.space} --results {args.results}"
    network = (f"--checkpoint {embed.checkpoint}" if embed.checkpoint else
               f"--model {embed.model} --pretrained {embed.pretrained}")
    return (f"python -m embedding.embed {shards} {network} --layers {' '.join(embed.layers)} "
            f"--results {args.results}")


if __name__ == "__main__":
    sys.exit(main())
