"""The paper's figures, made by one piece of code shared by the notebooks and ``python -m adain_lesson figures``.

Each figure function takes a :class:`~adain_lesson.model.StyleTransfer` and images (tensors ``[3, H, W]``
in [0, 1]) and returns ``(figure, settings)``: the figure as one image tensor ``[3, H, W]`` (tiles on a
white grid, see :func:`tile_grid`) and a JSON-ready dict of the settings used (including the grid's
``rows``/``cols`` and the ``tile`` size, so the layout can be checked).

- :func:`content_style_grid`: a content x style grid like Fig. 4 (Eq. 10, ``T(c, s) = g(AdaIN(f(c), f(s)))``).
- :func:`fig7_tradeoff`: the content-style trade-off, alpha = 0, 0.25, 0.5, 0.75, 1 (Eq. 14, Fig. 7).
- :func:`fig8_interpolation`: a 5 x 5 interpolation grid among four styles with bilinear weights
  (Eq. 15, Fig. 8); :func:`bilinear_weights` gives the weights (one-hot at the corners).
- :func:`fig9_preserve_color`: colour preservation (Fig. 9).
- :func:`fig10_spatial`: spatial control with a mask and two styles (Fig. 10).
- :func:`regions_figure` and :func:`band_masks`: beyond the paper, three or more regions, soft masks and
  alpha per region.
- :func:`load_inputs` gives each figure's images: the built-in samples in smoke mode (offline), or the
  paper's images via :func:`adain_lesson.hub.fetch`; :func:`make_figure` puts the two together;
  :func:`show_figures` and :func:`save_figure` show and write them.

The numbers of Section 7 (Figs. 3, 5, 6) live in :mod:`adain_lesson.evaluation`; Table 1's timing in
:mod:`adain_lesson.bench`.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from . import hub, images, viz
from .errors import UserError
from .files import atomic_write, atomic_write_text, ensure_dir
from .i18n import tr
from .model import StyleTransfer
from .norms import adaptive_instance_norm_from_stats
from .viz import image_grid
from .weights import provenance_label, weights_kind

__all__ = [
    "FIGURES",
    "FIGURE_STEMS",
    "PAPER_FIGURE_IMAGES",
    "GALLERY_PAIRS",
    "band_masks",
    "bilinear_weights",
    "content_style_grid",
    "fig7_tradeoff",
    "fig8_interpolation",
    "fig9_preserve_color",
    "fig10_spatial",
    "load_inputs",
    "make_figure",
    "paper_figure",
    "region_map",
    "regions_figure",
    "save_figure",
    "show_figures",
    "tile_grid",
]

#: The figures :func:`make_figure` (and the CLI) can make.
FIGURES = ("4", "7", "8", "9", "10", "regions")
#: File names (without extension) the CLI writes for each figure.
FIGURE_STEMS = {"4": "fig04_content_style_grid", "7": "fig07_alpha_tradeoff", "8": "fig08_style_interpolation",
                "9": "fig09_preserve_color", "10": "fig10_spatial_control", "regions": "beyond_regions"}

#: The paper's own figure images (manifest names), to show beside ours.
PAPER_FIGURE_IMAGES = {
    "2": "architecture.jpg",
    "7": "style_weight.jpg",
    "8": "style_interp.jpg",
    "9": "newyork_brushstrokes_preservecolor.jpg",
    "10": "spatial_control.jpg",
}

#: The original repository's gallery pairs (content, style, its result): the content x style examples.
GALLERY_PAIRS = (
    ("chicago.jpg", "asheville.jpg", "chicago_stylized_asheville.jpg"),
    ("cornell.jpg", "woman_with_hat_matisse.jpg", "cornell_stylized_woman_with_hat_matisse.jpg"),
    ("modern.jpg", "goeritz.jpg", "modern_stylized_goeritz.jpg"),
    ("sailboat.jpg", "sketch.png", "sailboat_stylized_sketch.jpg"),
    ("lenna.jpg", "en_campo_gris.jpg", "lenna_stylized_en_campo_gris.jpg"),
    ("avril.jpg", "impronte_d_artista.jpg", "avril_stylized_impronte_d_artista.jpg"),
)

# Inputs per figure: the paper's (manifest names, as in the original repository's README commands) and the
# built-in samples used in smoke mode. "size" None keeps the original size (the README's -contentSize 0).
_PAPER = {
    "4": {"contents": ["chicago.jpg", "cornell.jpg", "modern.jpg", "sailboat.jpg"],
          "styles": ["asheville.jpg", "woman_with_hat_matisse.jpg", "goeritz.jpg", "sketch.png", "en_campo_gris.jpg"],
          "size": 512, "crop": True, "style_size": 512},
    "7": {"content": "chicago.jpg", "style": "asheville.jpg", "size": 512, "crop": True, "style_size": 512},
    "8": {"content": "avril.jpg",
          "styles": ["picasso_self_portrait.jpg", "impronte_d_artista.jpg", "trial.jpg", "antimonocromatismo.jpg"],
          "size": 512, "crop": True, "style_size": 512},
    "9": {"content": "newyork.jpg", "style": "brushstrokes.jpg", "size": None, "crop": False, "style_size": None},
    "10": {"content": "blonde_girl.jpg", "mask": "mask.png",
           "styles": ["woman_in_peasant_dress_cropped.jpg", "mondrian_cropped.jpg"],
           "size": None, "crop": False, "style_size": None},
    "regions": {"content": "blonde_girl.jpg",
                "styles": ["mondrian_cropped.jpg", "woman_in_peasant_dress_cropped.jpg", "asheville.jpg"],
                "size": 512, "crop": False, "style_size": 512},
}  # fmt: skip
_SMOKE = {
    "4": {"contents": ["grace_hopper", "house", "mountains"], "styles": ["stripes", "mosaic", "waves", "dots"]},
    "7": {"content": "grace_hopper", "style": "mosaic"},
    "8": {"content": "grace_hopper", "styles": ["stripes", "mosaic", "waves", "dots"]},
    "9": {"content": "house", "style": "dots"},
    "10": {"content": "grace_hopper", "mask": "split_mask:ellipse", "styles": ["mosaic", "stripes"]},
    "regions": {"content": "house", "styles": ["stripes", "waves", "dots"]},
}
SMOKE_SIZE = 64


# ------------------------------------------------------------------------------------------------
# Layout helpers
# ------------------------------------------------------------------------------------------------


def _fit(img: Tensor, h: int, w: int) -> Tensor:
    """Resize ``img`` to cover ``h x w`` keeping its aspect ratio, then centre-crop (for display tiles)."""
    img = viz.as_image(img)
    ih, iw = img.shape[-2:]
    scale = max(h / ih, w / iw)
    nh, nw = max(h, round(ih * scale)), max(w, round(iw * scale))
    out = F.interpolate(img[None], size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)[0]
    top, left = (nh - h) // 2, (nw - w) // 2
    return out[:, top : top + h, left : left + w].clamp(0, 1)


def _blank(h: int, w: int) -> Tensor:
    return torch.ones(3, h, w)


def _font(px: int, text: str = ""):
    """PIL's default font, or NanumGothic (the extra ``[ko]``) for a text with Hangul, which the default lacks."""
    from PIL import ImageFont

    if any("\uac00" <= ch <= "\ud7a3" or "\u3130" <= ch <= "\u318f" for ch in text):
        font = viz.korean_font_file()
        if font is not None:
            return ImageFont.truetype(str(font), px)
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1: one fixed-size bitmap font
        return ImageFont.load_default()


def text_strip(text: str, width: int, height: int) -> Tensor:
    """A white strip ``[3, height, width]`` with ``text`` in black, left-aligned and vertically centred
    (clipped at the right edge): the labels and titles drawn on the figures' images."""
    import numpy as np
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (max(1, int(width)), max(1, int(height))), "white")
    draw = ImageDraw.Draw(img)
    font = _font(max(6, int(height * 0.75)), text)
    top = draw.textbbox((0, 0), text, font=font)[1]
    text_h = draw.textbbox((0, 0), text, font=font)[3] - top
    draw.text((2, (height - text_h) / 2 - top), text, fill="black", font=font)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255.0


def label_height(tile_height: int) -> int:
    """The height of a tile's label strip: 12% of the tile, at least 9 and at most 24 px."""
    return int(min(24, max(9, round(tile_height * 0.12))))


def tile_grid(tiles: Sequence[Tensor], cols: int, padding: int = 4, *, labels: Sequence[str | None] | None = None,
              title: str | None = None) -> tuple[Tensor, dict]:
    """Lay out equal-size tiles ``cols`` per row on a white grid; returns the image and its layout.

    The grid is ``[3, rows * h + (rows + 1) * padding, cols * w + (cols + 1) * padding]``. ``labels`` (one
    per tile, ``None`` or ``""`` for none) are drawn ON each tile, in a white strip along its bottom edge
    (:func:`label_height` px high), so that a figure's tiles say what they are (alpha values, style names,
    column names) in the image itself. ``title`` adds a strip above the grid (``layout["title_height"]`` px,
    0 without one), e.g. "random weights".
    """
    if not tiles:
        raise UserError(tr("a figure needs at least one tile"))
    if labels is not None and len(labels) != len(tiles):
        raise UserError(tr("give one label per tile: {labels} labels for {tiles} tiles",
                           labels=len(labels), tiles=len(tiles)))
    h, w = tiles[0].shape[-2:]
    fitted = [_fit(t, h, w) for t in tiles]
    if labels is not None:
        lh = label_height(h)
        for i, text in enumerate(labels):
            if text:
                fitted[i] = fitted[i].clone()
                fitted[i][:, h - lh:, :] = text_strip(str(text), w, lh)
    rows = -(-len(fitted) // cols)
    grid = image_grid(fitted, nrow=cols, padding=padding)
    title_h = 0
    if title:
        title_h = max(14, label_height(h) + 6)
        grid = torch.cat([text_strip(title, grid.shape[-1], title_h), grid], dim=1)
    layout = {"rows": rows, "cols": cols, "tile": [int(h), int(w)], "padding": padding, "title_height": title_h}
    if labels is not None:
        layout["labels"] = [str(x) if x else "" for x in labels]
    return grid, layout


def random_title(model: StyleTransfer, figure: str) -> str | None:
    """The title a figure made with ``model`` carries: "Fig. N: random weights (mechanics only)" when the
    model's weights are random (smoke mode), "Fig. N: <the label>" when its encoder is not the released one
    (``vgg19-pip``: :func:`adain_lesson.weights.provenance_label`), else None (no title strip)."""
    if model.random_weights:
        if figure == "regions":
            return tr("Beyond the paper (regions): random weights (mechanics only)")
        return tr("Fig. {figure}: random weights (mechanics only)", figure=figure)
    label = provenance_label(model)
    if not label:
        return None
    name = tr("Beyond the paper (regions)") if figure == "regions" else tr("Fig. {figure}", figure=figure)
    return f"{name}: {label}"


def _input_names(names: dict | None, key: str, n: int, default: str) -> list[str]:
    """Short labels for ``n`` inputs: the file or sample names in ``names["inputs"][key]`` (without the
    extension), else ``default`` numbered."""
    given = ((names or {}).get("inputs") or {}).get(key)
    if isinstance(given, str):
        given = [given]
    if isinstance(given, (list, tuple)) and len(given) == n:
        return [Path(str(g)).stem for g in given]
    return [default if n == 1 else f"{default} {i + 1}" for i in range(n)]


def _stylize(model: StyleTransfer, content: Tensor, styles, **kwargs) -> Tensor:
    with torch.inference_mode():
        return model.stylize(content, styles, **kwargs)[0].clamp(0, 1).cpu()


def _common(model: StyleTransfer, fig: str, content: Tensor) -> dict:
    return {
        "figure": fig,
        "weights": weights_kind(model),
        "weights_label": provenance_label(model) if not model.random_weights else None,
        "device": str(model.device),
        "content_size": [int(content.shape[-2]), int(content.shape[-1])],
        "torch": torch.__version__,
    }


# ------------------------------------------------------------------------------------------------
# Figures
# ------------------------------------------------------------------------------------------------


def content_style_grid(
    model: StyleTransfer,
    contents: Sequence[Tensor],
    styles: Sequence[Tensor],
    *,
    alpha: float = 1.0,
    names: dict | None = None,
) -> tuple[Tensor, dict]:
    """A content x style grid like Fig. 4: the styles along the top row, the contents down the first
    column, and ``T(c, s)`` (Eq. 10) in each cell; ``(1 + len(contents)) x (1 + len(styles))`` tiles.

    Each style's statistics are encoded once and reused for every content (Section 7.1).
    """
    if not contents or not styles:
        raise UserError(tr("the content x style grid needs at least one content and one style"))
    h, w = contents[0].shape[-2:]
    with torch.inference_mode():
        stats = [model.encode_style(s) for s in styles]
    tiles = [_blank(h, w)] + [_fit(s, h, w) for s in styles]
    for c in contents:
        tiles.append(_fit(c, h, w))
        tiles += [_fit(_stylize(model, c, st, alpha=alpha), h, w) for st in stats]
    labels = ["", *_input_names(names, "styles", len(styles), tr("style"))]
    for c_name in _input_names(names, "contents", len(contents), tr("content")):
        labels += [c_name] + [""] * len(styles)
    grid, layout = tile_grid(tiles, cols=1 + len(styles), labels=labels, title=random_title(model, "4"))
    settings = _common(model, "4", contents[0]) | {"alpha": alpha, "layout": layout} | (names or {})
    return grid, settings


def fig7_tradeoff(
    model: StyleTransfer,
    content: Tensor,
    style: Tensor,
    alphas: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0),
    *,
    names: dict | None = None,
) -> tuple[Tensor, dict]:
    """Fig. 7: ``T = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s)))`` (Eq. 14) for each alpha, then the style.

    One row of ``len(alphas) + 1`` tiles. alpha = 0 is the decoder's reconstruction of the content.
    """
    h, w = content.shape[-2:]
    with torch.inference_mode():
        stats = model.encode_style(style)
    tiles = [_stylize(model, content, stats, alpha=a) for a in alphas] + [_fit(style, h, w)]
    labels = [f"alpha={a:g}" for a in alphas] + [_input_names(names, "style", 1, tr("style"))[0]]
    grid, layout = tile_grid(tiles, cols=len(tiles), labels=labels, title=random_title(model, "7"))
    settings = _common(model, "7", content) | {"alphas": [float(a) for a in alphas], "layout": layout,
                                               "tiles": [f"alpha={a:g}" for a in alphas] + [tr("style")]}
    return grid, settings | (names or {})


def bilinear_weights(n: int = 5) -> Tensor:
    """Interpolation weights ``[n, n, 4]`` for four styles at the grid's corners (Fig. 8, Eq. 15).

    Corner order: top-left, top-right, bottom-left, bottom-right. Cell (i, j) with ``y = i / (n - 1)``,
    ``x = j / (n - 1)`` gets ``[(1 - x)(1 - y), x (1 - y), (1 - x) y, x y]``: non-negative, summing to
    1, and one-hot at the corners (each corner is that style alone). The bilinear scheme is our choice: the
    paper's Fig. 8 caption says only "By feeding the decoder with a convex combination of feature maps
    transferred to different styles via AdaIN (Equ. 15), we can interpolate between arbitrary new styles".
    """
    if n < 2:
        raise UserError(tr("the interpolation grid needs at least 2 x 2 cells, got n={n}", n=n))
    t = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
    y, x = torch.meshgrid(t, t, indexing="ij")
    return torch.stack([(1 - x) * (1 - y), x * (1 - y), (1 - x) * y, x * y], dim=-1)


def fig8_interpolation(
    model: StyleTransfer,
    content: Tensor,
    styles: Sequence[Tensor],
    n: int = 5,
    *,
    names: dict | None = None,
) -> tuple[Tensor, dict]:
    """Fig. 8: an ``n x n`` grid of ``T = g(sum_k w_k AdaIN(f(c), f(s_k)))`` (Eq. 15) with bilinear weights.

    Laid out like the paper: ``n`` rows of ``n + 2`` tiles; the four style images sit beside the corner
    cells (top-left and bottom-left styles in the first column, the other two in the last column).
    """
    if len(styles) != 4:
        raise UserError(tr("the interpolation grid needs exactly four styles (one per corner), got {styles}",
                           styles=len(styles)))
    h, w = content.shape[-2:]
    with torch.inference_mode():
        stats = [model.encode_style(s) for s in styles]
        f_c = model.encode(content)
    weights = bilinear_weights(n)
    with torch.inference_mode():
        # The four AdaIN outputs are computed once; each cell only mixes them (Eq. 15) and decodes.
        t_k = [adaptive_instance_norm_from_stats(f_c, s.mean, s.std) for s in stats]
        cells = [[model.decode(sum(float(wk) * tk for wk, tk in zip(weights[i, j], t_k)), (h, w))[0].clamp(0, 1).cpu()
                  for j in range(n)] for i in range(n)]
    style_names = _input_names(names, "styles", 4, tr("style"))
    tiles, labels = [], []
    for i in range(n):
        left = _fit(styles[0], h, w) if i == 0 else _fit(styles[2], h, w) if i == n - 1 else _blank(h, w)
        right = _fit(styles[1], h, w) if i == 0 else _fit(styles[3], h, w) if i == n - 1 else _blank(h, w)
        tiles += [left, *cells[i], right]
        first, last = (style_names[0], style_names[1]) if i == 0 else (style_names[2], style_names[3]) if i == n - 1 \
            else ("", "")
        labels += [first, *[""] * n, last]
    grid, layout = tile_grid(tiles, cols=n + 2, labels=labels, title=random_title(model, "8"))
    settings = _common(model, "8", content) | {
        "n": n, "corners": ["top-left", "top-right", "bottom-left", "bottom-right"],
        "style_weights": weights.round(decimals=4).tolist(), "layout": layout}
    return grid, settings | (names or {})


def fig9_preserve_color(
    model: StyleTransfer, content: Tensor, style: Tensor, *, alpha: float = 1.0, names: dict | None = None
) -> tuple[Tensor, dict]:
    """Fig. 9: content, style, plain stylization, and stylization with the content's colours preserved
    (the style image colour-matched to the content before encoding). One row of four tiles."""
    h, w = content.shape[-2:]
    plain = _stylize(model, content, style, alpha=alpha)
    kept = _stylize(model, content, style, alpha=alpha, preserve_color=True)
    labels = [tr("content"), tr("style"), tr("stylized"), tr("colour preserved")]
    grid, layout = tile_grid([content, _fit(style, h, w), plain, kept], cols=4, labels=labels,
                             title=random_title(model, "9"))
    settings = _common(model, "9", content) | {"alpha": alpha, "preserve_color": True, "layout": layout,
                                               "tiles": [tr("content"), tr("style"), tr("stylized"),
                                                         tr("stylized, colour preserved")]}
    return grid, settings | (names or {})


def region_map(masks: Tensor) -> Tensor:
    """A colour picture ``[3, H, W]`` of region masks ``[K, H, W]`` (soft masks blend their colours)."""
    palette = torch.tensor([[0.90, 0.30, 0.25], [0.25, 0.50, 0.90], [0.95, 0.80, 0.20], [0.35, 0.75, 0.40],
                            [0.65, 0.40, 0.80], [0.95, 0.55, 0.15], [0.40, 0.80, 0.85], [0.55, 0.55, 0.55]])
    m = masks.detach().float().cpu()
    colours = palette[torch.arange(m.shape[0]) % len(palette)]  # [K, 3]
    cover = m.sum(0, keepdim=True)
    pic = torch.einsum("khw,kc->chw", m, colours) / cover.clamp_min(1e-8)
    return torch.where(cover > 0, pic, torch.ones_like(pic))


def fig10_spatial(
    model: StyleTransfer,
    content: Tensor,
    mask: Tensor,
    styles: Sequence[Tensor],
    *,
    alpha: float | Sequence[float] = 1.0,
    names: dict | None = None,
) -> tuple[Tensor, dict]:
    """Fig. 10: spatial control. ``styles[0]`` where ``mask`` is 1 (white), ``styles[1]`` where it is 0.

    The content statistics of each region are taken over that region only (see
    :func:`adain_lesson.model.masked_adain`). A mask of another size than the content is resized with a
    warning; an empty region or values outside [0, 1] raise :class:`UserError`. Tiles: content, mask,
    the two styles, the result (one row of five).
    """
    if len(styles) != 2:
        raise UserError(tr("Fig. 10 takes two styles (mask region and the rest), got {styles}", styles=len(styles)))
    if not isinstance(mask, Tensor) or mask.dim() != 2:
        raise UserError(tr("the mask must be one [H, W] tensor, got {mask}", mask=getattr(mask, 'shape', type(mask))))
    if torch.isfinite(mask).all() and float(mask.min()) >= 0.0 and float(mask.max()) <= 1.0:
        # Say which style would vanish, in the two-region terms of Fig. 10 (prepare_masks checks the rest).
        if float(mask.max()) == 0.0:
            raise UserError(tr("the mask is empty (all black): style 1 would be used nowhere; white marks its "
                               "region"))
        if float(mask.min()) == 1.0:
            raise UserError(tr("the mask is all white: style 2 would be used nowhere; black marks its region"))
    h, w = content.shape[-2:]
    out = _stylize(model, content, list(styles), alpha=alpha, masks=mask)  # validates (and maybe resizes)
    shown = F.interpolate(mask.float()[None, None], size=(h, w), mode="bilinear", align_corners=False)[0, 0]
    tiles = [content, shown.clamp(0, 1), _fit(styles[0], h, w), _fit(styles[1], h, w), out]
    s1, s2 = _input_names(names, "styles", 2, tr("style"))
    grid, layout = tile_grid(tiles, cols=5, labels=[tr("content"), tr("mask (white: 1)"), f"1: {s1}", f"2: {s2}",
                                                          tr("result")],
                             title=random_title(model, "10"))
    alphas = [float(a) for a in alpha] if isinstance(alpha, (list, tuple)) else float(alpha)
    settings = _common(model, "10", content) | {
        "alpha": alphas, "mask_size": [int(mask.shape[0]), int(mask.shape[1])], "layout": layout,
        "tiles": [tr("content"), tr("mask (white = style 1)"), tr("style 1"), tr("style 2"), tr("result")]}
    return grid, settings | (names or {})


def band_masks(k: int, height: int, width: int, softness: float = 0.0, vertical: bool = True) -> Tensor:
    """``k`` region masks ``[k, H, W]`` as side-by-side bands that sum to 1 at every pixel (beyond the paper).

    ``softness`` = 0 gives hard bands; ``softness`` > 0 blends neighbouring bands over about that fraction
    of the image (a softmax over the distance to each band's centre).
    """
    if k < 1:
        raise UserError(tr("need at least one region, got k={k}", k=k))
    n = width if vertical else height
    pos = (torch.arange(n, dtype=torch.float32) + 0.5) / n
    centres = (torch.arange(k, dtype=torch.float32) + 0.5) / k
    dist = (pos[None, :] - centres[:, None]).abs()  # [k, n]
    if softness > 0:
        m = torch.softmax(-dist / (softness / 4), dim=0)
    else:
        m = F.one_hot(dist.argmin(0), k).T.float()
    m = m[:, None, :].expand(k, height, width) if vertical else m[:, :, None].expand(k, height, width)
    return m.contiguous()


def regions_figure(
    model: StyleTransfer,
    content: Tensor,
    styles: Sequence[Tensor],
    masks: Tensor,
    *,
    alpha: float | Sequence[float] = 1.0,
    names: dict | None = None,
) -> tuple[Tensor, dict]:
    """Beyond the paper: K >= 2 regions (``masks [K, H, W]``, hard or soft) with one style each and
    optionally one alpha per region. Tiles: content, the styles, a colour map of the regions, the result."""
    if masks.dim() != 3 or masks.shape[0] != len(styles):
        raise UserError(tr("give one mask per style: {styles} styles but masks of shape {value}",
                           styles=len(styles), value=tuple(masks.shape)))
    h, w = content.shape[-2:]
    out = _stylize(model, content, list(styles), alpha=list(alpha) if isinstance(alpha, (list, tuple)) else alpha,
                   masks=list(masks))
    shown = F.interpolate(masks.float()[None], size=(h, w), mode="bilinear", align_corners=False)[0]
    tiles = [content, *[_fit(s, h, w) for s in styles], region_map(shown), out]
    labels = [tr("content"), *_input_names(names, "styles", len(styles), tr("style")), tr("regions"), tr("result")]
    grid, layout = tile_grid(tiles, cols=len(tiles), labels=labels, title=random_title(model, "regions"))
    alphas = [float(a) for a in alpha] if isinstance(alpha, (list, tuple)) else float(alpha)
    soft = bool(((masks > 0) & (masks < 1)).any())
    settings = _common(model, "regions", content) | {"regions": len(styles), "soft_masks": soft, "alpha": alphas,
                                                    "layout": layout}
    return grid, settings | (names or {})


# ------------------------------------------------------------------------------------------------
# Inputs, the dispatcher, saving
# ------------------------------------------------------------------------------------------------


def _paper_image(name: str, size: int | None, crop: bool, mirror: str | os.PathLike | None) -> Tensor:
    return images.load_image(hub.fetch(name, mirror=mirror), size=size, crop=crop)


def load_inputs(
    fig: str, smoke: bool, size: int | None = None, *, mirror: str | os.PathLike | None = None
) -> dict:
    """The images for figure ``fig``: a dict with ``content`` or ``contents``, ``style`` or ``styles``,
    ``mask`` (Fig. 10) and ``names`` (what each image is, for the settings).

    Smoke mode: the built-in samples at ``size`` (default 64), no network. Otherwise the paper's images
    (:data:`_PAPER`, fetched and verified by :func:`adain_lesson.hub.fetch`, from ``mirror`` if given) at the
    paper's sizes, or with shorter side ``size`` when given.
    """
    fig = str(fig)
    if fig not in FIGURES:
        raise UserError(tr("unknown figure {fig}: choose one of {value}", fig=repr(fig), value=', '.join(FIGURES)))
    spec = (_SMOKE if smoke else _PAPER)[fig]
    if smoke:
        s = size or SMOKE_SIZE

        def load(name: str, _c: bool = False) -> Tensor:
            return images.sample_image(name, s)

        style_load = load
    else:
        c_size = size if size is not None else spec["size"]
        s_size = size if size is not None else spec["style_size"]

        def load(name: str) -> Tensor:
            return _paper_image(name, c_size, spec["crop"] and bool(c_size), mirror)

        def style_load(name: str) -> Tensor:
            return _paper_image(name, s_size, False, mirror)

    out: dict = {"names": {}}
    for key, loader in (("content", load), ("contents", load), ("style", style_load), ("styles", style_load)):
        if key in spec:  # one name, or (plural keys) a list of names
            names = spec[key]
            out[key] = [loader(n) for n in names] if key.endswith("s") else loader(names)
            out["names"][key] = list(names) if key.endswith("s") else names
    if "mask" in spec:
        h, w = out["content"].shape[-2:]
        if smoke:
            out["mask"] = images.split_mask(spec["mask"].split(":", 1)[1], h, w)
        else:
            out["mask"] = images.load_mask(hub.fetch(spec["mask"], mirror=mirror), size=(h, w))
        out["names"]["mask"] = spec["mask"]
    return out


def make_figure(
    fig: str,
    model: StyleTransfer,
    inputs: dict,
    *,
    mask: Tensor | None = None,
    softness: float = 0.15,
) -> tuple[Tensor, dict]:
    """Make figure ``fig`` (one of :data:`FIGURES`) from :func:`load_inputs`' dict; ``mask`` overrides
    Fig. 10's mask. For ``regions``: three regions, soft bands, alpha 1, 0.5, 1 per region."""
    fig = str(fig)
    names = {"inputs": inputs.get("names", {})}
    if fig == "4":
        return content_style_grid(model, inputs["contents"], inputs["styles"], names=names)
    if fig == "7":
        return fig7_tradeoff(model, inputs["content"], inputs["style"], names=names)
    if fig == "8":
        return fig8_interpolation(model, inputs["content"], inputs["styles"], names=names)
    if fig == "9":
        return fig9_preserve_color(model, inputs["content"], inputs["style"], names=names)
    if fig == "10":
        m = mask if mask is not None else inputs["mask"]
        return fig10_spatial(model, inputs["content"], m, inputs["styles"], names=names)
    if fig == "regions":
        h, w = inputs["content"].shape[-2:]
        k = len(inputs["styles"])
        masks = band_masks(k, h, w, softness=softness)
        alphas = [1.0 if i % 2 == 0 else 0.5 for i in range(k)]
        return regions_figure(model, inputs["content"], inputs["styles"], masks, alpha=alphas, names=names)
    raise UserError(tr("unknown figure {fig}: choose one of {value}", fig=repr(fig), value=', '.join(FIGURES)))


def paper_figure(fig: str, *, mirror: str | os.PathLike | None = None) -> Tensor:
    """The paper's own image of figure ``fig`` (2, 7, 8, 9 or 10), downloaded and verified (full mode only)."""
    fig = str(fig)
    if fig not in PAPER_FIGURE_IMAGES:
        raise UserError(tr("no paper image for figure {fig}: choose one of {value}",
                           fig=repr(fig), value=', '.join(PAPER_FIGURE_IMAGES)))
    return images.load_image(hub.fetch(PAPER_FIGURE_IMAGES[fig], mirror=mirror))


def show_figures(figures: Sequence[Tensor], titles: Sequence[str], width: float = 12.0):
    """Show wide figure images one under another, each at its own aspect ratio; returns the matplotlib figure.

    (:func:`adain_lesson.viz.show_images` gives every panel a square cell, which suits single images.)
    """
    import matplotlib.pyplot as plt

    if not figures:
        raise UserError(tr("show_figures needs at least one image"))
    ratios = [f.shape[-2] / f.shape[-1] for f in figures]
    fig, axes = plt.subplots(len(figures), 1, figsize=(width, width * sum(ratios) + 0.5 * len(figures)),
                             gridspec_kw={"height_ratios": ratios}, squeeze=False)
    for ax, img, title in zip(axes[:, 0], figures, titles):
        ax.imshow(_fit(img, *img.shape[-2:]).permute(1, 2, 0).numpy())
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    fig.tight_layout()
    return fig


def save_figure(image: Tensor, settings: dict, out_dir: str | os.PathLike, stem: str) -> tuple[Path, Path]:
    """Write ``<stem>.png`` and ``<stem>.json`` (the settings) into ``out_dir``, each atomically."""
    out_dir = ensure_dir(out_dir)
    png = images.save_image(image, out_dir / f"{stem}.png")
    js = out_dir / f"{stem}.json"
    atomic_write_text(js, json.dumps(settings | {"python": platform.python_version()}, indent=2) + "\n")
    return png, js


def save_plot(fig, numbers: dict, out_dir: str | os.PathLike, stem: str,
              table: Sequence[dict] | None = None) -> list[Path]:
    """Write a matplotlib figure as ``<stem>.png``, the numbers behind it as ``<stem>.json`` and, given
    ``table`` (rows of equal keys), as ``<stem>.csv`` too; each file atomically. Closes the figure."""
    import csv
    import io

    import matplotlib.pyplot as plt

    out_dir = ensure_dir(out_dir)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    png = out_dir / f"{stem}.png"
    with atomic_write(png, "wb") as f:
        f.write(buf.getvalue())
    js = out_dir / f"{stem}.json"
    atomic_write_text(js, json.dumps(numbers | {"python": platform.python_version(), "torch": torch.__version__},
                                     indent=2) + "\n")
    written = [png, js]
    if table:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=list(table[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)
        path = out_dir / f"{stem}.csv"
        atomic_write_text(path, text.getvalue())
        written.append(path)
    return written
