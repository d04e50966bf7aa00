"""The numbers of the paper's Section 7: the quantitative comparison (Section 7.1, Fig. 3) and the
ablation samples (Section 7.2, Figs. 5 and 6).

- :func:`evaluate_losses`: Eqs. 12-13 as evaluation metrics for any method's output;
- :func:`fig3_losses` and :func:`plot_fig3`: Fig. 3, Gatys et al. over iterations against the feed-forward
  methods; :func:`log_steps` gives the iterations scored;
- :func:`fig5_ablation_grid`: Enc-AdaIN, Enc-Concat, BN and IN decoders side by side.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .errors import UserError
from .figures import tile_grid
from .losses import adain_losses, adain_targets
from .model import StyleTransfer, fuse
from .vgg import Encoder

__all__ = ["evaluate_losses", "fig3_losses", "fig5_ablation_grid", "log_steps", "plot_fig3"]


def evaluate_losses(encoder: Encoder, content: Tensor, style: Tensor, output: Tensor,
                    reduction: str = "mse") -> tuple[Tensor, Tensor]:
    """The paper's evaluation losses of a stylized ``output`` for ``(content, style)`` (Section 7.1, Fig. 3).

    ``L_c = || f(output) - t ||_2`` with ``t = AdaIN(f(c), f(s))`` (Eq. 12, at relu4_1) and
    ``L_s = sum_i || mu(phi_i(output)) - mu(phi_i(s)) ||_2 + || sigma(phi_i(output)) - sigma(phi_i(s)) ||_2``
    over relu1_1 ... relu4_1 (Eq. 13): :func:`adain_lesson.losses.adain_losses`, the same helper as training
    (:func:`adain_lesson.train.training_losses`), with the same reduction (``"mse"``: mean squared errors).
    Any method's output can be scored this way: Gatys et al.'s optimised image, a texture network's, or
    AdaIN's. Images are ``[3, H, W]`` or ``[N, 3, H, W]`` in [0, 1] on the encoder's device; ``output``
    must have the content's size (the style may differ). Returns two scalar tensors (no gradient).
    """
    content, style, output = (x.unsqueeze(0) if x.dim() == 3 else x for x in (content, style, output))
    if output.shape[-2:] != content.shape[-2:]:
        raise UserError(f"output {tuple(output.shape[-2:])} and content {tuple(content.shape[-2:])} differ in "
                        "size: crop or resize the output to the content's size")
    with torch.no_grad():
        _, t, style_feats = adain_targets(encoder, content, style)
        loss_c, loss_s = adain_losses(encoder, output, t, style_feats, reduction)  # Eqs. 12-13
    return loss_c, loss_s


def log_steps(steps: int, per_decade: int = 4) -> list[int]:
    """About ``per_decade`` log-spaced iteration numbers in ``[1, steps]``, always including 1 and ``steps``."""
    if steps < 1:
        raise UserError(f"steps must be at least 1, got {steps}")
    n = max(2, int(math.ceil(math.log10(max(steps, 2)) * per_decade)) + 1)
    return sorted({max(1, min(steps, round(10 ** (math.log10(steps) * k / (n - 1))))) for k in range(n)} | {steps})


def fig3_losses(
    model: StyleTransfer,
    contents: Sequence[Tensor],
    styles: Sequence[Tensor],
    gatys_vgg: Encoder,
    *,
    gatys_steps: int = 500,
    texture_steps: int = 1000,
    texture_contents: Tensor | None = None,
    texture_batch: int = 4,
    texture_width: int = 16,
    seed: int = 0,
) -> dict:
    """The numbers behind Fig. 3: style and content loss (Eqs. 12-13, :func:`evaluate_losses` with the
    model's encoder) of three methods, averaged over every (content, style) pair of ``contents x styles``.

    - Gatys et al.: L-BFGS from white noise with :func:`adain_lesson.gatys.optimize_image`'s default (Gram)
      losses on ``gatys_vgg`` (relu5_1, e.g. :func:`adain_lesson.gatys.gatys_encoder`), scored after each
      step of :func:`log_steps` ``(gatys_steps)``;
    - a texture network (Ulyanov et al.; :class:`adain_lesson.texture_net.TextureNet` with IN) trained for
      ``texture_steps`` Adam steps on ``texture_contents`` (default: the contents themselves, a favour to it)
      with Gatys et al.'s Gram loss, **one network per style**; scored once;
    - AdaIN (``model``): one feed-forward pass per pair (Eq. 10); scored once.

    Images are ``[3, H, W]`` in [0, 1], all contents one size (multiples of 8). Returns
    ``{"iterations": [...], "gatys": {"content": [...], "style": [...]}, "adain": {"content", "style"},
    "texture_net": {"content", "style"}, "pairs": n, "settings": {...}}`` with plain floats.
    """
    from .gatys import optimize_image
    from .texture_net import TextureNet, train_texture_net

    if not contents or not styles:
        raise UserError("fig3_losses needs at least one content and one style image")
    if any(c.shape != contents[0].shape for c in contents) or contents[0].shape[-1] % 8 or contents[0].shape[-2] % 8:
        raise UserError("all contents must have one size, with sides multiples of 8: crop them to one square size")
    device = model.device
    encoder = model.encoder
    checkpoints = log_steps(gatys_steps)
    gatys_sum = torch.zeros(len(checkpoints), 2)
    adain_sum = torch.zeros(2)
    texture_sum = torch.zeros(2)
    train_set = torch.stack(list(contents)) if texture_contents is None else texture_contents
    for j, style in enumerate(styles):
        s = style.to(device)
        with torch.random.fork_rng(devices=[]):  # seeded initial weights, the caller's RNG untouched
            torch.manual_seed(seed + j)
            net = TextureNet("instance", width=texture_width)
        net = net.to(device)
        train_texture_net(net, train_set.to(device), s, encoder, steps=texture_steps, batch_size=texture_batch,
                          style_loss="gram", style_weight=1.0, seed=seed + j)
        net.eval()
        for c in contents:
            c = c.to(device)
            with torch.no_grad():
                adain_out = model.stylize(c, s).clamp(0, 1)
                texture_out = net(c.unsqueeze(0))
            adain_sum += torch.stack(evaluate_losses(encoder, c, s, adain_out)).cpu()
            texture_sum += torch.stack(evaluate_losses(encoder, c, s, texture_out)).cpu()
            scores: dict[int, Tensor] = {}

            def score(step: int, image: Tensor, _losses: dict, c: Tensor = c, s: Tensor = s,
                      scores: dict[int, Tensor] = scores) -> None:
                if step in checkpoints:
                    scores[step] = torch.stack(evaluate_losses(encoder, c, s, image)).cpu()

            optimize_image(gatys_vgg, c, s, steps=gatys_steps, seed=seed, callback=score, every=1)
            last = scores[max(scores)]  # L-BFGS may stop early when the gradient vanishes: hold the last value
            gatys_sum += torch.stack([scores.get(k, last) for k in checkpoints])
    n = len(contents) * len(styles)
    g = (gatys_sum / n).tolist()
    return {
        "iterations": checkpoints,
        "gatys": {"content": [row[0] for row in g], "style": [row[1] for row in g]},
        "adain": dict(zip(("content", "style"), (adain_sum / n).tolist())),
        "texture_net": dict(zip(("content", "style"), (texture_sum / n).tolist())),
        "pairs": n,
        "settings": {"gatys_steps": gatys_steps, "texture_steps": texture_steps, "texture_width": texture_width,
                     "size": [int(contents[0].shape[-2]), int(contents[0].shape[-1])],
                     "weights": "random" if model.random_weights else "pretrained", "device": str(device)},
    }


def plot_fig3(result: dict, ax_pair=None):
    """Fig. 3's two panels from :func:`fig3_losses`: style and content loss against Gatys et al.'s
    iterations (log scale), with horizontal lines for the feed-forward methods. Returns the figure."""
    import matplotlib.pyplot as plt

    if ax_pair is None:
        fig, ax_pair = plt.subplots(1, 2, figsize=(11, 3.8))
    else:
        fig = ax_pair[0].figure
    for ax, key in zip(ax_pair, ("style", "content")):
        ax.plot(result["iterations"], result["gatys"][key], "o-", ms=3, label="Gatys et al.")
        ax.axhline(result["adain"][key], color="C1", ls="--", label="Ours (AdaIN)")
        ax.axhline(result["texture_net"][key], color="C2", ls=":", label="Ulyanov et al. (one style)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("Gatys et al.: iterations")
        ax.set_ylabel(f"{key} loss (Eq. {13 if key == 'style' else 12})")
        ax.set_title(f"{key.capitalize()} loss, mean of {result['pairs']} pairs")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def fig5_ablation_grid(
    encoder: Encoder,
    variants: dict[str, tuple[nn.Module, str]],
    pairs: Sequence[tuple[Tensor, Tensor]],
) -> tuple[Tensor, dict]:
    """Fig. 5: for each (content, style) pair one row: content, style, then each variant's output.

    ``variants`` maps a name (e.g. "Enc-AdaIN") to ``(decoder, fusion)``; the decoder reads
    :func:`adain_lesson.model.fuse` ``(f(c), f(s), fusion)`` (AdaIN, Eq. 9, or Enc-Concat). Images are
    ``[3, H, W]`` in [0, 1]; outputs are cropped to the content's size. Returns ``(figure, settings)``.
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
    grid, layout = tile_grid(tiles, cols=2 + len(variants))
    return grid, {"figure": "6", "columns": ["content", "style", *variants], **layout}
