"""The paper's results, end to end, in one call: ``python -m adain_lesson figures --fig ...`` is this module.

:func:`reproduce` takes the figures and tables wanted (the pictures of :data:`adain_lesson.figures.FIGURES`,
the quantitative results of :data:`adain_lesson.evaluation.QUANTITATIVE`, and ``"table1"`` from
:mod:`adain_lesson.bench`), checks every option and every output path before any work, loads every input
before the weights (a bad image or mask fails first), then makes each result and writes it into ``out_dir``:
``<stem>.png`` plus the numbers behind it. It returns the paths written and the lines to print; the command
line only parses its flags, calls it and prints.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from . import bench, evaluation, figures, images, viz
from .device import resolve_device
from .errors import UserError
from .files import check_writable
from .gatys import gatys_encoder
from .i18n import tr
from .model import load_pretrained, prepare_masks
from .weights import random_weights_banner

__all__ = ["KNOWN", "STEMS", "reproduce", "wanted_results"]

#: Everything :func:`reproduce` can make, in the order ``"all"`` makes it.
KNOWN = (*figures.FIGURES, *evaluation.QUANTITATIVE, "table1")
#: The file stem of each result (``<stem>.png``, ``<stem>.json``).
STEMS = {**figures.FIGURE_STEMS, **evaluation.QUANTITATIVE_STEMS, "table1": "table1_speed"}


def wanted_results(fig: Sequence[str]) -> list[str]:
    """``fig`` checked and in order, each once; ``"all"`` stands for every result of :data:`KNOWN`."""
    wanted = list(KNOWN) if "all" in fig else []
    for f in fig:
        if f != "all" and f not in KNOWN:
            raise UserError(tr("unknown figure {f!r} for fig: choose from {known} or all", f=f,
                               known=", ".join(KNOWN)), param="fig")
        if f != "all" and f not in wanted:
            wanted.append(f)
    return wanted


def _check_options(wanted: list[str], out_dir: Path, size: int | None, mask: str | None, iterations: int | None,
                   content_dir: str | None, style_dir: str | None) -> None:
    """Every option and every output path, before any input is read or any weight loaded."""
    if size is not None and size < images.MIN_SIDE:
        raise UserError(tr("size {size} is too small: the encoder needs at least {least} px per side",
                           size=size, least=images.MIN_SIDE), param="size")
    if mask is not None and not Path(mask).is_file():
        raise UserError(tr("mask: no such file: {mask}", mask=mask), param="mask")
    if mask is not None and "10" not in wanted:
        raise UserError(tr("mask is used by Fig. 10 (spatial control) only: add fig 10"), param=("mask", "fig"))
    if iterations is not None and iterations < 1:
        raise UserError(tr("iterations must be at least 1, got {n}", n=iterations), param="iterations")
    for name, folder in (("content_dir", content_dir), ("style_dir", style_dir)):
        if folder is not None and not Path(folder).is_dir():
            raise UserError(tr("{name}: no such folder: {folder}", name=name, folder=folder), param=name)
    fix = tr("choose another out folder")
    for fig in wanted:  # the .json beside each .png is the longer name
        png = out_dir / f"{STEMS[fig]}.png"
        if png.is_dir():
            raise UserError(tr("cannot write to {png}: it is a folder; {fix}", png=png, fix=fix), param="out")
        try:
            check_writable(out_dir / f"{STEMS[fig]}.json", fix)
        except UserError as exc:  # the same line, naming the parameter it is about
            raise UserError(str(exc), param="out") from None


def reproduce(
    wanted: Sequence[str],
    out_dir: str | os.PathLike,
    *,
    smoke: bool = False,
    weights: str | None = None,
    device: str | None = None,
    size: int | None = None,
    mask: str | None = None,
    mirror: str | os.PathLike | None = None,
    fig3_style_loss: str = "mean_std",
    iterations: int | None = None,
    content_dir: str | None = None,
    style_dir: str | None = None,
    progress: bool = True,
    note: Callable[[str], None] | None = None,
) -> tuple[list[Path], list[str]]:
    """Make the results ``wanted`` (names of :data:`KNOWN`, or ``"all"``) and write them into ``out_dir``.

    ``smoke``: built-in images, tiny sizes and (unless ``weights`` says otherwise) random weights, offline.
    ``weights``: ``"auto"`` (the released weights; the default), ``"random"`` or a folder. ``size``: the
    shorter side of Figs. 4, 7-10 (default: the paper's). ``mask``: an image file replacing Fig. 10's mask.
    ``mirror``, ``fig3_style_loss``, ``iterations``, ``content_dir``, ``style_dir`` and ``progress`` go to
    :func:`adain_lesson.evaluation.reproduce` (Figs. 1, 3, 5, 6). ``note`` receives each warning a figure
    raised (e.g. "the mask was resized"), one line each. Returns the paths written and the lines to print
    (verdicts, or "not checked: random weights"). Without the network and without ``smoke``, the released
    weights or the paper's images raise :class:`~adain_lesson.errors.OfflineError`.
    """
    wanted = wanted_results(wanted)
    out_dir = Path(out_dir)
    _check_options(wanted, out_dir, size, mask, iterations, content_dir, style_dir)
    device = resolve_device(device)
    weights = weights or ("random" if smoke else "auto")
    say = note or (lambda line: None)
    # every input first, so that a bad image or mask fails before the weights load
    inputs = {fig: figures.load_inputs(fig, smoke, size, mirror=mirror) for fig in wanted if fig in figures.FIGURES}
    region_mask = images.load_mask(mask) if mask else None
    if region_mask is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a resize note comes once, below
            prepare_masks(region_mask, 2, tuple(inputs["10"]["content"].shape[-2:]), 1)
    model = load_pretrained(weights, device)
    if model.random_weights:
        viz.banner(random_weights_banner())
    gatys_vgg = gatys_encoder(weights, device) if {"3", "table1"} & set(wanted) else None
    written, lines = [], []
    for fig in wanted:
        if fig == "table1":
            paths, said = bench.reproduce_table1(model, gatys_vgg, out_dir, smoke=smoke)
        elif fig in evaluation.QUANTITATIVE:
            paths, said = evaluation.reproduce(
                fig, model, gatys_vgg, out_dir, smoke=smoke, weights=weights, progress=progress, mirror=mirror,
                fig3_style_loss=fig3_style_loss, iterations=iterations, content_dir=content_dir, style_dir=style_dir)
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                own_mask = region_mask if fig == "10" else None
                image, settings = figures.make_figure(fig, model, inputs[fig], mask=own_mask)
            for w in caught:
                say(str(w.message))
            if own_mask is not None:
                settings["mask_file"] = str(mask)
            paths, said = figures.save_figure(image, settings, out_dir, figures.FIGURE_STEMS[fig]), []
        written += paths
        lines += said
    return written, lines
