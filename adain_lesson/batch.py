"""Stylize many images at once: every content of a folder (or one image) with one style, a folder of styles,
or several styles interpolated (Eq. 15) or placed by masks (Fig. 10). ``python -m adain_lesson stylize`` is
this module behind a command line; a notebook can call it too.

- :func:`plan_batch` checks everything that can be checked without the network (the numbers, the masks, the
  first style and the first readable content) and returns a :class:`BatchPlan`, so a mistake fails before
  the weights load;
- a content may be a video (:data:`adain_lesson.video.VIDEO_EXTENSIONS`, also inside a content folder, beside
  images): its frames go through the same model call, a batch of frames at a time
  (:func:`adain_lesson.video.stylize_video`), with the style statistics of the same cache, and the output is a
  video of the same frame count, frame rate and size;
- :func:`run_batch` stylizes each (content, styles) pair of the plan with a model, writes each result
  atomically under :func:`output_name`, and returns a :class:`BatchReport`. Each style's statistics
  mu(f(s)), sigma(f(s)) are encoded once and reused for every content (the images of a style folder are not
  kept). A file that cannot be used is skipped with a note naming it (when there are several contents) and
  listed in the report: :attr:`BatchReport.problem` says what to fix.

Errors name the parameters of :func:`plan_batch` (``style_weights``, ``alpha``, ``mask`` ...); the CLI
names its flags.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
from torch import Tensor

from . import images, memory, video
from .errors import UserError
from .files import check_writable, ensure_dir, remove_stale_temporaries
from .i18n import tr
from .model import StyleStats, StyleTransfer, check_alphas, normalize_weights, prepare_masks

__all__ = ["BatchPlan", "BatchReport", "check_memory", "check_outputs", "expand_sources", "load_source", "output_name",
           "plan_batch", "run_batch", "unique_names"]


def expand_sources(spec: str, param: str = "content") -> list[tuple[str, str]]:
    """``(name, source)`` pairs for an image path, a folder of images, or ``sample:NAME`` (a built-in sample).
    Names are file stems; when a folder holds ``a.jpg`` and ``a.png``, the extension joins the name so that
    neither output overwrites the other. ``param`` names the parameter in errors."""
    if spec.startswith("sample:"):
        name = spec.split(":", 1)[1]
        if name not in images.SAMPLE_CONTENTS + images.SAMPLE_STYLES:
            known = ", ".join(images.SAMPLE_CONTENTS + images.SAMPLE_STYLES)
            raise UserError(f"unknown built-in sample {name!r} for {param}: choose one of {known}", param=param)
        return [(name, spec)]
    path = Path(spec).expanduser()
    if path.is_dir():
        found = images.list_images(path)
        if param == "content":  # videos beside the images (a style is an image)
            found = sorted(found + video.list_videos(path))
        if not found:
            if param == "content":
                raise UserError(tr("{param} folder {path} holds no images or videos ({exts})", param=param, path=path,
                                   exts=", ".join(images.IMAGE_EXTENSIONS + video.VIDEO_EXTENSIONS)), param=param)
            raise UserError(f"{param} folder {path} holds no images ({', '.join(images.IMAGE_EXTENSIONS)})",
                            param=param)
        return list(zip(unique_names(found), map(str, found)))
    if not path.exists():
        raise UserError(f"{param}: no such file or folder: {path}", param=param)
    return [(path.stem, str(path))]


def unique_names(paths: Sequence[Path]) -> list[str]:
    """A distinct output name for each of ``paths`` (sorted by name, as :func:`~adain_lesson.images.list_images` gives
    them), the same on every run: the file's stem where no other file claims it; else the stem with its
    extension (``a.png`` -> ``a_png``); names that still collide (``a.png`` and ``a_png.jpg`` both want ``a_png``)
    move the file that is further from its own stem on first (``a_png.jpg`` -> ``a_png_jpg``), and a last tie takes
    the file's position (``a_png_1``). Names are compared without case: ``A.png`` and ``a.png`` would overwrite each
    other on a case-insensitive file system (macOS, Windows)."""

    def name(p: Path, level: int, i: int) -> str:
        ext = p.suffix.lstrip(".")
        return p.stem if level == 0 else f"{p.stem}_{ext}" if level == 1 else f"{p.stem}_{ext}_{i}"

    levels = [0] * len(paths)
    while True:
        names = [name(p, lv, i) for i, (p, lv) in enumerate(zip(paths, levels))]
        groups: dict[str, list[int]] = {}
        for i, n in enumerate(names):
            groups.setdefault(n.casefold(), []).append(i)
        clashes = [g for g in groups.values() if len(g) > 1]
        if not clashes:
            return names
        for group in clashes:
            low = min(levels[i] for i in group)
            for i in group:
                if levels[i] == low or low >= 2:
                    levels[i] = min(levels[i] + 1, 2)


def load_source(source: str, size: int, crop: bool) -> Tensor:
    """The image ``[3, H, W]`` of a source from :func:`expand_sources`, its shorter side ``size`` (0: the
    original size; a built-in sample is drawn at ``size`` or 512), centre-cropped to a square if ``crop``."""
    if source.startswith("sample:"):
        return images.sample_image(source.split(":", 1)[1], size or 512)
    if video.is_video(source):
        raise UserError(tr("{source} is a video: give an image here", source=source), param="style")
    return images.load_image(source, size=size or None, crop=crop)


def output_name(content: str, styles: Sequence[str], *, style_weights: Sequence[float] | None = None,
                masked: bool = False, alpha: Sequence[float] = (1.0,), preserve_color: bool = False,
                ext: str = ".png", mask_names: Sequence[str] | None = None) -> str:
    """``<content>_stylized_<style[-style...]>`` plus what changes the result, so that runs with other
    settings do not overwrite each other: ``_w1-3`` (weights), ``_mask-<mask file stems>`` (``_mask`` when
    the masks have no names), ``_a0.5`` (alpha), ``_keepcolor``."""
    name = f"{content}_stylized_{'-'.join(styles)}"
    if style_weights is not None:
        name += "_w" + "-".join(f"{w:g}" for w in style_weights)
    if mask_names:
        name += "_mask-" + "-".join(mask_names)
    elif masked:
        name += "_mask"
    if list(alpha) != [1.0]:
        name += "_a" + "-".join(f"{a:g}" for a in alpha)
    if preserve_color:
        name += "_keepcolor"
    return name + ext


@dataclass
class BatchPlan:
    """What :func:`run_batch` does, checked by :func:`plan_batch`: the contents, the style combinations
    (one per output per content), and the settings of Eqs. 14-15 and Figs. 9-10."""

    contents: list[tuple[str, str]]
    combos: list[list[tuple[str, str]]]
    alpha: list[float]
    style_weights: list[float] | None = None
    masks: list[Tensor] | None = None
    preserve_color: bool = False
    content_size: int = 512
    style_size: int = 512
    crop: bool = False
    #: The mask files' stems, for the output names (runs with other mask files never overwrite each other).
    mask_names: list[str] | None = None
    #: ``(H, W)`` of the first content at ``content_size``: what :func:`check_memory` sizes the work by.
    first_size: tuple[int, int] | None = None
    #: Frames per batch for video contents (``None``: :func:`adain_lesson.video.default_batch_size`).
    video_batch: int | None = None
    #: Our flicker remedy for video contents (:func:`adain_lesson.video.stylize_frames`; 0: off, the image path).
    smooth: float = 0.0
    #: Frames stylized at once for the first content (a video's batch): what :func:`check_memory` multiplies by.
    first_count: int = 1
    #: Contents found unreadable while planning (several contents only), and their notes.
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def many(self) -> bool:
        return len(self.contents) > 1


@dataclass
class BatchReport:
    """What :func:`run_batch` did: the files written, in order, and the sources it had to skip."""

    written: list[Path]
    skipped_contents: list[str]
    skipped_styles: list[str]
    n_contents: int

    @property
    def problem(self) -> str | None:
        """``None`` when every input was used; otherwise one line saying what was skipped and what to do."""
        if not (self.skipped_contents or self.skipped_styles):
            return None
        what = [f"{len(self.skipped_contents)} of {self.n_contents} content images"] if self.skipped_contents else []
        what += [f"{len(self.skipped_styles)} style images"] if self.skipped_styles else []
        return (f"{' and '.join(what)} could not be used and were skipped (see the notes above); "
                "fix or remove them and run again")


def plan_batch(
    content: str,
    style: str,
    *,
    style_weights: Sequence[float] | None = None,
    mask: Sequence[str | os.PathLike] | None = None,
    alpha: float | Sequence[float] = 1.0,
    preserve_color: bool = False,
    content_size: int = 512,
    style_size: int = 512,
    crop: bool = False,
    video_batch: int | None = None,
    smooth: float = 0.0,
    note: Callable[[str], None] | None = None,
    device: torch.device | str | None = None,
) -> BatchPlan:
    """Check a batch before any network work. ``content``: an image, a folder or ``sample:NAME``; ``style``:
    the same, or several images comma-separated (``a,b``: interpolated with ``style_weights``, Eq. 15, or
    placed by ``mask``, one mask image per style or one for two styles, Fig. 10). ``alpha`` is Eq. 14's
    trade-off, one value or, with masks, one per region. Sizes are the shorter side (0: original size). A video
    content (or a folder's videos) is stylized at ``content_size`` and written at its own size, ``video_batch``
    frames at a time, with ``smooth`` (our flicker remedy, 0: off).
    A content that cannot be read is skipped with a ``note`` when there are several, else it raises. Given the
    ``device``, the first content's size is checked against its free memory (:func:`check_memory`) from the image's
    header, before it is decoded."""
    contents = expand_sources(content, "content")
    whole = str(style).strip()
    if "," in whole and Path(whole).expanduser().exists():
        style_specs = [whole]  # a file whose name holds a comma: it exists, so it is one style
    else:
        style_specs = [s.strip() for s in whole.split(",") if s.strip()]
        missing = [s for s in style_specs if not s.startswith("sample:") and not Path(s).expanduser().exists()]
        if missing and len(style_specs) > 1:
            raise UserError(tr("style was split at its commas into {n} images ({names}), and {missing} does not "
                               "exist: give existing images (a file whose name holds a comma is taken whole when it "
                               "exists)", missing=missing[0], n=len(style_specs),
                               names=" and ".join(map(repr, style_specs))), param="style")
    if not style_specs:
        raise UserError("style is empty: give an image, a folder, or sample:NAME", param="style")
    alphas = [float(alpha)] if isinstance(alpha, (int, float)) else [float(a) for a in alpha]
    weights = None if style_weights is None else [float(w) for w in style_weights]
    masks_given = list(mask) if mask else None
    if len(style_specs) > 1:
        for spec in style_specs:
            if Path(spec).is_dir():
                raise UserError(f"a folder ({spec}) cannot be one of several comma-separated styles: name images")
        combos = [[expand_sources(s, "style")[0] for s in style_specs]]
    else:
        combos = [[entry] for entry in expand_sources(style_specs[0], "style")]
    k = len(combos[0])
    if weights is not None and masks_given:
        raise UserError("use style_weights (interpolation) or mask (spatial control), not both",
                        param=("style_weights", "mask"))
    if weights is not None and len(weights) != k:
        raise UserError(f"style_weights has {len(weights)} values for {k} styles: give one per style",
                        param="style_weights")
    if masks_given and not (len(masks_given) == k or (len(masks_given) == 1 and k == 2)):
        raise UserError(f"mask has {len(masks_given)} files for {k} styles: give one mask per style (or one for two)",
                        param="mask")
    if content_size < 0 or style_size < 0:
        raise UserError("content_size and style_size must be >= 0 (0 keeps the original size)",
                        param=("content_size", "style_size"))
    # one region per style (one mask for two styles: it and its complement)
    alphas = check_alphas(alphas, k if masks_given else 1, bool(masks_given), masks_param="mask")
    if weights is not None:
        normalize_weights(weights, k)  # finite, >= 0, not all zero (Eq. 15), or a one-line error
    masks = [images.load_mask(m) for m in masks_given] if masks_given else None
    if video_batch is not None and video_batch < 1:
        raise UserError(tr("video_batch must be at least 1, got {n}", n=video_batch), param="video_batch")
    if not 0.0 <= smooth < 1.0:
        raise UserError(tr("smooth must be in [0, 1), got {smooth}", smooth=smooth), param="smooth")
    if smooth and masks_given:
        raise UserError(tr("smooth works without masks: leave masks out or set smooth to 0"), param="smooth")
    plan = BatchPlan(contents, combos, alphas, weights, masks, preserve_color, content_size, style_size, crop,
                     [Path(m).stem for m in masks_given] if masks_given else None, video_batch=video_batch,
                     smooth=smooth)
    if device is not None:  # memory first, from the first readable image's header: never decode what cannot fit
        for _, c_src in contents:
            if video.is_video(c_src) or c_src.startswith("sample:"):
                break
            try:
                w0, h0 = images.image_size(c_src)
            except UserError:
                continue  # unreadable: skipped below, with its note
            size_hw = ((content_size, content_size) if crop and content_size else
                       images.shorter_side_shape(h0, w0, content_size) if content_size else (h0, w0))
            check_memory(replace(plan, first_size=size_hw, first_count=1), device)
            break
    for _, s_src in combos[0]:
        load_source(s_src, style_size, crop)  # the first style(s): a bad file fails before any work
    first = None
    for _, c_src in contents:
        try:
            if video.is_video(c_src):  # checked (corrupt, no frames, codec, size) without decoding it all
                info = video.probe(c_src)
                first = torch.zeros(3, *video.work_size(info, content_size, crop))
                plan.first_count = video_batch or 1
            else:
                first = load_source(c_src, content_size, crop)
            break
        except UserError as exc:
            _skip(plan, c_src, exc, note)
    if first is None:
        raise UserError(f"none of the {len(contents)} content images could be read (see the notes above)")
    plan.first_size = (int(first.shape[-2]), int(first.shape[-1]))
    if masks is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a resize note comes with the result
            prepare_masks(masks, k, tuple(first.shape[-2:]), 1)
    return plan


def _name(plan: BatchPlan, c_name: str, combo: Sequence[tuple[str, str]], ext: str, c_src: str = "") -> str:
    if video.is_video(c_src):  # a video is written as a video, in its own container
        ext = video.output_extension(c_src)
    return output_name(c_name, [s for s, _ in combo], style_weights=plan.style_weights,
                       masked=plan.masks is not None, alpha=plan.alpha, preserve_color=plan.preserve_color,
                       ext=ext, mask_names=plan.mask_names)


def check_outputs(plan: BatchPlan, out_dir: str | os.PathLike, ext: str = ".png") -> None:
    """Check, before the weights load, that every output of ``plan`` can be written into ``out_dir``: the
    folder can be made and written (a file in its way, no permission, a read-only disk), no folder stands
    where an output goes, and the longest name (with its temporary name) fits the file system. A problem is
    one :class:`UserError` line."""
    out_dir = Path(out_dir)
    names = [_name(plan, c_name, combo, ext, c_src) for c_name, c_src in plan.contents for combo in plan.combos]
    for ext_ in sorted({video.output_extension(c_src) for _, c_src in plan.contents if video.is_video(c_src)}):
        video.encoder_for(ext_)  # a missing encoder fails before the weights load
    for name in names:
        if (out_dir / name).is_dir():
            raise UserError(f"cannot write to {out_dir / name}: it is a folder; move it, or choose another output "
                            "folder")
    check_writable(out_dir / max(names, key=lambda n: len(n.encode("utf-8", "surrogateescape"))),
                   "choose another output folder")
    stale = remove_stale_temporaries(out_dir)
    if stale:
        _stderr(f"note: removed {len(stale)} unfinished temporary file(s) a stopped run left in {out_dir}")


def check_memory(plan: BatchPlan, device: torch.device | str) -> None:
    """Refuse, before the weights load, a first content too large for ``device``'s free memory (the
    estimate of :mod:`adain_lesson.memory`, with room kept for the weights), naming a content_size that fits."""
    if plan.first_size is None:
        return
    h, w = plan.first_size
    n = plan.first_count

    def fix(side: int) -> str:
        if side == 0:
            return tr("no content_size fits: free some memory, or use another device")
        return tr("use a smaller content_size (at most {side})", side=side)

    memory.check_side("stylize", min(h, w), lambda side: n * math.prod(images.shorter_side_shape(h, w, side)),
                      device, f"stylizing {w}x{h}" if n == 1 else f"stylizing {n} x {w}x{h}", fix,
                      smallest=images.MIN_SIDE, reserve=memory.MODEL_BYTES, param="content_size")


def _skip(plan: BatchPlan, src: str, exc: UserError, note: Callable[[str], None] | None) -> None:
    if not plan.many:
        raise exc
    (note or _stderr)(f"note: skipped {src}: {exc}")
    plan.skipped.append(src)


def _once(line: str, shown: set[str], note: Callable[[str], None]) -> None:
    if line not in shown:
        shown.add(line)
        note(line)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


class _SkipPair(Exception):
    """A style of this pair could not be read: the pair is skipped (said once, in a note)."""


def run_batch(
    model: StyleTransfer,
    plan: BatchPlan,
    out_dir: str | os.PathLike,
    *,
    ext: str = ".png",
    progress: bool = True,
    on_written: Callable[[Path], None] | None = None,
    note: Callable[[str], None] | None = None,
) -> BatchReport:
    """Stylize every pair of ``plan`` with ``model`` into ``out_dir`` (created if needed), with a progress
    bar when there are two pairs or more. ``on_written(path)`` is called as soon as each file exists;
    ``note(line)`` gets each note (a skipped file, a resized mask) once (default: standard error).
    Returns the :class:`BatchReport`; a skipped input does not raise: see :attr:`BatchReport.problem`."""
    from tqdm.auto import tqdm

    out_dir = ensure_dir(out_dir)
    note = note or _stderr
    style_stats: dict[str, StyleStats] = {}  # mu and sigma of each style (small), never the images of a folder
    bad_styles: list[str] = []
    notes_shown: set[str] = set()
    written: list[Path] = []
    alpha: float | list[float] = plan.alpha if len(plan.alpha) > 1 else plan.alpha[0]
    pairs = [(c, combo) for c in plan.contents if c[1] not in plan.skipped for combo in plan.combos]
    bar = tqdm(pairs, desc="stylize", unit="image", disable=not progress or len(pairs) < 2)
    current: tuple[str, Tensor] | None = None
    for (c_name, c_src), combo in bar:
        if c_src in plan.skipped or any(src in bad_styles for _, src in combo):
            continue
        try:
            is_video = video.is_video(c_src)
            if not is_video and (current is None or current[0] != c_src):
                current = (c_src, load_source(c_src, plan.content_size, plan.crop))
            styles: list[Tensor | StyleStats] = []
            for _, s_src in combo:
                if plan.preserve_color:  # colour-matched to each content: the image itself, encoded per content
                    styles.append(load_source(s_src, plan.style_size, plan.crop))
                    continue
                if s_src not in style_stats:  # encode each style once, reuse it for every content
                    try:
                        with torch.inference_mode():
                            style_stats[s_src] = model.encode_style(load_source(s_src, plan.style_size, plan.crop))
                    except UserError as exc:
                        if len(plan.combos) == 1:
                            raise
                        note(f"note: skipped style {s_src}: {exc}")
                        bad_styles.append(s_src)
                        raise _SkipPair from None
                styles.append(style_stats[s_src])
            if is_video:
                result = video.stylize_video(
                    model, c_src, out_dir / _name(plan, c_name, combo, ext, c_src), styles, alpha=alpha,
                    weights=plan.style_weights, masks=plan.masks, preserve_color=plan.preserve_color,
                    size=plan.content_size, crop=plan.crop, batch_size=plan.video_batch, smooth=plan.smooth,
                    progress=progress, note=lambda line: _once(line, notes_shown, note))
                written.append(result.path)
                if on_written is not None:
                    on_written(result.path)
                continue
            with torch.inference_mode(), warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                out = model.stylize(current[1], styles, alpha=alpha, weights=plan.style_weights, masks=plan.masks,
                                    preserve_color=plan.preserve_color)
        except _SkipPair:
            continue
        except UserError as exc:  # e.g. a content whose shape does not fit the mask
            _skip(plan, c_src, exc, note)
            continue
        for w in caught:
            if str(w.message) not in notes_shown:  # each note once, not once per image
                notes_shown.add(str(w.message))
                note(f"note: {w.message}")
        name = _name(plan, c_name, combo, ext)
        path = images.save_image(out[0], out_dir / name)
        written.append(path)
        if on_written is not None:
            on_written(path)
    bar.close()
    return BatchReport(written, list(plan.skipped), bad_styles, len(plan.contents))
