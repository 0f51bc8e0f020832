"""librosa's numba kernels compiled once before parallel workers (numba#10128: workers that
compile a kernel at once can leave a cache that crashes every later process)."""

import pytest

from data_prep import kernels
from data_prep.config import DatasetConfig

FEATURES = DatasetConfig.from_dict({"source": "synthetic", "sample_rate": 8000,
                                    "clip_seconds": 0.5, "representation": "features"})


def test_the_features_kernels_compile_and_cache_in_one_process():
    kernels.warm_kernels(FEATURES)
    assert any(path.suffix == ".nbi" for path in kernels.librosa_cache_files())


def test_a_cache_that_crashes_the_process_is_removed_and_rebuilt(tmp_path, monkeypatch):
    broken = tmp_path / "guf-kernel.nbc"  # stands in for a mismatched pair of cache files
    broken.write_bytes(b"from another process")
    monkeypatch.setattr(kernels, "librosa_cache_files", lambda: [broken])
    crash_while_broken = (f"import os, pathlib, signal\nif pathlib.Path({str(broken)!r})"
                          ".exists(): os.kill(os.getpid(), signal.SIGSEGV)\n")
    kernels.warm_kernels(FEATURES, code=crash_while_broken)
    assert not broken.exists()


def test_a_crash_that_outlives_a_fresh_cache_is_an_error_that_says_so(monkeypatch):
    monkeypatch.setattr(kernels, "librosa_cache_files", lambda: [])
    always = "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)\n"
    with pytest.raises(RuntimeError, match="preparing features: librosa's numba kernels crash"):
        kernels.warm_kernels(FEATURES, code=always)


def test_other_failures_are_left_to_the_preparation():
    kernels.warm_kernels(FEATURES, code="raise ValueError('a bad clip')\n")  # no raise
