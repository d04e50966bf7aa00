"""Speed of AdaIN at test time (the paper's Table 1) and of the optimizations that lead it on each device.

``python -m adain_lesson bench`` times the feed-forward network of Fig. 2 (``T(c, s) = g(AdaIN(f(c), f(s)))``,
Eq. 10) over method x size x (with / without style encoding) x device and prints a table (and writes JSON):

- **naive**: the reference pipeline, written as pytorch-AdaIN's ``test.py`` does it: eager float32, NCHW,
  ``torch.no_grad``, the style encoded again for every content, no caching. Every row is timed
  interleaved with it, round by round in the same process, and shows the ratio ``naive / row``.
- each optimization alone (``inference_mode``, ``channels_last``, ``cudnn_benchmark``, ``bf16``, ``fp16``,
  ``compile``, ``cuda_graphs``), then ``best`` = :meth:`InferenceOptions.for_device` (what ``stylize``
  uses), and ``best_batch`` (many contents per style, per image).
- "without style encoding" rows reuse precomputed style statistics (:meth:`StyleTransfer.encode_style`);
  the naive column beside them still encodes the style (the reference cannot cache), as Table 1's
  parenthesised numbers include it.
- the fastest run too (``min ms/img``, ``speedup (min)``): on a machine shared with other work the
  median mixes quiet and busy moments, the minimum is the least disturbed estimate.
- the ceiling: the convolution FLOPs of the row divided by the device's measured matmul throughput in
  the row's precision; ``of ceiling`` = ceiling time / measured time.
- video (:func:`benchmark_video`, ``bench --video``): frames per second of a generated clip, model only (frames
  already in memory) and end to end (decode, stylize, encode: :func:`adain_lesson.video.stylize_video`), naive
  (float32 reference settings, the style encoded again for every frame, one frame at a time) against best (the
  device's winners, the style's statistics encoded once, frames batched as ``stylize`` batches them).
- parity of every row's output with the naive one: max |difference| (float32 rows: within 1e-5 relative)
  and PSNR (reduced precision: above 40 dB), peak = the naive output's range.

Medians of ``repeats`` runs after ``warmup`` runs, synchronised on CUDA. The paper's Table 1 numbers are
Pascal Titan X milliseconds. Rows that need CUDA are listed as not measured when no GPU is present.
"""

from __future__ import annotations

import copy
import datetime as _dt
import functools
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from .device import cpu_has_fast_bf16, median_seconds, resolve_device, seconds, synchronize
from .errors import UserError
from .files import atomic_write
from .i18n import tr
from .model import InferenceOptions, StyleTransfer, load_pretrained, reference_forward
from .playground import PlaygroundEngine, Settings
from .train import benchmark_training
from .video import default_batch_size, moving_clip, stylize_frames, stylize_video, write_clip
from .weights import weights_kind

__all__ = [
    "METHODS",
    "PAPER_TABLE1_MS",
    "SCHEMA",
    "BenchRow",
    "conv_flops",
    "format_table",
    "matmul_tflops",
    "plot_table1",
    "psnr",
    "reproduce_table1",
    "benchmark_playground",
    "benchmark_video",
    "format_video_table",
    "run_benchmark",
    "run_train_benchmark",
    "table1_timing",
    "time_stylization",
    "validate_report",
    "write_json",
]

SCHEMA = "adain-lesson-bench/1"
#: Table 1 of the paper, AdaIN ("Ours"), Pascal Titan X, milliseconds: (without, with style encoding).
PAPER_TABLE1_MS: dict[int, tuple[float, float]] = {256: (18.0, 27.0), 512: (65.0, 98.0)}
#: Every method the benchmark knows, in table order.
METHODS = (
    "naive", "inference_mode", "channels_last", "cudnn_benchmark", "bf16", "fp16", "compile", "cuda_graphs",
    "best", "best_batch",
)  # fmt: skip
#: Float32 rows must match the naive output within this relative tolerance; reduced precision rows by PSNR.
FP32_RTOL = 1e-5
MIN_PSNR_DB = 40.0


# ------------------------------------------------------------------------------------------------
# Table 1 in a notebook: a quick timing
# ------------------------------------------------------------------------------------------------


def time_stylization(
    model: StyleTransfer, sizes: Sequence[int] = (256, 512), runs: int = 10, warmup: int = 3, seed: int = 0
) -> list[dict]:
    """Seconds per stylization like Table 1: median of ``runs`` timed runs after ``warmup`` untimed ones,
    synchronising the GPU around each run. For each size S, content and style are S x S; "without style
    encoding" reuses precomputed style statistics, "with" encodes the style image every time.

    This is the notebooks' quick look; ``python -m adain_lesson bench`` (:func:`run_benchmark`) is the full
    measurement. Returns one dict per size: ``size``, ``without_style_s``, ``with_style_s``,
    ``paper_without_s``, ``paper_with_s`` (seconds, from :data:`PAPER_TABLE1_MS`; None for sizes the paper
    did not list), ``device``.
    """
    device = model.device
    g = torch.Generator().manual_seed(seed)
    rows = []
    for size in sizes:
        content = torch.rand(1, 3, size, size, generator=g).to(device)
        style = torch.rand(1, 3, size, size, generator=g).to(device)
        with torch.inference_mode():
            stats = model.encode_style(style)
        without = median_seconds(lambda c=content, st=stats: model.stylize(c, st), device, runs, warmup)
        with_enc = median_seconds(lambda c=content, s=style: model.stylize(c, s), device, runs, warmup)
        paper = [ms / 1000.0 for ms in PAPER_TABLE1_MS[size]] if size in PAPER_TABLE1_MS else (None, None)
        rows.append({"size": size, "without_style_s": without, "with_style_s": with_enc,
                     "paper_without_s": paper[0], "paper_with_s": paper[1], "device": str(device)})
    return rows


def table1_timing(model: StyleTransfer, gatys_vgg: nn.Module, sizes: Sequence[int] = (256, 512), *, runs: int = 10,
                  warmup: int = 3, gatys_steps: int = 20, seed: int = 0) -> list[dict]:
    """Table 1's rows on this device: AdaIN with and without the style's encoding (:func:`time_stylization`),
    and Gatys et al. (L-BFGS, :func:`adain_lesson.gatys.optimize_image`) timed over ``gatys_steps`` iterations
    after a one-step warm-up and scaled to 500 iterations, the paper's count (Section 7.1, footnote 1: "We run
    500 iterations of [16] using Johnson's public implementation"). Gatys et al.'s time excludes the style's
    encoding, as does ``paper_gatys_s`` (Table 1: 14.17 s and 46.75 s; with it, 14.19 s and 46.79 s).

    One dict per size: the keys of :func:`time_stylization` plus ``gatys_500_s``, ``gatys_steps_timed``
    and ``paper_gatys_s`` (None for sizes the paper did not list).
    """
    from .gatys import PAPER_TABLE1_GATYS as PAPER_GATYS
    from .gatys import optimize_image

    if gatys_steps < 1:
        raise UserError(f"gatys_steps must be at least 1, got {gatys_steps}", param="gatys_steps")
    rows = time_stylization(model, sizes, runs=runs, warmup=warmup, seed=seed)
    g = torch.Generator().manual_seed(seed)
    device = model.device
    for row in rows:
        size = row["size"]
        c = torch.rand(3, size, size, generator=g).to(device)
        s = torch.rand(3, size, size, generator=g).to(device)
        optimize_image(gatys_vgg, c, s, steps=1)  # warm-up (a GPU also picks its algorithms)
        run = optimize_image(gatys_vgg, c, s, steps=gatys_steps)
        row.update(gatys_500_s=run.seconds / run.steps * 500, gatys_steps_timed=run.steps,
                   paper_gatys_s=PAPER_GATYS.get(size))
    return rows


def plot_table1(rows: Sequence[dict], ax=None, *, random_weights: bool):
    """Table 1 as a bar chart (seconds per image, log scale): ours and the paper's, for AdaIN without and
    with the style's encoding and for Gatys et al. (500 iterations). Says "random weights" in the title
    when ``random_weights`` (the timing of random weights is that of the same network, but at smoke sizes
    it is not comparable with the paper's)."""
    import matplotlib.pyplot as plt
    import numpy as np

    if ax is None:
        fig, ax = plt.subplots(figsize=(9, 4.0))
    else:
        fig = ax.figure
    labels, ours, paper = [], [], []
    for r in rows:
        for key, pkey, name in (("without_style_s", "paper_without_s", "AdaIN"),
                                ("with_style_s", "paper_with_s", "AdaIN + style enc."),
                                ("gatys_500_s", "paper_gatys_s", "Gatys et al. 500 it.")):
            labels.append(f"{name}\n{r['size']} px")
            ours.append(r[key])
            paper.append(r[pkey] if r.get(pkey) is not None else np.nan)
    x = np.arange(len(labels))
    ax.bar(x - 0.2, ours, 0.4, label=f"ours ({rows[0]['device'] if rows else ''})")
    ax.bar(x + 0.2, paper, 0.4, label="the paper (Pascal Titan X)")
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels(labels, fontsize=8)
    ax.set_ylabel("seconds per image", fontsize=10)
    ax.legend(fontsize=8)
    ax.set_title("Table 1: speed" + (" (random weights)" if random_weights else ""), fontsize=10)
    fig.tight_layout()
    return fig


#: Table 1's sizes and run counts per mode (smoke: tiny, a demonstration of the mechanics).
TABLE1_FULL = {"sizes": (256, 512), "runs": 10, "warmup": 3, "gatys_steps": 20}
TABLE1_SMOKE = {"sizes": (32,), "runs": 2, "warmup": 1, "gatys_steps": 1}


def reproduce_table1(model: StyleTransfer, gatys_vgg: nn.Module, out_dir: str | os.PathLike, *,
                     smoke: bool) -> tuple[list[Path], list[str]]:
    """Table 1 end to end for ``python -m adain_lesson figures --fig table1``: :func:`table1_timing` at the
    paper's sizes (smoke: tiny sizes), written as ``table1_speed.png`` (:func:`plot_table1`), ``.json`` and
    ``.csv``. Returns the paths and the lines to print; orderings are "not meaningful in smoke mode"."""
    from .figures import save_plot

    cfg = TABLE1_SMOKE if smoke else TABLE1_FULL
    rows = table1_timing(model, gatys_vgg, cfg["sizes"], runs=cfg["runs"], warmup=cfg["warmup"],
                         gatys_steps=cfg["gatys_steps"])
    lines = []
    for r in rows:
        lines.append(f"Table 1 {r['size']} px: AdaIN {r['without_style_s']:.4f} s ({r['with_style_s']:.4f} s with "
                     f"style encoding), Gatys et al. 500 it. {r['gatys_500_s']:.2f} s (from {r['gatys_steps_timed']} "
                     f"timed iterations) on {r['device']}")
    if smoke:
        lines.append("Table 1: not meaningful in smoke mode (tiny sizes, a busy CPU): the mechanics only")
    numbers = {"rows": rows, "weights": weights_kind(model), "smoke": smoke,
               "settings": dict(cfg, sizes=list(cfg["sizes"]))}
    fig = plot_table1(rows, random_weights=bool(model.random_weights))
    return save_plot(fig, numbers, out_dir, "table1_speed", rows), lines


# ------------------------------------------------------------------------------------------------
# The reference pipeline and the measures
# ------------------------------------------------------------------------------------------------


def psnr(output: Tensor, reference: Tensor) -> float:
    """Peak signal-to-noise ratio in dB with the peak = the reference's range (max - min); inf if equal."""
    ref = reference.detach().float()
    mse = float(((output.detach().float() - ref) ** 2).mean())
    peak = float(ref.max() - ref.min()) or 1.0
    return math.inf if mse == 0.0 else 10.0 * math.log10(peak * peak / mse)


def _conv_out(size: int, k: int, s: int, p: int, d: int = 1) -> int:
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def conv_flops(module: nn.Module, shape: Sequence[int]) -> tuple[int, tuple[int, int, int, int]]:
    """Convolution FLOPs (2 per multiply-add) of a ``Sequential`` of the encoder/decoder kinds on an input
    of ``shape`` ``[N, C, H, W]``, and the output shape. Shapes are propagated analytically (no compute)."""
    n, c, h, w = (int(x) for x in shape)
    flops = 0
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            ph, pw = m.padding if isinstance(m.padding, tuple) else (0, 0)
            h2 = _conv_out(h, kh, m.stride[0], ph, m.dilation[0])
            w2 = _conv_out(w, kw, m.stride[1], pw, m.dilation[1])
            flops += 2 * n * m.out_channels * h2 * w2 * (m.in_channels // m.groups) * kh * kw
            c, h, w = m.out_channels, h2, w2
        elif isinstance(m, nn.ReflectionPad2d):
            left, right, top, bottom = m.padding
            h, w = h + top + bottom, w + left + right
        elif isinstance(m, nn.MaxPool2d):
            k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
            s = m.stride if isinstance(m.stride, int) else m.stride[0]
            rnd = math.ceil if m.ceil_mode else math.floor
            h, w = rnd((h - k) / s) + 1, rnd((w - k) / s) + 1
        elif isinstance(m, nn.Upsample):
            f = int(m.scale_factor) if m.scale_factor is not None else 1
            h, w = h * f, w * f
    return flops, (n, c, h, w)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def matmul_tflops(device: torch.device, dtype: torch.dtype, n: int | None = None, repeats: int = 5) -> float:
    """Measured dense matmul throughput (TFLOP/s) of ``device`` in ``dtype``: the best of ``repeats``."""
    n = n or (8192 if device.type == "cuda" else 2048)
    a = torch.randn(n, n, device=device).to(dtype)
    b = torch.randn(n, n, device=device).to(dtype)
    with torch.inference_mode():
        for _ in range(2):
            a @ b
        synchronize(device)
        times = [seconds(functools.partial(torch.matmul, a, b), device) for _ in range(repeats)]
    return 2.0 * n**3 / min(times) / 1e12  # the best run: a peak, robust to other load on the machine


# ------------------------------------------------------------------------------------------------
# Methods: each builds a callable stylize(content, style_or_stats) on its own copy of the model
# ------------------------------------------------------------------------------------------------


@dataclass
class _Method:
    name: str
    describe: str
    precision: str  # "float32", "bfloat16" or "float16": for the ceiling and the parity rule
    options: InferenceOptions | None = None  # None: the naive reference
    batch: int = 1
    graphs: bool = False
    skip: str | None = None


def _methods(device: torch.device, names: Sequence[str], batch: int) -> list[_Method]:
    cuda = device.type == "cuda"
    best = InferenceOptions.for_device(device, "auto")
    best_prec = best.autocast or "float32"
    no_cuda = "needs CUDA: not measured on this device"
    out = {
        "naive": _Method("naive", "reference test.py: fp32, NCHW, no_grad, style encoded each time", "float32"),
        "inference_mode": _Method("inference_mode", "package path under torch.inference_mode", "float32",
                                  InferenceOptions()),
        "channels_last": _Method("channels_last", "NHWC weights and activations", "float32",
                                 InferenceOptions(channels_last=True)),
        "cudnn_benchmark": _Method("cudnn_benchmark", "cuDNN autotuning per shape", "float32",
                                   InferenceOptions(cudnn_benchmark=True), skip=None if cuda else no_cuda),
        "bf16": _Method("bf16", "bfloat16 autocast", "bfloat16", InferenceOptions(autocast="bfloat16"),
                        skip=None if cuda or (device.type == "cpu" and cpu_has_fast_bf16())
                        else "this CPU has no native bf16 (AVX512-BF16/AMX): emulated, slower than fp32"),
        "fp16": _Method("fp16", "float16 autocast", "float16", InferenceOptions(autocast="float16"),
                        skip=None if cuda else no_cuda),
        "compile": _Method("compile", "torch.compile of the best settings", best_prec, best.with_(compile=True)),
        "cuda_graphs": _Method("cuda_graphs", "CUDA graph replay of the best settings", best_prec, best,
                               graphs=True, skip=None if cuda else no_cuda),
        "best": _Method("best", f"InferenceOptions.for_device: {_describe(best)}", best_prec, best),
        "best_batch": _Method("best_batch", f"best, {batch} contents per style (per image)", best_prec, best,
                              batch=batch),
    }
    if not hasattr(torch, "compile"):
        out["compile"].skip = "torch.compile is not available in this PyTorch"
    unknown = [n for n in names if n not in out]
    if unknown:
        raise UserError(f"unknown bench method(s) {', '.join(unknown)}: choose from {', '.join(METHODS)}")
    return [out[n] for n in names]


def _describe(opts: InferenceOptions) -> str:
    parts = [k for k in ("channels_last", "cudnn_benchmark", "compile") if getattr(opts, k)]
    if opts.autocast:
        parts.append(opts.autocast)
    return " + ".join(parts) or "reference settings"


def _build(method: _Method, base: StyleTransfer, content: Tensor, style: Tensor, cached: bool) -> Callable[[], Tensor]:
    """A no-argument callable running ``method`` once on these inputs (style stats cached if ``cached``)."""
    if method.options is None:  # the naive reference, on the unoptimized model's modules
        vgg, dec = base.encoder.body, base.decoder
        return lambda: reference_forward(vgg, dec, content, style)
    model = copy.deepcopy(base).optimize(method.options)
    with torch.inference_mode():
        target = model.encode_style(style) if cached else style
    if not method.graphs:
        def run() -> Tensor:
            with torch.inference_mode():
                return model.stylize(content, target)
        return run
    # CUDA graphs: warm up on a side stream, capture once, replay with the same (static) input tensors.
    static_c = content.clone()
    stream = torch.cuda.Stream(device=content.device)
    stream.wait_stream(torch.cuda.current_stream(content.device))
    with torch.inference_mode():
        with torch.cuda.stream(stream):
            for _ in range(3):
                model.stylize(static_c, target)
        torch.cuda.current_stream(content.device).wait_stream(stream)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_out = model.stylize(static_c, target)

    def replay() -> Tensor:
        graph.replay()
        return static_out

    return replay


@dataclass
class BenchRow:
    """One line of the table (one method at one size, mode and device). Times in milliseconds."""

    device: str
    method: str
    describe: str
    size: int
    style_encoding: bool
    batch: int
    precision: str
    median_ms: float | None = None  # one call (the whole batch)
    ms_per_image: float | None = None
    images_per_s: float | None = None
    naive_ms: float | None = None  # the naive reference, one image, same rounds
    speedup: float | None = None  # naive_ms / ms_per_image
    min_ms_per_image: float | None = None  # the fastest run: least disturbed by other load on the machine
    speedup_min: float | None = None  # naive's fastest run / this row's fastest run (per image)
    gflop_per_image: float | None = None
    ceiling_ms: float | None = None  # per image
    of_ceiling: float | None = None  # ceiling_ms / ms_per_image
    max_abs_diff: float | None = None
    psnr_db: float | None = None  # inf (null in JSON) when identical
    parity_ok: bool | None = None
    runs_ms: list[float] = field(default_factory=list)
    setup_s: float | None = None  # building (and compiling / capturing) the method
    skipped: str | None = None


def _parity(out: Tensor, ref: Tensor, precision: str) -> tuple[float, float, bool]:
    diff = float((out.float() - ref.float()).abs().max())
    db = psnr(out, ref)
    if precision == "float32":
        ok = diff <= FP32_RTOL * max(1.0, float(ref.abs().max()))
    else:
        ok = db > MIN_PSNR_DB
    return diff, db, ok


def _bench_case(
    base: StyleTransfer,
    device: torch.device,
    methods: list[_Method],
    size: int,
    style_encoding: bool,
    repeats: int,
    warmup: int,
    peaks: dict[str, float],
    seed: int,
    log: Callable[[str], None],
) -> list[BenchRow]:
    g = torch.Generator().manual_seed(seed + size)
    max_batch = max(m.batch for m in methods)
    contents = torch.rand(max_batch, 3, size, size, generator=g).to(device)
    style = torch.rand(1, 3, size, size, generator=g).to(device)
    one = contents[:1]
    enc_flops, feat_shape = conv_flops(base.encoder.body, (1, 3, size, size))
    dec_flops, _ = conv_flops(base.decoder, feat_shape)
    ref = reference_forward(base.encoder.body, base.decoder, one, style)

    rows: list[BenchRow] = []
    runners: list[tuple[BenchRow, Callable[[], Tensor]]] = []
    for m in methods:
        flops = enc_flops + dec_flops + (enc_flops if (style_encoding or m.options is None) else 0) / m.batch
        row = BenchRow(str(device), m.name, m.describe, size, style_encoding, m.batch, m.precision,
                       gflop_per_image=flops / 1e9)
        rows.append(row)
        if m.skip:
            row.skipped = m.skip
            continue
        t0 = time.perf_counter()
        try:
            fn = _build(m, base, contents[: m.batch], style, cached=not style_encoding)
            for _ in range(warmup):
                out = fn()
            synchronize(device)
        except Exception as exc:  # noqa: BLE001 - an optimization that fails here is reported, not fatal
            row.skipped = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
            continue
        row.setup_s = time.perf_counter() - t0
        with torch.inference_mode():
            out = fn()[:1, :, :size, :size]
        row.max_abs_diff, row.psnr_db, row.parity_ok = _parity(out, ref, m.precision)
        runners.append((row, fn))

    naive_row = next((r for r, _ in runners if r.method == "naive"), None)
    for _ in range(repeats):  # interleaved rounds: every method sees the same machine load
        for row, fn in runners:
            row.runs_ms.append(seconds(fn, device) * 1e3)
    for row, _ in runners:
        row.median_ms = statistics.median(row.runs_ms)
        row.ms_per_image = row.median_ms / row.batch
        row.min_ms_per_image = min(row.runs_ms) / row.batch
        row.images_per_s = 1e3 / row.ms_per_image
        peak = peaks.get(row.precision)
        if peak:
            row.ceiling_ms = row.gflop_per_image * 1e9 / (peak * 1e12) * 1e3
            row.of_ceiling = row.ceiling_ms / row.ms_per_image
    if naive_row is not None:
        for row in rows:
            if row.ms_per_image is not None:
                row.naive_ms = naive_row.median_ms
                row.speedup = naive_row.median_ms / row.ms_per_image
                row.speedup_min = min(naive_row.runs_ms) / row.min_ms_per_image
    for row in rows:
        mode = "with style" if style_encoding else "cached style"
        if row.skipped:
            log(f"  {row.device} {size}px {mode:12s} {row.method:15s} skipped: {row.skipped}")
        else:
            log(f"  {row.device} {size}px {mode:12s} {row.method:15s} {row.ms_per_image:9.1f} ms/img "
                f"x{row.speedup or float('nan'):.2f}")
    return rows


# ------------------------------------------------------------------------------------------------
# The whole run
# ------------------------------------------------------------------------------------------------


def run_benchmark(
    devices: Sequence[str | torch.device] | None = None,
    sizes: Sequence[int] = (256, 512, 1024),
    methods: Sequence[str] | None = None,
    *,
    repeats: int | None = None,
    warmup: int | None = None,
    batch: int = 8,
    modes: Sequence[bool] = (True, False),
    quick: bool = False,
    seed: int = 0,
    threads: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Run the benchmark and return the report (a JSON-ready dict; see :data:`SCHEMA`, :func:`validate_report`).

    ``devices``: default CPU plus CUDA when present. ``methods``: default all but ``compile`` (it costs
    a slow compilation per shape and mode; name it to include it). ``modes``: True =
    with style encoding, False = cached style statistics. ``quick``: 64 px, 2 runs, batch 2, a smoke test.
    ``threads``: CPU threads for the run (``torch.set_num_threads``, restored afterwards; default: as set).
    Random weights: speed does not depend on them, and the parity checks hold for any weights.
    """
    if threads is not None and threads < 1:
        raise UserError(f"threads must be >= 1, got {threads}", param="threads")
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        return _run_benchmark(devices, sizes, methods, repeats, warmup, batch, modes, quick, seed, log)
    finally:
        torch.set_num_threads(previous)


def _run_benchmark(devices, sizes, methods, repeats, warmup, batch, modes, quick, seed, log) -> dict:  # noqa: ANN001
    log = log or (lambda _msg: None)
    if quick:
        sizes, repeats, warmup, batch = (64,), repeats or 2, 1 if warmup is None else warmup, min(batch, 2)
    if not sizes or any(int(s) < 16 for s in sizes):
        raise UserError(f"sizes must be at least 16 px (the encoder downsamples by 8), got {list(sizes)}")
    if batch < 1:
        raise UserError(f"batch must be >= 1, got {batch}", param="batch")
    devs = [resolve_device(d) for d in (devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]))]
    report: dict = {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "host": {"machine": platform.machine(), "processor": platform.processor(), "cpu_count": os.cpu_count(),
                 "torch_threads": torch.get_num_threads(), "cpu_fast_bf16": cpu_has_fast_bf16(),
                 "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None},
        "settings": {"sizes": [int(s) for s in sizes], "batch": batch, "quick": quick, "seed": seed,
                     "modes": ["with style encoding" if m else "cached style" for m in modes]},
        "paper_table1_ms": {str(k): {"without_style_encoding": v[0], "with_style_encoding": v[1]}
                            for k, v in PAPER_TABLE1_MS.items()},
        "devices": [],
        "rows": [],
        "notes": [],
    }
    if not any(d.type == "cuda" for d in devs):
        report["notes"].append("GPU: not measured (no CUDA device in this run); the CUDA-only rows are skipped.")
    base_cpu = load_pretrained("random", "cpu")
    for dev in devs:
        cuda = dev.type == "cuda"
        reps = repeats or (30 if cuda else 5)
        warm = warmup if warmup is not None else (5 if cuda else 2)
        names = list(methods) if methods else [m for m in METHODS if m != "compile"]
        if "naive" not in names:
            names.insert(0, "naive")
        log(f"{dev}: measuring matmul throughput")
        precisions = ["float32"] + (["float16", "bfloat16"] if cuda else ["bfloat16"] if cpu_has_fast_bf16() else [])
        peaks = {p: matmul_tflops(dev, getattr(torch, p), n=512 if quick else None) for p in precisions}
        name = torch.cuda.get_device_name(dev) if cuda else _cpu_name()
        report["devices"].append({"device": str(dev), "name": name, "repeats": reps, "warmup": warm,
                                  "matmul_tflops": peaks})
        base = copy.deepcopy(base_cpu).to(dev)
        for size in sizes:
            for mode in modes:
                for prec in peaks:  # the best throughput seen so far: a ceiling robust to changing load
                    peaks[prec] = max(peaks[prec], matmul_tflops(dev, getattr(torch, prec), n=512 if quick else None))
                rows = _bench_case(base, dev, _methods(dev, names, batch), int(size), bool(mode), reps, warm,
                                   peaks, seed, log)
                report["rows"].extend(asdict(r) for r in rows)
    bad = [f"{r['device']} {r['method']} {r['size']}px" for r in report["rows"] if r["parity_ok"] is False]
    report["parity_failures"] = bad
    return report


def benchmark_playground(
    device: str | torch.device | None = None,
    sizes: tuple[int, ...] = (256, 512),
    presets: tuple[str, ...] = ("fp32", "auto"),
    repeats: int = 5,
    log: Callable[[str], None] | None = None,
) -> list[dict]:
    """Time the playground's two kinds of update with :meth:`PlaygroundEngine.render`, as a user meets them.

    - ``fresh``: a new content and a new style: two encoder passes and the decoder (and the images drawn);
    - ``alpha``: an alpha change with both cached (Eq. 14): the decoder only.

    For each ``preset`` of :meth:`StyleTransfer.optimize` (``"fp32"``: the float32 winners, the lesson
    model's default; ``"auto"``: reduced precision where the device runs it natively, as notebook 08 uses)
    one model with random weights of the released layout (the speed does not depend on the weights). The
    presets are timed interleaved, round by round, after one warm-up render each; returns one row per
    (size, preset, update) with the median and fastest time in ms and the median's ratio to ``fp32``.
    """
    if repeats < 1:
        raise UserError(f"repeats must be at least 1, got {repeats}")
    say = log or (lambda _msg: None)
    models = {}
    for preset in presets:
        models[preset] = load_pretrained("random", device).optimize(preset)
    times: dict[tuple[int, str, str], list[float]] = {}
    for size in sizes:
        for model in models.values():  # warm-up: the first call pays for allocation and autotuning
            PlaygroundEngine(model).render(Settings(content="sample:house", styles=("sample:mosaic",), size=size))
        for rnd in range(repeats):
            for preset, model in models.items():
                engine = PlaygroundEngine(model)
                base = Settings(content="sample:house", styles=("sample:mosaic",), weights=(1.0,), size=size)
                alpha = Settings(**{**base.__dict__, "alpha": 0.5})
                for update, settings in (("fresh", base), ("alpha", alpha)):
                    run = functools.partial(engine.render, settings)
                    times.setdefault((size, preset, update), []).append(seconds(run, model.device))
            say(f"playground {size} px: round {rnd + 1}/{repeats}")
    rows = []
    for (size, preset, update), runs in times.items():
        median = statistics.median(runs) * 1e3
        ref = times.get((size, "fp32", update))
        ref_median = statistics.median(ref) * 1e3 if ref else None
        rows.append({"size": size, "preset": preset, "update": update, "median_ms": median, "min_ms": min(runs) * 1e3,
                     "speedup_vs_fp32": (ref_median / median) if ref_median else None,
                     "device": str(models[preset].device)})
    return rows


#: The paper's frame rates, from its speed analysis: "Excluding the time for style encoding, our algorithm runs at
#: 56 and 15 FPS for 256 x 256 and 512 x 512 images respectively" (Pascal Titan X).
PAPER_FPS = {256: 56, 512: 15}


def benchmark_video(
    devices: Sequence[str | torch.device] | None = None,
    sizes: Sequence[int] = (256, 512),
    *,
    frames: int | None = None,
    repeats: int | None = None,
    log: Callable[[str], None] | None = None,
) -> list[dict]:
    """Frames per second on a generated moving clip of ``frames`` square ``size`` frames (H.264, in a temporary
    folder), for each device (default: CPU, and CUDA when present) and size: ``model`` (the frames already
    decoded, in memory: what Table 1 times) and ``end_to_end`` (:func:`adain_lesson.video.stylize_video`:
    decode, stylize, encode), ``naive`` against ``best`` timed round by round in the same process. Random
    weights of the released layout (the speed does not depend on them). One row per (device, size, method)."""
    import tempfile

    say = log or (lambda _msg: None)
    devs = [resolve_device(d) for d in (devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"]))]
    rows = []
    base = load_pretrained("random", "cpu")
    with tempfile.TemporaryDirectory(prefix="adain-bench-video-") as tmp:
        for dev in devs:
            cuda = dev.type == "cuda"
            n_frames = frames or (64 if cuda else 8)
            reps = repeats or (3 if cuda else 2)
            naive = copy.deepcopy(base).to(dev).optimize("none")
            best = copy.deepcopy(base).to(dev).optimize("auto")
            for size in sizes:
                clip = moving_clip(n_frames, (size, size), speed=2.0)
                source = write_clip(clip, Path(tmp) / f"clip{size}.mp4", 30)
                style = moving_clip(1, (size, size), content="mountains")[0]
                with torch.inference_mode():
                    stats = best.encode_style(style)
                batch = default_batch_size(dev, size * size)
                setups = {"naive": (naive, style, 1), "best": (best, stats, batch)}
                runs: dict[tuple[str, str], list[float]] = {}

                on_device = clip.to(dev)

                def model_only(model, styles, n, frames_=on_device):  # noqa: ANN001
                    for i in range(0, frames_.shape[0], n):
                        stylize_frames(model, frames_[i : i + n], styles)

                def end_to_end(model, styles, n, src=source, name=f"out{size}.mp4"):  # noqa: ANN001
                    stylize_video(model, src, Path(tmp) / name, styles, size=0, batch_size=n, progress=False)

                for model, styles, n in setups.values():  # warm-up: allocation, autotuning
                    model_only(model, styles, n)
                for rnd in range(reps):
                    for method, (model, styles, n) in setups.items():
                        runs.setdefault((method, "model"), []).append(
                            seconds(functools.partial(model_only, model, styles, n), dev))
                        runs.setdefault((method, "end_to_end"), []).append(
                            seconds(functools.partial(end_to_end, model, styles, n), dev))
                    say(f"video {dev} {size} px: round {rnd + 1}/{reps}")
                for method, (model, _styles, n) in setups.items():
                    model_s = statistics.median(runs[(method, "model")])
                    e2e_s = statistics.median(runs[(method, "end_to_end")])
                    rows.append({
                        "device": str(dev), "size": int(size), "method": method, "frames": n_frames, "batch": n,
                        "settings": _describe(model.options), "model_fps": n_frames / model_s,
                        "end_to_end_fps": n_frames / e2e_s, "model_ms_per_frame": 1e3 * model_s / n_frames,
                        "end_to_end_ms_per_frame": 1e3 * e2e_s / n_frames, "paper_fps": PAPER_FPS.get(int(size)),
                        "repeats": reps,
                    })
            for row in rows:
                ref = next((r for r in rows if r["device"] == row["device"] and r["size"] == row["size"]
                            and r["method"] == "naive"), None)
                if ref is not None:
                    row["speedup_model"] = row["model_fps"] / ref["model_fps"]
                    row["speedup_end_to_end"] = row["end_to_end_fps"] / ref["end_to_end_fps"]
    if not any(d.type == "cuda" for d in devs):
        rows.append({"device": "cuda", "skipped": tr("not yet run: no CUDA device in this run")})
    return rows


def format_video_table(rows: Sequence[dict]) -> str:
    """The rows of :func:`benchmark_video` as a Markdown table, with the paper's frame rates beside them."""
    lines = [tr("| device | size | method | batch | model FPS | end-to-end FPS | model speedup | end-to-end speedup "
                "| paper (Titan X, model) |"), "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("skipped"):
            lines.append(f"| {r['device']} | | | | {r['skipped']} | | | | |")
            continue
        paper = f"{r['paper_fps']} FPS" if r.get("paper_fps") else "-"
        lines.append(f"| {r['device']} | {r['size']} | {r['method']} | {r['batch']} | {r['model_fps']:.2f} "
                     f"| {r['end_to_end_fps']:.2f} | {_fmt(r.get('speedup_model'), '.2f')}x "
                     f"| {_fmt(r.get('speedup_end_to_end'), '.2f')}x | {paper} |")
    return "\n".join(lines)


def run_train_benchmark(steps: int, device: str | torch.device | None = None, log: Callable[[str], None] | None = None
                        ) -> dict:
    """Training speed, naive loop vs tuned, via ``adain_lesson.train.benchmark_training`` (batch 8, 256 px)."""
    log = log or (lambda _msg: None)
    log(f"training: naive loop, {steps} steps")
    naive = benchmark_training(steps, False, device)
    log(f"training: tuned loop, {steps} steps")
    tuned = benchmark_training(steps, True, device)
    ratio = tuned["it_per_s"] / naive["it_per_s"] if naive.get("it_per_s") else None
    return {"steps": steps, "naive": naive, "tuned": tuned, "speedup": ratio}


# ------------------------------------------------------------------------------------------------
# Output
# ------------------------------------------------------------------------------------------------

_ROW_KEYS = {
    "device": str, "method": str, "size": int, "style_encoding": bool, "batch": int, "precision": str,
    "runs_ms": list,
}  # fmt: skip
_NUM_KEYS = ("median_ms", "ms_per_image", "images_per_s", "naive_ms", "speedup", "min_ms_per_image", "speedup_min",
             "gflop_per_image", "ceiling_ms", "of_ceiling", "max_abs_diff", "psnr_db")


def validate_report(report: dict) -> None:
    """Raise ``ValueError`` naming the first problem if ``report`` is not a well-formed bench report."""
    for key in ("schema", "created", "torch", "host", "settings", "devices", "rows", "notes", "parity_failures"):
        if key not in report:
            raise ValueError(f"report lacks {key!r}")
    if report["schema"] != SCHEMA:
        raise ValueError(f"schema is {report['schema']!r}, expected {SCHEMA!r}")
    if not report["rows"]:
        raise ValueError("report has no rows")
    for i, row in enumerate(report["rows"]):
        for key, kind in _ROW_KEYS.items():
            if not isinstance(row.get(key), kind):
                raise ValueError(f"row {i}: {key!r} should be {kind.__name__}, got {row.get(key)!r}")
        if row["method"] not in METHODS:
            raise ValueError(f"row {i}: unknown method {row['method']!r}")
        for key in _NUM_KEYS:
            value = row.get(key)
            if value is not None and not isinstance(value, (int, float)):
                raise ValueError(f"row {i}: {key!r} should be a number or null, got {value!r}")
        if row.get("skipped") is None:
            if row["median_ms"] is None or row["median_ms"] <= 0 or not row["runs_ms"]:
                raise ValueError(f"row {i}: a measured row needs median_ms > 0 and runs_ms")
            if not isinstance(row.get("parity_ok"), bool):
                raise ValueError(f"row {i}: a measured row needs parity_ok")
        elif not isinstance(row["skipped"], str):
            raise ValueError(f"row {i}: skipped should be a reason string")


def _json_safe(obj: object) -> object:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # JSON has no infinity: an identical output (PSNR inf) shows as max_abs_diff 0
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj


def write_json(report: dict, path: str | os.PathLike) -> Path:
    """Write ``report`` as JSON atomically (a temporary file in the same folder, then ``os.replace``)."""
    path = Path(path)
    with atomic_write(path, "w", encoding="utf-8") as fh:
        json.dump(_json_safe(report), fh, indent=1)
        fh.write("\n")
    return path


def _fmt(value: float | None, spec: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return format(value, spec)


def format_table(report: dict) -> str:
    """The report as a Markdown table (plus the paper's Table 1, the matmul peaks, skips and notes)."""
    lines = []
    for d in report["devices"]:
        peaks = ", ".join(f"{k} {v:.2f}" for k, v in d["matmul_tflops"].items())
        lines.append(f"device {d['device']} ({d['name']}): matmul TFLOP/s {peaks}; "
                     f"median of {d['repeats']} runs after {d['warmup']} warm-up")
    load = report["host"].get("load_average")
    if load:
        lines.append(f"host: {report['host']['cpu_count']} CPUs, {report['host']['torch_threads']} torch threads, "
                     f"load average at start {load[0]:.1f} (other processes share the machine when > 0.5)")
    lines.append("")
    head = ("| device | size | style enc. | method | batch | ms/img | naive ms | speedup | min ms/img | speedup (min) "
            "| img/s | GFLOP/img | ceiling ms | of ceiling | parity |")
    lines += [head, "|" + "|".join("---" for _ in range(head.count("|") - 1)) + "|"]
    skipped = []
    for r in report["rows"]:
        if r.get("skipped"):
            skipped.append(f"{r['device']} {r['method']}: {r['skipped']}")
            continue
        parity = ("exact" if r["max_abs_diff"] == 0 else f"{_fmt(r['max_abs_diff'], '.1e')}") \
            if r["precision"] == "float32" else f"{_fmt(r['psnr_db'], '.1f')} dB"
        parity += "" if r["parity_ok"] else " FAIL"
        lines.append(
            f"| {r['device']} | {r['size']} | {'yes' if r['style_encoding'] else 'cached'} | {r['method']} "
            f"| {r['batch']} | {_fmt(r['ms_per_image'], '.1f')} | {_fmt(r['naive_ms'], '.1f')} "
            f"| {_fmt(r['speedup'], '.2f')}x | {_fmt(r.get('min_ms_per_image'), '.1f')} "
            f"| {_fmt(r.get('speedup_min'), '.2f')}x | {_fmt(r['images_per_s'], '.2f')} "
            f"| {_fmt(r['gflop_per_image'], '.1f')} "
            f"| {_fmt(r['ceiling_ms'], '.1f')} | {_fmt(100 * r['of_ceiling'] if r['of_ceiling'] else None, '.0f')}% "
            f"| {parity} |"
        )
    lines.append("")
    lines.append("Paper, Table 1 (AdaIN, Pascal Titan X): "
                 + "; ".join(f"{k} px {v['without_style_encoding']:.0f} ms ({v['with_style_encoding']:.0f} ms "
                             "with style encoding)" for k, v in report["paper_table1_ms"].items()))
    for line in sorted(set(skipped)):
        lines.append(f"skipped: {line}")
    for note in report["notes"]:
        lines.append(f"note: {note}")
    if report.get("parity_failures"):
        lines.append("PARITY FAILURES: " + ", ".join(report["parity_failures"]))
    if report.get("train"):
        t = report["train"]
        wait = [100 * float(t[k].get("data_wait_share") or 0.0) for k in ("naive", "tuned")]
        lines.append(f"training (batch 8, 256 px, {t['steps']} steps): naive {t['naive']['it_per_s']:.2f} it/s, "
                     f"tuned {t['tuned']['it_per_s']:.2f} it/s, speedup {_fmt(t['speedup'], '.2f')}x; "
                     f"data wait {wait[0]:.0f}% -> {wait[1]:.0f}%")
    return "\n".join(lines)
