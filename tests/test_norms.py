"""Normalization layers against torch.nn, and AdaIN's defining property (Eq. 8)."""

from __future__ import annotations

import pytest
import torch

from adain_lesson import norms
from adain_lesson.errors import UserError


def test_batch_norm_matches_torch() -> None:
    x = torch.randn(4, 6, 5, 7) * 3 + 2
    gamma, beta = torch.rand(6) + 0.5, torch.randn(6)
    bn = torch.nn.BatchNorm2d(6).train()
    with torch.no_grad():
        bn.weight.copy_(gamma)
        bn.bias.copy_(beta)
    torch.testing.assert_close(norms.batch_norm(x, gamma, beta), bn(x), atol=1e-5, rtol=1e-5)


def test_instance_norm_matches_torch() -> None:
    x = torch.randn(3, 5, 8, 6) * 2 - 1
    gamma, beta = torch.rand(5) + 0.5, torch.randn(5)
    inn = torch.nn.InstanceNorm2d(5, affine=True)
    with torch.no_grad():
        inn.weight.copy_(gamma)
        inn.bias.copy_(beta)
    torch.testing.assert_close(norms.instance_norm(x, gamma, beta), inn(x), atol=1e-5, rtol=1e-5)


def test_batch_norm_differs_from_instance_norm_on_a_batch_but_not_at_batch_one() -> None:
    x = torch.randn(4, 3, 6, 6) + torch.arange(4.0).view(4, 1, 1, 1)
    assert not torch.allclose(norms.batch_norm(x), norms.instance_norm(x), atol=1e-3)
    torch.testing.assert_close(norms.batch_norm(x[:1]), norms.instance_norm(x[:1]))


def test_calc_mean_std_is_the_reference_formula() -> None:
    x = torch.randn(2, 3, 4, 5)
    mean, std = norms.calc_mean_std(x)
    flat = x.view(2, 3, -1)
    assert mean.shape == std.shape == (2, 3, 1, 1)
    torch.testing.assert_close(mean.view(2, 3), flat.mean(2))
    torch.testing.assert_close(std.view(2, 3), (flat.var(2, unbiased=True) + 1e-5).sqrt())


def test_single_spatial_position_is_a_clear_error() -> None:
    with pytest.raises(UserError, match="at least 2 positions"):
        norms.calc_mean_std(torch.randn(1, 8, 1, 1))


def test_adain_output_carries_the_style_statistics() -> None:
    content = torch.randn(2, 8, 12, 10) * 4 + 3
    style = torch.randn(1, 8, 7, 9) * 0.5 - 2  # another size, batch 1 broadcasts
    out = norms.adaptive_instance_norm(content, style)
    out_mean, out_std = norms.calc_mean_std(out)
    s_mean, s_std = norms.calc_mean_std(style)
    torch.testing.assert_close(out_mean, s_mean.expand_as(out_mean), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out_std, s_std.expand_as(out_std), atol=1e-3, rtol=1e-3)


def test_adain_with_itself_is_nearly_the_identity() -> None:
    x = torch.randn(1, 4, 6, 6) * 3
    torch.testing.assert_close(norms.adaptive_instance_norm(x, x), x, atol=1e-4, rtol=1e-4)


def test_adain_rejects_mismatched_channels() -> None:
    with pytest.raises(UserError, match="channels"):
        norms.adaptive_instance_norm(torch.randn(1, 4, 5, 5), torch.randn(1, 3, 5, 5))


def test_conditional_instance_norm_parameters_and_styles() -> None:
    cin = norms.ConditionalInstanceNorm2d(num_features=16, num_styles=5)
    assert sum(p.numel() for p in cin.parameters()) == 2 * 16 * 5
    with torch.no_grad():
        cin.gamma.copy_(torch.rand(5, 16) + 0.5)
        cin.beta.copy_(torch.randn(5, 16))
    x = torch.randn(3, 16, 6, 6)
    out = cin(x, torch.tensor([0, 3, 4]))
    for i, s in enumerate([0, 3, 4]):
        expected = norms.instance_norm(x[i : i + 1], cin.gamma[s], cin.beta[s])
        torch.testing.assert_close(out[i : i + 1], expected)
    # mixing weights interpolate the affine parameters; one-hot weights equal the index
    onehot = torch.nn.functional.one_hot(torch.tensor([0, 3, 4]), 5).float()
    torch.testing.assert_close(cin(x, onehot), out)
    with pytest.raises(UserError, match="out of range"):
        cin(x, 7)


def test_in_removes_style_checked_relatively_at_every_activation_scale() -> None:
    """Issue 17: "IN removes style" as an absolute tolerance failed at another activation scale; the
    relative difference over the channels that vary holds at every scale."""
    g = torch.Generator().manual_seed(0)
    base_c = torch.randn(1, 16, 12, 12, generator=g)
    base_a = torch.randn(1, 16, 12, 12, generator=g) * torch.rand(1, 16, 1, 1, generator=g) * 3
    base_b = torch.randn(1, 16, 12, 12, generator=g) * torch.rand(1, 16, 1, 1, generator=g) * 3
    base_c[:, 3] = 0.5  # a dead (constant) ReLU channel
    for scale in (0.05, 1.0, 30.0, 1000.0):
        f_c, f_a, f_b = base_c * scale, base_a * scale, base_b * scale
        t_a, t_b = norms.adaptive_instance_norm(f_c, f_a), norms.adaptive_instance_norm(f_c, f_b)
        live = norms.varying_channels(f_c, f_a, f_b)
        assert not live[3] and live.sum() > 0
        diff = norms.relative_difference(norms.instance_norm(t_a), norms.instance_norm(t_b), live)
        assert diff < 1e-2, (scale, diff)
    # the filter matters: at a small scale the eps-dominated channels differ by far more than 1e-2
    small = [x * 0.002 for x in (base_c, base_a, base_b)]
    t_a, t_b = norms.adaptive_instance_norm(small[0], small[1]), norms.adaptive_instance_norm(small[0], small[2])
    assert norms.relative_difference(norms.instance_norm(t_a), norms.instance_norm(t_b)) > 1e-2


def test_relative_difference_is_scale_free_and_checks_its_input() -> None:
    a, b = torch.randn(2, 4, 5, 5), torch.randn(2, 4, 5, 5)
    r = norms.relative_difference(a, b)
    assert r > 0 and abs(norms.relative_difference(a * 1e3, b * 1e3) - r) < 1e-6
    assert norms.relative_difference(a, a.clone()) == 0.0
    only = torch.tensor([True, False, False, False])
    b2 = b.clone()
    b2[:, 0] = a[:, 0]
    assert norms.relative_difference(a, b2, only) == 0.0
    assert norms.relative_difference(torch.zeros(1, 2, 3, 3), torch.zeros(1, 2, 3, 3)) == 0.0
    with pytest.raises(UserError, match="no channels"):
        norms.relative_difference(a, b, torch.zeros(4, dtype=torch.bool))
    with pytest.raises(UserError, match="equal shapes"):
        norms.relative_difference(a, b[:, :2])
