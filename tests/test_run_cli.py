import pytest

from search.run import main, trials_at_once
from search.spec import load_spec


@pytest.mark.parametrize(
    "cpu, gpu, max_concurrent, cluster_cpus, cluster_gpus, expected",
    [
        (1, 0, None, 2, 0, 2),
        (0.5, 0, None, 2, 0, 4),
        (1, 0, 1, 2, 0, 1),
        (1, 0.25, None, 16, 1, 4),  # four trials share one GPU
        (4, 0.25, None, 16, 1, 4),
        (1, 0.25, None, 16, 0, 0),  # asks for a GPU the cluster lacks: nothing fits
        (4, 0, None, 2, 0, 0),
    ],
)
def test_trials_at_once(cpu, gpu, max_concurrent, cluster_cpus, cluster_gpus, expected):
    spec = load_spec("spaces/cnn1d.yaml")
    spec.resources = {"cpu": cpu, "gpu": gpu}
    spec.max_concurrent = max_concurrent
    assert trials_at_once(spec, cluster_cpus, cluster_gpus) == expected


def test_dry_run_prints_the_resolved_search_and_exits(tmp_path, capsys):
    code = main(["spaces/cnn1d.yaml", "--dry-run", "--num-samples", "5", "--max-epochs", "3",
                 "--max-concurrent", "1", "--results", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "trials: 5, up to 3 epochs each" in out and "trials at once: 1" in out
    assert "kernel_size: qint [3, 9, 2]" in out and "max_epochs: 3" in out
    assert list(tmp_path.iterdir()) == []  # nothing prepared, nothing run


def test_data_override_points_the_space_at_a_folder(tmp_path, capsys):
    assert main(["spaces/cnn1d.yaml", "--dry-run", "--data", str(tmp_path)]) == 0
    assert f"'source': '{tmp_path}'" in capsys.readouterr().out
