"""Published weights by name: where each comes from and where its converted copy lives.

A `pretrained` value that names an entry here (`soundnet`) stands for that entry's cached
safetensors file; `python -m embedding.weights fetch NAME` makes it, and a search fetches it
on first use. The cache is `$AUDIOSEARCH_WEIGHTS`, or `~/.cache/audiosearch/weights`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CACHE_ENV = "AUDIOSEARCH_WEIGHTS"
SEPARATOR = "/"  # between a layer and its array in a cached file's keys: conv1/weights


@dataclass(frozen=True)
class Published:
    """A network's weights as published inside a package on the package index."""

    name: str
    package: str  # the distribution on the index whose source archive ships the file
    version: str
    member: str  # the weights' path inside the archive
    sha256: str  # of the member: what the authors published, checked before it is read
    sample_rate: int  # what the network reads
    about: str

    @property
    def path(self) -> Path:
        return cache_dir() / f"{self.name}.safetensors"

    @property
    def fetch_command(self) -> str:
        return f"python -m embedding.weights fetch {self.name}"


PUBLISHED = {
    "soundnet": Published(
        name="soundnet", package="soundnet", version="0.1.2",
        member="soundnet/models/sound8.npy",
        sha256="7bef691761d00a23b027751bb8e7bdadc603a03f3bbec5574e7cd54c98a850c5",
        sample_rate=22050,
        about="SoundNet's 8-layer network (Aytar et al., 2016), trained by its authors on "
              "2M unlabelled videos to predict ImageNet objects and Places scenes"),
}


def cache_dir() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache/audiosearch/weights")


def by_name(value: object) -> Published | None:
    """The published entry `value` names (a bare name, not a file of that name)."""
    if not isinstance(value, str) or value not in PUBLISHED or Path(value).exists():
        return None
    return PUBLISHED[value]


def at_path(path: object) -> Published | None:
    """The published entry whose cached file `path` is."""
    if not isinstance(path, str | Path):
        return None
    resolved = Path(path).expanduser().resolve()
    return next((p for p in PUBLISHED.values() if p.path.resolve() == resolved), None)
