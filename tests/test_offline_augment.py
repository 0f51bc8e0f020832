"""Offline augmentation: pitch and tempo copies of train clips, made once at preparation."""

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from contracts.shards import COPY, read_split
from data_prep.config import AugmentConfig, ConfigError, DatasetConfig
from data_prep.copies import make_copies, shift_pitch, stretch_time
from data_prep.pipeline import prepare
from search.spec import parse_spec
from trainables.data import TrialData
from trainables.sampling import epoch_rows

RATE = 16000


def tone(hz: float, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(RATE * seconds)) / RATE
    return (0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def peak_hz(clip: np.ndarray) -> float:
    """The spectral peak, refined by a parabola through the top bin and its neighbours."""
    spectrum = np.abs(np.fft.rfft(clip * np.hanning(len(clip)), 8 * len(clip)))
    k = int(spectrum.argmax())
    a, b, c = np.log(spectrum[k - 1 : k + 2])
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * RATE / (8 * len(clip))


@pytest.mark.parametrize("semitones", [-4.0, 3.0])
def test_a_pitch_copy_moves_the_peak_by_the_semitones_at_the_same_length(semitones):
    clip = tone(440.0)
    shifted = shift_pitch(clip, RATE, semitones, keep_formants=False)
    assert len(shifted) == len(clip)
    moved = 12 * np.log2(peak_hz(shifted) / peak_hz(clip))
    assert moved == pytest.approx(semitones, abs=0.1)


def voice(f0: float, resonance: float) -> np.ndarray:
    """A pulse train at `f0` through one resonance: a vowel's pitch and formant."""
    import scipy.signal

    pulses = np.zeros(RATE)
    pulses[:: int(RATE / f0)] = 1.0
    b, a = scipy.signal.iirpeak(resonance, 5, fs=RATE)
    x = scipy.signal.lfilter(b, a, pulses)
    return (x / np.abs(x).max()).astype(np.float32)


def pitch_hz(clip: np.ndarray) -> float:
    segment = clip[RATE // 4 : RATE // 2]
    lags = np.correlate(segment, segment, "full")[len(segment) - 1 :]
    low, high = RATE // 400, RATE // 60
    return RATE / (low + int(np.argmax(lags[low:high])))


def formant_hz(clip: np.ndarray) -> float:
    """The strongest resonance of the clip's LPC envelope."""
    import librosa
    import scipy.signal

    segment = clip[RATE // 4 : 3 * RATE // 4] * np.hanning(RATE // 2)
    a = librosa.lpc(segment.astype(np.float64), order=12)
    freqs, response = scipy.signal.freqz(1, a, worN=4096, fs=RATE)
    return float(freqs[np.argmax(np.abs(response))])


def test_a_pitch_copy_keeping_formants_moves_the_pitch_not_the_resonance():
    clip = voice(110.0, 800.0)
    for keep, resonance_moves in ((False, True), (True, False)):
        shifted = shift_pitch(clip, RATE, 5.0, keep_formants=keep)
        assert 12 * np.log2(pitch_hz(shifted) / pitch_hz(clip)) == pytest.approx(5.0, abs=0.2)
        moved = 12 * np.log2(formant_hz(shifted) / formant_hz(clip))
        if resonance_moves:  # the whole spectrum, as a tape played faster
            assert moved > 3.5
        else:  # within one harmonic (147 Hz) of where it was: the envelope is sampled there
            assert abs(formant_hz(shifted) - formant_hz(clip)) < pitch_hz(shifted)


def test_a_world_copy_moves_the_pitch_not_the_resonance_at_the_same_length():
    pytest.importorskip("pyworld")
    from data_prep.copies import WorldVoice

    clip = voice(110.0, 800.0)
    shifted = WorldVoice(clip, RATE).speak(5.0)
    assert len(shifted) == len(clip)
    assert 12 * np.log2(pitch_hz(shifted) / pitch_hz(clip)) == pytest.approx(5.0, abs=0.2)
    assert abs(formant_hz(shifted) - formant_hz(clip)) < pitch_hz(shifted)


def test_world_copies_of_a_monotone_voice_rise_and_fall_within_the_intonation():
    pytest.importorskip("pyworld")
    import pyworld

    config = AugmentConfig(copies=4, pitch_semitones=(0, 0), pitch_method="world",
                           intonation_semitones=3.0)
    clip = voice(110.0, 800.0)
    for copy in make_copies(clip, "a/1.wav", RATE, config):
        f0, times = pyworld.dio(copy.astype(np.float64), RATE)
        track = 12 * np.log2(f0[f0 > 0] / 110.0)[5:-5]  # away from the edges
        assert track.max() - track.min() > 0.5  # no longer one note
        assert track.min() > -3.3 and track.max() < 3.3


@pytest.mark.parametrize("rate", [0.8, 1.25])
def test_a_tempo_copy_changes_the_length_at_the_same_pitch(rate):
    clip = tone(440.0)
    stretched = stretch_time(clip, rate)
    assert len(stretched) == pytest.approx(len(clip) / rate, rel=0.01)
    # Away from the edges, where the phase vocoder's frames are whole.
    middle = stretched[len(stretched) // 4 : 3 * len(stretched) // 4]
    assert 12 * np.log2(peak_hz(middle) / 440.0) == pytest.approx(0.0, abs=0.1)


def test_copies_are_drawn_per_clip_whatever_the_batch():
    config = AugmentConfig(copies=3, pitch_semitones=(-2, 2), stretch=(0.9, 1.1))
    clip = tone(300.0, 0.5)
    first = make_copies(clip, "a/1.wav", RATE, config)
    assert first.shape == (3, len(clip)) and first.dtype == np.float32
    np.testing.assert_array_equal(first, make_copies(clip, "a/1.wav", RATE, config))
    assert not np.array_equal(first, make_copies(clip, "a/2.wav", RATE, config))
    assert not np.array_equal(first[0], first[1])


def small(**augment) -> DatasetConfig:
    return DatasetConfig.from_dict({
        "sample_rate": 4000, "clip_seconds": 0.5, "representation": "logmel",
        "n_fft": 256, "hop_length": 64, "n_mels": 32,
        "synthetic": {"clips_per_class": 10, "classes": ["tone", "chirp_up", "noise_burst"]},
        "augment": augment})


def test_copies_are_extra_rows_of_train_only(ray_local, tmp_path):
    plain = prepare(small(), tmp_path)
    augmented = prepare(small(copies=2, pitch_semitones=[-3, 3]), tmp_path)
    assert augmented.path != plain.path  # its own fingerprint
    counts = augmented.manifest.counts
    assert counts == plain.manifest.counts and augmented.manifest.copies == 2

    train = pq.read_table(augmented.path / "train.parquet").to_pandas()
    clips = sum(counts["train"].values())
    assert len(train) == 3 * clips
    assert train[COPY].tolist() == [0, 1, 2] * clips
    # A clip's versions are adjacent, share its id and label, and differ in content.
    grouped = train.groupby(train.index // 3)
    assert (grouped["id"].nunique() == 1).all() and (grouped["label"].nunique() == 1).all()
    x, _ = read_split(augmented.path, "train", "logmel")
    x_plain, _ = read_split(plain.path, "train", "logmel")
    np.testing.assert_allclose(x[::3], x_plain, atol=1e-5)  # the recordings themselves
    assert not np.allclose(x[1::3], x[::3])
    for split in ("val", "test"):
        table = pq.read_table(augmented.path / f"{split}.parquet")
        assert COPY not in table.column_names
        assert table.num_rows == sum(counts[split].values())
    # Normalisation statistics come from the recordings, as without copies.
    for key in ("mean", "std"):
        np.testing.assert_allclose(augmented.manifest.normalisation["logmel"][key],
                                   plain.manifest.normalisation["logmel"][key], rtol=1e-5)

    data = TrialData.from_shards(augmented.path)
    assert data.train_versions.tolist() == [0, 1, 2] * clips
    assert len(data.y_clips) == clips

    again = prepare(small(copies=2, pitch_semitones=[-3.0, 3.0]), tmp_path)
    assert again.reused and again.path == augmented.path
    other = prepare(small(copies=2, pitch_semitones=[-3, 3], seed=1), tmp_path)
    assert other.path not in (augmented.path, plain.path)


@pytest.mark.parametrize("config", [{}, {"sampling": "balanced"}])
def test_an_epoch_draws_one_version_of_each_clip(config):
    versions = np.array([0, 1, 2] * 40 + [0] * 10)  # 40 clips with copies, 10 without
    starts = np.flatnonzero(versions == 0)
    clip_of_row = np.cumsum(versions == 0) - 1
    y = np.repeat(np.arange(50) % 5, [3] * 40 + [1] * 10)
    g = torch.Generator().manual_seed(0)
    drawn = []
    for _ in range(30):
        rows = epoch_rows(y, versions, config, g).numpy()
        assert len(rows) == len(starts)  # the epoch's length: clips, not rows
        if not config:
            assert sorted(clip_of_row[rows]) == list(range(50))  # every clip once
        np.testing.assert_array_equal(y[rows], y[starts][clip_of_row[rows]])
        drawn.append(rows)
    seen = np.concatenate(drawn)
    assert set(versions[seen]) == {0, 1, 2}  # originals and both copies all get their turn
    assert abs((versions[seen] == 0).mean() - (10 + 40 / 3) / 50) < 0.05


def test_augmentation_keys_are_searched_as_data_variants(tmp_path):
    spec = parse_spec({
        "model": "cnn2d", "metric": "val_accuracy", "mode": "max",
        "dataset": {"representation": "logmel",
                    "augment": {"pitch_semitones": [-3, 3], "stretch": [0.9, 1.1]}},
        "space": {"data.augment.copies": {"choice": [0, 2]}}})
    variants = spec.dataset_variants()
    assert sorted(v.augment.copies for v in variants.values()) == [0, 2]
    assert all(v.augment.pitch_semitones == (-3.0, 3.0) for v in variants.values())
    with pytest.raises(ConfigError, match="augment.copiez"):
        parse_spec({"model": "cnn2d", "metric": "val_accuracy", "mode": "max",
                    "dataset": {"representation": "logmel"},
                   "space": {"data.augment.copiez": {"choice": [0, 2]}}})


@pytest.mark.parametrize("augment, message", [
    ({"copies": 2}, "neither pitch_semitones nor stretch"),
    ({"copies": 2, "pitch_semitones": [3, -3]}, "pitch_semitones"),
    ({"copies": -1, "stretch": [0.9, 1.1]}, "copies"),
    ({"copies": 1, "stretch": [0, 2]}, "stretch"),
    ({"copie": 1}, "augment.copie"),
    ({"copies": 1, "pitch_semitones": [0, 9], "pitch_method": "psola"}, "pitch_method"),
    ({"copies": 1, "intonation_semitones": 3}, "needs pitch_method: world"),
    ({"copies": 1, "pitch_semitones": [0, 9], "pitch_method": "world",
      "keep_formants": False}, "keep_formants: WORLD always keeps"),
])
def test_bad_augmentation_is_named(augment, message):
    with pytest.raises(ConfigError, match=message):
        DatasetConfig.from_dict({"augment": augment})
