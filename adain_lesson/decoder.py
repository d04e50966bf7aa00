"""The decoder g of Fig. 2, laid out exactly as the released ``decoder.pth``.

It mirrors the encoder up to relu4_1: 29 modules, 3x3 convolutions at 1, 5, 8, 11, 14, 18, 21, 25, 28,
each after a ``ReflectionPad2d(1)`` (Section 6.1: reflection padding avoids border artifacts), nearest
x2 upsampling at 3, 16 and 23 (the paper: pooling layers replaced by nearest up-sampling to reduce
checkerboard effects), and no activation after the last convolution. It has no normalization layers:
Section 7.2 (Figs. 5 and 6) shows that BN and IN in the decoder normalize each sample to one style and
hurt. ``make_decoder(norm="batch" | "instance")`` builds those ablation variants; their module indices
differ, so they cannot load ``decoder.pth``. ``make_decoder(in_channels=1024)`` builds the Enc-Concat
ablation's decoder (Section 7.2), whose first convolution takes the concatenated content and style
relu4_1 features; every other layer is unchanged.
"""

from __future__ import annotations

from torch import nn

from .errors import UserError

__all__ = ["DECODER_CONV_INDICES", "UPSAMPLE_INDICES", "make_decoder"]

#: Where the decoder's convolutions sit (not the VGG's: see :data:`adain_lesson.vgg.VGG_CONV_INDICES`).
DECODER_CONV_INDICES = (1, 5, 8, 11, 14, 18, 21, 25, 28)
UPSAMPLE_INDICES = (3, 16, 23)
# (in, out) channels of the nine convolutions; "U" is a nearest x2 upsampling.
_CFG = [(512, 256), "U", (256, 256), (256, 256), (256, 256), (256, 128), "U", (128, 128), (128, 64), "U",
        (64, 64), (64, 3)]  # fmt: skip


def make_decoder(norm: str | None = None, in_channels: int = 512) -> nn.Sequential:
    """The decoder with random weights. ``norm``: ``None`` (the paper's), ``"batch"`` or ``"instance"``
    to put a normalization layer after every convolution but the last (the ablation of Figs. 5-6).
    ``in_channels``: 512 (AdaIN's output t, Eq. 9) or 1024 for Enc-Concat (``[f(c), f(s)]``, Fig. 5)."""
    if norm not in (None, "batch", "instance"):
        raise UserError(f"unknown decoder norm {norm!r}: use None, 'batch' or 'instance'")
    if in_channels not in (512, 1024):
        raise UserError(f"in_channels must be 512 (AdaIN) or 1024 (Enc-Concat), got {in_channels!r}")
    layers: list[nn.Module] = []
    n_convs = sum(1 for item in _CFG if item != "U")
    seen = 0
    for item in _CFG:
        if item == "U":
            layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
            continue
        cin, cout = item
        if seen == 0:
            cin = in_channels
        seen += 1
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, kernel_size=3)]
        if seen < n_convs:
            if norm == "batch":
                layers.append(nn.BatchNorm2d(cout))
            elif norm == "instance":
                layers.append(nn.InstanceNorm2d(cout, affine=True))
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)
