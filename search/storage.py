"""Where an experiment lives: a local or shared folder, or any URI pyarrow can open
(`s3://`, `gs://`, `file://`...). Tune writes there directly; the leaderboard is built from
a local mirror of it and written back beside the trials."""

from __future__ import annotations

from pathlib import Path

import pyarrow.fs as pafs


class ExperimentStore:
    def __init__(self, storage: str, name: str, local_mirror: Path):
        self.storage, self.name = storage.rstrip("/"), name
        self.uri = f"{self.storage}/{name}"
        self.fs, self.path = pafs.FileSystem.from_uri(self.uri)
        self.remote = not isinstance(self.fs, pafs.LocalFileSystem)
        # Local storage is its own mirror.
        self.local = Path(self.path) if not self.remote else local_mirror

    def write_text(self, name: str, text: str) -> None:
        self.fs.create_dir(self.path, recursive=True)
        with self.fs.open_output_stream(f"{self.path}/{name}") as stream:
            stream.write(text.encode())

    def pull(self) -> Path:
        """The experiment as a local folder (copied down when remote)."""
        if self.remote:
            self.local.mkdir(parents=True, exist_ok=True)
            pafs.copy_files(self.path, str(self.local), source_filesystem=self.fs,
                            destination_filesystem=pafs.LocalFileSystem())
        return self.local

    def push(self, local_file: Path) -> None:
        """Put a file written in the mirror back into the experiment."""
        if self.remote:
            pafs.copy_files(str(local_file), f"{self.path}/{local_file.name}",
                            source_filesystem=pafs.LocalFileSystem(),
                            destination_filesystem=self.fs)
