"""Every space in spaces/ runs end to end through search.run, with a tiny budget."""

from pathlib import Path

import pytest
from published import write_panns, write_soundnet, write_torchvision

from data_prep.config import SyntheticConfig
from search.leaderboard import read as read_leaderboard
from search.run import run
from search.spec import load_spec

SPACES = sorted(p.name for p in Path("spaces").glob("*.yaml"))
# Spaces that need published weights: the key naming the file, and how to make a stand-in.
WEIGHTS = {"panns.yaml": ("fixed.pretrained", write_panns, "panns_cnn6"),
           "transfer_resnet50.yaml": ("fixed.pretrained", write_torchvision, "resnet50"),
           "embed_panns.yaml": ("dataset.embed.pretrained", write_panns, "panns_cnn6"),
           "transfer.yaml": ("fixed.pretrained", write_soundnet, "soundnet"),
           "embed_mlp.yaml": ("dataset.embed.pretrained", write_soundnet, "soundnet")}
# The costliest runs (16-31 s each; the pretrained networks also have their own tests in
# test_pretrained.py and test_embed.py, the multi-label report in test_results.py) run with
# the slow tests in CI, so that the default run stays under ten minutes on 2 cores (an AVX2
# machine took 11.5 min with mlp and multilabel here).
SLOW = {"resnet.yaml", "transfer_resnet50.yaml", "panns.yaml", "embed_panns.yaml", "mlp.yaml",
        "multilabel.yaml", "transfer.yaml", "embed_mlp.yaml"}


@pytest.mark.parametrize("space", sorted(str(p) for p in Path("spaces/gpu").glob("*.yaml")))
def test_gpu_spaces_hold_the_documents_full_ranges_and_validate(space):
    spec = load_spec(space)
    assert spec.resources["gpu"] > 0 and spec.num_samples >= 80
    assert spec.start_from or spec.model == "cnn2d"


def test_every_architecture_family_has_a_space():
    assert {"cnn1d.yaml", "mlp.yaml", "cnn2d.yaml", "resnet.yaml", "multilabel.yaml",
            "panns.yaml", "transfer.yaml", "embed_mlp.yaml", "transfer_resnet50.yaml",
            "embed_panns.yaml"} <= set(SPACES)


@pytest.mark.parametrize("space", [pytest.param(s, marks=pytest.mark.slow) if s in SLOW else s
                                   for s in SPACES])
def test_space_runs_end_to_end(ray_local, tmp_path_factory, space):
    overrides = []
    if space in WEIGHTS:  # random weights in the published layout stand in for the file
        key, write, network = WEIGHTS[space]
        suffix = ".safetensors" if write is write_soundnet else ".pth"
        weights = tmp_path_factory.mktemp("weights") / f"{network}{suffix}"
        write(network, weights)
        overrides.append(f"{key}={weights}")
    spec = load_spec(Path("spaces") / space, overrides)
    opts = spec.dataset.synthetic
    spec.dataset = spec.dataset.replace(
        synthetic=SyntheticConfig(4, opts.seed, ("tone", "chirp_up", "beeps", "click_train"),
                                  opts.multi_label))
    spec.num_samples, spec.max_epochs, spec.time_budget_s = 2, 2, None
    if spec.model == "resnet_cifar":  # keep the CPU test short: the shallowest depth
        spec.space = spec.space.with_fixed({})
        spec.space.params = [p for p in spec.space.params if p.name != "depth"]
        spec.space.fixed["depth"] = 20
    experiment = run(spec, tmp_path_factory.mktemp(space.removesuffix(".yaml")))
    board = read_leaderboard(experiment / "leaderboard.csv")
    assert len(board) == 2
    assert (board["status"] != "error").all(), board["stop_reason"].tolist()
    assert board[f"{spec.metric}_best"].notna().all()
    for name in spec.space.names:
        assert name in board.columns or any(p.when for p in spec.space.params
                                             if p.name == name)
