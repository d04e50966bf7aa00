"""adain_lesson.losses: Gram matrices (Gatys et al. Eq. 3), the Gram style loss (Eqs. 4-5), AdaIN's
mean/std style loss (Eq. 13), the content loss (Eq. 12 / Gatys Eq. 1) and total variation."""

from __future__ import annotations

import pytest
import torch

from adain_lesson import losses
from adain_lesson.errors import UserError
from adain_lesson.norms import calc_mean_std


def _feats(seed: int, shape=(2, 5, 6, 7)) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed)).relu()


def test_gram_matrix_hand_computed() -> None:
    # F = [[1, 2], [3, 4]]: two channels at two positions. G_ij = sum_k F_ik F_jk.
    f = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).view(1, 2, 1, 2)
    expected = torch.tensor([[[5.0, 11.0], [11.0, 25.0]]])
    assert torch.equal(losses.gram_matrix(f), expected)
    assert torch.allclose(losses.gram_matrix(f, normalize=True), expected / 4.0)


def test_gram_matrix_is_symmetric_and_psd() -> None:
    f = torch.randn(3, 8, 5, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    g = losses.gram_matrix(f)
    assert g.shape == (3, 8, 8)
    assert torch.allclose(g, g.transpose(1, 2))
    eig = torch.linalg.eigvalsh(g)
    assert (eig >= -1e-9 * eig.abs().max()).all()
    # 20 positions and 8 channels: full rank, so strictly positive here
    assert (eig > 0).all()


def test_gram_forgets_positions() -> None:
    """Shuffling positions (the same way in every channel) leaves the Gram matrix unchanged."""
    f = _feats(2, (1, 4, 6, 6))
    perm = torch.randperm(36, generator=torch.Generator().manual_seed(0))
    shuffled = f.reshape(1, 4, 36)[..., perm].reshape(1, 4, 6, 6)
    assert torch.allclose(losses.gram_matrix(f), losses.gram_matrix(shuffled), atol=1e-5)
    assert not torch.allclose(f, shuffled)


def test_gram_style_loss_value_and_normalisation() -> None:
    f, a_src = _feats(3, (1, 3, 4, 5)), _feats(4, (1, 3, 4, 5))
    a = losses.gram_matrix(a_src)
    n, m = 3, 20
    by_hand = ((losses.gram_matrix(f) - a) ** 2).sum() / (4 * n**2 * m**2)
    assert torch.allclose(losses.gram_style_loss([f], [a]), by_hand)
    # two layers, equal weights by default: the mean of the two E_l
    g2 = losses.gram_style_loss([f, f], [a, losses.gram_matrix(f)])
    assert torch.allclose(g2, by_hand / 2)
    assert torch.allclose(losses.gram_style_loss([f, f], [a, a], weights=[1.0, 0.0]), by_hand)


def test_gram_style_loss_does_not_depend_on_size() -> None:
    """E_l is normalised by N^2 M^2: a map tiled 2x2 (4 times the positions) has the same loss."""
    f, s = _feats(5, (1, 4, 5, 5)), _feats(6, (1, 4, 5, 5))
    small = losses.gram_style_loss([f], [losses.gram_matrix(s)])
    big = losses.gram_style_loss([f.repeat(1, 1, 2, 2)], [losses.gram_matrix(s.repeat(1, 1, 2, 2))])
    assert torch.allclose(small, big, rtol=1e-5)


def test_losses_are_zero_for_identical_inputs() -> None:
    fs = [_feats(i, (2, 4 * (i + 1), 6, 6)) for i in range(3)]
    assert losses.content_loss(fs[0], fs[0].clone()) == 0
    assert losses.content_loss(fs[0], fs[0].clone(), reduction="sum") == 0
    assert losses.mean_std_loss(fs, [f.clone() for f in fs]) == 0
    assert losses.gram_style_loss(fs, [losses.gram_matrix(f) for f in fs]) == 0
    assert losses.tv_loss(torch.full((1, 3, 8, 8), 0.3)) == 0
    assert losses.ContentLoss(fs[0])(fs[0]) == 0
    assert losses.GramStyleLoss(fs)(fs) == 0
    assert losses.MeanStdStyleLoss(fs)(fs) == 0


def test_losses_are_positive_for_different_inputs() -> None:
    a, b = _feats(7), _feats(8)
    assert losses.content_loss(a, b) > 0
    assert losses.mean_std_loss([a], [b]) > 0
    assert losses.gram_style_loss([a], [losses.gram_matrix(b)]) > 0
    assert losses.tv_loss(torch.rand(1, 3, 8, 8)) > 0


def test_content_loss_reductions_and_broadcast_target() -> None:
    a, b = _feats(9), _feats(10)
    assert torch.allclose(losses.content_loss(a, b, "sum"), ((a - b) ** 2).sum())
    assert torch.allclose(losses.content_loss(a, b), torch.nn.functional.mse_loss(a, b))
    one = b[:1]
    assert torch.allclose(losses.content_loss(a, one), torch.nn.functional.mse_loss(a, one.expand_as(a)))


def test_mean_std_loss_matches_eq13_by_hand() -> None:
    fs, ts = [_feats(11), _feats(12, (2, 3, 4, 4))], [_feats(13), _feats(14, (2, 3, 4, 4))]
    by_hand = torch.zeros(())
    for f, t in zip(fs, ts):
        fm, fsd = calc_mean_std(f)
        tm, tsd = calc_mean_std(t)
        by_hand = by_hand + ((fm - tm) ** 2).mean() + ((fsd - tsd) ** 2).mean()
    assert torch.allclose(losses.mean_std_loss(fs, ts), by_hand)
    stats = [calc_mean_std(t) for t in ts]
    assert torch.allclose(losses.mean_std_loss_from_stats(fs, stats), by_hand)
    assert torch.allclose(losses.MeanStdStyleLoss(ts)(fs), by_hand)
    assert torch.allclose(losses.mean_std_loss(fs, ts, weights=[0.5, 0.5]), by_hand / 2)


def test_mean_std_loss_ignores_positions_but_sees_scale() -> None:
    f = _feats(15, (1, 4, 6, 6))
    flipped = f.flip(-1).flip(-2)
    assert losses.mean_std_loss([f], [flipped]) < 1e-10
    assert losses.mean_std_loss([f], [2 * f]) > 1e-3


def test_losses_are_differentiable() -> None:
    x = _feats(16).requires_grad_(True)
    t = _feats(17)
    total = (losses.content_loss(x, t) + losses.mean_std_loss([x], [t])
             + losses.gram_style_loss([x], [losses.gram_matrix(t)]) + losses.tv_loss(x))
    total.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: losses.content_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 4, 4)), "differ"),
        (lambda: losses.content_loss(torch.zeros(2, 3, 4, 4), torch.zeros(3, 3, 4, 4)), "differ"),
        (lambda: losses.content_loss(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 4, 4), "mean"), "reduction"),
        (lambda: losses.mean_std_loss([torch.rand(1, 3, 4, 4)], []), "matching"),
        (lambda: losses.mean_std_loss([torch.rand(1, 3, 4, 4)], [torch.rand(1, 5, 4, 4)]), "differ"),
        (lambda: losses.gram_matrix(torch.zeros(3, 4, 4)), r"\[N, C, H, W\]"),
        (lambda: losses.gram_style_loss([torch.rand(1, 3, 4, 4)], []), "matching"),
        (lambda: losses.gram_style_loss([torch.rand(1, 3, 4, 4)], [torch.rand(1, 4, 4)]), "differ"),
        (lambda: losses.gram_style_loss([torch.rand(1, 3, 4, 4)], [torch.rand(1, 3, 3)], weights=[1, 2]), "one weight"),
        (lambda: losses.gram_style_loss([torch.rand(1, 3, 4, 4)], [torch.rand(1, 3, 3)], weights=[-1]), "non-negative"),
        (lambda: losses.tv_loss(torch.rand(3, 1, 5)), "2x2"),
    ],
)
def test_bad_arguments_give_clear_errors(call, match) -> None:
    with pytest.raises(UserError, match=match):
        call()
