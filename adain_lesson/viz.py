"""Pictures for the notebooks: image grids, side-by-side panels, and a visible banner.

matplotlib is imported lazily, inside the functions, so importing the package stays light.
"""

from __future__ import annotations

import html
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from .errors import UserError
from .i18n import LazyTable, tr

__all__ = ["ARCHITECTURE_BOXES", "as_image", "banner", "draw_architecture", "image_grid", "moving_average",
           "plot_curve", "show_images", "tail_mean", "use_korean_font"]


def as_image(t: Tensor) -> Tensor:
    """Any image-like tensor (``[3|1, H, W]``, ``[H, W]``, a batch of 1) as a CPU float ``[3, H, W]`` in [0, 1]."""
    if t.dim() == 4:
        t = t[0]
    if t.dim() == 2:
        t = t.unsqueeze(0)
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    return t.detach().float().cpu().clamp(0, 1)


def moving_average(values: Sequence[float], k: int) -> list[float]:
    """A trailing moving average over ``k`` points, as long as ``values`` (the first points average what
    there is so far; ``k = 1`` returns the values unchanged): noisy per-batch loss curves, made readable."""
    if k < 1:
        raise ValueError(f"moving_average needs k >= 1, got {k}")
    # each window summed afresh (O(n k), fine for loss curves): a running sum would let one inf or nan
    # (an overflowed step) poison every point after it
    return [sum(values[max(0, i - k + 1):i + 1]) / min(i + 1, k) for i in range(len(values))]


def tail_mean(values: Sequence[float], fraction: float = 0.2) -> float:
    """The mean of the last ``fraction`` of ``values`` (at least one): a steadier end-of-training number than
    the last batch's loss, for comparing runs."""
    if not values:
        raise ValueError("tail_mean needs at least one value")
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"tail_mean needs 0 < fraction <= 1, got {fraction}")
    n = max(1, round(len(values) * fraction))
    return sum(values[-n:]) / n


def image_grid(images: Sequence[Tensor], nrow: int, padding: int = 4, pad_value: float = 1.0) -> Tensor:
    """Tile ``[3, H, W]`` images (sizes may differ: each cell takes the largest) into ``[3, H', W']``,
    ``nrow`` images per row, in reading order."""
    if not images:
        raise ValueError("image_grid needs at least one image")
    imgs = [as_image(t) for t in images]
    ch = max(t.shape[1] for t in imgs)
    cw = max(t.shape[2] for t in imgs)
    rows = math.ceil(len(imgs) / nrow)
    grid = torch.full((3, rows * ch + (rows + 1) * padding, nrow * cw + (nrow + 1) * padding), pad_value)
    for i, t in enumerate(imgs):
        r, c = divmod(i, nrow)
        top = padding + r * (ch + padding) + (ch - t.shape[1]) // 2
        left = padding + c * (cw + padding) + (cw - t.shape[2]) // 2
        grid[:, top : top + t.shape[1], left : left + t.shape[2]] = t
    return grid


def show_images(
    images: Sequence[Tensor],
    titles: Sequence[str] | None = None,
    ncols: int | None = None,
    size: float = 3.0,
    suptitle: str | None = None,
):
    """Show images side by side (``ncols`` per row) with titles; returns the matplotlib figure.

    No images (a training run stopped before its first sample grid) gives a small figure that says so."""
    import matplotlib.pyplot as plt

    n = len(images)
    if n == 0:
        fig, ax = plt.subplots(figsize=(size, size / 3))
        ax.axis("off")
        ax.text(0.5, 0.5, tr("no images to show yet"), ha="center", va="center", fontsize=11)
        if suptitle:
            fig.suptitle(suptitle)
        return fig
    ncols = ncols or n
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for i, img in enumerate(images):
        ax = axes.flat[i]
        ax.imshow(as_image(img).permute(1, 2, 0).numpy())
        if titles is not None and i < len(titles):
            ax.set_title(titles[i], fontsize=10)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def plot_curve(ax, x: Sequence[float], y: Sequence[float], **kwargs):  # noqa: ANN001, ANN201 - matplotlib
    """``ax.plot(x, y, **kwargs)`` that stays visible with few points: a curve of one point (a run stopped
    after its first log line) gets a marker, since a line through one point draws nothing; no points
    writes "no data yet" on the axes. Returns the plotted lines (an empty list when there are none)."""
    if len(y) == 0:
        ax.text(0.5, 0.5, tr("no data yet"), ha="center", va="center", transform=ax.transAxes)
        return []
    if len(y) == 1 and kwargs.get("marker") is None:
        kwargs["marker"] = "o"
    return ax.plot(x, y, **kwargs)


def banner(text: str, kind: str = "warning") -> str:
    """Show ``text`` as a boxed banner: a coloured box in a notebook, a framed block in a terminal.

    Returns the plain-text version (also printed: to standard error in a terminal, so that a command's
    standard output stays what scripts read, e.g. the paths of the written files), so callers and tests
    can check it.
    """
    width = min(max(len(line) for line in text.splitlines()) + 4, 100)
    rule = "!" * width if kind == "warning" else "=" * width
    plain = f"{rule}\n{text}\n{rule}"
    in_notebook = False
    try:
        from IPython import get_ipython
        from IPython.display import HTML, display

        if get_ipython() is not None and type(get_ipython()).__name__ != "TerminalInteractiveShell":
            in_notebook = True
            colour = "#b00020" if kind == "warning" else "#1565c0"
            display(HTML(
                f'<div style="border:3px solid {colour};padding:8px;margin:6px 0;font-weight:bold;'
                f'color:{colour}">{html.escape(text)}</div>'
            ))
    except ImportError:
        pass
    print(plain, file=sys.stdout if in_notebook else sys.stderr)
    return plain


#: The labelled boxes of :func:`draw_architecture`: key -> label (each drawn box has the key as its ``gid``).
ARCHITECTURE_BOXES = LazyTable(lambda: {
    "content": tr("content c"),
    "style": tr("style s"),
    "encoder": tr("VGG encoder f\n(fixed, to relu4_1)"),
    "adain": tr("AdaIN\n(Eq. 8)"),
    "t": "t",
    "decoder": tr("decoder g\n(trained)"),
    "output": tr("output g(t)"),
    "loss_encoder": tr("VGG encoder f\n(the same, fixed)"),
    "content_loss": tr("L_c (Eq. 12)\nf(g(t)) vs t"),
    "style_loss": tr("L_s (Eq. 13)\nmu, sigma at\nrelu1_1..4_1"),
})


def draw_architecture(title: str | None = None):
    """Draw the paper's Fig. 2 with matplotlib (offline): the VGG encoder to relu4_1 shared by the content and
    the style, the AdaIN layer, the decoder, and the loss network with L_c and L_s. Returns the figure; each
    box is a patch whose ``gid`` is its key in :data:`ARCHITECTURE_BOXES`. ``title`` defaults to "Fig. 2 of the
    paper, redrawn: ..." in the reader's language."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(12, 4.8))
    ax.set_xlim(0, 12.4)
    ax.set_ylim(0, 5.6)
    ax.axis("off")
    colours = {"image": "#e3f2fd", "fixed": "#eeeeee", "layer": "#fff3e0", "trained": "#e8f5e9", "loss": "#fce4ec"}
    places = {  # key -> (x, y, width, height, colour)
        "content": (0.1, 3.3, 1.3, 0.8, "image"), "style": (0.1, 1.9, 1.3, 0.8, "image"),
        "encoder": (2.0, 1.8, 1.8, 2.4, "fixed"), "adain": (4.4, 2.6, 1.3, 0.8, "layer"),
        "t": (6.2, 2.65, 0.7, 0.7, "layer"), "decoder": (7.4, 2.6, 1.5, 0.8, "trained"),
        "output": (9.4, 3.6, 1.3, 0.8, "image"), "loss_encoder": (9.3, 1.6, 1.5, 1.3, "fixed"),
        "content_loss": (11.0, 3.2, 1.35, 0.9, "loss"), "style_loss": (11.0, 0.3, 1.35, 1.1, "loss"),
    }
    centre = {}
    for key, (x, y, w, h, kind) in places.items():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.05", facecolor=colours[kind],
                                    edgecolor="#424242", gid=key))
        ax.text(x + w / 2, y + h / 2, ARCHITECTURE_BOXES[key], ha="center", va="center", fontsize=8.5)
        centre[key] = (x, y, w, h)

    def arrow(a: tuple[float, float], b: tuple[float, float], style: str = "-|>", **kw) -> None:
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=12, color="#424242", **kw))

    def side(key: str, where: str) -> tuple[float, float]:
        x, y, w, h = centre[key]
        return {"l": (x - 0.05, y + h / 2), "r": (x + w + 0.05, y + h / 2), "t": (x + w / 2, y + h + 0.05),
                "b": (x + w / 2, y - 0.05)}[where]

    arrow(side("content", "r"), (2.0, 3.7))
    arrow(side("style", "r"), (2.0, 2.3))
    arrow((3.8, 3.4), (4.4, 3.1))
    ax.text(4.0, 3.55, "f(c)", fontsize=8)
    arrow((3.8, 2.3), (4.4, 2.85))
    ax.text(4.0, 2.15, "f(s)", fontsize=8)
    arrow(side("adain", "r"), side("t", "l"))
    arrow(side("t", "r"), side("decoder", "l"))
    arrow(side("decoder", "r"), side("output", "l"))
    arrow(side("output", "b"), (10.05, 2.95))
    arrow((10.85, 2.6), side("content_loss", "l"))
    ax.text(10.85, 2.75, "relu4_1", fontsize=7)
    arrow((10.85, 1.8), side("style_loss", "l"))
    ax.text(10.2, 1.3, "relu1_1..4_1", fontsize=7)
    arrow(side("t", "t"), side("content_loss", "t"), connectionstyle="arc3,rad=-0.3", linestyle="--")  # target
    arrow((2.9, 1.75), (11.0, 0.6), connectionstyle="arc3,rad=0.12", linestyle="--")  # the style's statistics
    ax.text(5.6, 0.2, tr("style statistics of s at relu1_1..4_1"), fontsize=7.5, color="#616161")
    ax.text(8.6, 4.8, tr("content target t"), fontsize=7.5, color="#616161")
    if title is None:
        title = tr("Fig. 2 of the paper, redrawn: AdaIN style transfer network and its losses")
    ax.set_title(title, fontsize=11)
    fig.tight_layout()
    return fig


#: The Hangul font of the optional extra ``[ko]``: koreanize-matplotlib ships NanumGothic inside its package.
KOREAN_FONT = "NanumGothic"


def korean_font_file() -> Path | None:
    """The NanumGothic file of ``koreanize-matplotlib`` (the extra ``[ko]``), or ``None`` when it is not installed;
    found without importing the package (see :func:`use_korean_font`). Also the font of Hangul drawn with PIL
    (:func:`adain_lesson.figures.text_strip`)."""
    import importlib.util

    spec = importlib.util.find_spec("koreanize_matplotlib")
    fonts = [Path(p) / "fonts" / f"{KOREAN_FONT}.ttf" for p in (spec.submodule_search_locations or [])] if spec else []
    return next((f for f in fonts if f.is_file()), None)


def use_korean_font() -> str:
    """Let matplotlib draw Hangul (the Korean notebooks' titles and labels): register the NanumGothic font
    that the ``koreanize-matplotlib`` package ships (the optional extra ``[ko]``) as the fallback after the
    font families already set (matplotlib's default: DejaVu Sans). Text draws each character from the first
    family that has it, so Hangul comes from NanumGothic and everything else stays as before. NanumGothic is
    not made the first family: mathtext (the ``10^{-1}`` labels of log axes, ``$\alpha$``) draws from the
    first family only, without fallback, and NanumGothic has no minus sign (U+2212); ``axes.unicode_minus``
    is turned off too, so a minus outside mathtext is the ASCII hyphen whatever the fonts. (Mathtext itself
    cannot draw Hangul: keep Hangul outside ``$...$`` in one label.) Needs no system font, so it works on
    Colab, in CI and on a bare Linux. Returns the font file used.

    The font file is found without importing ``koreanize_matplotlib``: its 0.1.x import needs ``distutils``,
    which Python 3.12 (Colab's) no longer has unless setuptools provides it.
    """
    import importlib

    importlib.invalidate_caches()  # installed a moment ago by the notebook's %pip line (Colab)
    font = korean_font_file()
    if font is None:
        raise UserError('Hangul in figures needs the NanumGothic font of koreanize-matplotlib: '
                        'pip install "adain-lesson[ko]"')
    import matplotlib
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(font))
    families = [f for f in matplotlib.rcParams["font.family"] if f != KOREAN_FONT] or ["sans-serif"]
    matplotlib.rcParams["font.family"] = [*families, KOREAN_FONT]
    matplotlib.rcParams["axes.unicode_minus"] = False
    return str(font)
