import numpy as np
import soundfile as sf
from sklearn.linear_model import LogisticRegression

from data_prep import synthetic


def test_generator_is_deterministic_and_writes_class_folders(tmp_path):
    a = synthetic.generate(tmp_path / "a", clips_per_class=3, sample_rate=8000, seconds=0.5)
    b = synthetic.generate(tmp_path / "b", clips_per_class=3, sample_rate=8000, seconds=0.5)
    files = sorted(p.relative_to(a) for p in a.rglob("*.wav"))
    assert len(files) == 3 * len(synthetic.CLASSES)
    assert {f.parts[0] for f in files} == set(synthetic.CLASSES)
    for rel in files:
        left, rate = sf.read(a / rel)
        right, _ = sf.read(b / rel)
        assert rate == 8000 and len(left) == 4000
        np.testing.assert_array_equal(left, right)


def test_seed_changes_the_clips():
    one = synthetic.make_clip("chirp_up", 0, 8000, 0.5, seed=0)
    two = synthetic.make_clip("chirp_up", 0, 8000, 0.5, seed=1)
    assert not np.allclose(one, two)


def test_clips_vary_in_gain_timing_and_stay_in_range():
    clips = np.stack([synthetic.make_clip("tone", i, 8000, 1.0, 0) for i in range(20)])
    assert np.abs(clips).max() <= 1.0
    peaks = np.abs(clips).max(axis=1)
    assert peaks.max() / peaks.min() > 2  # random gain
    onsets = [np.argmax(np.abs(c) > 0.5 * np.abs(c).max()) for c in clips]
    assert len(set(onsets)) > 10  # random timing


def test_regenerating_a_complete_dataset_is_a_no_op(tmp_path):
    root = synthetic.generate(tmp_path, clips_per_class=2, seconds=0.25)
    stamp = (root / "tone" / "tone_0000.wav").stat().st_mtime_ns
    synthetic.generate(tmp_path, clips_per_class=2, seconds=0.25)
    assert (root / "tone" / "tone_0000.wav").stat().st_mtime_ns == stamp


def test_task_is_far_from_trivial_for_a_linear_model():
    """Chance is 10%; a linear model on the waveform or its magnitude spectrum stays far from
    100%, so a search has room to show what it finds."""
    names = list(synthetic.CLASSES)
    x, y = [], []
    for label, name in enumerate(names):
        for i in range(40):
            x.append(synthetic.make_clip(name, i, 8000, 1.0, seed=0))
            y.append(label)
    x, y = np.stack(x), np.array(y)
    spectrum = np.log1p(np.abs(np.fft.rfft(x, axis=1))[:, ::8])
    train = np.arange(len(y)) % 4 != 0
    for features in (x, spectrum):
        model = LogisticRegression(max_iter=300).fit(features[train], y[train])
        accuracy = model.score(features[~train], y[~train])
        assert accuracy < 0.6, accuracy
