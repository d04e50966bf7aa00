"""adain_lesson.texture_net: the feed-forward single-style network and the content sets of Fig. 1."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from adain_lesson import texture_net as tn
from adain_lesson.errors import UserError
from adain_lesson.images import center_crop, sample_image
from adain_lesson.model import load_pretrained

SIZE = 32


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


@pytest.fixture(scope="module")
def model():
    return load_pretrained("random", "cpu")


@pytest.fixture(scope="module")
def contents() -> torch.Tensor:
    imgs = [center_crop(sample_image(n, SIZE), SIZE) for n in ("grace_hopper", "house", "mountains")]
    return torch.stack(imgs + [i.flip(-1) for i in imgs])


@pytest.mark.parametrize("norm", tn.NORMS)
def test_shapes_and_norm_choice(norm: str) -> None:
    torch.manual_seed(0)
    net = tn.TextureNet(norm, width=4, n_residual=1)
    x = torch.rand(3, 3, 16, 24)
    y = net(x)
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    kinds = {type(m) for m in net.modules()}
    want, other = (nn.InstanceNorm2d, nn.BatchNorm2d) if norm == "instance" else (nn.BatchNorm2d, nn.InstanceNorm2d)
    assert want in kinds and other not in kinds
    # IN normalizes each image on its own; BN (training mode) mixes statistics across the batch
    alone = net(x[:1])
    with_others = net(torch.cat([x[:1], torch.rand(2, 3, 16, 24) * 0.2]))[:1]
    same = torch.allclose(alone, with_others, atol=1e-5)
    assert same == (norm == "instance")


def test_bad_arguments_raise_user_errors(model, contents: torch.Tensor) -> None:
    with pytest.raises(UserError):
        tn.TextureNet("layer")
    with pytest.raises(UserError):
        tn.TextureNet("instance")(torch.rand(1, 3, 18, 16))
    with pytest.raises(UserError, match="batch_size"):
        tn.train_texture_net(tn.TextureNet("batch", width=4), contents, contents[0], model.encoder, batch_size=1)


@pytest.mark.parametrize("norm", tn.NORMS)
def test_style_loss_decreases_on_a_tiny_run(model, contents: torch.Tensor, norm: str) -> None:
    torch.manual_seed(0)
    net = tn.TextureNet(norm, width=8, n_residual=1)
    style = center_crop(sample_image("mosaic", SIZE), SIZE)
    hist = tn.train_texture_net(net, contents, style, model.encoder, steps=8, batch_size=3, lr=1e-2, seed=0)
    assert len(hist.style_loss) == len(hist.content_loss) == 8 and hist.norm == norm
    assert sum(hist.style_loss[-2:]) / 2 < 0.6 * hist.style_loss[0], hist.style_loss


def test_gram_style_loss_option(model, contents: torch.Tensor) -> None:
    torch.manual_seed(0)
    net = tn.TextureNet("instance", width=4, n_residual=0)
    hist = tn.train_texture_net(net, contents, contents[0], model.encoder, steps=2, batch_size=2,
                                style_loss="gram", style_layers=("relu1_1", "relu2_1"), content_layer="relu2_1")
    assert len(hist.style_loss) == 2 and all(v > 0 and v == v for v in hist.style_loss)
    with pytest.raises(UserError):
        tn.train_texture_net(net, contents, contents[0], model.encoder, steps=1, style_loss="lap")


def test_equalize_luminance_flattens_the_histogram_and_keeps_order() -> None:
    gen = torch.Generator().manual_seed(0)
    y = 0.4 + 0.2 * torch.rand(48, 64, generator=gen) ** 2  # dim, low-contrast, skewed greys
    img = y.expand(3, -1, -1)
    out = tn.equalize_luminance(img)
    assert out.shape == img.shape
    y2 = tn.luminance(out)
    assert torch.allclose(out[0], out[1], atol=1e-5) and torch.allclose(out[1], out[2], atol=1e-5)  # grey stays grey
    assert y2.min() < 0.01 and y2.max() > 0.99  # the full range is used
    # the empirical CDF of the new luminance is the identity, up to the mass of the fullest input level
    # (pixels of one 8-bit level stay together): a flat histogram
    flat = y2.flatten().sort().values
    ideal = (torch.arange(flat.numel()) + 0.5) / flat.numel()
    levels = (y * 255).round().long().flatten()
    lumpiest = torch.bincount(levels).max().item() / levels.numel()
    assert (flat - ideal).abs().max() <= lumpiest + 1 / 255, ((flat - ideal).abs().max(), lumpiest)
    wide = torch.linspace(0, 1, 255 * 40).reshape(40, 255).expand(3, -1, -1)  # every level equally often
    assert (tn.luminance(tn.equalize_luminance(wide)).flatten().sort().values - wide[0].flatten().sort().values
            ).abs().max() < 0.01
    # brightness order is kept: a brighter input pixel is never darker afterwards
    order = y.flatten().argsort()
    assert torch.all(torch.diff(y2.flatten()[order]) >= -1e-6)


def test_equalize_luminance_keeps_chroma_and_batches() -> None:
    gen = torch.Generator().manual_seed(1)
    img = 0.3 + 0.4 * torch.rand(2, 3, 20, 20, generator=gen)
    out = tn.equalize_luminance(img)
    assert out.shape == img.shape
    assert torch.allclose(out[1], tn.equalize_luminance(img[1]))

    def chroma(x: torch.Tensor) -> torch.Tensor:
        return torch.stack([x[:, 2] - tn.luminance(x), x[:, 0] - tn.luminance(x)])

    inside = (out > 0.001).all(1) & (out < 0.999).all(1)  # pixels the final clamp did not touch
    assert torch.allclose(chroma(out)[:, inside], chroma(img)[:, inside], atol=1e-5)


def test_content_sets(model, contents: torch.Tensor) -> None:
    style = center_crop(sample_image("stripes", SIZE), SIZE)
    sets = tn.content_sets(contents, model, style)
    assert list(sets) == ["original", "contrast_normalized", "style_normalized"]
    for v in sets.values():
        assert v.shape == contents.shape and v.min() >= 0 and v.max() <= 1
    assert torch.equal(sets["original"], contents)
    assert not torch.allclose(sets["style_normalized"], contents, atol=0.05)
