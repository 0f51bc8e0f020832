"""The dataset section of a space YAML (also `python -m data_prep.run`'s options), validated."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

PAD_POLICIES = ("pad", "tile")
REPRESENTATIONS = ("waveform",)


class ConfigError(ValueError):
    """A bad key or value in a space or dataset spec; the message names it."""


@dataclass(frozen=True)
class SyntheticConfig:
    clips_per_class: int = 60
    seed: int = 0
    classes: tuple[str, ...] | None = None


@dataclass(frozen=True)
class DatasetConfig:
    # `synthetic` (the built-in demo dataset, made on first use) or a folder of class folders.
    source: str = "synthetic"
    sample_rate: int = 8000
    clip_seconds: float = 1.0
    pad_policy: str = "pad"
    representation: str = "waveform"
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    split_seed: int = 0
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)

    @property
    def clip_samples(self) -> int:
        return int(round(self.sample_rate * self.clip_seconds))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None, where: str = "dataset") -> DatasetConfig:
        raw = dict(raw or {})
        synthetic = SyntheticConfig(
            **_checked(raw.pop("synthetic", None) or {}, SyntheticConfig, f"{where}.synthetic")
        )
        if synthetic.classes is not None:
            synthetic = SyntheticConfig(
                synthetic.clips_per_class, synthetic.seed, tuple(synthetic.classes)
            )
        config = cls(**_checked(raw, cls, where), synthetic=synthetic)
        config._validate(where)
        return config

    def _validate(self, where: str) -> None:
        if self.pad_policy not in PAD_POLICIES:
            raise ConfigError(
                f"{where}.pad_policy: {self.pad_policy!r} is not one of {list(PAD_POLICIES)}"
            )
        if self.representation not in REPRESENTATIONS:
            raise ConfigError(
                f"{where}.representation: {self.representation!r} is not one of "
                f"{list(REPRESENTATIONS)}"
            )
        for key in ("sample_rate", "clip_seconds"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"{where}.{key}: must be positive, got {getattr(self, key)!r}")
        if not (0 < self.val_fraction < 1 and 0 <= self.test_fraction < 1):
            raise ConfigError(f"{where}: val_fraction and test_fraction must lie in (0, 1)")
        if self.val_fraction + self.test_fraction >= 1:
            raise ConfigError(f"{where}: val_fraction + test_fraction leaves no training data")


def _checked(raw: dict[str, Any], cls: type, where: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(raw).__name__}")
    allowed = {f.name for f in fields(cls)} - {"synthetic"}
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise ConfigError(
            f"{where}.{unknown[0]}: unknown key; allowed keys are {sorted(allowed)}"
        )
    return raw
