"""Images in and out: robust loading into float tensors in [0, 1], atomic saving, built-in samples.

Every loader returns a ``float32`` tensor of shape ``[3, H, W]`` (RGB, values in [0, 1]). A user's bad
file (missing, empty, truncated, not an image, too small, a decompression bomb) raises
:class:`~adain_lesson.errors.UserError` with one line that names the problem and the fix.
"""

from __future__ import annotations

import io
import math
import os
import struct
from pathlib import Path
from typing import Union

import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from . import memory
from .errors import UserError
from .files import atomic_write, cannot_read
from .i18n import tr

#: The smallest side the encoder accepts: relu4_1 sits after three 2x poolings, and its 3x3 reflection
#: padding needs at least 2 positions per side there (and relu5_1, for Gatys, one pooling more).
MIN_SIDE = 16
#: Refuse images with more pixels than this before decoding them (about 16k x 16k): a guard against
#: decompression bombs and accidental out-of-memory errors. Pass ``max_pixels`` to change it.
MAX_PIXELS = 256_000_000
#: The most pixels an image may have *after* resizing (8000 x 8000, 768 MB as float32): the budget, not the
#: aspect ratio, decides. A 2000x40 panorama at shorter side 512 (25600x512, 13 M px) is fine; a 100000x3
#: strip at shorter side 64 (2133333x64, 137 M px, 1.6 GB of float32) is not. Lower of this and
#: ``max_pixels``.
MAX_RESIZED_PIXELS = 64_000_000
#: Extensions the folder walkers treat as images (compared in lower case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")

ImageSource = Union[str, os.PathLike, bytes, bytearray, Image.Image]

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS",
    "MAX_RESIZED_PIXELS",
    "MIN_SIDE",
    "SAMPLE_CONTENTS",
    "SAMPLE_STYLES",
    "ImageSource",
    "center_crop",
    "check_image",
    "fit_mask",
    "image_size",
    "list_images",
    "load_image",
    "load_mask",
    "open_image",
    "resize_shorter",
    "sample_image",
    "save_image",
    "shorter_side_shape",
    "split_mask",
    "to_pil",
    "to_tensor",
]


def _describe(src: ImageSource) -> str:
    if isinstance(src, (bytes, bytearray)):
        return f"<{len(src)} bytes>"
    if isinstance(src, Image.Image):
        return "<PIL image>"
    return str(src)


def check_image(src: ImageSource, *, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE,
                preview: int = 1024) -> tuple[int, int]:
    """Check that ``src`` is a readable image of a usable size, without decoding it at full size; returns
    its ``(width, height)`` as stored.

    The header gives the size (checked against ``max_pixels`` and ``min_side``); then a JPEG is decoded at
    a reduced scale (1/2 to 1/8, at least ``preview`` px per side: an 8000x8000 photo costs about 1/64 of
    its full decode) and a PNG's chunks are checked (CRC-32) without inflating them, so a truncated or
    damaged file is still found. Other formats larger than ``preview`` squared are checked as far as PIL's
    ``verify`` goes. Every problem is the :class:`UserError` :func:`open_image` would raise.
    """
    name = _describe(src)
    im = _open_lazy(src, name)
    w, h = im.size
    if w * h > max_pixels:
        raise UserError(tr("image {name} is {w}x{h} = {value:,} pixels, more than the limit of {max_pixels:,}: "
                           "downscale it first (or raise max_pixels if you really mean it)",
                           name=name, w=w, h=h, value=w * h, max_pixels=max_pixels))
    if min(w, h) < min_side:
        raise UserError(tr("image {name} is {w}x{h} px, too small for the VGG encoder: it needs at least "
                           "{min_side} px per side (use a larger image)", name=name, w=w, h=h, min_side=min_side))
    try:
        if im.format == "JPEG":
            im.draft("RGB", (min(w, preview), min(h, preview)))
            im.load()
        elif w * h > preview * preview:
            im.verify()
        else:
            im.load()
    except (OSError, SyntaxError, ValueError, struct.error) as exc:
        raise UserError(tr("image file is truncated or corrupt: {name} ({exc}); download or copy it again",
                           name=name, exc=exc)) from None
    return w, h


def image_size(src: ImageSource) -> tuple[int, int]:
    """The ``(width, height)`` of ``src`` as stored, from its header alone (nothing is decoded)."""
    im = _open_lazy(src, _describe(src))
    return im.size


#: Images with more pixels than this are decoded at a reduced scale when a ``size`` is asked for (a JPEG by its
#: DCT scaling, ``draft``; other formats by ``Image.reduce`` before they become float tensors). Smaller images are
#: decoded in full as before, so the results of ordinary images do not change.
REDUCE_ABOVE = 4096 * 4096


def _decode_bytes(im: Image.Image) -> int:
    """The bytes PIL needs to hold ``im`` decoded (its mode's bands and bit depth), a little rounded up."""
    w, h = im.size
    bands = len(im.getbands())
    depth = 4 if im.mode in ("I", "F", "I;16", "I;16B", "I;16L", "I;16N") else 1
    return w * h * max(bands, 1) * depth + (1 << 20)


def _check_decode(im: Image.Image, name: str) -> None:
    """Refuse (one :class:`UserError` line) to decode an image whose pixels alone need more memory than is free."""
    need, free = _decode_bytes(im), memory.available("cpu")
    if free is not None and need > free:
        w, h = im.size
        raise UserError(tr("image {name} is {w}x{h}: decoding it needs about {need} MB of memory, but only {free} MB "
                           "are free: downscale it first (or free some memory)", name=name, w=w, h=h,
                           need=need // 1_000_000, free=free // 1_000_000))


def _open_lazy(src: ImageSource, name: str) -> Image.Image:
    """``Image.open`` (header only) with the one-line errors of :func:`open_image`."""
    if isinstance(src, Image.Image):
        return src
    if isinstance(src, (bytes, bytearray)):
        if len(src) == 0:
            raise UserError(tr("the image data is empty (0 bytes): upload or pass a real image file"))
        fp: object = io.BytesIO(bytes(src))
    else:
        path = Path(src)
        try:
            if not path.exists():
                raise UserError(tr("image not found: {path} (check the path, or list the folder to see what is "
                                   "there)", path=path))
            if path.is_dir():
                raise UserError(tr("{path} is a folder, not an image (pass one image file)", path=path))
            if path.stat().st_size == 0:
                raise UserError(tr("image file is empty (0 bytes): {path} (download or copy it again)", path=path))
        except OSError as exc:  # a folder on the way we may not enter
            raise cannot_read(path, exc, tr("make it readable by you (chmod u+r), or use a copy you can read")
                              ) from None
        fp = path
    try:
        return Image.open(fp)  # type: ignore[arg-type]
    except PermissionError as exc:  # a file we may not read is "permission denied", not "damaged"
        raise cannot_read(name, exc, tr("make it readable by you (chmod u+r), or use a copy you can read")) from None
    except UnidentifiedImageError:
        raise UserError(tr("not an image file PIL can read: {name} (use a JPEG, PNG, BMP, TIFF or WebP)",
                           name=name)) from None
    except Image.DecompressionBombError as exc:
        raise UserError(tr("image {name} is too large to decode safely ({exc})", name=name, exc=exc)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        # e.g. a JPEG cut off inside its header ("Truncated File Read"), or a damaged PNG chunk
        raise UserError(tr("image file is truncated or damaged: {name} ({exc}); re-save or re-download it",
                           name=name, exc=exc)) from None


def open_image(src: ImageSource, *, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open ``src`` (a path, raw bytes or a PIL image) as an RGB PIL image.

    EXIF orientation is applied; greyscale, palette, RGBA/LA (composited on white), CMYK and 16-bit or
    float images are converted to 8-bit RGB.
    """
    return _open(src, max_pixels=max_pixels)


def _open(src: ImageSource, *, max_pixels: int = MAX_PIXELS, at_least: tuple[int, int] | None = None) -> Image.Image:
    """:func:`open_image`; with ``at_least`` (W, H), an image of more than :data:`REDUCE_ABOVE` pixels is decoded
    at a reduced scale that keeps at least twice that size (a JPEG by ``draft``, others by ``reduce``), and the
    memory its decoding needs is checked before it is decoded."""
    name = _describe(src)
    im = _open_lazy(src, name)
    w, h = im.size
    if w * h > max_pixels:
        raise UserError(
            tr("image {name} is {w}x{h} = {value:,} pixels, more than the limit of {max_pixels:,}: downscale it "
               "first (or raise max_pixels if you really mean it)",
               name=name, w=w, h=h, value=w * h, max_pixels=max_pixels)
        )
    factor = 1
    if at_least is not None and w * h > REDUCE_ABOVE:
        factor = max(1, min(w // max(1, 2 * at_least[0]), h // max(1, 2 * at_least[1])))
        if factor > 1 and im.format == "JPEG":
            im.draft("RGB", (-(-w // factor), -(-h // factor)))  # scales 1/2 to 1/8, never below the request
    if not isinstance(src, Image.Image):
        _check_decode(im, name)
    try:
        with memory.guard(tr("decoding image {name}", name=name), "cpu", tr("downscale it first")):
            im.load()
            left = 1 if factor == 1 else min(im.size[0] // (2 * at_least[0]), im.size[1] // (2 * at_least[1]))
            if left > 1:  # what draft did not do (or a PNG, TIFF ...): average left x left blocks, still in 8 bits
                if im.mode in ("1", "P"):  # palette indices cannot be averaged: colours first
                    im = im.convert("RGBA" if "transparency" in im.info else "RGB")
                elif im.mode.startswith("I;16"):
                    im = im.convert("I")
                im = im.reduce(left)
    except OSError as exc:
        raise UserError(tr("image file is truncated or corrupt: {name} ({exc}); download or copy it again",
                           name=name, exc=exc)) from None
    im = ImageOps.exif_transpose(im)
    return _to_rgb(im)


def _to_rgb(im: Image.Image) -> Image.Image:
    mode = im.mode
    if mode == "RGB":
        return im
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit (or 32-bit integer) greyscale: scale the full range down to 8 bits.
        t = torch.frombuffer(bytearray(im.convert("I").tobytes()), dtype=torch.int32).float()
        top = 65535.0 if mode.startswith("I;16") or t.max() <= 65535 else float(t.max())
        arr = (t / top * 255.0).clamp(0, 255).round().to(torch.uint8).reshape(im.size[1], im.size[0])
        return Image.frombytes("L", im.size, arr.numpy().tobytes()).convert("RGB")
    if mode == "F":
        t = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.float32)
        lo, hi = float(t.min()), float(t.max())
        t = (t - lo) / (hi - lo if hi > lo else 1.0) * 255.0
        arr = t.round().to(torch.uint8).reshape(im.size[1], im.size[0])
        return Image.frombytes("L", im.size, arr.numpy().tobytes()).convert("RGB")
    if mode == "P" and "transparency" in im.info:
        im = im.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return im.convert("RGB")  # L, 1, P, CMYK, YCbCr, LAB, HSV


def to_tensor(im: Image.Image) -> torch.Tensor:
    """An RGB PIL image as a float tensor ``[3, H, W]`` in [0, 1]."""
    data = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8)
    return data.reshape(im.size[1], im.size[0], 3).permute(2, 0, 1).float().div_(255.0)


def to_pil(t: torch.Tensor) -> Image.Image:
    """A tensor ``[3, H, W]`` or ``[1, 3, H, W]`` in [0, 1] as an RGB PIL image (values are clamped)."""
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise UserError(tr("to_pil takes one image, got a batch of {value}: index it first", value=t.shape[0]))
        t = t[0]
    if t.dim() != 3 or t.shape[0] not in (1, 3):
        raise UserError(tr("expected an image tensor [3, H, W], got shape {value}", value=tuple(t.shape)))
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    arr = t.detach().float().cpu().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).contiguous()
    return Image.frombytes("RGB", (arr.shape[1], arr.shape[0]), arr.numpy().tobytes())


def shorter_side_shape(h: int, w: int, size: int) -> tuple[int, int]:
    """The (H, W) that :func:`resize_shorter` gives a ``w`` x ``h`` image for shorter side ``size``."""
    if min(h, w) == size:
        return h, w
    scale = size / min(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def resize_shorter(t: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``[3, H, W]`` so that its shorter side is ``size``, keeping the aspect ratio (antialiased)."""
    h, w = t.shape[-2:]
    if min(h, w) == size:
        return t
    new = shorter_side_shape(h, w, size)
    out = torch.nn.functional.interpolate(
        t.unsqueeze(0), size=new, mode="bilinear", antialias=True, align_corners=False
    )
    return out.squeeze(0).clamp_(0, 1)


def center_crop(t: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size`` x ``size`` square of ``[..., H, W]``."""
    h, w = t.shape[-2:]
    if size > min(h, w):
        raise UserError(tr("cannot crop {size}x{size} from a {w}x{h} image: resize it first or crop smaller",
                           size=size, w=w, h=h))
    top, left = (h - size) // 2, (w - size) // 2
    return t[..., top : top + size, left : left + size]


def load_image(
    src: ImageSource,
    size: int | None = None,
    crop: bool = False,
    *,
    min_side: int = MIN_SIDE,
    max_pixels: int = MAX_PIXELS,
) -> torch.Tensor:
    """Load an image as ``float32 [3, H, W]`` in [0, 1].

    Args:
        src: a path, the raw bytes of a file, or a PIL image.
        size: resize so that the shorter side is ``size`` (``None`` or 0 keeps the original size,
            as the reference ``test.py`` does with ``--content_size 0``).
        crop: then take the central ``size`` x ``size`` square.
        min_side: reject results smaller than this on either side (the encoder needs it).
        max_pixels: reject larger images, before decoding them and (with ``size``) before resizing them.
    """
    if size and size < min_side:
        raise UserError(tr("size {size} is too small: the encoder needs at least {min_side} px per side",
                           size=size, min_side=min_side))
    at_least = None
    if size:  # decode a huge image at a reduced scale: a 13000 x 13000 PNG wanted at 64 px never becomes 2 GB of floats
        w_stored, h_stored = image_size(src)
        if min(w_stored, h_stored) >= 1:
            th, tw = shorter_side_shape(h_stored, w_stored, size)
            at_least = (tw, th)
    im = _open(src, max_pixels=max_pixels, at_least=at_least)
    if size:
        # Check the resized shape before allocating it: a 100000x3 strip at size 64 would become 64 x 2.1M px.
        w0, h0 = im.size
        if at_least is not None and (w0, h0) not in ((w_stored, h_stored), (h_stored, w_stored)):
            w0, h0 = (w_stored, h_stored) if (w0 >= h0) == (w_stored >= h_stored) else (h_stored, w_stored)
        nh, nw = shorter_side_shape(h0, w0, size)
        budget = min(max_pixels, MAX_RESIZED_PIXELS)
        if nh * nw > budget:
            fits = math.isqrt(budget * min(w0, h0) // max(w0, h0))
            while fits >= min_side and math.prod(shorter_side_shape(h0, w0, fits)) > budget:
                fits -= 1
            hint = (tr("choose a smaller size (at most {fits} for this image) or crop it", fits=fits)
                    if fits >= min_side else tr("no size fits: crop it"))
            raise UserError(
                tr("image {src} is {w0}x{h0}; resized to shorter side {size} it would be {nw}x{nh} = {value:,} "
                   "pixels, more than the limit of {budget:,}: {hint} to a less elongated shape first",
                   src=_describe(src), w0=w0, h0=h0, size=size, nw=nw, nh=nh, value=nw * nh, budget=budget, hint=hint)
            )
    with memory.guard(tr("loading image {name}", name=_describe(src)), "cpu", tr("use a smaller size")):
        t = to_tensor(im)
        if size:
            t = resize_shorter(t, size)
            if crop:
                t = center_crop(t, size)
    h, w = t.shape[-2:]
    if min(h, w) < min_side:
        raise UserError(
            tr("image {src} is {w}x{h} px, too small for the VGG encoder: it needs at least {min_side} px per "
               "side (use a larger image or pass a larger size)", src=_describe(src), w=w, h=h, min_side=min_side)
        )
    return t


#: Masks whose aspect ratio differs from the content's by more than this (relative) are refused, not stretched.
MASK_ASPECT_TOLERANCE = 0.05


def fit_mask(m: torch.Tensor, size: tuple[int, int], what: str = "the mask") -> torch.Tensor:
    """Resize a mask ``[..., h, w]`` to ``size`` (H, W) bilinearly (a soft mask stays soft).

    A mask of about the content's shape (aspect ratios within 5%) is resized quietly; a mask of another
    shape raises :class:`UserError` instead of being stretched over the content.
    """
    h0, w0 = int(m.shape[-2]), int(m.shape[-1])
    h, w = int(size[0]), int(size[1])
    if (h0, w0) == (h, w):
        return m
    if min(h0, w0, h, w) <= 0:
        raise UserError(tr("{what} is {w0}x{h0} and the content {w}x{h}: both need at least 1 px per side",
                           what=what, w0=w0, h0=h0, w=w, h=h))
    r0, r = w0 / h0, w / h
    if max(r0, r) / min(r0, r) - 1.0 > MASK_ASPECT_TOLERANCE:
        raise UserError(
            tr("{what} is {w0}x{h0} but the content is {w}x{h}, another shape (aspect {r0:.3g} vs {r:.3g}): make "
               "the mask {w}x{h} like the content (or crop it to that shape)",
               what=what, w0=w0, h0=h0, w=w, h=h, r0=r0, r=r)
        )
    lead = m.shape[:-2]
    out = torch.nn.functional.interpolate(
        m.reshape(1, -1, h0, w0).float(), size=(h, w), mode="bilinear", align_corners=False
    )
    return out.reshape(*lead, h, w)


def load_mask(src: ImageSource | torch.Tensor, size: tuple[int, int] | None = None) -> torch.Tensor:
    """Load a mask as ``float32 [H, W]`` in [0, 1] (white = 1 = this region). Colour masks are averaged.

    ``size`` (H, W) resizes it bilinearly (a soft mask stays soft) with :func:`fit_mask`: a mask of
    another aspect ratio than ``size`` (more than 5% off) raises :class:`UserError`.
    """
    if isinstance(src, torch.Tensor):
        m = src.detach().float()
        if m.dim() == 3:
            m = m.mean(0)
        if m.dim() != 2:
            raise UserError(tr("a mask must be [H, W] (or [C, H, W]), got shape {value}", value=tuple(src.shape)))
    else:
        m = to_tensor(open_image(src)).mean(0)
    if size is not None:
        m = fit_mask(m, size)
    return m


def save_image(t: torch.Tensor, path: str | os.PathLike) -> Path:
    """Save ``[3, H, W]`` in [0, 1] to ``path`` atomically (a temporary name, then a rename).

    The format follows the extension (.png, .jpg, ...); missing parent folders are created.
    """
    path = Path(path)
    fmt = Image.registered_extensions().get(path.suffix.lower())
    if fmt is None:
        raise UserError(tr("unknown image extension {suffix} for {path}: use .png or .jpg",
                           suffix=repr(path.suffix), path=path))
    im = to_pil(t)
    with atomic_write(path, "wb") as f:  # OSError -> one-line UserError; no temporary file left
        im.save(f, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return path


def list_images(folder: str | os.PathLike, recursive: bool = False) -> list[Path]:
    """The image files in ``folder`` (by extension, case-insensitive), sorted by name."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(tr("not a folder: {folder}", folder=folder))
    pattern = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(p for p in pattern if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


# --------------------------------------------------------------------------------------------------
# Built-in samples: made by code, so offline and smoke runs need no download.
# --------------------------------------------------------------------------------------------------

#: Content samples: a photograph bundled with matplotlib, and two drawn scenes with clear structure.
SAMPLE_CONTENTS = ("grace_hopper", "house", "mountains")
#: Style samples: drawn patterns with strong, distinct colour and texture.
SAMPLE_STYLES = ("stripes", "mosaic", "waves", "dots")


def _grid(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    ys = torch.linspace(0, 1, h).view(h, 1).expand(h, w)
    xs = torch.linspace(0, 1, w).view(1, w).expand(h, w)
    return ys, xs


def _paint(canvas: torch.Tensor, region: torch.Tensor, rgb: tuple[float, float, float]) -> None:
    color = torch.tensor(rgb).view(3, 1, 1)
    canvas.copy_(torch.where(region.unsqueeze(0), color.expand_as(canvas), canvas))


def _house(h: int, w: int) -> torch.Tensor:
    y, x = _grid(h, w)
    img = torch.stack([0.45 + 0.4 * y, 0.65 + 0.25 * y, torch.full_like(y, 0.95)])  # sky
    _paint(img, (x - 0.8) ** 2 + (y - 0.18) ** 2 < 0.01, (1.0, 0.85, 0.2))  # sun
    _paint(img, y > 0.72, (0.3, 0.6, 0.25))  # grass
    _paint(img, (x > 0.22) & (x < 0.58) & (y > 0.45) & (y < 0.8), (0.85, 0.75, 0.6))  # walls
    _paint(img, (y < 0.46) & (y > 0.25) & ((x - 0.4).abs() < (y - 0.25) * 1.0), (0.65, 0.15, 0.12))  # roof
    _paint(img, (x > 0.35) & (x < 0.45) & (y > 0.6) & (y < 0.8), (0.35, 0.2, 0.1))  # door
    _paint(img, (x > 0.26) & (x < 0.32) & (y > 0.52) & (y < 0.6), (0.6, 0.85, 1.0))  # window
    _paint(img, (x > 0.48) & (x < 0.54) & (y > 0.52) & (y < 0.6), (0.6, 0.85, 1.0))
    _paint(img, (x > 0.74) & (x < 0.77) & (y > 0.55) & (y < 0.8), (0.4, 0.25, 0.1))  # trunk
    _paint(img, (x - 0.755) ** 2 + (y - 0.5) ** 2 < 0.008, (0.15, 0.45, 0.15))  # crown
    return img


def _mountains(h: int, w: int) -> torch.Tensor:
    y, x = _grid(h, w)
    img = torch.stack([0.95 - 0.4 * y, 0.75 - 0.2 * y, 0.6 + 0.3 * y])  # dusk sky
    ridge1 = 0.45 + 0.12 * torch.sin(x * 9.0) + 0.05 * torch.sin(x * 23.0 + 1.0)
    ridge2 = 0.58 + 0.08 * torch.sin(x * 5.0 + 2.0) + 0.03 * torch.sin(x * 31.0)
    _paint(img, y > ridge1, (0.35, 0.35, 0.5))
    _paint(img, (y > ridge1) & (y < ridge1 + 0.04), (0.95, 0.95, 0.98))  # snow caps
    _paint(img, y > ridge2, (0.2, 0.3, 0.25))
    lake = y > 0.78
    ripple = 0.05 * torch.sin(y * 120.0)
    water = torch.stack([0.2 + ripple, 0.4 + ripple, 0.6 + ripple])
    img = torch.where(lake.unsqueeze(0), water, img)
    return img


def _stripes(h: int, w: int) -> torch.Tensor:
    y, x = _grid(h, w)
    band = ((x + y) * 9.0).floor().remainder(4).long()
    palette = torch.tensor([[0.85, 0.1, 0.1], [0.98, 0.8, 0.1], [0.1, 0.25, 0.7], [0.05, 0.05, 0.05]])
    return palette[band].permute(2, 0, 1).contiguous()


def _mosaic(h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(7)
    y, x = _grid(h, w)
    n = 40
    cy, cx = torch.rand(n, generator=g), torch.rand(n, generator=g)
    d = (y.unsqueeze(-1) - cy) ** 2 + (x.unsqueeze(-1) - cx) ** 2 * (w / h) ** 2
    two = d.topk(2, dim=-1, largest=False).values
    nearest = d.argmin(-1)
    palette = torch.tensor(
        [[0.9, 0.55, 0.1], [0.1, 0.45, 0.6], [0.75, 0.15, 0.3], [0.95, 0.85, 0.55], [0.2, 0.55, 0.3]]
    )
    colors = palette[torch.randint(0, len(palette), (n,), generator=g)]
    img = colors[nearest].permute(2, 0, 1).contiguous()
    edge = (two[..., 1].sqrt() - two[..., 0].sqrt()) < 0.012
    _paint(img, edge, (0.08, 0.06, 0.05))
    return img


def _waves(h: int, w: int) -> torch.Tensor:
    y, x = _grid(h, w)
    phase = torch.sin(x * 14.0 + 3.0 * torch.sin(y * 9.0)) + torch.sin(y * 22.0 + 2.0 * torch.cos(x * 7.0))
    t = (phase + 2.0) / 4.0
    deep, foam = torch.tensor([0.02, 0.12, 0.35]).view(3, 1, 1), torch.tensor([0.85, 0.93, 0.97]).view(3, 1, 1)
    img = deep + (foam - deep) * t.pow(2.5).unsqueeze(0)
    return img


def _dots(h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(11)
    y, x = _grid(h, w)
    img = torch.stack([torch.full_like(y, 0.96), torch.full_like(y, 0.93), torch.full_like(y, 0.82)])
    palette = [(0.85, 0.3, 0.1), (0.1, 0.35, 0.65), (0.95, 0.7, 0.1), (0.3, 0.6, 0.3), (0.5, 0.15, 0.45)]
    for i in range(160):
        cy, cx = torch.rand(2, generator=g).tolist()
        r = 0.015 + 0.035 * float(torch.rand(1, generator=g))
        _paint(img, (y - cy) ** 2 + ((x - cx) * w / h) ** 2 < r * r, palette[i % len(palette)])
    return img


_DRAWN = {
    "house": _house, "mountains": _mountains,
    "stripes": _stripes, "mosaic": _mosaic, "waves": _waves, "dots": _dots,
}  # fmt: skip


def sample_image(name: str, size: int = 256) -> torch.Tensor:
    """A built-in sample ``[3, H, W]`` in [0, 1] with shorter side ``size``; no network needed.

    Contents: ``grace_hopper`` (matplotlib's bundled photograph), ``house``, ``mountains``.
    Styles: ``stripes``, ``mosaic``, ``waves``, ``dots``. Drawn samples are 4:3 landscape.
    """
    if name == "grace_hopper":
        import matplotlib.cbook

        path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
        return load_image(path, size=size)
    if name not in _DRAWN:
        known = ", ".join(SAMPLE_CONTENTS + SAMPLE_STYLES)
        raise UserError(tr("unknown sample image {name}: choose one of {known}", name=repr(name), known=known))
    if size < MIN_SIDE:
        raise UserError(tr("size {size} is too small: the encoder needs at least {MIN_SIDE} px per side",
                           size=size, MIN_SIDE=MIN_SIDE))
    h, w = size, math.ceil(size * 4 / 3)
    if h * w > MAX_PIXELS:
        raise UserError(tr("sample size {size} gives {w}x{h} = {value:,} pixels, more than the limit of "
                           "{MAX_PIXELS:,}: choose a smaller size",
                           size=size, w=w, h=h, value=w * h, MAX_PIXELS=MAX_PIXELS))
    return _DRAWN[name](h, w).clamp(0, 1).contiguous()


def split_mask(kind: str, height: int, width: int, softness: float = 0.0) -> torch.Tensor:
    """A two-region mask ``[H, W]`` in [0, 1]: 1 on the first region, 0 on the second.

    ``kind``: ``left`` (left half), ``top`` (top half) or ``ellipse`` (a centred ellipse).
    ``softness`` > 0 blurs the border over about that fraction of the image (a soft mask).
    """
    y, x = _grid(height, width)
    if kind == "left":
        signed = 0.5 - x
    elif kind == "top":
        signed = 0.5 - y
    elif kind == "ellipse":
        signed = 1.0 - (((x - 0.5) / 0.35) ** 2 + ((y - 0.5) / 0.4) ** 2).sqrt()
    else:
        raise UserError(tr("unknown mask kind {kind}: choose left, top or ellipse", kind=repr(kind)))
    if softness > 0:
        return torch.sigmoid(signed / (softness / 4))
    return (signed > 0).float()
