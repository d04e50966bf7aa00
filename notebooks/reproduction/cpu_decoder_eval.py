"""Evidence for REPRODUCTION.md: the decoder trained on the CPU against vgg19-pip, scored as Fig. 3 scores AdaIN.

Usage (from the repository root; RUN is the training run's folder, SHARED the original repository's images)::

    OMP_NUM_THREADS=1 python notebooks/reproduction/cpu_decoder_eval.py RUN ../shared/adain-style-repo

Writes into ``notebooks/reproduction/``: ``cpu_decoder_loss.png`` (the training losses, log scale),
``cpu_decoder_samples.png`` (the run's last sample grid, half size: training contents, styles, outputs),
``cpu_decoder_heldout.png`` (the held-out pairs: content, style, output) and ``cpu_decoder_eval.json`` (the
numbers). Scoring is Fig. 3's (:func:`adain_lesson.evaluation.evaluate_losses`): content loss at relu4_2 against
the content image, Eq. 13's style loss against the style image, mean squared errors, on the vgg19-pip VGG-19
(relu5_1), at 256 x 256 (the 512 px images of ``examples/`` resized). Rows: the authors' published AdaIN outputs
(``examples/*_stylized_*.jpg``, made by the released model), our CPU decoder on the same six pairs, and as
references the content image and the style image themselves.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from adain_lesson.evaluation import FIG3_CONTENT_LAYER, evaluate_losses
from adain_lesson.gatys import gatys_encoder
from adain_lesson.images import load_image, save_image
from adain_lesson.model import load_pretrained
from adain_lesson.train import held_out, read_log
from adain_lesson.viz import image_grid
from adain_lesson.weights import provenance_label

HERE = Path(__file__).resolve().parent
SIZE = 256
#: The six pairs of the authors' published outputs: (content, style, the style's cropped file in examples/).
PUBLISHED = [("avril", "impronte_d_artista", "impronte_d_artista"), ("chicago", "asheville", "ashville"),
             ("cornell", "woman_with_hat_matisse", "woman_with_hat_matisse"),
             ("lenna", "en_campo_gris", "en_campo_gris"), ("modern", "goeritz", "goeritz"),
             ("sailboat", "sketch", "sketch")]


def square(path: Path) -> torch.Tensor:
    img = load_image(path)
    return F.interpolate(img[None], size=(SIZE, SIZE), mode="bilinear", antialias=True, align_corners=False)[0]


def find(folder: Path, stem: str) -> Path:
    return next(p for p in sorted(folder.iterdir()) if p.stem == stem)


def main(run: Path, shared: Path) -> None:
    torch.manual_seed(0)
    model = load_pretrained(run, "cpu")
    scorer = gatys_encoder("vgg19-pip", "cpu")
    label = provenance_label(model)
    config = model.trained_run.config
    held = held_out(config)

    def score(c: torch.Tensor, s: torch.Tensor, out: torch.Tensor) -> list[float]:
        with torch.no_grad():
            return [float(x) for x in evaluate_losses(scorer, c, s, out.clamp(0, 1), content_layer=FIG3_CONTENT_LAYER)]

    ex = shared / "examples"
    rows = {"published_adain": [], "cpu_decoder": [], "content_image": [], "style_image": []}
    pairs = []
    for content, style, style_file in PUBLISHED:
        c = square(ex / f"{content}_cropped.jpg")
        s = square(find(ex, f"{style_file}_cropped"))
        published = square(ex / f"{content}_stylized_{style}.jpg")
        with torch.no_grad():
            ours = model.stylize(c, s)[0]
        seen = [name for name in (content, style) if name not in held]
        pairs.append({"content": content, "style": style, "seen_in_training": seen})
        for key, out in (("published_adain", published), ("cpu_decoder", ours), ("content_image", c),
                         ("style_image", s)):
            rows[key].append(score(c, s, out))
    fig3 = {key: {"content": sum(r[0] for r in v) / len(v), "style": sum(r[1] for r in v) / len(v), "per_pair": v}
            for key, v in rows.items()}

    contents = [n for n in held if any(p.stem == n for p in (shared / "input" / "content").iterdir())]
    styles = [n for n in held if n not in contents]
    tiles, heldout = [], []
    for cn in contents:
        for sn in styles:
            c = square(find(shared / "input" / "content", cn))
            s = square(find(shared / "input" / "style", sn))
            with torch.no_grad():
                out = model.stylize(c, s)[0].clamp(0, 1)
            lc, ls = score(c, s, out)
            ref = score(c, s, c)[1]
            heldout.append({"content": cn, "style": sn, "content_loss": lc, "style_loss": ls,
                            "content_image_style_loss": ref})
            tiles += [F.interpolate(x[None], size=(80, 80), mode="area")[0] for x in (c, s, out)]
    save_image(image_grid(tiles, nrow=6, padding=2), HERE / "cpu_decoder_heldout.png")

    last = sorted((run / "samples").glob("iter-*.png"))[-1]  # train's own grid: contents, styles, outputs
    grid = load_image(last)
    save_image(F.interpolate(grid[None], scale_factor=0.5, mode="area")[0], HERE / "cpu_decoder_samples.png")

    log = read_log(run / "log.jsonl")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2), dpi=90)
    its = [r["iteration"] for r in log]
    ax.plot(its, [r["content"] for r in log], label="content loss (Eq. 12)")
    ax.plot(its, [r["style"] for r in log], label="style loss (Eq. 13)")
    ax.set_yscale("log")
    ax.set_xlabel("iteration (batch 4, 128 px crops)")
    ax.set_title(f"CPU decoder against vgg19-pip: training losses ({its[-1]} iterations)", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(HERE / "cpu_decoder_loss.png")

    numbers = {"label": label, "run_iteration": model.trained_run.iteration, "config": config, "size": SIZE,
               "scorer": "vgg19-pip VGG-19, content at relu4_2, Eq. 13 style loss at relu1_1..relu4_1, MSE",
               "fig3_pairs": pairs, "fig3": fig3, "heldout": heldout,
               "log_first": log[0] if log else None, "log_last": log[-1] if log else None}
    (HERE / "cpu_decoder_eval.json").write_text(json.dumps(numbers, indent=1) + "\n", encoding="utf-8")
    for key, v in fig3.items():
        print(f"{key:16s} content {v['content']:.3f}  style {v['style']:.4f}")
    for h in heldout:
        print(f"held out {h['content']} x {h['style']}: content {h['content_loss']:.3f} style {h['style_loss']:.4f} "
              f"(content image's style loss {h['content_image_style_loss']:.4f})")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
