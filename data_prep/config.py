"""The dataset section of a space YAML (also `python -m data_prep.run`'s options), validated.

Every error names the key at fault, its value and what is allowed.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from contracts.errors import ConfigError, DataError  # noqa: F401  (read from here too)
from contracts.registry import LAYOUTS, REPRESENTATIONS

from .loudness import LOUDNESS

PAD_POLICIES = ("pad", "tile")
AUTO = "auto"
PRESETS = {
    # PANNs (Kong et al., 2020): the front end of CNN6/10/14.
    "panns": {"sample_rate": 32000, "n_fft": 1024, "hop_length": 320, "n_mels": 64,
              "fmin": 50.0, "fmax": 14000.0},
    # SoundNet (Aytar et al., 2016) reads the 22050 Hz waveform.
    "soundnet": {"sample_rate": 22050, "representation": "waveform"},
}


@dataclass(frozen=True)
class SyntheticConfig:
    clips_per_class: int = 60
    seed: int = 0
    classes: tuple[str, ...] | None = None
    multi_label: bool = False  # clips mixing 1 to 3 classes, listed in a CSV


@dataclass(frozen=True)
class CsvConfig:
    # "auto": found by their usual names and conventions (sources.USUAL_COLUMNS): the
    # path in `path`, `filename`, `fname`...; the label in `label`, `category`, or FSD50K's
    # `labels`, whose cells list several names separated by commas.
    path_column: str = "auto"
    label_column: str = "auto"
    # Multi-label cells, e.g. "," for FSD50K; "auto": "," for a `labels` or `tags`
    # column, single-label otherwise; null: single-label.
    separator: str | None = "auto"
    # One label per line, or FSD50K's index,label,mid; "auto": `vocabulary.csv` beside the
    # CSV when there is one; null: none.
    vocabulary: str | None = "auto"
    # "auto": found by their usual names; null: not used.
    split_column: str | None = "auto"
    fold_column: str | None = "auto"
    group_column: str | None = "auto"
    audio_dir: str = "."  # where paths point, relative to the CSV's folder


@dataclass(frozen=True)
class EmbedConfig:
    """Train on a network's activations instead (`python -m embedding.embed`): a registered
    pretrained `model` with its `pretrained` weights file, or a trained `checkpoint` (a
    checkpoint folder or an exported model.pt), over the representation prepared above."""

    model: str | None = None  # e.g. panns_cnn6, resnet50
    pretrained: str | None = None
    checkpoint: str | None = None
    layers: tuple[str, ...] = ("pooled",)  # submodule names, or "pooled" (before the head)
    batch_size: int = 64

    @property
    def enabled(self) -> bool:
        return bool(self.model or self.checkpoint)

    def validate(self, where: str) -> None:
        if self.model and self.checkpoint:
            raise ConfigError(f"{where}.checkpoint: give embed.model (with pretrained) or "
                              "embed.checkpoint, not both")
        if self.model and not self.pretrained:
            raise ConfigError(f"{where}.pretrained: embed.model {self.model!r} needs its "
                              "weights file (an untrained network's activations carry nothing)")
        if self.enabled and not self.layers:
            raise ConfigError(f"{where}.layers: name at least one layer, e.g. [pooled]")
        if self.batch_size < 1:
            raise ConfigError(f"{where}.batch_size: must be at least 1, got {self.batch_size}")


PITCH_METHODS = ("phase_vocoder", "world")


@dataclass(frozen=True)
class AugmentConfig:
    """Offline augmentation (`data_prep.copies`): `copies` transformed versions of every
    train clip, stored beside it; validation and test are never augmented. Each copy draws
    its pitch shift (semitones) and tempo factor uniformly from the ranges."""

    copies: int = 0
    pitch_semitones: tuple[float, float] = (0.0, 0.0)
    stretch: tuple[float, float] = (1.0, 1.0)  # tempo factor: 1.25 plays a quarter faster
    # Pitch copies keep the spectral envelope (formants) where it was: another register of
    # the same voice or instrument, not a tape played faster.
    keep_formants: bool = True
    # "phase_vocoder" (librosa) or "world" (WORLD resynthesis: `pip install -e ".[world]"`).
    pitch_method: str = "phase_vocoder"
    # WORLD only: each copy's pitch also bent by a smooth random contour within +- this.
    intonation_semitones: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:  # [-3, 3] and [-3.0, 3.0] fingerprint alike
        for key in ("pitch_semitones", "stretch"):
            value = getattr(self, key)
            if isinstance(value, (list, tuple)) and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                object.__setattr__(self, key, tuple(float(v) for v in value))

    def validate(self, where: str) -> None:
        if not isinstance(self.copies, int) or not 0 <= self.copies <= 32:
            raise ConfigError(f"{where}.copies: expected 0 to 32 copies per train clip, got "
                              f"{self.copies!r}")
        for key, low_bound in (("pitch_semitones", -24.0), ("stretch", 0.25)):
            bounds = getattr(self, key)
            high_bound = 24.0 if key == "pitch_semitones" else 4.0
            if (len(bounds) != 2 or not all(isinstance(b, (int, float)) for b in bounds)
                    or not low_bound <= bounds[0] <= bounds[1] <= high_bound):
                raise ConfigError(f"{where}.{key}: expected [low, high] within "
                                  f"[{low_bound:g}, {high_bound:g}], got {list(bounds)!r}")
        if self.pitch_method not in PITCH_METHODS:
            raise ConfigError(f"{where}.pitch_method: {self.pitch_method!r} is not one of "
                              f"{list(PITCH_METHODS)}")
        if not isinstance(self.intonation_semitones, (int, float)) or not (
                0 <= self.intonation_semitones <= 12):
            raise ConfigError(f"{where}.intonation_semitones: expected 0 to 12 semitones, got "
                              f"{self.intonation_semitones!r}")
        if self.intonation_semitones and self.pitch_method != "world":
            raise ConfigError(f"{where}.intonation_semitones: bending the pitch contour needs "
                              "pitch_method: world (a phase vocoder moves every frame alike)")
        if self.pitch_method == "world" and not self.keep_formants:
            raise ConfigError(f"{where}.keep_formants: WORLD always keeps the envelope; moving "
                              "the whole spectrum needs pitch_method: phase_vocoder")
        if self.copies and self.pitch_method == "world":
            try:
                import pyworld  # noqa: F401
            except ImportError:
                raise ConfigError(f"{where}.pitch_method: world needs the pyworld package; "
                                  "install it with: pip install -e \".[world]\"") from None
        if self.copies and self.pitch_semitones == (0.0, 0.0) and self.stretch == (1.0, 1.0) \
                and not self.intonation_semitones:
            raise ConfigError(f"{where}: {self.copies} copies with neither pitch_semitones "
                              "nor stretch would repeat each clip unchanged; give a range, "
                              "e.g. pitch_semitones: [-3, 3]")


@dataclass(frozen=True)
class DatasetConfig:
    # `synthetic` (the built-in demo dataset, made on first use), a folder, or a CSV file.
    source: str = "synthetic"
    layout: str = "auto"
    csv: CsvConfig = field(default_factory=CsvConfig)
    sample_rate: int = 8000
    clip_seconds: float = 1.0
    # Keep up to this many seconds when training crops `clip_seconds` at random (and
    # validation scores whole clips on windows); "auto": decided from the clips' durations
    # at preparation (`data_prep.durations`); null: every clip cut to clip_seconds.
    max_seconds: float | str | None = AUTO
    pad_policy: str = "pad"
    min_seconds: float = 0.05
    max_file_mb: float = 512.0
    representation: str = "waveform"
    preset: str | None = None
    n_fft: int = 512
    hop_length: int = 128
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float | None = None
    n_mfcc: int = 20
    val_fraction: float = 0.15
    test_fraction: float = 0.15
    split_seed: int = 0
    val_fold: int | None = None
    test_fold: int | None = None
    # A group (speaker) on both sides of a split is an error unless this is true.
    allow_shared_groups: bool = False
    loudness: str = "none"  # per clip: none, peak, rms or lufs (see loudness.py)
    loudness_db: float | None = None  # the target level; None: the kind's default
    synthetic: SyntheticConfig = field(default_factory=SyntheticConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    embed: EmbedConfig = field(default_factory=EmbedConfig)

    @property
    def output_representation(self) -> str:
        """What the shards a model reads hold: the representation, or its embeddings."""
        return "embedding" if self.embed.enabled else self.representation

    @property
    def clip_samples(self) -> int:
        """Samples per clip a model sees."""
        return int(round(self.sample_rate * self.clip_seconds))

    @property
    def stored_samples(self) -> int:
        """Samples per clip kept in the shards (more than a model sees with `max_seconds`;
        `auto` is decided from the clips at preparation, and before it keeps no more)."""
        kept = None if self.max_seconds == AUTO else self.max_seconds
        seconds = max(kept or 0.0, self.clip_seconds)
        return int(round(self.sample_rate * seconds))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None, where: str = "dataset") -> DatasetConfig:
        raw = dict(raw or {})
        preset = raw.get("preset")
        if preset is not None:
            if preset not in PRESETS:
                raise ConfigError(f"{where}.preset: {preset!r} is not one of {sorted(PRESETS)}")
            raw = {**PRESETS[preset], **raw}
        config = _build(cls, raw, where)
        config._validate(where)
        return config

    def replace(self, **changes: Any) -> DatasetConfig:
        return dataclasses.replace(self, **changes)

    def _validate(self, where: str) -> None:
        # Registered by data_prep.sources and data_prep.representations (imported with the
        # package) and by any plugin.
        choices = {"layout": ["auto", *LAYOUTS.names()], "pad_policy": PAD_POLICIES,
                   "representation": REPRESENTATIONS.names(), "loudness": LOUDNESS}
        for key, allowed in choices.items():
            if getattr(self, key) not in allowed:
                raise ConfigError(
                    f"{where}.{key}: {getattr(self, key)!r} is not one of {list(allowed)}"
                )
        for key in ("sample_rate", "clip_seconds", "n_fft", "hop_length", "n_mels", "n_mfcc",
                    "max_file_mb"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"{where}.{key}: must be positive, got {getattr(self, key)!r}")
        if self.max_seconds == AUTO or self.max_seconds is None:
            pass
        elif isinstance(self.max_seconds, str) or isinstance(self.max_seconds, bool):
            raise ConfigError(f"{where}.max_seconds: expected seconds, auto or null, got "
                              f"{self.max_seconds!r}")
        elif self.max_seconds < self.clip_seconds:
            raise ConfigError(f"{where}.max_seconds: {self.max_seconds} is below clip_seconds "
                              f"{self.clip_seconds}")
        if self.fmax is not None and not self.fmin < self.fmax <= self.sample_rate / 2:
            raise ConfigError(f"{where}.fmax: {self.fmax} must lie above fmin {self.fmin} and "
                              f"at most sample_rate / 2 = {self.sample_rate / 2}")
        if self.representation == "mfcc" and self.n_mfcc > self.n_mels:
            raise ConfigError(f"{where}.n_mfcc: {self.n_mfcc} exceeds n_mels {self.n_mels}")
        if not (0 < self.val_fraction < 1 and 0 <= self.test_fraction < 1):
            raise ConfigError(f"{where}: val_fraction and test_fraction must lie in (0, 1)")
        if self.val_fraction + self.test_fraction >= 1:
            raise ConfigError(f"{where}: val_fraction + test_fraction leaves no training data")
        self.embed.validate(f"{where}.embed")
        self.augment.validate(f"{where}.augment")
        if self.source != "synthetic" and not Path(self.source).expanduser().exists():
            raise ConfigError(f"{where}.source: {self.source} does not exist; give a folder "
                              "of class folders, a CSV of paths and labels, or synthetic")


def space_dataset(path: str | Path) -> dict[str, Any]:
    """The `dataset:` section of a space file, as a mapping (empty when it has none)."""
    import yaml

    return dict((yaml.safe_load(Path(path).read_text()) or {}).get("dataset") or {})


def with_dotted(raw: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """A dataset mapping with `changes` applied; a dotted key ("augment.copies") sets one
    key of a section and keeps the section's others."""
    merged = {key: dict(value) if isinstance(value, dict) else value
              for key, value in raw.items()}
    for dotted, value in changes.items():
        *sections, key = dotted.split(".")
        target = merged
        for section in sections:
            target = target.setdefault(section, {})
        target[key] = value
    return merged


def dotted_keys(raw: dict[str, Any], prefix: str = "") -> list[str]:
    """Every key of a nested mapping, sections' keys dotted ("augment.copies")."""
    keys = []
    for key, value in raw.items():
        keys.append(prefix + key)
        if isinstance(value, dict):
            keys += dotted_keys(value, f"{prefix}{key}.")
    return keys


def _build(cls: type, raw: Any, where: str) -> Any:
    """A (nested) frozen dataclass from a mapping; unknown keys are errors naming the key."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping, got {raw!r}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown key; allowed keys are {sorted(known)}")
    values = {}
    for name, value in raw.items():
        default = known[name].default_factory if known[name].default_factory is not \
            dataclasses.MISSING else None
        if default is not None and dataclasses.is_dataclass(default):
            values[name] = _build(default, value or {}, f"{where}.{name}")
        elif isinstance(value, list):
            values[name] = tuple(value)
        elif name == "max_seconds":  # seconds, auto or null: checked in `_validate`
            values[name] = value
        else:
            _check_type(value, known[name].default, f"{where}.{name}")
            values[name] = value
    return cls(**values)


def _check_type(value: Any, default: Any, where: str) -> None:
    """Values must have the type of their field's default (ints pass for floats)."""
    if default is None or default is dataclasses.MISSING or value is None:
        return
    if isinstance(default, bool) or isinstance(default, str):
        ok = isinstance(value, type(default))
    elif isinstance(default, int):
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = True
    if not ok:
        raise ConfigError(f"{where}: expected {type(default).__name__}, got {value!r}")
