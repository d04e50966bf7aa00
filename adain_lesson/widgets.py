"""The playground's UI: :class:`Playground`, ipywidgets (7.7.1, as on Colab, or 8.x) around the engine of
:mod:`adain_lesson.playground`.

Every control maps onto one idea of the paper (Section 7.3):

- the alpha slider is the content-style trade-off ``T = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s)))``
  (Eq. 14, Fig. 7);
- up to four styles with weight sliders interpolate ``T = g(sum_k w_k AdaIN(f(c), f(s_k)))``
  (Eq. 15, Fig. 8);
- the preserve-colour toggle colour-matches each style image to the content before encoding (Fig. 9);
- a mask (a split, an ellipse, or an uploaded image) gives each region its own style (Fig. 10).

Its callbacks only read the widgets into a :class:`~adain_lesson.playground.Settings`, call the engine, and
show the result, or the error as a one-line message, never a traceback. Updates are debounced: a burst of
slider events (a drag) gives one render, after the burst.

The engine (``PlaygroundEngine``, ``Settings``, ``Render``, ``parse_upload``, ``Debouncer``, ``png_bytes``, ...)
lives in :mod:`adain_lesson.playground`; ``benchmark_playground`` in :mod:`adain_lesson.bench`.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from . import images
from .errors import UserError
from .i18n import tr
from .model import StyleTransfer
from .playground import (
    MASK_SPLITS,
    MAX_STYLES,
    NO_MASK,
    NO_STYLE,
    SIZES,
    Debouncer,
    PlaygroundEngine,
    Render,
    Settings,
    default_size,
    parse_upload,
    png_bytes,
)
from .viz import image_grid
from .weights import random_weights_banner

__all__ = ["Playground"]


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
            f"{html.escape(random_weights_banner())}</div>" if model.random_weights else ""
        )
        self.content = W.Dropdown(options=self._choices("content"), value=self.engine.default("content"),
                                  description=tr("content"), style=wide)
        self.content_upload = W.FileUpload(accept="image/*", multiple=False, description=tr("upload content"))
        style_options = self._style_options()
        self.style_sources = [
            W.Dropdown(options=style_options, value=self.engine.default("style") if i == 0 else NO_STYLE,
                       description=tr("style {number}", number=i + 1), style=wide)
            for i in range(MAX_STYLES)
        ]
        self.weights = [
            W.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description=tr("weight"), readout_format=".2f")
            for _ in range(MAX_STYLES)
        ]
        self.style_upload = W.FileUpload(accept="image/*", multiple=False, description=tr("upload style"))
        self.alpha = W.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description=tr("α (Eq. 14)"),
                                   readout_format=".2f", style=wide)
        self.preserve_color = W.Checkbox(value=False, description=tr("preserve colour (Fig. 9)"), indent=False)
        self.mask = W.Dropdown(options=self._mask_options(), value=NO_MASK, description=tr("mask (Fig. 10)"),
                               style=wide)
        self.softness = W.FloatSlider(value=0.0, min=0.0, max=0.3, step=0.02, description=tr("soft edge"),
                                      readout_format=".2f", style=wide)
        self.mask_upload = W.FileUpload(accept="image/*", multiple=False, description=tr("upload mask"))
        self.size = W.Dropdown(options=sorted({*SIZES, size}), value=size, description=tr("output size"),
                               style=wide)
        self.result = W.Image(format="png")
        self.preview = W.Image(format="png")
        self.timing = W.HTML()
        self.message = W.HTML()
        self.save_path = W.Text(value=str(save_path), description=tr("save to"), style=wide)
        self.save_button = W.Button(description=tr("save"), icon="save")
        #: How many results the playground has shown (the timing readout counts them).
        self.renders = 0
        # CSS classes a page (or a browser test) finds the controls by, whatever the language of the labels
        for name in ("content", "alpha", "preserve_color", "mask", "softness", "size", "result", "preview",
                     "timing", "message", "save_path", "save_button"):
            getattr(self, name).add_class(f"adain-{name.replace('_', '-')}")
        for i, (s, w) in enumerate(zip(self.style_sources, self.weights)):
            s.add_class(f"adain-style-{i + 1}")
            w.add_class(f"adain-weight-{i + 1}")

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
            W.HTML(f"<b>{html.escape(tr('Content'))}</b>"), W.HBox([self.content, self.content_upload]),
            W.HTML(f"<b>{html.escape(tr('Styles'))}</b> {html.escape(tr('(weights: interpolation, Eq. 15)'))}"),
            *style_rows, self.style_upload,
            W.HTML(f"<b>{html.escape(tr('Controls'))}</b>"), self.alpha, self.preserve_color,
            W.HBox([self.mask, self.mask_upload]), self.softness, self.size,
        ])
        right = W.VBox([self.result, self.timing, self.message, W.HBox([self.save_path, self.save_button]),
                        W.HTML(f"<small>{html.escape(tr('inputs: content, styles, mask'))}</small>"), self.preview])
        #: The root widget (display it, or display the playground itself).
        self.widget = W.VBox([self.banner, W.HBox([left, right])])
        self.widget.add_class("adain-playground")
        self._sync_enabled()

    # -- reading the widgets ---------------------------------------------------------------------
    def _choices(self, kind: str) -> list[tuple[str, str]]:
        """The engine's (label, key) choices of ``kind`` with the labels in the reader's language."""
        where = {"sample": tr("built-in"), "paper": tr("paper"), "upload": tr("uploaded")}
        out = []
        for _, key in self.engine.choices(kind):
            source, name = key.split(":", 1)
            name = name.split(":", 1)[1] if source == "upload" else Path(name).stem if source == "paper" else name
            out.append((f"{name} ({where[source]})", key))
        return out

    def _style_options(self) -> list[tuple[str, str]]:
        return [(tr("(none)"), NO_STYLE), *self._choices("style")]

    def _mask_options(self) -> list[tuple[str, str]]:
        splits = {"left": tr("left | right"), "top": tr("top | bottom"), "ellipse": tr("ellipse | outside")}
        return [(tr("none"), NO_MASK), *[(splits[kind], kind) for kind in MASK_SPLITS.values()],
                *self._choices("mask")]

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
            self.show_message(tr("out of GPU memory at {value} px: choose a smaller output size",
                                 value=self.size.value), "error")
        except Exception as exc:  # noqa: BLE001 - a widget must never print a traceback
            self.show_message(tr("unexpected {name}: {exc}", name=type(exc).__name__, exc=exc), "error")
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
                self.content.options = self._choices("content")
                target = self.content
            elif kind == "style":
                options = self._style_options()
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
        self._info = tr("uploaded {name}", name=name)  # shown now, and with the next result
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
        self.renders += 1
        content = tr("content from cache") if r.content_cached else tr("content encoded")
        styles = tr("{encoded} style(s) encoded, {cached} from cache; {content}", encoded=r.encoded,
                    cached=r.cached, content=content)
        self.timing.value = tr("result {n}: <b>{ms} ms</b> for {w}x{h} on {device} ({styles})", n=self.renders,
                               ms=f"{r.ms:.0f}", w=w, h=h, device=self.engine.model.device.type,
                               styles=html.escape(styles))
        info, self._info = ([self._info] if self._info else []), ""
        self.show_message("; ".join(info + r.notes), "note" if r.notes else "ok")
        return r

    def save(self) -> Path:
        """Save the latest result to the path in the text box (atomically); returns the path."""
        if self.last is None:
            raise UserError(tr("nothing to save yet: wait for a result (or fix the message above)"))
        path = Path(self.save_path.value.strip() or "playground_result.png").expanduser()
        images.save_image(self.last.image, path)
        h, w = self.last.image.shape[-2:]
        self.show_message(tr("saved the {w}x{h} result to {value}", w=w, h=h, value=path.resolve()), "ok")
        return path

    def set(self, **values: Any) -> None:
        """Set several controls at once (``alpha=0.5, size=128, ...``) with one update afterwards."""
        self._quiet = True
        try:
            for name, value in values.items():
                widget = getattr(self, name, None)
                if widget is None or not hasattr(widget, "value"):
                    raise UserError(tr("unknown control {name}: use content, alpha, preserve_color, mask or size",
                                       name=repr(name)))
                widget.value = value
        finally:
            self._quiet = False
        self._sync_enabled()
        self.request_update()

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
        self.request_update()
