"""Pinned downloads: the released weights and the paper's images, each with URL, size and SHA-256.

The registry is ``adain_lesson/_data/manifest.tsv`` (inside the package, so every install ships it). Files
are cached under :func:`cache_dir`, which follows ``torch.hub``'s conventions:
``$ADAIN_LESSON_HOME`` if set, else ``<torch.hub.get_dir()>/adain_lesson`` (that is
``$TORCH_HOME/hub/adain_lesson``, by default ``~/.cache/torch/hub/adain_lesson``).

A download streams into ``<name>.part`` with a progress bar, then checks the size and SHA-256, and only
then renames the file into place: the cache never holds a half-written or unverified file. A cut-off
download is resumed on the next call (HTTP Range); a wrong size or hash deletes the partial file.
``ADAIN_LESSON_OFFLINE=1`` forbids the network (:func:`download` and :class:`RemoteFile` too): a file
that is not cached is an :class:`OfflineError` that says where to put it by hand.

Hostile or unlucky conditions: two processes fetching one file (every ``torchrun`` rank) share no
``.part``: a lock ``<name>.lock`` makes the others wait, then use the verified file. A ``.part`` that is a
link or not a regular file is never followed; a resume checks the server's ``Content-Range`` (another part
starts afresh), HTTP 416 is told apart from a complete file, a malformed ``Content-Length`` is ignored, reads
are small (Ctrl-C keeps what came) under an overall deadline, and a wrong file (a web page, gzip-wrapped,
the wrong size or hash) is deleted and named as wrong: "run it again" is said only where that can help.

A folder or file that cannot be written (a read-only or full disk, ``ADAIN_LESSON_HOME`` pointing at a
file) is a :class:`UserError` naming the path and the fix, never a traceback; so is an address that is
not an ``http(s)://`` URL.

:class:`RemoteFile` reads parts of a large remote file with HTTP Range requests, as a seekable file
object: :func:`adain_lesson.data.download_dataset` uses it to take a few images out of a 13.5 GB zip
without downloading the whole archive.

``ADAIN_LESSON_MANIFEST=/path/to/manifest.tsv`` replaces the shipped manifest for a run (tests, the
rehearsal of ``python -m adain_lesson rehearse``, a mirror): a file with the same columns. Every file is still
checked against the size and SHA-256 its row states; a row without a 64-hex SHA-256 or a whole-number size is
refused, so an override can point a name elsewhere but never switch the check off. A file verified under an
override is not trusted without it (its ``.sha256-ok`` marker records the hash it was checked against).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import http.client
import io
import os
import shutil
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from . import env
from .errors import DownloadError, OfflineError, UserError
from .files import (
    FileLock,
    atomic_write_text,
    cannot_write,
    ensure_dir,
    open_regular,
    remove_stale_temporaries,
    temporary_name,
)

__all__ = [
    "WEIGHT_FILES",
    "Asset",
    "RangeNotSupported",
    "MANIFEST_ENV",
    "RemoteFile",
    "cache_dir",
    "describe_content",
    "download",
    "fetch",
    "is_offline",
    "manifest",
    "sha256_file",
    "torchvision_weights",
    "verify",
]

#: The two files of the pytorch-AdaIN release (v0.0.0), as a user who downloads them by hand names them.
WEIGHT_FILES = ("vgg_normalised.pth", "decoder.pth")
#: The environment variable that names a manifest file to use instead of the shipped one.
MANIFEST_ENV = "ADAIN_LESSON_MANIFEST"
_COLUMNS = ("name", "kind", "path", "bytes", "sha256", "url")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Asset:
    """One downloadable file: ``name`` (unique), ``kind`` (weights, content, style, mask, figure),
    ``path`` (where it goes under the cache), ``size`` in bytes, ``sha256`` and the pinned ``url``."""

    name: str
    kind: str
    path: str
    size: int
    sha256: str
    url: str


def _manifest_text() -> tuple[str, str]:
    """The manifest's text and where it came from: ``$ADAIN_LESSON_MANIFEST``, else the shipped file."""
    override = os.environ.get(MANIFEST_ENV)
    if override:
        path = Path(override).expanduser()
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise UserError(f"{MANIFEST_ENV}={override} cannot be read ({reason}): point it at a manifest file "
                            "with the columns of adain_lesson/_data/manifest.tsv, or unset it") from None
    text = resources.files("adain_lesson").joinpath("_data/manifest.tsv").read_text(encoding="utf-8")
    return text, "adain_lesson/_data/manifest.tsv"


def _parse_row(row: dict, where: str) -> Asset:
    """One manifest row, checked: a whole-number size, a 64-hex SHA-256, an http(s) URL."""
    def bad(what: str) -> UserError:
        return UserError(f"{where}: {what}; fix that line (every row needs {', '.join(_COLUMNS)}, tab-separated)")

    if any(row.get(c) in (None, "") for c in _COLUMNS):
        missing = [c for c in _COLUMNS if row.get(c) in (None, "")]
        raise bad(f"{row.get('name') or 'a row'} lacks {', '.join(missing)}")
    try:
        size = int(row["bytes"])
    except ValueError:
        size = -1
    if size < 0:
        raise bad(f"{row['name']} has size {row['bytes']!r}, not a whole number of bytes")
    sha = row["sha256"].strip().lower()
    if len(sha) != 64 or any(ch not in "0123456789abcdef" for ch in sha):
        raise bad(f"{row['name']} has SHA-256 {row['sha256']!r}, not 64 hex digits")
    parts = urllib.parse.urlsplit(row["url"])
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise bad(f"{row['name']} has URL {row['url']!r}, not an http(s) address")
    return Asset(row["name"], row["kind"], row["path"], size, sha, row["url"])


def manifest(kind: str | None = None) -> dict[str, Asset]:
    """The registry of downloadable files by name, optionally only one ``kind``.

    Read from ``$ADAIN_LESSON_MANIFEST`` when set (see the module docstring), else the shipped manifest. A
    malformed file is a one-line :class:`UserError` naming the file and the problem.
    """
    text, where = _manifest_text()
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    header = lines[0].split("\t") if lines else []
    if [h.strip() for h in header] != list(_COLUMNS):
        raise UserError(f"{where}: the header must be the columns {' '.join(_COLUMNS)} (tab-separated), "
                        f"found {' '.join(header)[:80]!r}")
    assets = {}
    for row in csv.DictReader(lines, delimiter="\t"):
        result = _parse_row(row, where)
        if result.name in assets:
            raise UserError(f"{where}: the name {result.name} appears twice; keep one line for it")
        if kind is None or result.kind == kind:
            assets[result.name] = result
    return assets


def cache_dir() -> Path:
    """Where downloads are cached: ``$ADAIN_LESSON_HOME``, else ``<torch.hub.get_dir()>/adain_lesson``."""
    env = os.environ.get("ADAIN_LESSON_HOME")
    if env:
        return Path(env).expanduser()
    import torch.hub

    return Path(torch.hub.get_dir()) / "adain_lesson"


def is_offline() -> bool:
    """``True`` when ``ADAIN_LESSON_OFFLINE`` (read by :func:`adain_lesson.env.flag`: 1, true, yes, on ...) forbids
    the network."""
    return bool(env.flag("ADAIN_LESSON_OFFLINE"))


def _not_http(url: str) -> UserError:
    return UserError(f"the address {url!r} is not an http(s) URL: give one like https://host/file.zip "
                     "(a file on this machine: pass it as archive)", param="archive")


def _check_url(url: str) -> None:
    """Refuse anything but an ``http(s)://host/...`` address (``urllib`` would say ``unknown url type``)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise _not_http(url)


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, as lower-case hex."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: str | os.PathLike, size: int | None, sha256: str | None) -> str | None:
    """``None`` if ``path`` has the expected size and SHA-256, else what is wrong (one phrase)."""
    actual = os.path.getsize(path)
    if size is not None and actual != size:
        return f"size {actual:,} bytes, expected {size:,}"
    if sha256:
        digest = sha256_file(path)
        if digest != sha256.lower():
            return f"SHA-256 {digest[:12]}..., expected {sha256[:12]}..."
    return None


def download(
    url: str,
    dest: str | os.PathLike,
    *,
    size: int | None = None,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 30.0,
    deadline: float | None = None,
) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial file, then verify and rename.

    Raises :class:`OfflineError` when ``ADAIN_LESSON_OFFLINE=1`` or the server cannot be reached (both say
    where to put the file by hand), and :class:`DownloadError` when the transfer is cut off or too slow (the
    partial file is kept, so the next call resumes) or when the finished file is not the expected one: a
    wrong size or SHA-256, or a web page instead of the file (the partial file is deleted, never cached). A
    local problem (the folder or ``dest.part`` cannot be written, the disk is full, ``dest.part`` is a link
    or not a regular file) and an address that is not ``http(s)://`` are a :class:`UserError`.

    Two processes (torchrun ranks, two notebook tabs) never share ``dest.part``: a lock ``dest.lock``
    makes the second wait, and it then uses the file the first one verified. ``timeout`` bounds each read;
    ``deadline`` (seconds) bounds the whole transfer (default: 10 minutes plus 20 KB/s of ``size``, or
    6 hours when the size is unknown), so a server that trickles bytes cannot hold a run forever.
    """
    return _download(url, Path(dest), size, sha256, progress, timeout,
                     "choose a writable folder with free space", deadline)


#: The slowest average rate the default deadline allows (bytes per second), after 10 minutes of grace.
_MIN_RATE = 20_000
_READ = 1 << 16  # a read returns what has arrived, up to 64 KiB: Ctrl-C and the bar act at once


def _download(url: str, dest: Path, size: int | None, sha256: str | None, progress: bool, timeout: float,
              fix: str, deadline: float | None = None) -> Path:
    """:func:`download`; ``fix`` ends the message of a local write error (how to get a writable folder)."""
    _check_url(url)
    if is_offline():
        raise OfflineError(
            f"ADAIN_LESSON_OFFLINE=1 forbids downloading {url}: download it elsewhere and put it at {dest}"
        )
    ensure_dir(dest.parent, fix)
    lock = FileLock(dest.with_name(dest.name + ".lock"), f"the download of {dest.name}", fix)
    lock.acquire(on_wait=lambda who: print(f"note: waiting for {who}, which is downloading {dest.name}",
                                           file=sys.stderr))
    try:
        if sha256 and dest.is_file() and (_is_marked(dest, sha256) or verify(dest, size, sha256) is None):
            return dest  # another process finished it while this one waited
        if deadline is None:
            deadline = 600.0 + size / _MIN_RATE if size is not None else 6 * 3600.0
        return _download_locked(url, dest, size, sha256, progress, timeout, fix, deadline)
    finally:
        lock.release()


def _parse_range(value: str | None) -> tuple[int | None, int | None]:
    """``(start, total)`` of a ``Content-Range: bytes a-b/N`` (or ``bytes */N``); ``None`` where unreadable."""
    try:
        span, total = (value or "").strip().removeprefix("bytes ").split("/")
        start = None if span.strip() == "*" else int(span.split("-")[0])
        return start, (None if total.strip() == "*" else int(total))
    except ValueError:
        return None, None


def _content_length(response) -> int | None:  # noqa: ANN001 - HTTPResponse
    try:
        n = int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None  # missing or malformed (e.g. "12, 12" or "abc"): the size is simply unknown
    return n if n >= 0 else None


def _request(url: str, dest: Path, have: int, timeout: float):  # noqa: ANN202 - HTTPResponse or HTTPError
    headers = {"User-Agent": "adain-lesson", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            return exc  # the caller decides: complete already, or a partial file of another file
        exc.close()
        raise DownloadError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
    except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise OfflineError(
            f"cannot reach {url} ({reason}); if you are offline, download it elsewhere and put it at {dest}"
        ) from None
    except (ValueError, http.client.HTTPException) as exc:  # "unknown url type"; a garbled status line
        if isinstance(exc, ValueError):
            raise _not_http(url) from None
        raise DownloadError(f"{url} answered with a malformed HTTP response ({type(exc).__name__}): "
                            "it is not a working download address; check it") from None


def describe_content(head: bytes) -> str:
    """A phrase (``"; it is a web page (HTML), not the file"``, or ``""``) for what a wrong file is, from its
    first bytes."""
    low = head[:512].lstrip().lower()
    if low.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")) or b"<html" in low:
        return "; it is a web page (HTML), not the file"
    if head.startswith(b"\x1f\x8b"):
        return "; it is gzip-compressed (the server compressed it in transit)"
    return ""


def _download_locked(url: str, dest: Path, size: int | None, sha256: str | None, progress: bool,
                     timeout: float, fix: str, deadline: float) -> Path:
    part = dest.with_name(dest.name + ".part")
    try:
        fd = open_regular(part, os.O_RDWR | os.O_CREAT, "partial download")
    except OSError as exc:
        raise cannot_write(part, exc, fix) from None
    try:
        have = os.fstat(fd).st_size
        if size is not None and have > size:
            os.ftruncate(fd, 0)
            have = 0
        if have and progress:
            print(f"note: resuming {part} from byte {have:,} (a download cut off earlier)", file=sys.stderr)
        response, promised = None, None
        while True:
            answer = _request(url, dest, have, timeout)
            if isinstance(answer, urllib.error.HTTPError):  # 416: the server has nothing from `have` on
                _, total = _parse_range(answer.headers.get("Content-Range"))
                answer.close()
                if have == (size if size is not None else total):
                    break  # the partial file is complete already
                print(f"note: the partial {part.name} does not match the file on the server (HTTP 416): "
                      "starting afresh", file=sys.stderr)
                os.ftruncate(fd, 0)
                have = 0
                continue
            response = answer
            if have and response.status == 206:
                start, total = _parse_range(response.headers.get("Content-Range"))
                if start != have or (size is not None and total is not None and total != size):
                    response.close()
                    print(f"note: {url} sent another part (Content-Range "
                          f"{response.headers.get('Content-Range')!r}) than asked for (from byte {have}): "
                          "starting afresh", file=sys.stderr)
                    os.ftruncate(fd, 0)
                    have = 0
                    continue
            elif have:  # 200: the server ignored Range and sends the whole file
                os.ftruncate(fd, 0)
                have = 0
            break
        if response is not None:
            with response:
                ctype = response.headers.get("Content-Type", "")
                if ctype.split(";")[0].strip().lower() == "text/html" and not dest.suffix.lower().startswith(".htm"):
                    raise DownloadError(f"{url} sent a web page (Content-Type {ctype}), not {dest.name}: nothing "
                                        f"was kept; check the address, or download the file by hand and put it "
                                        f"at {dest}")
                promised = _content_length(response)
                total = size if size is not None else (promised + have if promised is not None else None)
                _stream(response, fd, part, dest, have, total, progress, fix, deadline)
                if promised is not None:
                    promised += have
        got = os.fstat(fd).st_size
        if size is not None and got < size and got != promised:  # (all that was promised came: a wrong file)
            raise DownloadError(
                f"download of {dest.name} was cut off at {got:,} of {size:,} bytes; run it again to resume"
            )
        os.lseek(fd, 0, os.SEEK_SET)
        head = os.read(fd, 512)
    finally:
        empty = os.fstat(fd).st_size == 0
        os.close(fd)
        if empty:  # nothing came: leave no empty partial file behind
            part.unlink(missing_ok=True)
    problem = verify(part, size, sha256)
    if problem:
        part.unlink(missing_ok=True)
        raise DownloadError(
            f"{url} sent a file that is not the expected {dest.name} ({problem}{describe_content(head)}): it was "
            f"deleted, not cached; check the address, or download the file by hand and put it at {dest}"
        )
    try:
        os.replace(part, dest)
    except OSError as exc:
        raise cannot_write(dest, exc, fix) from None
    return dest


def _stream(response, fd: int, part: Path, dest: Path, have: int, total: int | None, progress: bool,  # noqa: ANN001
            fix: str, deadline: float) -> None:
    """Copy ``response`` into ``fd`` from offset ``have``, in small reads. A network error or the overall
    ``deadline`` is a :class:`DownloadError` that keeps the partial file (the next call resumes); a local
    write error (disk full) is a :class:`UserError` naming ``part``. Ctrl-C keeps what was written."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=dest.name)
    os.ftruncate(fd, have)
    os.lseek(fd, have, os.SEEK_SET)
    started = time.monotonic()
    read = getattr(response, "read1", response.read)
    try:
        while True:
            try:
                block = read(_READ)
            except (TimeoutError, http.client.HTTPException, ConnectionError, OSError) as exc:
                got = os.fstat(fd).st_size
                raise DownloadError(f"download of {dest.name} was cut off after {got:,} bytes "
                                    f"({type(exc).__name__}); run it again to resume") from None
            if not block:
                break
            view = memoryview(block)
            while view:
                try:
                    n = os.write(fd, view)
                except OSError as exc:
                    raise cannot_write(part, exc, f"{fix}, then run it again to resume") from None
                view = view[n:]
            if bar is not None:
                bar.update(len(block))
            if time.monotonic() - started > deadline:
                got = os.fstat(fd).st_size
                raise DownloadError(
                    f"download of {dest.name} is too slow: {got - have:,} bytes in {deadline:.0f} s (the deadline); "
                    f"the {got:,} bytes so far are kept: run it again later to resume, or use a mirror"
                )
    finally:
        if bar is not None:
            bar.close()


def _resolve(asset: Asset | str) -> Asset:
    if isinstance(asset, Asset):
        return asset
    assets = manifest()
    if asset not in assets:
        raise UserError(f"unknown asset {asset!r}: see {_manifest_text()[1]} for the names")
    return assets[asset]


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256-ok")


def _stamp(path: Path, sha256: str) -> str:
    st = path.stat()
    return f"{sha256} {st.st_size} {st.st_mtime_ns}\n"


def _is_marked(path: Path, sha256: str) -> bool:
    """Whether ``path`` is the very file (same size and modification time) whose SHA-256 was checked."""
    try:
        return _marker(path).read_text(encoding="ascii") == _stamp(path, sha256)
    except (OSError, UnicodeDecodeError):
        return False


def _mark(path: Path, sha256: str) -> None:
    """Record that ``path`` was verified (atomically); a read-only cache is simply verified again next time."""
    with contextlib.suppress(OSError, UserError):  # the stat in _stamp; the write (atomic_write's one line)
        atomic_write_text(_marker(path), _stamp(path, sha256), encoding="ascii")


def fetch(
    asset: Asset | str,
    *,
    root: str | os.PathLike | None = None,
    mirror: str | os.PathLike | None = None,
    progress: bool = True,
) -> Path:
    """The local path of ``asset`` (a manifest name or an :class:`Asset`), downloading it if missing.

    ``root`` overrides :func:`cache_dir`. ``mirror`` is a folder laid out like the cache (for example a USB
    stick in a classroom): a file found there is verified and copied instead of downloaded; a mirror folder
    that does not exist is a :class:`UserError` (checked when a file is needed from it).

    Verification: every file is checked against the pinned size and SHA-256 before it is used the first
    time, wherever it came from (a download, the mirror, or placed by hand). A verified file gets a small
    marker ``<file>.sha256-ok`` beside it holding the hash, size and modification time; while the file
    still has that size and time it is trusted without hashing it again (if the marker cannot be written,
    the file is simply hashed on every call: about 0.2 s for the 80 MB VGG). A cached file that fails the
    check is never deleted silently: offline it is a :class:`DownloadError` that says to replace it; online
    a note on stderr says it is being replaced, and the fresh download takes its place only once verified.
    """
    a = _resolve(asset)
    if root is not None:
        dest, fix = Path(root).expanduser() / a.path, "choose another root folder"
    else:
        dest, fix = cache_dir() / a.path, "set ADAIN_LESSON_HOME to a writable folder"
    if dest.is_file():
        if _is_marked(dest, a.sha256):
            return dest
        problem = verify(dest, a.size, a.sha256)
        if problem is None:
            _mark(dest, a.sha256)
            return dest
        if is_offline():
            raise DownloadError(f"{dest} has {problem}: replace it with the file from {a.url}")
        print(f"note: {dest} has {problem}: replacing it with the verified file", file=sys.stderr)
    for stale in remove_stale_temporaries(dest.parent):  # a copy a killed process left half-way
        print(f"note: removed {stale}, an unfinished copy a stopped process left", file=sys.stderr)
    if mirror is not None:
        folder = Path(mirror).expanduser()
        if not folder.is_dir():
            raise UserError(f"mirror folder {folder} does not exist: check the path (a folder laid out like the "
                            f"cache, holding e.g. {a.path})")
        source = folder / a.path
        if source.is_file():
            problem = verify(source, a.size, a.sha256)
            if problem:
                raise DownloadError(f"{source} has {problem}: replace it with the file from {a.url}")
            ensure_dir(dest.parent, fix)
            tmp = None
            try:
                tmp = temporary_name(dest)
                shutil.copyfile(source, tmp)
                os.replace(tmp, dest)
            except OSError as exc:
                if tmp is not None:
                    with contextlib.suppress(OSError):
                        os.unlink(tmp)
                raise UserError(f"copying {source} to {dest} failed: {exc.strerror or exc}; {fix}") from None
            _mark(dest, a.sha256)
            return dest
    ensure_dir(dest.parent, fix)
    if is_offline():
        raise OfflineError(
            f"{a.name} is not cached and ADAIN_LESSON_OFFLINE=1 forbids downloading: "
            f"download {a.url} elsewhere and put it at {dest}"
        )
    _download(a.url, dest, a.size, a.sha256, progress, 30.0, fix)
    _mark(dest, a.sha256)
    return dest


def torchvision_weights(url: str, *, progress: bool = True) -> dict:
    """The state dict at ``url``, one of torchvision's pretrained files (e.g.
    ``torchvision.models.VGG19_Weights.IMAGENET1K_V1.url``), kept in this package's cache
    (``cache_dir()/torchvision/``, so a Colab Drive cache keeps it) instead of torch's own.

    ``ADAIN_LESSON_OFFLINE=1`` and an unreachable server are an :class:`OfflineError` (the file is not
    downloaded elsewhere behind the user's back). The file is verified against the SHA-256 prefix in its
    name (torchvision's convention, as ``torch.hub`` checks it); a manifest row of the same name (an
    ``ADAIN_LESSON_MANIFEST`` override: a mirror or the rehearsal) replaces the address and is checked
    against its full size and SHA-256, like every pinned file.
    """
    import re

    import torch

    name = url.rsplit("/", 1)[-1]
    if name in manifest():
        path = fetch(name, progress=progress)
    else:
        path = cache_dir() / "torchvision" / name
        prefix = re.search(r"-([a-f0-9]{6,})\.", name)
        if not path.is_file():
            download(url, path, progress=progress)
            if prefix and not sha256_file(path).startswith(prefix.group(1)):
                path.unlink()
                raise DownloadError(f"downloaded {name} does not match the SHA-256 prefix in its name; "
                                    "the file was deleted: run it again")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same user-level problem
        raise DownloadError(f"cannot read {path} ({type(exc).__name__}): delete it and run again") from None


# ---------------------------------------------------------------------------------------------------
# Reading parts of a remote file
# ---------------------------------------------------------------------------------------------------


class RangeNotSupported(DownloadError):
    """The server answers a Range request with the whole file: parts of it cannot be read."""


class RemoteFile(io.RawIOBase):
    """A read-only, seekable file object over ``url``, read with HTTP Range requests.

    ``zipfile.ZipFile(RemoteFile(url))`` reads an archive's central directory (at its end) and then only
    the members that are opened, so a few images can be taken out of a huge zip. Each request fetches at
    least ``block`` bytes (read-ahead), and the file's last ``block`` bytes are fetched at once (the zip
    end records live there). ``bytes_read`` counts what came over the network.

    Raises :class:`RangeNotSupported` when the server ignores Range, :class:`OfflineError` when it cannot
    be reached or ``ADAIN_LESSON_OFFLINE=1``, :class:`DownloadError` when a transfer is cut off or an answer
    is not the asked range, and :class:`UserError` when ``url`` is not an ``http(s)://`` address.
    """

    def __init__(self, url: str, *, block: int = 1 << 18, timeout: float = 30.0) -> None:
        super().__init__()
        _check_url(url)
        if is_offline():
            raise OfflineError(f"ADAIN_LESSON_OFFLINE=1 forbids reading {url}: unset it, or download the file "
                               "elsewhere and use the local copy")
        self.url = url
        self.block = max(1, int(block))
        self.timeout = timeout
        self.bytes_read = 0
        self.requests = 0
        self._pos = 0
        self._spans: list[tuple[int, bytes]] = []  # the last few fetched (start, data), newest last
        first = self._get(0, 0)
        self.size = first[1]

    # -- io.RawIOBase ---------------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise OSError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:  # noqa: ANN001 - a writable buffer (memoryview, bytearray)
        view = memoryview(buffer).cast("B")
        want = min(len(view), max(0, self.size - self._pos))
        if want == 0:
            return 0
        start, data = self._span(self._pos, want)
        chunk = data[self._pos - start:self._pos - start + want]
        view[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)

    # -- fetching -------------------------------------------------------------------------------
    def _span(self, pos: int, want: int) -> tuple[int, bytes]:
        for start, data in reversed(self._spans):
            if start <= pos and pos + want <= start + len(data):
                return start, data
        if pos >= self.size - self.block:  # the tail (zip end records): fetch it whole
            start, end = max(0, self.size - max(self.block, want)), self.size - 1
            start = min(start, pos)
        else:
            start, end = pos, min(self.size, pos + max(want, self.block)) - 1
        data, _ = self._get(start, end)
        self._spans = [*self._spans[-3:], (start, data)]
        return start, data

    def _get(self, start: int, end: int) -> tuple[bytes, int]:
        """Bytes ``start..end`` (inclusive) and the file's total size, from one Range request."""
        headers = {"User-Agent": "adain-lesson", "Range": f"bytes={start}-{end}"}
        self.requests += 1
        try:
            response = urllib.request.urlopen(urllib.request.Request(self.url, headers=headers), timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"reading {self.url} failed: HTTP {exc.code} {exc.reason}") from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise OfflineError(f"cannot reach {self.url} ({reason}): check the connection and run it again") from None
        except ValueError:  # urllib's "unknown url type" and the like
            raise _not_http(self.url) from None
        with response:
            if response.status != 206:
                raise RangeNotSupported(f"{self.url} does not serve parts of the file (no HTTP Range support)")
            content_range = response.headers.get("Content-Range", "")
            try:
                span, total = content_range.removeprefix("bytes ").split("/")
                got_start = int(span.split("-")[0])
                size = int(total)
            except ValueError:
                raise RangeNotSupported(f"{self.url} sent a malformed Content-Range {content_range!r}: it does not "
                                        "serve parts of the file correctly; download the whole file instead") from None
            if got_start != start:
                raise RangeNotSupported(f"{self.url} sent bytes from {got_start}, not {start}: it does not serve parts "
                                        "of the file correctly; download the whole file instead")
            want = end - start + 1
            budget = 60.0 + want / _MIN_RATE  # an overall deadline per request, not only per read
            began, chunks, got = time.monotonic(), [], 0
            read = getattr(response, "read1", response.read)
            try:
                while got < want:
                    block = read(min(_READ, want - got))
                    if not block:
                        break
                    chunks.append(block)
                    got += len(block)
                    if time.monotonic() - began > budget:
                        raise DownloadError(f"reading {self.url} is too slow ({got:,} bytes in {budget:.0f} s): "
                                            "run it again later, or download the whole archive elsewhere")
            except (TimeoutError, http.client.HTTPException, ConnectionError, OSError) as exc:
                raise DownloadError(
                    f"reading {self.url} was cut off ({type(exc).__name__}): run it again to resume"
                ) from None
            data = b"".join(chunks)
        if len(data) < min(end, size - 1) - start + 1:
            raise DownloadError(f"reading {self.url} was cut off after {len(data):,} bytes: run it again to resume")
        self.bytes_read += len(data)
        return data, size
