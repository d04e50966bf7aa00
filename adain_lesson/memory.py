"""Peak memory: estimated before the heavy work, and an allocation failure as one line with a fix.

Style transfer's memory grows with the number of pixels: the VGG activations at full resolution (64
channels of float32 at relu1_x, 256 bytes per pixel per layer) dominate everything else. Each workload
here is a straight line, ``fixed + per_pixel * pixels``, fitted to the peak resident memory measured on
the CPU with random weights (``tests/test_memory.py`` re-measures it at two other sizes and checks the
estimate against it, allowing a stated margin), then raised by :data:`MARGIN`:

* ``"stylize"`` -- AdaIN inference (encoder to relu4_1, AdaIN, decoder), no gradients, per pixel of the
  content batch (or of the style, if larger); ``"stylize_grad"``, the same with autograd on (outside
  ``torch.no_grad``, every activation is kept).
* ``"gatys"`` -- the optimisation of Gatys et al.: forward and backward through VGG to relu5_1 on the image
  being optimised, plus L-BFGS's history.
* ``"train"`` -- one training step (two encoder passes and the decoder, with gradients, and Adam's state),
  per pixel of ``batch * crop * crop``.

The fitted numbers, and how they were measured, live in one place: :data:`WORKLOADS`.

:func:`check_fits` compares an estimate with what the device can give now (:func:`available`: the CPU's
``MemAvailable``, bounded by a cgroup limit and ``RLIMIT_AS``; CUDA's free memory) and refuses with the
number and the largest pixel count that fits. :func:`guard` turns an allocation failure anyway (the CPU's
``DefaultCPUAllocator: can't allocate memory``, ``torch.OutOfMemoryError`` on CUDA, ``MemoryError``)
into one :class:`~adain_lesson.errors.UserError` line that ends with a fix. The GPU numbers are the same
estimate (float32); mixed precision needs less, so the check stays on the safe side.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import torch

from .errors import UserError
from .i18n import tr

try:
    import resource
except ImportError:  # Windows: no RLIMIT_AS, no /proc
    resource = None

__all__ = ["MARGIN", "MODEL_BYTES", "WORKLOADS", "Workload", "available", "check_fits", "check_side", "estimate",
           "guard", "guarded", "is_out_of_memory"]

F = TypeVar("F", bound=Callable[..., Any])

#: The estimates are the measured line times this (allocator slack, other images, thread buffers).
MARGIN = 1.25


@dataclass(frozen=True)
class Workload:
    """``fixed`` bytes plus ``per_pixel`` bytes for each pixel (measured on the CPU, float32)."""

    fixed: int
    per_pixel: float


#: Measured as the peak RSS (``VmHWM``) minus the RSS just before the work, one thread, random weights:
#: stylize at 256 and 640 px (89 MB, 463 MB; repeated runs vary by up to 40 MB), gatys at 128 and 256 px
#: (223 MB, 516 MB, 3 L-BFGS evaluations), train at batch 2 x 64 and 128 px (110 MB, 264 MB, two steps); the
#: fixed parts are raised to cover the run-to-run spread.
WORKLOADS = {
    "stylize": Workload(fixed=20_000_000, per_pixel=1_100.0),
    # the same with autograd on (a notebook calling model.stylize outside torch.no_grad keeps every
    # activation for a backward pass): 206 MB and 773 MB at 256 and 512 px
    "stylize_grad": Workload(fixed=40_000_000, per_pixel=2_883.0),
    "gatys": Workload(fixed=150_000_000, per_pixel=5_967.0),
    "train": Workload(fixed=59_000_000, per_pixel=6_274.0),
}


#: What a command takes between a check made before the weights load and the work itself: the released VGG-19
#: (80 MB of float32) read whole and truncated, the decoder's 14 MB, the first images, the runtime settings and the
#: allocator's slack. Measured on the CPU with random weights (``stylize`` at 584 px): 110 MB of resident memory for
#: the model, 185 MB of virtual memory in all; a check made before the weights load reserves this much.
MODEL_BYTES = 250_000_000


def estimate(kind: str, pixels: int) -> int:
    """The estimated peak (bytes) of workload ``kind`` over ``pixels`` pixels (all images of a batch)."""
    w = WORKLOADS[kind]
    return int(MARGIN * (w.fixed + w.per_pixel * pixels))


def _fits(kind: str, budget: int) -> int:
    """The most pixels whose estimate stays within ``budget`` bytes (0 if none)."""
    w = WORKLOADS[kind]
    return max(0, int((budget / MARGIN - w.fixed) / w.per_pixel))


def _cpu_available() -> int | None:
    limits = []
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f if line.split()[1:]}
        if "MemAvailable" in info:
            limits.append(info["MemAvailable"])
    except (OSError, ValueError, IndexError):
        pass
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file, encoding="ascii") as f:
                limit = f.read().strip()
            with open(usage_file, encoding="ascii") as f:
                usage = int(f.read().strip())
        except (OSError, ValueError):
            continue
        if limit.isdigit() and int(limit) < 1 << 60:
            limits.append(max(0, int(limit) - usage))
        break
    soft, _ = resource.getrlimit(resource.RLIMIT_AS) if resource is not None else (None, None)
    if soft is not None and soft != resource.RLIM_INFINITY:
        try:
            with open("/proc/self/statm", encoding="ascii") as f:
                vm = int(f.read().split()[0]) * resource.getpagesize()
            limits.append(max(0, soft - vm))
        except (OSError, ValueError):
            pass
    return min(limits) if limits else None


def available(device: torch.device | str) -> int | None:
    """The bytes ``device`` can give this process now, or ``None`` where it cannot be told."""
    device = torch.device(device)
    if device.type == "cuda":
        try:
            free, _ = torch.cuda.mem_get_info(device)
        except (RuntimeError, AssertionError):
            return None
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    if device.type == "cpu":
        return _cpu_available()
    return None


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def check_fits(kind: str, pixels: int, device: torch.device | str, what: str,
               fix: Callable[[int], str]) -> None:
    """Refuse (one :class:`UserError` line) when ``what`` would need more memory than ``device`` has.

    ``pixels`` is the work's size (see :data:`WORKLOADS`); ``fix(max_pixels)`` phrases the way out for the
    caller's parameters, given the most pixels that fit (0 when nothing does). Where the free memory cannot
    be told (MPS, an unknown system), nothing is refused: :func:`guard` still catches a failure.
    """
    need = estimate(kind, pixels)
    free = available(device)
    if free is None or need <= free:
        return
    most = _fits(kind, int(free * 0.9))
    raise UserError(f"{what} needs about {_gb(need)} of memory, but {torch.device(device)} has {_gb(free)} free: "
                    f"{fix(most)}")


def check_side(kind: str, side: int, pixels_at: Callable[[int], int], device: torch.device | str, what: str,
               fix: Callable[[int], str], *, smallest: int = 16, reserve: int = 0,
               param: str | tuple[str, ...] | None = None) -> None:
    """:func:`check_fits` for work sized by one shorter side: ``pixels_at(s)`` is the work's pixel count at side
    ``s`` (every image that scales with it, rounded as the resize rounds). A refusal names, through ``fix(s)``,
    the largest side ``s`` (at least ``smallest``, else 0) whose own estimate passes this same check with the same
    free memory and 10% to spare, found by bisection on the estimator itself: a suggested size is never refused.
    ``reserve``: bytes that will be taken before the work starts (the model's weights, when the check runs before
    they load: :data:`MODEL_BYTES`), so that the later check at the work itself agrees. ``param`` names the
    caller's size parameter in the error."""
    need = estimate(kind, pixels_at(side))
    total = available(device)
    free = None if total is None else max(0, total - reserve)
    if free is None or need <= free:
        return
    budget = int(free * 0.9)
    lo, hi = smallest - 1, side  # estimate(lo) fits (or lo is below smallest), estimate(hi) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if estimate(kind, pixels_at(mid)) <= budget:
            lo = mid
        else:
            hi = mid
    best = lo if lo >= smallest and estimate(kind, pixels_at(lo)) <= budget else 0
    if reserve:
        raise UserError(tr("{what} needs about {need} of memory, but {device} has {free} free, {reserve} of which the "
                           "model's weights will take: {fix}", what=what, need=_gb(need), device=torch.device(device),
                           free=_gb(total), reserve=_gb(reserve), fix=fix(best)), param=param)
    raise UserError(tr("{what} needs about {need} of memory, but {device} has {free} free: {fix}", what=what,
                       need=_gb(need), device=torch.device(device), free=_gb(free), fix=fix(best)), param=param)


_OOM_TEXT = ("can't allocate memory", "out of memory", "not enough memory", "failed to allocate",
             "defaultcpuallocator")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is an allocation failure (CPU, CUDA or MPS), not another error."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and any(t in str(exc).lower() for t in _OOM_TEXT)


def guarded(what: str, fix: str) -> Callable[[F], F]:
    """A decorator: an allocation failure inside the function is ``UserError("<what> ran out of memory
    (...): <fix>")``, as :func:`guard` makes it (for a function whose device is known only inside)."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            with guard(what, None, fix):
                return fn(*args, **kwargs)

        return inner  # type: ignore[return-value]

    return wrap


@contextlib.contextmanager
def guard(what: str, device: torch.device | str | None, fix: str) -> Iterator[None]:
    """Turn an allocation failure inside the block into ``UserError("<what> ran out of memory on <device>
    (...): <fix>")``; other errors pass unchanged. CUDA's cache is emptied first, so the next try starts clean."""
    try:
        yield
    except (RuntimeError, MemoryError) as exc:
        if not is_out_of_memory(exc):
            raise
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            with contextlib.suppress(RuntimeError):
                torch.cuda.empty_cache()
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:140]
        where = f" on {torch.device(device)}" if device is not None else ""
        raise UserError(f"{what} ran out of memory{where} ({first}): {fix}") from None
