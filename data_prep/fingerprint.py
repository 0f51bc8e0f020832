"""What a prepared dataset depends on, hashed: the files (path, size, mtime) and parameters."""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

import pandas as pd

# Bump when decoding or a representation changes what it writes for the same inputs.
PIPELINE_VERSION = 1


def fingerprint(clips: pd.DataFrame, params: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({"v": PIPELINE_VERSION, **params}, sort_keys=True).encode())
    for path, clip_id, label, split in clips[["path", "id", "labels", "split"]].itertuples(
        index=False
    ):
        try:
            stat = os.stat(path)
            size, mtime = stat.st_size, stat.st_mtime_ns
        except OSError:  # a missing file is rejected later; it still shapes the result
            size, mtime = -1, -1
        digest.update(f"{clip_id}\0{label}\0{split}\0{size}\0{mtime}\n".encode())
    return digest.hexdigest()[:16]
