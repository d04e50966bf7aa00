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
``.part``: a lock ``<name>.lock`` makes the others wait, then use the verified file. A ``.part`` or ``.lock``
that is a link (symbolic or hard) or not a regular file is never followed nor written through; a resume
checks the server's ``Content-Range`` (another part starts afresh), HTTP 416 is told apart from a complete
file, a malformed ``Content-Length`` is ignored, reads are small (Ctrl-C keeps what came) under an overall
deadline that covers connecting and the headers too (:class:`_Deadline`), reading stops past the pinned size,
the hash decides (not the ``Content-Type``), and a wrong file (a web page, gzip-wrapped, the wrong size or
hash) is deleted and named as wrong: "run it again" is said only where that can help.

The cache is trusted by its owner only. Every path a manifest row names stays inside the cache once links
are resolved. A verified file's marker ``<name>.sha256-ok`` binds the hash to that very file (size,
modification and change times, device, inode: :func:`_stamp`); a marker another user could have written or
changed vouches for nothing (:func:`_own_marker`), and a file changed since is hashed again. A cached or
mirror file that cannot be read is one line.

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
import socket
import stat
import sys
import threading
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
    atomic_write,
    cannot_read,
    cannot_write,
    ensure_dir,
    open_regular,
    remove_stale_temporaries,
    temporary_name,
)
from .i18n import tr

__all__ = [
    "MAX_SPAN",
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
    "path_problem",
    "sha256_file",
    "torchvision_weights",
    "url_problem",
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
    problem = url_problem(row["url"])
    if problem:
        raise UserError(tr("{where}: {name} has the URL {url!r}, which is not a usable http(s) address ({problem}); "
                           "fix that line", where=where, name=row["name"], url=row["url"], problem=problem))
    problem = path_problem(row["path"])
    if problem:
        raise UserError(tr("{where}: {name} has the path {path!r}, which could lead outside the cache ({problem}): "
                           "a manifest row names a place inside the cache, like weights/decoder.pth; fix that line",
                           where=where, name=row["name"], path=row["path"], problem=problem))
    return Asset(row["name"], row["kind"], row["path"], size, sha, row["url"])


def path_problem(path: str) -> str | None:
    """What makes ``path`` (a manifest row's place in the cache) unsafe, as a noun phrase, else ``None``: it must be
    relative, with ``/`` between plain names (no ``..``, ``.``, empty part, drive, backslash or control
    character), so that it cannot name a file outside the cache."""
    if not path or path != path.strip():
        return tr("empty, or a space at either end")
    if path.startswith(("/", "~")) or (len(path) > 1 and path[1] == ":"):
        return tr("an absolute path")
    if "\\" in path or any(ord(ch) < 32 or ord(ch) == 127 for ch in path):
        return tr("a backslash or a control character")
    if any(part in ("", ".", "..") for part in path.split("/")):
        return tr("an empty, . or .. part")
    return None


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


def url_problem(url: str) -> str | None:
    """What keeps ``url`` from being a usable ``http(s)://host/...`` address (a noun phrase), else ``None``.

    Everything ``urllib`` and ``http.client`` would refuse later with a traceback (``ValueError`` for a bad
    IPv6 literal or port, ``InvalidURL`` for a space or a control character) is caught here, once."""
    if not isinstance(url, str) or any(ord(ch) <= 32 or ord(ch) == 127 for ch in url):
        return tr("a space or a control character")
    try:
        parts = urllib.parse.urlsplit(url)
        host, _ = parts.hostname, parts.port  # both raise ValueError for a bad IPv6 literal or port
    except ValueError as exc:
        return tr("unreadable: {reason}", reason=str(exc).splitlines()[0] if str(exc) else "ValueError")
    if parts.scheme not in ("http", "https"):
        return tr("no http:// or https:// at its start")
    if not host:
        return tr("no host")
    return None


def _check_url(url: str) -> None:
    """Refuse anything but an ``http(s)://host/...`` address (``urllib`` would say ``unknown url type``)."""
    if url_problem(url):
        raise _not_http(url)


def _cannot_read(path: str | os.PathLike, exc: OSError) -> UserError:
    """:func:`files.cannot_read` for a cached or mirror file, with the fix that fits a cache."""
    return cannot_read(path, exc, tr("make it readable by you (chmod u+r), or delete it so that it is fetched again"))


def _hash_fd(fd: int) -> str:
    """The SHA-256 of the open file ``fd`` from its first byte (the offset is moved)."""
    h = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while block := os.read(fd, _CHUNK):
        h.update(block)
    return h.hexdigest()


def sha256_file(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, as lower-case hex. A file that cannot be read is a one-line :class:`UserError`."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except (FileNotFoundError, IsADirectoryError):
        raise
    except OSError as exc:
        raise _cannot_read(path, exc) from None
    try:
        return _hash_fd(fd)
    except OSError as exc:
        raise _cannot_read(path, exc) from None
    finally:
        os.close(fd)


def _check_fd(fd: int, size: int | None, sha256: str | None) -> str | None:
    """:func:`verify` of the open file ``fd``."""
    actual = os.fstat(fd).st_size
    if size is not None and actual != size:
        return f"size {actual:,} bytes, expected {size:,}"
    if sha256:
        digest = _hash_fd(fd)
        if digest != sha256.lower():
            return f"SHA-256 {digest[:12]}..., expected {sha256[:12]}..."
    return None


def _verify_stat(path: Path, size: int | None, sha256: str | None) -> tuple[str | None, os.stat_result]:
    """:func:`verify`, and the ``stat`` of the very file that was hashed (what a marker binds)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise _cannot_read(path, exc) from None
    try:
        return _check_fd(fd, size, sha256), os.fstat(fd)
    except OSError as exc:
        raise _cannot_read(path, exc) from None
    finally:
        os.close(fd)


def verify(path: str | os.PathLike, size: int | None, sha256: str | None) -> str | None:
    """``None`` if ``path`` has the expected size and SHA-256, else what is wrong (one phrase).

    A file that exists but cannot be read (no permission) is a one-line :class:`UserError`."""
    return _verify_stat(Path(path), size, sha256)[0]


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
    wrong size or SHA-256, more bytes than ``size``, or a web page instead of the file (the partial file is
    deleted, never cached). A local problem (the folder or ``dest.part`` cannot be written, the disk is
    full, ``dest.part`` is a link or not a regular file) and an address that is not ``http(s)://`` are a
    :class:`UserError`.

    The bytes decide, not the server's labels: with a ``sha256`` a file served as ``text/html`` is kept if
    its hash matches; without one, a ``text/html`` answer is refused before it is read. With a ``size``,
    reading stops as soon as more than ``size`` bytes came (an endless answer never fills the disk).

    Two processes (torchrun ranks, two notebook tabs) never share ``dest.part``: a lock ``dest.lock``
    makes the second wait, and it then uses the file the first one verified. ``timeout`` bounds each read;
    ``deadline`` (seconds) bounds the whole transfer, connecting and the headers included (default: 10
    minutes plus 20 KB/s of ``size``, or 6 hours when the size is unknown), so a server that trickles
    headers or bytes cannot hold a run forever.
    """
    return _download(url, Path(dest), size, sha256, progress, timeout,
                     "choose a writable folder with free space", deadline)[0]


#: The slowest average rate the default deadline allows (bytes per second), after 10 minutes of grace.
_MIN_RATE = 20_000
_READ = 1 << 16  # a read returns what has arrived, up to 64 KiB: Ctrl-C and the bar act at once


def _download(url: str, dest: Path, size: int | None, sha256: str | None, progress: bool, timeout: float,
              fix: str, deadline: float | None = None) -> tuple[Path, os.stat_result | None]:
    """:func:`download`; ``fix`` ends the message of a local write error (how to get a writable folder).
    Also returns the ``fstat`` of the file that was verified (``None`` when a marker vouched for it)."""
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
        if sha256 and _exists(dest):  # another process finished it while this one waited
            if _is_marked(dest, sha256):
                return dest, None
            problem, st = _verify_stat(dest, size, sha256)
            if problem is None:
                return dest, st
        if deadline is None:
            deadline = 600.0 + size / _MIN_RATE if size is not None else 6 * 3600.0
        with _Deadline(deadline) as guard:
            return _download_locked(url, dest, size, sha256, progress, timeout, fix, guard)
    finally:
        lock.release()


class _Deadline:
    """One overall deadline over HTTP requests: connecting, the headers and the body.

    A socket timeout bounds each read, but a server that sends one header byte every few seconds resets it
    forever, and ``urlopen`` returns only once the headers are complete. So a watchdog thread shuts down the
    sockets of the guarded requests when the deadline passes (:meth:`opener` registers each connection's
    socket as it is made): a blocked connect, TLS handshake, header or body read then returns at once, and
    :attr:`expired` tells the caller that it was the deadline.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = float(seconds)
        self.at = time.monotonic() + self.seconds
        self.expired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, self.seconds), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> _Deadline:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
        with self._lock:
            socks, self._socks = self._socks, []
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.close()

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        return self.expired or self.remaining() <= 0

    def _fire(self) -> None:
        with self._lock:
            self.expired = True
            socks = list(self._socks)
        for sock in socks:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _register(self, sock: socket.socket) -> None:
        dup = sock.dup()  # its own descriptor of the same connection: TLS wrapping detaches the original
        with self._lock:
            self._socks.append(dup)
            expired = self.expired
        if expired:
            with contextlib.suppress(OSError):
                dup.shutdown(socket.SHUT_RDWR)

    def opener(self) -> urllib.request.OpenerDirector:
        """A ``urllib`` opener whose HTTP(S) connections are guarded by this deadline."""
        guard = self

        def guarded(cls: type) -> type:
            class Guarded(cls):
                def __init__(self, *args: object, **kwargs: object) -> None:
                    super().__init__(*args, **kwargs)
                    create = self._create_connection

                    def made(*a: object, **kw: object) -> socket.socket:
                        sock = create(*a, **kw)
                        guard._register(sock)
                        return sock

                    self._create_connection = made
            return Guarded

        http_conn, https_conn = guarded(http.client.HTTPConnection), None

        class Http(urllib.request.HTTPHandler):
            def http_open(self, req):  # noqa: ANN001, ANN202 - urllib's interface
                return self.do_open(http_conn, req)

        handlers: list = [Http]
        if hasattr(http.client, "HTTPSConnection"):
            https_conn = guarded(http.client.HTTPSConnection)

            class Https(urllib.request.HTTPSHandler):
                def https_open(self, req):  # noqa: ANN001, ANN202 - urllib's interface
                    return self.do_open(https_conn, req, context=self._context)

            handlers.append(Https)
        return urllib.request.build_opener(*handlers)

    def open(self, request: urllib.request.Request, timeout: float):  # noqa: ANN201 - HTTPResponse
        """``urlopen(request)`` under this deadline: each socket operation waits at most ``timeout`` (and never
        past the deadline), and the whole exchange ends when the deadline passes. A response whose headers
        the watchdog cut short (``http.client`` takes the end of the stream for the end of the headers) is
        closed and :class:`TimeoutError` raised instead."""
        response = self.opener().open(request, timeout=max(0.01, min(timeout, self.remaining())))
        if self.passed():
            response.close()
            raise TimeoutError("the overall deadline passed")
        return response


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


def _too_slow(dest: Path, got: int, have: int, guard: _Deadline) -> DownloadError:
    return DownloadError(
        f"download of {dest.name} is too slow: {got - have:,} bytes in {guard.seconds:.0f} s (the deadline); "
        f"the {got:,} bytes so far are kept: run it again later to resume, or use a mirror"
    )


def _request(url: str, dest: Path, have: int, timeout: float, guard: _Deadline):  # noqa: ANN202
    """The response (or, for HTTP 416 on a resume, the :class:`~urllib.error.HTTPError`) of one request."""
    headers = {"User-Agent": "adain-lesson", "Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        return guard.open(urllib.request.Request(url, headers=headers), timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            return exc  # the caller decides: complete already, or a partial file of another file
        exc.close()
        raise DownloadError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
    except (TimeoutError, urllib.error.URLError, ConnectionError, OSError, http.client.HTTPException,
            ValueError) as exc:
        if guard.passed():  # the watchdog cut it: connecting or the headers took the whole deadline
            raise _too_slow(dest, have, have, guard) from None
        if isinstance(exc, ValueError):  # "unknown url type" and the like
            raise _not_http(url) from None
        if isinstance(exc, http.client.HTTPException):  # a garbled status line
            raise DownloadError(f"{url} answered with a malformed HTTP response ({type(exc).__name__}): "
                                "it is not a working download address; check it") from None
        reason = getattr(exc, "reason", exc)
        raise OfflineError(
            f"cannot reach {url} ({reason}); if you are offline, download it elsewhere and put it at {dest}"
        ) from None


def describe_content(head: bytes) -> str:
    """A phrase (``"; it is a web page (HTML), not the file"``, or ``""``) for what a wrong file is, from its
    first bytes."""
    low = head[:512].lstrip().lower()
    if low.startswith((b"<!doctype html", b"<html", b"<head", b"<?xml")) or b"<html" in low:
        return "; it is a web page (HTML), not the file"
    if head.startswith(b"\x1f\x8b"):
        return "; it is gzip-compressed (the server compressed it in transit)"
    return ""


class _TooLong(DownloadError):
    """The server sent (or announced) more bytes than the pinned size: the partial file is discarded."""


def _download_locked(url: str, dest: Path, size: int | None, sha256: str | None, progress: bool,
                     timeout: float, fix: str, guard: _Deadline) -> tuple[Path, os.stat_result]:
    part = dest.with_name(dest.name + ".part")
    try:
        fd = open_regular(part, os.O_RDWR | os.O_CREAT, "partial download")
    except OSError as exc:
        raise cannot_write(part, exc, fix) from None
    discard = False
    try:
        have = os.fstat(fd).st_size
        if size is not None and have > size:
            os.ftruncate(fd, 0)
            have = 0
        if have and progress:
            print(f"note: resuming {part} from byte {have:,} (a download cut off earlier)", file=sys.stderr)
        response, promised = None, None
        while True:
            answer = _request(url, dest, have, timeout, guard)
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
                if (not sha256 and ctype.split(";")[0].strip().lower() == "text/html"
                        and not dest.suffix.lower().startswith(".htm")):  # no hash to decide: the label must
                    raise DownloadError(f"{url} sent a web page (Content-Type {ctype}), not {dest.name}: nothing "
                                        f"was kept; check the address, or download the file by hand and put it "
                                        f"at {dest}")
                promised = _content_length(response)
                total = size if size is not None else (promised + have if promised is not None else None)
                try:
                    if size is not None and promised is not None and promised + have > size:
                        raise _TooLong(tr("{url} announced {got} bytes, more than the {size} bytes {name} has: it "
                                          "is not the expected file, and nothing of it was kept; check the address, "
                                          "or download the file by hand and put it at {dest}", url=url,
                                          got=f"{promised + have:,}", size=f"{size:,}", name=dest.name, dest=dest))
                    _stream(response, fd, part, dest, have, total, progress, fix, guard, url, size)
                except _TooLong:
                    discard = True
                    raise
                if promised is not None:
                    promised += have
        got = os.fstat(fd).st_size
        if size is not None and got < size and got != promised:  # (all that was promised came: a wrong file)
            raise DownloadError(
                f"download of {dest.name} was cut off at {got:,} of {size:,} bytes; run it again to resume"
            )
        os.lseek(fd, 0, os.SEEK_SET)
        head = os.read(fd, 512)
        problem = _check_fd(fd, size, sha256)  # the very bytes that will be renamed into place
        if problem:
            discard = True
            raise DownloadError(
                f"{url} sent a file that is not the expected {dest.name} ({problem}{describe_content(head)}): it "
                f"was deleted, not cached; check the address, or download the file by hand and put it at {dest}"
            )
        try:
            os.replace(part, dest)
        except OSError as exc:
            raise cannot_write(dest, exc, fix) from None
        return dest, os.fstat(fd)  # after the rename, which may change the file's ctime
    finally:
        empty = os.fstat(fd).st_size == 0
        os.close(fd)
        if (empty or discard) and part.exists():  # nothing came, or the wrong file: no partial file left
            with contextlib.suppress(OSError):
                part.unlink()


def _stream(response, fd: int, part: Path, dest: Path, have: int, total: int | None, progress: bool,  # noqa: ANN001
            fix: str, guard: _Deadline, url: str, size: int | None) -> None:
    """Copy ``response`` into ``fd`` from offset ``have``, in small reads. A network error or the overall
    deadline (``guard``) is a :class:`DownloadError` that keeps the partial file (the next call resumes); a
    local write error (disk full) is a :class:`UserError` naming ``part``; more than ``size`` bytes is
    :class:`_TooLong` (at most one read past the size is written). Ctrl-C keeps what was written."""
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=dest.name)
    os.ftruncate(fd, have)
    os.lseek(fd, have, os.SEEK_SET)
    got = have
    read = getattr(response, "read1", response.read)
    try:
        while True:
            try:
                block = read(_READ)
            except (TimeoutError, http.client.HTTPException, ConnectionError, OSError, ValueError) as exc:
                if guard.passed():
                    raise _too_slow(dest, os.fstat(fd).st_size, have, guard) from None
                got = os.fstat(fd).st_size
                raise DownloadError(f"download of {dest.name} was cut off after {got:,} bytes "
                                    f"({type(exc).__name__}); run it again to resume") from None
            if not block:
                if guard.passed():  # the watchdog shut the socket: that is the deadline, not the end
                    raise _too_slow(dest, os.fstat(fd).st_size, have, guard)
                break
            try:
                _write_all(fd, block)
            except OSError as exc:
                raise cannot_write(part, exc, f"{fix}, then run it again to resume") from None
            got += len(block)
            if bar is not None:
                bar.update(len(block))
            if size is not None and got > size:
                raise _TooLong(tr("{url} sent more than the {size} bytes {name} has (stopped after {got}): it is "
                                  "not the expected file, and nothing of it was kept; check the address, or "
                                  "download the file by hand and put it at {dest}", url=url, size=f"{size:,}",
                                  name=dest.name, got=f"{got:,}", dest=dest))
            if guard.passed():
                raise _too_slow(dest, os.fstat(fd).st_size, have, guard)
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


def _stamp(st: os.stat_result, sha256: str) -> str:
    """What a marker binds: the hash, and the size, modification and change times, device and inode of the
    file that was hashed. Any write to the file changes its change time (``ctime``, which no user can set
    back), a replaced file has another inode: either makes the marker stale, and the file is hashed again."""
    return f"v2 {sha256} {st.st_size} {st.st_mtime_ns} {st.st_ctime_ns} {st.st_dev} {st.st_ino}\n"


def _own_marker(marker: Path) -> bool:
    """Whether ``marker`` is a plain file that only this user wrote and can write: a regular file, not a link
    (symbolic or hard), owned by this user and not writable by the group or others. A marker that another
    user of a shared cache could have planted or changed vouches for nothing."""
    try:
        st = os.lstat(marker)
    except OSError:
        return False
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        return False
    if os.name != "posix":  # no owners and modes to check (Windows): the link checks are what there is
        return True
    return not st.st_mode & 0o022 and st.st_uid == os.geteuid()


def _is_marked(path: Path, sha256: str) -> bool:
    """Whether ``path`` is the very file whose SHA-256 was checked (see :func:`_stamp` and :func:`_own_marker`).

    A file that exists but cannot be read is a one-line :class:`UserError` (it could not be used anyway)."""
    marker = _marker(path)
    if not _own_marker(marker):
        return False
    try:
        fd = os.open(marker, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            text = os.read(fd, 512).decode("ascii")
        finally:
            os.close(fd)
    except (OSError, UnicodeDecodeError):
        return False
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))  # readable, as it is about to be used
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise _cannot_read(path, exc) from None
    try:
        return text == _stamp(os.fstat(fd), sha256)
    finally:
        os.close(fd)


def _mark(path: Path, sha256: str, st: os.stat_result) -> None:
    """Record (atomically) that the file ``st`` describes was verified; a read-only cache is simply verified
    again next time. ``st`` is the ``fstat`` of the very file that was hashed, so a file swapped in meanwhile
    is not vouched for."""
    with contextlib.suppress(OSError, UserError):  # the write (atomic_write's one line)
        with atomic_write(_marker(path), "w", encoding="ascii") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), 0o644)  # only its owner may change what it vouches for
            f.write(_stamp(st, sha256))


def _inside(root: Path, rel: str) -> Path:
    """``root / rel``, refused unless it stays inside ``root`` once every link is resolved (a manifest row or
    an :class:`Asset` names a place in the cache, never ``../victim.txt``, an absolute path, or a link in the
    cache that leads elsewhere)."""
    problem = path_problem(rel)
    if problem:
        raise UserError(tr("the path {path!r} of a downloadable file could lead outside the cache ({problem}): a "
                           "file's place in the cache is relative, like weights/decoder.pth; fix the manifest row",
                           path=rel, problem=problem))
    dest = root / rel
    try:
        base, real = root.resolve(), dest.resolve()
    except (OSError, RuntimeError) as exc:  # a loop of links
        raise UserError(tr("{path} cannot be resolved ({reason}): remove the links in the cache that loop",
                           path=dest, reason=getattr(exc, "strerror", None) or type(exc).__name__)) from None
    if real != base and base not in real.parents:
        raise UserError(tr("{path} leads outside the cache {root} (to {real}, through a symbolic link): not "
                           "following it; delete the link (after checking what it is) and run it again",
                           path=dest, root=root, real=real))
    return dest


def _exists(path: Path) -> bool:
    """``path.is_file()``, with a folder that cannot be searched as a one-line :class:`UserError`."""
    try:
        return path.is_file()
    except OSError as exc:
        raise _cannot_read(path, exc) from None


def _copy_verified(source: Path, dest: Path, a: Asset, fix: str) -> os.stat_result:
    """Copy the mirror's ``source`` to ``dest`` through a fresh temporary file (``O_EXCL``: nothing planted is
    written through), hashing the bytes as they are written: what lands in the cache is what was checked."""
    try:
        src = open(source, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise _cannot_read(source, exc) from None
    tmp, fd = temporary_name(dest), None
    try:
        with src:
            actual = os.fstat(src.fileno()).st_size
            if actual != a.size:
                raise DownloadError(f"{source} has size {actual:,} bytes, expected {a.size:,}: replace it with the "
                                    f"file from {a.url}")
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
                             | getattr(os, "O_BINARY", 0), 0o666)
            except OSError as exc:
                raise UserError(f"copying {source} to {dest} failed: {exc.strerror or exc}; {fix}") from None
            h = hashlib.sha256()
            while True:
                try:
                    block = src.read(_CHUNK)
                except OSError as exc:
                    raise _cannot_read(source, exc) from None
                if not block:
                    break
                h.update(block)
                try:
                    _write_all(fd, block)
                except OSError as exc:
                    raise UserError(f"copying {source} to {dest} failed: {exc.strerror or exc}; {fix}") from None
        digest = h.hexdigest()
        if digest != a.sha256:
            raise DownloadError(f"{source} has SHA-256 {digest[:12]}..., expected {a.sha256[:12]}...: replace it "
                                f"with the file from {a.url}")
        try:
            os.replace(tmp, dest)
        except OSError as exc:
            raise UserError(f"copying {source} to {dest} failed: {exc.strerror or exc}; {fix}") from None
        return os.fstat(fd)  # after the rename, which may change the file's ctime
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    finally:
        if fd is not None:
            os.close(fd)


def _write_all(fd: int, block: bytes) -> None:
    """Write all of ``block`` to ``fd`` (``os.write`` may write less)."""
    view = memoryview(block)
    while view:
        view = view[os.write(fd, view):]


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
    that does not exist is a :class:`UserError` (checked when a file is needed from it). The asset's path
    must stay inside the cache (and the mirror), links resolved: anything else is a :class:`UserError`.

    Verification: every file is checked against the pinned size and SHA-256 before it is used the first
    time, wherever it came from (a download, the mirror, or placed by hand). A verified file gets a small
    marker ``<file>.sha256-ok`` beside it binding the hash to that file (its size, modification and change
    times, device and inode); while the file is still that file, unchanged, it is trusted without hashing
    it again. A marker that another user could have written or changed (not this user's, writable by
    others, a link) is not trusted, and neither is one whose file changed: the file is hashed again (if no
    marker can be written, the file is simply hashed on every call: about 0.2 s for the 80 MB VGG). A cached
    file that fails the check is never deleted silently: offline it is a :class:`DownloadError` that says to
    replace it; online a note on stderr says it is being replaced, and the fresh download takes its place
    only once verified. A cached or mirror file that cannot be read (no permission) is a one-line
    :class:`UserError`.
    """
    a = _resolve(asset)
    if root is not None:
        base, fix = Path(root).expanduser(), "choose another root folder"
    else:
        base, fix = cache_dir(), "set ADAIN_LESSON_HOME to a writable folder"
    dest = _inside(base, a.path)
    if _exists(dest):
        if _is_marked(dest, a.sha256):
            return dest
        problem, st = _verify_stat(dest, a.size, a.sha256)
        if problem is None:
            _mark(dest, a.sha256, st)
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
        source = _inside(folder, a.path)
        if _exists(source):
            ensure_dir(dest.parent, fix)
            st = _copy_verified(source, dest, a, fix)
            _mark(dest, a.sha256, st)
            return dest
    ensure_dir(dest.parent, fix)
    if is_offline():
        raise OfflineError(
            f"{a.name} is not cached and ADAIN_LESSON_OFFLINE=1 forbids downloading: "
            f"download {a.url} elsewhere and put it at {dest}"
        )
    _, st = _download(a.url, dest, a.size, a.sha256, progress, 30.0, fix)
    if st is not None:
        _mark(dest, a.sha256, st)
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


#: The most one read of a :class:`RemoteFile` fetches (64 MiB; a larger read returns less, as a raw file may):
#: far more than a zip's central directory of 100,000 images (about 10 MB) or any one image, so that an
#: archive that claims a huge part cannot make the process hold it in memory.
MAX_SPAN = 64 << 20


class RangeNotSupported(DownloadError):
    """The server answers a Range request with the whole file: parts of it cannot be read."""


class RemoteFile(io.RawIOBase):
    """A read-only, seekable file object over ``url``, read with HTTP Range requests.

    ``zipfile.ZipFile(RemoteFile(url))`` reads an archive's central directory (at its end) and then only
    the members that are opened, so a few images can be taken out of a huge zip. Each request fetches at
    least ``block`` bytes (read-ahead), and the file's last ``block`` bytes are fetched at once (the zip
    end records live there). ``bytes_read`` counts what came over the network.

    ``timeout`` bounds each socket operation; ``deadline`` (seconds) bounds each request as a whole, connecting
    and the headers included (default: 60 s plus 20 KB/s of what it fetches).

    Raises :class:`RangeNotSupported` when the server ignores Range, :class:`OfflineError` when it cannot
    be reached or ``ADAIN_LESSON_OFFLINE=1``, :class:`DownloadError` when a transfer is cut off or an answer
    is not the asked range, and :class:`UserError` when ``url`` is not an ``http(s)://`` address.
    """

    def __init__(self, url: str, *, block: int = 1 << 18, timeout: float = 30.0,
                 deadline: float | None = None) -> None:
        super().__init__()
        _check_url(url)
        if is_offline():
            raise OfflineError(f"ADAIN_LESSON_OFFLINE=1 forbids reading {url}: unset it, or download the file "
                               "elsewhere and use the local copy")
        self.url = url
        self.block = max(1, int(block))
        self.timeout = timeout
        self.deadline = deadline
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
        want = min(len(view), max(0, self.size - self._pos), MAX_SPAN)  # a short read beyond MAX_SPAN
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
        want = end - start + 1
        budget = self.deadline if self.deadline is not None else 60.0 + want / _MIN_RATE
        with _Deadline(budget) as guard:  # an overall deadline per request, connecting and headers included
            return self._get_guarded(start, end, guard)

    def _get_guarded(self, start: int, end: int, guard: _Deadline) -> tuple[bytes, int]:
        headers = {"User-Agent": "adain-lesson", "Range": f"bytes={start}-{end}"}
        self.requests += 1

        def too_slow(got: int) -> DownloadError:
            return DownloadError(f"reading {self.url} is too slow ({got:,} bytes in {guard.seconds:.0f} s): "
                                 "run it again later, or download the whole archive elsewhere")

        try:
            response = guard.open(urllib.request.Request(self.url, headers=headers), self.timeout)
        except urllib.error.HTTPError as exc:
            raise DownloadError(f"reading {self.url} failed: HTTP {exc.code} {exc.reason}") from None
        except (TimeoutError, urllib.error.URLError, ConnectionError, OSError, http.client.HTTPException,
                ValueError) as exc:
            if guard.passed():
                raise too_slow(0) from None
            if isinstance(exc, ValueError):  # urllib's "unknown url type" and the like
                raise _not_http(self.url) from None
            reason = getattr(exc, "reason", exc)
            raise OfflineError(f"cannot reach {self.url} ({reason}): check the connection and run it again") from None
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
            chunks, got = [], 0
            read = getattr(response, "read1", response.read)
            try:
                while got < want:
                    block = read(min(_READ, want - got))
                    if not block:
                        if guard.passed():  # the watchdog shut the socket
                            raise too_slow(got)
                        break
                    chunks.append(block)
                    got += len(block)
                    if guard.passed():
                        raise too_slow(got)
            except (TimeoutError, http.client.HTTPException, ConnectionError, OSError, ValueError) as exc:
                if guard.passed():
                    raise too_slow(got) from None
                raise DownloadError(
                    f"reading {self.url} was cut off ({type(exc).__name__}): run it again to resume"
                ) from None
            data = b"".join(chunks)
        if len(data) < min(end, size - 1) - start + 1:
            raise DownloadError(f"reading {self.url} was cut off after {len(data):,} bytes: run it again to resume")
        self.bytes_read += len(data)
        return data, size
