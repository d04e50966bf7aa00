"""Reduced-scale runs with real VGG-19 features from pip (issue 21, Deliver 3): the record of the commands behind
REPRODUCTION.md's "Real VGG-19 features from pip" rows. Not part of the package; every number it prints is
"real VGG-19 features from pip (8-bit, not the released file)".

    python notebooks/reproduction/realfeatures.py fig3 SIDE GATYS_STEPS EVERY TEXTURE_STEPS OUT CHECKPOINT
    python notebooks/reproduction/realfeatures.py fig1 SIDE CROPS STEPS OUT CHECKPOINT
    python notebooks/reproduction/realfeatures.py table1 SIDE STEPS
    python notebooks/reproduction/realfeatures.py nb02a SIDE
    python notebooks/reproduction/realfeatures.py replot_fig3 FIG3_JSON OUT

CHECKPOINT: a decoder checkpoint of a run trained with ``--encoder vgg19-pip`` (AdaIN's line of Fig. 3).
Images come from ../shared/adain-style-repo (the authors' repository's images).
"""

import json
import os
import sys
import time
from pathlib import Path

import torch

from adain_lesson import evaluation as E
from adain_lesson import figures, norms
from adain_lesson.gatys import PAPER_TABLE1_GATYS, gatys_encoder, optimize_image
from adain_lesson.model import StyleTransfer
from adain_lesson.weights import decoder_from_checkpoint, load_encoder

MIRROR = Path(__file__).resolve().parents[2].parent / "shared"
torch.set_num_threads(2)


def fig3(side: str, steps: str, every: str, texture_steps: str, out: str, checkpoint: str) -> None:
    load = E._loader(False, MIRROR)
    contents = [load(n, int(side)) for n in ("chicago.jpg", "sailboat.jpg")]
    styles = [load("asheville.jpg", int(side))]
    decoder, _ = decoder_from_checkpoint(checkpoint)
    model = StyleTransfer(load_encoder("vgg19-pip", "relu4_1", "cpu"), decoder)
    start = time.time()
    r = E.fig3_losses(model, contents, styles, gatys_encoder("vgg19-pip", "cpu"), gatys_steps=int(steps),
                      score_every=int(every), texture_steps=int(texture_steps), texture_batch=2, progress=True)
    r["settings"] |= {"decoder": f"early CPU-trained decoder ({Path(checkpoint).name})", "wall_s": time.time() - start}
    keys = ("iterations", "gatys", "adain", "texture_net", "content_image", "style_image")
    print(json.dumps({k: r[k] for k in keys}))
    print(figures.save_plot(plot_fig3(r), r, Path(out), "fig03_losses_vgg19pip"))


def plot_fig3(r: dict):
    """``evaluation.plot_fig3``, with AdaIN's legend entry naming the decoder (an early CPU-trained one)."""
    fig = E.plot_fig3(r, random_weights=False)
    for ax in fig.axes:
        for text in ax.get_legend().get_texts() if ax.get_legend() else []:
            if text.get_text() == "Ours (AdaIN)":
                text.set_text(f"Ours (AdaIN, {r['settings']['decoder']})")
    return fig


def replot_fig3(json_path: str, out: str) -> None:
    r = json.loads(Path(json_path).read_text())
    print(figures.save_plot(plot_fig3(r), r, Path(out), "fig03_losses_vgg19pip"))


def fig1(side: str, crops: str, steps: str, out: str, checkpoint: str) -> None:
    from adain_lesson import hub

    load = E._loader(False, MIRROR)
    sources = [load(n, int(side), square=False, scale=1.5) for n in hub.manifest("content")]
    target, normalizer = load("la_muse.jpg", int(side)), load("brushstrokes.jpg", int(side))
    gen = torch.Generator().manual_seed(0)
    contents = torch.stack([c for img in sources for c in E._random_crops(img, int(crops), int(side), gen)])
    decoder, _ = decoder_from_checkpoint(checkpoint)
    model = StyleTransfer(load_encoder("vgg19-pip", "relu4_1", "cpu"), decoder)  # panel (c)'s style normaliser
    start = time.time()
    r = E.fig1_curves(model, contents, target, normalizer, steps=int(steps), batch_size=4, width=16, progress=True)
    r["settings"] |= {"normaliser_decoder": f"early CPU-trained decoder ({Path(checkpoint).name})",
                      "wall_s": time.time() - start}
    check = E.fig1_check(r, random_weights=False)
    print(json.dumps({"ratio_bn_over_in": r["ratio_bn_over_in"], "check": E.format_checks(check)}))
    for name, curves in r["curves"].items():
        print(name, {norm: [round(v, 2) for v in vals] for norm, vals in curves.items()})
    print(figures.save_plot(E.plot_fig1(r, random_weights=False), r | {"check": check}, Path(out),
                            "fig01_in_vs_bn_vgg19pip"))


def table1(side: str, steps: str) -> None:
    load = E._loader(False, MIRROR)
    c, s = load("chicago.jpg", int(side)), load("asheville.jpg", int(side))
    vgg = gatys_encoder("vgg19-pip", "cpu")
    load0 = os.getloadavg()
    optimize_image(vgg, c, s, steps=1)  # warm-up
    run = optimize_image(vgg, c, s, steps=int(steps))
    per = run.seconds / run.steps
    print(json.dumps({"size": int(side), "steps_timed": run.steps, "seconds": run.seconds, "per_step_s": per,
                      "extrapolated_500_s": per * 500, "paper_500_s": PAPER_TABLE1_GATYS.get(int(side)),
                      "loadavg_start": load0, "loadavg_end": os.getloadavg()}))


def nb02a(side: str) -> None:
    load = E._loader(False, MIRROR)
    c, s = load("chicago.jpg", int(side), square=False), load("asheville.jpg", int(side), square=False)
    enc = load_encoder("vgg19-pip", "relu4_1", "cpu")
    with torch.no_grad():
        f_c, f_s = enc(c[None]), enc(s[None])
        t = norms.adaptive_instance_norm(f_c, f_s)
    (m_c, s_c), (m_s, s_s), (m_t, s_t) = (norms.calc_mean_std(f) for f in (f_c, f_s, t))
    alive = (s_c > 0.01).flatten()  # the notebook's threshold
    corr = torch.stack([torch.corrcoef(torch.stack([a, b]))[0, 1]
                        for a, b in zip(f_c[0].flatten(1)[alive], t[0].flatten(1)[alive])])
    mse = torch.nn.functional.mse_loss
    print(json.dumps({"shape": list(f_c.shape), "alive_channels": int(alive.sum()), "channels": int(alive.numel()),
                      "max_abs_mean_err": float((m_t - m_s).flatten()[alive].abs().max()),
                      "max_abs_std_err": float((s_t - s_s).flatten()[alive].abs().max()),
                      "max_rel_std_err": float(((s_t - s_s) / s_s).flatten()[alive].abs().max()),
                      "style_channels_std_below_0.01": int((s_s < 0.01).sum()),
                      "min_within_channel_corr": float(corr.min()),
                      "stat_distance_before": float(mse(m_c, m_s) + mse(s_c, s_s)),
                      "stat_distance_after": float(mse(m_t, m_s) + mse(s_t, s_s))}))


if __name__ == "__main__":
    commands = {"fig1": fig1, "fig3": fig3, "replot_fig3": replot_fig3, "table1": table1, "nb02a": nb02a}
    commands[sys.argv[1]](*sys.argv[2:])
