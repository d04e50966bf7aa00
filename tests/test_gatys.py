"""adain_lesson.gatys: optimization-based style transfer (Gatys et al.) on small images with random weights.

Random weights make the result meaningless as art but keep every property tested here: the loss falls,
pixels stay in [0, 1], targets are computed once, runs repeat with a seed, and mistakes give one clear line.
"""

from __future__ import annotations

import pytest
import torch

from adain_lesson import gatys
from adain_lesson.errors import UserError
from adain_lesson.images import sample_image
from adain_lesson.vgg import Encoder, make_vgg

# Cheap layers for the tests that check mechanics, not the default configuration.
SHALLOW = {"content_layer": "relu2_1", "style_layers": ("relu1_1", "relu2_1")}


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return gatys.gatys_encoder("random", "cpu")


@pytest.fixture(scope="module")
def images() -> tuple[torch.Tensor, torch.Tensor]:
    return sample_image("house", 32), sample_image("mosaic", 32)  # 32 x 43 and 32 x 43


@pytest.mark.parametrize("optimizer, factor", [("lbfgs", 5.0), ("adam", 3.0)])
def test_optimization_lowers_the_total_loss(encoder, images, optimizer, factor) -> None:
    """Default layers (content relu4_2, style relu1_1..relu5_1), noise init: 15 steps divide the loss by
    at least 5 (L-BFGS) or 3 (Adam)."""
    content, style = images
    result = gatys.optimize_image(encoder, content, style, steps=15, optimizer=optimizer)
    total = result.history["total"]
    assert result.steps == 15 and len(total) == 15
    assert all(len(v) == 15 for v in result.history.values())
    assert total[0] / total[-1] >= factor, total
    for i in range(15):  # the parts add up to the total
        parts = result.history["content"][i] + result.history["style"][i] + result.history["tv"][i]
        assert parts == pytest.approx(total[i], rel=1e-5)
    assert result.image.shape == (1, 3, 32, 43)


def test_lbfgs_keeps_pixels_in_unit_range(encoder, images) -> None:
    content, style = images
    seen = []
    result = gatys.optimize_image(encoder, content, style, steps=12, optimizer="lbfgs", style_weight=100.0,
                           callback=lambda step, img, losses: seen.append(img), every=3, **SHALLOW)
    img = result.image
    assert img.min() >= 0 and img.max() <= 1
    # the clamp was needed: the optimum pushes some pixels onto the bounds
    assert int((img == 0).sum() + (img == 1).sum()) > 0
    assert len(seen) == 4 and all(s.min() >= 0 and s.max() <= 1 for s in seen)


def test_callback_history_and_snapshots(encoder, images) -> None:
    content, style = images
    calls = []
    result = gatys.optimize_image(encoder, content, style, steps=7, optimizer="adam", every=3, keep_every=True,
                           callback=lambda step, img, losses: calls.append((step, tuple(img.shape), losses)), **SHALLOW)
    assert [c[0] for c in calls] == [3, 6, 7]
    assert all(c[1] == (1, 3, 32, 43) for c in calls)
    assert calls[-1][2]["total"] == pytest.approx(result.history["total"][-1])
    assert [s for s, _ in result.snapshots] == [3, 6, 7]
    assert result.snapshots[0][1].device.type == "cpu"
    assert result.seconds > 0 and result.final_loss == result.history["total"][-1]


def test_seed_repeats_and_changes_the_run(encoder, images) -> None:
    content, style = images
    run = lambda seed: gatys.optimize_image(encoder, content, style, steps=3, optimizer="adam", seed=seed, **SHALLOW)
    a, b, c = run(1), run(1), run(2)
    assert torch.equal(a.image, b.image) and a.history == b.history
    assert not torch.equal(a.image, c.image)


def test_initialisations(images) -> None:
    content, style = images
    noise = gatys.initial_image("noise", content, style, seed=0)
    assert noise.shape == (1, 3, 32, 43) and 0 <= noise.min() and noise.max() <= 1 and noise.std() > 0.2
    assert torch.equal(gatys.initial_image("content", content, style), content.unsqueeze(0))
    wide = sample_image("stripes", 40)
    assert gatys.initial_image("style", content, wide).shape == (1, 3, 32, 43)
    with pytest.raises(UserError, match="unknown init"):
        gatys.initial_image("zeros", content, style)


def test_content_init_starts_with_zero_content_loss(encoder, images) -> None:
    content, style = images
    result = gatys.optimize_image(encoder, content, style, steps=2, optimizer="adam", init="content", **SHALLOW)
    assert result.history["content"][0] == 0.0 and result.history["style"][0] > 0


def test_style_targets_are_computed_once(encoder, images, monkeypatch) -> None:
    content, style = images
    calls = []
    original = Encoder.features

    def counting(self, x, layers):
        calls.append(x.data_ptr())
        return original(self, x, layers)

    monkeypatch.setattr(Encoder, "features", counting)
    gatys.optimize_image(encoder, content, style, steps=5, optimizer="lbfgs", **SHALLOW)
    assert len(calls) == 2 + 5  # content and style targets once, then one pass per evaluation
    assert calls.count(style.data_ptr()) == 1


def test_mean_std_style_loss_lowers_the_loss(encoder, images) -> None:
    content, style = images
    result = gatys.optimize_image(encoder, content, style, steps=10, style_loss="mean_std", **SHALLOW)
    assert result.history["style"][-1] < 0.2 * result.history["style"][0]


def test_encoder_truncation(images) -> None:
    content, style = images
    vgg = gatys.gatys_encoder("random", "cpu").body
    short = Encoder(vgg, "relu4_1")
    with pytest.raises(UserError, match="relu5_1 is needed"):
        gatys.optimize_image(short, content, style, steps=1)
    # a shallower configuration runs with it, and a plain 53-module Sequential is accepted too
    assert gatys.optimize_image(short, content, style, steps=1, **SHALLOW).steps == 1
    assert gatys.optimize_image(vgg, content, style, steps=1, **SHALLOW).steps == 1


def test_gatys_encoder_weights(tmp_path) -> None:
    enc = gatys.gatys_encoder("random", "cpu")
    assert enc.random_weights and enc.last == "relu5_1" and len(enc.body) == 44
    assert all(not p.requires_grad for p in enc.parameters())
    vgg = make_vgg()
    torch.save(vgg.state_dict(), tmp_path / "vgg_normalised.pth")
    for source in (tmp_path, tmp_path / "vgg_normalised.pth"):
        loaded = gatys.gatys_encoder(source, "cpu", last="relu5_4")
        assert not loaded.random_weights and len(loaded.body) == 53
        assert torch.equal(loaded.body[51].weight, vgg[51].weight)
    with pytest.raises(UserError, match="does not exist"):
        gatys.gatys_encoder(tmp_path / "nowhere", "cpu")
    torch.save({"0.weight": torch.zeros(3, 3, 1, 1)}, tmp_path / "bad.pth")
    with pytest.raises(UserError, match="bad.pth does not fit the expected layout.*released vgg_normalised.pth"):
        gatys.gatys_encoder(tmp_path / "bad.pth", "cpu")
    with pytest.raises(UserError, match="unknown VGG layer"):
        gatys.gatys_encoder("random", "cpu", last="relu6_1")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"content_layer": "conv4_2"}, "unknown content layer 'conv4_2'"),
        ({"style_layers": ("relu1_1", "relu9_1")}, "unknown style layer 'relu9_1'"),
        ({"style_layers": ()}, "style_layers is empty"),
        ({"steps": 0}, "steps must be a positive integer"),
        ({"steps": -5}, "steps must be a positive integer"),
        ({"steps": 2.5}, "steps must be a positive integer"),
        ({"every": 0}, "every must be a positive integer"),
        ({"optimizer": "sgd"}, "unknown optimizer"),
        ({"init": "zeros"}, "unknown init"),
        ({"style_loss": "wasserstein"}, "unknown style_loss"),
        ({"style_weight": -1.0}, "style_weight must be"),
        ({"lr": 0.0}, "lr must be"),
        ({"layer_weights": [1.0]}, "layer_weights needs 5"),
    ],
)
def test_bad_arguments_give_clear_errors(encoder, images, kwargs, match) -> None:
    content, style = images
    with pytest.raises(UserError, match=match) as info:
        gatys.optimize_image(encoder, content, style, **kwargs)
    assert "\n" not in str(info.value)


def test_mismatched_devices_and_shapes(encoder, images) -> None:
    content, style = images
    with pytest.raises(UserError, match="content is on meta but the encoder is on cpu"):
        gatys.optimize_image(encoder, content.to("meta"), style, steps=1)
    with pytest.raises(UserError, match="style is on meta"):
        gatys.optimize_image(encoder, content, style.to("meta"), steps=1)
    with pytest.raises(UserError, match="one RGB image"):
        gatys.optimize_image(encoder, content[:1], style, steps=1)
    with pytest.raises(UserError, match="at least 17 px"):
        gatys.optimize_image(encoder, content[:, :16, :16], style, steps=1)  # relu5_1 would be 1 px: no padding


def test_cli_gatys_writes_images(tmp_path, capsys) -> None:
    from adain_lesson.__main__ import main

    out = tmp_path / "out"
    rc = main(["gatys", "--weights", "random", "--size", "24", "--steps", "3", "--every", "2", "--device", "cpu",
               "--out", str(out)])
    assert rc == 0
    captured = capsys.readouterr()
    out_text = captured.out
    assert "RANDOM WEIGHTS" in captured.err and "RANDOM" not in out_text  # the banner says so, on stderr
    written = [line for line in out_text.splitlines() if line.endswith(".png")]
    assert [p.rsplit("/", 1)[-1] for p in written] == ["grace_hopper_gatys_mosaic_step0002.png",
                                                       "grace_hopper_gatys_mosaic.png"]
    assert all((out / p.rsplit("/", 1)[-1]).is_file() for p in written)


@pytest.mark.parametrize(
    "argv, match",
    [
        (["--steps", "0"], "--steps must be a positive integer"),
        (["--size", "16"], "--size must be at least 17"),
        (["--style-weight", "nan"], "--style-weight must be a finite number"),
        (["--tv-weight", "-1"], "--tv-weight must be a finite number >= 0"),
        (["--content", "sample:nothing"], "unknown built-in sample"),
        (["--weights", "/no/such/folder"], "does not exist"),
    ],
)
def test_cli_gatys_errors(argv, match, capsys) -> None:
    from adain_lesson.__main__ import main

    assert main(["gatys", "--weights", "random", *argv] if "--weights" not in argv else ["gatys", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and match in err and "Traceback" not in err


def test_min_side_follows_the_poolings_of_the_released_layout() -> None:
    from adain_lesson.vgg import ADAIN_STYLE_LAYERS, GATYS_STYLE_LAYERS, POOL_INDEX, make_vgg, min_side

    pools = [i for i, m in enumerate(make_vgg()) if isinstance(m, torch.nn.MaxPool2d)]
    assert sorted(POOL_INDEX.values()) == pools
    # relu5_1 after four poolings, relu4_1 after three
    assert min_side([gatys.CONTENT_LAYER, *GATYS_STYLE_LAYERS]) == 17 and min_side(ADAIN_STYLE_LAYERS) == 9


