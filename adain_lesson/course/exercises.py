"""Checked exercises: ``check_*`` helpers that tell a learner whether an answer is right.

Every check prints one short verdict and returns a bool:

- ``Correct.`` (``True``), sometimes with a note;
- ``Not yet: <hint>`` (``False``): the answer is wrong, and the hint says where to look;
- ``Not done yet: ...`` (``False``): the answer is still the stub's ``...`` (or ``None``, or a function that
  returns nothing), as in the student copies (``python -m adain_lesson student-copy``). Nothing raises: a
  function of the learner's that fails is reported as a hint.

The right answer is never a stored table where it can be computed: each check runs the package's own
implementation (or a derivation) on fresh inputs and compares. Where the answer is a fact of a paper (why the
content target is t, what the ablations of Fig. 6 show), the check quotes the paper's sentence.

Which notebook uses which check (see :data:`CHECKS`):

========  ====================================================================================================
00        :func:`check_smoke_mode`, :func:`check_image_tensor`, :func:`check_device`
01        :func:`check_d_star`, :func:`check_optimal_value`, :func:`check_generator_loss`
02        :func:`check_instance_norm`, :func:`check_adain`, :func:`check_cin_parameters`
03        :func:`check_gram_matrix`, :func:`check_mean_std_loss`, :func:`check_optimization_cost`
04        :func:`check_calc_mean_std`, :func:`check_alpha_zero`, :func:`check_relu4_1_shape`
05        :func:`check_content_target`, :func:`check_learning_rate`, :func:`check_resized_size`
06        :func:`check_style_weights`, :func:`check_bilinear_weights`, :func:`check_masked_adain`,
          :func:`check_color_preservation`
07        :func:`check_ablation`, :func:`check_fig3_content_loss`, :func:`check_relative_difference`
08        :func:`check_alpha_effect`, :func:`check_style_weights`, :func:`check_split_mask`
09        :func:`check_table1_fps`, :func:`check_video_cache`, :func:`check_temporal_change`,
          :func:`check_smoothed_statistics`
========  ====================================================================================================
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Sequence
from types import MappingProxyType
from typing import Any

import torch
from torch import Tensor

from .. import data, device, gan, images, losses, norms, train, vgg
from ..color import color_stats, match_color
from ..figures import bilinear_weights
from ..i18n import LazyTable, tr
from ..model import StyleStats, masked_adain, mix_features, normalize_weights

__all__ = [
    "ABLATION_QUESTIONS",
    "ALPHA_ZERO_CHOICES",
    "CHECKS",
    "COLOR_PRESERVATION_CHOICES",
    "CONTENT_TARGET_CHOICES",
    "OPTIMIZATION_COST_CHOICES",
    "SMOKE_MODE_CHOICES",
    "check_ablation",
    "check_adain",
    "VIDEO_CACHE_CHOICES",
    "check_alpha_effect",
    "check_alpha_zero",
    "check_bilinear_weights",
    "check_calc_mean_std",
    "check_color_preservation",
    "check_cin_parameters",
    "check_content_target",
    "check_d_star",
    "check_device",
    "check_fig3_content_loss",
    "check_generator_loss",
    "check_gram_matrix",
    "check_image_tensor",
    "check_instance_norm",
    "check_learning_rate",
    "check_masked_adain",
    "check_mean_std_loss",
    "check_optimal_value",
    "check_optimization_cost",
    "check_relative_difference",
    "check_relu4_1_shape",
    "check_resized_size",
    "check_smoke_mode",
    "check_split_mask",
    "check_smoothed_statistics",
    "check_style_weights",
    "check_table1_fps",
    "check_temporal_change",
    "check_video_cache",
]

# ------------------------------------------------------------------------------------------------
# The verdicts
# ------------------------------------------------------------------------------------------------


class _Stub(Exception):
    """The answer is still the stub (``...`` or ``None``)."""


class _Wrong(Exception):
    """The answer cannot be compared (it raised, has the wrong type or shape): the message is the hint."""


def _verdict(ok: bool, hint: str = "", note: str = "") -> bool:
    if ok:
        print(tr("Correct. {note}", note=note) if note else tr("Correct."))
    else:
        print(tr("Not yet: {hint}", hint=hint))
    return ok


def _checked(fn: Callable[..., bool]) -> Callable[..., bool]:
    """Turn a stub into "Not done yet" and an unusable answer into "Not yet: <why>", never an exception."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> bool:
        try:
            return fn(*args, **kwargs)
        except _Stub as exc:
            print(tr("Not done yet: {exc}", exc=exc))
            return False
        except _Wrong as exc:
            print(tr("Not yet: {exc}", exc=exc))
            return False

    return wrapper


def _unanswered(x: object) -> bool:
    return x is ... or x is None


def _answer(x: object) -> None:
    if _unanswered(x):
        raise _Stub(tr("replace the ... with your answer, then run the check again."))


def _call(fn: object, *args: Any) -> Any:
    """Call the learner's function; its stub body (``...``, returning None) counts as not done."""
    _answer(fn)
    if not callable(fn):
        raise _Wrong(tr("this check takes your function itself (got a {name}); pass its name, no ()",
                        name=type(fn).__name__))
    try:
        out = fn(*args)
    except Exception as exc:  # noqa: BLE001 - the learner's code: any failure becomes a hint
        raise _Wrong(tr("your function raised {name}: {exc}", name=type(exc).__name__, exc=exc)) from None
    if _unanswered(out):
        raise _Stub(tr("your function returns nothing yet: write its body (and return the result)."))
    return out


def _tensor(x: object, what: str = "") -> Tensor:
    if isinstance(x, Tensor):
        return x.detach().double().cpu()
    try:
        return torch.as_tensor(x, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        if what:
            raise _Wrong(tr("{what} should be a tensor or a number, got {name}", what=what,
                            name=type(x).__name__)) from None
        raise _Wrong(tr("your answer should be a tensor or a number, got {name}", name=type(x).__name__)) from None


def _number(x: object) -> float:
    _answer(x)
    if isinstance(x, str):
        raise _Wrong(tr("give a number (Python can compute it for you: math.log, ...), not text"))
    t = _tensor(x)
    if t.numel() != 1:
        raise _Wrong(tr("give one number, got {value} values", value=t.numel()))
    return float(t.reshape(()))


def _close(a: Tensor, b: Tensor, rtol: float = 1e-4, atol: float = 1e-6) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a.double(), b.double(), rtol=rtol, atol=atol))


def _same_shape(got: Tensor, want: Tensor, hint: str = "") -> None:
    if got.shape != want.shape:
        raise _Wrong(tr("the result has shape {value}, expected {value2}{hint}",
                        value=tuple(got.shape), value2=tuple(want.shape), hint=hint))


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _choice(answer: object, choices: dict[str, str], keywords: Sequence[Sequence[str]], *,
            ordered: bool = False) -> str | None:
    """A letter of ``choices``, or ``"keywords"`` (the right answer) if a free-text answer names every group of
    ``keywords``: each group lists the ways to say one thing, in English and in Korean (the Korean notebooks
    ask the same questions), e.g. ``(("backward", "역전파"),)``. With ``ordered`` the groups must be named in
    that order (the first word found of each group), which tells "the style image takes the content's colours"
    from "the content image takes the style's"."""
    _answer(answer)
    if not isinstance(answer, str) or not answer.strip():
        raise _Wrong(tr("answer with one letter ({value}) or a short sentence",
                        value=', '.join(repr(k) for k in choices)))
    text = answer.strip().lower().rstrip(").")
    if text in choices:
        return text
    found = [min((i for i in (text.find(w) for w in group) if i >= 0), default=-1) for group in keywords]
    if all(i >= 0 for i in found) and (not ordered or found == sorted(found)):
        return "keywords"
    return None


# ------------------------------------------------------------------------------------------------
# 00: setup and tour
# ------------------------------------------------------------------------------------------------

#: The choices of :func:`check_smoke_mode`: what a stylization in smoke mode (random weights) shows.
SMOKE_MODE_CHOICES = LazyTable(lambda: {
    "a": tr("what AdaIN style transfer can do: the picture is a preview of the paper's results"),
    "b": tr("that the code runs end to end (download skipped, shapes and value ranges right), nothing about "
            "quality"),
    "c": tr("how fast the released model runs on your machine"),
    "d": tr("that the released weights were downloaded and verified"),
})


@_checked
def check_smoke_mode(answer: str) -> bool:
    """00: what a stylization made in smoke mode shows: a letter of :data:`SMOKE_MODE_CHOICES` or a short
    sentence. Smoke mode builds the model with random weights and downloads nothing
    (:func:`adain_lesson.model.lesson_model`)."""
    picked = _choice(answer, dict(SMOKE_MODE_CHOICES), (("runs", "돌아가", "돌아간", "실행되", "실행된", "동작한"),))
    if picked in ("b", "keywords"):
        return _verdict(True, note=tr("With random weights the output shows that the machinery runs, not what "
                                      "AdaIN can do; that needs full mode and the released weights."))
    if picked == "a":
        return _verdict(False, tr("smoke mode uses random weights: a random decoder cannot paint a style."))
    if picked == "c":
        return _verdict(False, tr("smoke mode uses tiny images and random weights; time full mode (notebook 04) "
                                  "for speed."))
    if picked == "d":
        return _verdict(False, tr("smoke mode downloads nothing (it runs offline, as CI does)."))
    return _verdict(False, tr("pick one letter: {value}",
                              value=', '.join(f'{k}) {v}' for k, v in SMOKE_MODE_CHOICES.items())))


@_checked
def check_image_tensor(to_tensor: Callable[[Any], Tensor]) -> bool:
    """00: your ``to_tensor(array)``: an RGB image as a NumPy ``uint8`` array ``[H, W, 3]`` (as PIL and
    ``np.asarray`` give it) to the series' image layout, a float tensor ``[3, H, W]`` in [0, 1] (what
    :func:`adain_lesson.images.load_image` returns); compared with :func:`adain_lesson.images.to_tensor`."""
    from PIL import Image

    h, w = 5, 7
    array = torch.randint(0, 256, (h, w, 3), generator=_gen(11), dtype=torch.uint8).numpy()
    got = _call(to_tensor, array.copy())
    if not isinstance(got, Tensor):
        raise _Wrong(tr("return a torch tensor, got {name} (torch.from_numpy or torch.as_tensor)",
                        name=type(got).__name__))
    want = images.to_tensor(Image.fromarray(array)).double()
    if not got.is_floating_point():
        return _verdict(False, tr("the result is {dtype}: convert to float (.float()) and divide by 255.",
                                  dtype=got.dtype))
    got = got.detach().double().cpu()
    if tuple(got.shape) in ((h, w, 3), (1, h, w, 3)):
        return _verdict(False, tr("channels go first: [H, W, 3] becomes [3, H, W] with .permute(2, 0, 1)."))
    if tuple(got.shape) == (1, 3, h, w):
        return _verdict(False, tr("that is a batch of one, [1, 3, H, W]; one image is [3, H, W] (the model adds "
                                  "the batch dimension itself)."))
    if tuple(got.shape) == (3, w, h):
        return _verdict(False, tr("height and width are swapped: from [H, W, 3] use .permute(2, 0, 1)."))
    _same_shape(got, want, tr(": one image is [3, H, W]"))
    if _close(got, want):
        return _verdict(True)
    if _close(got, want * 255):
        return _verdict(False, tr("the values run from 0 to 255: divide by 255 for the range [0, 1]."))
    return _verdict(False, tr("the pixel values do not match: permute(2, 0, 1) keeps each pixel's colour; do not "
                              "reshape or view [H, W, 3] straight into [3, H, W]."))


@_checked
def check_device(answer: object) -> bool:
    """00: the device to run on: a CUDA GPU when one is present, else the CPU (``torch.device`` or its name);
    compared with :func:`adain_lesson.device.default_device` on this machine."""
    _answer(answer)
    try:
        got = torch.device(answer) if isinstance(answer, str) else answer
    except (RuntimeError, ValueError):
        raise _Wrong(tr("{answer} is not a device name: use \"cuda\" or \"cpu\" (torch.device(...))",
                        answer=repr(answer))) from None
    if not isinstance(got, torch.device):
        raise _Wrong(tr("give a torch.device or a device name, got {name}", name=type(answer).__name__))
    want = device.default_device()
    if got.type == want.type:
        return _verdict(True, note=tr("This machine runs on {type}.", type=want.type))
    if want.type == "mps" and got.type == "cpu":
        return _verdict(True, note=tr("This Mac also has an Apple GPU (mps), which default_device() picks."))
    if got.type == "cuda":
        return _verdict(False, tr("torch.cuda.is_available() is False here: there is no CUDA GPU, so choose the "
                                  "CPU (on Colab: Runtime > Change runtime type > GPU)."))
    if want.type == "cuda":
        return _verdict(False, tr("a CUDA GPU is available here (torch.cuda.is_available()): use it."))
    return _verdict(False, tr("ask torch.cuda.is_available(): \"cuda\" if it says True, else \"cpu\"."))


# ------------------------------------------------------------------------------------------------
# 01: GAN fundamentals
# ------------------------------------------------------------------------------------------------


@_checked
def check_d_star(d_star: Callable[[Tensor, Tensor], Tensor]) -> bool:
    """01: your ``d_star(p_data, p_g)``, the optimal discriminator of GAN Proposition 1, on random densities
    (compared with :func:`adain_lesson.gan.optimal_discriminator`)."""
    g = _gen(1)
    p_data, p_g = torch.rand(64, generator=g, dtype=torch.float64) + 0.05, torch.rand(64, generator=g,
                                                                                       dtype=torch.float64) + 0.05
    got = _tensor(_call(d_star, p_data.clone(), p_g.clone()))
    want = gan.optimal_discriminator(p_data, p_g)
    _same_shape(got, want, tr(": D* is a value per x, like p_data"))
    if _close(got, want):
        return _verdict(True)
    if _close(got, 1 - want):
        return _verdict(False, tr("that is 1 - D*. D*(x) is the probability that x is real, so p_data goes on "
                                  "top."))
    if _close(got, p_data / p_g):
        return _verdict(False, tr("divide by the sum p_data + p_g: D* must lie between 0 and 1."))
    return _verdict(False, tr("for each x, maximise p_data(x) log D + p_g(x) log(1 - D) over D (set the "
                              "derivative to zero): D* is the share of p_data in p_data + p_g."))


@_checked
def check_optimal_value(value: float) -> bool:
    """01: the value of C(G) = max_D V(D, G) at the global optimum p_g = p_data (GAN Theorem 1); the right
    value is computed by :func:`adain_lesson.gan.virtual_criterion` on two equal densities."""
    got = _number(value)
    x = torch.linspace(-12, 12, 4001, dtype=torch.float64)
    p = torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    want = float(gan.virtual_criterion(p, p, float(x[1] - x[0])))
    if abs(got - want) < 1e-3:
        return _verdict(True, note=tr("C(G) = -log 4 = {want:.4f}: both expectations are log(1/2).", want=want))
    if abs(got + want) < 1e-3:
        return _verdict(False, tr("check the sign: D* = 1/2, and the log of a probability is negative."))
    if abs(got - want / 2) < 1e-3:
        return _verdict(False, tr("V has two terms (real data and fakes), each worth log(1/2)."))
    if abs(got - 0.5) < 1e-3:
        return _verdict(False, tr("1/2 is D*(x) at the optimum; C(G) = V(D*, G) puts D* = 1/2 into both log "
                                  "terms."))
    if abs(got) < 1e-3:
        return _verdict(False, tr("0 is the JSD at the optimum; C(G) = -log 4 + 2 JSD(p_data || p_g)."))
    return _verdict(False, tr("put p_g = p_data into D* (it becomes 1/2 everywhere), then into V(D, G)."))


@_checked
def check_generator_loss(g_loss: Callable[[Tensor], Tensor]) -> bool:
    """01: your non-saturating generator loss ``g_loss(d_fake)``, where ``d_fake = D(G(z))`` are the
    discriminator's probabilities on a batch of fakes; compared with :func:`adain_lesson.gan.generator_loss`."""
    d = torch.rand(32, generator=_gen(2), dtype=torch.float64) * 0.9 + 0.05
    got = _tensor(_call(g_loss, d.clone()))
    if got.numel() != 1:
        raise _Wrong(tr("a loss is one number (average over the batch), got {value} values", value=got.numel()))
    got = got.reshape(())
    logits = torch.logit(d)
    want = gan.generator_loss(logits, "non_saturating")
    if _close(got, want):
        return _verdict(True)
    if _close(got, gan.generator_loss(logits, "saturating")):
        return _verdict(False, tr("that is the saturating loss E log(1 - D(G(z))): its gradient vanishes while D "
                                  "rejects the fakes (D(G(z)) near 0). Make G maximise log D(G(z)) instead."))
    if _close(got, -want):
        return _verdict(False, tr("G minimises its loss: to maximise log D(G(z)), minimise -log D(G(z))."))
    if _close(got, want * d.numel()):
        return _verdict(False, tr("average over the batch (mean), do not sum."))
    return _verdict(False, tr("the non-saturating loss is -E[log D(G(z))]."))


# ------------------------------------------------------------------------------------------------
# 02: normalization layers
# ------------------------------------------------------------------------------------------------


@_checked
def check_instance_norm(inorm: Callable[[Tensor], Tensor]) -> bool:
    """02: your ``inorm(x)`` (instance normalization without affine parameters, Eqs. 4-6, eps = 1e-5) on a
    random ``[N, C, H, W]`` batch; compared with :func:`adain_lesson.norms.instance_norm`."""
    x = torch.randn(3, 4, 5, 6, generator=_gen(3)) * 2 + 1
    got = _tensor(_call(inorm, x.clone()))
    want = norms.instance_norm(x).double()
    _same_shape(got, want, tr(": normalization keeps the shape"))
    if _close(got, want, rtol=1e-3, atol=1e-4):
        return _verdict(True)
    if _close(got, norms.batch_norm(x).double(), rtol=1e-3, atol=1e-4):
        return _verdict(False, tr("that is batch norm: its statistics run over the batch too. IN takes them per "
                                  "sample and channel, over H and W only (dim=(2, 3))."))
    unbiased = (x - x.mean(dim=(2, 3), keepdim=True)) / torch.sqrt(x.var(dim=(2, 3), keepdim=True) + 1e-5)
    if _close(got, unbiased.double(), rtol=1e-3, atol=1e-4):
        return _verdict(False, tr("Eq. 6 divides the variance by H*W (torch: unbiased=False)."))
    return _verdict(False, tr("subtract each channel's mean over H and W, and divide by sqrt(variance + eps)."))


def _biased_mean_std(f: Tensor, dim: int | tuple[int, ...] = (2, 3)) -> tuple[Tensor, Tensor]:
    """Mean and standard deviation over ``dim`` (kept) with Eq. 6's variance over the count, H*W (the
    package follows the reference code: H*W - 1); ``eps`` as in :data:`adain_lesson.norms.EPS`."""
    return f.mean(dim=dim, keepdim=True), torch.sqrt(f.var(dim=dim, keepdim=True, unbiased=False) + norms.EPS)


def _adain_biased(x: Tensor, y: Tensor) -> Tensor:
    """AdaIN with Eq. 6's variance over H*W (the package follows the reference code: H*W - 1)."""
    y_mean, y_std = _biased_mean_std(y)
    return norms.instance_norm(x) * y_std + y_mean


def _variance_note() -> str:
    return tr("Yours divides the variance by H*W (Eqs. 5-6); the package, like the reference code, uses "
                  "torch.var's default H*W - 1. On large feature maps the two agree closely.")


@_checked
def check_adain(adain: Callable[[Tensor, Tensor], Tensor]) -> bool:
    """02: your ``adain(x, y)`` (Eq. 8: content features x take the channel mean and std of style features y)
    on random maps of different sizes; compared with :func:`adain_lesson.norms.adaptive_instance_norm`."""
    g = _gen(4)
    x = torch.randn(2, 4, 6, 5, generator=g) * 3 - 1
    y = torch.randn(2, 4, 7, 4, generator=g) * 0.5 + 2
    got = _tensor(_call(adain, x.clone(), y.clone()))
    want = norms.adaptive_instance_norm(x, y).double()
    _same_shape(got, want, tr(": AdaIN's output has the content's shape"))
    if _close(got, want, rtol=1e-3, atol=1e-4):
        return _verdict(True)
    if _close(got, _adain_biased(x, y).double(), rtol=1e-3, atol=1e-4):
        return _verdict(True, note=_variance_note())
    if _close(got, norms.instance_norm(x).double(), rtol=1e-3, atol=1e-3):
        return _verdict(False, tr("you normalized x; now scale by sigma(y) and shift by mu(y)."))
    return _verdict(False, tr("sigma(y) * (x - mu(x)) / sigma(x) + mu(y), with mu and sigma per sample and "
                              "channel over H and W; x is the content, y the style."))


@_checked
def check_cin_parameters(answer: int, num_features: int, num_styles: int = 32) -> bool:
    """02: how many learnable parameters one conditional instance normalization layer (Eq. 7) holds for
    ``num_features`` channels and ``num_styles`` styles; counted on
    :class:`adain_lesson.norms.ConditionalInstanceNorm2d`."""
    got = _number(answer)
    want = sum(p.numel() for p in norms.ConditionalInstanceNorm2d(num_features, num_styles).parameters())
    if got == want:
        return _verdict(True, note=tr("2 x {num_features} x {num_styles} = {want}: a gamma and a beta per "
                                      "channel, for every style. AdaIN (Eq. 8) has none: it computes them from "
                                      "the style image.", num_features=num_features, num_styles=num_styles, want=want))
    if got == want // 2:
        return _verdict(False, tr("each style has two vectors, gamma^s and beta^s."))
    if got == 2 * num_features:
        return _verdict(False, tr("that is one style's pair; every style has its own."))
    if got == 2 * num_styles:
        return _verdict(False, tr("gamma^s and beta^s are vectors with one entry per channel."))
    return _verdict(False, tr("count the entries of gamma^s and beta^s (one per channel), for each of the styles."))


# ------------------------------------------------------------------------------------------------
# 03: Gatys et al.
# ------------------------------------------------------------------------------------------------


@_checked
def check_gram_matrix(gram: Callable[[Tensor], Tensor], normalize: bool = False) -> bool:
    """03: your ``gram(features)`` for ``[N, C, H, W]`` features, ``[N, C, C]`` (Gatys et al. Eq. 3; divided by
    C*H*W with ``normalize=True``); compared with :func:`adain_lesson.losses.gram_matrix`."""
    f = torch.randn(2, 3, 4, 5, generator=_gen(5))
    got = _tensor(_call(gram, f.clone()))
    want = losses.gram_matrix(f, normalize=normalize).double()
    if got.shape == (2, 20, 20):
        raise _Wrong(tr("that compares positions (F^T F). Flatten each map to F of shape [C, H*W] and take F "
                        "F^T: channels against channels."))
    _same_shape(got, want, tr(": one C x C matrix per image"))
    if _close(got, want):
        return _verdict(True)
    if _close(got, losses.gram_matrix(f, normalize=not normalize).double()):
        return _verdict(False, "divide by C*H*W." if normalize else "this check wants the plain sum, not / (C*H*W).")
    return _verdict(False, tr("G_ij = sum_k F_ik F_jk: the inner product of channels i and j over all positions."))


@_checked
def check_mean_std_loss(style_loss: Callable[[Sequence[Tensor], Sequence[Tensor]], Tensor]) -> bool:
    """03: your ``style_loss(features, targets)`` (AdaIN's Eq. 13; two lists of maps, one per layer, each term a
    mean squared error, summed over layers); compared with :func:`adain_lesson.losses.mean_std_loss`."""
    g = _gen(6)
    feats = [torch.randn(2, c, s, s, generator=g) for c, s in ((3, 8), (5, 4))]
    targets = [torch.randn(2, c, s, s, generator=g) * 2 + 1 for c, s in ((3, 8), (5, 4))]
    got = _tensor(_call(style_loss, [f.clone() for f in feats], [t.clone() for t in targets]))
    if got.numel() != 1:
        raise _Wrong(tr("a loss is one number, got {value} values", value=got.numel()))
    got = got.reshape(())
    want = losses.mean_std_loss(feats, targets).double()
    if _close(got, want, rtol=1e-3):
        return _verdict(True)

    def part(which: int) -> Tensor:
        return sum(((norms.calc_mean_std(f)[which] - norms.calc_mean_std(t)[which]) ** 2).mean()
                   for f, t in zip(feats, targets)).double()

    biased = _biased_mean_std
    loose = sum(((biased(f)[0] - biased(t)[0]) ** 2).mean() + ((biased(f)[1] - biased(t)[1]) ** 2).mean()
                for f, t in zip(feats, targets)).double()
    if _close(got, loose, rtol=1e-3):
        return _verdict(True, note=_variance_note())
    if _close(got, part(0), rtol=1e-3):
        return _verdict(False, tr("add the standard deviations' term: Eq. 13 matches sigma as well as mu."))
    if _close(got, part(1), rtol=1e-3):
        return _verdict(False, tr("add the means' term: Eq. 13 matches mu as well as sigma."))
    if _close(got, want / len(feats), rtol=1e-3):
        return _verdict(False, tr("sum the layers' terms (the PyTorch port does not average them)."))
    return _verdict(False, tr("for each layer: MSE(mu(f), mu(t)) + MSE(sigma(f), sigma(t)); then sum over layers."))


#: The choices of :func:`check_optimization_cost`.
OPTIMIZATION_COST_CHOICES = LazyTable(lambda: {
    "a": tr("VGG-19 is a large network, and a feed-forward method such as AdaIN avoids it"),
    "b": tr("each new image is its own optimization: hundreds of forward and backward passes through VGG-19, "
            "while a feed-forward network is trained once and then needs one forward pass per image"),
    "c": tr("L-BFGS is a slow optimizer: with Adam, optimizing the pixels would be as fast as a feed-forward "
            "network"),
    "d": tr("computing the Gram matrices takes most of the time"),
})


@_checked
def check_optimization_cost(answer: str) -> bool:
    """03: why Gatys et al.'s method is slow next to a feed-forward network (AdaIN, Table 1): a letter of
    :data:`OPTIMIZATION_COST_CHOICES`, or a sentence that names the backward passes."""
    picked = _choice(answer, dict(OPTIMIZATION_COST_CHOICES), (("backward", "역전파"),))
    if picked in ("b", "keywords"):
        return _verdict(True, note=tr("The AdaIN paper calls it \"the flexible but slow optimization-based "
                                      "method\" (Section 7.1): the cost is paid again for every image."))
    hints = {"a": tr("AdaIN runs VGG-19 too (its encoder, up to relu4_1): the network is not the difference."),
             "c": tr("any optimizer needs a forward and a backward pass per step; Adam usually needs more steps."),
             "d": tr("a Gram matrix is one matrix product per layer, small next to the passes through VGG-19.")}
    return _verdict(False, hints.get(picked or "", "count the passes through VGG-19 for one image, in each method."))


# ------------------------------------------------------------------------------------------------
# 04: the AdaIN model
# ------------------------------------------------------------------------------------------------


@_checked
def check_calc_mean_std(calc_mean_std: Callable[[Tensor], tuple[Tensor, Tensor]]) -> bool:
    """04: your ``calc_mean_std(feat)`` as in the tutorial code: per-sample, per-channel mean and std, each
    ``[N, C, 1, 1]``, variance unbiased plus eps = 1e-5; compared with :func:`adain_lesson.norms.calc_mean_std`."""
    feat = torch.randn(2, 3, 5, 6, generator=_gen(7)) * 3 + 1
    out = _call(calc_mean_std, feat.clone())
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise _Wrong(tr("return two tensors: (mean, std)"))
    mean, std = (_tensor(t, tr("each result")) for t in out)
    want_mean, want_std = (t.double() for t in norms.calc_mean_std(feat))
    if mean.numel() == want_mean.numel() and mean.shape != want_mean.shape:
        raise _Wrong(tr("shape {value}: view them as [N, C, 1, 1] so they broadcast (.expand) against the [N, C, "
                        "H, W] features", value=tuple(mean.shape)))
    _same_shape(mean, want_mean)
    _same_shape(std, want_std)
    if _close(mean, want_mean, rtol=1e-4, atol=1e-5) and _close(std, want_std, rtol=1e-4, atol=1e-5):
        return _verdict(True)
    if not _close(mean, want_mean, rtol=1e-4, atol=1e-5):
        return _verdict(False, tr("the mean is over H*W for each sample and channel: feat.view(N, C, "
                                  "-1).mean(dim=2)."))
    if _close(std, (feat.view(2, 3, -1).var(dim=2, unbiased=False) + 1e-5).sqrt().view(2, 3, 1, 1).double()):
        return _verdict(False, tr("the tutorial uses torch.var's default, unbiased (divide by H*W - 1)."))
    return _verdict(False, tr("std = sqrt(var + eps), with the variance over H*W per sample and channel."))


#: The choices of :func:`check_alpha_zero`.
ALPHA_ZERO_CHOICES = LazyTable(lambda: {
    "a": tr("the content image c itself, pixel for pixel"),
    "b": tr("the decoder applied to the content's own features: g(f(c))"),
    "c": tr("the style image s"),
    "d": tr("the fully stylized image g(AdaIN(f(c), f(s)))"),
})


@_checked
def check_alpha_zero(answer: str) -> bool:
    """04: what ``alpha = 0`` in Eq. 14 gives: a letter of :data:`ALPHA_ZERO_CHOICES` or a short sentence.
    The right choice is computed: :func:`adain_lesson.model.mix_features` at alpha = 0 hands the decoder
    exactly f(c)."""
    picked = _choice(answer, dict(ALPHA_ZERO_CHOICES), (("decod", "디코더", "디코딩"), ("content", "콘텐츠")))
    g = _gen(8)
    f_c, f_s = torch.rand(1, 512, 4, 4, generator=g), torch.rand(1, 512, 5, 5, generator=g) * 2
    t0 = mix_features(f_c, [StyleStats(*norms.calc_mean_std(f_s))], (32, 32), alpha=0.0)
    t1 = mix_features(f_c, [StyleStats(*norms.calc_mean_std(f_s))], (32, 32), alpha=1.0)
    right = "b" if torch.equal(t0, f_c) else "d" if torch.equal(t0, t1) else None
    if picked in (right, "keywords"):
        return _verdict(True, note=tr("t = f(c), so the output is the decoder's reconstruction of the content: "
                                      "close to c, but not c itself (the decoder only approximately inverts the "
                                      "encoder)."))
    if picked == "a":
        return _verdict(False, tr("nearly: at alpha = 0 the decoder gets f(c), and the decoder is not an exact "
                                  "inverse of the encoder."))
    if picked == "d":
        return _verdict(False, tr("that is alpha = 1. Write out Eq. 14 with alpha = 0."))
    return _verdict(False, tr("write out Eq. 14, T(c, s, alpha) = g((1 - alpha) f(c) + alpha AdaIN(f(c), f(s))), "
                              "with alpha = 0."))


@_checked
def check_relu4_1_shape(answer: Sequence[int], input_shape: Sequence[int] = (1, 3, 256, 256)) -> bool:
    """04: the shape ``(N, C, H, W)`` of the encoder's relu4_1 output for an input of ``input_shape``; computed
    by running :class:`adain_lesson.vgg.Encoder` on a shape-only ("meta") tensor."""
    _answer(answer)
    try:
        got = tuple(int(v) for v in answer)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise _Wrong(tr("give the shape as a tuple of four numbers (N, C, H, W)")) from None
    with torch.device("meta"):
        encoder = vgg.Encoder(vgg.make_vgg())
        want = tuple(encoder(torch.empty(*input_shape)).shape)
    if got == want:
        return _verdict(True, note=tr("{want}: 512 channels at 1/8 of the input's height and width.", want=want))
    if len(got) != 4:
        return _verdict(False, tr("four numbers: batch, channels, height, width."))
    if got[1] != want[1]:
        return _verdict(False, tr("count the channels of the last convolution before relu4_1 (block 4 of VGG-19)."))
    return _verdict(False, tr("each max-pooling halves height and width; count the poolings before relu4_1."))


# ------------------------------------------------------------------------------------------------
# 05: training
# ------------------------------------------------------------------------------------------------

#: The paper's reason (Section 6.2), quoted by :func:`check_content_target`.
PAPER_CONTENT_TARGET = ("We use the AdaIN output t as the content target, instead of the commonly used feature "
                        "responses of the content image. We find this leads to slightly faster convergence and "
                        "also aligns with our goal of inverting the AdaIN output t.")

#: The choices of :func:`check_content_target`.
CONTENT_TARGET_CHOICES = LazyTable(lambda: {
    "a": tr("f(c) is not available while training"),
    "b": tr("the decoder's job is to invert t, and the authors found it converges slightly faster"),
    "c": tr("t is cheaper to compute than f(c)"),
    "d": tr("t carries the style's statistics, so the content loss alone would teach the style"),
})


@_checked
def check_content_target(answer: str) -> bool:
    """05: why Eq. 12's content target is t, not f(c): a letter of :data:`CONTENT_TARGET_CHOICES`, or a sentence
    that names inverting t. The paper's own sentence is :data:`PAPER_CONTENT_TARGET`."""
    picked = _choice(answer, dict(CONTENT_TARGET_CHOICES), (("invert", "역변환", "되돌", "거꾸로", "역으로"),))
    if picked in ("b", "keywords"):
        return _verdict(True, note=tr("The paper (Section 6.2): \"{quote}\"", quote=PAPER_CONTENT_TARGET))
    hints = {"a": tr("f(c) is computed anyway: t is made from it."), "c": tr("t is computed from f(c), so it costs "
                                                                         "more."),
             "d": tr("the style is taught by the style loss (Eq. 13); the content loss compares features, not "
                     "statistics.")}
    return _verdict(False, hints.get(picked or "", "what is the decoder trained to do with t?"))


@_checked
def check_learning_rate(answer: float, iteration: int) -> bool:
    """05: the learning rate at ``iteration`` (counted from 0) with the training defaults (lr = 1e-4,
    lr_decay = 5e-5); computed by :func:`adain_lesson.train.learning_rate`."""
    got = _number(answer)
    config = train.TrainConfig()
    want = train.learning_rate(config, iteration)

    def near(v: float) -> bool:
        return math.isclose(got, v, rel_tol=1e-6)

    if near(want):
        return _verdict(True)
    if near(config.lr) and iteration > 0:
        return _verdict(False, tr("the rate decays with the iteration: see lr_decay."))
    if near(config.lr * math.exp(-config.lr_decay * iteration)) or near(config.lr * (1 - config.lr_decay) ** iteration):
        return _verdict(False, tr("the decay is inverse-time, not exponential: lr / (1 + lr_decay * t)."))
    if iteration > 0 and (near(train.learning_rate(config, iteration - 1)) or near(train.learning_rate(config,
                                                                                                       iteration + 1))):
        return _verdict(False, tr("off by one iteration: t counts from 0."))
    return _verdict(False, tr("the schedule (from the reference code) is lr / (1 + lr_decay * t)."))


#: The image sizes (width, height) :func:`check_resized_size` tries: landscape, portrait, square, small.
_RESIZE_CASES = ((640, 480), (480, 640), (1000, 1000), (300, 200), (500, 333))


@_checked
def check_resized_size(resized_size: Callable[[int, int, int], Sequence[int]]) -> bool:
    """05: your ``resized_size(width, height, load_size)``: the ``(width, height)`` after Section 6.2's resize
    ("resize the smallest dimension ... to 512 while preserving the aspect ratio", rounded to whole pixels);
    compared with :class:`adain_lesson.data.PaperTransform` on images of several shapes."""
    from PIL import Image

    for w, h in _RESIZE_CASES:
        got = _call(resized_size, w, h, 512)
        try:
            got = tuple(int(v) for v in got)
        except (TypeError, ValueError):
            raise _Wrong(tr("return (width, height), two whole numbers; got {got}", got=repr(got))) from None
        if len(got) != 2:
            raise _Wrong(tr("return (width, height), two numbers; got {got}", got=len(got)))
        want = data.PaperTransform(512, 256).resize(Image.new("RGB", (w, h))).size
        if got == want:
            continue
        if got == (512, 512) and w != h:
            return _verdict(False, tr("keep the aspect ratio: the PyTorch port squashes to 512 x 512, the paper "
                                      "does not."))
        if got == want[::-1]:
            return _verdict(False, tr("width first, then height (PIL's order)."))
        if min(got) != 512 and max(got) == 512:
            return _verdict(False, tr("scale so that the shorter (smallest) side becomes 512, not the longer one."))
        if min(got) == 512 and abs(max(got) - max(want)) == 1:
            return _verdict(False, tr("round to the nearest pixel: {w} x {h} gives {want}, you gave {got}.",
                                      w=w, h=h, want=want, got=got))
        return _verdict(False, tr("{w} x {h}: scale both sides by 512 / min(width, height); expected {want}, got "
                                  "{got}.", w=w, h=h, want=want, got=got))
    return _verdict(True)


# ------------------------------------------------------------------------------------------------
# 06: runtime controls
# ------------------------------------------------------------------------------------------------


@_checked
def check_style_weights(weights: Sequence[float], sliders: Sequence[float] | None = None) -> bool:
    """06, 08: interpolation weights for Eq. 15 (one per style): non-negative and summing to 1, which is what
    :func:`adain_lesson.model.normalize_weights` makes of them. With ``sliders`` (the raw slider positions,
    one per style), the weights must be the ones ``normalize_weights`` makes of those positions."""
    _answer(weights)
    w = _tensor(weights, tr("the weights")).reshape(-1)
    if w.numel() < 2:
        return _verdict(False, tr("give one weight per style, for at least two styles."))
    if bool((w < 0).any()) or not bool(torch.isfinite(w).all()):
        return _verdict(False, tr("weights must be finite and non-negative (a convex combination)."))
    if float(w.sum()) == 0:
        return _verdict(False, tr("at least one weight must be positive."))
    if sliders is not None:
        raw = [float(v) for v in sliders]
        if w.numel() != len(raw):
            return _verdict(False, tr("give one weight per slider: {raw} sliders, {value} weights.",
                                      raw=len(raw), value=w.numel()))
        want = torch.tensor(normalize_weights(raw, len(raw)), dtype=torch.float64)
        if _close(w, want, rtol=1e-6, atol=1e-9):
            return _verdict(True)
        if _close(w, torch.tensor(raw, dtype=torch.float64), rtol=1e-6, atol=1e-9):
            return _verdict(False, tr("these are the slider positions themselves; they sum to {raw:.4g}, and Eq. "
                                      "15 needs a sum of 1 (divide each by the sum).", raw=sum(raw)))
        return _verdict(False, tr("keep the sliders' proportions: divide each slider's value by the sum of all "
                                  "of them."))
    want = torch.tensor(normalize_weights(w.tolist(), w.numel()), dtype=torch.float64)
    if _close(w, want, rtol=1e-6, atol=1e-9):
        return _verdict(True)
    return _verdict(False, tr("they sum to {value:.4g}; Eq. 15 needs a sum of 1 (divide each by the sum).",
                              value=float(w.sum())))


@_checked
def check_bilinear_weights(answer: Tensor | Callable[[int], Tensor], n: int = 5) -> bool:
    """06: the ``[n, n, 4]`` weights of Fig. 8's grid (corners top-left, top-right, bottom-left, bottom-right),
    as a tensor or a function of ``n``; compared with :func:`adain_lesson.figures.bilinear_weights`."""
    _answer(answer)
    got = _tensor(_call(answer, n) if callable(answer) else answer)
    want = bilinear_weights(n)
    _same_shape(got, want, tr(": an n x n grid, four weights per cell"))
    if _close(got, want):
        return _verdict(True)
    if not _close(got.sum(dim=-1), torch.ones(n, n, dtype=torch.float64)):
        return _verdict(False, tr("each cell's four weights must sum to 1 (Eq. 15)."))
    if _close(got, want.transpose(0, 1)):
        return _verdict(False, tr("rows and columns are swapped: rows go with y (top to bottom), columns with x."))
    return _verdict(False, tr("each corner must be its style alone; in between, the product of the two linear "
                              "weights, e.g. top-left = (1 - x)(1 - y) with x = j/(n-1), y = i/(n-1)."))


@_checked
def check_masked_adain(masked: Callable[[Tensor, Sequence[Tensor], Tensor], Tensor]) -> bool:
    """06: your ``masked(f_c, [f_s1, f_s2], mask)``: AdaIN with style 1 where the ``[h, w]`` 0/1 mask is 1 and
    style 2 elsewhere, the content statistics taken over each region's positions only (Fig. 10); compared with
    :func:`adain_lesson.model.masked_adain`."""
    g = _gen(9)
    f_c = torch.randn(1, 4, 6, 8, generator=g) * 2
    f_s = [torch.randn(1, 4, 5, 5, generator=g) + 3, torch.randn(1, 4, 5, 5, generator=g) * 0.3 - 2]
    mask = torch.zeros(6, 8)
    mask[:, :3] = 1.0
    got = _tensor(_call(masked, f_c.clone(), [s.clone() for s in f_s], mask.clone()))
    stats = [StyleStats(*norms.calc_mean_std(s)) for s in f_s]
    want = masked_adain(f_c, stats, torch.stack([mask, 1 - mask])[None], [1.0, 1.0]).double()
    _same_shape(got, want, tr(": the result has the content features' shape"))
    if _close(got, want, rtol=1e-3, atol=1e-4):
        return _verdict(True)
    m = mask.bool()
    ok_biased = True
    for region, s in ((m, f_s[0]), (~m, f_s[1])):
        x = f_c[..., region]  # [1, C, P]
        xm, xs = _biased_mean_std(x, -1)
        sm, ss = (t.squeeze(-1) for t in _biased_mean_std(s))  # [1, C, 1]
        ok_biased &= _close(got[..., region], ((x - xm) / xs * ss + sm).double(), rtol=1e-3, atol=1e-4)
    if ok_biased:
        return _verdict(True, note=_variance_note())
    whole = norms.adaptive_instance_norm(f_c, f_s[0]) * mask + norms.adaptive_instance_norm(f_c, f_s[1]) * (1 - mask)
    if _close(got, whole.double(), rtol=1e-3, atol=1e-4):
        return _verdict(False, tr("you used the whole map's content statistics: take mu(x) and sigma(x) over "
                                  "each region's positions only (as the reference code does)."))
    swapped = masked_adain(f_c, stats[::-1], torch.stack([mask, 1 - mask])[None], [1.0, 1.0]).double()
    if _close(got, swapped, rtol=1e-3, atol=1e-4):
        return _verdict(False, tr("the styles are swapped: style 1 goes where the mask is 1."))
    return _verdict(False, tr("for each region: select its positions, normalize them with their own mean and "
                              "std, apply that region's style statistics, and put them back in place."))


#: The paper's sentence on colour preservation (Section 7.3), quoted by :func:`check_color_preservation`.
PAPER_COLOR = ("we first match the color distribution of the style image to that of the content image (similar to "
               "[17]), then perform a normal style transfer using the color-aligned style image as the style input.")

#: The choices of :func:`check_color_preservation`.
COLOR_PRESERVATION_CHOICES = LazyTable(lambda: {
    "a": tr("the content image is recoloured with the style's palette before encoding"),
    "b": tr("the style image is recoloured to the content's colour statistics before encoding"),
    "c": tr("the stylized output is recoloured to the content's colours after decoding"),
    "d": tr("AdaIN matches only the means of the features, not the standard deviations"),
})


@_checked
def check_color_preservation(answer: str) -> bool:
    """06: what colour preservation (Fig. 9) changes: a letter of :data:`COLOR_PRESERVATION_CHOICES` or a short
    sentence naming the style image and the content's colours. The right choice is computed:
    :func:`adain_lesson.color.match_color` gives its *first* argument the colour mean of its second, and the
    model passes the style first (``preserve_color=True``). The paper's sentence is :data:`PAPER_COLOR`."""
    picked = _choice(answer, dict(COLOR_PRESERVATION_CHOICES), (("style", "스타일"), ("content", "콘텐츠")),
                     ordered=True)
    g = _gen(11)
    style, content = torch.rand(3, 8, 8, generator=g) * 0.3, torch.rand(3, 6, 6, generator=g) * 0.5 + 0.4
    moved = color_stats(match_color(style, content, clamp=False))[0]
    right = "b" if torch.allclose(moved, color_stats(content)[0], atol=1e-4) else "a"
    if picked in (right, "keywords"):
        return _verdict(True, note=tr("The paper (Section 7.3): \"{quote}\"", quote=PAPER_COLOR) + " "
                        + tr("The paper gives no formula: the package's covariance-matching map (color.match_color) is "
                             "ours, another linear map than the authors' code's coral (color.coral)."))
    hints = {"a": tr("the content's colours are the ones to keep: which image gives up its palette?"),
             "c": tr("the change happens before the network runs: the style input is changed, then a normal "
                     "transfer."),
             "d": tr("AdaIN is unchanged; only one of the two input images is changed before encoding.")}
    return _verdict(False, hints.get(picked or "", "which input image is changed, and whose colour statistics "
                                                   "does it receive?"))


# ------------------------------------------------------------------------------------------------
# 07: ablations
# ------------------------------------------------------------------------------------------------

_VARIANTS = {  # canonical name (the paper's) -> spellings accepted, compared without case, spaces or punctuation
    "Enc-AdaIN-Dec": ("encadaindec", "encadain", "adain"),
    "Enc-Concat-Dec": ("encconcatdec", "encconcat", "concat", "concatenation"),
    "Enc-AdaIN-BNDec": ("encadainbndec", "encadainbn", "bndec", "bn", "batchnorm", "batch"),
    "Enc-AdaIN-INDec": ("encadainindec", "encadainin", "indec", "in", "instancenorm", "instance"),
}

_PAPER_72 = ("This is also consistent with Fig. 6, where Enc-Concat-Dec can reach low style loss but fail to "
             "decrease the content loss. Models with BN/IN layers also obtain qualitatively worse results and "
             "consistently higher losses. The results with IN layers are especially poor.")

#: The questions of :func:`check_ablation`: key -> (question, the paper's answer). The paper (Section 7.2, on
#: Figs. 5-6) states these in words; its curves are not reproduced here (notebook 07 trains short runs).
ABLATION_QUESTIONS = LazyTable(lambda: {
    "highest_content_loss": (tr("Which variant fails to decrease the content loss?"), "Enc-Concat-Dec"),
    "low_style_high_content": (tr("Which variant reaches a low style loss but keeps a high content loss, because "
                                  "the style image's own contours leak into the output?"), "Enc-Concat-Dec"),
    "worst_normalized_decoder": (tr("Of the two decoders with normalization layers, which is worse?"),
                                 "Enc-AdaIN-INDec"),
})


def _variant(answer: str) -> str | None:
    key = re.sub(r"[^a-z]", "", answer.lower())
    return next((name for name, spellings in _VARIANTS.items() if key in spellings), None)


@_checked
def check_ablation(question: str, answer: str) -> bool:
    """07: answer one of :data:`ABLATION_QUESTIONS` (by key) with a variant's name (``"Enc-Concat-Dec"``,
    ``"concat"``, ``"IN"``, ...). The paper's Section 7.2 is quoted in the verdict."""
    if question not in ABLATION_QUESTIONS:
        raise _Wrong(tr("unknown question {question}: use one of {value}",
                        question=repr(question), value=', '.join(ABLATION_QUESTIONS)))
    _answer(answer)
    if not isinstance(answer, str):
        raise _Wrong(tr("name a variant: {value}", value=', '.join(_VARIANTS)))
    picked = _variant(answer)
    if picked is None:
        raise _Wrong(tr("{answer} is not one of the variants: {value}",
                        answer=repr(answer), value=', '.join(_VARIANTS)))
    want = ABLATION_QUESTIONS[question][1]
    if picked == want:
        return _verdict(True, note=tr("The paper (Section 7.2): \"{quote}\"", quote=_PAPER_72))
    if picked == "Enc-AdaIN-Dec":
        return _verdict(False, tr("Enc-AdaIN-Dec is the paper's own model, with the lowest content loss in Fig. 6 "
                                  "(read from the figure); it is not the one described here."))
    if want == "Enc-Concat-Dec":
        return _verdict(False, tr("which decoder sees the style image's features as a map, with its spatial "
                                  "layout?"))
    return _verdict(False, tr("which normalization resets every sample's channel statistics to one learned style?"))


@_checked
def check_fig3_content_loss(fig3_content_loss: Callable[[Tensor, Tensor, Tensor], Tensor]) -> bool:
    """07: your ``fig3_content_loss(f_out, f_c, f_s)``: the content loss the paper plots in Fig. 3 ("The content
    loss shown here is the same as in [52, 16]"), the mean squared distance between the output's features
    ``f_out`` and the **content image's** features ``f_c`` (not Eq. 12's AdaIN target t, which also depends on
    the style's ``f_s``); compared with :func:`adain_lesson.losses.content_loss` on random maps."""
    g = _gen(11)
    f_out, f_c = torch.randn(2, 8, 6, 6, generator=g), torch.randn(2, 8, 6, 6, generator=g) * 2 + 1
    f_s = torch.randn(2, 8, 5, 7, generator=g) * 3 - 1
    got = _tensor(_call(fig3_content_loss, f_out, f_c, f_s), tr("fig3_content_loss's result"))
    if got.numel() != 1:
        raise _Wrong(tr("return one number (a scalar tensor), got {value} values", value=got.numel()))
    got = got.reshape(())
    want = losses.content_loss(f_out, f_c).double()
    if _close(got, want):
        return _verdict(True, note=tr("Fig. 3 scores every method against the content image itself; Eq. 12's t "
                                      "is AdaIN's training target, which only AdaIN's decoder aims at."))
    t = norms.adaptive_instance_norm(f_c, f_s)
    if _close(got, losses.content_loss(f_out, t).double()):
        return _verdict(False, tr("that is Eq. 12's training loss against t = AdaIN(f(c), f(s)); Fig. 3 measures "
                                  "against the content image's features f(c), as Gatys et al. and Ulyanov et al. "
                                  "do."))
    if _close(got, losses.content_loss(f_out, f_c, "sum").double()):
        return _verdict(False, tr("that is the sum of squares; use the mean (F.mse_loss), as the package does."))
    return _verdict(False, tr("the mean over all elements of (f_out - f_c) ** 2."))


@_checked
def check_relative_difference(relative_gap: Callable[[Tensor, Tensor, Tensor], float]) -> bool:
    """07: your ``relative_gap(a, b, channels)``: ``max |a - b| / max |a|`` over the channels selected by the
    boolean mask ``channels`` (dimension 1), a closeness that does not depend on the scale of the activations;
    compared with :func:`adain_lesson.norms.relative_difference` on random maps at two scales."""
    g = _gen(12)
    a = torch.randn(2, 6, 4, 4, generator=g)
    b = a + 0.01 * torch.randn(2, 6, 4, 4, generator=g)
    b[:, 0] += 5.0  # a channel the mask leaves out
    channels = torch.tensor([False, True, True, True, True, True])
    for scale in (1.0, 1000.0):
        got = _number(_call(relative_gap, a * scale, b * scale, channels))
        want = norms.relative_difference(a * scale, b * scale, channels)
        if not math.isclose(got, want, rel_tol=1e-4, abs_tol=1e-9):
            if math.isclose(got, float((a - b)[:, channels].abs().max()) * scale, rel_tol=1e-4):
                return _verdict(False, tr("that is the absolute difference: divide by max |a| over the same "
                                          "channels, so that the number does not grow with the activations' "
                                          "scale."))
            if math.isclose(got, norms.relative_difference(a * scale, b * scale), rel_tol=1e-4):
                return _verdict(False, tr("select the channels first (a[:, channels]): the others are where the "
                                          "epsilon of Eq. 6 dominates and IN does not remove the style."))
            return _verdict(False, tr("on a test pair at scale {scale:g} you returned {got:.4g}, expected "
                                      "{want:.4g}: max |a - b| / max |a| over the selected channels.",
                                      scale=scale, got=got, want=want))
    return _verdict(True, note=tr("The same number at any scale of the activations: a threshold such as 1e-2 now "
                                  "means '1 % of the largest activation', whatever the weights are."))


# ------------------------------------------------------------------------------------------------
# 08: the playground
# ------------------------------------------------------------------------------------------------

_DIRECTIONS = {"up": 1, "increases": 1, "increase": 1, "higher": 1, "grows": 1, "rises": 1,
               "down": -1, "decreases": -1, "decrease": -1, "lower": -1, "falls": -1, "shrinks": -1}


@_checked
def check_alpha_effect(content_distance: str, style_distance: str) -> bool:
    """08: predict what raising alpha from 0 to 1 (Eq. 14) does to the decoder's input t: its distance from the
    content features f(c), and the distance of its channel statistics from the style's (``"up"`` or ``"down"``
    each). The directions are computed with :func:`adain_lesson.model.mix_features` on random features."""
    _answer(content_distance)
    _answer(style_distance)
    said = []
    for word in (content_distance, style_distance):
        if not isinstance(word, str) or word.strip().lower() not in _DIRECTIONS:
            raise _Wrong(tr("answer each with \"up\" or \"down\""))
        said.append(_DIRECTIONS[word.strip().lower()])
    g = _gen(10)
    f_c, f_s = torch.randn(1, 8, 6, 6, generator=g), torch.randn(1, 8, 6, 6, generator=g) * 3 + 2
    s_mean, s_std = norms.calc_mean_std(f_s)
    stats = [StyleStats(s_mean, s_std)]

    def distances(alpha: float) -> tuple[float, float]:
        t = mix_features(f_c, stats, (48, 48), alpha=alpha)
        t_mean, t_std = norms.calc_mean_std(t)
        return float((t - f_c).norm()), float((t_mean - s_mean).norm() + (t_std - s_std).norm())

    (c0, s0), (c1, s1) = distances(0.0), distances(1.0)
    truth = [1 if c1 > c0 else -1, 1 if s1 > s0 else -1]
    if said == truth:
        return _verdict(True, note=tr("More alpha moves t away from f(c) and its statistics onto the style's: "
                                      "more style, less content (Fig. 7)."))
    wrong = tr("the content distance") if said[0] != truth[0] else tr("the style distance")
    return _verdict(False, tr("think again about {wrong}: at alpha = 0, t = f(c); at alpha = 1, t = AdaIN(f(c), "
                              "f(s)), whose channel statistics are the style's.", wrong=wrong))


@_checked
def check_split_mask(mask_fn: Callable[[int, int], Tensor], kind: str = "left") -> bool:
    """08: your ``mask_fn(height, width)``: a hard two-region mask ``[H, W]``, 1 on the first region (the left
    half for ``kind="left"``, the top half for ``"top"``) and 0 on the other; compared with
    :func:`adain_lesson.images.split_mask` on sizes with an even number of rows and columns."""
    if kind not in ("left", "top"):
        raise _Wrong(tr("this check knows the kinds 'left' and 'top', got {kind}", kind=repr(kind)))
    results = []
    for h, w in ((6, 8), (10, 4)):
        got = _tensor(_call(mask_fn, h, w), tr("your mask"))
        want = images.split_mask(kind, h, w).double()
        _same_shape(got, want, tr(": one value per pixel, [height, width]"))
        results.append((got, want, images.split_mask("top" if kind == "left" else "left", h, w).double()))
    if all(_close(g, w) for g, w, _ in results):
        return _verdict(True, note=tr("1 marks style 1's region, 0 style 2's (as the white of Fig. 10's mask)."))
    if any(bool(((g != 0) & (g != 1)).any()) for g, _, _ in results):
        return _verdict(False, tr("a hard mask holds only 0 and 1."))
    if all(_close(g, 1 - w) for g, w, _ in results):
        return _verdict(False, tr("the regions are swapped: 1 goes on the {kind} half (style 1's region).", kind=kind))
    if all(_close(g, o) for g, _, o in results):
        return _verdict(False, tr("rows and columns are swapped: the first index is the row (y), the second the "
                                  "column (x)."))
    half = tr("columns < width // 2") if kind == "left" else tr("rows < height // 2")
    return _verdict(False, tr("start from zeros of shape (height, width) and set the {kind} half ({half}) to 1.",
                              kind=kind, half=half))


# ------------------------------------------------------------------------------------------------
# 09: real time
# ------------------------------------------------------------------------------------------------


@_checked
def check_table1_fps(fps_256: float, fps_512: float) -> bool:
    """09: the frame rates of Table 1's AdaIN times without style encoding (computed from
    :data:`adain_lesson.bench.PAPER_TABLE1_MS`): one frame per time, 55.6 and 15.4 FPS; the paper rounds them to
    56 and 15."""
    from ..bench import PAPER_TABLE1_MS

    got = (_number(fps_256), _number(fps_512))
    want = tuple(1000.0 / PAPER_TABLE1_MS[size][0] for size in (256, 512))
    if all(math.isclose(g, w, rel_tol=0.01) for g, w in zip(got, want)):
        return _verdict(True, note=tr("{a:.1f} and {b:.1f} FPS: the paper says 56 and 15. Only 256 px fits a 30 FPS "
                                      "budget (33 ms) on the paper's GPU.", a=want[0], b=want[1]))
    with_enc = tuple(1000.0 / PAPER_TABLE1_MS[size][1] for size in (256, 512))
    if all(math.isclose(g, w, rel_tol=0.01) for g, w in zip(got, with_enc)):
        return _verdict(False, tr("those are the times with style encoding (in parentheses): use the first "
                                  "numbers, 0.018 s and 0.065 s"))
    if all(math.isclose(g, w / 1000.0, rel_tol=0.01) for g, w in zip(got, want)):  # 1 / milliseconds
        return _verdict(False, tr("the times are in seconds (0.018 s, not 18 ms): frames per second = 1 / seconds "
                                  "per frame"))
    if math.isclose(got[0], want[1], rel_tol=0.01) and math.isclose(got[1], want[0], rel_tol=0.01):
        return _verdict(False, tr("the two are swapped: the smaller image is the faster one"))
    return _verdict(False, tr("frames per second = 1 / (seconds per frame): 1 / 0.018 for 256 px"))


#: The choices of :func:`check_video_cache`: what can be computed once for a whole clip in one style.
VIDEO_CACHE_CHOICES = LazyTable(lambda: {
    "a": tr("the content features f(c) of the frames"),
    "b": tr("the style's statistics mu(f(s)) and sigma(f(s)) of Eq. 8"),
    "c": tr("the content statistics mu(f(c)) and sigma(f(c)) of Eq. 8"),
    "d": tr("the decoder's output g(t)"),
})


@_checked
def check_video_cache(answer: str) -> bool:
    """09: which part of Eq. 8 is the same for every frame of a clip in one style: a letter of
    :data:`VIDEO_CACHE_CHOICES` or a short sentence naming the style's statistics. The right choice is computed:
    Eq. 8 applied to two different frames' features with one style, and each term compared across the frames."""
    picked = _choice(answer, dict(VIDEO_CACHE_CHOICES), (("style", "스타일"), ("statistic", "통계", "mean", "평균")))
    g = _gen(19)
    frames = torch.rand(2, 4, 6, 6, generator=g)  # two frames' features f(c): different
    style = torch.rand(1, 4, 5, 5, generator=g)
    c_mean, c_std = norms.calc_mean_std(frames)
    s_mean, s_std = norms.calc_mean_std(style.expand(2, -1, -1, -1))  # f(s), once per frame
    out = norms.adaptive_instance_norm(frames, style)
    same = {"a": torch.equal(frames[0], frames[1]), "b": torch.equal(s_mean[0], s_mean[1]) and
            torch.equal(s_std[0], s_std[1]), "c": torch.equal(c_mean[0], c_mean[1]), "d": torch.equal(out[0], out[1])}
    right = [k for k, v in same.items() if v]
    if picked in right or (picked == "keywords" and right == ["b"]):
        return _verdict(True, note=tr("mu(y) and sigma(y) of Eq. 8 depend on the style alone: one encoder pass "
                                      "for the style, then one per frame (Table 1's two columns)."))
    hints = {"a": tr("f(c) is the features of each frame: it changes with the frame"),
             "c": tr("the content statistics are taken over each frame's own features (Eqs. 5-6)"),
             "d": tr("the output is the stylized frame: a new one for every frame")}
    return _verdict(False, hints.get(picked or "", tr("which term of Eq. 8 does not involve the frame at all?")))


@_checked
def check_temporal_change(temporal_change: Callable[[Tensor], Tensor]) -> bool:
    """09: the mean absolute change between consecutive frames, ``[T - 1]`` for ``[T, 3, H, W]``, compared with
    :func:`adain_lesson.video.temporal_change` on fresh frames."""
    from ..video import temporal_change as ours

    frames = torch.rand(5, 3, 6, 7, generator=_gen(23))
    got, want = _tensor(_call(temporal_change, frames.clone())), ours(frames).double()
    if got.shape == want.shape and _close(got, want):
        return _verdict(True)
    if got.numel() == 1 and math.isclose(float(got.reshape(-1)[0]), float(want.mean()), rel_tol=1e-4):
        return _verdict(False, tr("one number per pair of frames: average over channels and pixels only "
                                  "(dim=(1, 2, 3))"))
    if got.shape == want.shape and _close(got, (frames[1:] - frames[:-1]).double().pow(2).mean(dim=(1, 2, 3))):
        return _verdict(False, tr("that is the squared change: take the absolute value"))
    if got.shape == want.shape and _close(got.abs(), (frames[1:] - frames[:-1]).double().mean(dim=(1, 2, 3)).abs()):
        return _verdict(False, tr("take the absolute value of the change before averaging"))
    _same_shape(got, want, tr(": one value per pair of consecutive frames"))
    return _verdict(False, tr("subtract each frame from the next, take |.|, and average over channels and pixels"))


@_checked
def check_smoothed_statistics(smooth: Callable[[Tensor, float], Tensor]) -> bool:
    """09: the exponential moving average of our flicker remedy, row 0 kept, then
    ``m_t = beta m_{t-1} + (1 - beta) x_t``: compared with a loop on fresh values, at two betas."""
    g = _gen(29)
    values = torch.rand(6, 3, generator=g, dtype=torch.float64)
    for beta in (0.8, 0.3):
        want = [values[0]]
        for x in values[1:]:
            want.append(beta * want[-1] + (1 - beta) * x)
        want_t = torch.stack(want)
        got = _tensor(_call(smooth, values.clone(), beta))
        _same_shape(got, want_t, tr(": one smoothed row per input row"))
        if not _close(got, want_t):
            swapped = [values[0]]
            for x in values[1:]:
                swapped.append((1 - beta) * swapped[-1] + beta * x)
            if _close(got, torch.stack(swapped)):
                return _verdict(False, tr("beta weighs the past: m_t = beta * m_(t-1) + (1 - beta) * x_t"))
            if _close(got, values.cumsum(0) / torch.arange(1, 7, dtype=torch.float64)[:, None]):
                return _verdict(False, tr("that is the running mean: an exponential average forgets old rows"))
            return _verdict(False, tr("start from row 0 as it is, then m_t = beta * m_(t-1) + (1 - beta) * x_t"))
    return _verdict(True, note=tr("With beta = 0.8 a change in the statistics takes about 1 / (1 - beta) = 5 frames "
                                  "to come through: that is the lag after a cut."))


#: Each notebook's checks (the notebook owners call them; ``tests/test_exercises.py`` feeds each one right,
#: wrong and unanswered inputs).
CHECKS = MappingProxyType({
    "00": ("check_smoke_mode", "check_image_tensor", "check_device"),
    "01": ("check_d_star", "check_optimal_value", "check_generator_loss"),
    "02": ("check_instance_norm", "check_adain", "check_cin_parameters"),
    "03": ("check_gram_matrix", "check_mean_std_loss", "check_optimization_cost"),
    "04": ("check_calc_mean_std", "check_alpha_zero", "check_relu4_1_shape"),
    "05": ("check_content_target", "check_learning_rate", "check_resized_size"),
    "06": ("check_style_weights", "check_bilinear_weights", "check_masked_adain", "check_color_preservation"),
    "07": ("check_ablation", "check_fig3_content_loss", "check_relative_difference"),
    "08": ("check_alpha_effect", "check_style_weights", "check_split_mask"),
    "09": ("check_table1_fps", "check_video_cache", "check_temporal_change", "check_smoothed_statistics"),
})
