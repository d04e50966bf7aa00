"""Colour preservation: the transformed style has the content's colour mean and covariance."""

from __future__ import annotations

import pytest
import torch

from adain_lesson.color import color_stats, match_color


def test_match_color_transfers_mean_and_covariance_whatever_the_sizes() -> None:
    g = torch.Generator().manual_seed(0)
    mix = torch.tensor([[0.5, 0.2, 0.1], [0.1, 0.3, 0.0], [0.2, 0.1, 0.2]])
    source = (mix @ torch.rand(3, 40 * 50, generator=g)).reshape(3, 40, 50) + 0.1
    target = torch.rand(3, 64, 48, generator=g) * torch.tensor([0.3, 0.5, 0.2]).view(3, 1, 1) + 0.2
    out = match_color(source, target, clamp=False)
    assert out.shape == source.shape
    mu_o, cov_o = color_stats(out)
    mu_t, cov_t = color_stats(target)
    torch.testing.assert_close(mu_o, mu_t, atol=1e-5, rtol=0)
    torch.testing.assert_close(cov_o, cov_t, atol=1e-4, rtol=1e-3)


def test_match_color_is_the_identity_on_the_same_image_and_batches() -> None:
    img = torch.rand(3, 20, 30)
    torch.testing.assert_close(match_color(img, img), img, atol=1e-4, rtol=0)
    batch = torch.rand(2, 3, 16, 16)
    out = match_color(img, batch)
    assert out.shape == (2, 3, 20, 30)
    torch.testing.assert_close(out[1], match_color(img, batch[1]))


def _correlated_pair() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    source = torch.rand(3, 24, 24, generator=g) * torch.tensor([1.0, 0.5, 0.2])[:, None, None]
    target = torch.rand(3, 24, 24, generator=g)
    target[1] = 0.6 * target[0] + 0.4 * target[1]  # correlated channels: the two maps then differ
    return source, target


def test_coral_gives_the_source_the_targets_mean_and_covariance_at_equal_sizes() -> None:
    from adain_lesson.color import coral

    source, target = _correlated_pair()
    out = coral(source, target)
    assert out.shape == source.shape and out.dtype == source.dtype
    mu_o, cov_o = color_stats(out)
    mu_t, cov_t = color_stats(target)
    torch.testing.assert_close(mu_o, mu_t, atol=1e-6, rtol=0)
    # the Torch code's "+ I" on un-normalised covariances of 576 pixels leaves a small, size-dependent gap
    torch.testing.assert_close(cov_o, cov_t, atol=2e-3 * float(cov_t.abs().max()), rtol=0)


def test_coral_is_another_linear_map_than_ours_and_keeps_the_authors_size_dependence() -> None:
    from adain_lesson.color import coral

    source, target = _correlated_pair()
    ours = match_color(source, target, clamp=False)
    theirs = coral(source, target)
    torch.testing.assert_close(color_stats(ours)[1], color_stats(theirs)[1], atol=2e-3, rtol=0)  # same covariance
    assert float((ours - theirs).abs().max()) > 1e-2  # ... reached by a different map (a rotation apart)
    # the authors' covariances are not divided by the pixel count: a target with 4x the pixels and the same
    # statistics doubles the spread of coral's result; ours is unchanged
    big = torch.nn.functional.interpolate(target[None], scale_factor=2, mode="nearest")[0]

    def spread(x: torch.Tensor) -> torch.Tensor:
        return x.reshape(3, -1).std(1)

    torch.testing.assert_close(spread(coral(source, big)) / spread(big), torch.full((3,), 2.0), atol=1e-2, rtol=0)
    torch.testing.assert_close(spread(match_color(source, big, clamp=False)) / spread(big), torch.ones(3), atol=1e-2,
                               rtol=0)


def test_coral_refuses_a_non_rgb_image() -> None:
    from adain_lesson.color import coral
    from adain_lesson.errors import UserError

    with pytest.raises(UserError, match="RGB"):
        coral(torch.rand(1, 8, 8), torch.rand(3, 8, 8))
