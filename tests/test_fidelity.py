"""What a budget buys: a config's cost known before it runs, too-slow configs that do not
use up the search's trials, and a fidelity lowered when the space costs more than the cap."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from search.fidelity import CostModel, Fidelity, Variant, sample_configs
from search.space import SearchSpace
from trainables.sampling import epoch_rows


def test_an_epoch_fraction_trains_on_another_share_of_the_clips_each_epoch():
    y = np.repeat(np.arange(4), 50)
    g = torch.Generator().manual_seed(0)
    first, second = (epoch_rows(y, None, {"epoch_fraction": 0.25}, g) for _ in range(2))
    assert len(first) == len(second) == 50
    assert len(set(first.tolist())) == 50  # no clip twice within an epoch
    assert set(first.tolist()) != set(second.tolist())
    assert len(epoch_rows(y, None, {}, g)) == 200
    # With offline copies, the share is of the recordings an epoch visits.
    versions = np.tile([0, 1, 2], 200)
    rows = epoch_rows(np.repeat(y, 3), versions, {"epoch_fraction": 0.5}, g)
    assert len(rows) == 100 and len(set((rows // 3).tolist())) == 100


def cost_model(**variant) -> CostModel:
    shape = variant.pop("input_shape", (1, 32, 33))
    return CostModel({"{}": Variant(shape, 4, 400, 8000, **variant)})


def test_the_cost_model_sizes_a_config_by_building_its_model_and_scales_what_it_saw():
    cost = cost_model()
    small = {"model": "cnn2d", "channels": 8, "conv_layers": 2}
    large = {**small, "channels": 32}
    assert cost.macs(large) > 4 * cost.macs(small)
    assert cost.predicted_epoch_s(small) is None  # nothing seen yet: nothing predicted
    cost.observe(cost.macs(small), epoch_s=2.0, clips=400)
    assert cost.predicted_epoch_s(small) == pytest.approx(2.0)
    # One size seen: cost in proportion to multiply-adds; the epoch fraction scales it.
    assert cost.predicted_epoch_s(large) == pytest.approx(
        2.0 * cost.macs(large) / cost.macs(small), rel=1e-6)
    assert cost.predicted_epoch_s({**small, "epoch_fraction": 0.5}) == pytest.approx(1.0)
    # Two sizes seen: the exponent is fitted (per-step overhead: cost grows slower).
    ratio = cost.macs(large) / cost.macs(small)
    cost.observe(cost.macs(large), epoch_s=2.0 * ratio**0.8, clips=400)
    assert cost.predicted_epoch_s(large) == pytest.approx(2.0 * ratio**0.8, rel=1e-6)
    middle = {**small, "channels": 16}
    assert cost.predicted_epoch_s(middle) == pytest.approx(
        2.0 * (cost.macs(middle) / cost.macs(small)) ** 0.8, rel=1e-6)
    # A config whose model cannot be built is not sized (its trial fails with the words).
    assert cost.macs({**small, "act": "no such activation"}) is None


def test_configs_are_sampled_from_the_space_with_its_starts_first():
    space = SearchSpace({"channels": {"choice": [8, 16, 32]}, "lr": {"loguniform": [1e-4, 1e-2]}},
                        {"model": "cnn2d"})
    configs = sample_configs(space, [{"channels": 16}], 10)
    assert len(configs) == 10 and configs[0]["channels"] == 16
    assert all(c["model"] == "cnn2d" and 1e-4 <= c["lr"] <= 1e-2 for c in configs)
    assert {c["channels"] for c in configs} == {8, 16, 32}


def test_the_fidelity_line_says_what_was_lowered_and_why():
    assert "all training clips" in Fidelity(1.0, "fits").describe()
    line = Fidelity(0.35, "projects 20s per epoch").describe()
    assert line.startswith("Fidelity lowered: each epoch trains on 35% of the training clips")
    assert "projects 20s per epoch" in line


DATA = {"sample_rate": 4000, "clip_seconds": 0.25,
        "synthetic": {"clips_per_class": 16, "classes": ["tone", "beeps"]}}
FIXED = {"first_kernel": 16, "first_stride": 4, "conv_layers": 2, "batch_size": 2}


def spec(**raw):
    from search.spec import parse_spec

    return parse_spec({"model": "cnn1d", "metric": "val_accuracy", "mode": "max",
                       "dataset": DATA, "searcher": {"type": "random", "seed": 1},
                       "scheduler": {"type": "none"}} | raw)


def counted(board):
    return board[board["status"] != "too_slow"]


def test_too_slow_configs_do_not_use_up_the_trials_of_a_search(ray_local, tmp_path):
    """Half the space is a thousand times dearer than the cap allows: those configs are
    told to the study as too slow (not started, or stopped in their first steps), and the
    search still trains its four trials."""
    from search.leaderboard import read
    from search.run import run
    from search.study import load_study

    experiment = run(spec(name="dear", max_epochs=1, num_samples=4, max_epoch_seconds=1.0,
                          fixed=FIXED, space={"channels": {"choice": [4, 1024]},
                                              "lr": {"loguniform": [1e-4, 1e-2]}}), tmp_path)
    board = read(experiment / "leaderboard.csv")
    assert len(counted(board)) == 4 and (counted(board)["channels"] == 4).all()
    slow = [t for t in load_study(experiment).trials if t.user_attrs.get("status") == "too_slow"]
    assert slow and all(t.params["channels"] == 1024 for t in slow)
    assert all(t.state.name == "PRUNED" for t in slow)
    not_started = [t for t in slow if "not started" in t.user_attrs["stop_reason"]]
    assert all(t.user_attrs["predicted_epoch_s"] > 1.0 for t in not_started)


def test_a_space_over_the_cap_trains_at_a_lower_fidelity_instead_of_not_at_all(ray_local,
                                                                              tmp_path):
    """Its one config projects about 2.5 epochs' worth of the cap: every trial would be too
    slow. The search lowers the share of clips an epoch trains on, says so, and trains."""
    from contracts.experiment import read_info
    from data_prep.pipeline import prepare
    from search.leaderboard import read
    from search.run import run
    from trainables.data import TrialData
    from trainables.loop import epoch_seconds, probe

    data = {**DATA, "synthetic": {"clips_per_class": 40, "classes": ["tone", "beeps"]}}
    fixed = {**FIXED, "channels": 64, "conv_layers": 3, "batch_size": 4}
    prepared = prepare(spec(dataset=data, space={"lr": {"choice": [1e-3]}}).dataset, tmp_path)
    shards = TrialData.from_shards(prepared.path)
    torch.set_num_threads(1)
    full = min(epoch_seconds(probe({"model": "cnn1d", **fixed}, shards)) for _ in range(3))
    experiment = run(spec(name="over", dataset=data, max_epochs=2, num_samples=3, max_concurrent=1,
                          max_epoch_seconds=full / 2.5, fixed=fixed,
                          space={"lr": {"loguniform": [1e-4, 1e-2]}}), tmp_path)
    fraction = read_info(experiment).fidelity["epoch_fraction"]
    assert 0.2 <= fraction < 1
    board = read(experiment / "leaderboard.csv")
    assert len(counted(board)) == 3 and (board["status"] == "complete").all()
    assert (board["epoch_fraction"] == fraction).all()
    assert (board["epoch_clips"] < len(shards.y_train)).all()
