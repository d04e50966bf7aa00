"""An interactive playground for AdaIN's runtime controls (Section 7.3 of the paper).

Every control maps onto one idea of the paper:

- the alpha slider is the content-style trade-off ``T = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s)))``
  (Eq. 14, Fig. 7);
- up to four styles with weight sliders interpolate ``T = g(sum_k w_k AdaIN(f(c), f(s_k)))``
  (Eq. 15, Fig. 8);
- the preserve-colour toggle colour-matches each style image to the content before encoding (Fig. 9);
- a mask (a split, an ellipse, or an uploaded image) gives each region its own style (Fig. 10).

The module has two layers. The computation layer has no ipywidgets in it: :class:`Settings` (a plain,
frozen description of what to render), :class:`PlaygroundEngine` (image sources, uploads, caches, and
:meth:`PlaygroundEngine.render`, made of :mod:`adain_lesson.model`'s functions and equal to
:meth:`~adain_lesson.model.StyleTransfer.stylize`), :func:`parse_upload` and :class:`Debouncer`.
The UI layer, :class:`Playground`, builds the widgets (ipywidgets 7.7.1, as on Colab, or 8.x); its
callbacks only read the widgets into a :class:`Settings`, call the engine, and show the result, or the
error as a one-line message, never a traceback.

Style statistics ``mu(f(s)), sigma(f(s))`` (:meth:`StyleTransfer.encode_style`) and the content features
``f(c)`` are cached, so moving alpha, a weight or the mask runs the decoder only. Updates are debounced:
a burst of slider events (a drag) gives one render, after the burst.
"""

from __future__ import annotations

import asyncio
import html
import io
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from . import hub, images
from .errors import UserError
from .model import (
    RANDOM_WEIGHTS_BANNER,
    StyleStats,
    StyleTransfer,
    mix_features,
    normalize_weights,
)
from .viz import image_grid

__all__ = [
    "MAX_STYLES",
    "MASK_SPLITS",
    "SIZES",
    "Debouncer",
    "Playground",
    "PlaygroundEngine",
    "Render",
    "Settings",
    "benchmark_playground",
    "default_size",
    "parse_upload",
    "png_bytes",
]

#: The most styles the playground mixes (Eq. 15; Fig. 8 uses four).
MAX_STYLES = 4
#: The output sizes offered (shorter side, pixels).
SIZES = (64, 128, 256, 384, 512, 768, 1024)
#: Built-in two-region masks: label -> :func:`adain_lesson.images.split_mask` kind (region 1 first).
MASK_SPLITS = {"left | right": "left", "top | bottom": "top", "ellipse | outside": "ellipse"}
#: The mask setting that means "no mask".
NO_MASK = "none"
#: The style-slot value that means "this slot is unused".
NO_STYLE = ""

_PAPER_DEFAULTS = {"content": "chicago.jpg", "style": "asheville.jpg"}
_SAMPLE_DEFAULTS = {"content": "grace_hopper", "style": "mosaic"}


def default_size(device: torch.device | str) -> int:
    """The default output size: 512 px on a GPU (the paper's setting), 256 px on a CPU, to stay interactive."""
    return 512 if torch.device(device).type in ("cuda", "mps") else 256


def png_bytes(img: Tensor, compress_level: int = 1) -> bytes:
    """``[3, H, W]`` in [0, 1] as PNG bytes (fast compression: this is for display, not for archiving)."""
    buf = io.BytesIO()
    images.to_pil(img).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


def parse_upload(value: Any) -> list[tuple[str, bytes]]:
    """The ``(file name, bytes)`` of every file in a ``FileUpload.value``, in either ipywidgets format.

    - ipywidgets 7.x: a dict ``{name: {"metadata": {...}, "content": bytes}}``;
    - ipywidgets 8.x: a tuple of dicts ``{"name": ..., "type": ..., "size": ..., "content": memoryview}``.

    An empty value gives ``[]``. Anything else raises :class:`UserError`.
    """
    if not value:
        return []
    files: list[tuple[str, bytes]] = []
    if isinstance(value, Mapping):  # 7.x
        for name, entry in value.items():
            content = entry.get("content") if isinstance(entry, Mapping) else entry
            if content is None:
                raise UserError(f"the upload of {name!r} carries no content: upload the file again")
            files.append((str(name), bytes(content)))
    elif isinstance(value, (list, tuple)):  # 8.x
        for i, entry in enumerate(value):
            if not isinstance(entry, Mapping) or entry.get("content") is None:
                raise UserError("an uploaded file carries no content: upload the file again")
            name = entry.get("name") or entry.get("metadata", {}).get("name") or f"upload{i + 1}"
            files.append((str(name), bytes(entry["content"])))
    else:
        raise UserError(f"unrecognised upload value of type {type(value).__name__}: upload the file again")
    return files


class _LRU:
    """A small least-recently-used cache (a dict that forgets its oldest entries)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[Hashable, Any] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        return None

    def put(self, key: Hashable, value: Any) -> None:
        self._data[key] = value
        self._data.move_to_end(key)
        while len(self._data) > self.maxsize:
            self._data.popitem(last=False)

    def __len__(self) -> int:
        return len(self._data)


# --------------------------------------------------------------------------------------------------
# Computation layer (no ipywidgets)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """Everything one render depends on. Sources are keys: ``sample:NAME`` (built-in),
    ``paper:FILE`` (the paper's images, via :func:`adain_lesson.hub.fetch`) or ``upload:N:NAME``.

    ``styles`` and ``weights`` have one entry per slot; an empty style key is an unused slot.
    ``mask`` is ``"none"``, a split kind (``left``, ``top``, ``ellipse``) or a mask source key.
    """

    content: str = "sample:grace_hopper"
    styles: tuple[str, ...] = ("sample:mosaic",)
    weights: tuple[float, ...] = (1.0,)
    alpha: float = 1.0
    preserve_color: bool = False
    mask: str = NO_MASK
    softness: float = 0.0
    size: int = 256


@dataclass
class Render:
    """One result: ``image`` ``[3, H, W]`` on the CPU in [0, 1], how long the stylization took (ms),
    how many style statistics were computed now and how many came from the cache, and notes to show."""

    image: Tensor
    ms: float
    encoded: int
    cached: int
    settings: Settings
    notes: list[str] = field(default_factory=list)
    inputs: list[Tensor] = field(default_factory=list)
    content_cached: bool = False


class PlaygroundEngine:
    """Image sources, uploads and caches around a :class:`StyleTransfer`; :meth:`render` does the work.

    Loaded images are cached per (source, size), style statistics per (style, size) and, with colour
    preservation, per content too (the style is colour-matched to the content before encoding, Fig. 9).
    """

    def __init__(
        self,
        model: StyleTransfer,
        *,
        paper_images: bool = False,
        mirror: str | Path | None = None,
        cache_size: int = 32,
    ) -> None:
        self.model = model
        self.paper_images = paper_images
        self.mirror = mirror
        self._uploads: dict[str, bytes] = {}
        self._upload_kind: dict[str, str] = {}
        self._images = _LRU(cache_size)
        self._stats = _LRU(4 * cache_size)
        self._features = _LRU(4)
        #: How many style statistics were computed (for tests and the status line).
        self.encodings = 0

    # -- sources ----------------------------------------------------------------------------------
    def choices(self, kind: str) -> list[tuple[str, str]]:
        """(label, key) pairs for ``kind`` = ``content``, ``style`` or ``mask`` (uploads last)."""
        if kind not in ("content", "style", "mask"):
            raise UserError(f"unknown source kind {kind!r}: use content, style or mask")
        out: list[tuple[str, str]] = []
        if kind == "content":
            out += [(f"{n} (built-in)", f"sample:{n}") for n in images.SAMPLE_CONTENTS]
        elif kind == "style":
            out += [(f"{n} (built-in)", f"sample:{n}") for n in images.SAMPLE_STYLES]
        if self.paper_images:
            out += [(f"{Path(n).stem} (paper)", f"paper:{n}") for n in sorted(hub.manifest(kind))]
        out += [(f"{key.split(':', 2)[2]} (uploaded)", key) for key, k in self._upload_kind.items() if k == kind]
        return out

    def default(self, kind: str) -> str:
        """The source a fresh playground shows: the paper's Chicago and Asheville in full mode, else samples."""
        if self.paper_images:
            return f"paper:{_PAPER_DEFAULTS[kind]}"
        return f"sample:{_SAMPLE_DEFAULTS[kind]}"

    def add_upload(self, kind: str, name: str, data: bytes) -> str:
        """Check an uploaded file (decoding it fully) and register it; returns its source key.

        A broken, empty or too-small file raises :class:`UserError` and is not registered.
        """
        if kind not in ("content", "style", "mask"):
            raise UserError(f"unknown upload kind {kind!r}: use content, style or mask")
        data = bytes(data)
        try:
            if kind == "mask":
                images.load_mask(data)
            else:
                images.load_image(data)
        except UserError as exc:
            raise UserError(f"upload {name!r}: {exc}") from None
        key = f"upload:{len(self._uploads) + 1}:{name}"
        self._uploads[key] = data
        self._upload_kind[key] = kind
        return key

    def _source(self, key: str) -> Path | bytes | str:
        if key.startswith("upload:") and key in self._uploads:
            return self._uploads[key]
        if key.startswith("paper:"):
            return hub.fetch(key.removeprefix("paper:"), mirror=self.mirror, progress=False)
        if key.startswith("sample:"):
            return key
        raise UserError(f"unknown image source {key!r}: choose one from the list or upload a file")

    def image(self, key: str, size: int) -> Tensor:
        """The image ``key`` with shorter side ``size``, ``[3, H, W]`` on the model's device (cached)."""
        cached = self._images.get((key, size))
        if cached is not None:
            return cached
        src = self._source(key)
        if isinstance(src, str):
            t = images.sample_image(src.removeprefix("sample:"), size)
        else:
            t = images.load_image(src, size)
        t = t.to(self.model.device)
        self._images.put((key, size), t)
        return t

    def mask(self, setting: str, softness: float, height: int, width: int) -> tuple[Tensor | None, list[str]]:
        """The mask ``[H, W]`` in [0, 1] for ``setting`` at the content's size (``None`` for no mask),
        and notes (none so far). A mask of about the content's shape is resized to it; one of another shape
        raises :class:`UserError` (make the mask the content's shape), which the playground shows."""
        if setting == NO_MASK:
            return None, []
        if setting in MASK_SPLITS.values():
            return images.split_mask(setting, height, width, softness), []
        src = self._source(setting)
        if isinstance(src, str):
            raise UserError(f"{setting} is an image, not a mask: choose a mask or upload one")
        # another shape (aspect ratios more than 5% apart) raises UserError, shown as the message; no stretching
        return images.load_mask(src, size=(height, width)), []

    def content_features(self, key: str, size: int) -> tuple[Tensor, bool]:
        """f(c), the relu4_1 features of content ``key`` at ``size`` (Eq. 9), and whether they were cached.

        Caching them is what makes a change of alpha, a weight or the mask cost one decoder pass only.
        """
        ck = ("features", key, size)
        feats = self._features.get(ck)
        if feats is not None:
            return feats, True
        with torch.inference_mode():
            feats = self.model.encode(self.image(key, size))
        self._features.put(ck, feats)
        return feats, False

    def style_stats(self, key: str, size: int, content_key: str | None = None) -> tuple[StyleStats, bool]:
        """mu(f(s)), sigma(f(s)) of style ``key`` at ``size``, and whether they were computed now.

        With ``content_key`` the style is first colour-matched to that content (colour preservation, Fig. 9).
        """
        ck = (key, size, content_key)
        stats = self._stats.get(ck)
        if stats is not None:
            return stats, False
        from .color import match_color

        style = self.image(key, size)
        if content_key is not None:
            style = match_color(style, self.image(content_key, size))
        with torch.inference_mode():
            stats = self.model.encode_style(style)
        self.encodings += 1
        self._stats.put(ck, stats)
        return stats, True

    # -- the work ---------------------------------------------------------------------------------
    def render(self, s: Settings) -> Render:
        """Stylize according to ``s`` (Eqs. 14 and 15, Figs. 9 and 10); raises :class:`UserError` on a mistake.

        The result equals :meth:`StyleTransfer.stylize` with the same inputs (``tests/test_widgets.py``
        checks it); the difference is that the content features and the style statistics come from caches.
        """
        t0 = time.perf_counter()
        if s.size not in SIZES and not images.MIN_SIDE <= s.size <= 4096:
            raise UserError(f"output size {s.size} is out of range: choose one of {SIZES}")
        if not 0.0 <= s.alpha <= 1.0:
            raise UserError(f"alpha must lie in [0, 1], got {s.alpha}")
        content = self.image(s.content, s.size)
        h, w = content.shape[-2:]
        slots = [(k, float(wt)) for k, wt in zip(s.styles, s.weights) if k != NO_STYLE]
        if not slots:
            raise UserError("no style chosen: pick a style in slot 1 (or upload one)")
        notes: list[str] = []
        mask, mask_notes = self.mask(s.mask, s.softness, h, w)
        notes += mask_notes
        if mask is not None:
            if len(slots) > 2:
                notes.append(f"a two-region mask uses styles 1 and 2; {len(slots) - 2} more ignored")
            slots = slots[:2]
            if len(slots) == 1:
                notes.append("one style with a mask: the second region keeps the content")
            weights = None
        else:
            slots = [(k, wt) for k, wt in slots if wt > 0]
            if not slots:
                raise UserError("all style weights are zero: raise at least one weight slider")
            weights = normalize_weights([wt for _, wt in slots], len(slots))
        content_key = s.content if s.preserve_color else None
        stats, fresh = [], 0
        for key, _ in slots:
            st, new = self.style_stats(key, s.size, content_key)
            stats.append(st)
            fresh += int(new)
        f_c, content_cached = self.content_features(s.content, s.size)
        with torch.inference_mode():
            # Eqs. 14-15, or Fig. 10's regions: exactly what StyleTransfer.stylize does after encoding
            t = mix_features(f_c, stats, (h, w), alpha=s.alpha, weights=weights, masks=mask)
            out = self.model.decode(t, (h, w))
            image = out[0].clamp(0, 1).float().cpu()  # the copy waits for the device: the time is honest
        ms = (time.perf_counter() - t0) * 1000.0
        inputs = [content.cpu()] + [self.image(k, s.size).cpu() for k, _ in slots]
        if mask is not None:
            inputs.append(mask.cpu().expand(3, -1, -1))
        return Render(image, ms, fresh, len(stats) - fresh, s, notes, inputs, content_cached)


def benchmark_playground(
    device: str | torch.device | None = None,
    sizes: tuple[int, ...] = (256, 512),
    presets: tuple[str, ...] = ("fp32", "auto"),
    repeats: int = 5,
    log: Callable[[str], None] | None = None,
) -> list[dict]:
    """Time the playground's two kinds of update with :meth:`PlaygroundEngine.render`, as a user meets them.

    - ``fresh``: a new content and a new style: two encoder passes and the decoder (and the images drawn);
    - ``alpha``: an alpha change with both cached (Eq. 14): the decoder only.

    For each ``preset`` of :meth:`StyleTransfer.optimize` (``"fp32"``: the float32 winners, the lesson
    model's default; ``"auto"``: reduced precision where the device runs it natively, as notebook 08 uses)
    one model with random weights of the released layout (the speed does not depend on the weights). The
    presets are timed interleaved, round by round, after one warm-up render each; returns one row per
    (size, preset, update) with the median and fastest time in ms and the median's ratio to ``fp32``.
    """
    from .model import load_pretrained

    if repeats < 1:
        raise UserError(f"repeats must be at least 1, got {repeats}")
    say = log or (lambda _msg: None)
    models = {}
    for preset in presets:
        models[preset] = load_pretrained("random", device).optimize(preset)
    times: dict[tuple[int, str, str], list[float]] = {}
    for size in sizes:
        for model in models.values():  # warm-up: the first call pays for allocation and autotuning
            PlaygroundEngine(model).render(Settings(content="sample:house", styles=("sample:mosaic",), size=size))
        for rnd in range(repeats):
            for preset, model in models.items():
                engine = PlaygroundEngine(model)
                base = Settings(content="sample:house", styles=("sample:mosaic",), weights=(1.0,), size=size)
                fresh = engine.render(base)
                alpha = engine.render(Settings(**{**base.__dict__, "alpha": 0.5}))
                times.setdefault((size, preset, "fresh"), []).append(fresh.ms)
                times.setdefault((size, preset, "alpha"), []).append(alpha.ms)
            say(f"playground {size} px: round {rnd + 1}/{repeats}")
    rows = []
    for (size, preset, update), ms in times.items():
        median = sorted(ms)[len(ms) // 2]
        ref = times.get((size, "fp32", update))
        ref_median = sorted(ref)[len(ref) // 2] if ref else None
        rows.append({"size": size, "preset": preset, "update": update, "median_ms": median, "min_ms": min(ms),
                     "speedup_vs_fp32": (ref_median / median) if ref_median else None,
                     "device": str(models[preset].device)})
    return rows


class Debouncer:
    """Coalesce a burst of requests into one call of ``fn``, ``wait`` seconds after the last request.

    It schedules on the running asyncio event loop (the Jupyter kernel's, on which widget callbacks
    run), so no thread is involved: while a render runs, new slider events wait in the queue, and once
    they have been read they give one more render, not one per event. Without a running loop (plain
    Python) or with ``wait <= 0`` the call happens at once.
    """

    def __init__(self, fn: Callable[[], Any], wait: float) -> None:
        self.fn = fn
        self.wait = wait
        self._handle: asyncio.TimerHandle | None = None
        #: Requests received and calls made, for tests and curious users.
        self.requests = 0
        self.calls = 0

    @property
    def pending(self) -> bool:
        return self._handle is not None

    def __call__(self) -> None:
        self.requests += 1
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if self.wait <= 0:
            self._run()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._run()
            return
        self._handle = loop.call_later(self.wait, self._run)

    def flush(self) -> None:
        """Run a pending call now."""
        if self._handle is not None:
            self._handle.cancel()
            self._run()

    def _run(self) -> None:
        self._handle = None
        self.calls += 1
        self.fn()


# --------------------------------------------------------------------------------------------------
# UI layer (ipywidgets 7.7.1 or 8.x, imported lazily)
# --------------------------------------------------------------------------------------------------


def _html_message(text: str, kind: str) -> str:
    colour = {"error": "#b00020", "note": "#8a5a00", "ok": "#1b5e20"}[kind]
    return f'<span style="color:{colour}">{html.escape(text)}</span>'


class Playground:
    """The interactive playground: build it, then display it (``Playground(model)`` as a cell's last line).

    Args:
        model: a :class:`StyleTransfer` (``lesson_model(SMOKE, DEVICE)``); random weights show a banner.
        paper_images: also offer the paper's contents, styles and mask (downloaded on first use).
        size: the initial output size (default :func:`default_size`: 512 on a GPU, 256 on a CPU).
        debounce_s: wait this long after the last change before rendering (0: render at once).
        save_path: the file the save button writes (PNG or JPEG by extension; written atomically).
        mirror: passed to :func:`adain_lesson.hub.fetch` (a local folder laid out like the cache).

    The widgets are attributes (``content``, ``style_sources``, ``weights``, ``alpha``, ``preserve_color``,
    ``mask``, ``softness``, ``size``, the uploads, ``result``, ``timing``, ``message``, ``save_button``),
    so a cell or a test can drive them; ``last`` is the latest :class:`Render`.
    """

    def __init__(
        self,
        model: StyleTransfer,
        *,
        paper_images: bool = False,
        size: int | None = None,
        debounce_s: float = 0.15,
        save_path: str | Path = "playground_result.png",
        mirror: str | Path | None = None,
    ) -> None:
        import ipywidgets as W

        self.engine = PlaygroundEngine(model, paper_images=paper_images, mirror=mirror)
        self.debouncer = Debouncer(self.update_now, debounce_s)
        self.last: Render | None = None
        self._rendered: Settings | None = None
        self._quiet = False
        self._info = ""
        size = int(size or default_size(model.device))
        wide = {"description_width": "initial"}

        self.banner = W.HTML(
            f'<div style="border:2px solid #b00020;color:#b00020;padding:4px;font-weight:bold">'
            f"{html.escape(RANDOM_WEIGHTS_BANNER)}</div>" if model.random_weights else ""
        )
        self.content = W.Dropdown(options=self.engine.choices("content"), value=self.engine.default("content"),
                                  description="content", style=wide)
        self.content_upload = W.FileUpload(accept="image/*", multiple=False, description="upload content")
        style_options = [("(none)", NO_STYLE)] + self.engine.choices("style")
        self.style_sources = [
            W.Dropdown(options=style_options, value=self.engine.default("style") if i == 0 else NO_STYLE,
                       description=f"style {i + 1}", style=wide)
            for i in range(MAX_STYLES)
        ]
        self.weights = [
            W.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description="weight", readout_format=".2f")
            for _ in range(MAX_STYLES)
        ]
        self.style_upload = W.FileUpload(accept="image/*", multiple=False, description="upload style")
        self.alpha = W.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description="α (Eq. 14)",
                                   readout_format=".2f", style=wide)
        self.preserve_color = W.Checkbox(value=False, description="preserve colour (Fig. 9)", indent=False)
        self.mask = W.Dropdown(options=self._mask_options(), value=NO_MASK, description="mask (Fig. 10)", style=wide)
        self.softness = W.FloatSlider(value=0.0, min=0.0, max=0.3, step=0.02, description="soft edge",
                                      readout_format=".2f", style=wide)
        self.mask_upload = W.FileUpload(accept="image/*", multiple=False, description="upload mask")
        self.size = W.Dropdown(options=sorted({*SIZES, size}), value=size, description="output size", style=wide)
        self.result = W.Image(format="png")
        self.preview = W.Image(format="png")
        self.timing = W.HTML()
        self.message = W.HTML()
        self.save_path = W.Text(value=str(save_path), description="save to", style=wide)
        self.save_button = W.Button(description="save", icon="save")

        controls = [self.content, self.alpha, self.preserve_color, self.mask, self.softness, self.size,
                    *self.style_sources, *self.weights]
        for w in controls:
            w.observe(self._on_change, names="value")
        self.content_upload.observe(lambda ch: self._on_upload("content", ch), names="value")
        self.style_upload.observe(lambda ch: self._on_upload("style", ch), names="value")
        self.mask_upload.observe(lambda ch: self._on_upload("mask", ch), names="value")
        self.save_button.on_click(lambda _: self._guard(self.save))

        style_rows = [W.HBox([s, wt]) for s, wt in zip(self.style_sources, self.weights)]
        left = W.VBox([
            W.HTML("<b>Content</b>"), W.HBox([self.content, self.content_upload]),
            W.HTML("<b>Styles</b> (weights: interpolation, Eq. 15)"), *style_rows, self.style_upload,
            W.HTML("<b>Controls</b>"), self.alpha, self.preserve_color,
            W.HBox([self.mask, self.mask_upload]), self.softness, self.size,
        ])
        right = W.VBox([self.result, self.timing, self.message, W.HBox([self.save_path, self.save_button]),
                        W.HTML("<small>inputs: content, styles, mask</small>"), self.preview])
        #: The root widget (display it, or display the playground itself).
        self.widget = W.VBox([self.banner, W.HBox([left, right])])
        self._sync_enabled()

    # -- reading the widgets ---------------------------------------------------------------------
    def _mask_options(self) -> list[tuple[str, str]]:
        splits = [(label, kind) for label, kind in MASK_SPLITS.items()]
        return [("none", NO_MASK), *splits, *self.engine.choices("mask")]

    def settings(self) -> Settings:
        """The widgets' current values as a :class:`Settings`."""
        return Settings(
            content=self.content.value,
            styles=tuple(s.value for s in self.style_sources),
            weights=tuple(float(w.value) for w in self.weights),
            alpha=float(self.alpha.value),
            preserve_color=bool(self.preserve_color.value),
            mask=self.mask.value,
            softness=float(self.softness.value),
            size=int(self.size.value),
        )

    def _sync_enabled(self) -> None:
        masked = self.mask.value != NO_MASK
        for i, (s, w) in enumerate(zip(self.style_sources, self.weights)):
            w.disabled = masked  # with a mask each region has one style: no interpolation weights
            s.disabled = masked and i >= 2
        self.softness.disabled = self.mask.value not in MASK_SPLITS.values()

    # -- callbacks (thin) ------------------------------------------------------------------------
    def _guard(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run a callback; show a mistake (or any failure) as a one-line message, never a traceback."""
        try:
            return fn(*args)
        except UserError as exc:
            self.show_message(str(exc), "error")
        except torch.cuda.OutOfMemoryError:
            self.show_message(f"out of GPU memory at {self.size.value} px: choose a smaller output size", "error")
        except Exception as exc:  # noqa: BLE001 - a widget must never print a traceback
            self.show_message(f"unexpected {type(exc).__name__}: {exc}", "error")
        return None

    def show_message(self, text: str, kind: str = "note") -> None:
        self.message.value = _html_message(text, kind) if text else ""

    def _on_change(self, change: dict) -> None:
        if self._quiet:
            return
        self._sync_enabled()
        self.request_update()

    def _on_upload(self, kind: str, change: dict) -> None:
        self._guard(self._take_upload, kind, change["new"])

    def _take_upload(self, kind: str, value: Any) -> None:
        files = parse_upload(value)
        if not files:
            return
        name, data = files[-1]
        self.add_upload(kind, name, data)

    def add_upload(self, kind: str, name: str, data: bytes) -> str:
        """Register an uploaded file (what the upload buttons call) and select it; returns its key.

        A style goes into the first unused slot (slot 1 when all are used); a mask is selected as the mask.
        """
        key = self.engine.add_upload(kind, name, data)
        self._quiet = True
        try:
            if kind == "content":
                self.content.options = self.engine.choices("content")
                target = self.content
            elif kind == "style":
                options = [("(none)", NO_STYLE)] + self.engine.choices("style")
                values = [s.value for s in self.style_sources]
                for s, v in zip(self.style_sources, values):
                    s.options = options
                    s.value = v  # setting options may reset the value (ipywidgets 7 and 8 differ)
                free = [s for s in self.style_sources if s.value == NO_STYLE and not s.disabled]
                target = free[0] if free else self.style_sources[0]
            else:
                value = self.mask.value
                self.mask.options = self._mask_options()
                self.mask.value = value
                target = self.mask
        finally:
            self._quiet = False
        self._info = f"uploaded {name}"  # shown now, and with the next result
        self.show_message(self._info, "ok")
        target.value = key  # an observed change: triggers the (debounced) update
        self._sync_enabled()
        return key

    def request_update(self) -> None:
        """Ask for a render; a burst of requests gives one (see :class:`Debouncer`)."""
        self.debouncer()

    def update_now(self) -> Render | None:
        """Render the current settings at once; returns the :class:`Render` (or ``None`` after an error)."""
        return self._guard(self._update)

    def _update(self) -> Render:
        s = self.settings()
        if self.last is not None and s == self._rendered:
            return self.last  # nothing changed (a slider moved and came back)
        self._rendered = None
        r = self.engine.render(s)
        self.last, self._rendered = r, s
        self.result.value = png_bytes(r.image)
        thumbs = [images.resize_shorter(t, 64) for t in r.inputs]
        self.preview.value = png_bytes(image_grid(thumbs, nrow=len(thumbs), padding=2))
        h, w = r.image.shape[-2:]
        content = "content from cache" if r.content_cached else "content encoded"
        styles = f"{r.encoded} style(s) encoded, {r.cached} from cache; {content}"
        self.timing.value = (
            f"<b>{r.ms:.0f} ms</b> for {w}x{h} on {self.engine.model.device.type} ({html.escape(styles)})"
        )
        info, self._info = ([self._info] if self._info else []), ""
        self.show_message("; ".join(info + r.notes), "note" if r.notes else "ok")
        return r

    def save(self) -> Path:
        """Save the latest result to the path in the text box (atomically); returns the path."""
        if self.last is None:
            raise UserError("nothing to save yet: wait for a result (or fix the message above)")
        path = Path(self.save_path.value.strip() or "playground_result.png").expanduser()
        images.save_image(self.last.image, path)
        h, w = self.last.image.shape[-2:]
        self.show_message(f"saved the {w}x{h} result to {path.resolve()}", "ok")
        return path

    def set(self, **values: Any) -> None:
        """Set several controls at once (``alpha=0.5, size=128, ...``) with one update afterwards."""
        self._quiet = True
        try:
            for name, value in values.items():
                widget = getattr(self, name, None)
                if widget is None or not hasattr(widget, "value"):
                    raise UserError(f"unknown control {name!r}: use content, alpha, preserve_color, mask or size")
                widget.value = value
        finally:
            self._quiet = False
        self._sync_enabled()
        self.request_update()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        self.request_update()
