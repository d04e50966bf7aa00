"""The AdaIN model and its runtime controls (Eqs. 9-10, 14, 15; Figs. 7-10), on random weights."""

from __future__ import annotations

import pytest
import torch

from adain_lesson.errors import UserError
from adain_lesson.images import sample_image, split_mask
from adain_lesson.model import StyleStats, normalize_weights, prepare_masks
from adain_lesson.norms import calc_mean_std


@pytest.fixture(scope="module")
def imgs():
    torch.manual_seed(1)
    return {
        "content": sample_image("house", 64),
        "s1": sample_image("stripes", 48),
        "s2": sample_image("waves", 72),
        "s3": sample_image("dots", 64),
    }


def test_alpha_zero_decodes_the_content_features_unchanged(random_model, imgs) -> None:
    with torch.no_grad():
        out = random_model.stylize(imgs["content"], imgs["s1"], alpha=0.0)
        ref = random_model.decode(random_model.encode(imgs["content"]), imgs["content"].shape[-2:])
    torch.testing.assert_close(out, ref)


def test_alpha_interpolates_between_content_and_style(random_model, imgs) -> None:
    c, s = imgs["content"], imgs["s1"]
    with torch.no_grad():
        f_c = random_model.encode(c)
        st = random_model.encode_style(s)
        t = (f_c - calc_mean_std(f_c)[0]) / calc_mean_std(f_c)[1] * st.std + st.mean
        expected = random_model.decode(0.25 * t + 0.75 * f_c, c.shape[-2:])
        torch.testing.assert_close(random_model.stylize(c, s, alpha=0.25), expected, atol=1e-5, rtol=1e-4)
    with pytest.raises(UserError, match="alpha"):
        random_model.stylize(c, s, alpha=1.5)


def test_one_hot_interpolation_weights_equal_the_single_style(random_model, imgs) -> None:
    with torch.no_grad():
        single = random_model.stylize(imgs["content"], imgs["s2"])
        mixed = random_model.stylize(imgs["content"], [imgs["s1"], imgs["s2"], imgs["s3"]], weights=[0, 1, 0])
        halves = random_model.stylize(imgs["content"], [imgs["s1"], imgs["s2"]], weights=[1, 1])
    torch.testing.assert_close(mixed, single)
    assert not torch.allclose(halves, single, atol=1e-3)


def test_interpolation_weights_are_validated_and_normalised() -> None:
    assert normalize_weights([2, 2], 2) == [0.5, 0.5]
    assert normalize_weights(None, 4) == [0.25] * 4
    for bad in ([1], [-1, 2], [0, 0], [float("nan"), 1]):
        with pytest.raises(UserError):
            normalize_weights(bad, 2)


def test_all_ones_mask_equals_the_unmasked_result(random_model, imgs) -> None:
    c = imgs["content"]
    with torch.no_grad():
        plain = random_model.stylize(c, imgs["s1"])
        masked = random_model.stylize(c, [imgs["s1"]], masks=[torch.ones(c.shape[-2:])])
    torch.testing.assert_close(masked, plain, atol=1e-4, rtol=1e-4)


def test_two_region_mask_uses_each_style_in_its_region(random_model, imgs) -> None:
    c = sample_image("house", 96)
    h, w = c.shape[-2:]
    left = split_mask("left", h, w)
    with torch.no_grad():
        out = random_model.stylize(c, [imgs["s1"], imgs["s2"]], masks=left)  # one mask: it and its complement
        explicit = random_model.stylize(c, [imgs["s1"], imgs["s2"]], masks=[left, 1 - left])
        swapped = random_model.stylize(c, [imgs["s2"], imgs["s1"]], masks=[1 - left, left])
        f_c = random_model.encode(c)
    assert out.shape == (1, 3, h, w)
    torch.testing.assert_close(out, explicit)
    torch.testing.assert_close(out, swapped, atol=1e-5, rtol=1e-4)
    # three regions, soft masks, alpha per region run and differ from two regions
    thirds = [((torch.arange(w) * 3 // w) == k).float().expand(h, w) for k in range(3)]
    with torch.no_grad():
        three = random_model.stylize(c, [imgs["s1"], imgs["s2"], imgs["s3"]], masks=thirds, alpha=[1.0, 0.5, 0.0])
        soft = random_model.stylize(c, [imgs["s1"], imgs["s2"]], masks=split_mask("ellipse", h, w, softness=0.2))
    assert three.shape == soft.shape == (1, 3, h, w)
    assert f_c.shape[-2:] == (h // 8, w // 8)


def test_region_content_statistics_are_taken_inside_the_region(random_model) -> None:
    """A hard mask applies AdaIN to the masked features alone, as the Lua reference does."""
    from adain_lesson.model import masked_adain

    f = torch.randn(1, 4, 8, 8)
    f[..., :, 4:] += 10.0  # the right half has very different statistics
    s = StyleStats(torch.zeros(1, 4, 1, 1), torch.ones(1, 4, 1, 1))
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :, :4] = 1.0
    out = masked_adain(f, [s], mask, [1.0])
    left = out[..., :, :4]
    mean, std = calc_mean_std(left)
    torch.testing.assert_close(mean, torch.zeros_like(mean), atol=1e-4, rtol=0)
    torch.testing.assert_close(std, torch.ones_like(std), atol=1e-3, rtol=0)
    torch.testing.assert_close(out[..., :, 4:], f[..., :, 4:])  # uncovered pixels keep the content


def test_bad_masks_give_clear_errors() -> None:
    size = (32, 40)
    with pytest.raises(UserError, match=r"must lie in \[0, 1\]"):
        prepare_masks([torch.full(size, 255.0)], 1, size, 1)
    with pytest.raises(UserError, match="empty"):
        prepare_masks([torch.zeros(size), torch.ones(size)], 2, size, 1)
    with pytest.raises(UserError, match="3 masks for 2 styles"):
        prepare_masks([torch.ones(size)] * 3, 2, size, 1)
    with pytest.raises(UserError, match="NaN"):
        prepare_masks([torch.full(size, float("nan"))], 1, size, 1)
    with pytest.warns(UserWarning, match="resized"):  # the content's shape at another size: resized
        out = prepare_masks([torch.ones(16, 20)], 1, size, 2)
    assert out.shape == (2, 1, 32, 40)
    with pytest.raises(UserError, match=r"mask 1 is 20x40 but the content is 40x32.*make the mask 40x32"):
        prepare_masks([torch.ones(40, 20)], 1, size, 1)  # another shape: refused, not stretched


def test_tiny_mask_region_is_a_clear_error(random_model, imgs) -> None:
    c = imgs["content"]
    m = torch.zeros(c.shape[-2:])
    m[0, 0] = 1.0
    with pytest.raises(UserError, match="less than 2 feature positions"):
        random_model.stylize(c, [imgs["s1"], imgs["s2"]], masks=[m, 1 - m])


@pytest.mark.parametrize("h, w", [(33, 47), (64, 64), (17, 100), (95, 31)])
def test_output_has_the_content_size_for_odd_sizes(random_model, imgs, h: int, w: int) -> None:
    with torch.no_grad():
        out = random_model.stylize(torch.rand(3, h, w), imgs["s1"])
    assert out.shape == (1, 3, h, w)


def test_batches_and_cached_style_statistics(random_model, imgs) -> None:
    batch = torch.stack([sample_image("house", 64), sample_image("mountains", 64)])
    with torch.no_grad():
        stats = random_model.encode_style(imgs["s2"])
        cached = random_model.stylize(batch, stats)
        direct = random_model.stylize(batch, imgs["s2"])
        each = torch.cat([random_model.stylize(b, imgs["s2"]) for b in batch])
        paired = random_model.stylize(batch, torch.stack([sample_image("stripes", 48), sample_image("dots", 48)]))
    torch.testing.assert_close(cached, direct)
    torch.testing.assert_close(each, direct, atol=1e-5, rtol=1e-4)
    assert paired.shape == (2, 3, 64, 86)
    with pytest.raises(UserError, match="preserve_color needs the style image"):
        random_model.stylize(batch, stats, preserve_color=True)


def test_preserve_color_changes_only_through_the_style_colours(random_model, imgs) -> None:
    from adain_lesson.color import match_color

    c, s = imgs["content"], imgs["s1"]
    with torch.no_grad():
        kept = random_model.stylize(c, s, preserve_color=True)
        manual = random_model.stylize(c, match_color(s, c))
    torch.testing.assert_close(kept, manual)


def test_inputs_must_be_rgb_images(random_model) -> None:
    with pytest.raises(UserError, match="RGB"):
        random_model.stylize(torch.rand(4, 32, 32), torch.rand(3, 32, 32))
    with pytest.raises(UserError, match="no style"):
        random_model.stylize(torch.rand(3, 32, 32), [])


def test_matches_the_reference_pipeline(random_model) -> None:
    """Our stylize equals the reference test.py pipeline: vgg[:31], AdaIN with the unbiased std + 1e-5,
    alpha blend, decoder (sizes that are multiples of 8, where the reference needs no crop)."""
    enc = torch.nn.Sequential(*list(random_model.encoder.body.children())[:31])
    dec = random_model.decoder

    def ref_adain(c: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        n, ch = c.shape[:2]
        c_mean = c.view(n, ch, -1).mean(2).view(n, ch, 1, 1)
        c_std = (c.view(n, ch, -1).var(2) + 1e-5).sqrt().view(n, ch, 1, 1)
        s_mean = s.view(s.shape[0], ch, -1).mean(2).view(-1, ch, 1, 1)
        s_std = (s.view(s.shape[0], ch, -1).var(2) + 1e-5).sqrt().view(-1, ch, 1, 1)
        return (c - c_mean) / c_std * s_std + s_mean

    content, s1, s2 = torch.rand(1, 3, 64, 96), torch.rand(1, 3, 80, 80), torch.rand(1, 3, 80, 80)
    with torch.no_grad():
        ref = dec(0.7 * ref_adain(enc(content), enc(s1)) + 0.3 * enc(content))
        ours = random_model.stylize(content, s1, alpha=0.7)
        torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-4)
        # interpolation as the reference does it: the content repeated per style, weights summed
        styles = torch.cat([s1, s2])
        base = ref_adain(enc(content.expand(2, -1, -1, -1)), enc(styles))
        ref_mix = dec(0.25 * base[0:1] + 0.75 * base[1:2])
        torch.testing.assert_close(random_model.stylize(content, [s1, s2], weights=[1, 3]), ref_mix,
                                   atol=1e-5, rtol=1e-4)


def test_a_single_all_white_mask_names_the_problem() -> None:
    size = (16, 16)
    with pytest.raises(UserError, match="all white: style 2"):
        prepare_masks(torch.ones(size), 2, size, 1)
    with pytest.raises(UserError, match="all black: style 1"):
        prepare_masks(torch.zeros(size), 2, size, 1)
