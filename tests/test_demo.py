"""The README's demo, as shipped: the real space, the real budget. Slow (minutes)."""

import pytest

from search.leaderboard import read as read_leaderboard
from search.run import main


@pytest.mark.slow
def test_demo_search_finds_a_model_well_above_chance(ray_local, tmp_path):
    assert main(["spaces/cnn1d.yaml", "--results", str(tmp_path)]) == 0
    board = read_leaderboard(tmp_path / "cnn1d" / "leaderboard.csv")
    assert len(board) >= 8
    chance = 1 / 10
    assert board["val_accuracy_best"].iloc[0] > 3 * chance
    assert board["checkpoint"].iloc[0].endswith(tuple(f"{i:06d}" for i in range(100)))
