"""The documents' pretrained systems with SoundNet's published weights, side by side in one
run with the same network at random weights, a from-scratch default space and hand
features (librosa MFCC statistics into an SVM) on the same split.

The data: the one-second espeak-ng words of bench/anytime.py (test voices never heard in
training) and the 3 s instrument melodies of bench/breadth.py (test melodies unheard and
noisier), both made on first use. Every row is `python -m search.run spaces/<space>.yaml
--data <data>` under the space's own budget, as a user runs it:

- `embed_mlp`: MLP heads on the published SoundNet's conv5, pool5 and conv6 activations;
- `embed_mlp` at random weights: the same with `dataset.embed.pretrained` set to a
  freshly initialised SoundNet (made here, in the cache's layout);
- `transfer`: SoundNet fine-tuned, 1 to 4 unfrozen layers;
- a from-scratch space (`cnn1d` by default: the best of the default spaces on both sets).

    .venv/bin/python bench/pretrained.py [--datasets speech instruments]
        [--from-scratch cnn1d] [--budget SECONDS]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
import torch
from breadth import datasets, printed_reference, run_space, scored_row

from embedding.weights import ensure
from trainables import models

ROOT = Path("results/bench/pretrained")


def random_soundnet(path: Path, seed: int = 0) -> Path:
    """A SoundNet as PyTorch initialises it, every layer but the head, as safetensors."""
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    state = models.build("soundnet", {}, (22050,), 2).state_dict()
    save_file({k: v.contiguous() for k, v in state.items() if not k.startswith("head.")},
              str(path))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["speech", "instruments"])
    parser.add_argument("--from-scratch", nargs="*", default=["cnn1d"])
    parser.add_argument("--budget", type=float, help="override each space's time_budget_s")
    args = parser.parse_args()
    ROOT.mkdir(parents=True, exist_ok=True)
    ensure("soundnet")
    untrained = random_soundnet(ROOT / "soundnet-random.safetensors")
    runs = [("embed_mlp", "", ()),
            ("embed_mlp", "random", (f"dataset.embed.pretrained={untrained.resolve()}",)),
            ("transfer", "", ()), *[(space, "", ()) for space in args.from_scratch]]
    rows = []
    for name, (source, _multi) in datasets(args.datasets).items():
        test = printed_reference(name, source, False)
        rows += [scored_row(run_space(space, name, source, args.budget, variant, settings),
                            test) for space, variant, settings in runs]
    table = pd.DataFrame(rows)
    print(table.drop(columns=["metric", "kept s", "read s"], errors="ignore")
          .to_string(index=False))


if __name__ == "__main__":
    main()
