"""What a representation's arrays are, which is all that training reads of it: a new
representation declares its kind when it registers, the manifest records it, and crops,
augmentations and the models' inputs follow the kind, never the name."""

from __future__ import annotations

from enum import Enum


class Kind(str, Enum):
    WAVEFORM = "waveform"  # (samples,): crops take samples, waveform effects apply
    SPECTROGRAM = "spectrogram"  # (bins, frames): crops take frames, SpecAugment applies
    VECTOR = "vector"  # (dims,): one summary per clip, nothing to crop

    def __str__(self) -> str:
        return self.value


# Shards prepared before manifests recorded kinds, by their representation's name.
LEGACY = {"waveform": Kind.WAVEFORM, "logmel": Kind.SPECTROGRAM, "mfcc": Kind.SPECTROGRAM}


def kind_of(representation: str, recorded: str | None = None) -> Kind:
    """The kind recorded beside a representation, or for older records, by its name."""
    return Kind(recorded) if recorded else LEGACY.get(representation, Kind.VECTOR)
