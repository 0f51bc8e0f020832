"""Dataset layouts -> a table of clips: `path` (absolute), `id` (relative), `label`, `group`."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

AUDIO_EXTENSIONS = {".wav", ".flac", ".ogg", ".mp3", ".au", ".aiff", ".aif", ".snd"}


def class_folders(root: str | Path) -> pd.DataFrame:
    """Every audio file under `root/<class>/...` (any depth), labelled by its top folder."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    rows = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if len(rel.parts) < 2 or path.suffix.lower() not in AUDIO_EXTENSIONS:
            continue
        if rel.parts[0].startswith((".", "_")):
            continue
        rows.append({"path": str(path), "id": rel.as_posix(), "label": rel.parts[0],
                     "group": rel.as_posix()})
    if not rows:
        raise ValueError(
            f"no audio files found under {root}: expected <class>/<file> with one of "
            f"{sorted(AUDIO_EXTENSIONS)}"
        )
    clips = pd.DataFrame(rows)
    if clips["label"].nunique() < 2:
        raise ValueError(
            f"{root} holds one class folder ({clips['label'].iloc[0]!r}); a classifier needs two"
        )
    return clips
