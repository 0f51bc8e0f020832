"""Dataset layouts -> one table of clips.

Columns: `path` (absolute), `id` (relative to the dataset root), `labels` (a list of label
names: one for single-label data), `group` (clips that must share a split), and, when the
layout defines them, `split` and `fold`.

Layouts:
- `folders`: `<root>/<label>/.../<clip>` (GTZAN's `genres/<genre>/*.au`, a folder of MP3s
  per class, the Speech Commands test set).
- `speech_commands`: class folders plus `validation_list.txt` and `testing_list.txt`, which
  define val and test; `_background_noise_/` is a noise source, not a class.
- `csv`: a CSV of paths and labels (FSD50K, the Free Spoken Digit manifest, your own).
- `esc50`: ESC-50's `meta/esc50.csv` with its folds and `audio/` folder.

Each is a function `(source, dataset config) -> clip table` registered with `register_layout`,
with an optional test that recognises it (`layout: auto`); a new layout is one function.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from contracts.registry import LAYOUTS

from .config import AUTO, ConfigError, CsvConfig, DataError, DatasetConfig

Read = Callable[[Path, DatasetConfig], pd.DataFrame]


@dataclass(frozen=True)
class Layout:
    name: str
    read: Read
    detect: Callable[[Path], bool] | None  # recognises a source of this layout (auto)


def register_layout(name: str, detect: Callable[[Path], bool] | None = None,
                    ) -> Callable[[Read], Read]:
    def add(read: Read) -> Read:
        LAYOUTS.register(name, Layout(name, read, detect), read.__module__)
        return read

    return add

AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".mp3", ".au", ".aiff", ".aif", ".snd"}
NOISE_FOLDER = "_background_noise_"
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val",
               "validation": "val", "dev": "val", "test": "test", "testing": "test",
               "eval": "test"}
# A CSV's own split, folds and groups, found by their usual names (`dataset.csv.*_column`
# names another; null turns one off).
USUAL_COLUMNS = {
    "path_column": ("path", "filename", "fname", "file", "filepath", "file_path", "audio",
                    "audio_path", "clip", "wav"),
    "label_column": ("label", "labels", "category", "class", "class_name", "tags", "tag",
                     "genre", "target"),
    "split_column": ("split", "set", "subset", "partition"),
    "fold_column": ("fold",),
    "group_column": ("speaker", "speaker_id", "client_id", "group", "subject", "session"),
}
# Label columns whose cells list several names (FSD50K's `labels`): "," separates them.
MULTI_LABEL_COLUMNS = ("labels", "tags")
VOCABULARY_FILE = "vocabulary.csv"  # FSD50K's, beside its dev.csv and eval.csv
ESC50 = CsvConfig(path_column="filename", label_column="category", separator=None,
                  vocabulary=None, fold_column="fold", audio_dir="../audio")


def speaker_group(clip_id: str) -> str:
    """Speech Commands' speaker hash (`<hash>_nohash_<n>.wav`), else the clip itself."""
    name = Path(clip_id).name
    return name.split("_nohash_")[0] if "_nohash_" in name else clip_id


def detect_layout(source: Path) -> str:
    """The layout whose test recognises `source` (the latest registered first); class
    folders when none does."""
    for layout in reversed(list(LAYOUTS)):
        if layout.detect is not None and layout.detect(source):
            return layout.name
    return "folders"


def list_source(config: DatasetConfig, source: Path) -> pd.DataFrame:
    """The clip table for `source` in the configured (or detected) layout."""
    if not source.exists():
        raise FileNotFoundError(f"dataset source {source} does not exist")
    layout = config.layout if config.layout != "auto" else detect_layout(source)
    clips = LAYOUTS.get(layout, "dataset.layout").read(source, config)
    labels = {name for names in clips["labels"] for name in names}
    if len(labels) < 2:
        raise DataError(f"{source}: found {len(labels)} class(es) {sorted(labels)}; "
                         "a classifier needs at least two")
    origin = {"split": None, "folds": None, "groups": None, **clips.attrs.get("origin", {})}
    if origin["groups"] is None and (clips["group"] != clips["id"]).any():
        origin["groups"] = "the speaker in <speaker>_nohash_ file names"
    multi_label = clips.attrs.get("multi_label", False) or bool(
        (clips["labels"].str.len() > 1).any())
    clips = clips.reset_index(drop=True)
    clips.attrs["origin"] = origin
    clips.attrs["multi_label"] = multi_label
    return clips


@register_layout("folders")
def folders(source: Path, config: DatasetConfig) -> pd.DataFrame:
    return class_folders(source)


def _is_speech_commands(source: Path) -> bool:
    return (source / "validation_list.txt").exists() and (source / "testing_list.txt").exists()


@register_layout("speech_commands", detect=_is_speech_commands)
def speech_commands_layout(source: Path, config: DatasetConfig) -> pd.DataFrame:
    return speech_commands(source)


def _is_csv(source: Path) -> bool:
    return source.is_file() and source.suffix.lower() == ".csv" and source.name != "esc50.csv"


@register_layout("csv", detect=_is_csv)
def csv_layout(source: Path, config: DatasetConfig) -> pd.DataFrame:
    if not source.is_file():
        raise ConfigError(f"dataset.source: layout 'csv' needs a CSV file, got folder {source}")
    return csv_manifest(source, config.csv)


def _is_esc50(source: Path) -> bool:
    return source.name == "esc50.csv" or (source / "meta" / "esc50.csv").exists()


@register_layout("esc50", detect=_is_esc50)
def esc50(source: Path, config: DatasetConfig) -> pd.DataFrame:
    csv_path = source if source.is_file() else source / "meta" / "esc50.csv"
    return csv_manifest(csv_path, ESC50 if config.csv == CsvConfig() else config.csv)


def class_folders(root: Path) -> pd.DataFrame:
    """Every audio file under `root/<label>/` (any depth), labelled by its top folder."""
    root = root.resolve()
    rows = []
    for path in _walk(root):
        rel = path.relative_to(root)
        if len(rel.parts) < 2 or path.suffix.lower() not in AUDIO_EXTENSIONS:
            continue
        if rel.parts[0] == NOISE_FOLDER or any(p.startswith(".") for p in rel.parts):
            continue
        clip_id = rel.as_posix()
        rows.append({"path": str(path), "id": clip_id, "labels": [rel.parts[0]],
                     "group": speaker_group(clip_id)})
    if not rows:
        raise DataError(f"no audio files under {root}: expected <label>/<clip> with one of "
                         f"{sorted(AUDIO_EXTENSIONS)}")
    return pd.DataFrame(rows)


def _walk(root: Path) -> list[Path]:
    """Every file below `root`, sorted, following symlinked folders (datasets often are)."""
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(folder) / name for name in files]
    return sorted(found)


def speech_commands(root: Path) -> pd.DataFrame:
    clips = class_folders(root)
    split = pd.Series("train", index=clips.index)
    for name, list_file in (("val", "validation_list.txt"), ("test", "testing_list.txt")):
        listed = set((root / list_file).read_text().split())
        split[clips["id"].isin(listed)] = name
    clips["split"] = split
    clips.attrs["origin"] = {"split": "validation_list.txt and testing_list.txt"}
    return clips


def noise_files(source: Path) -> list[str]:
    """Background-noise recordings (Speech Commands' `_background_noise_/`) for augmentation."""
    folder = source / NOISE_FOLDER if source.is_dir() else None
    if folder is None or not folder.is_dir():
        return []
    return sorted(str(p) for p in folder.iterdir() if p.suffix.lower() in AUDIO_EXTENSIONS)


def _read_vocabulary(path: Path) -> list[str]:
    """A vocabulary file: one label per line, or FSD50K's `index,label,mid` CSV."""
    lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if lines and "," in lines[0]:
        return [line.split(",")[1] for line in lines]
    return lines


def resolve_csv(csv_path: Path, options: CsvConfig,
                columns: list[str] | None = None) -> CsvConfig:
    """`options` with every "auto" replaced by what the CSV's header and conventions say
    (the columns by their usual names, the separator of a `labels` column, a
    `vocabulary.csv` beside it); what the user gave is kept. `columns`: the header, when
    already read. A column named but absent is an error naming it and the header."""
    if columns is None:
        columns = list(pd.read_csv(csv_path, dtype=str, nrows=0).columns)
    by_name = {str(c).strip().lower(): c for c in columns}
    found = {}
    for key, usual in USUAL_COLUMNS.items():
        given = getattr(options, key)
        if given != AUTO:
            found[key] = given
            continue
        found[key] = next((by_name[n] for n in usual if n in by_name), None)
        if found[key] is None and key in ("path_column", "label_column"):
            raise ConfigError(f"{csv_path}: none of its columns {columns} is a usual name for "
                              f"the {key.split('_')[0]} ({', '.join(usual[:4])}, ...); name "
                              f"it with dataset.csv.{key}")
    for key, column in found.items():
        if column and column not in columns:
            raise ConfigError(f"{csv_path}: no column {column!r} (dataset.csv.{key}); "
                              f"its columns are {columns}")
    separator = options.separator
    if separator == AUTO:
        multi = str(found["label_column"]).strip().lower() in MULTI_LABEL_COLUMNS
        separator = "," if multi else None
    vocabulary = options.vocabulary
    if vocabulary == AUTO:
        beside = csv_path.parent / VOCABULARY_FILE
        vocabulary = VOCABULARY_FILE if beside.is_file() and beside != csv_path else None
    return dataclasses.replace(options, **found, separator=separator, vocabulary=vocabulary)


def is_multi_label_csv(csv_path: Path, options: CsvConfig) -> bool:
    """Whether the CSV's clips carry several labels each, from its header and options."""
    return bool(resolve_csv(csv_path, options).separator)


def _audio_path(audio_dir: Path, clip: str) -> str:
    """Where a listed clip is: as written or, for an id without an extension (FSD50K's
    `fname` column holds numbers), with the first audio extension that exists."""
    path = audio_dir / clip
    if path.suffix.lower() in AUDIO_EXTENSIONS or path.exists():
        return str(path)
    for extension in (".wav", ".flac", ".ogg", ".mp3"):
        if path.with_name(path.name + extension).exists():
            return str(path.with_name(path.name + extension))
    return str(path)


def csv_manifest(csv_path: Path, options: CsvConfig) -> pd.DataFrame:
    """The clip table of a CSV; `attrs["origin"]` says which columns gave the split,
    folds and groups, and `attrs["multi_label"]` whether its cells list several labels."""
    csv_path = csv_path.resolve()
    table = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    options = resolve_csv(csv_path, options, list(table.columns))
    found = {key: getattr(options, key)
             for key in ("split_column", "fold_column", "group_column")}
    audio_dir = (csv_path.parent / options.audio_dir).resolve()
    if options.separator:
        labels = [[p.strip() for p in cell.split(options.separator) if p.strip()]
                  for cell in table[options.label_column]]
    else:
        labels = [[cell.strip()] for cell in table[options.label_column]]
    if options.vocabulary:
        vocab_path = (csv_path.parent / options.vocabulary).resolve()
        vocabulary = set(_read_vocabulary(vocab_path))
        for row, names in enumerate(labels):
            unknown = [n for n in names if n not in vocabulary]
            if unknown:
                raise DataError(f"{csv_path}, row {row + 2}: label {unknown[0]!r} is not in "
                                 f"the vocabulary {vocab_path}")
    for row, names in enumerate(labels):
        if not names:
            raise DataError(f"{csv_path}, row {row + 2}: empty {options.label_column!r} cell")
    ids = [str(Path(p)) for p in table[options.path_column]]
    split_column, fold_column, group_column = (
        found["split_column"], found["fold_column"], found["group_column"])
    clips = pd.DataFrame({
        "path": [_audio_path(audio_dir, p) for p in ids],
        "id": ids,
        "labels": labels,
        "group": table[group_column].str.strip() if group_column else ids,
    })
    off = "set dataset.csv.{key}: null to ignore it, or name another column"
    if split_column:
        raw = table[split_column].str.strip().str.lower()
        bad = sorted(set(raw) - set(SPLIT_NAMES))
        if bad:
            raise DataError(f"{csv_path}: column {split_column!r} holds {bad[0]!r}; expected "
                            f"one of {sorted(SPLIT_NAMES)}; " + off.format(key="split_column"))
        clips["split"] = raw.map(SPLIT_NAMES).to_numpy()
    if fold_column:
        try:
            clips["fold"] = table[fold_column].astype(int).to_numpy()
        except ValueError:
            raise DataError(f"{csv_path}: column {fold_column!r} holds other than whole "
                            "numbers; " + off.format(key="fold_column")) from None
    where = f"column {{!r}} of {csv_path.name}"
    clips.attrs["origin"] = {
        "split": where.format(split_column) if split_column else None,
        "folds": where.format(fold_column) if "fold" in clips else None,
        "groups": where.format(group_column) if group_column else None,
        "labels": where.format(options.label_column)
        + (f", names separated by {options.separator!r}" if options.separator else "")
        + (f", vocabulary {options.vocabulary}" if options.vocabulary else ""),
    }
    clips.attrs["multi_label"] = bool(options.separator)
    missing = [p for p in clips["path"] if not Path(p).exists()]
    if missing and len(missing) == len(clips):
        raise FileNotFoundError(f"{csv_path}: none of its {len(clips)} files exist under "
                                f"{audio_dir} (e.g. {missing[0]}); set dataset.csv.audio_dir")
    return clips
