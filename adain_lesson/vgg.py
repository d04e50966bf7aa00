"""The normalised VGG-19 encoder, laid out exactly as the released ``vgg_normalised.pth``.

The module indices match pytorch-AdaIN's ``net.vgg`` (53 modules), so the released file loads with
``load_state_dict(strict=True)`` and no conversion. Module 0 is a fixed-looking 1x1 convolution 3->3:
in the released file it maps RGB in [0, 1] to the Caffe input (BGR, x255, ImageNet mean removed),
so the encoder's input is simply RGB in [0, 1]. Every 3x3 convolution follows a ``ReflectionPad2d(1)``.

Why the released decoder needs *this* encoder and not torchvision's VGG-19: the decoder was trained
to invert relu4_1 features of the Caffe-derived, *normalised* network (Gatys et al. rescaled each
filter so its mean activation is 1). torchvision's VGG-19 expects a different input scaling and its
activations have different magnitudes, so its relu4_1 features are off the decoder's training
distribution: images come out grey, washed out or noisy. :func:`from_torchvision` folds torchvision's
input normalization into module 0, which fixes the input scaling but not the activation scale; such an
encoder needs its own decoder, trained with ``python -m adain_lesson train``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from .errors import UserError

__all__ = [
    "ADAIN_STYLE_LAYERS",
    "GATYS_STYLE_LAYERS",
    "LAYER_INDEX",
    "POOL_INDEX",
    "VGG_CONV_INDICES",
    "Encoder",
    "from_torchvision",
    "make_vgg",
    "min_side",
]

#: Index of each named ReLU in the 53-module sequence (its output is the named feature).
LAYER_INDEX = {
    "relu1_1": 3, "relu1_2": 6,
    "relu2_1": 10, "relu2_2": 13,
    "relu3_1": 17, "relu3_2": 20, "relu3_3": 23, "relu3_4": 26,
    "relu4_1": 30, "relu4_2": 33, "relu4_3": 36, "relu4_4": 39,
    "relu5_1": 43, "relu5_2": 46, "relu5_3": 49, "relu5_4": 52,
}  # fmt: skip
#: Where the max poolings sit in the 53-module sequence.
POOL_INDEX = {"pool1": 7, "pool2": 14, "pool3": 27, "pool4": 40}
#: The layers AdaIN's style loss uses (Section 6.2, Eq. 13): relu1_1, relu2_1, relu3_1, relu4_1.
ADAIN_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
#: Gatys et al.'s style layers (conv1_1 ... conv5_1, here their ReLUs): one more than AdaIN's.
GATYS_STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
#: Where the VGG's convolutions sit: 0 is the 1x1 input conversion, the rest are 3x3.
VGG_CONV_INDICES = (0, 2, 5, 9, 12, 16, 19, 22, 25, 29, 32, 35, 38, 42, 45, 48, 51)
# (in, out) channels of the sixteen 3x3 convolutions, block by block; "M" is a 2x2 max-pool.
_CFG = [(3, 64), (64, 64), "M", (64, 128), (128, 128), "M", (128, 256), (256, 256), (256, 256), (256, 256), "M",
        (256, 512), (512, 512), (512, 512), (512, 512), "M",
        (512, 512), (512, 512), (512, 512), (512, 512)]  # fmt: skip


def make_vgg() -> nn.Sequential:
    """The 53-module normalised VGG-19 with random weights (load the released state dict into it)."""
    layers: list[nn.Module] = [nn.Conv2d(3, 3, kernel_size=1)]
    for item in _CFG:
        if item == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2, padding=0, ceil_mode=True))
        else:
            cin, cout = item
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, kernel_size=3), nn.ReLU()]
    return nn.Sequential(*layers)


def min_side(layers: Sequence[str]) -> int:
    """The smallest image side (px) the VGG can take up to the deepest of ``layers``: each max pooling
    halves the side (rounding up), and the reflection padding of a 3x3 convolution needs at least 2 px.
    For Gatys et al.'s relu5_1 (after four poolings) that is 17 px, for AdaIN's relu4_1 9 px."""
    for name in layers:
        if name not in LAYER_INDEX:
            raise UserError(f"unknown VGG layer {name!r}: choose one of {', '.join(LAYER_INDEX)}")
    deepest = max(layers, key=LAYER_INDEX.__getitem__)
    poolings = sum(1 for index in POOL_INDEX.values() if index < LAYER_INDEX[deepest])
    return 2 ** poolings + 1


class Encoder(nn.Module):
    """A frozen VGG encoder truncated at ``last``; input RGB in [0, 1], shape ``[N, 3, H, W]``.

    ``forward(x)`` returns the ``last`` feature map (relu4_1 for AdaIN, Fig. 2: f(c) of Eq. 9).
    ``features(x, layers)`` runs the network once and returns the named maps, in the order asked.
    The weights are frozen (``requires_grad=False``) and the module stays in eval mode.
    """

    def __init__(self, vgg: nn.Sequential, last: str = "relu4_1") -> None:
        super().__init__()
        if last not in LAYER_INDEX:
            raise UserError(f"unknown VGG layer {last!r}: choose one of {', '.join(LAYER_INDEX)}")
        self.last = last
        self.body = vgg[: LAYER_INDEX[last] + 1]
        for p in self.body.parameters():
            p.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> Encoder:  # noqa: ARG002 - the encoder is always in eval mode
        return super().train(False)

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x)

    def features(self, x: Tensor, layers: Sequence[str] = ADAIN_STYLE_LAYERS) -> list[Tensor]:
        """The feature maps at ``layers`` (names of :data:`LAYER_INDEX`), computed in one pass."""
        wanted = {}
        for name in layers:
            if name not in LAYER_INDEX:
                raise UserError(f"unknown VGG layer {name!r}: choose one of {', '.join(LAYER_INDEX)}")
            if LAYER_INDEX[name] >= len(self.body):
                raise UserError(f"layer {name} lies past this encoder's last layer {self.last}")
            wanted[LAYER_INDEX[name]] = name
        out: dict[str, Tensor] = {}
        deepest = max(wanted)
        for i, module in enumerate(self.body):
            x = module(x)
            if i in wanted:
                out[wanted[i]] = x
            if i == deepest:
                break
        return [out[name] for name in layers]


def from_torchvision(state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Convert a torchvision ``vgg19`` state dict into this layout, with input normalization folded in.

    torchvision's VGG expects ``(x - mean) / std`` with the ImageNet mean and std. Module 0 (1x1, 3->3)
    absorbs that: weight ``diag(1/std)``, bias ``-mean/std``, so the result takes RGB in [0, 1] like
    the released encoder. The classifier is dropped. See the module docstring for why the *released*
    decoder still needs the released encoder.
    """
    convs = sorted(
        {int(k.split(".")[1]) for k in state_dict if k.startswith("features.") and k.endswith(".weight")}
    )
    if len(convs) != 16:
        raise UserError(f"expected the 16 convolutions of torchvision's vgg19, found {len(convs)}")
    mean = torch.tensor([0.485, 0.456, 0.406])
    std = torch.tensor([0.229, 0.224, 0.225])
    out = {"0.weight": torch.diag(1.0 / std).view(3, 3, 1, 1), "0.bias": -mean / std}
    for src, dst in zip(convs, VGG_CONV_INDICES[1:]):
        out[f"{dst}.weight"] = state_dict[f"features.{src}.weight"].clone()
        out[f"{dst}.bias"] = state_dict[f"features.{src}.bias"].clone()
    return out
