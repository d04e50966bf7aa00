"""Video: decode a clip frame by frame, stylize the frames in batches, encode them (the audio copied through).

AdaIN's title promises style transfer "in real-time"; this module is where the package shows a moving picture.
A video is a stream of images, so each frame goes through exactly the image path's code
(:meth:`adain_lesson.model.StyleTransfer.stylize`, with the same alpha, interpolation weights, masks and colour
preservation), a batch of frames at a time:

- :func:`probe` opens a clip and checks it before any work: corrupt or unsupported files, a missing video stream,
  a codec this FFmpeg cannot decode, no frames at all, and frames too large (:data:`MAX_FRAME_PIXELS`) are each
  one :class:`~adain_lesson.errors.UserError` line;
- :func:`read_frames` streams the frames as ``[N, 3, H, W]`` batches in [0, 1]: memory does not grow with the
  clip's length;
- :func:`stylize_video` decodes, stylizes (the style statistics of Eq. 8 given once, as
  :class:`~adain_lesson.model.StyleStats`) and encodes, with the same frame count, frame rate and size as the
  input (frames stylized at another size are scaled back), the audio packets copied unchanged (remuxed), a
  progress bar in frames and frames per second, the peak memory estimated first (:mod:`adain_lesson.memory`),
  and the file written under a temporary name and renamed at the end (:func:`adain_lesson.files.atomic_write`):
  an interrupted run leaves nothing under the final name;
- :func:`stylize_frames` is the per-batch step; its ``smooth`` argument is **our** remedy for flicker, not the
  paper's: the content statistics mu(x), sigma(x) of Eq. 8 are averaged over frames (an exponential moving
  average) so that they cannot jump from one frame to the next; :func:`temporal_change` and
  :func:`flicker_ratio` measure flicker;
- :func:`write_clip` and :func:`moving_clip` make clips (tests, notebook 09, the benchmark).

The library is PyAV (``pip install av``, the ``video`` extra): its wheels bundle FFmpeg's libraries, so it works
on Linux, macOS, Windows and Colab without a system FFmpeg. (torchcodec, PyTorch's own decoder, needs a system
FFmpeg; OpenCV's ``VideoWriter`` cannot copy an audio track.)
"""

from __future__ import annotations

import math
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import torch
from torch import Tensor

from . import images, memory
from .color import match_color
from .errors import UserError
from .files import atomic_write
from .i18n import tr
from .model import StyleInput, StyleStats, StyleTransfer, normalize_weights
from .norms import calc_mean_std

__all__ = ["COLAB_CAMERA_JS", "MAX_FRAME_PIXELS", "camera_frames", "VIDEO_EXTENSIONS", "VideoInfo", "VideoResult",
           "default_batch_size", "encoder_for", "flicker_ratio", "frames_tensor", "is_video", "list_videos",
           "moving_clip", "output_extension", "probe", "read_frames", "require_av", "stylize_frames",
           "stylize_video", "temporal_change", "work_size", "write_clip"]

#: File name endings read as videos (folder mode takes them beside images).
VIDEO_EXTENSIONS = (".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi")
#: A frame larger than this (8K UHD, 7680 x 4320) is refused before decoding: a "huge" video.
MAX_FRAME_PIXELS = 7680 * 4320
#: The encoders tried for each output container, in order (the first this FFmpeg has is used).
ENCODERS = {
    ".webm": ("libvpx-vp9", "libvpx"),
    "default": ("libx264", "h264", "mpeg4"),
}
_FORMATS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}


def require_av():
    """The ``av`` module (PyAV), or a one-line error saying how to install it."""
    try:
        import av
    except ImportError:
        raise UserError(tr("video needs PyAV: pip install av (or pip install adain-lesson[video])")) from None
    return av


def is_video(path: str | os.PathLike) -> bool:
    """Whether ``path`` names a video by its extension (:data:`VIDEO_EXTENSIONS`, case-insensitive)."""
    return Path(str(path)).suffix.lower() in VIDEO_EXTENSIONS


def list_videos(folder: str | os.PathLike) -> list[Path]:
    """The video files in ``folder`` (by extension), sorted by name."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and is_video(p))


def output_extension(path: str | os.PathLike) -> str:
    """The output's extension: the input's container (``.m4v`` becomes ``.mp4``)."""
    ext = Path(str(path)).suffix.lower()
    return ".mp4" if ext in (".m4v", "") else ext


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` found: size, frame rate, the frame count the header states (``None`` when it states
    none: count while decoding), the codec, and whether there is an audio track."""

    path: str
    width: int
    height: int
    fps: Fraction
    frames: int | None
    codec: str
    has_audio: bool

    @property
    def seconds(self) -> float | None:
        return None if not self.frames or not self.fps else float(self.frames / self.fps)


def _open(path: str | os.PathLike):
    av = require_av()
    path = Path(path)
    if not path.is_file():
        raise UserError(tr("no such video file: {path}", path=path), param="content")
    try:
        return av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        if isinstance(exc, PermissionError):
            raise UserError(tr("cannot read {path}: no permission", path=path), param="content") from None
        raise UserError(tr("cannot read video {path}: it is corrupt or not a format FFmpeg reads ({why}); "
                           "convert it to MP4 (H.264) and try again", path=path, why=_why(exc)),
                        param="content") from None


def _why(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:120]


def _video_stream(container, path: str | os.PathLike):
    av = require_av()
    if not container.streams.video:
        if container.streams:
            raise UserError(tr("{path} holds no video stream (only {what}): give a video file",
                               path=path, what=", ".join(s.type for s in container.streams)), param="content")
        raise UserError(tr("{path} holds no video stream: give a video file", path=path), param="content")
    stream = container.streams.video[0]
    name = stream.codec_context.name if stream.codec_context is not None else None
    if name is None or name not in av.codecs_available:
        raise UserError(tr("{path} is encoded with {codec}, which this FFmpeg (PyAV {version}) cannot decode: "
                           "convert it to MP4 (H.264) and try again", path=path, codec=name or "an unknown codec",
                           version=av.__version__), param="content")
    return stream


def probe(path: str | os.PathLike, *, max_pixels: int | None = None) -> VideoInfo:
    """Open ``path`` and check it (see the module's doc); decodes the first frame so that a clip without frames
    or with undecodable data fails here, before any work."""
    av = require_av()
    limit = MAX_FRAME_PIXELS if max_pixels is None else max_pixels
    with _open(path) as container:
        stream = _video_stream(container, path)
        w, h = int(stream.codec_context.width or 0), int(stream.codec_context.height or 0)
        if w * h > limit:
            raise UserError(tr("video {path} has {w}x{h} frames, more than the limit of {limit:,} pixels: scale it "
                               "down first (e.g. to 1920x1080)", path=path, w=w, h=h, limit=limit), param="content")
        first = None
        try:
            for frame in container.decode(stream):
                first = frame
                break
        except (av.FFmpegError, OSError, ValueError) as exc:
            raise UserError(tr("cannot decode video {path}: it is corrupt ({why}); re-encode or re-download it",
                               path=path, why=_why(exc)), param="content") from None
        if first is None:
            raise UserError(tr("video {path} has no frames: give a clip with at least one frame", path=path),
                            param="content")
        w, h = first.width, first.height
        if w * h > limit:
            raise UserError(tr("video {path} has {w}x{h} frames, more than the limit of {limit:,} pixels: scale it "
                               "down first (e.g. to 1920x1080)", path=path, w=w, h=h, limit=limit), param="content")
        rate = stream.average_rate or stream.guessed_rate or Fraction(30)
        return VideoInfo(str(path), w, h, Fraction(rate), int(stream.frames) or None, stream.codec_context.name,
                         bool(container.streams.audio))


def frames_tensor(frames: Sequence) -> Tensor:
    """``[N, 3, H, W]`` float32 in [0, 1] from PyAV frames (RGB, 8 bits, as an image file loads)."""
    import numpy as np

    arr = np.stack([f.to_ndarray(format="rgb24") for f in frames])
    return torch.from_numpy(arr).permute(0, 3, 1, 2).float().div_(255.0)


def read_frames(path: str | os.PathLike, batch_size: int = 8, *, limit: int | None = None) -> Iterator[Tensor]:
    """The frames of ``path`` as batches ``[N <= batch_size, 3, H, W]`` in [0, 1] (at most ``limit`` frames)."""
    av = require_av()
    probe(path)
    buffer, seen = [], 0
    with _open(path) as container:
        stream = _video_stream(container, path)
        try:
            for frame in container.decode(stream):
                buffer.append(frame)
                seen += 1
                if len(buffer) == batch_size:
                    yield frames_tensor(buffer)
                    buffer = []
                if limit is not None and seen >= limit:
                    break
        except av.FFmpegError as exc:
            raise UserError(tr("cannot decode video {path}: it is corrupt ({why}); re-encode or re-download it",
                               path=path, why=_why(exc)), param="content") from None
    if buffer:
        yield frames_tensor(buffer)


def encoder_for(ext: str) -> str:
    """The encoder this FFmpeg has for an output of extension ``ext`` (:data:`ENCODERS`), or a one-line error."""
    av = require_av()
    wanted = ENCODERS.get(ext, ENCODERS["default"])
    for name in wanted:
        if name in av.codecs_available:
            return name
    raise UserError(tr("this FFmpeg (PyAV {version}) has no encoder for {ext} videos (tried {names}): install "
                       "PyAV from its wheels (pip install --force-reinstall av), which bundle them",
                       version=av.__version__, ext=ext, names=", ".join(wanted)))


def _add_video_stream(container, codec: str, fps: Fraction, width: int, height: int, quality: int):
    stream = container.add_stream(codec, rate=fps)
    stream.width, stream.height = width, height
    even = width % 2 == 0 and height % 2 == 0
    stream.pix_fmt = "yuv420p" if even or codec == "mpeg4" else "yuv444p"  # 4:2:0 needs even sides
    if codec in ("libx264", "h264"):
        stream.options = {"crf": str(quality), "preset": "medium"}
    elif codec.startswith("libvpx"):
        stream.options = {"crf": str(quality + 12), "b": "0"}
    else:
        stream.options = {"qscale": "2"}
        stream.codec_context.qscale = 2
    return stream


def write_clip(frames: Tensor | Sequence[Tensor], path: str | os.PathLike, fps: float | Fraction = 24, *,
               quality: int = 18, audio_seconds: float = 0.0, lossless: bool = False) -> Path:
    """Encode ``frames`` (``[T, 3, H, W]`` in [0, 1], or a sequence of ``[3, H, W]``) as a video at ``path``,
    atomically. ``audio_seconds > 0`` adds a silent-but-for-a-tone AAC track (to test remuxing);
    ``lossless`` encodes with H.264 at ``qp 0`` (test inputs whose frames must stay exact)."""
    av = require_av()
    import numpy as np

    path = Path(path)
    ext = output_extension(path)
    codec = encoder_for(ext)
    fps = Fraction(fps).limit_denominator(1001)
    seq = list(frames)
    if not seq:
        raise UserError(tr("no frames to write"))
    h, w = seq[0].shape[-2:]
    with atomic_write(path, "wb") as fh, av.open(fh, "w", format=_FORMATS.get(ext, "mp4")) as out:
        stream = _add_video_stream(out, codec, fps, w, h, quality)
        if lossless and codec in ("libx264", "h264"):
            stream.pix_fmt = "yuv444p"
            stream.options = {"qp": "0", "preset": "medium"}
        audio = out.add_stream("aac", rate=16000) if audio_seconds > 0 and "aac" in av.codecs_available else None
        for i, img in enumerate(seq):
            frame = av.VideoFrame.from_ndarray(_to_uint8(img), format="rgb24")
            frame.pts = i
            frame.time_base = 1 / fps
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if audio is not None:
            n = int(audio_seconds * 16000) // 1024
            for i in range(n):
                t = (np.arange(1024) + i * 1024) / 16000
                tone = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
                af = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
                af.sample_rate, af.pts = 16000, i * 1024
                for packet in audio.encode(af):
                    out.mux(packet)
            for packet in audio.encode():
                out.mux(packet)
    return path


def _to_uint8(img: Tensor):
    """``[3, H, W]`` in [0, 1] as an ``H x W x 3`` uint8 array, rounded as :func:`images.to_pil` does."""
    return img.detach().float().cpu().clamp(0, 1).mul(255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


def moving_clip(frames: int = 24, size: tuple[int, int] = (128, 160), *, speed: float = 2.0,
                content: str | Tensor = "house") -> Tensor:
    """A generated moving clip ``[T, 3, H, W]``: an image (a built-in sample's name, :func:`images.sample_image`,
    or an image tensor ``[3, h, w]``) panned by ``speed`` pixels a frame, a slow camera move, for where no camera
    or video file exists (CI, smoke mode). The image is scaled up as far as the pan needs."""
    h, w = size
    margin = int(math.ceil(abs(speed) * max(frames - 1, 0))) + 2
    if isinstance(content, str):
        big = images.sample_image(content, max(h, w + margin))
    else:
        big = content.detach().float().cpu()
    scale = max(h / big.shape[-2], (w + margin) / big.shape[-1], 1.0)
    if scale > 1.0:
        big = torch.nn.functional.interpolate(big[None], scale_factor=scale, mode="bilinear",
                                              align_corners=False)[0]
    top = (big.shape[-2] - h) // 2
    out = []
    for i in range(frames):
        x = abs(speed) * i
        x0 = int(math.floor(x))
        frac = x - x0
        a = big[:, top : top + h, x0 : x0 + w]
        b = big[:, top : top + h, x0 + 1 : x0 + 1 + w]
        out.append((1 - frac) * a + frac * b)  # sub-pixel pan: a smooth move
    return torch.stack(out).clamp(0, 1)


#: The JavaScript that Colab runs to take one frame from the browser's camera (``getUserMedia``), as a JPEG data
#: URL. The camera stays open between calls (a ``<video>`` element kept on the page), so a live loop can ask for
#: frame after frame. The pattern is Colab's own "Camera Capture" snippet, kept running.
COLAB_CAMERA_JS = """
async function adainFrame(width) {
  if (!window.adainVideo) {
    const video = document.createElement('video');
    video.style.display = 'none';
    document.body.appendChild(video);
    video.srcObject = await navigator.mediaDevices.getUserMedia({video: true});
    await video.play();
    window.adainVideo = video;
  }
  const video = window.adainVideo;
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = Math.round(width * video.videoHeight / video.videoWidth);
  canvas.getContext('2d').drawImage(video, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL('image/jpeg', 0.8);
}
"""


def camera_frames(count: int, size: tuple[int, int] = (240, 320), *, source: str = "auto"
                  ) -> tuple[Iterator[Tensor], str]:
    """Frames ``[3, H, W]`` from a camera, and a sentence saying where they come from.

    ``source``: ``"colab"`` (the browser's camera through Colab's JavaScript bridge, :data:`COLAB_CAMERA_JS`),
    ``"opencv"`` (``cv2.VideoCapture(0)``, a local Jupyter with ``pip install opencv-python``), ``"generated"``
    (:func:`moving_clip`: no camera, as in CI and smoke mode), or ``"auto"``: Colab when running there, else
    OpenCV when it is installed and a camera opens, else generated. Nothing here raises for a missing camera:
    the sentence says which source was used."""
    h, w = size
    if source == "auto":
        import sys as _sys

        if "google.colab" in _sys.modules:
            source = "colab"
        else:
            source = "opencv" if _opencv_camera() else "generated"
    if source == "colab":
        return _colab_frames(count, w), tr("frames from your browser's camera (Colab's JavaScript bridge)")
    if source == "opencv":
        cap = _opencv_camera()
        if cap is not None:
            return _opencv_frames(cap, count, h, w), tr("frames from camera 0 (OpenCV)")
    clip = moving_clip(count, (h, w), speed=2.0)
    return iter(clip), tr("no camera here: a generated moving clip stands in for it")


def _opencv_camera():
    try:
        import cv2
    except ImportError:
        return None
    cap = cv2.VideoCapture(0)
    if not cap.isOpened():
        cap.release()
        return None
    return cap


def _opencv_frames(cap, count: int, h: int, w: int) -> Iterator[Tensor]:  # noqa: ANN001 - a cv2.VideoCapture
    import cv2

    try:
        for _ in range(count):
            ok, bgr = cap.read()
            if not ok:
                return
            rgb = cv2.cvtColor(cv2.resize(bgr, (w, h)), cv2.COLOR_BGR2RGB)
            yield torch.from_numpy(rgb).permute(2, 0, 1).float().div(255.0)
    finally:
        cap.release()


def _colab_frames(count: int, width: int) -> Iterator[Tensor]:
    import base64
    import io

    from google.colab.output import eval_js  # only on Colab
    from IPython.display import Javascript, display
    from PIL import Image

    display(Javascript(COLAB_CAMERA_JS))
    for _ in range(count):
        url = eval_js(f"adainFrame({int(width)})")
        data = base64.b64decode(url.split(",", 1)[1])
        yield images.to_tensor(Image.open(io.BytesIO(data)).convert("RGB"))


# ---------------------------------------------------------------------------------------------------------------
# Stylizing frames
# ---------------------------------------------------------------------------------------------------------------


def stylize_frames(model: StyleTransfer, frames: Tensor, styles: StyleInput | Sequence[StyleInput], *,
                   alpha: float | Sequence[float] = 1.0, weights: Sequence[float] | None = None,
                   masks: Tensor | Sequence[Tensor] | None = None, preserve_color: bool = False,
                   smooth: float = 0.0, state: tuple[Tensor, Tensor] | None = None
                   ) -> tuple[Tensor, tuple[Tensor, Tensor] | None]:
    """Stylize a batch of frames ``[N, 3, H, W]``; returns the outputs (clamped to [0, 1]) and the smoothing
    state to pass with the next batch.

    ``smooth = 0`` (the default) is exactly :meth:`StyleTransfer.stylize`, the image path. ``0 < smooth < 1`` is
    **our** flicker remedy (not the paper's): Eq. 8 normalises each frame with its own mu(x), sigma(x), which jump
    when a few pixels change; here they are an exponential moving average over the frames,
    ``m_t = smooth * m_{t-1} + (1 - smooth) * mu(x_t)`` (the same for sigma), carried across batches in ``state``.
    The style statistics, alpha (Eq. 14) and weights (Eq. 15) are used as in the image path; masks are not (their
    per-region statistics are not smoothed).
    """
    if not 0.0 <= smooth < 1.0:
        raise UserError(tr("smooth must be in [0, 1), got {smooth}", smooth=smooth), param="smooth")
    if smooth == 0.0:
        with torch.inference_mode():
            out = model.stylize(frames, styles, alpha=alpha, weights=weights, masks=masks,
                                preserve_color=preserve_color)
        return out.clamp(0, 1), None
    if masks is not None:
        raise UserError(tr("smooth works without masks: leave masks out or set smooth to 0"), param="smooth")
    style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
    a = float(alpha) if isinstance(alpha, (int, float)) else float(list(alpha)[0])
    wk = normalize_weights(weights, len(style_list))
    h, w = frames.shape[-2:]
    with torch.inference_mode():
        f_c = model.encode(frames)
        mean, std = calc_mean_std(f_c)
        means, stds = [], []
        for i in range(f_c.shape[0]):
            if state is None:
                state = (mean[i : i + 1], std[i : i + 1])
            else:
                state = (smooth * state[0] + (1 - smooth) * mean[i : i + 1],
                         smooth * state[1] + (1 - smooth) * std[i : i + 1])
            means.append(state[0])
            stds.append(state[1])
        normalized = (f_c - torch.cat(means)) / torch.cat(stds)
        stats = []
        for s in style_list:
            if isinstance(s, StyleStats):
                stats.append(s.to(f_c.device))
            else:
                image = s if s.dim() == 4 else s[None]
                image = match_color(image, frames) if preserve_color else image
                stats.append(model.encode_style(image))
        t = sum(wi * (normalized * s.std + s.mean) for wi, s in zip(wk, stats))
        t = a * t + (1 - a) * f_c
        out = model.decode(t, (h, w))
    return out.clamp(0, 1), (state[0].clone(), state[1].clone())


def temporal_change(frames: Tensor) -> Tensor:
    """The mean absolute change of each frame from the one before, ``[T - 1]`` (values in [0, 1])."""
    if frames.dim() != 4 or frames.shape[0] < 2:
        raise UserError(tr("temporal_change needs at least two frames [T, 3, H, W], got {shape}",
                           shape=tuple(frames.shape)))
    return (frames[1:].float() - frames[:-1].float()).abs().mean(dim=(1, 2, 3))


def flicker_ratio(inputs: Tensor, outputs: Tensor) -> float:
    """How much more the output changes from frame to frame than the input: ``mean change(outputs) / mean
    change(inputs)``. A stable stylization of a slow shot stays near the style's own contrast gain; flicker makes
    it large. (Outputs and inputs are compared at the same size.)"""
    inp, out = temporal_change(inputs).mean().item(), temporal_change(outputs).mean().item()
    return out / max(inp, 1e-8)


@dataclass(frozen=True)
class VideoResult:
    """What :func:`stylize_video` wrote: the path, the frame count, and the time taken (end to end)."""

    path: Path
    frames: int
    seconds: float
    size: tuple[int, int]

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else float("inf")


def work_size(info: VideoInfo, size: int, crop: bool) -> tuple[int, int]:
    """``(H, W)`` at which the frames are stylized: shorter side ``size`` (0: the frames' own size), then the
    central square with ``crop``."""
    if not size:
        return info.height, info.width
    h, w = images.shorter_side_shape(info.height, info.width, size)
    return (size, size) if crop else (h, w)


def _check_memory(info: VideoInfo, wh: int, ww: int, n: int, crop: bool, device: torch.device | str) -> None:
    """Refuse a batch of ``n`` frames of ``wh x ww`` that does not fit the free memory, with
    :func:`memory.check_side` (the one way): the side it suggests is itself checked to fit."""

    def pixels_at(side: int) -> int:
        return n * (side * side if crop else math.prod(images.shorter_side_shape(info.height, info.width, side)))

    def fix(side: int) -> str:
        if side == 0:
            return tr("no content_size fits: free some memory, or use another device")
        return tr("use a smaller content_size (at most {side}) or batch_size", side=side)

    memory.check_side("stylize", min(wh, ww), pixels_at, device,
                      tr("stylizing {n} frames of {w}x{h} at once", n=n, w=ww, h=wh), fix,
                      smallest=images.MIN_SIDE, param=("content_size", "batch_size"))


def default_batch_size(device: torch.device | str, pixels: int) -> int:
    """Frames per batch: 8 on CUDA (what ``bench``'s best_batch row measures), 1 on a CPU (a batch is no faster
    there), fewer when :mod:`adain_lesson.memory`'s estimate of the batch does not fit the free memory."""
    want = 8 if torch.device(device).type == "cuda" else 1
    free = memory.available(device)
    while want > 1 and free is not None and memory.estimate("stylize", want * pixels) > free:
        want //= 2
    return want


def stylize_video(
    model: StyleTransfer,
    source: str | os.PathLike,
    out_path: str | os.PathLike,
    styles: StyleInput | Sequence[StyleInput],
    *,
    alpha: float | Sequence[float] = 1.0,
    weights: Sequence[float] | None = None,
    masks: Tensor | Sequence[Tensor] | None = None,
    preserve_color: bool = False,
    size: int = 512,
    crop: bool = False,
    batch_size: int | None = None,
    smooth: float = 0.0,
    max_frames: int | None = None,
    progress: bool = True,
    note: Callable[[str], None] | None = None,
) -> VideoResult:
    """Stylize the video ``source`` into ``out_path`` (written atomically; see the module's doc).

    ``styles``: as :meth:`StyleTransfer.stylize` takes them; give :class:`StyleStats` (from
    :meth:`StyleTransfer.encode_style`) so that the style is encoded once, not once per frame (with
    ``preserve_color`` give the image: it is colour-matched to each frame). ``size`` is the shorter side the
    frames are stylized at (0: their own size); the video is written at the input's size (the stylized frames
    scaled back) unless ``crop`` (then the central ``size`` square). ``batch_size``: frames per batch (default
    :func:`default_batch_size`). ``smooth``: our flicker remedy (:func:`stylize_frames`). ``max_frames``: stop
    after that many frames (a preview). Returns a :class:`VideoResult`."""
    import time

    from tqdm.auto import tqdm

    av = require_av()
    note = note or (lambda line: print(line, file=sys.stderr))
    info = probe(source)
    out_path = Path(out_path)
    ext = output_extension(out_path)
    codec = encoder_for(ext)
    wh, ww = work_size(info, size, crop)
    if min(wh, ww) < images.MIN_SIDE:
        raise UserError(tr("video frames stylized at {w}x{h} are too small for the encoder: it needs at least "
                           "{n} px per side", w=ww, h=wh, n=images.MIN_SIDE), param="content_size")
    oh, ow = (wh, ww) if crop else (info.height, info.width)
    device = model.device
    n = batch_size or default_batch_size(device, wh * ww)
    if n < 1:
        raise UserError(tr("batch_size must be at least 1, got {n}", n=n), param="batch_size")
    _check_memory(info, wh, ww, n, crop and (wh, ww) != (info.height, info.width), device)
    total = min(info.frames, max_frames) if info.frames and max_frames else (info.frames or max_frames)
    name = Path(str(source)).name
    bar = tqdm(total=total, unit="frame", desc=name, disable=not progress, dynamic_ncols=True)
    start = time.perf_counter()
    count = 0
    state = None
    shown: set[str] = set()
    try:
        with _open(source) as src, atomic_write(out_path, "wb") as fh, \
                av.open(fh, "w", format=_FORMATS.get(ext, "mp4")) as dst:
            vin = _video_stream(src, source)
            vout = _add_video_stream(dst, codec, info.fps, ow, oh, 18)
            ain = src.streams.audio[0] if src.streams.audio else None
            aout = None
            if ain is not None:
                try:
                    aout = dst.add_stream_from_template(ain)
                except (av.FFmpegError, ValueError) as exc:
                    note(tr("note: the audio track of {name} could not be copied ({why}); the video is written "
                            "without it", name=name, why=_why(exc)))
                    ain = None
            streams = [vin] + ([ain] if ain is not None else [])
            pending: list = []

            def flush() -> None:
                nonlocal state, count
                if not pending:
                    return
                batch = frames_tensor(pending)
                if (wh, ww) != (info.height, info.width):
                    batch = torch.stack([images.resize_shorter(f, size) for f in batch])
                    if crop:
                        batch = images.center_crop(batch, size)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    out, state = stylize_frames(model, batch, styles, alpha=alpha, weights=weights, masks=masks,
                                                preserve_color=preserve_color, smooth=smooth, state=state)
                for w in caught:
                    if str(w.message) not in shown:
                        shown.add(str(w.message))
                        note(tr("note: {message}", message=w.message))
                out = out.float().cpu()
                if tuple(out.shape[-2:]) != (oh, ow):
                    out = torch.nn.functional.interpolate(out, size=(oh, ow), mode="bilinear", align_corners=False,
                                                          antialias=True).clamp_(0, 1)
                for img, old in zip(out, pending):
                    frame = av.VideoFrame.from_ndarray(_to_uint8(img), format="rgb24")
                    frame.pts, frame.time_base = old.pts, old.time_base
                    for packet in vout.encode(frame):
                        dst.mux(packet)
                count += len(pending)
                bar.update(len(pending))
                pending.clear()

            done = False
            for packet in src.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is None or aout is None:
                        continue
                    packet.stream = aout
                    dst.mux(packet)
                    continue
                if done:
                    break
                try:
                    decoded = packet.decode()
                except av.FFmpegError as exc:
                    raise UserError(tr("cannot decode video {path}: it is corrupt ({why}); re-encode or "
                                       "re-download it", path=source, why=_why(exc)), param="content") from None
                for frame in decoded:
                    if max_frames is not None and count + len(pending) >= max_frames:
                        done = True
                        break
                    pending.append(frame)
                    if len(pending) == n:
                        flush()
            flush()
            for packet in vout.encode():
                dst.mux(packet)
    finally:
        bar.close()
    if count == 0:  # pragma: no cover - probe decoded a first frame
        out_path.unlink(missing_ok=True)
        raise UserError(tr("video {path} has no frames: give a clip with at least one frame", path=source),
                        param="content")
    return VideoResult(out_path, count, time.perf_counter() - start, (oh, ow))
