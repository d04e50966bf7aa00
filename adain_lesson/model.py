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
:mod:`adain_lesson.hub`), from a folder holding them, or with random weights for offline demos.
"""

from __future__ import annotations

import contextlib
import math
import os
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
from .errors import UserError
from .norms import EPS, adaptive_instance_norm_from_stats, calc_mean_std
from .vgg import STYLE_LAYERS, Encoder, make_vgg

__all__ = [
    "RANDOM_WEIGHTS_BANNER",
    "InferenceOptions",
    "StyleStats",
    "StyleTransfer",
    "lesson_model",
    "load_pretrained",
    "load_weights_file",
    "cpu_has_fast_bf16",
    "default_device",
    "masked_adain",
    "mix_features",
    "normalize_weights",
    "prepare_masks",
    "random_init_",
    "resolve_device",
]

RANDOM_WEIGHTS_BANNER = (
    "RANDOM WEIGHTS: this model has untrained, randomly initialised weights. Its outputs show the "
    "mechanics only and are not meaningful stylizations. Use the pretrained weights for real results."
)


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
        raise UserError(f"got {len(w)} style weights for {k} styles: give one weight per style")
    if any(not torch.isfinite(torch.tensor(x)) or x < 0 for x in w):
        raise UserError(f"style weights must be finite and non-negative, got {w}")
    total = sum(w)
    if total <= 0:
        raise UserError("style weights are all zero: give at least one positive weight")
    return [x / total for x in w]


def cpu_has_fast_bf16() -> bool:
    """True when this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX), so bf16 convolutions beat fp32.

    Without those instructions oneDNN emulates bf16 and it is slower than float32.
    """
    for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        check = getattr(torch.cpu, name, None)
        try:
            if check is not None and bool(check()):
                return True
        except Exception:  # noqa: BLE001 - a private probe; treat any failure as "no"
            continue
    return False


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
            raise UserError(f"autocast must be None, 'bfloat16' or 'float16', got {self.autocast!r}")

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
        AMX; with channels_last 1.7-1.9x the reference's median at 512 px on a shared 2-core Xeon, 2.6-4.7x
        in its quiet moments), float16 on CUDA (not yet measured on a GPU). ``compile=True`` roughly
        doubles that again on CPU for same-size images, after 15-45 s of compilation per shape.
        """
        if precision not in ("auto", "fp32"):
            raise UserError(f"precision must be 'auto' or 'fp32', got {precision!r}")
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
            f"{what} must be an image tensor, got {type(img).__name__}: load files with images.load_image"
        )
    if img.dim() == 3:
        img = img.unsqueeze(0)
    if img.dim() != 4 or img.shape[1] != 3:
        raise UserError(f"{what} must be an RGB image [3, H, W] or a batch [N, 3, H, W], got {tuple(img.shape)}")
    if not img.is_floating_point():
        raise UserError(
            f"{what} has dtype {str(img.dtype).removeprefix('torch.')}, but the model expects float images "
            "in [0, 1]: use images.load_image (or divide by 255 and convert to float yourself)"
        )
    h, w = img.shape[-2:]
    if min(h, w) < images.MIN_SIDE:
        raise UserError(
            f"{what} is {w}x{h} px, too small for the VGG encoder: it needs at least {images.MIN_SIDE} px per side "
            "(use a larger image or size)"
        )
    if img.shape[0] == 0:
        raise UserError(f"{what} is an empty batch (0 images): pass at least one image")
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
            raise UserError(f"{what} contains NaN or infinite values: check how it was computed or loaded")
        if lo < -0.5:
            raise UserError(
                f"{what} has values in [{lo:.4g}, {hi:.4g}]: it looks normalised (mean/std), but the model expects "
                "floats in [0, 1] (undo the normalisation, or use images.load_image)"
            )
        if hi > 1.5:
            guess = "it looks like 0..255" if hi <= 255.5 else "far outside [0, 1]"
            raise UserError(
                f"{what} has values up to {hi:.4g}: {guess}, but the model expects floats in [0, 1] "
                "(divide by 255, or use images.load_image)"
            )


def _check_batches(n_content: int, n_style: int, which: str) -> None:
    if n_style != n_content and n_style != 1 and n_content != 1:
        raise UserError(
            f"{which} has a batch of {n_style} but the content a batch of {n_content}: "
            "give one style for all contents, or exactly one per content"
        )


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
        #: Runtime settings (see :meth:`optimize`); the default is the reference behaviour.
        self.options = InferenceOptions()
        self._compiled: dict[str, object] = {}  # a plain dict, so compiled wrappers are not submodules

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
                raise UserError(f"unknown optimization preset {options!r}: use 'auto', 'fp32' or 'none'")
        fmt = torch.channels_last if options.channels_last else torch.contiguous_format
        self.to(memory_format=fmt)
        self._compiled = {}
        if options.compile:
            if not hasattr(torch, "compile"):
                raise UserError("this PyTorch has no torch.compile: upgrade to >= 2.0 or leave compile off")
            self._compiled = {"encoder": torch.compile(self.encoder.body), "decoder": torch.compile(self.decoder)}
        self.options = options
        return self

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
        run = self._compiled.get("encoder", self.encoder)
        with self._runtime() as half:
            f = run(self._layout(x))
        if half:
            f = f.to(x.dtype)
        return f.contiguous()

    def encode_with_intermediate(self, img: Tensor, layers: Sequence[str] = STYLE_LAYERS) -> list[Tensor]:
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
            run = self._compiled.get("decoder", self.decoder)
            with self._runtime() as half:
                out = run(self._layout(t))
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
            raise UserError("no style given: pass at least one style image")
        for i, s in enumerate(style_list):
            which = "style" if len(style_list) == 1 else f"style {i + 1}"
            if isinstance(s, StyleStats):
                if preserve_color:
                    raise UserError("preserve_color needs the style image itself, not precomputed style statistics")
                _check_batches(content.shape[0], s.mean.shape[0], which)
                continue
            style_list[i] = s = self._input(s, which)
            _check_batches(content.shape[0], s.shape[0], which)
        n, h, w = content.shape[0], *content.shape[-2:]
        style_px = max((s.shape[0] * s.shape[-2] * s.shape[-1] for s in style_list if isinstance(s, Tensor)),
                       default=0)
        what = f"stylizing {n} x {w}x{h}" if n > 1 else f"stylizing {w}x{h}"
        graph = torch.is_grad_enabled() and (content.requires_grad or any(p.requires_grad for p in self.parameters()))
        memory.check_fits("stylize_grad" if graph else "stylize", max(n * h * w, style_px), self.device, what,
                          lambda most: f"use smaller images (a content size of at most "
                                       f"{memory.side_that_fits(most, h, w, n)} px on the shorter side)"
                                       + (", or fewer at once" if n > 1 else ""))
        with memory.guard(what, self.device, "use smaller images (a smaller content size), or fewer at once"):
            f_c = self._encode(content)
            stats = [self._style_stats(s, content, preserve_color) for s in style_list]
            t = mix_features(f_c, stats, (h, w), alpha=alpha, weights=weights, masks=masks)
            return self.decode(t, (h, w))


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
        raise UserError("no style given: pass at least one style image")
    alphas = [float(a) for a in alpha] if isinstance(alpha, (list, tuple)) else [float(alpha)]
    for a in alphas:
        if not 0.0 <= a <= 1.0:
            raise UserError(f"alpha must lie in [0, 1], got {a}")
    if masks is None:
        if len(alphas) != 1:
            raise UserError("one alpha per region needs masks; without masks give a single alpha")
        wk = normalize_weights(weights, k)
        t = sum(wi * adaptive_instance_norm_from_stats(f_c, s.mean, s.std) for wi, s in zip(wk, stats))
        return alphas[0] * t + (1.0 - alphas[0]) * f_c
    if weights is not None:
        raise UserError("give either style weights (interpolation) or masks (spatial control), not both")
    region_masks = prepare_masks(masks, k, size, f_c.shape[0])
    if len(alphas) == 1:
        alphas = alphas * k
    if len(alphas) != k:
        raise UserError(f"got {len(alphas)} alpha values for {k} mask regions: give one or one per region")
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
                f"mask {i + 1} must be a tensor [H, W], got {type(m).__name__}: load files with images.load_mask"
            )
    mlist = [torch.as_tensor(m).detach().float() for m in mlist]  # bool masks become 0/1
    complement = len(mlist) == 1 and k == 2
    if complement:
        mlist = [mlist[0], 1.0 - mlist[0]]  # the paper's two-region form: a mask and its complement
    if len(mlist) != k:
        raise UserError(f"got {len(mlist)} masks for {k} styles: give one mask per style (or one mask for two)")
    out = []
    for i, m in enumerate(mlist):
        if m.dim() == 2:
            m = m.unsqueeze(0)
        if m.dim() != 3:
            raise UserError(f"mask {i + 1} must be [H, W] or [N, H, W], got shape {tuple(m.shape)}")
        if not torch.isfinite(m).all():
            raise UserError(f"mask {i + 1} contains NaN or infinite values")
        lo, hi = float(m.min()), float(m.max())
        if lo < 0.0 or hi > 1.0:
            raise UserError(
                f"mask {i + 1} has values in [{lo:.3g}, {hi:.3g}]; masks must lie in [0, 1] (divide by 255?)"
            )
        if tuple(m.shape[-2:]) != tuple(size):
            # another shape (aspect ratios > 5% apart): UserError from fit_mask; about the same shape: resized,
            # with a warning that the CLI prints as a note (notebook 06 shows it)
            h0, w0 = m.shape[-2:]
            label = "the mask" if complement else f"mask {i + 1}"
            m = images.fit_mask(m, size, label)
            if not (complement and i == 1):  # the complement of a resized mask: said once, for the mask
                warnings.warn(f"{label} is {w0}x{h0}: resized to the content's {size[1]}x{size[0]}", stacklevel=3)
        if float(m.sum()) == 0.0:
            if complement:
                colour = "black" if i == 0 else "white"
                raise UserError(f"the mask is all {colour}: style {i + 1} would be used nowhere; draw both regions")
            raise UserError(f"mask {i + 1} is empty (all zero): its style would be used nowhere; fix or drop it")
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
                f"mask region {i + 1} covers less than 2 feature positions (1 position = 8x8 pixels): "
                "make the region larger or the image bigger"
            )
        mean = (f_c * wk).sum(dim=(2, 3), keepdim=True) / total
        var = ((f_c - mean) ** 2 * wk).sum(dim=(2, 3), keepdim=True) / (total - 1.0) + EPS
        t_k = (f_c - mean) / var.sqrt() * s.std + s.mean
        blended = blended + wk * (a * t_k + (1.0 - a) * f_c)
    cover = m.sum(dim=1, keepdim=True)
    return torch.where(cover > 0, blended / cover.clamp_min(1e-8), f_c)


# ------------------------------------------------------------------------------------------------
# Weights
# ------------------------------------------------------------------------------------------------


def random_init_(module: nn.Module, seed: int = 0) -> nn.Module:
    """Kaiming-normal convolutions and zero biases, from ``seed``: random weights whose activations keep
    their scale through the depth (PyTorch's default init shrinks them), for offline demonstrations."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.in_channels * m.kernel_size[0] * m.kernel_size[1]
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                if m.bias is not None:
                    m.bias.zero_()
    return module


def load_weights_file(path: str | os.PathLike) -> dict[str, Tensor]:
    """Load a state dict with ``torch.load(weights_only=True)`` and check every tensor is finite."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # never unpickles arbitrary code
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        if _holds_pickled_module(exc):
            raise UserError(
                f"{path} holds a pickled model (torch.save(model)), not a state_dict: save model.state_dict() "
                "instead, or use the released file"
            ) from None
        raise UserError(f"cannot read weights file {path} ({type(exc).__name__}): download it again") from None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise UserError(f"{path} is not a state dict of tensors: use the released vgg_normalised.pth / decoder.pth")
    for key, value in state.items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise UserError(f"weights file {path} contains NaN or infinite values (in {key}): download it again")
    return state


def _holds_pickled_module(exc: Exception) -> bool:
    """Whether a ``weights_only`` load failed because the file pickles classes (a whole ``nn.Module``).

    The weights-only unpickler refuses any global it does not allow and names it in its message
    ("Unsupported global: GLOBAL torch.nn.modules.container.Sequential ..."); a damaged file fails
    differently (an unexpected end of file, a bad zip, an invalid load key).
    """
    text = str(exc)
    return "Unsupported global" in text or "torch.nn.modules" in text or "was not an allowed global" in text


def _key_summary(keys: Sequence[str], shown: int = 3) -> str:
    names = ", ".join(repr(k) for k in list(keys)[:shown])
    return names + (", ..." if len(keys) > shown else "")


def _load_strict(module: nn.Module, state: dict[str, Tensor], path: Path) -> None:
    """Load ``state`` with strict keys and shapes; a mismatch is one short :class:`UserError` line."""
    expected = module.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        examples = []
        if missing:
            examples.append(f"missing e.g. {_key_summary(missing)}")
        if unexpected:
            examples.append(f"unexpected e.g. {_key_summary(unexpected)}")
        raise UserError(
            f"{path.name} does not fit the expected layout: {len(missing)} missing and {len(unexpected)} unexpected "
            f"keys ({'; '.join(examples)}); is it the right file? Use the released {path.name} (or its exact layout)"
        )
    wrong = [k for k, v in expected.items() if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        k = wrong[0]
        raise UserError(
            f"{path.name} does not fit the expected layout: {len(wrong)} tensors of another shape (e.g. {k!r} is "
            f"{tuple(state[k].shape)}, expected {tuple(expected[k].shape)}); is it the right file?"
        )
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # anything left: keep it to its first line
        first = str(exc).strip().splitlines()[-1].strip()[:160]
        raise UserError(f"{path.name} does not fit the expected layout ({first}): is it the right file?") from None


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
      - ``"random"``: random weights of the same layout (``model.random_weights`` is True: show
        :data:`RANDOM_WEIGHTS_BANNER`).
    ``device``: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"``, or ``None``/``"auto"`` (CUDA, then MPS,
    then CPU); checked by :func:`resolve_device` before anything is loaded.
    """
    device = resolve_device(device)
    vgg, dec = make_vgg(), make_decoder()
    is_random = str(weights) == "random"
    if is_random:
        random_init_(vgg, seed)
        random_init_(dec, seed + 1)
    else:
        if str(weights) == "auto":
            paths = [hub.fetch(name, progress=progress, mirror=mirror) for name in hub.WEIGHT_FILES]
        else:
            folder = Path(weights)
            if not folder.is_dir():
                raise UserError(
                    f"--weights must be auto, random, or a folder with {' and '.join(hub.WEIGHT_FILES)}; got {folder}"
                )
            paths = [folder / name for name in hub.WEIGHT_FILES]
            missing = [p.name for p in paths if not p.is_file()]
            if missing:
                raise UserError(f"{folder} lacks {', '.join(missing)}: put the released files there under those names")
        for module, path in zip((vgg, dec), paths):
            _load_strict(module, load_weights_file(path), path)
    model = StyleTransfer(Encoder(vgg, "relu4_1"), dec).to(device).eval()
    model.random_weights = is_random
    return model


def lesson_model(smoke: bool, device: str | torch.device | None = None) -> StyleTransfer:
    """The notebooks' model: in smoke mode random weights, announced by a visible banner; otherwise the
    released weights (cached or downloaded). Offline outside smoke mode, the error says what to do.

    It runs with the float32 winners for its device (``optimize("fp32")``: channels_last, cuDNN
    autotuning), so its outputs agree with a from-scratch float32 pipeline to ~1e-5, as the notebooks
    check. For more speed at PSNR > 40 dB, call ``model.optimize("auto")`` (reduced precision).
    """
    from .viz import banner

    device = resolve_device(device)
    try:
        model = load_pretrained("random" if smoke else "auto", device)
    except hub.OfflineError as exc:
        raise UserError(f"{exc}; or set ADAIN_LESSON_SMOKE=1 to run this notebook with random weights") from None
    model.optimize("fp32")
    if model.random_weights:
        banner(RANDOM_WEIGHTS_BANNER)
    return model


def default_device() -> torch.device:
    """CUDA if available, else Apple's MPS, else the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """The device for ``name``, checked: ``cpu``, ``cuda``, ``cuda:N`` (N < the number of GPUs), ``mps``,
    or ``None``/``"auto"`` for :func:`default_device`. Anything else, or a device this machine lacks,
    raises :class:`UserError` (instead of an error from deep inside PyTorch later)."""
    if name is None or (isinstance(name, str) and name.strip().lower() == "auto"):
        return default_device()
    if isinstance(name, torch.device):
        dev = name
    else:
        try:
            dev = torch.device(str(name).strip())
        except (RuntimeError, ValueError, TypeError):
            raise UserError(f"unknown device {name!r}: use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cpu":
        return torch.device("cpu")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"device {str(dev)!r} asked for, but no CUDA GPU is available: use cpu")
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise UserError(f"device {str(dev)!r} asked for, but there are only {count} GPUs: use cuda:0 ... "
                            f"cuda:{count - 1}")
        return dev
    if dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise UserError(f"device {str(dev)!r} asked for, but MPS is not available: use cpu")
        return dev
    raise UserError(f"unsupported device {str(dev)!r}: use cpu, cuda, cuda:N or mps")
