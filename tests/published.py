"""Checkpoint files in the published layouts, made from freshly built (random) networks:
they stand in for PANNs' Zenodo files, torchvision's ImageNet files and SoundNet's
converted file in tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from trainables import models

AUDIOSET_CLASSES = 527
IMAGENET_CLASSES = 1000


def as_published_panns(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A `panns_cnn*`'s own state dict with its head named as PANNs' `fc_audioset`."""
    return {("fc_audioset." + k.removeprefix("head.") if k.startswith("head.") else k): v
            for k, v in model.state_dict().items()}


def panns_state(name: str, n_mels: int = 64) -> dict[str, torch.Tensor]:
    """A `panns_cnn*` state dict renamed as PANNs saves it: the 527-way `fc_audioset`, plus
    the STFT and mel buffers of its on-the-fly front end."""
    state = as_published_panns(models.build(name, {}, (n_mels, 101), AUDIOSET_CLASSES))
    state["spectrogram_extractor.stft.conv_real.weight"] = torch.randn(513, 1, 1024)
    state["spectrogram_extractor.stft.conv_imag.weight"] = torch.randn(513, 1, 1024)
    state["logmel_extractor.melW"] = torch.randn(513, n_mels)
    return state


def write_panns(name: str, path: Path, n_mels: int = 64) -> dict[str, torch.Tensor]:
    state = panns_state(name, n_mels)
    torch.save({"model": state, "iteration": 600000}, path)  # as PANNs' training saves
    return state


def write_torchvision(name: str, path: Path) -> dict[str, torch.Tensor]:
    """A bare state dict of a 3-channel, 1000-class network, as torchvision's files hold."""
    state = models.build(name, {"in_channels": 3}, (64, 64), IMAGENET_CLASSES).state_dict()
    torch.save(state, path)
    return state


def soundnet_arrays(seed: int = 0) -> dict[str, np.ndarray]:
    """Random arrays in the layout of SoundNet's published `sound8.npy`, flattened as the
    weights cache keeps them: `conv1/weights` (kernel, 1, in, out), `conv1/biases`, and each
    batch norm's `gamma`, `beta`, `mean`, `var`; `conv8` and `conv8_2` for the published
    object and scene layers."""
    from trainables.models.soundnet import LAYERS

    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    c_in = 1
    for i, (c_out, kernel, *_rest) in enumerate(LAYERS, start=1):
        arrays[f"conv{i}/weights"] = rng.normal(0, (kernel * c_in) ** -0.5,
                                                (kernel, 1, c_in, c_out))
        arrays[f"conv{i}/biases"] = rng.normal(0, 0.1, c_out)
        arrays[f"conv{i}/gamma"] = rng.uniform(0.5, 1.5, c_out)
        arrays[f"conv{i}/beta"] = rng.normal(0, 0.1, c_out)
        arrays[f"conv{i}/mean"] = rng.normal(0, 0.1, c_out)
        arrays[f"conv{i}/var"] = rng.uniform(0.5, 2.0, c_out)
        c_in = c_out
    for layer, classes in (("conv8", 1000), ("conv8_2", 401)):
        arrays[f"{layer}/weights"] = rng.normal(0, 0.01, (8, 1, c_in, classes))
        arrays[f"{layer}/biases"] = np.zeros(classes)
    return {k: v.astype(np.float32) for k, v in arrays.items()}


def write_soundnet(name: str, path: Path) -> dict[str, np.ndarray]:
    """Random SoundNet weights as the weights cache stores the published file."""
    from safetensors.numpy import save_file

    arrays = soundnet_arrays()
    save_file(arrays, str(path))
    return arrays
