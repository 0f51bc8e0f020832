"""librosa's numba kernels compiled once, alone, before parallel workers use them.

librosa's gufuncs cache their compiled code on disk (`cache=True`), two files per kernel,
each written on its own. Workers that compile the same kernel at once can leave a pair from
two processes behind, and every process that loads it afterwards dies with a segmentation
fault (numba#10128). Measured here: on a fresh install, the `features` representation's Ray
workers all crashed in `librosa.zero_crossings` and the preparation retried them for 20
minutes. So before a preparation's workers start, one child process computes the
representation of a silent clip: it compiles and caches each kernel once. Should that child
crash on a cache already broken, librosa's cache files are removed and it runs again.
"""

from __future__ import annotations

import pickle
import signal
import subprocess
import sys
from pathlib import Path

from .config import DatasetConfig

CRASHES = (-signal.SIGSEGV, -signal.SIGBUS, -signal.SIGABRT)
# The child: one silent clip through the representation, as a worker would compute it.
WARM = """
import pickle, sys
import numpy as np
from data_prep import representations
config = pickle.loads(sys.stdin.buffer.read())
representations.compute(np.zeros((1, config.stored_samples), np.float32), config)
"""


def librosa_cache_files() -> list[Path]:
    import librosa

    return [p for pattern in ("*.nbi", "*.nbc")
            for p in Path(librosa.__file__).parent.rglob(f"__pycache__/{pattern}")]


def warm_kernels(config: DatasetConfig, code: str = WARM) -> None:
    """Compile and cache the numba kernels of `config`'s representation in one process; a
    cache that crashes it is removed and rebuilt. Any other failure is left to the
    preparation itself, which names the clips it cannot use. Raises RuntimeError when a
    fresh cache crashes too."""
    for attempt in range(2):
        done = subprocess.run([sys.executable, "-c", code], input=pickle.dumps(config),
                              capture_output=True)
        if done.returncode not in CRASHES:
            return
        if attempt == 0:
            for path in librosa_cache_files():
                path.unlink(missing_ok=True)
    raise RuntimeError(f"preparing {config.representation}: librosa's numba kernels crash "
                       f"(signal {-done.returncode}) even after their cache was removed; "
                       "reinstall numba and librosa")
