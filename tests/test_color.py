"""Colour preservation: the transformed style has the content's colour mean and covariance."""

from __future__ import annotations

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
