"""The private Ray and Optuna attributes the search reads, each checked against the
installed versions, and read nowhere but search/compat.py."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import optuna
import pytest
from optuna.distributions import FloatDistribution, IntDistribution
from optuna.trial import TrialState

from search import compat

PACKAGES = ("contracts", "data_prep", "trainables", "embedding", "search")
# `name._attr`, `x[i]._attr` or `f()._attr` on anything but `self`: numpy's own module
# moves, torch's fused update and a dataclass's own validation are not Ray's or Optuna's.
PRIVATE = re.compile(r"(?:\b(?!self\b)([A-Za-z_]\w*)|([\])]))\._([a-z]\w*)")
ALLOWED = {("np", "core"), ("numpy", "core"), ("torch", "foreach_lerp_"),
           ("config", "validate")}
# Ray's and Optuna's private attributes that a subclass reaches through `self`.
THROUGH_SELF = re.compile(r"self\._(ot_study|ot_trials|completed_trials|trial_info|time_attr|"
                          r"num_stopped|storage|study_id|rungs)\b")


def test_no_private_ray_or_optuna_attribute_is_read_outside_the_shims():
    found = []
    for package in PACKAGES:
        for path in sorted(Path(package).rglob("*.py")):
            if path == Path("search/compat.py"):
                continue
            for n, line in enumerate(path.read_text().splitlines(), start=1):
                code = line.split("#")[0]
                hits = [(m[1] or m[2], m[3]) for m in PRIVATE.finditer(code)
                        if (m[1] or m[2], m[3]) not in ALLOWED
                        and not _in_string(code, m.start())]
                if hits or THROUGH_SELF.search(code) or "ray._private" in code:
                    found.append(f"{path}:{n}: {line.strip()}")
    assert not found, "\n".join(found)


def _in_string(line: str, at: int) -> bool:
    return line[:at].count('"') % 2 == 1 or line[:at].count("'") % 2 == 1


def test_the_optuna_shims_hold_on_the_installed_optuna(tmp_path):
    study = optuna.create_study()
    study.tell(study.ask({"x": FloatDistribution(0, 1)}), 0.5)
    running = study.ask()
    frozen = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))[0]
    live = compat.live_trial(study, frozen)
    live.set_user_attr("seen", True)
    study.tell(live, 1.0)
    assert study.trials[running.number].user_attrs == {"seen": True}
    scratch = compat.new_scratch_trial(study)
    assert scratch.state == TrialState.RUNNING and scratch.number == len(study.trials) - 1
    assert compat.distribution_contains(IntDistribution(1, 4), 3)
    assert not compat.distribution_contains(IntDistribution(1, 4), 7)


def test_the_searcher_shims_hold_on_the_installed_ray(tmp_path):
    from ray.tune.search.optuna import OptunaSearch

    searcher = OptunaSearch(space={"x": optuna.distributions.FloatDistribution(0, 1)},
                            metric="loss", mode="min")
    config = searcher.suggest("t1")
    assert 0 <= config["x"] <= 1
    assert isinstance(compat.searcher_study(searcher), optuna.Study)
    assert set(compat.searcher_trials(searcher)) == {"t1"}
    searcher.on_trial_complete("t1", {"loss": 0.3})
    assert "t1" in compat.searcher_completed(searcher)
    assert compat.searcher_study(searcher).best_value == 0.3


def test_the_asha_shims_hold_on_the_installed_ray():
    from ray.tune.experiment import Trial
    from ray.tune.schedulers import ASHAScheduler

    scheduler = ASHAScheduler(metric="loss", mode="min", time_attr="epoch", max_t=9,
                              grace_period=1, reduction_factor=3)
    trial = Trial("__fake", trial_id="t1", stub=True)
    scheduler.on_trial_add(None, trial)
    scheduler.on_trial_result(None, trial, {"epoch": 1, "loss": 0.5})
    bracket, rungs = compat.asha_rungs(scheduler, "t1")
    assert [milestone for milestone, _ in rungs] == [9, 3, 1]
    assert dict(rungs)[1] == {"t1": -0.5}  # sign-adjusted: higher is better
    assert compat.asha_time_attr(scheduler) == "epoch"
    compat.asha_count_stopped(scheduler)
    assert scheduler._num_stopped == 1


@pytest.mark.parametrize("name", [compat.RAY_TOKEN_LOGGER])
def test_the_silenced_ray_loggers_are_the_modules_ray_logs_from(name):
    import importlib

    module = importlib.import_module(name)
    assert logging.getLogger(module.__name__) is logging.getLogger(name)
