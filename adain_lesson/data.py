"""Training data for the decoder: folder datasets, the paper's crops, an infinite sharded sampler, downloads.

Section 6.2 of the paper: content images from MS-COCO, style images from WikiArt (about 80,000 each);
"we first resize the smallest dimension of both images to 512 while preserving the aspect ratio, then
randomly crop regions of size 256 x 256". :class:`PaperTransform` does exactly that. (The PyTorch port,
pytorch-AdaIN ``train.py``, instead *squashes* every image to 512 x 512 with ``Resize((512, 512))``
before the random crop, which distorts the aspect ratio; ``PaperTransform(squash=True)`` reproduces it.)

Determinism, for an exact ``--resume``: :class:`InfiniteSampler` yields ``(index, seed)`` pairs that are
a pure function of ``(seed, rank, world_size, position)``, and :class:`ImageFolder` draws each random
crop from that per-sample seed. The stream of batches therefore does not depend on the number of loader
workers, and a resumed run restarts the stream at ``position = iteration * batch``.

Downloads (:func:`download_dataset`): MS-COCO ``train2014`` (what the paper used) or ``val2017`` (a
smaller 5,000-image set for a quick run), and a WikiArt archive. Archives are fetched with
:func:`adain_lesson.hub.download` (resumable, size / SHA-256 checked where known) and unpacked by
:func:`extract_archive`, which refuses any member that would land outside the target folder, before
anything is written: members too large or expanding too much, alone or together (:func:`_check_total`, which
also checks the free space), names longer than the file system allows (the archive is kept), and, for a zip
read part by part from a server, a central directory claimed larger than :data:`MAX_DIRECTORY_BYTES`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import struct
import sys
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from . import hub
from .errors import DownloadError, UserError
from .files import cannot_write, ensure_dir, name_limit, remove_stale_temporaries, temporary_name, too_long_name
from .i18n import tr
from .images import IMAGE_EXTENSIONS, MAX_PIXELS, MIN_SIDE, list_images, open_image, to_tensor

__all__ = [
    "MAX_DIRECTORY_BYTES",
    "MAX_MEMBER_BYTES",
    "MAX_RATIO",
    "PAPER_CROP_SIZE",
    "PAPER_LOAD_SIZE",
    "SOURCES",
    "DataSource",
    "ImageFolder",
    "InfiniteSampler",
    "PaperTransform",
    "download_dataset",
    "mirrored_source",
    "extract_archive",
    "extract_remote_zip",
    "sample_seed",
]

#: Section 6.2: the shorter side is resized to 512, keeping the aspect ratio ...
PAPER_LOAD_SIZE = 512
#: ... then a random 256 x 256 region is cropped.
PAPER_CROP_SIZE = 256

_MASK63 = (1 << 63) - 1


def sample_seed(seed: int, rank: int, position: int) -> int:
    """A well-mixed 63-bit seed for the ``position``-th sample of ``rank``'s stream (SplitMix64)."""
    z = (seed * 0x9E3779B97F4A7C15 + rank * 0xBF58476D1CE4E5B9 + position * 0x94D049BB133111EB) & ((1 << 64) - 1)
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & ((1 << 64) - 1)
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & ((1 << 64) - 1)
    return (z ^ (z >> 31)) & _MASK63


# --------------------------------------------------------------------------------------------------
# Transform
# --------------------------------------------------------------------------------------------------


class PaperTransform:
    """Resize the shorter side to ``load_size`` keeping the aspect ratio, then crop ``crop_size`` at random.

    ``load_size=0`` keeps the original size (images smaller than the crop are scaled up to it).
    ``squash=True`` resizes to ``load_size x load_size`` instead, as the PyTorch port does.
    Call it with a PIL image and a ``torch.Generator`` (the crop position comes from it); returns
    ``float32 [3, crop, crop]`` in [0, 1].
    """

    def __init__(self, load_size: int = PAPER_LOAD_SIZE, crop_size: int = PAPER_CROP_SIZE, squash: bool = False):
        if crop_size < MIN_SIDE:
            raise UserError(f"crop size {crop_size} is too small: the encoder needs at least {MIN_SIDE} px")
        if load_size and load_size < crop_size:
            raise UserError(f"load size {load_size} is smaller than the crop {crop_size}: use load size >= crop")
        self.load_size, self.crop_size, self.squash = load_size, crop_size, squash

    def __repr__(self) -> str:
        return f"PaperTransform(load_size={self.load_size}, crop_size={self.crop_size}, squash={self.squash})"

    def resize(self, im: Image.Image) -> Image.Image:
        """The deterministic part: the resize before the crop."""
        w, h = im.size
        if self.squash and self.load_size:
            size = (self.load_size, self.load_size)
        else:
            target = self.load_size or max(min(w, h), self.crop_size)
            scale = target / min(w, h)
            size = (max(self.crop_size, round(w * scale)), max(self.crop_size, round(h * scale)))
        if size == (w, h):
            return im
        return im.resize(size, Image.BILINEAR, reducing_gap=3.0 if min(w, h) > 2 * min(size) else None)

    def __call__(self, im: Image.Image, generator: torch.Generator | None = None) -> torch.Tensor:
        im = self.resize(im)
        w, h = im.size
        c = self.crop_size
        top = int(torch.randint(0, h - c + 1, (1,), generator=generator))
        left = int(torch.randint(0, w - c + 1, (1,), generator=generator))
        return to_tensor(im.crop((left, top, left + c, top + c)))


# --------------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------------


class ImageFolder(Dataset):
    """The images under ``root`` (recursively; extensions of :data:`IMAGE_EXTENSIONS`, any case), sorted.

    ``dataset[i]`` is one transformed image ``[3, crop, crop]``; ``i`` may also be an ``(index, seed)``
    pair from :class:`InfiniteSampler`, whose seed fixes the random crop. An unreadable file (corrupt,
    truncated, too large) is skipped: the next file is taken instead, a note goes to stderr once per
    process and file, and :meth:`load` reports how many were skipped, so a long run never dies on one
    bad JPEG. ``max_images`` keeps only the first N files (a quick subset); files under a folder of ``exclude``
    (a training run's own ``out`` inside ``root``) are left out, and so are the files named in ``hold_out``
    (names without the extension: images held out for evaluation).
    """

    def __init__(
        self,
        root: str | os.PathLike,
        transform: PaperTransform | None = None,
        *,
        max_images: int | None = None,
        what: str = "image",
        exclude: Sequence[str | os.PathLike] = (),
        hold_out: Sequence[str] = (),
    ) -> None:
        root = Path(root).expanduser()
        if root.is_file():
            raise UserError(f"{what} folder {root} is a file, not a folder: give the folder that holds the images")
        if not root.is_dir():
            raise UserError(f"{what} folder not found: {root} (check the path, or download a dataset first)")
        files = list_images(root, recursive=True)
        if hold_out:  # images kept out (for evaluation), by file name without the extension
            files = [f for f in files if f.stem not in set(hold_out)]
        base = root.resolve()
        for e in exclude:  # e.g. a training run's own out folder inside its content folder: its samples are not data
            e = Path(e).expanduser().resolve()
            if e.is_relative_to(base):
                inner = e.relative_to(base).parts
                files = [f for f in files if f.relative_to(root).parts[: len(inner)] != inner]
        if max_images is not None:
            if max_images < 1:
                raise UserError(f"max_images must be at least 1, got {max_images}")
            files = files[:max_images]
        if not files:
            exts = ", ".join(IMAGE_EXTENSIONS)
            raise UserError(f"{what} folder {root} holds no images ({exts}), not even in sub-folders")
        self.root = root
        self.files = files
        self.transform = transform if transform is not None else PaperTransform()
        self.bad: set[int] = set()  # indices found unreadable in this process

    def __len__(self) -> int:
        return len(self.files)

    def load(self, index: int, seed: int | None = None) -> tuple[torch.Tensor, int]:
        """Image ``index`` (or the next readable one) transformed with a crop drawn from ``seed``;
        returns ``(image, number of unreadable files skipped to get it)``."""
        n = len(self.files)
        g = torch.Generator().manual_seed(seed if seed is not None else index)
        skipped = 0
        for k in range(n):
            i = (index + k) % n
            if i in self.bad:
                skipped += 1
                continue
            try:
                im = open_image(self.files[i])
                return self.transform(im, g), skipped
            except (UserError, OSError, ValueError, Image.DecompressionBombError) as exc:
                self.bad.add(i)
                skipped += 1
                print(f"note: skipping unreadable image {self.files[i]} ({str(exc).splitlines()[0]})", file=sys.stderr)
        raise UserError(f"none of the {n} files under {self.root} could be read as an image: check the folder")

    def __getitem__(self, item: int | tuple[int, int]) -> torch.Tensor:
        index, seed = item if isinstance(item, tuple) else (item, None)
        return self.load(index, seed)[0]


class CountingView(Dataset):
    """``dataset[item]`` as ``(image, skipped)``: lets a DataLoader carry the skip counts to the loop."""

    def __init__(self, dataset: ImageFolder) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, item: int | tuple[int, int]) -> tuple[torch.Tensor, int]:
        index, seed = item if isinstance(item, tuple) else (item, None)
        return self.dataset.load(index, seed)


# --------------------------------------------------------------------------------------------------
# Sampler
# --------------------------------------------------------------------------------------------------


class InfiniteSampler(Sampler):
    """An endless stream of ``(index, seed)`` pairs: a fresh shuffle of the dataset every epoch.

    For several processes (DDP), rank ``r`` of ``world_size`` takes every ``world_size``-th element of
    each epoch's permutation, starting at ``r``: the shards are disjoint and together cover the data.
    ``start`` skips the first ``start`` elements of this rank's stream in O(1) (used to resume exactly).
    Everything is a function of ``(seed, rank, world_size, position)``: no global random state is used.
    """

    def __init__(self, size: int, *, seed: int = 0, rank: int = 0, world_size: int = 1, start: int = 0,
                 shuffle: bool = True) -> None:
        if size < world_size:
            raise UserError(f"{size} images cannot be shared among {world_size} processes: add images")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside [0, {world_size})")
        self.size, self.seed, self.rank, self.world_size = size, seed, rank, world_size
        self.start, self.shuffle = start, shuffle
        self.shard_len = len(range(rank, size, world_size))

    def _order(self, epoch: int) -> list[int]:
        if not self.shuffle:
            return list(range(self.size))[self.rank :: self.world_size]
        g = torch.Generator().manual_seed((self.seed * 1_000_003 + epoch) & _MASK63)
        return torch.randperm(self.size, generator=g)[self.rank :: self.world_size].tolist()

    def __iter__(self) -> Iterator[tuple[int, int]]:
        position = self.start
        epoch, offset = divmod(position, self.shard_len)
        while True:
            order = self._order(epoch)
            for idx in order[offset:]:
                yield idx, sample_seed(self.seed, self.rank, position)
                position += 1
            epoch, offset = epoch + 1, 0

    def __len__(self) -> int:  # DataLoader only uses it for len(loader); the stream is endless
        return sys.maxsize


# --------------------------------------------------------------------------------------------------
# Downloads and safe extraction
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DataSource:
    """A downloadable archive of training images. ``size`` / ``sha256`` are ``None`` where not known."""

    name: str
    url: str
    archive: str
    size: int | None
    sha256: str | None
    images: int | None
    note: str


SOURCES: dict[str, DataSource] = {
    "coco-train2014": DataSource(
        "coco-train2014", "http://images.cocodataset.org/zips/train2014.zip", "train2014.zip",
        13_510_573_713, None, 82_783,
        "MS-COCO 2014 training images, the paper's content set (13.5 GB; size checked, no published SHA-256)",
    ),
    "coco-val2017": DataSource(
        "coco-val2017", "http://images.cocodataset.org/zips/val2017.zip", "val2017.zip",
        815_585_330, "4f7e2ccb2866ec5041993c9cf2a952bbed69647b115d0f74da7ce8f4bef82f05", 5_000,
        "MS-COCO 2017 validation images: 5,000 photos (816 MB), enough for a quick run",
    ),
    "wikiart": DataSource(
        "wikiart", "http://web.fsktm.um.edu.my/~cschan/source/ICIP2017/wikiart.zip", "wikiart.zip",
        None, None, None,
        "WikiArt as packaged by ArtGAN (about 25 GB, ~80k paintings; size and hash not published). The authors' "
        "README points to Kaggle's 'Painter by Numbers' train.zip instead, which needs a Kaggle login: download "
        "it by hand and pass it as archive",
    ),
}


def _is_image_name(name: str) -> bool:
    """An image by its extension, but not macOS's ``__MACOSX/`` or ``._name`` metadata files."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if "__MACOSX" in pure.parts or pure.name.startswith("._"):
        return False
    return pure.suffix.lower() in IMAGE_EXTENSIONS


def _safe_target(dest: Path, name: str, archive: str) -> Path:
    """Where member ``name`` goes under ``dest``; raises if it would land outside ``dest``."""
    norm = name.replace("\\", "/")
    pure = PurePosixPath(norm)
    if pure.is_absolute() or norm.startswith("/") or (len(norm) > 1 and norm[1] == ":") or ".." in pure.parts:
        raise UserError(f"archive {archive} holds an unsafe path {name!r} (outside the target): not extracting it")
    target = (dest / Path(*pure.parts)).resolve()
    root = dest.resolve()
    if target != root and root not in target.parents:
        raise UserError(f"archive {archive} holds an unsafe path {name!r} (outside the target): not extracting it")
    return target


def _check_max_images(max_images: int | None) -> None:
    if max_images is not None and max_images < 1:
        raise UserError(f"max_images must be at least 1 (the number of images to take), got {max_images}")


#: The largest member extracted: an uncompressed RGB image at the pixel limit of :mod:`adain_lesson.images`
#: (a larger "image" could not be opened anyway). Guards against archive bombs.
MAX_MEMBER_BYTES = 3 * MAX_PIXELS
#: The largest expansion accepted (uncompressed / compressed size), for a member over 1 MiB, and for all
#: the members of a compressed tar together. Photos barely compress (JPEG, PNG: about 1:1; BMP: 2-5:1); a
#: bomb of zeros expands about 1000:1.
MAX_RATIO = 100
_RATIO_FLOOR = 1 << 20

#: Zip compression methods Python's zipfile reads; others get a one-line error saying what to do.
_ZIP_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "Deflate", zipfile.ZIP_BZIP2: "bzip2",
                zipfile.ZIP_LZMA: "LZMA"}
_ZIP_METHOD_NAMES = {9: "Deflate64 (Windows Explorer makes it for large folders)", 99: "AES encryption",
                     93: "Zstandard", 98: "PPMd", 95: "XZ", 6: "Implode", 1: "Shrink"}


def _check_bomb(name: str, member: str, size: int, packed: int | None) -> None:
    """Refuse a member larger than :data:`MAX_MEMBER_BYTES`, or one that expands more than :data:`MAX_RATIO`."""
    if size > MAX_MEMBER_BYTES:
        raise UserError(f"archive {name} holds {member!r} of {size:,} bytes, more than any image may be "
                        f"({MAX_MEMBER_BYTES:,}): not extracting it (an archive bomb, or not an image set)")
    if packed is not None and size > _RATIO_FLOOR and size > MAX_RATIO * max(packed, 1):
        raise UserError(f"archive {name} holds {member!r}, which expands from {packed:,} to {size:,} bytes "
                        f"({size // max(packed, 1):,}:1, the limit is {MAX_RATIO}:1): not extracting it (an "
                        "archive bomb?); extract it yourself if you trust it, and use the folder")


def _check_total(name: str, members: list[tuple], packed: int, dest: Path) -> None:
    """Refuse a set of members that together expand more than :data:`MAX_RATIO` over ``packed`` (the bytes they
    take in the archive: 300 members of 1 MB of zeros pass the member check one by one, not together), or
    that would not fit the free space at ``dest``; before anything is written."""
    total = sum(m[2] for m in members)
    if total > _RATIO_FLOOR and total > MAX_RATIO * max(packed, 1):
        raise UserError(f"archive {name} would expand from {packed:,} to {total:,} bytes "
                        f"({total // max(packed, 1):,}:1, the limit is {MAX_RATIO}:1): not extracting it (an "
                        "archive bomb?); extract it yourself if you trust it, and use the folder")
    need = sum(m[2] for m in members if not _present(m[1], m[2], "choose another destination folder (dest)"))
    folder = next((q for q in (dest, *dest.parents) if q.is_dir()), None)
    if folder is None:
        return
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if need > free:
        raise UserError(tr("extracting {count} files of {name} needs {need} bytes, but {folder} has {free} bytes "
                           "free: nothing was extracted; free some space, or choose another destination folder (dest)",
                           count=len(members), name=name, need=f"{need:,}", folder=folder, free=f"{free:,}"))


def _present(target: Path, size: int, fix: str) -> bool:
    """Whether ``target`` is already a file of ``size`` bytes (a resumed extraction skips it). A problem of the
    destination (no permission, a name too long) is a :class:`UserError` about the destination, never taken
    for a corrupt archive."""
    try:
        st = os.stat(target)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise cannot_write(target, exc, fix) from None
    return stat.S_ISREG(st.st_mode) and st.st_size == size


def _check_name_lengths(name: str, members: list[tuple], dest: Path) -> None:
    """Refuse, before anything is written, a member whose name (or one of its folders) is longer than the file
    system of ``dest`` allows: that is no damage of the archive, which is kept."""
    limit = name_limit(dest)
    root = dest.resolve()
    for member, target, _, _ in members:
        long = too_long_name(target.relative_to(root) if root in target.parents else Path(target.name), limit)
        if long:
            part, n, allowed = long
            raise UserError(tr("archive {name} holds {member!r}, whose name {part!r} is {n} bytes long, and this "
                               "file system allows {limit} here: nothing was extracted and the archive is kept (it "
                               "is not damaged); extract that member yourself under a shorter name, or choose a "
                               "destination folder (dest) on a file system that allows longer names",
                               name=name, member=member, part=part[:40] + "...", n=n, limit=allowed))


def _check_zip_method(name: str, info: zipfile.ZipInfo) -> None:
    """A member zipfile cannot read (Deflate64, AES, encrypted) is one line saying what to do."""
    if info.flag_bits & 0x1 or info.compress_type == 99:
        raise UserError(f"archive {name} is encrypted ({info.filename!r} needs a password): extract it yourself "
                        "with the password (e.g. 7-Zip) and use the folder")
    if info.compress_type not in _ZIP_METHODS:
        method = _ZIP_METHOD_NAMES.get(info.compress_type, f"method {info.compress_type}")
        raise UserError(f"archive {name} uses a compression Python cannot read ({method}, in {info.filename!r}): "
                        "extract it with 7-Zip or unzip and use the folder, or re-pack it as a plain zip "
                        "(zip -r, or 7-Zip with the Deflate method)")


#: What reading a damaged archive raises (zip: bad CRC or headers, broken deflate data; tar: cut off).
_CORRUPT = (zipfile.BadZipFile, zlib.error, EOFError, tarfile.TarError, OSError)


class _Corrupt(UserError):
    """An archive that cannot be read (bad CRC, broken compressed data, cut off); ``reason`` says how."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _is_archive(path: Path) -> bool:
    try:
        return zipfile.is_zipfile(path) or tarfile.is_tarfile(path)
    except OSError:
        return False


def _write_member(source, target: Path, size: int, fix: str) -> bool:  # noqa: ANN001 - a readable file object
    """Copy one member atomically; skip it if ``target`` already exists with the right size.

    A read error from ``source`` (a corrupt archive) propagates as it is; a write error (no space, no
    permission) is a :class:`UserError` ending with ``fix``. Either way no partial ``target`` or temp
    file is left behind.
    """
    if _present(target, size, fix):
        return False
    ensure_dir(target.parent, fix)
    tmp = temporary_name(target)
    try:
        out = open(tmp, "xb")  # noqa: SIM115 - closed below; "x" gives the usual permissions, unlike mkstemp
    except OSError as exc:
        raise cannot_write(target.parent, exc, fix) from None
    try:
        while True:
            block = source.read(1 << 20)  # a corrupt archive raises here
            if not block:
                break
            try:
                out.write(block)
            except OSError as exc:
                raise cannot_write(target, exc, fix) from None
        try:
            out.close()
            os.replace(tmp, target)
        except OSError as exc:
            raise cannot_write(target, exc, fix) from None
    except BaseException:
        with contextlib.suppress(OSError):
            out.close()
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return text or type(exc).__name__


def _prune_empty(dest: Path) -> None:
    """Remove the empty folders under ``dest`` and ``dest`` itself if empty (after a failed extraction)."""
    if not dest.is_dir():
        return
    for folder in sorted((p for p in dest.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            folder.rmdir()
    with contextlib.suppress(OSError):
        dest.rmdir()


def extract_archive(archive: str | os.PathLike, dest: str | os.PathLike, *, max_images: int | None = None,
                    images_only: bool = True, progress: bool = True) -> list[Path]:
    """Extract a ``.zip`` or ``.tar[.gz|.bz2|.xz]`` into ``dest``; returns the files written or present.

    Every member name is checked *before* anything is written: an absolute path, a ``..`` component, a
    link or a device raises :class:`UserError` and nothing is extracted (``dest`` is created only once the
    archive is known to be sound so far). Files are written atomically and a file already present with the
    right size is kept (a cut-off extraction resumes). ``max_images`` (at least 1) takes the first N image
    members by name; ``images_only`` skips everything else (annotations, CSVs). A damaged archive (bad
    CRC-32, broken compressed data, cut off) is a :class:`UserError` saying to download it again: the
    members already written are complete and verified, and no partial file or empty folder is left.
    """
    archive, dest = Path(archive), Path(dest)
    _check_max_images(max_images)
    if not archive.is_file():
        raise UserError(f"archive not found: {archive}")
    created = not dest.exists()
    try:
        try:
            return _extract_local(archive, dest, max_images, images_only, progress)
        except (PermissionError, IsADirectoryError, FileNotFoundError) as exc:  # the file system, not the data
            raise UserError(f"cannot read {archive}: {exc.strerror or _reason(exc)}; check the path and its "
                            "permissions") from None
        except _CORRUPT as exc:
            raise _Corrupt(f"archive {archive.name} is corrupt ({_reason(exc)}): delete {archive} and download "
                           "it again", _reason(exc)) from None
    except BaseException:
        if created:
            _prune_empty(dest)
        raise


def _extract_local(archive: Path, dest: Path, max_images: int | None, images_only: bool,
                   progress: bool) -> list[Path]:
    fix = "choose a writable destination folder with free space"
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            return _extract_zip(zf, archive.name, dest, max_images, images_only, progress, fix,
                                archive.stat().st_size)
    try:
        tf = tarfile.open(archive)
    except tarfile.TarError:
        raise UserError(f"{archive} is neither a zip nor a tar archive: if it is another format (7z, rar), extract "
                        "it yourself and use the folder; else replace it with the complete zip or tar file") from None
    with tf:
        members = []
        for info in tf.getmembers():  # reads the whole (compressed) tar: a cut-off one fails here
            target = _safe_target(dest, info.name, archive.name)
            if info.issym() or info.islnk():
                raise UserError(f"archive {archive.name} holds a link {info.name!r}: not extracting it")
            if info.isdir():
                continue
            if not info.isfile():
                raise UserError(f"archive {archive.name} holds a special file {info.name!r}: not extracting it")
            if images_only and not _is_image_name(info.name):
                continue
            _check_bomb(archive.name, info.name, info.size, None)
            members.append((info.name, target, info.size, info))
        chosen = sorted(members, key=lambda m: m[0])[:max_images]
        _check_name_lengths(archive.name, chosen, dest)
        _check_total(archive.name, chosen, archive.stat().st_size, dest)
        return _write_members(chosen, tf.extractfile, dest, archive.name, None, progress, fix)


def _extract_zip(zf: zipfile.ZipFile, name: str, dest: Path, max_images: int | None, images_only: bool,
                 progress: bool, fix: str, archive_size: int) -> list[Path]:
    """:func:`extract_archive` for an open zip (a local file or a :class:`~adain_lesson.hub.RemoteFile`).

    Every name is checked before anything is written (``dest`` is created after the checks): its place, its
    length, each member's size and expansion, and the members' total expansion over the bytes they take in
    the archive (at most ``archive_size``, whatever the headers claim); a member already present with the
    right size is not read again; each member's CRC-32 is checked as it is read (``zipfile.BadZipFile``
    otherwise).
    """
    members = []
    for info in zf.infolist():
        target = _safe_target(dest, info.filename, name)
        if (info.external_attr >> 16) & 0o170000 == 0o120000:
            raise UserError(f"archive {name} holds a symbolic link {info.filename!r}: not extracting it")
        if info.is_dir() or (images_only and not _is_image_name(info.filename)):
            continue
        members.append((info.filename, target, info.file_size, info))
    chosen = sorted(members, key=lambda m: m[0])[:max_images]
    for _, _, size, info in chosen:  # before anything is written
        _check_zip_method(name, info)
        _check_bomb(name, info.filename, size, info.compress_size)
    _check_name_lengths(name, chosen, dest)
    _check_total(name, chosen, min(archive_size, sum(info.compress_size for *_, info in chosen)), dest)
    return _write_members(chosen, zf.open, dest, name, None, progress, fix)


def _write_members(members: list[tuple], open_member: Callable, dest: Path, name: str, max_images: int | None,
                   progress: bool, fix: str) -> list[Path]:
    """Write the first ``max_images`` of ``(name, target, size, info)`` members, in name order, after every
    name was checked; ``dest`` is created only now. A member already present with its size is not read."""
    members = sorted(members, key=lambda m: m[0])[:max_images]
    ensure_dir(dest, fix)
    stale = remove_stale_temporaries(dest, recursive=True)
    if stale:
        print(f"note: removed {len(stale)} unfinished temporary file(s) an interrupted extraction left in {dest}",
              file=sys.stderr)
    bar = _bar(len(members), name, progress)
    for _, target, size, info in members:
        if not _present(target, size, fix):
            src = open_member(info)
            if src is not None:  # tar: None for what is not a regular file (excluded above)
                with src:
                    _write_member(src, target, size, fix)
        bar.update(1)
    bar.close()
    return [target for _, target, _, _ in members]


#: The largest central directory (a zip's list of members) read from a server: 32 MiB holds about 350,000
#: names like COCO's (``train2014/COCO_train2014_000000000009.jpg``; train2014's own is about 7 MB). A zip
#: that claims more is refused before it is read, as zipfile would read it into memory at once.
MAX_DIRECTORY_BYTES = 32 << 20
_EOCD = struct.Struct("<4s4H2LH")  # the end of central directory record
_LOCATOR64 = struct.Struct("<4sLQL")  # the zip64 end of central directory locator
_EOCD64 = struct.Struct("<4sQ2H2L4Q")  # the zip64 end of central directory record


def _directory_size(f, size: int) -> int | None:  # noqa: ANN001 - a seekable binary file
    """The size of the central directory that the zip ``f`` of ``size`` bytes claims (its end records, zip64
    included), or ``None`` where they cannot be found (then zipfile says what is wrong)."""
    tail_len = min(size, _EOCD.size + 0xFFFF + _LOCATOR64.size)  # the record, the longest comment, a locator
    f.seek(size - tail_len)
    tail = f.read(tail_len)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        return None
    cd_size = _EOCD.unpack_from(tail, at)[5]
    loc = at - _LOCATOR64.size
    if cd_size == 0xFFFFFFFF and loc >= 0 and tail[loc:loc + 4] == b"PK\x06\x07":
        offset = _LOCATOR64.unpack_from(tail, loc)[2]
        if offset + _EOCD64.size <= size:
            f.seek(offset)
            record = f.read(_EOCD64.size)
            if len(record) == _EOCD64.size and record[:4] == b"PK\x06\x06":
                cd_size = _EOCD64.unpack(record)[8]
    return cd_size


def _check_directory(remote: hub.RemoteFile, url: str) -> None:
    """Refuse a remote zip whose claimed central directory is larger than the file or than
    :data:`MAX_DIRECTORY_BYTES`, before zipfile reads it (a 1 GB claim made a 4.3 GB peak)."""
    claimed = _directory_size(remote, remote.size)
    if claimed is not None and claimed > min(remote.size, MAX_DIRECTORY_BYTES):
        raise DownloadError(tr("the zip at {url} claims a list of members (central directory) of {claimed} bytes, "
                               "more than {limit}: it is no image archive this can read part by part; use another "
                               "address, or download the whole archive, check it, and pass it as archive",
                               url=url, claimed=f"{claimed:,}", limit=f"{min(remote.size, MAX_DIRECTORY_BYTES):,}"),
                            param="archive")


def extract_remote_zip(url: str, dest: str | os.PathLike, *, max_images: int | None = None,
                       images_only: bool = True, size: int | None = None, progress: bool = True) -> list[Path]:
    """:func:`extract_archive` for a zip on a web server, reading only what it extracts (HTTP Range).

    The central directory (at the end of the zip) lists the members; then only the first ``max_images``
    (at least 1) images are fetched, each checked against its CRC-32. For a quick subset this moves
    megabytes instead of the whole archive (COCO train2014: 13.5 GB). ``size`` is the archive's known
    size: a server file of another size is refused. Raises :class:`adain_lesson.hub.RangeNotSupported`
    when the server cannot serve parts (then download the whole archive); a cut-off transfer or corrupt
    data keeps the images done so far (complete and verified), and running it again continues.
    """
    dest = Path(dest)
    _check_max_images(max_images)
    remote = hub.RemoteFile(url)
    name = PurePosixPath(url.split("?")[0]).name or url
    if size is not None and remote.size != size:
        raise DownloadError(f"{url} is {remote.size:,} bytes, expected {size:,}: it is not the expected file; "
                            "use another address, or an archive you downloaded and checked")
    created = not dest.exists()
    try:
        try:
            _check_directory(remote, url)
            with zipfile.ZipFile(remote) as zf:
                return _extract_zip(zf, name, dest, max_images, images_only, progress,
                                    "choose a writable destination folder with free space", remote.size)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise DownloadError(f"reading {name} from {url} gave corrupt data ({_reason(exc)}); nothing of it was "
                                "kept: run it again once (a transfer error), and if it fails the same way, the archive "
                                "on the server is damaged: use another address") from None
    except BaseException:
        if created:
            _prune_empty(dest)
        raise


def _bar(total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"extract {desc}", unit="file", disable=not progress)


def _check_placed(path: Path, source: DataSource) -> None:
    """An archive this call did not download (placed by hand, or given as ``archive``) has the size and
    SHA-256 that :data:`SOURCES` knows for it, before anything is extracted (a 3 MB file standing in for an
    816 MB archive would otherwise be extracted silently). Nothing is deleted: the message says what to do."""
    problem = hub.verify(path, source.size, source.sha256)
    if problem:
        raise DownloadError(f"{path} has {problem}: it is not the complete {source.archive} of {source.name}; "
                            f"replace it with the file from {source.url} (nothing was extracted)")


def mirrored_source(source: DataSource) -> DataSource:
    """``source`` as the manifest override names it: when ``ADAIN_LESSON_MANIFEST`` (see
    :mod:`adain_lesson.hub`) lists a row of kind ``dataset`` under ``source.name`` (a mirror, or the
    rehearsal's stand-in archive), its address, size and SHA-256 replace the pinned ones, and the download
    checks the archive against them exactly as against :data:`SOURCES`. Without the override, or without such
    a row, ``source`` is returned unchanged (the shipped manifest holds no dataset rows)."""
    if not os.environ.get(hub.MANIFEST_ENV):
        return source
    row = hub.manifest("dataset").get(source.name)
    if row is None:
        return source
    return replace(source, url=row.url, size=row.size, sha256=row.sha256, images=None,
                   note=f"{source.note} (from {hub.MANIFEST_ENV})")


def download_dataset(
    source: str | DataSource,
    root: str | os.PathLike,
    *,
    max_images: int | None = None,
    archive: str | os.PathLike | None = None,
    url: str | None = None,
    keep_archive: bool = True,
    progress: bool = True,
) -> Path:
    """Download ``source`` (a name of :data:`SOURCES` or a :class:`DataSource`) and extract its images.

    The archive goes to ``root/archives/`` through :func:`adain_lesson.hub.download` (resumable: run it
    again after a disconnect; size and SHA-256 checked where :data:`SOURCES` knows them, whichever address
    it comes from). The images go to ``root/<name>/``, which is returned: pass it as ``--content-dir`` or
    ``--style-dir``. ``archive`` uses a file you downloaded yourself instead; an archive given so, or placed
    by hand in ``root/archives/``, is checked for the known size and SHA-256 before anything is extracted
    (:func:`_check_placed`). ``url`` overrides the address
    (a mirror of the same file: it is checked like the original). ``max_images`` (at least 1) extracts only
    the first N images. Then, if neither the archive nor a partial download of it is on disk, only those
    images are read from the server (:func:`extract_remote_zip`, HTTP Range; the archive's size and each
    image's CRC-32 are checked, the archive's SHA-256 cannot be); a server without Range support gets the
    whole archive downloaded instead. A manifest override (``ADAIN_LESSON_MANIFEST``) with a ``dataset`` row
    of the same name replaces the address, size and SHA-256 (:func:`mirrored_source`). With
    ``ADAIN_LESSON_OFFLINE=1`` nothing is read from the network: the
    error says where to put the archive by hand.
    """
    if isinstance(source, str):
        if source not in SOURCES:
            raise UserError(f"unknown dataset {source!r}: choose one of {', '.join(SOURCES)}")
        source = SOURCES[source]
    source = mirrored_source(source)
    _check_max_images(max_images)
    root = Path(root).expanduser()
    downloaded = False
    fix = "choose another data folder (root) that is writable and has free space"
    ensure_dir(root, fix)
    if archive is not None:
        path = Path(archive).expanduser()
        if not path.is_file():
            raise UserError(f"archive {path} does not exist: download {source.url} (or the Kaggle file) first",
                            param="archive")
        _check_placed(path, source)
    else:
        path = root / "archives" / source.archive
        partial = path.with_name(path.name + ".part")
        address = url or source.url
        if (max_images is not None and not path.is_file() and not partial.exists()
                and source.archive.endswith(".zip") and not hub.is_offline()):
            out = root / source.name
            try:
                extract_remote_zip(address, out, max_images=max_images, size=source.size, progress=progress)
                return out
            except hub.RangeNotSupported:
                print(f"note: {address} cannot send parts of the archive: downloading all of it", file=sys.stderr)
        if not path.is_file():
            ensure_dir(path.parent, fix)
            hub.download(address, path, size=source.size, sha256=source.sha256, progress=progress)
            downloaded = True
            if not _is_archive(path):  # e.g. an error page served as the file: never kept and reused
                with open(path, "rb") as f:
                    head = f.read(512)
                path.unlink(missing_ok=True)
                raise DownloadError(f"{address} sent a file that is not a zip or tar archive"
                                    f"{hub.describe_content(head)}: it was deleted; check the address, or download "
                                    "it by hand and pass it as archive", param="archive")
        else:  # placed by hand (as the offline message says) or left by an earlier run: checked before use
            _check_placed(path, source)
    out = root / source.name
    try:
        extract_archive(path, out, max_images=max_images, progress=progress)
    except _Corrupt as exc:
        if not downloaded:  # given or placed by hand: nothing is deleted, the message says what to do
            raise
        path.unlink(missing_ok=True)  # this call's own download: never reused
        raise DownloadError(f"the downloaded {path.name} is corrupt ({exc.reason}): it was deleted; run it again "
                            f"to download it afresh (if it fails again, the file at {address} is damaged: use "
                            "another address)") from None
    if not keep_archive and archive is None:
        path.unlink(missing_ok=True)
    return out
