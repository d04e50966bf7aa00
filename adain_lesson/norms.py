"""Normalization layers, from the paper's Section 3 (BN, IN, CIN: Eqs. 1-7) and Section 5 (AdaIN: Eq. 8).

Shapes follow PyTorch: ``x`` is ``[N, C, H, W]``. ``calc_mean_std`` is the statistic AdaIN uses,
exactly as the reference code computes it (``pytorch-AdaIN/function.py``): per sample and channel over
H x W, with the *unbiased* variance plus ``eps = 1e-5`` under the square root. The teaching layers
``batch_norm`` and ``instance_norm`` use the *biased* variance, as ``torch.nn.BatchNorm2d`` and
``torch.nn.InstanceNorm2d`` do when they normalize.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .errors import UserError

__all__ = [
    "EPS",
    "ConditionalInstanceNorm2d",
    "adaptive_instance_norm",
    "adaptive_instance_norm_from_stats",
    "batch_norm",
    "calc_mean_std",
    "instance_norm",
    "relative_difference",
    "varying_channels",
]

#: The epsilon of the reference implementation (added to the variance).
EPS = 1e-5


def _check_4d(x: Tensor, what: str) -> None:
    if x.dim() != 4:
        raise UserError(f"{what} must be a 4-D feature map [N, C, H, W], got shape {tuple(x.shape)}")


def calc_mean_std(feat: Tensor, eps: float = EPS) -> tuple[Tensor, Tensor]:
    """Per-sample, per-channel mean and standard deviation over H x W: mu(x) and sigma(x) of Eqs. 5-6.

    Returns two tensors of shape ``[N, C, 1, 1]``. As in the reference code the variance is unbiased
    (divided by H*W - 1) and ``eps`` is added before the square root. A map with a single spatial
    position has no defined unbiased variance; rather than return NaN silently this raises
    :class:`UserError` (use a larger image: the encoder output at relu4_1 is 1/8 of the input).
    """
    _check_4d(feat, "feat")
    n, c, h, w = feat.shape
    if h * w < 2:
        raise UserError(
            f"feature map is {h}x{w}: a standard deviation needs at least 2 positions; "
            "use a larger image (at least 16 px per side)"
        )
    flat = feat.reshape(n, c, -1)
    var = flat.var(dim=2, unbiased=True) + eps
    return flat.mean(dim=2).view(n, c, 1, 1), var.sqrt().view(n, c, 1, 1)


def adaptive_instance_norm_from_stats(content: Tensor, style_mean: Tensor, style_std: Tensor) -> Tensor:
    """AdaIN (Eq. 8) with precomputed style statistics: sigma(y) (x - mu(x)) / sigma(x) + mu(y).

    ``style_mean`` and ``style_std`` are ``[N or 1, C, 1, 1]`` and broadcast over the content batch.
    """
    c_mean, c_std = calc_mean_std(content)
    return (content - c_mean) / c_std * style_std + style_mean


def adaptive_instance_norm(content: Tensor, style: Tensor) -> Tensor:
    """AdaIN (Eq. 8): align the channel-wise mean and std of ``content`` features to those of ``style``.

    ``AdaIN(x, y) = sigma(y) * (x - mu(x)) / sigma(x) + mu(y)``. It has no learnable parameters. The
    two maps may differ in H x W; the batch of ``style`` must be 1 or that of ``content``.
    """
    _check_4d(style, "style")
    if content.dim() == 4 and content.shape[1] != style.shape[1]:
        raise UserError(f"content has {content.shape[1]} channels but style has {style.shape[1]}")
    s_mean, s_std = calc_mean_std(style)
    return adaptive_instance_norm_from_stats(content, s_mean, s_std)


def _affine(x: Tensor, gamma: Tensor | None, beta: Tensor | None) -> Tensor:
    if gamma is not None:
        x = x * gamma.view(1, -1, 1, 1)
    if beta is not None:
        x = x + beta.view(1, -1, 1, 1)
    return x


def batch_norm(x: Tensor, gamma: Tensor | None = None, beta: Tensor | None = None, eps: float = EPS) -> Tensor:
    """Batch normalization in training mode (Eqs. 1-3): statistics per channel over N, H and W.

    ``gamma`` and ``beta`` (shape ``[C]``) are the affine parameters; the variance is biased.
    """
    _check_4d(x, "x")
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
    return _affine((x - mean) / torch.sqrt(var + eps), gamma, beta)


def instance_norm(x: Tensor, gamma: Tensor | None = None, beta: Tensor | None = None, eps: float = EPS) -> Tensor:
    """Instance normalization (Eqs. 4-6): statistics per sample and channel over H and W.

    ``gamma`` and ``beta`` (shape ``[C]``) are the affine parameters; the variance is biased.
    """
    _check_4d(x, "x")
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = x.var(dim=(2, 3), keepdim=True, unbiased=False)
    return _affine((x - mean) / torch.sqrt(var + eps), gamma, beta)


class ConditionalInstanceNorm2d(nn.Module):
    """Conditional instance normalization (Eq. 7; Dumoulin et al. 2017): one gamma^s, beta^s per style.

    For ``num_features`` F and ``num_styles`` S it holds 2 * F * S parameters. ``forward(x, style)``
    takes ``style`` as an int, a LongTensor ``[N]`` of style indices, or a float tensor ``[N, S]`` (or
    ``[S]``) of mixing weights, which interpolates the affine parameters between styles.
    """

    def __init__(self, num_features: int, num_styles: int, eps: float = EPS) -> None:
        super().__init__()
        if num_features < 1 or num_styles < 1:
            raise UserError("ConditionalInstanceNorm2d needs num_features >= 1 and num_styles >= 1")
        self.num_features, self.num_styles, self.eps = num_features, num_styles, eps
        self.gamma = nn.Parameter(torch.ones(num_styles, num_features))
        self.beta = nn.Parameter(torch.zeros(num_styles, num_features))

    def forward(self, x: Tensor, style: int | Tensor) -> Tensor:
        _check_4d(x, "x")
        n = x.shape[0]
        if isinstance(style, int) or (isinstance(style, Tensor) and not style.is_floating_point()):
            idx = torch.as_tensor(style, device=x.device).long().reshape(-1).expand(n)
            if bool(((idx < 0) | (idx >= self.num_styles)).any()):
                raise UserError(f"style index out of range: there are {self.num_styles} styles")
            gamma, beta = self.gamma[idx], self.beta[idx]
        else:
            w = style.to(x.dtype).reshape(-1, self.num_styles).expand(n, -1)
            gamma, beta = w @ self.gamma, w @ self.beta
        normalized = instance_norm(x, eps=self.eps)
        return normalized * gamma.view(n, -1, 1, 1) + beta.view(n, -1, 1, 1)

    def extra_repr(self) -> str:
        return f"{self.num_features}, num_styles={self.num_styles}"


def varying_channels(*feats: Tensor, eps: float = EPS, factor: float = 100.0) -> Tensor:
    """The channels (a boolean ``[C]``) whose variance over H x W is above ``factor * eps`` in every sample
    of every one of ``feats``: where a normalization's epsilon (Eq. 6) is negligible. In a channel whose
    variance is near ``eps`` the division is dominated by ``eps`` and "IN removes the style" holds only
    approximately; with ``factor = 100`` the relative error from ``eps`` is under 0.5 % (``eps / 2 var``)."""
    if not feats:
        raise UserError("varying_channels needs at least one feature map")
    live = None
    for f in feats:
        _check_4d(f, "each feature map")
        ok = (f.var(dim=(2, 3)) > factor * eps).all(dim=0)
        live = ok if live is None else live & ok.to(live.device)
    return live


def relative_difference(a: Tensor, b: Tensor, channels: Tensor | None = None) -> float:
    """``max |a - b| / max |a|`` over the ``channels`` (a boolean mask over dimension 1; all by default): a
    closeness that does not depend on the scale of the activations, for checks such as "after IN the two
    styles give the same features" (``relative_difference(instance_norm(t_a), instance_norm(t_b),
    varying_channels(f_c, f_a, f_b)) < 1e-2``). ``0.0`` when both are zero; ``inf`` when only ``a`` is."""
    if a.shape != b.shape:
        raise UserError(f"relative_difference needs equal shapes, got {tuple(a.shape)} and {tuple(b.shape)}")
    if channels is not None:
        a, b = a[:, channels.to(a.device)], b[:, channels.to(b.device)]
    if a.numel() == 0:
        raise UserError("relative_difference: no channels selected (none varies enough): use larger images")
    diff, size = float((a - b).abs().max()), float(a.abs().max())
    if size == 0.0:
        return 0.0 if diff == 0.0 else float("inf")
    return diff / size
