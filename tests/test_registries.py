"""Extension points: a new representation or dataset layout is one registration, and both
run through `python -m data_prep.run` (Ray's workers included) with no other change."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from contracts.kinds import Kind
from contracts.registry import LAYOUTS, REPRESENTATIONS
from contracts.shards import read_manifest, read_split
from data_prep import run as prep_run
from data_prep.config import ConfigError, DatasetConfig
from data_prep.representations import register_representation
from data_prep.sources import detect_layout, register_layout

RATE = 4000


@pytest.fixture
def toys():
    """A layout reading `labels.txt` ("<file> <label>" per line) and a representation of
    frame energies; unregistered afterwards so that other tests see the usual tables."""

    @register_layout("listing", detect=lambda source: (source / "labels.txt").exists())
    def listing(source, config):
        rows = [line.split() for line in (source / "labels.txt").read_text().splitlines()]
        return pd.DataFrame({"path": [str(source / name) for name, _ in rows],
                             "id": [name for name, _ in rows],
                             "labels": [[label] for _, label in rows],
                             "group": [name for name, _ in rows]})

    @register_representation("energy", lambda config: (config.stored_samples // 100,),
                             pooled_axes=(0,), kind=Kind.VECTOR)
    def energy(clips, config):
        frames = clips[:, : clips.shape[1] // 100 * 100].reshape(len(clips), -1, 100)
        return np.sqrt((frames**2).mean(axis=2))

    yield energy
    LAYOUTS.unregister("listing")
    REPRESENTATIONS.unregister("energy")


def test_a_toy_layout_and_representation_run_through_data_prep(ray_local, toys, tmp_path,
                                                                capsys):
    source = tmp_path / "flat"
    source.mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for i in range(40):
        label = ("low", "high")[i % 2]
        t = np.arange(RATE // 2) / RATE
        audio = (0.1 + 0.4 * (i % 2)) * np.sin(2 * np.pi * rng.uniform(200, 600) * t)
        sf.write(source / f"clip{i:02d}.wav", audio.astype(np.float32), RATE)
        lines.append(f"clip{i:02d}.wav {label}")
    (source / "labels.txt").write_text("\n".join(lines))
    assert detect_layout(source) == "listing"

    code = prep_run.main([str(source), "--results", str(tmp_path / "results"),
                          "--representation", "energy", "--sample_rate", str(RATE),
                          "--clip_seconds", "0.5"])
    assert code == 0
    shards = capsys.readouterr().out.split("shards: ")[-1].strip()
    manifest = read_manifest(shards)
    assert manifest.representation == "energy" and manifest.shapes == {"energy": [20]}
    assert manifest.label_names == ["high", "low"]
    x, y = read_split(shards, "train", "energy")
    ids = pd.read_parquet(f"{shards}/train.parquet")["id"]
    for row, clip_id in enumerate(ids[:3]):
        audio, _ = sf.read(source / clip_id, dtype="float32")
        np.testing.assert_allclose(x[row], toys(audio[None], None)[0], rtol=1e-5)
    assert (x[y == 0].mean() > 2 * x[y == 1].mean())  # "high" clips are the louder


def test_the_spec_lists_registered_names(toys):
    with pytest.raises(ConfigError, match=r"'energy'\]"):
        DatasetConfig.from_dict({"representation": "spectrum"})
    with pytest.raises(ConfigError, match="'listing'"):
        DatasetConfig.from_dict({"layout": "flat"})


def test_a_new_searcher_is_one_registered_function(tmp_path):
    import optuna

    from search.spec import parse_spec
    from search.strategies import SEARCHERS, SEED, register
    from search.tuning import make_searcher
    from trainables.keys import Key

    @register(SEARCHERS, "qmc", (SEED, Key("scramble", "bool", True, "scramble the sequence")))
    def qmc(options, seed, spec):
        return optuna.samplers.QMCSampler(seed=seed, scramble=options.get("scramble", True))

    try:
        raw = {"model": "mlp", "metric": "val_accuracy", "mode": "max",
               "dataset": {"representation": "features"},
               "space": {"lr": {"loguniform": [1e-4, 1e-2]}}}
        spec = parse_spec({**raw, "searcher": {"type": "qmc", "scramble": False}})
        searcher = make_searcher(spec, 0, tmp_path)
        assert isinstance(searcher.study.sampler, optuna.samplers.QMCSampler)
        with pytest.raises(ConfigError, match=r"searcher.scrambled: unknown key for 'qmc'"):
            parse_spec({**raw, "searcher": {"type": "qmc", "scrambled": False}})
        with pytest.raises(ConfigError, match=r"searcher.scramble: 'no' is not allowed; "
                                              r"expected bool"):
            parse_spec({**raw, "searcher": {"type": "qmc", "scramble": "no"}})
    finally:
        SEARCHERS.unregister("qmc")
    with pytest.raises(ConfigError, match=r"searcher.type: 'qmc' is not one of"):
        parse_spec({**raw, "searcher": {"type": "qmc"}})


def test_a_new_spectrogram_is_one_function_that_cnn2d_crops_and_masks(ray_local, tmp_path):
    """A representation registered here alone, of the spectrogram kind with its own frame
    rule: the preparation records the kind, training crops it by frames and SpecAugment
    masks it, and a cnn2d search runs on it, with no name of it anywhere else."""
    from search.leaderboard import read as read_leaderboard
    from search.run import run
    from search.spec import parse_spec
    from trainables.data import TrialData

    hop, window = 80, 256

    @register_representation("spectrum", lambda c: (window // 2 + 1, 1 + c.stored_samples // hop),
                             pooled_axes=(0, 2), kind=Kind.SPECTROGRAM, hop=lambda c: hop)
    def spectrum(clips, config):
        padded = np.pad(clips, ((0, 0), (window // 2, window // 2)))
        frames = np.lib.stride_tricks.sliding_window_view(padded, window, axis=1)[:, ::hop]
        power = np.abs(np.fft.rfft(frames * np.hanning(window), axis=-1)) ** 2
        return (10 * np.log10(power + 1e-10)).transpose(0, 2, 1).astype(np.float32)

    try:
        source = tmp_path / "data"
        rng = np.random.default_rng(1)
        t = np.arange(2 * RATE) / RATE  # 2 s clips, models read 0.5 s: training crops
        for label, f0 in (("low", 300), ("high", 900)):
            (source / label).mkdir(parents=True)
            for i in range(16):
                tone = np.sin(2 * np.pi * f0 * rng.uniform(0.9, 1.1) * t) * 0.3
                sf.write(source / label / f"{i}.wav", tone.astype(np.float32), RATE)
        spec = parse_spec({
            "name": "spectrum", "model": "cnn2d", "metric": "val_accuracy", "mode": "max",
            "dataset": {"source": str(source), "representation": "spectrum",
                        "sample_rate": RATE, "clip_seconds": 0.5, "max_seconds": 2.0},
            "num_samples": 2, "max_epochs": 2,
            "fixed": {"spec_time_masks": 1, "spec_freq_masks": 1, "conv_layers": 2},
            "space": {"lr": {"loguniform": [1e-3, 1e-2]}}})
        experiment = run(spec, tmp_path / "results")
        board = read_leaderboard(experiment / "leaderboard.csv")
        assert len(board) == 2 and (board["status"] == "complete").all(), board["stop_reason"]
        shards = next((tmp_path / "results" / "shards").iterdir())
        manifest = read_manifest(shards)
        assert (manifest.kind, manifest.frame_hop) == ("spectrogram", hop)
        data = TrialData.from_shards(shards)
        assert data.kind == Kind.SPECTROGRAM and data.crop_length == 1 + RATE // 2 // hop
        assert data.x_train.shape[-1] == 1 + 2 * RATE // hop  # kept whole, cropped in training
    finally:
        REPRESENTATIONS.unregister("spectrum")
