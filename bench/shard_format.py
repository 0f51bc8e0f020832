"""Writing and reading a shard's array column: Parquet list of floats versus the binary
column `contracts.shards.array_column` writes, side by side on the same arrays.

    .venv/bin/python bench/shard_format.py [--clips 2000] [--shape 64 101]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from contracts.shards import array_column, column_array
from data_prep.worker import write_part


def list_column(values: np.ndarray) -> pa.Array:
    flat = pa.array(values.reshape(len(values), -1).ravel(), type=pa.float32())
    return pa.FixedSizeListArray.from_arrays(flat, int(np.prod(values.shape[1:])))


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=2000)
    parser.add_argument("--shape", type=int, nargs="+", default=[64, 101])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    values = np.random.default_rng(0).normal(size=(args.clips, *args.shape)).astype(np.float32)
    ids = np.array([f"clip{i}.wav" for i in range(args.clips)])
    print(f"{args.clips} clips of {tuple(args.shape)} float32 ({values.nbytes / 2**20:.0f} MiB)")
    with tempfile.TemporaryDirectory() as tmp:
        results = {}
        for name, make in (("list", list_column), ("binary", array_column)):
            path = Path(tmp) / f"{name}.parquet"

            def write(make=make, path=path) -> None:
                write_part(pa.table({"id": ids, "x": make(values)}), path)

            def read(path=path) -> np.ndarray:
                return column_array(pq.read_table(path, columns=["x"]).column("x"))

            write_s, read_s = best_of(write, args.repeats), best_of(read, args.repeats)
            np.testing.assert_array_equal(read(), values.reshape(args.clips, -1))
            results[name] = (write_s, read_s)
            print(f"{name:>6}: write {write_s * 1000:7.1f} ms   read {read_s * 1000:7.1f} ms   "
                  f"{path.stat().st_size / 2**20:.0f} MiB")
        (lw, lr), (bw, br) = results["list"], results["binary"]
        print(f"binary vs list: write {lw / bw:.1f}x faster, read {lr / br:.1f}x faster")


if __name__ == "__main__":
    main()
