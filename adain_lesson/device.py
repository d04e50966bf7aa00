"""Devices: which one to run on, checked once, and how to time work on it.

- :func:`default_device` and :func:`resolve_device`: the one device resolver (CPU, ``cuda``, ``cuda:N``
  within the number of GPUs, Apple's MPS, ``None``/``"auto"`` for the best available);
- :func:`cpu_has_fast_bf16`: whether reduced precision pays on this CPU;
- :func:`synchronize`, :func:`seconds` (one synchronised call) and :func:`median_seconds` (warm-up, then the
  median of synchronised calls): the one timer, used by :mod:`adain_lesson.bench` (Table 1, the playground
  and the training benchmark) and the notebooks.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from .errors import UserError

__all__ = ["cpu_has_fast_bf16", "default_device", "median_seconds", "resolve_device", "seconds", "synchronize"]


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


def synchronize(device: torch.device | str) -> None:
    """Wait for ``device``'s queued work (CUDA, MPS); nothing to wait for on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def seconds(fn: Callable[[], object], device: torch.device | str) -> float:
    """The wall time of one call of ``fn()``, synchronising ``device`` before and after it so that the work
    it queued on a GPU is counted."""
    synchronize(device)
    t0 = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - t0


def median_seconds(fn: Callable[[], object], device: torch.device | str, runs: int = 10, warmup: int = 3) -> float:
    """The median wall time of ``fn()`` over ``runs`` timed calls after ``warmup`` untimed ones, in inference
    mode, synchronising ``device`` (CUDA, MPS) before and after each call so the GPU's work is counted."""
    if runs < 1 or warmup < 0:
        raise UserError(f"runs must be >= 1 and warmup >= 0, got runs={runs}, warmup={warmup}")
    device = torch.device(device)
    with torch.inference_mode():
        for _ in range(warmup):
            fn()
        times = [seconds(fn, device) for _ in range(runs)]
    return statistics.median(times)
