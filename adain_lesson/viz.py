"""Pictures for the notebooks: image grids, side-by-side panels, and a visible banner.

matplotlib is imported lazily, inside the functions, so importing the package stays light.
"""

from __future__ import annotations

import html
import math
import sys
from collections.abc import Sequence

import torch
from torch import Tensor

from .errors import UserError

__all__ = ["as_image", "banner", "image_grid", "moving_average", "show_images", "tail_mean", "use_korean_font"]


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
    """Show images side by side (``ncols`` per row) with titles; returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    n = len(images)
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


#: The Hangul font of the optional extra ``[ko]``: koreanize-matplotlib ships NanumGothic inside its package.
KOREAN_FONT = "NanumGothic"


def use_korean_font() -> str:
    """Let matplotlib draw Hangul (the Korean notebooks' titles and labels): register the NanumGothic font
    that the ``koreanize-matplotlib`` package ships (the optional extra ``[ko]``), make it the first font
    family and keep the others as fallbacks. Needs no system font, so it works on Colab, in CI and on a
    bare Linux. Returns the font file used.

    The font file is found without importing ``koreanize_matplotlib``: its 0.1.x import needs ``distutils``,
    which Python 3.12 (Colab's) no longer has unless setuptools provides it.
    """
    import importlib
    import importlib.util
    from pathlib import Path

    importlib.invalidate_caches()  # installed a moment ago by the notebook's %pip line (Colab)
    spec = importlib.util.find_spec("koreanize_matplotlib")
    fonts = [Path(p) / "fonts" / f"{KOREAN_FONT}.ttf" for p in (spec.submodule_search_locations or [])] if spec else []
    font = next((f for f in fonts if f.is_file()), None)
    if font is None:
        raise UserError('Hangul in figures needs the NanumGothic font of koreanize-matplotlib: '
                        'pip install "adain-lesson[ko]"')
    import matplotlib
    from matplotlib import font_manager

    font_manager.fontManager.addfont(str(font))
    families = [f for f in matplotlib.rcParams["font.family"] if f != KOREAN_FONT]
    matplotlib.rcParams["font.family"] = [KOREAN_FONT, *families]
    return str(font)
