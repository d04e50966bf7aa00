"""Colour preservation (Section 7.3, Fig. 9): give the style image the colour statistics of the content.

The paper gives no formula, only: "we first match the color distribution of the style image to that of
the content image (similar to [17]), then perform a normal style transfer using the color-aligned style
image as the style input" ([17]: Gatys et al., *Controlling perceptual factors*, CVPR 2017).

Two linear colour maps live here, both "CORAL-like" (correlation alignment):

- :func:`coral` is **the authors' code's** ``coral`` (AdaIN-style's ``lib/utils.lua``; pytorch-AdaIN's
  ``util.coral`` is the same): each colour channel of both images is standardised (mean 0, unbiased std 1);
  with ``F`` the 3 x N matrix of standardised pixels, ``C = F F^T + I`` (not divided by the pixel count);
  the style's standardised pixels are mapped by ``C_t^{1/2} C_s^{-1/2}`` (square roots by SVD), then given
  the content's per-channel std and mean. Because ``C`` grows with the pixel count, the result's spread is
  scaled by about ``sqrt(N_content / N_style)`` when the two images differ in size, and the ``+ I``
  regulariser's weight depends on the sizes.
- :func:`match_color` is **ours** (what :meth:`adain_lesson.model.StyleTransfer.stylize` uses for
  ``preserve_color``): on the raw pixels, with covariances divided by the pixel count plus ``eps * I``,

      x' = Sigma_t^{1/2} Sigma_s^{-1/2} (x - mu_s) + mu_t

  so the transformed style image has the content's mean and 3x3 covariance whatever the sizes (up to
  ``eps``). It is a different linear map from the authors': both satisfy ``A Sigma_s A^T = Sigma_t`` (the
  authors' for equal sizes, up to the ``+ I``), and they differ by a rotation of the whitened colours.

One limit remains for both: a style whose colours are (nearly) degenerate, for example all pixels on one
line in colour space, has no variance to stretch in the missing directions, so there the result's
covariance falls short of the content's.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .errors import UserError

__all__ = ["color_stats", "coral", "match_color"]


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


def _sqrtm_svd(mat: Tensor) -> Tensor:
    u, d, v = torch.linalg.svd(mat)
    return u @ torch.diag(d.sqrt()) @ v


def coral(source: Tensor, target: Tensor) -> Tensor:
    """The authors' ``coral(source, target)`` (AdaIN-style ``lib/utils.lua``): ``source [3, H, W]`` mapped so
    that its colours take ``target``'s statistics, step by step as the Torch code does (see the module's
    docstring for how it differs from :func:`match_color`). Computed in float64 on the CPU, returned in
    ``source``'s dtype and device, not clamped (the Torch code does not clamp)."""
    for name, img in (("source", source), ("target", target)):
        if img.dim() != 3 or img.shape[0] != 3:
            raise UserError(f"coral expects an RGB image [3, H, W] as {name}, got shape {tuple(img.shape)}", param=name)
    eye = torch.eye(3, dtype=torch.float64)

    def standardised(img: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        flat = img.detach().reshape(3, -1).cpu().double()
        mean, std = flat.mean(1, keepdim=True), flat.std(1, keepdim=True)  # unbiased, as Torch's std
        return (flat - mean) / std, mean, std

    s_norm, _, _ = standardised(source)
    t_norm, t_mean, t_std = standardised(target)
    s_cov_eye = s_norm @ s_norm.T + eye
    t_cov_eye = t_norm @ t_norm.T + eye
    moved = _sqrtm_svd(t_cov_eye) @ torch.linalg.inv(_sqrtm_svd(s_cov_eye)) @ s_norm
    out = moved * t_std + t_mean
    return out.reshape(source.shape).to(source.device, source.dtype)
