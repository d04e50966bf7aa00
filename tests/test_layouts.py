"""The encoder and decoder have exactly the released files' keys and shapes, so those files load strictly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adain_lesson import decoder, vgg
from adain_lesson.errors import UserError
from adain_lesson.model import load_pretrained
from adain_lesson.weights import load_weights_file

# The released vgg_normalised.pth: module index -> (out, in, kernel), written out by hand from the file.
RELEASED_VGG = {0: (3, 3, 1), 2: (64, 3, 3), 5: (64, 64, 3), 9: (128, 64, 3), 12: (128, 128, 3),
                16: (256, 128, 3), 19: (256, 256, 3), 22: (256, 256, 3), 25: (256, 256, 3),
                29: (512, 256, 3), 32: (512, 512, 3), 35: (512, 512, 3), 38: (512, 512, 3),
                42: (512, 512, 3), 45: (512, 512, 3), 48: (512, 512, 3), 51: (512, 512, 3)}  # fmt: skip
# The released decoder.pth: module index -> (out, in); all 3x3.
RELEASED_DECODER = {1: (256, 512), 5: (256, 256), 8: (256, 256), 11: (256, 256), 14: (128, 256),
                    18: (128, 128), 21: (64, 128), 25: (64, 64), 28: (3, 64)}  # fmt: skip


def _released_vgg_state() -> dict[str, torch.Tensor]:
    sd = {}
    for i, (o, c, k) in RELEASED_VGG.items():
        sd[f"{i}.weight"] = torch.randn(o, c, k, k) * 0.05
        sd[f"{i}.bias"] = torch.zeros(o)
    return sd


def _released_decoder_state() -> dict[str, torch.Tensor]:
    sd = {}
    for i, (o, c) in RELEASED_DECODER.items():
        sd[f"{i}.weight"] = torch.randn(o, c, 3, 3) * 0.05
        sd[f"{i}.bias"] = torch.zeros(o)
    return sd


def test_vgg_layout() -> None:
    net = vgg.make_vgg()
    assert len(net) == 53
    assert [i for i, m in enumerate(net) if isinstance(m, torch.nn.Conv2d)] == sorted(RELEASED_VGG)
    for i in RELEASED_VGG:
        if i:
            assert isinstance(net[i - 1], torch.nn.ReflectionPad2d) and net[i - 1].padding == (1, 1, 1, 1)
    assert all(isinstance(net[i], torch.nn.ReLU) for i in vgg.LAYER_INDEX.values())
    net.load_state_dict(_released_vgg_state(), strict=True)


def test_decoder_layout() -> None:
    net = decoder.make_decoder()
    assert len(net) == 29
    assert [i for i, m in enumerate(net) if isinstance(m, torch.nn.Conv2d)] == sorted(RELEASED_DECODER)
    assert [i for i, m in enumerate(net) if isinstance(m, torch.nn.Upsample)] == [3, 16, 23]
    assert all(net[i].mode == "nearest" and net[i].scale_factor == 2 for i in (3, 16, 23))
    assert isinstance(net[-1], torch.nn.Conv2d)  # no activation after the last convolution
    net.load_state_dict(_released_decoder_state(), strict=True)


@pytest.mark.parametrize("norm, layer", [("batch", torch.nn.BatchNorm2d), ("instance", torch.nn.InstanceNorm2d)])
def test_decoder_ablation_variants(norm: str, layer: type) -> None:
    net = decoder.make_decoder(norm)
    assert sum(isinstance(m, layer) for m in net) == 8  # after every conv but the last
    assert net(torch.randn(2, 512, 4, 4)).shape == (2, 3, 32, 32)
    with pytest.raises(UserError):
        decoder.make_decoder("group")


def _write_weights(folder: Path, vgg_sd=None, dec_sd=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(vgg_sd if vgg_sd is not None else _released_vgg_state(), folder / "vgg_normalised.pth")
    torch.save(dec_sd if dec_sd is not None else _released_decoder_state(), folder / "decoder.pth")
    return folder


def test_released_style_files_load_from_a_folder(tmp_path: Path) -> None:
    vgg_sd, dec_sd = _released_vgg_state(), _released_decoder_state()
    model = load_pretrained(_write_weights(tmp_path / "w", vgg_sd, dec_sd), "cpu")
    assert not model.random_weights
    torch.testing.assert_close(model.encoder.body[2].weight, vgg_sd["2.weight"])
    torch.testing.assert_close(model.decoder[28].weight, dec_sd["28.weight"])
    assert len(model.encoder.body) == 31  # truncated at relu4_1
    assert not any(p.requires_grad for p in model.encoder.parameters())


def test_wrong_keys_nan_and_missing_files_are_clear_errors(tmp_path: Path) -> None:
    bad = _released_decoder_state()
    bad["99.weight"] = bad.pop("28.weight")
    with pytest.raises(UserError, match="does not fit the expected layout"):
        load_pretrained(_write_weights(tmp_path / "keys", dec_sd=bad), "cpu")
    nan = _released_decoder_state()
    nan["5.weight"][0, 0, 0, 0] = float("nan")
    with pytest.raises(UserError, match="NaN"):
        load_pretrained(_write_weights(tmp_path / "nan", dec_sd=nan), "cpu")
    (tmp_path / "half").mkdir()
    torch.save(_released_vgg_state(), tmp_path / "half" / "vgg_normalised.pth")
    with pytest.raises(UserError, match="lacks decoder.pth"):
        load_pretrained(tmp_path / "half", "cpu")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot read weights file"):
        load_weights_file(tmp_path / "junk.pth")


def test_from_torchvision_folds_the_input_normalization() -> None:
    tv = pytest.importorskip("torchvision")
    tv_net = tv.models.vgg19(weights=None)
    sd = vgg.from_torchvision(tv_net.state_dict())
    ours = vgg.make_vgg()
    ours.load_state_dict(sd, strict=True)
    x = torch.rand(1, 3, 32, 32)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    # ours: reflection padding; torchvision: zero padding. Compare the centre after the first conv+ReLU.
    a = ours[:4](x)[..., 2:-2, 2:-2]
    b = tv_net.features[:2]((x - mean) / std)[..., 2:-2, 2:-2]
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
