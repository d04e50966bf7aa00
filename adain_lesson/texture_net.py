"""A small feed-forward single-style network and the experiment of the AdaIN paper's Fig. 1.

Section 4 of Huang & Belongie (2017) asks why instance normalization (IN, Eqs. 4-6) beats batch
normalization (BN, Eqs. 1-3) in feed-forward stylization networks (Ulyanov et al.'s texture networks).
Fig. 1 trains one single-style network with IN and one with BN on three versions of the content set:

(a) the original images: "the model with IN converges faster than the BN model";
(b) contrast-normalized images: "IN remains effective", so IN does more than contrast normalization;
(c) images style-normalized (the paper: by "a pretrained style transfer network provided by [24]"; here by
    the AdaIN model itself, our choice): "the improvement brought by IN become much smaller", which the
    paper reads as "IN does perform a kind of style normalization".

This module provides :class:`TextureNet` (an encoder / residual / decoder generator with ``norm="instance"``
or ``"batch"``), :func:`train_texture_net` (a content loss against the content's own features, as in Gatys et al.,
not Eq. 12's t, plus a style loss, Gram (Gatys et al.) or mean/std (Eq. 13), returning the style-loss curve),
:func:`equalize_luminance` (the paper's contrast normalization: "performing histogram equalization on the
luminance channel") and :func:`content_sets` (the three versions of a content set). Batches must hold more
than one image: BN over a batch of one computes exactly IN's statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import UserError
from .losses import GramStyleLoss, MeanStdStyleLoss, content_loss
from .model import StyleTransfer
from .vgg import ADAIN_STYLE_LAYERS, Encoder

__all__ = [
    "NORMS",
    "STYLE_LOSSES",
    "TextureNet",
    "TextureNetHistory",
    "content_sets",
    "equalize_luminance",
    "luminance",
    "train_texture_net",
]

NORMS = ("instance", "batch")
STYLE_LOSSES = ("mean_std", "gram")


def _norm_layer(norm: str, channels: int) -> nn.Module:
    if norm == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if norm == "batch":
        return nn.BatchNorm2d(channels)
    raise UserError(f"unknown norm {norm!r}: use 'instance' or 'batch'")


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.ReflectionPad2d(k // 2), nn.Conv2d(cin, cout, k, stride=stride))


class _Residual(nn.Module):
    def __init__(self, channels: int, norm: str) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(channels, channels, 3), _norm_layer(norm, channels), nn.ReLU(inplace=True),
            _conv(channels, channels, 3), _norm_layer(norm, channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class TextureNet(nn.Module):
    """A feed-forward stylization generator (texture-networks / Johnson et al. layout), one style per network.

    Conv 9x9 -> two stride-2 convs -> ``n_residual`` residual blocks -> two (upsample, conv) -> conv 9x9
    -> sigmoid, with a normalization layer after every conv but the last: ``norm="instance"`` (IN,
    Eqs. 4-6, with affine gamma/beta) or ``"batch"`` (BN, Eqs. 1-3). Input and output are RGB in [0, 1],
    ``[N, 3, H, W]`` with H and W multiples of 4.
    """

    def __init__(self, norm: str = "instance", width: int = 16, n_residual: int = 3) -> None:
        super().__init__()
        if norm not in NORMS:
            raise UserError(f"unknown norm {norm!r}: use 'instance' or 'batch'")
        if width < 1 or n_residual < 0:
            raise UserError("TextureNet needs width >= 1 and n_residual >= 0")
        self.norm = norm
        w = width
        layers: list[nn.Module] = [
            _conv(3, w, 9), _norm_layer(norm, w), nn.ReLU(inplace=True),
            _conv(w, 2 * w, 3, 2), _norm_layer(norm, 2 * w), nn.ReLU(inplace=True),
            _conv(2 * w, 4 * w, 3, 2), _norm_layer(norm, 4 * w), nn.ReLU(inplace=True),
        ]
        layers += [_Residual(4 * w, norm) for _ in range(n_residual)]
        layers += [
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(4 * w, 2 * w, 3), _norm_layer(norm, 2 * w),
            nn.ReLU(inplace=True),
            nn.Upsample(scale_factor=2, mode="nearest"), _conv(2 * w, w, 3), _norm_layer(norm, w),
            nn.ReLU(inplace=True),
            _conv(w, 3, 9), nn.Sigmoid(),
        ]
        self.body = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[-1] % 4 or x.shape[-2] % 4:
            raise UserError(f"TextureNet expects [N, 3, H, W] with H and W multiples of 4, got {tuple(x.shape)}")
        return self.body(x)


@dataclass
class TextureNetHistory:
    """Per-step losses of a :func:`train_texture_net` run (``style_loss`` unweighted, as Fig. 1 plots it)."""

    norm: str
    style_loss: list[float] = field(default_factory=list)
    content_loss: list[float] = field(default_factory=list)


def train_texture_net(
    net: TextureNet,
    contents: Tensor,
    style: Tensor,
    encoder: Encoder,
    *,
    steps: int = 100,
    batch_size: int = 4,
    lr: float = 1e-3,
    style_loss: str = "mean_std",
    style_weight: float = 10.0,
    content_weight: float = 1.0,
    style_layers: Sequence[str] = ADAIN_STYLE_LAYERS,
    content_layer: str = "relu4_1",
    seed: int = 0,
) -> TextureNetHistory:
    """Train ``net`` to stylize ``contents [N, 3, H, W]`` with one ``style`` image; return the loss curves.

    The objective is ``content_weight * L_c + style_weight * L_s`` with the content loss
    ``||phi(out) - phi(c)||^2`` at ``content_layer`` against the content's own features (Gatys et al.'s and
    the texture networks' content loss; not AdaIN's Eq. 12, whose target is t = AdaIN(f(c), f(s))) and
    ``style_loss`` either ``"mean_std"`` (Eq. 13) or ``"gram"`` (Gatys et al. Eqs. 3-5) over ``style_layers``
    of the frozen ``encoder``.
    Each step draws ``batch_size`` (> 1) contents at random (seeded). Runs on ``net``'s device.
    """
    if batch_size < 2:
        raise UserError("batch_size must be at least 2: batch normalization over one image equals instance norm")
    if contents.dim() != 4 or contents.shape[0] < 1:
        raise UserError(f"contents must be a batch [N, 3, H, W], got shape {tuple(contents.shape)}")
    if style_loss not in STYLE_LOSSES:
        raise UserError(f"unknown style_loss {style_loss!r}: use 'mean_std' or 'gram'")
    device = next(net.parameters()).device
    encoder = encoder.to(device)
    style = (style.unsqueeze(0) if style.dim() == 3 else style).to(device)
    layers = list(style_layers)
    with torch.no_grad():
        style_feats = encoder.features(style, layers)
    if style_loss == "gram":
        criterion: nn.Module = GramStyleLoss(style_feats)
    else:
        criterion = MeanStdStyleLoss(style_feats)
    all_layers = layers + ([content_layer] if content_layer not in layers else [])
    c_index = all_layers.index(content_layer)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    hist = TextureNetHistory(net.norm)
    net.train()
    for _ in range(steps):
        idx = torch.randint(0, contents.shape[0], (batch_size,), generator=gen)
        batch = contents[idx].to(device)
        with torch.no_grad():
            target = encoder.features(batch, [content_layer])[0]
        feats = encoder.features(net(batch), all_layers)
        l_s = criterion(feats[: len(layers)])  # one style target, broadcast over the batch
        l_c = content_loss(feats[c_index], target)
        loss = content_weight * l_c + style_weight * l_s
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        hist.style_loss.append(float(l_s.detach()))
        hist.content_loss.append(float(l_c.detach()))
    return hist


# ------------------------------------------------------------------------------- content sets
def luminance(img: Tensor) -> Tensor:
    """ITU-R BT.601 luma ``Y = 0.299 R + 0.587 G + 0.114 B`` of ``[..., 3, H, W]``: ``[..., H, W]``."""
    if img.dim() < 3 or img.shape[-3] != 3:
        raise UserError(f"expected an RGB image [..., 3, H, W], got shape {tuple(img.shape)}")
    r, g, b = img.unbind(-3)
    return 0.299 * r + 0.587 * g + 0.114 * b


def equalize_luminance(img: Tensor, levels: int = 256) -> Tensor:
    """Contrast normalization for Fig. 1(b): histogram-equalize each image's luminance, keep its chroma.

    ``img`` is ``[3, H, W]`` or ``[N, 3, H, W]`` in [0, 1]. The luma Y (BT.601) is quantized to
    ``levels`` bins and mapped through its cumulative histogram, ``Y' = (cdf(Y) - cdf_min) / (n - cdf_min)``,
    so Y' is spread evenly over [0, 1] while the order of pixel brightness is kept; Cb and Cr are
    unchanged. Returns the same shape, clamped to [0, 1].
    """
    batched = img.dim() == 4
    x = img if batched else img.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] != 3:
        raise UserError(f"equalize_luminance expects [3, H, W] or [N, 3, H, W], got shape {tuple(img.shape)}")
    y = luminance(x)
    cb = (x[:, 2] - y) * 0.564
    cr = (x[:, 0] - y) * 0.713
    n = y[0].numel()
    q = (y.clamp(0, 1) * (levels - 1)).round().long().reshape(x.shape[0], -1)
    out_y = torch.empty_like(y)
    for i in range(x.shape[0]):
        hist = torch.bincount(q[i], minlength=levels).to(y.dtype)
        cdf = hist.cumsum(0)
        cdf_min = cdf[hist > 0][0]
        lut = ((cdf - cdf_min) / max(float(n - cdf_min), 1.0)).clamp(0, 1)
        out_y[i] = lut[q[i]].reshape(y.shape[1:])
    r = out_y + cr / 0.713
    b = out_y + cb / 0.564
    g = (out_y - 0.299 * r - 0.114 * b) / 0.587
    out = torch.stack([r, g, b], dim=1).clamp(0, 1)
    return out if batched else out[0]


def content_sets(contents: Tensor, model: StyleTransfer, style: Tensor, chunk: int = 4) -> dict[str, Tensor]:
    """The three content sets of Fig. 1: ``original``, ``contrast_normalized`` (:func:`equalize_luminance`)
    and ``style_normalized`` (every image stylized to the one ``style`` by the AdaIN ``model``, Eq. 10).

    ``contents`` is ``[N, 3, H, W]`` in [0, 1]; every set has that shape, on the contents' device.
    """
    if contents.dim() != 4 or contents.shape[1] != 3:
        raise UserError(f"contents must be a batch [N, 3, H, W], got shape {tuple(contents.shape)}")
    styled = []
    with torch.no_grad():
        stats = model.encode_style(style.unsqueeze(0) if style.dim() == 3 else style)
        for part in contents.split(chunk):
            out = model.stylize(part, stats).clamp(0, 1)
            if out.shape[-2:] != part.shape[-2:]:
                out = F.interpolate(out, size=part.shape[-2:], mode="bilinear", align_corners=False)
            styled.append(out.to(contents.device))
    return {
        "original": contents,
        "contrast_normalized": equalize_luminance(contents),
        "style_normalized": torch.cat(styled),
    }
