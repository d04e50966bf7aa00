"""Losses for style transfer, each citing its equation.

- :func:`content_loss`: AdaIN's Eq. 12, ``L_c = || f(g(t)) - t ||_2`` (and Gatys et al.'s content loss).
- :func:`mean_std_loss`: AdaIN's Eq. 13, the style loss on channel means and standard deviations
  (:func:`mean_std_loss_from_stats` takes the style's statistics precomputed once).
- :func:`gram_matrix` and :func:`gram_style_loss`: Gatys et al. (CVPR 2016) Eqs. 3-5.
- :func:`tv_loss`: total variation, an optional smoothness prior.
- :func:`adain_targets` and :func:`adain_losses`: AdaIN's objective, Eqs. 12-13 on VGG features, the one
  helper behind training (:func:`adain_lesson.train.training_losses`) and evaluation
  (:func:`adain_lesson.evaluation.evaluate_losses`).

``reduction`` chooses between the PyTorch port's mean squared error (``"mse"``, the default, as
``nn.MSELoss``) and the plain sum of squares (``"sum"``). Loss weights belong to the caller (see
``adain_lesson.train``'s hyper-parameters for the values of each reference).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from .errors import UserError
from .norms import adaptive_instance_norm, calc_mean_std
from .vgg import ADAIN_STYLE_LAYERS, Encoder

__all__ = [
    "ContentLoss",
    "adain_losses",
    "adain_targets",
    "GramStyleLoss",
    "MeanStdStyleLoss",
    "content_loss",
    "gram_matrix",
    "gram_style_loss",
    "mean_std_loss",
    "mean_std_loss_from_stats",
    "tv_loss",
]


def _reduce(diff_sq: Tensor, reduction: str) -> Tensor:
    if reduction == "mse":
        return diff_sq.mean()
    if reduction == "sum":
        return diff_sq.sum()
    raise UserError(f"unknown reduction {reduction!r}: use 'mse' or 'sum'")


def _same_shape(a: Tensor, b: Tensor, what: str) -> None:
    """``b`` must have ``a``'s shape, except that its batch may be 1 (one target for a whole batch)."""
    if a.dim() != b.dim() or a.shape[1:] != b.shape[1:] or b.shape[0] not in (1, a.shape[0]):
        raise UserError(f"{what}: shapes {tuple(a.shape)} and {tuple(b.shape)} differ; compare maps of the same layer")


def _layer_weights(weights: Sequence[float] | None, n: int, what: str) -> list[float]:
    if weights is None:
        return [1.0 / n] * n
    w = [float(x) for x in weights]
    if len(w) != n:
        raise UserError(f"{what}: {len(w)} layer weights for {n} layers: give one weight per layer")
    if any(not (x >= 0.0) or x == float("inf") for x in w):
        raise UserError(f"{what}: layer weights must be finite and non-negative, got {w}")
    return w


def content_loss(features: Tensor, target: Tensor, reduction: str = "mse") -> Tensor:
    """Squared distance between feature maps: AdaIN's Eq. 12, ``L_c = ||f(g(t)) - t||^2``, and Gatys et al.'s
    Eq. 1, ``L_content = 1/2 sum_ij (F_ij - P_ij)^2``, which is half of ``reduction="sum"``.

    ``"mse"`` (the default) averages over all elements, so its size does not grow with the image;
    ``target`` may have batch 1 and is then compared with every sample.
    """
    _same_shape(features, target, "content_loss")
    return _reduce((features - target) ** 2, reduction)


def mean_std_loss(
    features: Sequence[Tensor],
    targets: Sequence[Tensor],
    reduction: str = "mse",
    *,
    weights: Sequence[float] | None = None,
) -> Tensor:
    """AdaIN's style loss (Eq. 13): ``sum_i ||mu(phi_i(g(t))) - mu(phi_i(s))||^2 +
    ||sigma(phi_i(g(t))) - sigma(phi_i(s))||^2``, with mu and sigma from :func:`~adain_lesson.norms.calc_mean_std`.

    ``features`` and ``targets`` are lists of maps at the same layers (relu1_1 ... relu4_1 in the paper).
    As in the PyTorch port, each term is a mean squared error (``reduction="mse"``) and the layers are
    summed (``weights=None``: weight 1 each, not 1/L); ``weights`` gives one weight per layer instead.
    """
    if len(features) != len(targets) or not features:
        raise UserError(f"mean_std_loss needs matching, non-empty layer lists ({len(features)} vs {len(targets)})")
    return mean_std_loss_from_stats(features, [calc_mean_std(t) for t in targets], reduction, weights=weights)


def mean_std_loss_from_stats(
    features: Sequence[Tensor],
    target_stats: Sequence[tuple[Tensor, Tensor]],
    reduction: str = "mse",
    *,
    weights: Sequence[float] | None = None,
) -> Tensor:
    """:func:`mean_std_loss` (Eq. 13) against precomputed style statistics: ``target_stats[i]`` is the pair
    ``(mu, sigma)`` of layer i, each ``[1 or N, C, 1, 1]`` (from ``calc_mean_std``), computed once per style."""
    if len(features) != len(target_stats) or not features:
        raise UserError(
            f"mean_std_loss needs matching, non-empty layer lists ({len(features)} vs {len(target_stats)})"
        )
    w = [1.0] * len(features) if weights is None else _layer_weights(weights, len(features), "mean_std_loss")
    total = features[0].new_zeros(())
    for f, (t_mean, t_std), wi in zip(features, target_stats, w):
        f_mean, f_std = calc_mean_std(f)
        _same_shape(f_mean, t_mean, "mean_std_loss")
        total = total + wi * (_reduce((f_mean - t_mean) ** 2, reduction) + _reduce((f_std - t_std) ** 2, reduction))
    return total


def gram_matrix(features: Tensor, normalize: bool = False) -> Tensor:
    """Gram matrix ``G_ij = sum_k F_ik F_jk`` of ``[N, C, H, W]`` features (Gatys et al. Eq. 3): ``[N, C, C]``.

    ``F`` is the map flattened to ``[C, H*W]``: ``G_ij`` is the inner product of channels i and j over all
    positions, so it is symmetric and positive semi-definite, and it forgets *where* things are. For
    ``F = [[1, 2], [3, 4]]`` (C = 2 channels, 2 positions), ``G = [[5, 11], [11, 25]]``.
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
    unnormalised Gram matrices (:func:`gram_matrix`, ``[1 or N, C, C]``). ``weights`` defaults to equal
    weights 1/L, as in the paper. The normalisation makes ``E_l`` independent of the image size, so the
    style image may have another size than the optimised one. A batch gives the mean over its samples.
    """
    if len(features) != len(target_grams) or not features:
        raise UserError("gram_style_loss needs matching, non-empty lists of features and target Gram matrices")
    w = _layer_weights(weights, len(features), "gram_style_loss")
    total = features[0].new_zeros(())
    for f, a, wl in zip(features, target_grams, w):
        g = gram_matrix(f)
        _same_shape(g, a, "gram_style_loss (Gram matrices)")
        n, c, h, wd = f.shape
        total = total + wl * ((g - a) ** 2).sum() / (4.0 * c**2 * (h * wd) ** 2) / n
    return total


def tv_loss(img: Tensor) -> Tensor:
    """Total variation: mean absolute difference between neighbouring pixels (a smoothness prior).

    Not in Gatys et al.'s paper; later implementations (e.g. Johnson et al. 2016) add a small multiple of
    it to suppress high-frequency noise in the optimised image. ``img`` is ``[..., H, W]``, H, W >= 2.
    """
    if img.dim() < 2 or img.shape[-1] < 2 or img.shape[-2] < 2:
        raise UserError(f"tv_loss needs an image at least 2x2, got shape {tuple(img.shape)}")
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
    """:func:`mean_std_loss` (Eq. 13) against fixed style features; their mean and std are computed once."""

    def __init__(self, style_features: Sequence[Tensor], reduction: str = "mse") -> None:
        super().__init__()
        self.targets = [calc_mean_std(f.detach()) for f in style_features]
        self.reduction = reduction

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        return mean_std_loss_from_stats(features, self.targets, self.reduction)


def adain_targets(encoder: Encoder, content: Tensor, style: Tensor) -> tuple[Tensor, Tensor, list[Tensor]]:
    """What AdaIN's objective compares against: ``(f(c), t, [phi_i(s)])`` with ``t = AdaIN(f(c), f(s))``
    (Eq. 9) and the style's features at relu1_1 ... relu4_1 (Eq. 13). ``f(c)`` and ``t`` are float32 even
    under autocast (the variances of Eq. 8 overflow float16)."""
    style_feats = encoder.features(style, ADAIN_STYLE_LAYERS)  # phi_i(s), i = relu1_1 ... relu4_1
    f_c = encoder(content).float()
    return f_c, adaptive_instance_norm(f_c, style_feats[-1].float()), style_feats


def adain_losses(encoder: Encoder, output: Tensor, target: Tensor, style_feats: Sequence[Tensor],
                 reduction: str = "mse") -> tuple[Tensor, Tensor]:
    """``(L_c, L_s)`` of a stylized ``output``: ``L_c = || f(output) - t ||_2`` (Eq. 12, ``target`` = t) and
    ``L_s = sum_i || mu(phi_i(output)) - mu(phi_i(s)) ||_2 + || sigma(phi_i(output)) - sigma(phi_i(s)) ||_2``
    (Eq. 13, ``style_feats`` = phi_i(s) from :func:`adain_targets`), computed in float32."""
    out_feats = encoder.features(output, ADAIN_STYLE_LAYERS)  # phi_i(output); the last one is f(output)
    loss_c = content_loss(out_feats[-1].float(), target.float(), reduction)  # Eq. 12
    loss_s = mean_std_loss([f.float() for f in out_feats], [f.float() for f in style_feats], reduction)  # Eq. 13
    return loss_c, loss_s
