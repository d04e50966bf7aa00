"""Colour preservation (Section 7.3, Fig. 9): give the style image the colour statistics of the content.

The paper gives no formula, only: "we first match the color distribution of the style image to that of
the content image (similar to [17]), then perform a normal style transfer using the color-aligned style
image as the style input" ([17]: Gatys et al., *Controlling perceptual factors*, CVPR 2017). The transform
used here is the one of the authors' code (``coral``, "correlation alignment", in AdaIN-style's
``lib/utils.lua``, ported as pytorch-AdaIN's ``util.coral``): before encoding, the style image's pixels are
linearly transformed so that their mean and 3x3 colour covariance equal the content's,

    x' = Sigma_t^{1/2} Sigma_s^{-1/2} (x - mu_s) + mu_t

The reference code (AdaIN-style's ``coral``, and pytorch-AdaIN ``util.coral``) forms its "covariances" as
``F F^T + I`` of per-channel-standardised pixels *without dividing by the pixel count*, so its result is scaled by
sqrt(N_content / N_style) whenever the two images differ in size, and the ``+ I`` regulariser's
strength depends on the image size. Here the covariances are divided by the pixel count and a small
``eps * I`` keeps them invertible: the transformed style image's statistics match the content's
whatever the sizes (up to ``eps``). One limit remains: a style whose colours are (nearly) degenerate, for
example all pixels on one line in colour space, has no variance to stretch in the missing directions, so
there the result's covariance falls short of the content's.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .errors import UserError

__all__ = ["color_stats", "match_color"]


def color_stats(img: Tensor, eps: float = 1e-5) -> tuple[Tensor, Tensor]:
    """Mean ``[3]`` and covariance ``[3, 3]`` (divided by the pixel count, plus ``eps * I``) of ``[3, H, W]``,
    in float64 on the CPU."""
    if img.dim() != 3 or img.shape[0] != 3:
        raise UserError(f"expected an RGB image [3, H, W], got shape {tuple(img.shape)}")
    flat = img.detach().reshape(3, -1).cpu().double()  # float64 on the CPU: MPS has neither float64 nor eigh
    mean = flat.mean(1)
    centred = flat - mean[:, None]
    cov = centred @ centred.T / flat.shape[1] + eps * torch.eye(3, dtype=flat.dtype, device=flat.device)
    return mean, cov


def _sqrtm(cov: Tensor, inverse: bool = False) -> Tensor:
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(1e-12)
    power = -0.5 if inverse else 0.5
    return vecs @ torch.diag(vals.pow(power)) @ vecs.T


def match_color(source: Tensor, target: Tensor, eps: float = 1e-5, clamp: bool = True) -> Tensor:
    """Return ``source`` with the colour mean and covariance of ``target``.

    For colour preservation pass ``source=style, target=content``. Both are ``[3, H, W]`` (any sizes)
    or ``[N, 3, H, W]`` batches (a batch of 1 broadcasts). The result is clamped to [0, 1] unless
    ``clamp=False``.
    """
    if source.dim() == 4 or target.dim() == 4:
        s = source if source.dim() == 4 else source[None]
        t = target if target.dim() == 4 else target[None]
        n = max(s.shape[0], t.shape[0])
        if s.shape[0] not in (1, n) or t.shape[0] not in (1, n):
            raise UserError(f"batch sizes {s.shape[0]} and {t.shape[0]} do not match")
        return torch.stack(
            [match_color(s[min(i, s.shape[0] - 1)], t[min(i, t.shape[0] - 1)], eps, clamp) for i in range(n)]
        )
    mu_s, cov_s = color_stats(source, eps)
    mu_t, cov_t = color_stats(target, eps)
    transform = (_sqrtm(cov_t) @ _sqrtm(cov_s, inverse=True)).to(source.device, source.dtype)
    shift = (mu_t - transform.double().cpu() @ mu_s).to(source.device, source.dtype)
    out = (transform @ source.reshape(3, -1) + shift[:, None]).reshape(source.shape)
    return out.clamp(0, 1) if clamp else out
