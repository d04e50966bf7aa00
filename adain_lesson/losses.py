"""Losses for style transfer, each citing its equation.

- :func:`content_loss`: AdaIN's Eq. 12, ``L_c = || f(g(t)) - t ||_2`` (and Gatys et al.'s content loss).
- :func:`mean_std_loss`: AdaIN's Eq. 13, the style loss on channel means and standard deviations.
- :func:`gram_matrix` and :func:`gram_style_loss`: Gatys et al. (CVPR 2016) Eqs. 3-5.
- :func:`tv_loss`: total variation, an optional smoothness prior.

``reduction`` chooses between the PyTorch port's mean squared error (``"mse"``, the default, as
``nn.MSELoss``) and the plain sum of squares (``"sum"``). Loss weights belong to the caller (see
``adain_lesson.train``'s hyper-parameters for the values of each reference).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from .errors import UserError
from .norms import calc_mean_std

__all__ = [
    "ContentLoss",
    "GramStyleLoss",
    "MeanStdStyleLoss",
    "content_loss",
    "gram_matrix",
    "gram_style_loss",
    "mean_std_loss",
    "tv_loss",
]


def _reduce(diff_sq: Tensor, reduction: str) -> Tensor:
    if reduction == "mse":
        return diff_sq.mean()
    if reduction == "sum":
        return diff_sq.sum()
    raise UserError(f"unknown reduction {reduction!r}: use 'mse' or 'sum'")


def _same_shape(a: Tensor, b: Tensor, what: str) -> None:
    if a.shape != b.shape and b.shape[0] != 1:
        raise UserError(f"{what}: shapes {tuple(a.shape)} and {tuple(b.shape)} differ")


def content_loss(features: Tensor, target: Tensor, reduction: str = "mse") -> Tensor:
    """Squared distance between feature maps (AdaIN Eq. 12; Gatys et al. Eq. 1 with ``reduction="sum"``
    and a factor 1/2)."""
    _same_shape(features, target, "content_loss")
    return _reduce((features - target) ** 2, reduction)


def mean_std_loss(features: Sequence[Tensor], targets: Sequence[Tensor], reduction: str = "mse") -> Tensor:
    """AdaIN's style loss (Eq. 13): sum over layers i of ``||mu(phi_i(g(t))) - mu(phi_i(s))||^2 +
    ||sigma(phi_i(g(t))) - sigma(phi_i(s))||^2``, with mu and sigma from :func:`~adain_lesson.norms.calc_mean_std`.

    ``features`` and ``targets`` are lists of maps at the same layers (relu1_1 ... relu4_1 in the paper).
    As in the PyTorch port, each term is a mean squared error (``reduction="mse"``).
    """
    if len(features) != len(targets) or not features:
        raise UserError(f"mean_std_loss needs matching, non-empty layer lists ({len(features)} vs {len(targets)})")
    total = features[0].new_zeros(())
    for f, t in zip(features, targets):
        f_mean, f_std = calc_mean_std(f)
        t_mean, t_std = calc_mean_std(t)
        total = total + _reduce((f_mean - t_mean) ** 2, reduction) + _reduce((f_std - t_std) ** 2, reduction)
    return total


def gram_matrix(features: Tensor, normalize: bool = False) -> Tensor:
    """Gram matrix ``G_ij = sum_k F_ik F_jk`` of ``[N, C, H, W]`` features (Gatys et al. Eq. 3): ``[N, C, C]``.

    With ``normalize=True`` it is divided by ``C * H * W`` (a common, size-independent scaling).
    """
    if features.dim() != 4:
        raise UserError(f"gram_matrix expects [N, C, H, W], got shape {tuple(features.shape)}")
    n, c, h, w = features.shape
    flat = features.reshape(n, c, h * w)
    gram = flat @ flat.transpose(1, 2)
    return gram / (c * h * w) if normalize else gram


def gram_style_loss(features: Sequence[Tensor], target_grams: Sequence[Tensor],
                    weights: Sequence[float] | None = None) -> Tensor:
    """Gatys et al.'s style loss (Eqs. 4-5): ``sum_l w_l E_l`` with ``E_l = 1/(4 N_l^2 M_l^2) sum (G - A)^2``.

    ``N_l`` is the number of channels and ``M_l = H * W`` of layer l; ``target_grams`` are the style's
    unnormalised Gram matrices (:func:`gram_matrix`). ``weights`` defaults to equal weights 1/L.
    """
    if len(features) != len(target_grams) or not features:
        raise UserError("gram_style_loss needs matching, non-empty lists of features and target Gram matrices")
    weights = weights if weights is not None else [1.0 / len(features)] * len(features)
    total = features[0].new_zeros(())
    for f, a, w in zip(features, target_grams, weights):
        _, c, h, wd = f.shape
        g = gram_matrix(f)
        total = total + w * ((g - a) ** 2).sum() / (4.0 * c**2 * (h * wd) ** 2) / f.shape[0]
    return total


def tv_loss(img: Tensor) -> Tensor:
    """Total variation: mean absolute difference between neighbouring pixels (a smoothness prior)."""
    dh = (img[..., 1:, :] - img[..., :-1, :]).abs().mean()
    dw = (img[..., :, 1:] - img[..., :, :-1]).abs().mean()
    return dh + dw


class ContentLoss(nn.Module):
    """:func:`content_loss` against a fixed target, as a small module (PyTorch-tutorial style)."""

    def __init__(self, target: Tensor, reduction: str = "mse") -> None:
        super().__init__()
        self.register_buffer("target", target.detach())
        self.reduction = reduction

    def forward(self, features: Tensor) -> Tensor:
        return content_loss(features, self.target, self.reduction)


class GramStyleLoss(nn.Module):
    """:func:`gram_style_loss` against fixed style features; the targets' Gram matrices are computed once."""

    def __init__(self, style_features: Sequence[Tensor], weights: Sequence[float] | None = None) -> None:
        super().__init__()
        self.targets = [gram_matrix(f.detach()) for f in style_features]
        self.weights = weights

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        return gram_style_loss(features, self.targets, self.weights)


class MeanStdStyleLoss(nn.Module):
    """:func:`mean_std_loss` (Eq. 13) against fixed style features."""

    def __init__(self, style_features: Sequence[Tensor], reduction: str = "mse") -> None:
        super().__init__()
        self.targets = [f.detach() for f in style_features]
        self.reduction = reduction

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        return mean_std_loss(features, self.targets, self.reduction)


