"""The playground's engine: AdaIN's runtime controls (Section 7.3 of the paper) as plain computation,
with no ipywidgets in it. :mod:`adain_lesson.widgets` is the UI built on it.

Every setting maps onto one idea of the paper:

- alpha is the content-style trade-off ``T = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s)))`` (Eq. 14, Fig. 7);
- up to four styles with weights interpolate ``T = g(sum_k w_k AdaIN(f(c), f(s_k)))`` (Eq. 15, Fig. 8);
- preserve colour colour-matches each style image to the content before encoding (Fig. 9);
- a mask (a split, an ellipse, or an uploaded image) gives each region its own style (Fig. 10).

:class:`Settings` is a plain, frozen description of what to render; :class:`PlaygroundEngine` holds the
image sources, uploads and caches, and :meth:`PlaygroundEngine.render` is made of
:mod:`adain_lesson.model`'s functions and equal to :meth:`~adain_lesson.model.StyleTransfer.stylize`.
:func:`parse_upload` reads either ipywidgets format; :class:`Debouncer` coalesces a burst of requests.

Style statistics ``mu(f(s)), sigma(f(s))`` (:meth:`StyleTransfer.encode_style`) and the content features
``f(c)`` are cached, so moving alpha, a weight or the mask runs the decoder only.
"""

from __future__ import annotations

import asyncio
import io
import math
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
from .i18n import tr
from .model import StyleStats, StyleTransfer, mix_features, normalize_weights

__all__ = [
    "MAX_STYLES",
    "MASK_SPLITS",
    "NO_MASK",
    "NO_STYLE",
    "SIZES",
    "Debouncer",
    "PlaygroundEngine",
    "Render",
    "Settings",
    "default_size",
    "MAX_UPLOAD_BYTES",
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
    """The default output size: 512 px on a GPU (the authors' test.lua's size), 256 px on a CPU, to stay interactive."""
    return 512 if torch.device(device).type in ("cuda", "mps") else 256


def png_bytes(img: Tensor, compress_level: int = 1) -> bytes:
    """``[3, H, W]`` in [0, 1] as PNG bytes (fast compression: this is for display, not for archiving)."""
    buf = io.BytesIO()
    images.to_pil(img).save(buf, format="PNG", compress_level=compress_level)
    return buf.getvalue()


#: The largest upload accepted, in bytes: far above any photo (an 8000 x 8000 JPEG is 10-30 MB), far below
#: what would exhaust a Colab session. A declared ``size`` above it is refused before the bytes are copied.
MAX_UPLOAD_BYTES = 256 << 20


def _upload_size(name: str, size: Any) -> None:
    """A declared size must be a plausible number of bytes."""
    if size is None:
        return
    if isinstance(size, bool) or not isinstance(size, (int, float)) or not math.isfinite(size) or size < 0:
        raise UserError(tr("the upload of {name} declares an odd size {size}: upload the file again",
                           name=repr(name), size=repr(size)))
    if size > MAX_UPLOAD_BYTES:
        raise UserError(tr("the upload of {name} is {size:,.0f} bytes, more than the {value} MB an upload may "
                           "be: downscale or re-compress the image first",
                           name=repr(name), size=size, value=MAX_UPLOAD_BYTES >> 20))


def _upload_entry(entry: Any, fallback: str) -> tuple[str, bytes]:
    """``(name, bytes)`` of one uploaded file (a 7.x value of the dict, or an 8.x dict with a name)."""
    meta = entry.get("metadata") if isinstance(entry, Mapping) else None
    if meta is not None and not isinstance(meta, Mapping):
        raise UserError(tr("the upload of {fallback} has odd metadata ({name}): upload the file again",
                           fallback=repr(fallback), name=type(meta).__name__))
    meta = meta or {}
    name = entry.get("name") if isinstance(entry, Mapping) else None
    name = name if isinstance(name, str) and name else meta.get("name")
    name = Path(name).name[:200] if isinstance(name, str) and Path(name).name else fallback
    content = entry.get("content") if isinstance(entry, Mapping) else entry
    if content is None:
        raise UserError(tr("the upload of {name} carries no content: upload the file again", name=repr(name)))
    if not isinstance(content, (bytes, bytearray, memoryview)):
        raise UserError(tr("the upload of {name} carries {name2}, not the file's bytes: upload the file again",
                           name=repr(name), name2=type(content).__name__))
    if isinstance(entry, Mapping):
        _upload_size(name, entry.get("size"))
    _upload_size(name, meta.get("size"))
    _upload_size(name, content.nbytes if isinstance(content, memoryview) else len(content))
    return name, bytes(content)


def parse_upload(value: Any) -> list[tuple[str, bytes]]:
    """The ``(file name, bytes)`` of every file in a ``FileUpload.value``, in either ipywidgets format.

    - ipywidgets 7.x: a dict ``{name: {"metadata": {...}, "content": bytes}}``;
    - ipywidgets 8.x: a tuple of dicts ``{"name": ..., "type": ..., "size": ..., "content": memoryview}``.

    An empty value gives ``[]``. Anything malformed (content that is not bytes, missing or odd metadata, a
    declared or real size over :data:`MAX_UPLOAD_BYTES`, a value of another type) raises :class:`UserError`;
    names are reduced to their last path component.
    """
    if value is None:
        return []
    if isinstance(value, Mapping):  # 7.x
        entries = [(entry, str(name) if isinstance(name, str) else f"upload{i + 1}")
                   for i, (name, entry) in enumerate(value.items())]
    elif isinstance(value, (list, tuple)):  # 8.x
        for entry in value:
            if not isinstance(entry, Mapping):
                raise UserError(tr("an uploaded file arrived as {name}, not as a file record: upload the file "
                                   "again", name=type(entry).__name__))
        entries = [(entry, f"upload{i + 1}") for i, entry in enumerate(value)]
    else:
        raise UserError(tr("unrecognised upload value of type {name}: upload the file again",
                           name=type(value).__name__))
    return [_upload_entry(entry, fallback) for entry, fallback in entries]


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
            raise UserError(tr("unknown source kind {kind}: use content, style or mask", kind=repr(kind)))
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
        """Check an uploaded file (its header and a reduced-scale decode) and register it; returns its key.

        A broken, empty or too-small file raises :class:`UserError` and is not registered.
        """
        if kind not in ("content", "style", "mask"):
            raise UserError(tr("unknown upload kind {kind}: use content, style or mask", kind=repr(kind)))
        if not isinstance(name, str):
            raise UserError(tr("the upload's name must be text (the file name), got {type}", type=type(name).__name__),
                            param="name")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise UserError(tr("upload {name}: data must be the file's bytes (bytes, bytearray or memoryview), got "
                               "{type}; read the file with open(path, 'rb').read()", name=repr(name),
                               type=type(data).__name__), param="data")
        data = bytes(data)
        try:  # the header, and a reduced-scale decode: an 8000 x 8000 photo is never decoded at full size here
            images.check_image(data, min_side=1 if kind == "mask" else images.MIN_SIDE)
        except UserError as exc:
            raise UserError(tr("upload {name}: {exc}", name=repr(name), exc=exc)) from None
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
        raise UserError(tr("unknown image source {key}: choose one from the list or upload a file", key=repr(key)))

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
            raise UserError(tr("{setting} is an image, not a mask: choose a mask or upload one", setting=setting))
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
            raise UserError(tr("output size {size} is out of range: choose one of {SIZES}", size=s.size, SIZES=SIZES))
        if not 0.0 <= s.alpha <= 1.0:
            raise UserError(tr("alpha must lie in [0, 1], got {alpha}", alpha=s.alpha))
        content = self.image(s.content, s.size)
        h, w = content.shape[-2:]
        slots = [(k, float(wt)) for k, wt in zip(s.styles, s.weights) if k != NO_STYLE]
        for i, (k, wt) in enumerate(zip(s.styles, s.weights), start=1):
            if k != NO_STYLE and not math.isfinite(float(wt)):
                raise UserError(tr("the weight of style {i} is {wt} (not a number): set it to a number >= 0",
                                   i=i, wt=float(wt)))
        if not slots:
            raise UserError(tr("no style chosen: pick a style in slot 1 (or upload one)"))
        notes: list[str] = []
        mask, mask_notes = self.mask(s.mask, s.softness, h, w)
        notes += mask_notes
        if mask is not None:
            if len(slots) > 2:
                notes.append(tr("a two-region mask uses styles 1 and 2; {value} more ignored", value=len(slots) - 2))
            slots = slots[:2]
            if len(slots) == 1:
                notes.append(tr("one style with a mask: the second region keeps the content"))
            weights = None
        else:
            slots = [(k, wt) for k, wt in slots if wt > 0]
            if not slots:
                raise UserError(tr("all style weights are zero: raise at least one weight slider"))
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
