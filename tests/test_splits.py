import pandas as pd

from data_prep.splits import assign_splits


def clips_with_groups(n_groups=30, per_group=3, classes=("a", "b", "c")):
    rows = []
    for label in classes:
        for g in range(n_groups):
            for i in range(per_group):
                rows.append({"id": f"{label}/{g}_{i}", "labels": [label],
                             "group": f"{label}-{g}"})
    return pd.DataFrame(rows)


def test_groups_stay_on_one_side_and_classes_are_stratified():
    clips = clips_with_groups()
    clips["split"] = assign_splits(clips, 0.2, 0.2, seed=0)
    assert (clips.groupby("group")["split"].nunique() == 1).all()
    share = clips.groupby([clips["labels"].str[0], "split"]).size().unstack() / len(clips) * 3
    assert ((share["val"] - 0.2).abs() < 0.05).all() and ((share["test"] - 0.2).abs() < 0.05).all()


def test_splits_are_deterministic_and_stable_when_files_are_added():
    clips = clips_with_groups()
    first = assign_splits(clips, 0.2, 0.2, seed=0)
    assert first.equals(assign_splits(clips, 0.2, 0.2, seed=0))
    assert not first.equals(assign_splits(clips, 0.2, 0.2, seed=1))
    more = pd.concat([clips, clips_with_groups(n_groups=31).iloc[-9:]], ignore_index=True)
    moved = (assign_splits(more, 0.2, 0.2, seed=0)[: len(clips)] != first).sum()
    assert moved < len(clips) * 0.1
