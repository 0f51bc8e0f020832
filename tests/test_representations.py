import librosa
import numpy as np
import pytest
import scipy.fft

from data_prep import representations
from data_prep.config import ConfigError, DatasetConfig


def clips(n=3, samples=8000, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(samples) / 8000
    return np.stack([0.3 * np.sin(2 * np.pi * (200 + 300 * i) * t) +
                     0.05 * rng.standard_normal(samples) for i in range(n)]).astype(np.float32)


def test_logmel_matches_librosa():
    config = DatasetConfig.from_dict({"representation": "logmel", "n_mels": 40, "fmin": 20.0,
                                      "fmax": 3800.0})
    x = clips()
    ours = representations.compute(x, config)
    assert ours.shape == (3, *representations.shape(config)) == (3, 40, 63)
    for clip, mine in zip(x, ours, strict=True):
        mel = librosa.feature.melspectrogram(y=clip, sr=8000, n_fft=512, hop_length=128,
                                             n_mels=40, fmin=20.0, fmax=3800.0,
                                             pad_mode="constant")
        reference = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
        np.testing.assert_allclose(mine, reference, atol=1e-2)


@pytest.mark.parametrize("sr, n_fft, n_mels, fmin, fmax", [
    (8000, 512, 40, 20.0, 3800.0), (16000, 400, 64, 0.0, None), (32000, 1024, 64, 50.0, 14000.0),
    (22050, 2048, 128, 0.0, 11025.0)])
def test_mel_filters_match_librosa(sr, n_fft, n_mels, fmin, fmax):
    ours = representations.mel_basis(sr, n_fft, n_mels, fmin, fmax)
    theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-7)


def test_mfcc_matches_librosa():
    config = DatasetConfig.from_dict({"representation": "mfcc", "n_mfcc": 13})
    x = clips(2)
    ours = representations.compute(x, config)
    assert ours.shape == (2, 13, 63)
    for clip, mine in zip(x, ours, strict=True):
        mel = librosa.feature.melspectrogram(y=clip, sr=8000, n_fft=512, hop_length=128,
                                             n_mels=64, pad_mode="constant")
        db = librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=None)
        reference = scipy.fft.dct(db, axis=0, type=2, norm="ortho")[:13]
        np.testing.assert_allclose(mine, reference, atol=2e-2)
        np.testing.assert_allclose(
            mine, librosa.feature.mfcc(S=db, n_mfcc=13), atol=2e-2)


def test_panns_preset():
    config = DatasetConfig.from_dict({"preset": "panns", "representation": "logmel",
                                      "clip_seconds": 1.0})
    assert (config.sample_rate, config.n_fft, config.hop_length, config.n_mels,
            config.fmin, config.fmax) == (32000, 1024, 320, 64, 50.0, 14000.0)
    assert representations.shape(config) == (64, 101)
    overridden = DatasetConfig.from_dict({"preset": "panns", "n_mels": 128})
    assert overridden.n_mels == 128 and overridden.sample_rate == 32000


def test_summary_features_are_the_genre_seed_vector():
    config = DatasetConfig.from_dict({"representation": "features"})
    x = clips(2)
    features = representations.compute(x, config)
    names = representations.feature_names()
    assert features.shape == (2, len(names)) == (2, 100)
    assert np.isfinite(features).all()
    centroid = names.index("centroid_0_mean")
    # A 200 Hz tone has a lower spectral centroid than a 500 Hz one.
    assert features[0, centroid] < features[1, centroid]
    mfcc0 = librosa.feature.mfcc(y=x[0], sr=8000, n_mfcc=20, n_fft=512, hop_length=128)
    np.testing.assert_allclose(features[0, :20], mfcc0.mean(axis=1), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("raw, message", [
    ({"representation": "spectrogram"}, r"dataset\.representation: 'spectrogram' is not one"),
    ({"preset": "vggish"}, r"dataset\.preset: 'vggish' is not one of"),
    ({"fmax": 9000.0}, r"dataset\.fmax: 9000.0 must lie above fmin"),
    ({"n_mfcc": 80, "representation": "mfcc"}, r"dataset\.n_mfcc: 80 exceeds n_mels 64"),
    ({"sample_rate": "8k"}, r"dataset\.sample_rate: expected int, got '8k'"),
    ({"csv": {"label_col": "x"}}, r"dataset\.csv\.label_col: unknown key"),
    ({"max_seconds": 0.5}, r"dataset\.max_seconds: 0.5 is below clip_seconds"),
])
def test_feature_parameter_errors_name_the_key(raw, message):
    with pytest.raises(ConfigError, match=message):
        DatasetConfig.from_dict(raw)


def test_a_constant_q_note_moves_by_a_bin_a_semitone():
    from data_prep.representations import CQT_FMIN, compute

    config = DatasetConfig.from_dict({"representation": "cqt", "sample_rate": 16000,
                                      "clip_seconds": 1.0, "max_seconds": None})
    t = np.arange(16000) / 16000
    notes = [220.0 * 2 ** (k / 12) for k in (0, 5, 12)]
    x = compute(np.stack([np.sin(2 * np.pi * f * t) for f in notes]).astype(np.float32),
                config)
    peaks = x[:, :, 10:-10].mean(axis=2).argmax(axis=1)
    assert peaks[0] == round(12 * np.log2(220.0 / CQT_FMIN))
    assert list(peaks - peaks[0]) == [0, 5, 12]
