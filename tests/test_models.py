import pytest
import torch

from trainables import models
from trainables.blocks import ACTIVATIONS, INITIALISERS


def tiny_task(n=64, length=400, classes=3, seed=0):
    """Sines of three pitches at random phase: separable, but not by one sample."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    t = torch.arange(length) / 4000
    phase = torch.rand(n, 1, generator=g) * 6.28
    x = torch.sin(2 * torch.pi * (200 + 400 * y[:, None]) * t + phase)
    return x, y


def train_steps(model, x, y, steps=80, lr=1e-2):
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


BASE = {"conv_layers": 3, "channels": 8, "kernel_size": 5, "first_kernel": 16,
        "first_stride": 4, "pool": 2, "dropout": 0.0}


@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@pytest.mark.parametrize("norm", ["batch", "none"])
def test_cnn1d_learns_for_every_activation_and_norm(act, norm):
    torch.manual_seed(0)
    x, y = tiny_task()
    model = models.build("cnn1d", {**BASE, "act": act, "norm": norm}, (400,), 3)
    assert model(x).shape == (64, 3)
    losses = train_steps(model, x, y)
    assert losses[-1] < 0.7 * losses[0], (losses[0], losses[-1])


@pytest.mark.parametrize("init", INITIALISERS)
def test_cnn1d_initialisers_differ_and_learn(init):
    torch.manual_seed(0)
    model = models.build("cnn1d", {**BASE, "init": init}, (400,), 3)
    torch.manual_seed(0)
    default = models.build("cnn1d", BASE, (400,), 3)
    first = model.front[0].weight
    if init == "default":
        assert torch.equal(first, default.front[0].weight)
    else:
        assert not torch.allclose(first, default.front[0].weight)
        assert torch.count_nonzero(model.front[0].bias) == 0
    x, y = tiny_task()
    losses = train_steps(model, x, y)
    assert losses[-1] < 0.7 * losses[0]


def test_cnn1d_energy_front_learns():
    torch.manual_seed(0)
    x, y = tiny_task()
    model = models.build("cnn1d", {**BASE, "front": "energy", "pool": 8}, (400,), 3)
    assert model(x).shape == (64, 3)
    losses = train_steps(model, x, y)
    assert losses[-1] < 0.7 * losses[0], (losses[0], losses[-1])


def test_cnn1d_energy_front_averages_out_the_pitch_pulses():
    """A steady voice (a 100 Hz pulse train through a 1 kHz resonance): the conv front's
    2 ms max-pooled frames rise and fall with every pulse; the energy front's 20 ms
    windows give each band a level that holds from frame to frame."""
    rate, seconds = 16000, 0.5
    pulses = torch.zeros(int(rate * seconds))
    pulses[:: rate // 100] = 1.0
    t = torch.arange(400) / rate
    resonance = torch.exp(-t * 300) * torch.sin(2 * torch.pi * 1000 * t)
    voice = torch.nn.functional.conv1d(pulses.view(1, 1, -1), resonance.flip(0).view(1, 1, -1),
                                       padding=399)[..., : pulses.numel()]
    config = {"first_kernel": 80, "first_stride": 8, "channels": 16, "norm": "none"}
    torch.manual_seed(0)
    conv = models.build("cnn1d", {**config, "pool": 4}, (pulses.numel(),), 3).front
    torch.manual_seed(0)
    energy = models.build("cnn1d", {**config, "front": "energy", "pool": 40},
                          (pulses.numel(),), 3).front
    with torch.no_grad():
        pulsing = conv(voice)[0, :, 10:-10]
        levels = energy(voice)[0, :, 2:-2]  # log energies: differences are ratios
    # The conv front's frames swing by about half their mean with the pulses.
    assert (pulsing.std(dim=1) / pulsing.mean(dim=1).clamp_min(1e-9)).median() > 0.4
    # The energy front's frames: within 1 dB of their band's mean (10 log10 e^x).
    assert 10 / torch.log(torch.tensor(10.0)) * levels.std(dim=1).max() < 1.0


def test_cnn1d_cepstral_front_learns_with_its_filters_kept_or_learnt():
    x, y = tiny_task()
    for learn in (False, True):
        torch.manual_seed(0)
        model = models.build("cnn1d", {**BASE, "front": "cepstral", "first_kernel": 32,
                                       "pool": 8, "bands": 16, "cepstra": 8,
                                       "learn_filters": learn, "sample_rate": 4000},
                             (400,), 3)
        filters = model.front[0].conv.weight.detach().clone()
        losses = train_steps(model, x, y)
        assert losses[-1] < 0.7 * losses[0], (learn, losses[0], losses[-1])
        assert torch.equal(filters, model.front[0].conv.weight) != learn


@pytest.mark.parametrize("rate", [8000, 16000])
def test_cepstral_filters_sit_on_the_mel_scale_whatever_the_initialiser(rate):
    model = models.build("cnn1d", {"front": "cepstral", "first_kernel": 401, "bands": 40,
                                   "init": "he_uniform", "sample_rate": rate}, (rate,), 3)
    real = model.front[0].conv.weight[:40, 0].double()
    peaks = torch.fft.rfft(real, n=rate).abs().argmax(dim=1).double()  # 1 Hz bins
    assert torch.all(peaks.diff() > 0)
    assert peaks[0] < 150 and peaks[-1] > 0.8 * rate / 2
    mel = 2595 * torch.log10(1 + peaks / 700)
    assert mel.diff().std() < 0.1 * mel.diff().mean()  # evenly spaced in mel


def test_cepstral_front_hears_the_vowel_not_the_pitch():
    """The same resonance (a vowel) under a 100 Hz and a 190 Hz voice, 11 semitones apart:
    the cepstral front's coefficients move far less with the pitch than with the vowel;
    the conv front's frames move with the pitch about half as much as with the vowel."""
    rate = 16000

    def vowel(f0, formant):
        pulses = torch.zeros(rate // 2)
        pulses[:: int(rate / f0)] = 1.0
        t = torch.arange(400) / rate
        resonance = torch.exp(-t * 300) * torch.sin(2 * torch.pi * formant * t)
        voice = torch.nn.functional.conv1d(pulses.view(1, 1, -1),
                                           resonance.flip(0).view(1, 1, -1),
                                           padding=399)[..., : pulses.numel()]
        return voice / voice.pow(2).mean().sqrt()

    ratios = {}
    for front, config in [("cepstral", {"first_kernel": 201, "first_stride": 16, "pool": 20}),
                          ("conv", {"first_kernel": 80, "first_stride": 8, "pool": 4})]:
        torch.manual_seed(0)
        layer = models.build("cnn1d", {**config, "front": front, "norm": "none",
                                       "channels": 16, "sample_rate": rate},
                             (rate // 2,), 3).front
        with torch.no_grad():
            low, high, other = (layer(vowel(f0, formant))[0, :, 3:-3].mean(dim=1)
                                for f0, formant in [(100, 700), (190, 700), (100, 1400)])
        ratios[front] = ((low - high).norm() / (low - other).norm()).item()
    assert ratios["cepstral"] < 0.25 and ratios["conv"] > 0.4, ratios


@pytest.mark.parametrize("layers", [1, 3, 9])
@pytest.mark.parametrize("convs_per_block", [1, 2])
def test_any_depth_fits_a_short_clip(layers, convs_per_block):
    model = models.build("cnn1d", {**BASE, "conv_layers": layers,
                                   "convs_per_block": convs_per_block,
                                   "channel_growth": 1.5}, (400,), 5)
    assert model(torch.randn(2, 400)).shape == (2, 5)


def test_parameter_count_grows_with_channels():
    small = models.build("cnn1d", {**BASE, "channels": 8}, (400,), 3)
    big = models.build("cnn1d", {**BASE, "channels": 32}, (400,), 3)
    assert models.count_parameters(big) > 4 * models.count_parameters(small)


def spectrogram_task(n=48, classes=3, seed=0):
    """Log-mel-like images with a band of energy at a class-specific height."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=g)
    x = torch.randn(n, 16, 20, generator=g) * 0.5
    for i, label in enumerate(y):
        x[i, 2 + 5 * label : 4 + 5 * label] += 2.0
    return x, y


SPECTROGRAM_MODELS = {
    "cnn2d": {"conv_layers": 2, "channels": 8, "dropout": 0.0},
    "resnet_cifar": {"depth": 8, "width": 8},
    "mlp": {"hidden": [32], "dropout": 0.0},
}


@pytest.mark.parametrize("name", sorted(SPECTROGRAM_MODELS))
@pytest.mark.parametrize("act", sorted(ACTIVATIONS))
@pytest.mark.parametrize("norm", ["batch", "none"])
def test_spectrogram_and_vector_models_learn(name, act, norm):
    torch.manual_seed(0)
    x, y = spectrogram_task()
    config = {**SPECTROGRAM_MODELS[name], "act": act, "norm": norm}
    model = models.build(name, config, (16, 20), 3)
    assert model(x).shape == (48, 3)
    losses = train_steps(model, x, y, steps=60)
    assert losses[-1] < 0.7 * losses[0], (losses[0], losses[-1])


@pytest.mark.parametrize("name", sorted(SPECTROGRAM_MODELS))
@pytest.mark.parametrize("init", INITIALISERS)
def test_every_initialiser_builds_and_learns(name, init):
    torch.manual_seed(0)
    x, y = spectrogram_task()
    model = models.build(name, {**SPECTROGRAM_MODELS[name], "init": init}, (16, 20), 3)
    losses = train_steps(model, x, y, steps=60)
    assert losses[-1] < 0.7 * losses[0]


@pytest.mark.parametrize("depth, blocks", [(20, 9), (32, 15), (44, 21), (56, 27), (110, 54)])
def test_resnet_cifar_depths(depth, blocks):
    model = models.build("resnet_cifar", {"depth": depth, "width": 4}, (16, 20), 4)
    assert len(model.stages) == blocks
    convs = sum(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3)
                for m in model.modules())
    assert convs + 1 == depth  # 6n convs in blocks, the stem, and the head make 6n+2
    assert model(torch.randn(2, 16, 20)).shape == (2, 4)
    with pytest.raises(ValueError, match="depth 21 is not 6n\\+2"):
        models.build("resnet_cifar", {"depth": 21}, (16, 20), 4)


def test_mlp_hidden_sizes_from_searchable_ints():
    model = models.build("mlp", {"hidden_layers": 3, "hidden_units": 64}, (100,), 5)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linears] == [64, 64, 64, 5]


def test_unknown_names_are_clear_errors():
    with pytest.raises(ValueError, match="unknown model 'cnn3d'"):
        models.build("cnn3d", {}, (400,), 3)
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        models.build("cnn1d", {**BASE, "act": "swish"}, (400,), 3)


@pytest.mark.parametrize("name", models.names())
def test_a_models_constructor_defaults_are_its_schemas(name):
    """Built from no keys, or from every key at its declared default, a model is the same
    network: a default lives in the schema alone (the README's key tables show it)."""
    from trainables.models import registry

    shape = {"cnn1d": (8000,), "soundnet": (22050,), "mlp": (40,)}.get(name, (64, 101))
    defaults = {key.name: key.default for key in models.keys(name)}
    bare, declared = (registry._REGISTRY[name](config, shape, 3) for config in ({}, defaults))
    assert str(bare) == str(declared)
    assert {k: v.shape for k, v in bare.state_dict().items()} == \
        {k: v.shape for k, v in declared.state_dict().items()}
