"""Checkpoint files in the published layouts, made from freshly built (random) networks:
they stand in for PANNs' Zenodo files and torchvision's ImageNet files in tests."""

from __future__ import annotations

from pathlib import Path

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
