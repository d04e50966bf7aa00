"""The numbers of the paper's quantitative results, made by one piece of code shared by the notebooks
and ``python -m adain_lesson figures --fig 1|3|5|6``.

- Section 4, Fig. 1 (IN vs BN in a single-style network): :func:`fig1_curves`, :func:`plot_fig1`,
  :func:`fig1_check` (notebook 07, section 1).
- Section 7.1, Fig. 3 (Gatys et al. over iterations against the feed-forward methods): :func:`evaluate_losses`
  (content loss against the content image's features, style loss Eq. 13), :func:`fig3_losses`,
  :func:`plot_fig3` (notebook 07).
- Section 7.2, Figs. 5 and 6 (Enc-AdaIN-Dec, Enc-Concat-Dec, BN and IN decoders): :data:`ABLATION_VARIANTS`,
  :func:`fig5_ablation_grid`, :func:`final_losses`, :func:`fig6_checks`, :func:`plot_fig6` (notebook 07).
- :func:`reproduce`: one figure end to end (inputs, training runs kept and resumed under the output folder,
  the PNG and the numbers behind it), for the command line. Table 1's timing lives in
  :mod:`adain_lesson.bench`.

Every plot says "random weights" in its title when it was made with random weights (smoke mode), and every
check of the paper's claims says "not checked: random weights" then: such numbers show the mechanics only.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .errors import UserError
from .figures import tile_grid
from .i18n import LazyTable, tr
from .losses import adain_losses, adain_targets, content_loss, mean_std_loss
from .model import StyleTransfer, fuse
from .vgg import ADAIN_STYLE_LAYERS, Encoder
from .weights import decoder_from_checkpoint, weights_kind

__all__ = [
    "ABLATION_VARIANTS",
    "PUBLISHED_OUTPUTS",
    "FIG3_CONTENT_LAYER",
    "FIG6_PAPER_ITERATIONS",
    "QUANTITATIVE",
    "evaluate_losses",
    "fig1_check",
    "fig1_curves",
    "fig3_losses",
    "fig5_ablation_grid",
    "fig6_checks",
    "final_losses",
    "format_checks",
    "linear_steps",
    "log_steps",
    "plot_fig1",
    "plot_fig3",
    "plot_fig6",
    "reproduce",
    "score_published_outputs",
]

#: Fig. 3's content layer. The paper: "The content loss shown here is the same as in [52, 16]", i.e. against
#: the content image's features; it names no layer. Our choice: Gatys et al.'s content layer (conv4_2, here
#: its ReLU, :data:`adain_lesson.gatys.CONTENT_LAYER`).
FIG3_CONTENT_LAYER = "relu4_2"
#: The style losses the Fig. 3 baselines can be optimised with: "mean_std" (the paper's setting for Fig. 3:
#: "we also modify the loss function in [16] and [52] accordingly") or "gram" (an extra, not the paper's).
FIG3_STYLE_LOSSES = ("mean_std", "gram")
CONTENT_TARGETS = ("content", "adain")


def evaluate_losses(encoder: Encoder, content: Tensor, style: Tensor, output: Tensor, reduction: str = "mse", *,
                    content_target: str = "content", content_layer: str = "relu4_1") -> tuple[Tensor, Tensor]:
    """Content and style loss of a stylized ``output`` for ``(content, style)``, as evaluation metrics.

    - content loss: ``|| phi(output) - phi(c) ||^2`` at ``content_layer``, against the **content image's**
      features (``content_target="content"``, the default: how the paper scores Fig. 3, "The content loss
      shown here is the same as in [52, 16]"), or against Eq. 12's AdaIN target ``t = AdaIN(f(c), f(s))``
      at relu4_1 (``content_target="adain"``: the training loss of Eq. 12, ``content_layer`` must then be
      relu4_1);
    - style loss: Eq. 13, ``sum_i ||mu(phi_i(output)) - mu(phi_i(s))||^2 + ||sigma(phi_i(output)) -
      sigma(phi_i(s))||^2`` over relu1_1 ... relu4_1.

    Both with the same reduction as training (``"mse"``: mean squared errors; at relu4_1 through
    :func:`adain_lesson.losses.adain_losses`, the helper training uses; the authors' ``StyleINLossModule``
    sums the squares instead, which scales each layer's term by its channel count). Images are ``[3, H, W]`` or
    ``[N, 3, H, W]`` in [0, 1] on the encoder's device; ``output`` must have the content's size (the style
    may differ); the encoder must reach ``content_layer`` (relu4_2 needs e.g.
    :func:`adain_lesson.gatys.gatys_encoder`). Returns two scalar tensors (no gradient).
    """
    if content_target not in CONTENT_TARGETS:
        raise UserError(f"unknown content_target {content_target!r}: use 'content' (the content image's "
                        "features, Fig. 3) or 'adain' (Eq. 12's target t)", param="content_target")
    if content_target == "adain" and content_layer != "relu4_1":
        raise UserError("content_target='adain' compares with t = AdaIN(f(c), f(s)) at relu4_1: "
                        f"content_layer must be relu4_1, got {content_layer!r}", param="content_layer")
    content, style, output = (x.unsqueeze(0) if x.dim() == 3 else x for x in (content, style, output))
    if output.shape[-2:] != content.shape[-2:]:
        raise UserError(f"output {tuple(output.shape[-2:])} and content {tuple(content.shape[-2:])} differ in "
                        "size: crop or resize the output to the content's size")
    layers = [*ADAIN_STYLE_LAYERS, content_layer]
    with torch.no_grad():
        if content_target == "adain":  # Eq. 12 against t, Eq. 13: the training objective's one helper
            if getattr(encoder, "last", "relu4_1") != "relu4_1":
                raise UserError("content_target='adain' needs AdaIN's encoder (VGG to relu4_1), e.g. model.encoder",
                                param="encoder")
            _, t, style_feats = adain_targets(encoder, content, style)
            return adain_losses(encoder, output, t, style_feats, reduction)
        style_feats = encoder.features(style, ADAIN_STYLE_LAYERS)
        if content_layer == ADAIN_STYLE_LAYERS[-1]:  # the content image's features at relu4_1, Eq. 13
            return adain_losses(encoder, output, encoder.features(content, [content_layer])[0], style_feats, reduction)
        out_feats = encoder.features(output, layers)  # another layer (Fig. 3: relu4_2): one pass for both losses
        target = encoder.features(content, [content_layer])[0].float()
        loss_c = content_loss(out_feats[-1].float(), target, reduction)
        loss_s = mean_std_loss([f.float() for f in out_feats[:-1]], [f.float() for f in style_feats], reduction)
    return loss_c, loss_s


#: The authors' own published AdaIN outputs (their repository's ``examples/``, made by the released model at
#: 512 x 512 from the ``*_cropped`` inputs beside them): (content, style, output) file names.
PUBLISHED_OUTPUTS = (
    ("avril_cropped.jpg", "impronte_d_artista_cropped.jpg", "avril_stylized_impronte_d_artista.jpg"),
    ("chicago_cropped.jpg", "ashville_cropped.jpg", "chicago_stylized_asheville.jpg"),
    ("cornell_cropped.jpg", "woman_with_hat_matisse_cropped.jpg", "cornell_stylized_woman_with_hat_matisse.jpg"),
    ("lenna_cropped.jpg", "en_campo_gris_cropped.jpg", "lenna_stylized_en_campo_gris.jpg"),
    ("modern_cropped.jpg", "goeritz_cropped.jpg", "modern_stylized_goeritz.jpg"),
    ("sailboat_cropped.jpg", "sketch_cropped.png", "sailboat_stylized_sketch.jpg"),
)


def score_published_outputs(encoder: Encoder, examples: str | os.PathLike, size: int = 512) -> dict:
    """Fig. 3's scores of the authors' own published AdaIN outputs (:data:`PUBLISHED_OUTPUTS`, in the folder
    ``examples`` of their repository), with the content and the style image as references: real numbers for
    the paper's method without the released decoder. Scored as :func:`fig3_losses` scores (content loss at
    relu4_2 against the content image, Eq. 13 style loss over relu1_1 ... relu4_1, mean squared errors) on
    ``encoder`` (a VGG-19 that reaches relu4_2, e.g. ``gatys_encoder("vgg19-pip")``), every image resized to
    ``size`` (512: as published). The paper, Section 7.1: "our style loss is much smaller than that of the
    original content image". Returns ``{"pairs": [...], "ours"|"content_image"|"style_image": {"content",
    "style", "ln_content", "ln_style"}, "settings": {...}}`` (means over the pairs; the outputs are JPEGs)."""
    from .images import load_image

    folder = Path(examples)
    missing = [name for row in PUBLISHED_OUTPUTS for name in row if not (folder / name).is_file()]
    if missing:
        raise UserError(f"{folder} lacks {missing[0]} (and {len(missing) - 1} more): give the examples folder of "
                        "the original AdaIN-style repository", param="examples")
    device = next(encoder.parameters()).device
    rows = {key: torch.zeros(len(PUBLISHED_OUTPUTS), 2) for key in ("ours", "content_image", "style_image")}
    pairs = []
    for k, names in enumerate(PUBLISHED_OUTPUTS):
        c, s, out = (load_image(folder / n, size=size, crop=True).to(device) for n in names)
        for key, image in (("ours", out), ("content_image", c), ("style_image", s)):
            rows[key][k] = torch.stack(evaluate_losses(encoder, c, s, image, content_layer=FIG3_CONTENT_LAYER)).cpu()
        pairs.append({"content": names[0], "style": names[1], "output": names[2],
                      **{key: {"content": float(v[k, 0]), "style": float(v[k, 1])} for key, v in rows.items()}})
    return {"pairs": pairs, **{key: _summary(value) for key, value in rows.items()},
            "settings": {"size": size, "content_layer": FIG3_CONTENT_LAYER, "style_layers": list(ADAIN_STYLE_LAYERS),
                         "reduction": "mse", "weights": weights_kind(encoder),
                         "source": "the authors' published outputs (AdaIN-style examples/), released model"}}


def linear_steps(steps: int, every: int | None = None) -> list[int]:
    """Iterations at which Fig. 3 scores Gatys et al.: 1, then every ``every`` (default: ``steps // 50``, at
    least 1) up to ``steps``, which is always included (a linear axis, as the paper's figure draws it: read
    from the figure)."""
    if steps < 1:
        raise UserError(f"steps must be at least 1, got {steps}")
    every = max(1, steps // 50) if every is None else every
    if every < 1:
        raise UserError(f"every must be at least 1, got {every}", param="every")
    return sorted({1, steps, *range(every, steps + 1, every)})


def _summary(losses: Tensor) -> dict:
    """``losses [pairs, 2]`` (content, style) -> means and means of ln (None where a loss is 0)."""
    out = {"content": float(losses[:, 0].mean()), "style": float(losses[:, 1].mean())}
    for i, key in enumerate(("content", "style")):
        col = losses[:, i].double()
        out[f"ln_{key}"] = float(col.log().mean()) if bool((col > 0).all()) else None
    return out


def fig3_losses(
    model: StyleTransfer,
    contents: Sequence[Tensor],
    styles: Sequence[Tensor],
    gatys_vgg: Encoder,
    *,
    gatys_steps: int = 500,
    score_every: int | None = None,
    texture_steps: int = 1000,
    texture_contents: Tensor | None = None,
    texture_batch: int = 4,
    texture_width: int = 16,
    style_loss: str = "mean_std",
    style_weight: float = 10.0,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """The numbers behind Fig. 3: content and style loss of four methods, averaged over every
    (content, style) pair of ``contents x styles``, plus the content and the style image as references.

    What the paper says, and what we chose where it is silent:

    - "Because our method uses a style loss based on IN statistics, we also modify the loss function in
      [16] and [52] accordingly for a fair comparison (their results in Fig. 4 are still obtained with the
      default Gram matrix loss)." So with ``style_loss="mean_std"`` (the default) Gatys et al. and the
      texture network are optimised/trained with the IN-statistics style loss (Eq. 13, mean squared errors,
      relu1_1 ... relu4_1, weight ``style_weight`` = lambda = 10 on the layer sum, as AdaIN's training in
      the PyTorch port). ``style_loss="gram"`` keeps their Gram losses (Gatys et al.: relu1_1 ... relu5_1;
      the texture network: relu1_1 ... relu4_1, weight 1): an extra comparison, **not** the paper's setting.
    - "The content loss shown here is the same as in [52, 16]": every output is scored against the
      **content image's** features, not Eq. 12's AdaIN target. The layer is not given: we use
      :data:`FIG3_CONTENT_LAYER` (relu4_2, Gatys et al.'s content layer), which the baselines also optimise.
    - Scoring: :func:`evaluate_losses` with ``content_target="content"`` at relu4_2 on ``gatys_vgg`` (the
      VGG-19 to relu5_1, e.g. :func:`adain_lesson.gatys.gatys_encoder`; give it the weights of the model's
      encoder), style loss Eq. 13, both as mean squared errors (our choice; the authors' code sums).

    Methods: Gatys et al. (L-BFGS from white noise, :func:`adain_lesson.gatys.optimize_image`), scored at
    :func:`linear_steps` ``(gatys_steps, score_every)``; Ulyanov et al. (a :class:`~adain_lesson.texture_net.TextureNet`
    with IN, **one network per style**, ``texture_steps`` Adam steps on ``texture_contents``, default the
    contents themselves, a favour to it); AdaIN (``model``, one forward pass, Eq. 10); and as references the
    content image itself and the style image resized to the content's size.

    Images are ``[3, H, W]`` in [0, 1], all contents one size (multiples of 8). Returns a JSON-ready dict:
    ``iterations``; ``gatys`` with lists ``content``, ``style`` (means), ``ln_content``, ``ln_style``
    (means of ln over the pairs) and ``ln_content_std``, ``ln_style_std`` (their spread); ``adain``,
    ``texture_net``, ``content_image``, ``style_image`` each with ``content``, ``style``, ``ln_content``,
    ``ln_style`` (``None`` where a loss is 0, e.g. the content image's content loss); ``pairs``;
    ``settings``.
    """
    from tqdm.auto import tqdm

    from .gatys import optimize_image
    from .texture_net import TextureNet, train_texture_net

    if style_loss not in FIG3_STYLE_LOSSES:
        raise UserError(f"unknown style_loss {style_loss!r}: use 'mean_std' (the paper's Fig. 3) or 'gram'",
                        param="style_loss")
    if not contents or not styles:
        raise UserError("fig3_losses needs at least one content and one style image")
    if any(c.shape != contents[0].shape for c in contents) or contents[0].shape[-1] % 8 or contents[0].shape[-2] % 8:
        raise UserError("all contents must have one size, with sides multiples of 8: crop them to one square size")
    device = model.device
    checkpoints = linear_steps(gatys_steps, score_every)
    n = len(contents) * len(styles)
    gatys_all = torch.zeros(n, len(checkpoints), 2)
    rows = {key: torch.zeros(n, 2) for key in ("adain", "texture_net", "content_image", "style_image")}
    train_set = torch.stack(list(contents)) if texture_contents is None else texture_contents

    def score(c: Tensor, s: Tensor, image: Tensor) -> Tensor:
        return torch.stack(evaluate_losses(gatys_vgg, c, s, image, content_layer=FIG3_CONTENT_LAYER)).cpu()

    if style_loss == "mean_std":
        gatys_kw = dict(style_loss="mean_std", style_layers=ADAIN_STYLE_LAYERS, style_weight=style_weight)
        texture_kw = dict(style_loss="mean_std", style_weight=style_weight, content_layer=FIG3_CONTENT_LAYER)
    else:
        gatys_kw = dict(style_loss="gram")
        texture_kw = dict(style_loss="gram", style_weight=1.0, content_layer=FIG3_CONTENT_LAYER)
    bar = tqdm(total=n, desc="Fig. 3 pairs", unit="pair", disable=not progress)
    k = 0
    for j, style in enumerate(styles):
        s = style.to(device)
        with torch.random.fork_rng(devices=[]):  # seeded initial weights, the caller's RNG untouched
            torch.manual_seed(seed + j)
            net = TextureNet("instance", width=texture_width)
        net = net.to(device)
        train_texture_net(net, train_set.to(device), s, gatys_vgg, steps=texture_steps, batch_size=texture_batch,
                          seed=seed + j, **texture_kw)
        net.eval()
        for c in contents:
            c = c.to(device)
            with torch.no_grad():
                adain_out = model.stylize(c, s).clamp(0, 1)
                texture_out = net(c.unsqueeze(0))
                style_as_output = F.interpolate(s[None], size=c.shape[-2:], mode="bilinear", align_corners=False)
            rows["adain"][k] = score(c, s, adain_out)
            rows["texture_net"][k] = score(c, s, texture_out)
            rows["content_image"][k] = score(c, s, c)
            rows["style_image"][k] = score(c, s, style_as_output.clamp(0, 1))
            scores: dict[int, Tensor] = {}

            def record(step: int, image: Tensor, _losses: dict, c: Tensor = c, s: Tensor = s,
                       scores: dict[int, Tensor] = scores) -> None:
                if step in checkpoints:
                    scores[step] = score(c, s, image)

            optimize_image(gatys_vgg, c, s, steps=gatys_steps, seed=seed, callback=record, every=1, **gatys_kw)
            last = scores[max(scores)]  # L-BFGS may stop early when the gradient vanishes: hold the last value
            gatys_all[k] = torch.stack([scores.get(step, last) for step in checkpoints])
            k += 1
            bar.update(1)
    bar.close()
    gatys: dict = {"content": gatys_all[:, :, 0].mean(0).tolist(), "style": gatys_all[:, :, 1].mean(0).tolist()}
    for i, key in enumerate(("content", "style")):
        ln = gatys_all[:, :, i].double().clamp_min(1e-30).log()
        gatys[f"ln_{key}"] = ln.mean(0).tolist()
        gatys[f"ln_{key}_std"] = (ln.std(0, unbiased=False)).tolist()
    return {
        "iterations": checkpoints,
        "gatys": gatys,
        **{key: _summary(value) for key, value in rows.items()},
        "pairs": n,
        "settings": {"gatys_steps": gatys_steps, "texture_steps": texture_steps, "texture_width": texture_width,
                     "style_loss": style_loss, "style_weight": style_weight if style_loss == "mean_std" else None,
                     "content_layer": FIG3_CONTENT_LAYER, "style_layers": list(ADAIN_STYLE_LAYERS),
                     "content_target": "content image features", "reduction": "mse",
                     "contents": len(contents), "styles": len(styles),
                     "size": [int(contents[0].shape[-2]), int(contents[0].shape[-1])],
                     "weights": weights_kind(model), "device": str(device)},
    }


def _random_suffix(random_weights: bool, weights: str | None = None) -> str:
    """What a figure's title adds: random weights, or the label of an encoder that is not the released one."""
    if random_weights:
        return tr(" (random weights: mechanics only)")
    if weights == "vgg19-pip":
        from .vgg_pip import label

        return f"\n({label()})"
    return ""


def _loss_label(key: str) -> str:
    """The axis and title name of the ``"style"`` or ``"content"`` loss."""
    return tr("style loss") if key == "style" else tr("content loss")


def plot_fig3(result: dict, axes=None, *, random_weights: bool | None = None):
    """Fig. 3 from :func:`fig3_losses`. As the paper's figure is drawn (read from the figure): ln(loss) against
    a linear iteration axis from 0, Gatys et al.'s mean curve, and horizontal lines for AdaIN ("Ours"),
    Ulyanov et al. and the "Content Image" (a reference whose loss is 0 has no line). Ours, not in the paper's
    figure, and labelled so in the legend: the band of Gatys et al.'s spread over the pairs (mean of ln +- one
    standard deviation) and the "Style Image" line. The title says
    "random weights" when ``random_weights`` (default: from ``result["settings"]["weights"]``) and names
    the Gram extra when the baselines used it. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt
    import numpy as np

    if random_weights is None:
        random_weights = result.get("settings", {}).get("weights") == "random"
    gram = result.get("settings", {}).get("style_loss") == "gram"
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    else:
        fig = axes[0].figure
    its = np.asarray(result["iterations"], dtype=float)
    lines = (("adain", tr("Ours (AdaIN)"), "C1", "-"), ("texture_net", "Ulyanov et al.", "C2", "--"),
             ("content_image", tr("Content Image"), "0.45", ":"),
             ("style_image", tr("Style Image (ours, not in the paper's figure)"), "0.2", "-."))
    for ax, key in zip(axes, ("style", "content")):
        mean = np.asarray(result["gatys"][f"ln_{key}"], dtype=float)
        std = np.asarray(result["gatys"][f"ln_{key}_std"], dtype=float)
        ax.plot(its, mean, color="C0", lw=1.8, label="Gatys et al.")
        for method, label, colour, style in lines:
            value = result[method].get(f"ln_{key}")
            if value is not None:
                ax.axhline(value, color=colour, ls=style, lw=1.6, label=label)
        ax.fill_between(its, mean - std, mean + std, color="C0", alpha=0.2, lw=0,
                        label=tr("Gatys et al. ±1 SD over the pairs (ours, not in the paper's figure)"))
        ax.set_xlim(0, float(its.max()))
        ax.set_xlabel(tr("Iteration (Gatys et al.)"), fontsize=10)
        ax.set_ylabel(f"ln({_loss_label(key)})", fontsize=10)
        ax.tick_params(labelsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        extra = tr("; extra: baselines with the Gram loss, not the paper's setting") if gram else ""
        ax.set_title(tr("Fig. 3: {loss}, {pairs} pairs", loss=_loss_label(key), pairs=result["pairs"]) + extra
                     + _random_suffix(random_weights, result.get("settings", {}).get("weights")), fontsize=9)
    fig.tight_layout()
    return fig


def log_steps(steps: int, per_decade: int = 4) -> list[int]:
    """About ``per_decade`` log-spaced iteration numbers in ``[1, steps]``, always including 1 and ``steps``."""
    if steps < 1:
        raise UserError(f"steps must be at least 1, got {steps}")
    n = max(2, int(math.ceil(math.log10(max(steps, 2)) * per_decade)) + 1)
    return sorted({max(1, min(steps, round(10 ** (math.log10(steps) * k / (n - 1))))) for k in range(n)} | {steps})


def fig5_ablation_grid(
    encoder: Encoder,
    variants: dict[str, tuple[nn.Module, str]],
    pairs: Sequence[tuple[Tensor, Tensor]],
    *,
    random_weights: bool = False,
) -> tuple[Tensor, dict]:
    """Fig. 5: for each (content, style) pair one row: content, style, then each variant's output.

    ``variants`` maps a name (e.g. "Enc-AdaIN") to ``(decoder, fusion)``; the decoder reads
    :func:`adain_lesson.model.fuse` ``(f(c), f(s), fusion)`` (AdaIN, Eq. 9, or Enc-Concat). Images are
    ``[3, H, W]`` in [0, 1]; outputs are cropped to the content's size. Every tile of the first row carries
    its column's name on the image; with ``random_weights`` the figure's title says so. Returns
    ``(figure, settings)`` with ``settings["figure"] == "5"``.
    """
    if not variants or not pairs:
        raise UserError("fig5_ablation_grid needs at least one variant and one (content, style) pair")
    device = next(encoder.parameters()).device
    tiles: list[Tensor] = []
    for content, style in pairs:
        c, s = content.unsqueeze(0).to(device), style.unsqueeze(0).to(device)
        tiles += [content.cpu(), style.cpu()]
        with torch.no_grad():
            f_c, f_s = encoder(c), encoder(s)
            for decoder, fusion in variants.values():
                was = decoder.training
                decoder.eval()
                out = decoder.to(device)(fuse(f_c, f_s, fusion))[..., : c.shape[-2], : c.shape[-1]]
                decoder.train(was)
                tiles.append(out[0].clamp(0, 1).cpu())
    columns = ["content", "style", *variants]
    labels = columns + [""] * (len(tiles) - len(columns))
    title = tr("Fig. 5: random weights (mechanics only)") if random_weights else None
    grid, layout = tile_grid(tiles, cols=2 + len(variants), labels=labels, title=title)
    return grid, {"figure": "5", "columns": columns, "weights": "random" if random_weights else "pretrained",
                  **layout}


# ------------------------------------------------------------------------------------------------
# Section 7.2: the ablation (Figs. 5 and 6)
# ------------------------------------------------------------------------------------------------

#: The four decoders of Section 7.2 under the paper's names: name -> (fusion, decoder_norm) of
#: :class:`adain_lesson.train.TrainConfig`. "We denote our approach described in Sec. 6 as Enc-AdaIN-Dec. We
#: experiment with a model named Enc-Concat-Dec that replaces AdaIN with concatenation [...] we run models
#: with BN/IN layers in the decoder, denoted as Enc-AdaIN-BNDec and Enc-AdaIN-INDec respectively."
ABLATION_VARIANTS = {
    "Enc-AdaIN-Dec": ("adain", "none"),
    "Enc-Concat-Dec": ("concat", "none"),
    "Enc-AdaIN-BNDec": ("adain", "batch"),
    "Enc-AdaIN-INDec": ("adain", "instance"),
}
#: How far the iteration axis of the paper's Fig. 6 runs (read from the figure; the text gives no number).
FIG6_PAPER_ITERATIONS = 30_000


def not_checked() -> str:
    """The verdict of a check skipped because the weights are random."""
    return tr("not checked: random weights")


def final_losses(logs: Mapping[str, Sequence[dict]], fraction: float = 0.2) -> dict[str, dict[str, float]]:
    """Each run's end-of-training losses: the mean of the last ``fraction`` of its logged ``content`` and
    ``style`` values (:func:`adain_lesson.viz.tail_mean`, steadier than the last batch)."""
    from .viz import tail_mean

    out = {}
    for name, rows in logs.items():
        if not rows:
            raise UserError(f"the run {name!r} has no logged losses: train it first")
        out[name] = {key: tail_mean([float(r[key]) for r in rows], fraction) for key in ("content", "style")}
    return out


def fig6_checks(final: Mapping[str, Mapping[str, float]], *, random_weights: bool) -> dict:
    """The paper's reading of Fig. 6, checked on ``final`` (:func:`final_losses`, keyed by the names of
    :data:`ABLATION_VARIANTS`). Each claim comes with its source: a quotation of Section 7.2, or "read
    from the figure" where only the curves say it.

    With ``random_weights`` nothing is checked (``holds`` is ``None`` and ``verdict`` says
    :func:`not_checked`): the losses of random networks say nothing about the paper.
    Returns ``{"checked": bool, "verdict": str, "claims": [{"claim", "source", "holds"}]}``.
    """
    missing = [n for n in ABLATION_VARIANTS if n not in final]
    if missing:
        raise UserError(f"fig6_checks needs the four variants {', '.join(ABLATION_VARIANTS)}; missing: "
                        f"{', '.join(missing)}")
    c = {n: float(final[n]["content"]) for n in ABLATION_VARIANTS}
    s = {n: float(final[n]["style"]) for n in ABLATION_VARIANTS}
    ada, cat, bn, inn = ABLATION_VARIANTS
    quote_concat = '"Enc-Concat-Dec can reach low style loss but fail to decrease the content loss."'
    quote_norm = '"Models with BN/IN layers also obtain qualitatively worse results and consistently higher losses."'
    claims = [
        (tr("Enc-Concat-Dec has the highest content loss"), quote_concat, max(c, key=c.get) == cat),
        (tr("Enc-Concat-Dec has the lowest style loss"), tr("read from the figure (the text: {quote})",
                                                            quote=quote_concat), min(s, key=s.get) == cat),
        (tr("Enc-AdaIN-Dec has the lowest content loss"), tr("read from the figure"), min(c, key=c.get) == ada),
        (tr("the BN and IN decoders have higher content and style losses than Enc-AdaIN-Dec"), quote_norm,
         all(c[n] > c[ada] and s[n] > s[ada] for n in (bn, inn))),
        (tr("the IN decoder is worst of the three AdaIN decoders"),
         '"The results with IN layers are especially poor."', c[inn] > c[bn] and s[inn] > s[bn]),
    ]
    rows = [{"claim": claim, "source": source, "holds": None if random_weights else bool(holds)}
            for claim, source, holds in claims]
    if random_weights:
        verdict = not_checked()
    else:
        n_ok = sum(r["holds"] for r in rows)
        verdict = tr("{held} of {total} of the paper's claims hold", held=n_ok, total=len(rows))
    return {"checked": not random_weights, "verdict": verdict, "claims": rows}


def format_checks(report: dict) -> str:
    """:func:`fig6_checks`' (or :func:`fig1_check`'s) report as lines to print."""
    lines = [f"{report['verdict']}"]
    for r in report["claims"]:
        mark = {True: tr("yes"), False: tr("NO"), None: "-"}[r["holds"]]
        lines.append(f"  [{mark:>3}] {r['claim']}  ({r['source']})")
    return "\n".join(lines)


def plot_fig6(logs: Mapping[str, Sequence[dict]], axes=None, *, random_weights: bool, xmax: int | None = None,
              smooth: int = 1):
    """Fig. 6: style and content loss of each variant over its training iterations (``logs``: name -> the
    log rows of :func:`adain_lesson.train.read_log`), a moving average of ``smooth`` logged points, log
    scale. The iteration axis runs from 0 to ``xmax`` (default: the longest run; the paper's figure runs to
    :data:`FIG6_PAPER_ITERATIONS`). The titles say "random weights" when ``random_weights``."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    from .viz import moving_average

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(11, 4.0))
    else:
        fig = axes[0].figure
    last = max((r["iteration"] for rows in logs.values() for r in rows), default=1)
    for ax, key in zip(axes, ("style", "content")):
        for name, rows in logs.items():
            ax.plot([r["iteration"] for r in rows], moving_average([float(r[key]) for r in rows], smooth),
                    label=name, lw=1.3)
        ax.set_yscale("log")
        ax.yaxis.set_minor_formatter(NullFormatter())  # readable ticks: label the decades only
        ax.set_xlim(0, xmax or last)
        ax.set_xlabel(tr("Iteration"), fontsize=10)
        ax.set_ylabel(_loss_label(key), fontsize=10)
        ax.tick_params(labelsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        avg = tr(", moving average of {smooth}", smooth=smooth) if smooth > 1 else ""
        ax.set_title(tr("Fig. 6: {loss} during training", loss=_loss_label(key)) + avg
                     + _random_suffix(random_weights), fontsize=9)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------------------------
# Section 4: IN vs BN (Fig. 1)
# ------------------------------------------------------------------------------------------------


def fig1_curves(
    model: StyleTransfer,
    contents: Tensor,
    target: Tensor,
    normalizer: Tensor,
    *,
    steps: int = 1000,
    batch_size: int = 8,
    width: int = 32,
    lr: float = 1e-3,
    seed: int = 0,
    progress: bool = False,
) -> dict:
    """The numbers behind Fig. 1: the style-loss curves of a single-style texture network with IN and with
    BN, trained on three versions of ``contents [N, 3, H, W]`` (:func:`adain_lesson.texture_net.content_sets`:
    original, contrast-normalized, and style-normalized to ``normalizer`` by ``model``) to stylize with the
    one ``target`` style. The paper: "We run the code of improved texture networks [52] to perform
    single-style transfer, with IN or BN layers." Ours (our choices): :class:`~adain_lesson.texture_net.TextureNet`
    trained with the mean/std style loss (Eq. 13) on ``model``'s encoder, the AdaIN model as the style
    normalizer (the paper: "a pretrained style transfer network provided by [24]"). Every run starts from
    the same initial weights (``seed``).

    Returns ``{"curves": {set: {"instance": [...], "batch": [...]}}, "ratio_bn_over_in": {set: float},
    "settings": {...}}``: the ratio is BN's over IN's mean style loss over the last tenth of the steps.
    """
    from tqdm.auto import tqdm

    from . import texture_net as tn

    device = model.device
    sets = tn.content_sets(contents.to(device), model, normalizer.to(device))
    curves: dict[str, dict[str, list[float]]] = {}
    bar = tqdm(total=len(sets) * len(tn.NORMS), desc="Fig. 1 runs", unit="run", disable=not progress)
    for set_name, images in sets.items():
        curves[set_name] = {}
        for norm in tn.NORMS:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)  # the same initial weights for every run
                net = tn.TextureNet(norm, width=width)
            hist = tn.train_texture_net(net.to(device), images, target.to(device), model.encoder, steps=steps,
                                        batch_size=batch_size, lr=lr, seed=seed)
            curves[set_name][norm] = hist.style_loss
            bar.update(1)
    bar.close()
    tail = max(1, steps // 10)
    ratio = {name: (sum(c["batch"][-tail:]) / tail) / max(sum(c["instance"][-tail:]) / tail, 1e-30)
             for name, c in curves.items()}
    return {"curves": curves, "ratio_bn_over_in": ratio,
            "settings": {"steps": steps, "batch_size": batch_size, "width": width, "lr": lr, "seed": seed,
                         "contents": int(contents.shape[0]), "size": [int(contents.shape[-2]), int(contents.shape[-1])],
                         "style_loss": "mean_std (Eq. 13)",
                         "weights": weights_kind(model), "device": str(device)}}


FIG1_TITLES = LazyTable(lambda: {"original": tr("(a) original images"),
                                 "contrast_normalized": tr("(b) contrast normalized"),
                                 "style_normalized": tr("(c) style normalized")})


def fig1_check(result: dict, *, random_weights: bool) -> dict:
    """The paper's reading of Fig. 1 as a check on :func:`fig1_curves`: "the improvement brought by IN become
    much smaller when images are already style normalized", i.e. BN/IN's final style-loss ratio is smaller
    for (c) than for (a). With ``random_weights`` it is not checked (:func:`not_checked`)."""
    r = result["ratio_bn_over_in"]
    holds = None if random_weights else bool(r["original"] > r["style_normalized"])
    claim = {"claim": tr("IN's advantage over BN (BN/IN final style loss) is smaller on style-normalized images "
                         "than on the originals"),
             "source": '"the improvement brought by IN become much smaller when images are already style normalized"',
             "holds": holds}
    if random_weights:
        verdict = not_checked()
    else:
        verdict = tr("the paper's claim holds") if holds else tr("the paper's claim does NOT hold")
    return {"checked": not random_weights, "verdict": verdict, "claims": [claim]}


def plot_fig1(result: dict, axes=None, *, random_weights: bool | None = None, smooth: int | None = None):
    """Fig. 1's three panels from :func:`fig1_curves`: style loss of the BN and IN networks over training
    iterations, a moving average of ``smooth`` steps (default: steps / 30). The paper's Fig. 1 runs to 5000
    iterations on linear axes (read from the figure); our step count and the log scale of the loss axis are
    ours, and the axis labels say so. Titles say "random weights" when ``random_weights`` (default: from the
    result's settings)."""
    import matplotlib.pyplot as plt

    from .viz import moving_average

    if random_weights is None:
        random_weights = result.get("settings", {}).get("weights") == "random"
    curves = result["curves"]
    if axes is None:
        fig, axes = plt.subplots(1, len(curves), figsize=(14, 3.8), sharey=True, squeeze=False)
        axes = axes[0]
    else:
        fig = axes[0].figure
    steps = max(len(v) for c in curves.values() for v in c.values())
    k = smooth or max(1, steps // 30)
    for ax, (set_name, c) in zip(axes, curves.items()):
        for norm, label in (("batch", "Batch Norm"), ("instance", "Instance Norm")):
            ax.plot(moving_average(c[norm], k), label=label)
        ax.set_yscale("log")
        ax.set_xlabel(tr("Iteration (ours: {steps}; the paper's Fig. 1: 5000)", steps=steps), fontsize=9)
        ax.tick_params(labelsize=9)
        ax.set_title(tr("Fig. 1 {panel}", panel=FIG1_TITLES.get(set_name, set_name))
                     + _random_suffix(random_weights, result.get("settings", {}).get("weights")), fontsize=9)
    axes[0].set_ylabel(tr("style loss (Eq. 13), log scale (ours)"), fontsize=10)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    return fig




# ------------------------------------------------------------------------------------------------
# One figure end to end, for the command line
# ------------------------------------------------------------------------------------------------

#: The quantitative figures :func:`reproduce` makes (Table 1: :func:`adain_lesson.bench.reproduce_table1`).
QUANTITATIVE = ("1", "3", "5", "6")
#: File names (without extension) of what :func:`reproduce` writes.
QUANTITATIVE_STEMS = {"1": "fig01_in_vs_bn", "3": "fig03_losses", "5": "fig05_ablation_samples",
                      "6": "fig06_training_curves"}

# The sizes and step counts of each mode. Full mode: the paper's where it gives them (test images of
# "512 × 512"; Gatys et al.'s 500 iterations: "We run 500 iterations of [16] using Johnson's public
# implementation", Section 7.1, footnote 1; 30,000 iterations on Fig. 6's axis, read from the figure), else ours
# (Fig. 1's 1000 steps: the paper's Fig. 1 runs to 5000, read from the figure).
# Smoke mode: tiny, seconds on a CPU.
_FULL = {"fig1_size": 256, "fig1_crops": 8, "fig1_steps": 1000, "fig1_batch": 8, "fig1_width": 32,
         "fig3_size": 512, "fig3_gatys_steps": 500, "fig3_every": 10, "fig3_texture_steps": 1000,
         "fig3_texture_batch": 4, "fig3_texture_width": 16,
         "ablation_load": 512, "ablation_crop": 256, "ablation_batch": 8, "ablation_iterations": FIG6_PAPER_ITERATIONS,
         "ablation_log_every": 50, "ablation_checkpoint_every": 1000, "fig5_size": 512}
_SMOKE = {"fig1_size": 32, "fig1_crops": 1, "fig1_steps": 2, "fig1_batch": 2, "fig1_width": 4,
          "fig3_size": 32, "fig3_gatys_steps": 3, "fig3_every": 1, "fig3_texture_steps": 1,
          "fig3_texture_batch": 2, "fig3_texture_width": 4,
          "ablation_load": 40, "ablation_crop": 32, "ablation_batch": 2, "ablation_iterations": 3,
          "ablation_log_every": 1, "ablation_checkpoint_every": 3, "fig5_size": 32}
#: The paper's images used in full mode (the authors' repository's; the paper's own test sets, "randomly
#: chosen from the test set of the WikiArt dataset [39] and MS-COCO [36]", are not published).
_FIG3_STYLES = ("antimonocromatismo.jpg", "asheville.jpg", "brushstrokes.jpg", "contrast_of_forms.jpg",
                "en_campo_gris.jpg", "goeritz.jpg", "impronte_d_artista.jpg", "la_muse.jpg", "sketch.png",
                "woman_with_hat_matisse.jpg")
_FIG5_PAIRS = (("chicago.jpg", "asheville.jpg"), ("cornell.jpg", "woman_with_hat_matisse.jpg"),
               ("sailboat.jpg", "sketch.png"))


def _square(img: Tensor, side: int) -> Tensor:
    """The centre ``side x side`` square of an image whose shorter side is at least ``side``."""
    h, w = img.shape[-2:]
    top, left = (h - side) // 2, (w - side) // 2
    return img[:, top : top + side, left : left + side]


def _loader(smoke: bool, mirror: str | os.PathLike | None):
    from . import hub, images

    def load(name: str, side: int, square: bool = True, scale: float = 1.0) -> Tensor:
        shorter = int(round(side * scale))
        img = images.sample_image(name, shorter) if smoke else images.load_image(hub.fetch(name, mirror=mirror),
                                                                                  shorter)
        return _square(img, side) if square else img

    return load


def _random_crops(img: Tensor, n: int, side: int, gen: torch.Generator) -> list[Tensor]:
    out = []
    for _ in range(n):
        top = int(torch.randint(0, img.shape[-2] - side + 1, (1,), generator=gen))
        left = int(torch.randint(0, img.shape[-1] - side + 1, (1,), generator=gen))
        out.append(img[:, top : top + side, left : left + side])
    return out


def _ablation_logs(model: StyleTransfer, out_dir: Path, cfg: dict, *, smoke: bool, weights: str,
                   content_dir: str | None, style_dir: str | None, progress: bool) -> tuple[dict, dict]:
    """Train (or reuse, or resume) the four decoders of :data:`ABLATION_VARIANTS` under ``out_dir/runs``;
    returns ``(logs, checkpoints)`` by name."""
    from . import data, hub, images
    from . import train as T

    if smoke and content_dir is None:
        root = out_dir / "runs" / "data"
        content_dir, style_dir = str(root / "content"), str(root / "style")
        for name in images.SAMPLE_CONTENTS:
            if not (root / "content" / f"{name}.png").is_file():
                images.save_image(images.sample_image(name, cfg["ablation_load"]), root / "content" / f"{name}.png")
        for name in images.SAMPLE_STYLES:
            if not (root / "style" / f"{name}.png").is_file():
                images.save_image(images.sample_image(name, cfg["ablation_load"]), root / "style" / f"{name}.png")
    if content_dir is None:
        content_dir = str(data.download_dataset("coco-val2017", hub.cache_dir() / "datasets"))
    if style_dir is None:
        style_dir = str([hub.fetch(name) for name in hub.manifest("style")][0].parent)
    logs, checkpoints = {}, {}
    for name, (fusion, norm) in ABLATION_VARIANTS.items():
        config = T.TrainConfig(
            content_dir=content_dir, style_dir=style_dir, out=str(out_dir / "runs" / name), fusion=fusion,
            decoder_norm=norm, load_size=cfg["ablation_load"], crop_size=cfg["ablation_crop"],
            batch_size=cfg["ablation_batch"], max_iter=cfg["ablation_iterations"], log_every=cfg["ablation_log_every"],
            checkpoint_every=cfg["ablation_checkpoint_every"], sample_every=0, progress=progress,
            encoder="random" if smoke else str(weights), device=str(model.device), seed=0,  # one data order for all
            workers=0 if smoke else -1, resume="auto")  # a finished run is reused, a stopped one resumed
        run = T.train(config)
        if run.interrupted:  # a figure is never drawn from a partial run: stop here, as the signal asked
            print(tr("{signal} during the training of {name} (iteration {iteration} of {total}, checkpoint written): "
                     "Figs. 5 and 6 are not drawn from a partial run; run the same command again to resume it",
                     signal=run.stopped, name=repr(name), iteration=run.iteration, total=config.max_iter),
                  file=sys.stderr)
            raise KeyboardInterrupt
        logs[name] = T.read_log(Path(config.out) / "log.jsonl")
        checkpoints[name] = run.checkpoint
    return logs, checkpoints


def reproduce(
    fig: str,
    model: StyleTransfer,
    gatys_vgg: Encoder,
    out_dir: str | os.PathLike,
    *,
    smoke: bool,
    weights: str = "auto",
    progress: bool = True,
    mirror: str | os.PathLike | None = None,
    fig3_style_loss: str = "mean_std",
    iterations: int | None = None,
    content_dir: str | None = None,
    style_dir: str | None = None,
) -> tuple[list[Path], list[str]]:
    """Make figure ``fig`` (one of :data:`QUANTITATIVE`) end to end and write ``<stem>.png`` plus the numbers
    behind it (``<stem>.json``, and ``<stem>.csv`` for curves) into ``out_dir``.

    ``model`` and ``gatys_vgg`` (the VGG-19 to relu5_1 with the same weights, Fig. 3) come from the caller;
    ``smoke`` picks the built-in images and tiny sizes (random weights: mechanics only), else the paper's
    images and sizes. Figs. 5 and 6 share four training runs under ``out_dir/runs`` (``resume="auto"``: a
    finished run is reused, an interrupted one resumed), on ``content_dir``/``style_dir`` (default: MS-COCO
    val2017 and the authors' repository's style images; the paper: MS-COCO and WikiArt) for ``iterations``
    (default: 30,000 as in the paper's Fig. 6, 3 in smoke mode). Returns the paths written and the lines to
    print (verdicts, or "not checked: random weights").
    """
    fig = str(fig)
    if fig not in QUANTITATIVE:
        raise UserError(f"unknown quantitative figure {fig!r}: choose one of {', '.join(QUANTITATIVE)}", param="fig")
    cfg = dict(_SMOKE if smoke else _FULL)
    if iterations is not None:
        if iterations < 1:
            raise UserError(f"iterations must be at least 1, got {iterations}", param="iterations")
        cfg["ablation_iterations"] = iterations
        cfg["ablation_checkpoint_every"] = min(cfg["ablation_checkpoint_every"], iterations)
    out_dir = Path(out_dir)
    rnd = bool(model.random_weights)
    load = _loader(smoke, mirror)
    stem = QUANTITATIVE_STEMS[fig]
    lines: list[str] = []
    from . import figures

    if fig == "1":
        side = cfg["fig1_size"]
        if smoke:
            sources = [load(n, side, square=False, scale=1.25) for n in ("grace_hopper", "house", "mountains")]
            target, normalizer = load("mosaic", side), load("waves", side)
        else:
            from . import hub

            sources = [load(n, side, square=False, scale=1.5) for n in hub.manifest("content")]
            target, normalizer = load("la_muse.jpg", side), load("brushstrokes.jpg", side)
        gen = torch.Generator().manual_seed(0)
        contents = torch.stack([c for img in sources for c in _random_crops(img, cfg["fig1_crops"], side, gen)])
        result = fig1_curves(model, contents, target, normalizer, steps=cfg["fig1_steps"],
                             batch_size=cfg["fig1_batch"], width=cfg["fig1_width"], progress=progress)
        check = fig1_check(result, random_weights=rnd)
        lines.append("Fig. 1: " + format_checks(check))
        table = [{"set": name, "norm": norm, "step": i + 1, "style_loss": v}
                 for name, c in result["curves"].items() for norm, vals in c.items() for i, v in enumerate(vals)]
        paths = figures.save_plot(plot_fig1(result, random_weights=rnd), result | {"check": check}, out_dir, stem,
                                  table)
        return paths, lines
    if fig == "3":
        side = cfg["fig3_size"]
        if smoke:
            contents = [load(n, side) for n in ("grace_hopper", "house")]
            styles = [load("mosaic", side)]
        else:
            from . import hub

            contents = [load(n, side) for n in hub.manifest("content")]
            styles = [load(n, side) for n in _FIG3_STYLES]
        result = fig3_losses(model, contents, styles, gatys_vgg, gatys_steps=cfg["fig3_gatys_steps"],
                             score_every=cfg["fig3_every"], texture_steps=cfg["fig3_texture_steps"],
                             texture_batch=cfg["fig3_texture_batch"], texture_width=cfg["fig3_texture_width"],
                             style_loss=fig3_style_loss, progress=progress)
        g = result["gatys"]
        table = [{"iteration": it, **{f"gatys_{k}": g[k][i] for k in g}} for i, it in enumerate(result["iterations"])]
        for key in ("adain", "texture_net", "content_image", "style_image"):
            lines.append(tr("Fig. 3 {method:14s} content {content:.4g}  style {style:.4g}", method=key,
                            content=result[key]["content"], style=result[key]["style"]))
        lines.append(tr("Fig. 3 Gatys et al. at {iterations} it.: content {content:.4g}  style {style:.4g}",
                        iterations=result["iterations"][-1], content=g["content"][-1], style=g["style"][-1]))
        if rnd:
            lines.append(tr("Fig. 3: not meaningful in smoke mode (random weights): these numbers show the mechanics "
                            "only"))
        paths = figures.save_plot(plot_fig3(result, random_weights=rnd), result, out_dir,
                                  stem if fig3_style_loss == "mean_std" else stem + "_gram_extra", table)
        return paths, lines
    logs, checkpoints = _ablation_logs(model, out_dir, cfg, smoke=smoke, weights=weights, content_dir=content_dir,
                                       style_dir=style_dir, progress=progress)
    if fig == "6":
        final = final_losses(logs)
        checks = fig6_checks(final, random_weights=rnd)
        lines.append("Fig. 6: " + format_checks(checks))
        xmax = cfg["ablation_iterations"]
        smooth = 1 if smoke else 10
        table = [{"variant": name, "iteration": r["iteration"], "content": r["content"], "style": r["style"]}
                 for name, rows in logs.items() for r in rows]
        numbers = {"final": final, "checks": checks, "iterations": xmax, "variants": dict(ABLATION_VARIANTS),
                   "weights": "random" if rnd else "pretrained"}
        paths = figures.save_plot(plot_fig6(logs, random_weights=rnd, xmax=xmax, smooth=smooth), numbers, out_dir,
                                  stem, table)
        return paths, lines
    side = cfg["fig5_size"]
    if smoke:
        pairs = [(load("grace_hopper", side), load("mosaic", side)), (load("house", side), load("waves", side))]
    else:
        pairs = [(load(c, side), load(s, side)) for c, s in _FIG5_PAIRS]
    variants = {}
    for name, path in checkpoints.items():
        decoder, _ = decoder_from_checkpoint(path)
        variants[name] = (decoder.to(model.device), ABLATION_VARIANTS[name][0])
    variants["random decoder" if rnd else "released decoder"] = (model.decoder, "adain")
    grid, settings = fig5_ablation_grid(model.encoder, variants, pairs, random_weights=rnd)
    settings |= {"iterations": cfg["ablation_iterations"]}
    return list(figures.save_figure(grid, settings, out_dir, stem)), lines
