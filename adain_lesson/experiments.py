"""Deprecated: this module was split; its names keep working for one release.

- the paper's figures (Figs. 4, 7-10, regions; ``load_inputs``, ``make_figure``, ``save_figure``,
  ``show_figures``, ``tile_grid`` ...) live in :mod:`adain_lesson.figures`;
- the numbers of Section 7 (``evaluate_losses``, ``fig3_losses``, ``plot_fig3``, ``fig5_ablation_grid``,
  ``log_steps``) in :mod:`adain_lesson.evaluation`;
- the timer ``median_seconds`` in :mod:`adain_lesson.device`; ``time_stylization`` and the paper's Table 1
  (``PAPER_TABLE1_MS``, milliseconds) in :mod:`adain_lesson.bench`.

Importing this module warns (:class:`DeprecationWarning`); import from the new homes instead.
"""

from __future__ import annotations

import warnings

from .bench import PAPER_TABLE1_MS, time_stylization
from .device import median_seconds
from .evaluation import evaluate_losses, fig3_losses, fig5_ablation_grid, log_steps, plot_fig3
from .figures import (
    FIGURE_STEMS,
    FIGURES,
    GALLERY_PAIRS,
    PAPER_FIGURE_IMAGES,
    band_masks,
    bilinear_weights,
    content_style_grid,
    fig7_tradeoff,
    fig8_interpolation,
    fig9_preserve_color,
    fig10_spatial,
    load_inputs,
    make_figure,
    paper_figure,
    region_map,
    regions_figure,
    save_figure,
    show_figures,
    tile_grid,
)

#: Table 1 of the paper, "Ours" row, in seconds (deprecated: :data:`adain_lesson.bench.PAPER_TABLE1_MS`).
PAPER_TABLE1 = {size: (a / 1000.0, b / 1000.0) for size, (a, b) in PAPER_TABLE1_MS.items()}

__all__ = [
    "FIGURES",
    "FIGURE_STEMS",
    "PAPER_FIGURE_IMAGES",
    "PAPER_TABLE1",
    "GALLERY_PAIRS",
    "band_masks",
    "bilinear_weights",
    "content_style_grid",
    "evaluate_losses",
    "fig3_losses",
    "fig5_ablation_grid",
    "fig7_tradeoff",
    "fig8_interpolation",
    "fig9_preserve_color",
    "fig10_spatial",
    "load_inputs",
    "log_steps",
    "make_figure",
    "paper_figure",
    "plot_fig3",
    "region_map",
    "regions_figure",
    "save_figure",
    "show_figures",
    "tile_grid",
    "median_seconds",
    "time_stylization",
]

warnings.warn(
    "adain_lesson.experiments is deprecated and will be removed: import from adain_lesson.figures (figures), "
    "adain_lesson.evaluation (Figs. 3, 5, 6 numbers), adain_lesson.device (median_seconds) or "
    "adain_lesson.bench (time_stylization)",
    DeprecationWarning,
    stacklevel=2,
)
