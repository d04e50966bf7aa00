"""The command line: ``python -m adain_lesson <command>`` (also installed as ``adain-lesson``).

Commands: ``stylize`` (this module), ``sync-notebooks``, and those registered in :data:`COMMANDS`.
A user's mistake ends with one line on stderr (``error: ...``) and exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

from .errors import OfflineError, UserError

# ------------------------------------------------------------------------------------------------
# stylize
# ------------------------------------------------------------------------------------------------


def _add_stylize(p: argparse.ArgumentParser) -> None:
    p.add_argument("--content", default="sample:grace_hopper",
                   help="content image or folder (default: the built-in sample sample:grace_hopper)")
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
                        "or a folder holding vgg_normalised.pth and decoder.pth")
    p.add_argument("--ext", default=".png", choices=[".png", ".jpg"], help="output format")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32"],
                   help="auto: the fastest settings measured for the device, reduced precision included "
                        "(bf16 on CPUs with AMX/AVX512-BF16, fp16 on CUDA; PSNR > 40 dB vs fp32); "
                        "fp32: float32 only (default: auto)")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the network (slow first image per size; pays for many same-size images)")


def _floats(text: str | None, what: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UserError(f"{what} must be comma-separated numbers, got {text!r}") from None


def _expand(spec: str, what: str) -> list[tuple[str, str]]:
    """(name, source) pairs for a path, a folder, or ``sample:NAME``."""
    from . import images

    if spec.startswith("sample:"):
        name = spec.split(":", 1)[1]
        if name not in images.SAMPLE_CONTENTS + images.SAMPLE_STYLES:
            known = ", ".join(images.SAMPLE_CONTENTS + images.SAMPLE_STYLES)
            raise UserError(f"unknown built-in sample {name!r} for --{what}: choose one of {known}")
        return [(name, spec)]
    path = Path(spec).expanduser()
    if path.is_dir():
        found = images.list_images(path)
        if not found:
            raise UserError(f"--{what} folder {path} holds no images ({', '.join(images.IMAGE_EXTENSIONS)})")
        return [(p.stem, str(p)) for p in found]
    if not path.exists():
        raise UserError(f"--{what}: no such file or folder: {path}")
    return [(path.stem, str(path))]


def _load(source: str, size: int, crop: bool):
    from . import images

    if source.startswith("sample:"):
        return images.sample_image(source.split(":", 1)[1], size or 512)
    return images.load_image(source, size=size or None, crop=crop)


def _device(name: str | None):
    import torch

    from .model import default_device

    if name is None:
        return default_device()
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"unknown device {name!r}: use cpu, cuda, cuda:N or mps") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda asked for, but no CUDA GPU is available: use --device cpu")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise UserError("--device mps asked for, but MPS is not available: use --device cpu")
    return dev


def cmd_stylize(args: argparse.Namespace) -> int:
    import torch
    from tqdm.auto import tqdm

    from . import images, viz
    from .model import RANDOM_WEIGHTS_BANNER, InferenceOptions, load_pretrained

    contents = _expand(args.content, "content")
    style_specs = [s.strip() for s in args.style.split(",") if s.strip()]
    if not style_specs:
        raise UserError("--style is empty: give an image, a folder, or sample:NAME")
    weights = _floats(args.style_weights, "--style-weights")
    alphas = _floats(args.alpha, "--alpha") or [1.0]
    if len(style_specs) > 1:
        style_sets = [[_expand(s, "style")[0]] for s in style_specs]
        for spec in style_specs:
            if Path(spec).is_dir():
                raise UserError(f"a folder ({spec}) cannot be one of several comma-separated styles: name images")
        combos = [[e[0] for e in style_sets]]
    else:
        combos = [[entry] for entry in _expand(style_specs[0], "style")]
    k = len(combos[0])
    if weights is not None and args.mask:
        raise UserError("use --style-weights (interpolation) or --mask (spatial control), not both")
    if weights is not None and len(weights) != k:
        raise UserError(f"--style-weights has {len(weights)} values for {k} styles: give one per style")
    if args.mask and not (len(args.mask) == k or (len(args.mask) == 1 and k == 2)):
        raise UserError(f"--mask has {len(args.mask)} files for {k} styles: give one mask per style (or one for two)")
    if args.content_size < 0 or args.style_size < 0:
        raise UserError("--content-size and --style-size must be >= 0 (0 keeps the original size)")
    device = _device(args.device)
    try:
        model = load_pretrained(args.weights, device)
    except OfflineError as exc:
        raise UserError(f"{exc}; or run with --weights random for a demonstration of the mechanics") from None
    model.optimize(InferenceOptions.for_device(device, args.precision, compile=args.compile))
    if model.random_weights:
        viz.banner(RANDOM_WEIGHTS_BANNER)
    out_dir = Path(args.out)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create output folder {out_dir}: {exc.strerror}") from None
    style_cache: dict[str, object] = {}
    pairs = [(c, combo) for c in contents for combo in combos]
    written = []
    bar = tqdm(pairs, desc="stylize", unit="image", disable=len(pairs) < 2)
    for (c_name, c_src), combo in bar:
        content = _load(c_src, args.content_size, args.crop)
        masks = None
        if args.mask:
            masks = [images.load_mask(m) for m in args.mask]
        styles = []
        for _, s_src in combo:
            if args.preserve_color:
                styles.append(_load(s_src, args.style_size, args.crop))  # needs the image, per content
            else:
                if s_src not in style_cache:  # encode each style once, reuse for every content
                    with torch.inference_mode():
                        style_cache[s_src] = model.encode_style(_load(s_src, args.style_size, args.crop))
                styles.append(style_cache[s_src])
        with torch.inference_mode(), warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = model.stylize(content, styles, alpha=alphas if len(alphas) > 1 else alphas[0],
                                weights=weights, masks=masks, preserve_color=args.preserve_color)
        for w in caught:
            print(f"note: {w.message}", file=sys.stderr)
        name = f"{c_name}_stylized_{'-'.join(s for s, _ in combo)}{args.ext}"
        written.append(images.save_image(out[0], out_dir / name))
    for path in written:
        print(path)
    return 0


# ------------------------------------------------------------------------------------------------
# sync-notebooks
# ------------------------------------------------------------------------------------------------


def _add_sync(p: argparse.ArgumentParser) -> None:
    p.add_argument("--root", default=".", help="the repository checkout (default: .)")
    p.add_argument("--check", action="store_true", help="only report; exit 1 if anything differs")


def cmd_sync(args: argparse.Namespace) -> int:
    from . import course

    problems = course.sync(args.root, write=not args.check)
    for line in problems:
        print(("differs: " if args.check else "updated: ") + line)
    return 1 if (problems and args.check) else 0


# ------------------------------------------------------------------------------------------------
# bench
# ------------------------------------------------------------------------------------------------


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
    p.add_argument("--json", default="bench.json", help="where to write the JSON report (default: ./bench.json)")
    p.add_argument("--train", action="store_true",
                   help="also time the training step (batch 8, 256 px): naive loop vs tuned")
    p.add_argument("--train-steps", type=int, default=20, help="timed training steps per loop (default: 20)")


def cmd_bench(args: argparse.Namespace) -> int:
    from . import bench

    sizes = _floats(args.sizes, "--sizes") or []
    if any(s != int(s) for s in sizes):
        raise UserError(f"--sizes must be whole numbers of pixels, got {args.sizes!r}")
    methods = [m.strip() for m in args.methods.split(",") if m.strip()] if args.methods else None
    if args.repeats is not None and args.repeats < 1:
        raise UserError("--repeats must be >= 1")
    if args.warmup is not None and args.warmup < 0:
        raise UserError("--warmup must be >= 0")
    modes = {"both": (True, False), "with-style": (True,), "cached": (False,)}[args.mode]
    devices = [_device(d) for d in args.device] if args.device else None
    log = lambda msg: print(msg, file=sys.stderr, flush=True)
    if args.train:  # fail early, before the long inference benchmark, if the training module is missing
        bench.training_benchmark_function()
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


# ------------------------------------------------------------------------------------------------
# Registry: name -> (help, add_arguments, run). Other modules' commands are added here.
# ------------------------------------------------------------------------------------------------

COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]] = {
    "stylize": ("stylize images with AdaIN (Eqs. 14-15, Figs. 7-10)", _add_stylize, cmd_stylize),
    "bench": ("time AdaIN (the paper's Table 1) against the naive reference, with each optimization",
              _add_bench, cmd_bench),
    "sync-notebooks": ("rewrite the notebooks' Colab links and the README table from REPO_URL", _add_sync, cmd_sync),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m adain_lesson", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="command")
    for name, (help_text, add_arguments, run) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.set_defaults(run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.run(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
