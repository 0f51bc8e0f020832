"""Pretrained networks: the published layouts load, freezing holds, errors name the keys."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from published import as_published_panns, panns_state, write_panns, write_torchvision

from trainables import models
from trainables.data import TrialData
from trainables.loop import fit
from trainables.pretrained import PretrainedError, load_pretrained


def published_panns_layout(name: str) -> dict[str, tuple[int, ...]]:
    """Key -> shape of PANNs' checkpoints, written out from `pytorch/models.py`'s layout."""
    if name == "panns_cnn6":
        convs, channels, kernel, embedding = 1, (64, 128, 256, 512), 5, 512
    elif name == "panns_cnn10":
        convs, channels, kernel, embedding = 2, (64, 128, 256, 512), 3, 512
    else:
        convs, channels, kernel, embedding = 2, (64, 128, 256, 512, 1024, 2048), 3, 2048

    def bn(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
        return {f"{prefix}.{k}": (c,) for k in ("weight", "bias", "running_mean",
                                                  "running_var")} | {
            f"{prefix}.num_batches_tracked": ()}

    layout = {"spectrogram_extractor.stft.conv_real.weight": (513, 1, 1024),
              "spectrogram_extractor.stft.conv_imag.weight": (513, 1, 1024),
              "logmel_extractor.melW": (513, 64), **bn("bn0", 64)}
    c_in = 1
    for i, c in enumerate(channels, start=1):
        layout[f"conv_block{i}.conv1.weight"] = (c, c_in, kernel, kernel)
        layout |= bn(f"conv_block{i}.bn1", c)
        if convs == 2:
            layout[f"conv_block{i}.conv2.weight"] = (c, c, kernel, kernel)
            layout |= bn(f"conv_block{i}.bn2", c)
        c_in = c
    layout |= {"fc1.weight": (embedding, c_in), "fc1.bias": (embedding,),
               "fc_audioset.weight": (527, embedding), "fc_audioset.bias": (527,)}
    return layout


@pytest.mark.parametrize("name", ["panns_cnn6", "panns_cnn10", "panns_cnn14"])
def test_panns_state_dicts_have_the_published_keys_and_shapes(name):
    state = panns_state(name)
    assert {k: tuple(v.shape) for k, v in state.items()} == published_panns_layout(name)


@pytest.mark.parametrize("name, published", [
    ("panns_cnn6", 4_837_455), ("panns_cnn10", 5_219_279), ("panns_cnn14", 80_753_615),
    ("resnet18", 11_689_512), ("resnet34", 21_797_672), ("resnet50", 25_557_032)])
def test_parameter_counts_match_the_published_networks(name, published):
    """PANNs' table (527 AudioSet classes) and torchvision's (3 channels, 1000 classes)."""
    classes = 527 if name.startswith("panns") else 1000
    model = models.build(name, {"in_channels": 3}, (64, 101), classes)
    assert models.count_parameters(model) == published


def test_resnet_keys_match_torchvision_names():
    state = models.build("resnet50", {"in_channels": 3}, (64, 64), 1000).state_dict()
    expected = {"conv1.weight": (64, 3, 7, 7), "bn1.running_var": (64,),
                "layer1.0.downsample.0.weight": (256, 64, 1, 1),
                "layer2.0.conv2.weight": (128, 128, 3, 3),  # v1.5: stride on the 3x3
                "layer4.2.conv3.weight": (2048, 512, 1, 1), "layer4.2.bn3.weight": (2048,),
                "fc.weight": (1000, 2048), "fc.bias": (1000,)}
    assert {k: tuple(state[k].shape) for k in expected} == expected
    assert not any(k.startswith(("head.", "stages.")) for k in state)


def _eval(model):
    return model.eval()


@pytest.mark.parametrize("name", ["panns_cnn6", "panns_cnn14"])
def test_panns_checkpoint_loads_and_reproduces_the_published_network(tmp_path, name):
    torch.manual_seed(0)
    source = _eval(models.build(name, {}, (64, 101), 527))
    state = as_published_panns(source)
    state["logmel_extractor.melW"] = torch.randn(513, 64)
    torch.save({"model": state}, tmp_path / "published.pth")

    torch.manual_seed(1)  # a different draw: only the file can make them agree
    model = models.build(name, {}, (64, 101), 10)
    load_pretrained(model, tmp_path / "published.pth")
    # The head is the task's: give it AudioSet's first ten rows to compare whole outputs.
    model.head.load_state_dict({"weight": state["fc_audioset.weight"][:10],
                                "bias": state["fc_audioset.bias"][:10]})
    x = torch.randn(3, 64, 101) * 10 - 40  # dB-like
    with torch.no_grad():
        assert torch.allclose(_eval(model)(x), source(x)[:, :10], atol=1e-5)


@pytest.mark.parametrize("in_channels", [1, 3])
def test_torchvision_file_loads_into_a_one_or_three_channel_resnet(tmp_path, in_channels):
    torch.manual_seed(0)
    state = write_torchvision("resnet18", tmp_path / "resnet18.pth")
    source = models.build("resnet18", {"in_channels": 3}, (64, 64), 1000)
    source.load_state_dict(state)
    model = models.build("resnet18", {"in_channels": in_channels}, (64, 64), 5)
    load_pretrained(model, tmp_path / "resnet18.pth")
    model.fc.load_state_dict({"weight": state["fc.weight"][:5], "bias": state["fc.bias"][:5]})
    x = torch.randn(2, 64, 64)
    with torch.no_grad():  # a spectrogram repeated as RGB == the folded one-channel conv1
        assert torch.allclose(model.eval()(x), source.eval()(x)[:, :5], atol=1e-4)


def test_a_missing_file_names_it(tmp_path):
    model = models.build("panns_cnn6", {}, (64, 101), 4)
    with pytest.raises(PretrainedError, match=r"pretrained: .*nowhere\.pth does not exist"):
        load_pretrained(model, tmp_path / "nowhere.pth")


def test_a_file_that_is_not_a_checkpoint_is_named(tmp_path):
    (tmp_path / "notes.pth").write_text("not weights")
    with pytest.raises(PretrainedError, match="notes.pth is not a PyTorch checkpoint"):
        load_pretrained(models.build("resnet18", {}, (64, 64), 4), tmp_path / "notes.pth")


def test_keys_that_do_not_fit_are_named(tmp_path):
    write_panns("panns_cnn10", tmp_path / "cnn10.pth")
    model = models.build("panns_cnn6", {}, (64, 101), 4)
    with pytest.raises(PretrainedError) as error:
        load_pretrained(model, tmp_path / "cnn10.pth")
    message = str(error.value)
    assert "does not fit Panns" in message
    assert "not in the model: ['conv_block1.conv2.weight'" in message
    assert "conv_block1.conv1.weight (64, 1, 3, 3) vs (64, 1, 5, 5)" in message

    write_torchvision("resnet18", tmp_path / "resnet18.pth")
    with pytest.raises(PretrainedError, match=r"missing from the file: \['layer1.0.conv3"):
        load_pretrained(models.build("resnet50", {}, (64, 64), 4), tmp_path / "resnet18.pth")


def _spectrogram_data(n=24, classes=3, shape=(64, 40), seed=0) -> TrialData:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    x = rng.normal(-40, 10, (n, *shape)).astype(np.float32)
    x[np.arange(n), y * 10] += 30  # a loud band per class
    return TrialData(x, y, x[:6].copy(), y[:6].copy(), [f"c{i}" for i in range(classes)],
                     x.mean(axis=(0, 2), keepdims=True)[0], x.std(axis=(0, 2), keepdims=True)[0],
                     "logmel")


def _train_one_epoch(config, data):
    states = []
    fit({"max_epochs": 1, "batch_size": 8, "lr": 1e-2, **config}, data,
        lambda metrics, state: states.append(state))
    return states[-1]["model"]


@pytest.mark.parametrize("name, unfrozen, frozen_prefixes, moving_prefixes", [
    ("panns_cnn6", 2, ("bn0.", "conv_block1.", "conv_block2.", "conv_block3."),
     ("conv_block4.", "fc1.", "head.")),
    ("resnet18", 1, ("conv1.", "bn1.", "layer1.", "layer2.", "layer3."), ("layer4.", "fc.")),
    ("panns_cnn6", 0, ("bn0.", "conv_block", "fc1."), ("head.",)),
])
def test_frozen_stages_keep_weights_and_statistics_while_the_rest_moves(
        tmp_path, name, unfrozen, frozen_prefixes, moving_prefixes):
    data = _spectrogram_data()
    if name.startswith("panns"):
        write_panns(name, tmp_path / "w.pth")
    else:
        write_torchvision(name, tmp_path / "w.pth")
    config = {"model": name, "pretrained": str(tmp_path / "w.pth"), "unfrozen_layers": unfrozen}
    reference = models.build(name, config, data.input_shape, data.num_classes)
    load_pretrained(reference, tmp_path / "w.pth")
    before = {k: v.clone() for k, v in reference.state_dict().items()}
    after = _train_one_epoch(config, data)

    for key, value in before.items():
        if key.endswith("num_batches_tracked"):
            continue
        if key.startswith(frozen_prefixes):
            assert torch.equal(after[key], value), f"frozen {key} changed"
    for prefix in moving_prefixes:
        changed = [k for k in before if k.startswith(prefix) and not k.endswith("tracked")
                   and not torch.equal(after[k], before[k])]
        assert changed, f"nothing under {prefix} trained"
    stats = [k for k in before if k.endswith("running_mean") and k.startswith(moving_prefixes)]
    assert all(not torch.equal(after[k], before[k]) for k in stats)


def test_head_lr_trains_the_head_alone_when_the_body_rate_is_zero(tmp_path):
    data = _spectrogram_data()
    write_panns("panns_cnn6", tmp_path / "w.pth")
    config = {"model": "panns_cnn6", "pretrained": str(tmp_path / "w.pth"), "lr": 0.0,
              "head_lr": 1e-2, "optimizer": "sgd", "momentum": 0.0}
    before = models.build("panns_cnn6", config, data.input_shape, 3)
    load_pretrained(before, tmp_path / "w.pth")
    after = _train_one_epoch(config, data)
    weights = [k for k in after if k.endswith(("weight", "bias")) and "bn" not in k]
    moved = {k for k in weights if not torch.equal(after[k], before.state_dict()[k])}
    assert moved == {"head.weight", "head.bias"}


def test_unfrozen_layers_out_of_range_or_on_a_plain_model_is_an_error():
    data = _spectrogram_data()
    with pytest.raises(ValueError, match=r"unfrozen_layers: 7 is outside 0\.\.6"):
        _train_one_epoch({"model": "panns_cnn6", "unfrozen_layers": 7}, data)
    with pytest.raises(ValueError, match="unfrozen_layers: model 'cnn2d' has no stages"):
        _train_one_epoch({"model": "cnn2d", "unfrozen_layers": 1}, data)


def test_panns_reads_raw_decibels_and_spec_augment_fills_with_the_clip_mean(tmp_path):
    """bn0 normalises: PANNs get the log-mels unstandardised, as the weights expect."""
    from trainables.augment import spec_augment

    data = _spectrogram_data()
    states = []
    fit({"model": "panns_cnn6", "max_epochs": 1, "batch_size": 8}, data,
        lambda metrics, state: states.append(state))
    norm = states[-1]["normalisation"]
    assert np.all(np.asarray(norm["mean"]) == 0) and np.all(np.asarray(norm["std"]) == 1)

    x = torch.randn(2, 8, 40, generator=torch.Generator().manual_seed(0)) * 10 - 50
    out = spec_augment(x, 2, 8, 1, 3, torch.Generator().manual_seed(1), fill_mean=True)
    masked = out != x
    assert masked.any()
    means = x.mean(dim=(1, 2), keepdim=True).expand_as(x)
    assert torch.allclose(out[masked], means[masked])  # not 0 dB, a loud tone
