"""The feed-forward AdaIN model (Fig. 2) and its runtime controls (Section 7.3, Eqs. 14-15).

``T(c, s) = g(t)`` with ``t = AdaIN(f(c), f(s))`` (Eqs. 9-10): a frozen VGG encoder f up to relu4_1,
the AdaIN layer, and a trained decoder g. :class:`StyleTransfer` adds what the paper shows at test time:

- content-style trade-off ``T = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s)))`` (Eq. 14, Fig. 7);
- style interpolation ``T = g(sum_k w_k AdaIN(f(c), f(s_k)))`` (Eq. 15, Fig. 8);
- colour preservation (Fig. 9): the style image is colour-matched to the content before encoding;
- spatial control (Fig. 10): each mask region gets its own style, with the content statistics taken
  over that region only (as the Lua reference does); any number of regions, soft masks, and alpha per
  region;
- style statistics computed once (:meth:`StyleTransfer.encode_style`) and reused for many contents;
- runtime settings per device (:class:`InferenceOptions`, :meth:`StyleTransfer.optimize`): channels_last,
  reduced-precision autocast, cuDNN autotuning, torch.compile. ``python -m adain_lesson bench`` measures
  each against the reference pipeline and shows which wins where.

``load_pretrained`` builds the model from the released files (downloaded and hash-checked by
:mod:`adain_lesson.hub`), from a folder holding them, or with random weights for offline demos; the
weights themselves (random init, strict loading, the encoder) are :mod:`adain_lesson.weights`' concern.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import hub, images, memory
from .color import match_color
from .decoder import make_decoder
from .device import cpu_has_fast_bf16, resolve_device
from .errors import UserError, offline_hint
from .i18n import tr
from .norms import EPS, adaptive_instance_norm, adaptive_instance_norm_from_stats, calc_mean_std
from .vgg import ADAIN_STYLE_LAYERS, Encoder
from .weights import (
    TRAINED_HERE,
    decoder_from_checkpoint,
    find_run,
    load_encoder,
    load_strict,
    load_weights_file,
    notebook_offline_fix,
    random_init_,
    random_weights_banner,
)

__all__ = [
    "FUSIONS",
    "InferenceOptions",
    "StyleStats",
    "StyleTransfer",
    "lesson_model",
    "load_pretrained",
    "masked_adain",
    "mix_features",
    "normalize_weights",
    "check_alphas",
    "fuse",
    "prepare_masks",
    "reference_forward",
]



@dataclass(frozen=True)
class StyleStats:
    """Channel-wise mean and std of a style's relu4_1 features (mu(y), sigma(y) of Eq. 8), ``[B, C, 1, 1]``."""

    mean: Tensor
    std: Tensor

    def to(self, device: torch.device | str) -> StyleStats:
        return StyleStats(self.mean.to(device), self.std.to(device))


StyleInput = Union[Tensor, StyleStats]


def normalize_weights(weights: Sequence[float] | Tensor | None, k: int) -> list[float]:
    """Validate interpolation weights for ``k`` styles and scale them to sum to 1 (Eq. 15).

    ``None`` gives equal weights. Weights must be finite, non-negative and not all zero.
    """
    if weights is None:
        return [1.0 / k] * k
    w = [float(x) for x in (weights.tolist() if isinstance(weights, Tensor) else weights)]
    if len(w) != k:
        raise UserError(tr("got {w} style weights for {k} styles: give one weight per style", w=len(w), k=k))
    if any(not torch.isfinite(torch.tensor(x)) or x < 0 for x in w):
        raise UserError(tr("style weights must be finite and non-negative, got {w}", w=w))
    total = sum(w)
    if total <= 0:
        raise UserError(tr("style weights are all zero: give at least one positive weight"))
    return [x / total for x in w]


_AUTOCAST_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclass(frozen=True)
class InferenceOptions:
    """How a :class:`StyleTransfer` runs at test time; none of them changes the network (Fig. 2).

    - ``channels_last``: weights and activations in NHWC layout, which oneDNN (CPU) and cuDNN (tensor
      cores) convolve faster. The same numbers as NCHW up to float rounding order (~1e-6 relative).
    - ``autocast``: ``"bfloat16"`` or ``"float16"`` runs the convolutions in reduced precision; the AdaIN
      statistics (Eq. 8) stay in float32. Used only while gradients are off (inference), so training
      is never affected. Parity with float32: PSNR above 40 dB (checked by ``tests/test_bench.py``).
    - ``cudnn_benchmark``: let cuDNN time its algorithms per input shape (CUDA only; set only for the
      duration of each call and restored afterwards).
    - ``compile``: run the encoder and decoder through ``torch.compile`` (pays after a long first call
      per input shape; off by default everywhere).

    ``InferenceOptions()`` is the reference behaviour. :meth:`for_device` gives the measured winners.
    """

    channels_last: bool = False
    autocast: str | None = None
    cudnn_benchmark: bool = False
    compile: bool = False

    def __post_init__(self) -> None:
        if self.autocast is not None and self.autocast not in _AUTOCAST_DTYPES:
            raise UserError(tr("autocast must be None, 'bfloat16' or 'float16', got {autocast}",
                               autocast=repr(self.autocast)))

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        return None if self.autocast is None else _AUTOCAST_DTYPES[self.autocast]

    @staticmethod
    def for_device(
        device: str | torch.device, precision: str = "auto", *, compile: bool = False
    ) -> InferenceOptions:
        """The fastest settings for ``device`` (what ``python -m adain_lesson bench`` found to win).

        ``precision="fp32"`` keeps float32 (outputs within ~1e-5 of the reference); ``"auto"`` adds the
        reduced precision that wins on this device: bfloat16 on CPUs with native bf16 (AVX512-BF16 or
        AMX), float16 on CUDA. ``compile=True`` pays off for many same-size images, after a compilation
        per shape. The speed-ups are measured by ``python -m adain_lesson bench`` and listed in the README's
        generated tables, not here.
        """
        if precision not in ("auto", "fp32"):
            raise UserError(tr("precision must be 'auto' or 'fp32', got {precision}", precision=repr(precision)))
        kind = torch.device(device).type
        if kind == "cpu":
            half = "bfloat16" if precision == "auto" and cpu_has_fast_bf16() else None
            return InferenceOptions(channels_last=True, autocast=half, compile=compile)
        if kind == "cuda":
            half = "float16" if precision == "auto" else None
            return InferenceOptions(channels_last=True, autocast=half, cudnn_benchmark=True, compile=compile)
        return InferenceOptions(compile=compile)  # mps and others: the reference settings

    def with_(self, **changes: object) -> InferenceOptions:
        """A copy with some fields changed, e.g. ``opts.with_(autocast=None)``."""
        return replace(self, **changes)


def _as_batch(img: Tensor, what: str, dtype: torch.dtype | None = None) -> Tensor:
    """``img`` as a float batch ``[N, 3, H, W]``: checks the type, shape, dtype and size, never the values.

    Floating inputs are cast to ``dtype`` (the model's); integer or bool images are refused (a guess at
    their scale would be silent). These checks read only metadata: no device sync.
    """
    if not isinstance(img, Tensor):
        raise UserError(
            tr("{what} must be an image tensor, got {name}: load files with images.load_image",
               what=what, name=type(img).__name__)
        )
    if img.dim() == 3:
        img = img.unsqueeze(0)
    if img.dim() != 4 or img.shape[1] != 3:
        raise UserError(tr("{what} must be an RGB image [3, H, W] or a batch [N, 3, H, W], got {value}",
                           what=what, value=tuple(img.shape)))
    if not img.is_floating_point():
        raise UserError(
            tr("{what} has dtype {value}, but the model expects float images in [0, 1]: use images.load_image "
               "(or divide by 255 and convert to float yourself)",
                                                                                        what=what,
                                                                                        value=str(img.dtype).removeprefix('torch.'))
        )
    h, w = img.shape[-2:]
    if min(h, w) < images.MIN_SIDE:
        raise UserError(
            tr("{what} is {w}x{h} px, too small for the VGG encoder: it needs at least {MIN_SIDE} px per side "
               "(use a larger image or size)", what=what, w=w, h=h, MIN_SIDE=images.MIN_SIDE)
        )
    if img.shape[0] == 0:
        raise UserError(tr("{what} is an empty batch (0 images): pass at least one image", what=what))
    if dtype is not None and img.dtype != dtype:
        img = img.to(dtype)
    return img


def _check_values(*named: tuple[str, Tensor]) -> None:
    """Refuse non-finite values and values far outside [0, 1] (0..255 or ImageNet-normalised inputs).

    One reduction per input. :meth:`StyleTransfer._input` calls it on CPU tensors only (before they move
    to the model's device), so it never waits for a GPU; it is also skipped while a CUDA graph is captured.
    """
    if not named:
        return
    if torch.cuda.is_available() and torch.cuda.is_current_stream_capturing():
        return
    with torch.no_grad():
        # min/max propagate NaN, and +-inf shows as an infinite max/min: two numbers per input say it all
        dev = named[0][1].device
        bounds = torch.stack([torch.stack(torch.aminmax(t.detach())).float().to(dev) for _, t in named])
    for (what, _), (lo, hi) in zip(named, bounds.tolist()):  # the one sync
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise UserError(tr("{what} contains NaN or infinite values: check how it was computed or loaded",
                               what=what))
        if lo < -0.5:
            raise UserError(
                tr("{what} has values in [{lo:.4g}, {hi:.4g}]: it looks normalised (mean/std), but the model "
                   "expects floats in [0, 1] (undo the normalisation, or use images.load_image)",
                   what=what, lo=lo, hi=hi)
            )
        if hi > 1.5:
            guess = tr("it looks like 0..255") if hi <= 255.5 else tr("far outside [0, 1]")
            raise UserError(
                tr("{what} has values up to {hi:.4g}: {guess}, but the model expects floats in [0, 1] (divide by "
                   "255, or use images.load_image)", what=what, hi=hi, guess=guess)
            )


def _check_batches(n_content: int, n_style: int, which: str) -> None:
    if n_style != n_content and n_style != 1 and n_content != 1:
        raise UserError(
            tr("{which} has a batch of {n_style} but the content a batch of {n_content}: give one style for all "
               "contents, or exactly one per content", which=which, n_style=n_style, n_content=n_content)
        )


def _compiler_problem(device: torch.device) -> str | None:
    """Why ``torch.compile`` cannot work on ``device`` here (on a CPU it needs a working C++ compiler), or ``None``."""
    if device.type != "cpu":
        return None
    try:
        from torch._inductor import cpp_builder

        cpp_builder.get_cpp_compiler()
    except ImportError:
        return None  # an older PyTorch: let the call-time fallback of StyleTransfer._run judge
    except Exception as exc:  # noqa: BLE001 - InvalidCxxCompiler and its kin
        detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        return tr("no working C++ compiler was found ({detail}): install one, e.g. g++, to compile", detail=detail)
    return None


def _compile_note(problem: str) -> None:
    print(tr("note: compile is off, the model runs eagerly (the same results, without the speed-up of compiling): "
             "{problem}", problem=problem), file=sys.stderr)


class StyleTransfer(nn.Module):
    """Encoder (frozen VGG to relu4_1), AdaIN, decoder: the network of Fig. 2.

    Inputs are RGB in [0, 1], ``[3, H, W]`` or ``[N, 3, H, W]``, on any device (they are moved to the
    model's). Outputs have the content's height and width: the decoder's output (a multiple of 8, since
    the encoder pools with ``ceil_mode``) is cropped to it, where the reference returns the padded size.
    """

    def __init__(self, encoder: Encoder | nn.Sequential, decoder: nn.Sequential) -> None:
        super().__init__()
        self.encoder = encoder if isinstance(encoder, Encoder) else Encoder(encoder, "relu4_1")
        self.decoder = decoder
        #: True when the weights are random (set by :func:`load_pretrained`); shown as a banner.
        self.random_weights = False
        #: The training run whose decoder this is (:class:`adain_lesson.weights.TrainedRun`), if any.
        self.trained_run = None
        #: Runtime settings (see :meth:`optimize`); the default is the reference behaviour.
        self.options = InferenceOptions()
        self._compiled: dict[str, object] = {}  # a plain dict, so compiled wrappers are not submodules

    @property
    def provenance(self) -> str:
        """Where the weights come from: ``"random"``, ``"released"`` or ``"vgg19-pip"`` (the encoder's, see
        :func:`adain_lesson.weights.load_encoder`); random when :attr:`random_weights` says so;
        :data:`~adain_lesson.weights.TRAINED_HERE` when the decoder is a training run's (:attr:`trained_run`)."""
        if self.random_weights:
            return "random"
        if self.trained_run is not None:
            return TRAINED_HERE
        return getattr(self.encoder, "provenance", "released")

    @property
    def device(self) -> torch.device:
        return next(self.decoder.parameters()).device

    def optimize(self, options: InferenceOptions | str = "auto") -> StyleTransfer:
        """Apply runtime settings and return ``self``: an :class:`InferenceOptions`, or ``"auto"`` (the
        winners for this model's device, reduced precision included), ``"fp32"`` (the winners that keep
        float32) or ``"none"`` (the reference behaviour). Move the model to its device first."""
        if isinstance(options, str):
            if options == "none":
                options = InferenceOptions()
            elif options in ("auto", "fp32"):
                options = InferenceOptions.for_device(self.device, options)
            else:
                raise UserError(tr("unknown optimization preset {options}: use 'auto', 'fp32' or 'none'",
                                   options=repr(options)))
        fmt = torch.channels_last if options.channels_last else torch.contiguous_format
        self.to(memory_format=fmt)
        self._compiled = {}
        if options.compile:
            if not hasattr(torch, "compile"):
                raise UserError(tr("this PyTorch has no torch.compile: upgrade to >= 2.0 or leave compile off"))
            problem = _compiler_problem(self.device)
            if problem is None:
                self._compiled = {"encoder": torch.compile(self.encoder.body), "decoder": torch.compile(self.decoder)}
            else:
                _compile_note(problem)
        self.options = options
        return self

    def _run(self, name: str, x: Tensor) -> Tensor:
        """The encoder's body or the decoder on ``x``, compiled when :meth:`optimize` asked for it; a compilation
        that fails (no working compiler, an unsupported operation) falls back to eager with a note, once."""
        compiled = self._compiled.get(name)
        if compiled is not None:
            try:
                return compiled(x)  # type: ignore[operator]
            except Exception as exc:  # noqa: BLE001 - only torch.compile's own failures are caught
                if not type(exc).__module__.startswith(("torch._dynamo", "torch._inductor")):
                    raise
                self._compiled = {}
                _compile_note((str(exc).strip().splitlines() or [type(exc).__name__])[0][:160])
        return self.encoder.body(x) if name == "encoder" else self.decoder(x)

    @contextlib.contextmanager
    def _runtime(self) -> Iterator[bool]:
        """The context of :attr:`options` for one call; yields whether autocast is on."""
        opts = self.options
        dev = self.device
        half = opts.autocast_dtype is not None and not torch.is_grad_enabled()
        bench = opts.cudnn_benchmark and dev.type == "cuda"
        previous = torch.backends.cudnn.benchmark
        try:
            if bench:
                torch.backends.cudnn.benchmark = True
            # no weight-cast cache: each call casts each weight once anyway, and CUDA graph capture needs it off
            cast = (torch.autocast(dev.type, dtype=opts.autocast_dtype, cache_enabled=False) if half
                    else contextlib.nullcontext())
            with cast:
                yield half
        finally:
            if bench:
                torch.backends.cudnn.benchmark = previous

    def _layout(self, x: Tensor) -> Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.options.channels_last else x

    def _input(self, img: Tensor, what: str) -> Tensor:
        """An input image as a batch on the model's device and dtype.

        The values are checked (:func:`_check_values`) while the image is still on the CPU, as
        :func:`adain_lesson.images.load_image` gives it: a CPU reduction, never a wait for a GPU. A tensor that
        is already on an accelerator gets the metadata checks only (checking it would stall the pipeline).
        """
        param = next(self.decoder.parameters())
        batch = _as_batch(img, what, param.dtype)
        if batch.device.type == "cpu":
            _check_values((what, batch))
        return batch.to(param.device)

    def encode(self, img: Tensor) -> Tensor:
        """f(x): relu4_1 features of ``img`` (Eq. 9); float32 (or the model's dtype), NCHW-contiguous.

        ``img`` is RGB in [0, 1]; a wrong type, shape, dtype, size or value range raises :class:`UserError`.
        """
        return self._encode(self._input(img, "image"))

    def _encode(self, x: Tensor) -> Tensor:
        """:meth:`encode` on a checked batch ``x`` already on the model's device and dtype."""
        if self.options == InferenceOptions():
            return self.encoder(x)
        with self._runtime() as half:
            f = self._run("encoder", self._layout(x))
        if half:
            f = f.to(x.dtype)
        return f.contiguous()

    def encode_with_intermediate(self, img: Tensor, layers: Sequence[str] = ADAIN_STYLE_LAYERS) -> list[Tensor]:
        """phi_i(x) for the style-loss layers relu1_1 ... relu4_1 (Eq. 13), in one pass."""
        return self.encoder.features(_as_batch(img, "image").to(self.device), layers)

    def encode_style(self, style: Tensor) -> StyleStats:
        """Style statistics mu(f(s)), sigma(f(s)) (Eq. 8), computed once and reusable for any number of contents."""
        x = self._input(style, "style")
        mean, std = calc_mean_std(self._encode(x))
        return StyleStats(mean, std)

    def decode(self, t: Tensor, size: tuple[int, int] | None = None) -> Tensor:
        """g(t), cropped to ``size`` (H, W) when given."""
        if self.options == InferenceOptions():
            out = self.decoder(t)
        else:
            with self._runtime() as half:
                out = self._run("decoder", self._layout(t))
            if half:
                out = out.to(t.dtype)
        if size is not None:
            out = out[..., : size[0], : size[1]]
        return out if self.options == InferenceOptions() else out.contiguous()

    def forward(self, content: Tensor, style: StyleInput, alpha: float = 1.0) -> Tensor:
        """T(c, s) (Eq. 10) with the trade-off alpha (Eq. 14)."""
        return self.stylize(content, style, alpha=alpha)

    # ---------------------------------------------------------------------------------------------
    def _style_stats(self, style: StyleInput, content: Tensor | None, preserve_color: bool) -> StyleStats:
        """Statistics of a style given as :class:`StyleStats` or as a batch checked by :meth:`_input`."""
        if isinstance(style, StyleStats):
            return style.to(self.device)
        if preserve_color and content is not None:
            style = match_color(style, content)
        mean, std = calc_mean_std(self._encode(style))
        return StyleStats(mean, std)

    def stylize(
        self,
        content: Tensor,
        styles: StyleInput | Sequence[StyleInput],
        *,
        alpha: float | Sequence[float] = 1.0,
        weights: Sequence[float] | Tensor | None = None,
        masks: Tensor | Sequence[Tensor] | None = None,
        preserve_color: bool = False,
    ) -> Tensor:
        """Stylize ``content`` with one or more styles; returns ``[N, 3, H, W]`` (not clamped).

        Args:
            content: ``[3, H, W]`` or ``[N, 3, H, W]`` in [0, 1].
            styles: one style (an image ``[3, h, w]``, a batch ``[N or 1, 3, h, w]`` paired with the
                contents, or precomputed :class:`StyleStats`), or a list of K of them. Sizes may differ.
            alpha: content-style trade-off in [0, 1] (Eq. 14); with masks, one value per region allowed.
            weights: K interpolation weights (Eq. 15), validated and normalised; default equal.
            masks: K masks ``[H, W]`` (or ``[N, H, W]``) with values in [0, 1], one per style; or, with
                two styles, a single mask (style 1 where it is 1, style 2 where it is 0). Soft masks
                blend. A mask of another size but the content's shape is resized with a warning (another shape raises
                :class:`UserError`); pixels no mask covers keep the content. ``weights`` and ``masks``
                cannot be combined.
            preserve_color: colour-match each style image to the content before encoding (Fig. 9).
        """
        content = self._input(content, "content")
        style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
        if not style_list:
            raise UserError(tr("no style given: pass at least one style image"))
        for i, s in enumerate(style_list):
            which = "style" if len(style_list) == 1 else f"style {i + 1}"
            if isinstance(s, StyleStats):
                if preserve_color:
                    raise UserError(tr("preserve_color needs the style image itself, not precomputed style "
                                       "statistics"))
                _check_batches(content.shape[0], s.mean.shape[0], which)
                continue
            style_list[i] = s = self._input(s, which)
            _check_batches(content.shape[0], s.shape[0], which)
        n, h, w = content.shape[0], *content.shape[-2:]
        style_px = max((s.shape[0] * s.shape[-2] * s.shape[-1] for s in style_list if isinstance(s, Tensor)),
                       default=0)
        what = f"stylizing {n} x {w}x{h}" if n > 1 else f"stylizing {w}x{h}"
        graph = torch.is_grad_enabled() and (content.requires_grad or any(p.requires_grad for p in self.parameters()))
        def pixels_at(side: int) -> int:  # the content scales with its size; the style keeps its own
            return max(n * math.prod(images.shorter_side_shape(h, w, side)), style_px)

        def fix(side: int) -> str:
            if side == 0:
                return tr("even the smallest content does not fit: use a smaller style image, free some memory, or "
                          "use another device")
            more = tr(", or fewer at once") if n > 1 else ""
            return tr("use smaller images (a content size of at most {side} px on the shorter side){more}",
                      side=side, more=more)

        memory.check_side("stylize_grad" if graph else "stylize", min(h, w), pixels_at, self.device, what, fix,
                          smallest=images.MIN_SIDE)
        with memory.guard(what, self.device, tr("use smaller images (a smaller content size), or fewer at once")):
            f_c = self._encode(content)
            stats = [self._style_stats(s, content, preserve_color) for s in style_list]
            t = mix_features(f_c, stats, (h, w), alpha=alpha, weights=weights, masks=masks)
            return self.decode(t, (h, w))


#: How the decoder's input is made from f(c) and f(s): AdaIN (Eq. 9, the paper's) or Enc-Concat (Section 7.2).
FUSIONS = ("adain", "concat")


def fuse(f_c: Tensor, f_s: Tensor, fusion: str = "adain") -> Tensor:
    """The decoder's input from relu4_1 features: ``AdaIN(f(c), f(s))`` (Eq. 9) for ``"adain"``, or the
    channel concatenation ``[f(c), f(s)]`` (``[N, 1024, H, W]``; the style map resized to the content's)
    for ``"concat"``, the Enc-Concat baseline of Section 7.2 (Figs. 5-6)."""
    if fusion == "adain":
        return adaptive_instance_norm(f_c, f_s)
    if fusion == "concat":
        if f_s.shape[-2:] != f_c.shape[-2:]:
            f_s = F.interpolate(f_s, size=f_c.shape[-2:], mode="nearest")
        return torch.cat([f_c, f_s], dim=1)
    raise UserError(tr("unknown fusion {fusion}: use one of {value}",
                       fusion=repr(fusion), value=', '.join(FUSIONS)), param="fusion")


def reference_forward(
    encoder: nn.Module, decoder: nn.Module, content: Tensor, style: Tensor, alpha: float = 1.0
) -> Tensor:
    """The reference pipeline, ``T(c, s) = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s)))`` (Eqs. 10, 14), written
    as pytorch-AdaIN's ``test.py`` ``style_transfer`` does: both images encoded, AdaIN (Eq. 8), the
    trade-off, decoded; eager, under ``torch.no_grad``, no caching, no checks. ``encoder`` is f up to
    relu4_1, images are batches ``[N, 3, H, W]``; the output is not cropped (the decoder may add a few
    pixels to sides not divisible by 8). The benchmark's baseline and the notebooks' from-scratch check."""
    with torch.no_grad():
        content_f = encoder(content)
        style_f = encoder(style)
        feat = adaptive_instance_norm(content_f, style_f)
        feat = feat * alpha + content_f * (1 - alpha)
        return decoder(feat)


def check_alphas(alpha: float | Sequence[float], regions: int, masked: bool, masks_param: str = "masks"
                 ) -> list[float]:
    """Eq. 14's trade-off(s) as a checked list: one alpha, or with masks one per region (Fig. 10), each a
    finite number in [0, 1]. ``masks_param`` is the caller's name for the masks in errors. Used by
    :func:`mix_features` and, before any weights load, by :func:`adain_lesson.batch.plan_batch`."""
    alphas = [float(a) for a in alpha] if isinstance(alpha, (list, tuple)) else [float(alpha)]
    if not alphas or any(not (math.isfinite(a) and 0.0 <= a <= 1.0) for a in alphas):
        shown = alpha if isinstance(alpha, (list, tuple)) and len(alphas) != 1 else alphas[0] if alphas else alpha
        raise UserError(tr("alpha must be numbers in [0, 1] (Eq. 14), got {shown}", shown=repr(shown)), param="alpha")
    if len(alphas) > 1 and not masked:
        raise UserError(tr("alpha has {alphas} values: one per region needs {masks_param}; without {masks_param} "
                           "give one", alphas=len(alphas), masks_param=masks_param), param=("alpha", masks_param))
    if len(alphas) not in (1, regions):
        raise UserError(tr("alpha has {alphas} values for {regions} mask regions: give one, or one per region",
                           alphas=len(alphas), regions=regions),
                        param="alpha")
    return alphas


def mix_features(
    f_c: Tensor,
    stats: Sequence[StyleStats],
    size: tuple[int, int],
    *,
    alpha: float | Sequence[float] = 1.0,
    weights: Sequence[float] | Tensor | None = None,
    masks: Tensor | Sequence[Tensor] | None = None,
) -> Tensor:
    """The decoder's input t from content features ``f_c`` and K styles' statistics.

    Without masks: ``t = alpha * sum_k w_k AdaIN(f_c, s_k) + (1 - alpha) f_c`` (Eqs. 14 and 15). With masks
    (``size`` is the content's H, W): :func:`masked_adain`, one style and one alpha per region (Fig. 10).
    :meth:`StyleTransfer.stylize` is encode, this, decode; callers that cache ``f_c`` (the playground) use it
    directly.
    """
    k = len(stats)
    if k == 0:
        raise UserError(tr("no style given: pass at least one style image"))
    alphas = check_alphas(alpha, k, masks is not None)
    if masks is None:
        wk = normalize_weights(weights, k)
        t = sum(wi * adaptive_instance_norm_from_stats(f_c, s.mean, s.std) for wi, s in zip(wk, stats))
        return alphas[0] * t + (1.0 - alphas[0]) * f_c
    if weights is not None:
        raise UserError(tr("give either style weights (interpolation) or masks (spatial control), not both"))
    region_masks = prepare_masks(masks, k, size, f_c.shape[0])
    if len(alphas) == 1:
        alphas = alphas * k
    return masked_adain(f_c, stats, region_masks.to(f_c.device), alphas)


def prepare_masks(masks: Tensor | Sequence[Tensor], k: int, size: tuple[int, int], batch: int) -> Tensor:
    """Validate masks and stack them as ``[N, K, H, W]`` at the content's size ``size``.

    Raises :class:`UserError` for a wrong count, values outside [0, 1], NaN, an empty region, or a mask of
    another shape than the content (aspect ratios more than 5% apart); a mask of about the content's shape
    but another size is resized (:func:`adain_lesson.images.fit_mask`) with a warning. Bool masks count as 0/1.
    """
    if isinstance(masks, Tensor) and masks.dim() == 2:
        mlist = [masks]
    elif isinstance(masks, Tensor) and masks.dim() == 3 and masks.shape[0] == k and k > 1:
        mlist = list(masks)
    else:
        mlist = list(masks) if isinstance(masks, (list, tuple)) else [masks]
    for i, m in enumerate(mlist):
        if not isinstance(m, (Tensor, float, int)) and not hasattr(m, "__array__"):
            raise UserError(
                tr("mask {value} must be a tensor [H, W], got {name}: load files with images.load_mask",
                   value=i + 1, name=type(m).__name__)
            )
    mlist = [torch.as_tensor(m).detach().float() for m in mlist]  # bool masks become 0/1
    complement = len(mlist) == 1 and k == 2
    if complement:
        mlist = [mlist[0], 1.0 - mlist[0]]  # the paper's two-region form: a mask and its complement
    if len(mlist) != k:
        raise UserError(tr("got {mlist} masks for {k} styles: give one mask per style (or one mask for two)",
                           mlist=len(mlist), k=k))
    out = []
    for i, m in enumerate(mlist):
        if m.dim() == 2:
            m = m.unsqueeze(0)
        if m.dim() != 3:
            raise UserError(tr("mask {value} must be [H, W] or [N, H, W], got shape {value2}",
                               value=i + 1, value2=tuple(m.shape)))
        if not torch.isfinite(m).all():
            raise UserError(tr("mask {value} contains NaN or infinite values", value=i + 1))
        lo, hi = float(m.min()), float(m.max())
        if lo < 0.0 or hi > 1.0:
            raise UserError(
                tr("mask {value} has values in [{lo:.3g}, {hi:.3g}]; masks must lie in [0, 1] (divide by 255?)",
                   value=i + 1, lo=lo, hi=hi)
            )
        if tuple(m.shape[-2:]) != tuple(size):
            # another shape (aspect ratios > 5% apart): UserError from fit_mask; about the same shape: resized,
            # with a warning that the CLI prints as a note (notebook 06 shows it)
            h0, w0 = m.shape[-2:]
            label = tr("the mask") if complement else tr("mask {n}", n=i + 1)
            m = images.fit_mask(m, size, label)
            if not (complement and i == 1):  # the complement of a resized mask: said once, for the mask
                warnings.warn(tr("{label} is {w0}x{h0}: resized to the content's {value}x{value2}",
                                 label=label, w0=w0, h0=h0, value=size[1], value2=size[0]), stacklevel=3)
        if float(m.sum()) == 0.0:
            if complement:
                colour = tr("black") if i == 0 else tr("white")
                raise UserError(tr("the mask is all {colour}: style {value} would be used nowhere; draw both "
                                   "regions", colour=colour, value=i + 1))
            raise UserError(tr("mask {value} is empty (all zero): its style would be used nowhere; fix or drop it",
                               value=i + 1))
        out.append(m.expand(batch, -1, -1) if m.shape[0] == 1 else m)
    return torch.stack(out, dim=1)


def masked_adain(f_c: Tensor, stats: Sequence[StyleStats], masks: Tensor, alphas: Sequence[float]) -> Tensor:
    """Spatially controlled AdaIN (Fig. 10) on features ``f_c [N, C, h, w]`` with masks ``[N, K, H, W]``.

    Masks are area-resized to the feature grid. For region k with weight map m_k the content statistics
    are the m_k-weighted mean and (unbiased) std of f_c, so a hard mask matches the Lua reference, which
    applies AdaIN to the selected pixels only. The output is ``sum_k m_k t_k / sum_k m_k`` with
    ``t_k = alpha_k AdaIN_k + (1 - alpha_k) f_c``; where no mask covers a pixel, ``f_c`` is kept.
    """
    n, _, fh, fw = f_c.shape
    m = F.adaptive_avg_pool2d(masks.to(f_c.dtype), (fh, fw))  # [N, K, fh, fw]
    blended = torch.zeros_like(f_c)
    for i, (s, a) in enumerate(zip(stats, alphas)):
        wk = m[:, i : i + 1]  # [N, 1, fh, fw]
        total = wk.sum(dim=(2, 3), keepdim=True)
        if bool((total < 2.0).any()):
            raise UserError(
                tr("mask region {value} covers less than 2 feature positions (1 position = 8x8 pixels): make the "
                   "region larger or the image bigger", value=i + 1)
            )
        mean = (f_c * wk).sum(dim=(2, 3), keepdim=True) / total
        var = ((f_c - mean) ** 2 * wk).sum(dim=(2, 3), keepdim=True) / (total - 1.0) + EPS
        t_k = (f_c - mean) / var.sqrt() * s.std + s.mean
        blended = blended + wk * (a * t_k + (1.0 - a) * f_c)
    cover = m.sum(dim=1, keepdim=True)
    return torch.where(cover > 0, blended / cover.clamp_min(1e-8), f_c)


def load_pretrained(
    weights: str | os.PathLike = "auto",
    device: str | torch.device | None = None,
    *,
    progress: bool = True,
    seed: int = 0,
    mirror: str | os.PathLike | None = None,
) -> StyleTransfer:
    """A ready :class:`StyleTransfer` in eval mode.

    ``weights``:
      - ``"auto"``: the released ``vgg_normalised.pth`` and ``decoder.pth``, from the cache or downloaded
        (pinned URL, size and SHA-256; see :mod:`adain_lesson.hub`);
      - a folder holding those two files under those names (hash not checked; strict keys);
      - a training run's folder (``python -m adain_lesson train --out RUN``): the encoder the run trained
        against and the decoder of its newest checkpoint (or a checkpoint file of a run: that one), found by
        :func:`adain_lesson.weights.find_run`; ``model.trained_run`` holds the run, whose label says what the
        model is in every figure and banner made with it;
      - ``"random"``: random weights of the same layout (``model.random_weights`` is True: show
        :func:`~adain_lesson.weights.random_weights_banner`).
    ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``, or ``None``/``"auto"`` (CUDA, then MPS,
    then CPU); checked by :func:`resolve_device` before anything is loaded.
    """
    device = resolve_device(device)
    dec = make_decoder()
    is_random = str(weights) == "random"
    run = find_run(weights)
    if run is not None:
        if run.config.get("fusion", "adain") != "adain":
            raise UserError(tr("weights: the run {folder} trained an Enc-Concat decoder (fusion={fusion}, the "
                               "ablation of Section 7.2), which AdaIN's runtime controls cannot drive: give a run "
                               "trained with fusion=adain", folder=str(run.folder), fusion=run.config.get("fusion")),
                            param="weights")
        encoder = load_encoder(run, "relu4_1", progress=progress, mirror=mirror)
        dec, _ = decoder_from_checkpoint(run.checkpoint)
        is_random = bool(getattr(encoder, "random_weights", False))
    elif is_random:
        encoder = load_encoder("random", "relu4_1", seed=seed)
        random_init_(dec, seed + 1)
    else:
        if str(weights) == "vgg19-pip":  # an encoder only: the released decoder was trained on another encoder
            raise UserError(tr("vgg19-pip is an encoder only, and the released decoder does not fit it: AdaIN needs a "
                               "decoder trained against it (train with encoder vgg19-pip, then give that run's "
                               "folder as weights)"), param="weights")
        if str(weights) == "auto":
            encoder = load_encoder("auto", "relu4_1", progress=progress, mirror=mirror)
            dec_path = hub.fetch(hub.WEIGHT_FILES[1], progress=progress, mirror=mirror)
        else:
            folder = Path(weights)
            if not folder.is_dir():
                raise UserError(tr("weights must be auto, random, a folder with {files}, or a training run's folder "
                                   "(train's out folder); got {folder}", files=" and ".join(hub.WEIGHT_FILES),
                                   folder=str(folder)), param="weights")
            paths = [folder / name for name in hub.WEIGHT_FILES]
            missing = [p.name for p in paths if not p.is_file()]
            if missing:
                raise UserError(tr("{folder} lacks {missing} and is not a training run (no config.json or "
                                   "checkpoints/): put the released files there under those names, or give a run's "
                                   "folder", folder=str(folder), missing=", ".join(missing)), param="weights")
            encoder = load_encoder(paths[0], "relu4_1")
            dec_path = paths[1]
        load_strict(dec, load_weights_file(dec_path, dec, hub.WEIGHT_FILES[1]), dec_path, hub.WEIGHT_FILES[1])
    model = StyleTransfer(encoder, dec).to(device).eval()
    model.random_weights = is_random
    model.trained_run = run
    return model


def lesson_model(smoke: bool, device: str | torch.device | None = None, *, weights: str | os.PathLike = "auto",
                 fallback: str | os.PathLike | None = None) -> StyleTransfer:
    """The notebooks' model: in smoke mode random weights, announced by a visible banner; otherwise
    ``weights`` (the released files by default, cached or downloaded; or a folder, or a training run's folder).

    ``fallback``: a training run's folder (e.g. the decoder trained on a CPU in REPRODUCTION.md) used when the
    released files cannot be had (no network beyond a package index, a failed download), announced by a
    banner that says what the model is instead. Without a usable fallback, the error says what to do.

    It runs with the float32 winners for its device (``optimize("fp32")``: channels_last, cuDNN
    autotuning), so its outputs agree with a from-scratch float32 pipeline, as the notebooks check. For
    more speed, call ``model.optimize("auto")`` (reduced precision; ``python -m adain_lesson bench``
    measures its agreement with float32).
    """
    from .errors import DownloadError
    from .viz import banner

    device = resolve_device(device)
    if smoke:
        model = load_pretrained("random", device)
    else:
        try:
            model = load_pretrained(weights, device)
        except DownloadError as exc:  # offline, or a failed download: the released files cannot be had
            run = find_run(fallback) if fallback is not None and str(weights) == "auto" else None
            if run is None:
                with offline_hint(tr("{smoke}; or train a decoder on this CPU (REPRODUCTION.md gives the command) "
                                     "and set DECODER_RUN to its folder", smoke=notebook_offline_fix())):
                    raise
            model = load_pretrained(run, device)
            problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            banner(tr("The released weights are not available here ({problem}). This notebook runs in full mode with "
                      "a {what} instead: its results are that decoder's, not the paper's.",
                      problem=problem[:160], what=run.label), kind="info")
    model.optimize("fp32")
    if model.random_weights:
        banner(random_weights_banner())
    return model
