"""Each augmentation: shape kept, same output under the same seed, and the intended effect."""

import numpy as np
import pytest
import torch

from contracts.kinds import Kind
from trainables import augment


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def wave(n=4, length=1600):
    t = torch.arange(length) / 8000
    return torch.stack([torch.sin(2 * torch.pi * (300 + 100 * i) * t) for i in range(n)])


def spec(n=4, bins=16, frames=40):
    return torch.randn(n, bins, frames, generator=gen(9)) + 3.0


CASES = {
    "random_crop": (lambda x, g: augment.random_crop(x, 1000, g), wave),
    "time_shift": (lambda x, g: augment.time_shift(x, 0.2, g), wave),
    "gain": (lambda x, g: augment.gain(x, 12.0, g), wave),
    "white_noise": (lambda x, g: augment.add_noise(x, (10.0, 20.0), g), wave),
    "background_noise": (lambda x, g: augment.add_noise(x, (0.0, 5.0), g, wave(2, 4000) * 0.3),
                         wave),
    "speed": (lambda x, g: augment.speed(x, 0.2, g), wave),
    "random_eq": (lambda x, g: augment.random_eq(x, 12.0, g), wave),
    "pitch_bins": (lambda x, g: augment.pitch_shift_bins(x, 3, g), spec),
    "spec_augment": (lambda x, g: augment.spec_augment(x, 2, 8, 2, 4, g), spec),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_deterministic_under_a_seed_and_changes_the_input(name):
    fn, make = CASES[name]
    x = make()
    a, b, c = fn(x, gen(1)), fn(x, gen(1)), fn(x, gen(2))
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, c), "a different seed should give a different result"
    if name != "random_crop":
        assert a.shape == x.shape
        assert not torch.equal(a, x)


def test_random_crop_takes_true_windows():
    x = torch.arange(20.0).repeat(3, 1)
    out = augment.random_crop(x, 5, gen())
    assert out.shape == (3, 5)
    for row in out:
        assert torch.equal(row, torch.arange(row[0], row[0] + 5))
    torch.testing.assert_close(augment.centre_crop(x, 6)[0], torch.arange(7.0, 13.0))


def test_gain_scales_within_its_range():
    x = wave()
    ratio = augment.gain(x, 6.0, gen()).abs().amax(1) / x.abs().amax(1)
    db = 20 * torch.log10(ratio)
    assert (db.abs() <= 6.0 + 1e-4).all() and db.std() > 0.5


def test_noise_lands_at_the_requested_snr():
    x = wave(8)
    noisy = augment.add_noise(x, (10.0, 10.0), gen())
    snr = 10 * torch.log10(x.pow(2).mean(1) / (noisy - x).pow(2).mean(1))
    torch.testing.assert_close(snr, torch.full_like(snr, 10.0), atol=1e-3, rtol=0)


def test_random_eq_gains_stay_in_range_and_differ_across_frequency():
    t = torch.arange(8000) / 8000  # 1 s at 8 kHz: rfft bin k is k Hz
    x = (torch.sin(2 * torch.pi * 100 * t) + torch.sin(2 * torch.pi * 3000 * t)).repeat(16, 1)
    out = augment.random_eq(x, 9.0, gen())
    before, after = (np.abs(np.fft.rfft(s.numpy(), axis=1))[:, [100, 3000]] for s in (x, out))
    db = 20 * np.log10(after / before)  # (example, tone)
    assert out.shape == x.shape
    assert (np.abs(db) <= 9.0 + 1e-3).all() and np.abs(db).max() > 3.0
    assert np.abs(db[:, 0] - db[:, 1]).max() > 3.0, "a curve should treat 100 Hz and 3 kHz apart"


def test_speed_moves_the_pitch():
    x = wave(1, 8000)
    faster = augment.speed(x, 0.3, gen(3))
    peak = lambda s: np.abs(np.fft.rfft(s[0, :4000].numpy())).argmax()  # noqa: E731
    assert peak(faster) != peak(x)


def test_spec_augment_zeroes_whole_bands_only():
    x = spec()  # no cell is zero to begin with
    out = augment.spec_augment(x, 2, 8, 2, 4, gen())
    zeroed = out == 0
    assert zeroed.any()
    for mask in zeroed:
        frames = mask.all(dim=0)  # time steps zeroed across every bin
        bins = mask.all(dim=1)  # bins zeroed across every time step
        assert torch.equal(mask, frames[None, :] | bins[:, None])
        assert frames.sum() <= 2 * 8 and bins.sum() <= 2 * 4


@pytest.mark.parametrize("bins, widest", [(13, 2), (64, 8), (128, 16)])
def test_spec_augment_frequency_masks_scale_with_the_input(bins, widest):
    """By default a frequency mask covers at most an eighth of the rows, whether they are
    13 MFCCs or 64 mel bands; a width given in the config is taken as it is."""
    x = torch.randn(256, bins, 20, generator=gen(1)) + 3.0
    augmenter = augment.Augmenter({"spec_freq_masks": 1}, Kind.SPECTROGRAM)
    out, _ = augmenter(x, torch.zeros(256), gen(2))
    masked = (out == 0).all(dim=2).sum(dim=1)  # rows masked per example
    assert masked.max() == widest  # reached over 256 draws, never passed
    fixed = augment.Augmenter({"spec_freq_masks": 1, "spec_freq_width": 3}, Kind.SPECTROGRAM)
    out, _ = fixed(x, torch.zeros(256), gen(2))
    assert (out == 0).all(dim=2).sum(dim=1).max() == 3


def test_mixup_mixes_inputs_and_targets_alike():
    x = torch.randn(6, 100, generator=gen())
    y = torch.nn.functional.one_hot(torch.arange(6) % 3, 3).float()
    a = augment.mixup(x, y, 0.4, gen(5))
    b = augment.mixup(x, y, 0.4, gen(5))
    torch.testing.assert_close(a[0], b[0])
    torch.testing.assert_close(a[1].sum(1), torch.ones(6))
    assert not torch.equal(a[0], x)


def test_augmenter_uses_only_the_configured_augmentations():
    x, y = wave(), torch.eye(4)
    untouched = augment.Augmenter({}, Kind.WAVEFORM)(x, y, gen())
    torch.testing.assert_close(untouched[0], x)
    waveform_only = augment.Augmenter({"spec_time_masks": 2}, Kind.WAVEFORM)(x, y, gen())
    torch.testing.assert_close(waveform_only[0], x)
    changed = augment.Augmenter({"gain_db": 6, "noise_snr_db": [20, 30]},
                                Kind.WAVEFORM)(x, y, gen())
    assert not torch.equal(changed[0], x)


def test_a_frequency_shift_moves_a_tones_peak_by_the_drawn_bins():
    bins, peak, most = 64, 30, 5
    x = torch.zeros(200, bins, 8)
    x[:, peak] = 1.0
    moved = augment.pitch_shift_bins(x, most, gen(4)).argmax(dim=1)  # (batch, frames)
    assert (moved == moved[:, :1]).all()  # the whole clip moves together
    shifts = moved[:, 0] - peak
    assert set(shifts.tolist()) == set(range(-most, most + 1))
