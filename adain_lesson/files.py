"""Atomic file writes: a file appears complete, under its final name, or not at all.

Every file the package writes (images, figures, checkpoints, logs, downloads, extracted datasets, reports)
is written to a temporary name in the same folder and renamed into place with ``os.replace``, so a crash,
Ctrl-C or a full disk never leaves a half-written file under the real name. The temporary file is created
with ``open(..., "x")``, so it gets the usual permissions (``0o666`` minus the umask), like any other file
the user makes, not ``tempfile.mkstemp``'s owner-only ``0o600``.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import socket
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import UserError
from .i18n import tr

__all__ = [
    "FileLock",
    "LockBusy",
    "atomic_write",
    "atomic_write_text",
    "cannot_read",
    "cannot_write",
    "check_writable",
    "ensure_dir",
    "name_limit",
    "open_regular",
    "remove_stale_temporaries",
    "temporary_name",
    "too_long_name",
]


def cannot_read(path: str | os.PathLike, exc: OSError, fix: str) -> UserError:
    """The one-line error for a file that exists but cannot be read: "permission denied" (or the system's reason)
    said as such, never taken for a damaged file, ending with ``fix``."""
    if isinstance(exc, PermissionError):
        return UserError(tr("cannot read {path}: permission denied; {fix}", path=path, fix=fix))
    return UserError(tr("cannot read {path}: {reason}; {fix}", path=path, reason=exc.strerror or type(exc).__name__,
                        fix=fix))


def cannot_write(path: str | os.PathLike, exc: OSError, fix: str = "choose a writable folder") -> UserError:
    """The one-line error for a failed mkdir / open / write / rename at ``path``, ending with ``fix``.

    When a file stands where a folder of the path should be, it names that file.
    """
    path = Path(path)
    if isinstance(exc, (FileExistsError, NotADirectoryError)):
        blocker = next((p for p in (path, *path.parents) if p.exists() and not p.is_dir()), None)
        if blocker is not None:
            return UserError(f"cannot write to {path}: {blocker} is a file, not a folder; {fix}")
    return UserError(f"cannot write to {path}: {exc.strerror or exc}; {fix}")


def ensure_dir(path: str | os.PathLike, fix: str = "choose a writable folder") -> Path:
    """Create the folder ``path`` (and its parents); a failure is a :class:`UserError` ending with ``fix``."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot_write(path, exc, fix) from None
    return path


def temporary_name(path: str | os.PathLike) -> Path:
    """A fresh hidden name beside ``path`` for its temporary file (``.<name>.<pid>-<random>.part``)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.part")


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb", *, fsync: bool = False, **kw: Any) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; on success rename it to ``path``.

    ``mode`` is ``"wb"`` or ``"w"`` (``kw`` goes to ``open``, e.g. ``encoding``). ``fsync=True`` flushes the
    data to disk before the rename (checkpoints). The folder is created if needed. On any error the
    temporary file is removed and ``path`` is untouched; an ``OSError`` of the file system (no permission,
    no space, a file where a folder should be) becomes a one-line :class:`UserError`.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes whole files: mode must be 'w' or 'wb', got {mode!r}")
    path = Path(path)
    tmp = temporary_name(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        f = open(tmp, mode.replace("w", "x"), **kw)  # noqa: SIM115 - closed below, before the rename
    except OSError as exc:
        raise cannot_write(path, exc) from None
    try:
        with f:
            yield f
            if fsync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise cannot_write(path, exc) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write`); returns the path."""
    with atomic_write(path, "w", encoding=encoding) as f:
        f.write(text)
    return Path(path)


# ---------------------------------------------------------------------------------------------------
# Writing before the work: a file in the way, no permission, a name too long (with its temporary name)
# ---------------------------------------------------------------------------------------------------

#: What :func:`temporary_name` adds to a name at most: ``.`` + ``.<pid>-<8 hex>.part`` (pid up to 10 digits).
_TEMP_EXTRA = len("..") + 10 + len("-") + 8 + len(".part")


def name_limit(folder: str | os.PathLike) -> int:
    """The longest file name (bytes) the file system of ``folder`` allows (its nearest existing ancestor's)."""
    folder = Path(folder)
    existing = next((p for p in (folder, *folder.parents) if p.is_dir()), Path("."))
    try:
        return int(os.pathconf(existing, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError, TypeError):
        return 255


def too_long_name(path: str | os.PathLike, limit: int | None = None) -> tuple[str, int, int] | None:
    """``(name, length, limit)`` of the first component of ``path`` longer than the file system allows, the
    last one counted with its temporary name's suffix (:func:`temporary_name`), else ``None``."""
    path = Path(path)
    limit = name_limit(path.parent) if limit is None else limit
    parts = path.parts
    for i, part in enumerate(parts):
        extra = _TEMP_EXTRA if i == len(parts) - 1 else 0
        n = len(os.fsencode(part))
        if n + extra > limit:
            return part, n, limit - extra
    return None


def check_writable(path: str | os.PathLike, fix: str = "choose a writable folder") -> Path:
    """Check, before any heavy work, that the file ``path`` can be written as :func:`atomic_write` will.

    A file standing where a folder should be, a folder where the file should be, no permission, a read-only
    disk, and a name (or its temporary name) longer than the file system allows are each a one-line
    :class:`UserError` ending with ``fix``. A real probe file, named like the temporary file, is created and
    removed (in folders made for it and removed again: the check leaves nothing behind), so it is honest even
    for root or a read-only mount.
    """
    path = Path(path)
    if path.is_dir():
        raise UserError(f"cannot write to {path}: it is a folder; {fix}")
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists() and not p.is_symlink()]
    folder = ensure_dir(path.parent, fix)
    try:
        limit = name_limit(folder)
        name_len = len(os.fsencode(path.name))
        if name_len + _TEMP_EXTRA > limit:
            raise UserError(f"cannot write to {path}: the name is {name_len} bytes long and this file system "
                            f"allows {limit} (with {_TEMP_EXTRA} more for the temporary name); use a shorter name")
        probe = temporary_name(path)
        try:
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            os.unlink(probe)
        except OSError as exc:
            raise cannot_write(path, exc, fix) from None
    finally:
        for p in missing:  # the deepest first: the check leaves no folder behind; the writer makes them
            try:
                p.rmdir()
            except OSError:
                break
    return path


_TEMP_RE = re.compile(r"^\..+\.(\d+)-[0-9a-f]{8}\.part$")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):
        return True  # another user's process, or we cannot tell: keep its file
    return True


def remove_stale_temporaries(folder: str | os.PathLike, *, recursive: bool = False) -> list[Path]:
    """Remove the temporary files of :func:`atomic_write` / :func:`temporary_name` that a killed process
    left in ``folder`` (their process no longer runs on this machine); returns the removed paths.

    Only regular files named like ours (``.<name>.<pid>-<8 hex>.part``) are touched; links never.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for p in folder.rglob(".*.part") if recursive else folder.glob(".*.part"):
        m = _TEMP_RE.match(p.name)
        if not m or _pid_alive(int(m.group(1))):
            continue
        try:
            if stat.S_ISREG(os.lstat(p).st_mode):
                os.unlink(p)
                removed.append(p)
        except OSError:
            pass
    return removed


def open_regular(path: str | os.PathLike, flags: int, what: str = "file") -> int:
    """``os.open(path, flags | O_NOFOLLOW)`` that refuses a link or anything but a regular file.

    Returns the descriptor. A planted link is never followed (nor written through): a symbolic link, a hard
    link (a file with more than one name: writing it would change the other name's file too), a folder, a
    FIFO or a device at ``path`` is a one-line :class:`UserError` saying to delete it.
    """
    path = Path(path)
    refuse = UserError(f"{path} is a symbolic link or not a regular file, so it was not made by adain-lesson: "
                       f"not following it; delete it (after checking what it is) and run it again")
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise refuse
    except FileNotFoundError:
        pass
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags | nofollow | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0), 0o666)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EISDIR, getattr(errno, "EMLINK", -1)):
            raise refuse from None
        raise
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise refuse
    if st.st_nlink > 1:
        os.close(fd)
        raise UserError(tr("{path} is a hard link (the same file as {n} other name(s)), so it was not made by "
                           "adain-lesson: not writing through it; delete it (after checking what it is) and run it "
                           "again", path=path, n=st.st_nlink - 1))
    return fd


# ---------------------------------------------------------------------------------------------------
# Locks: two processes never share one download or one run folder
# ---------------------------------------------------------------------------------------------------


class LockBusy(UserError):
    """The lock is held by another process (``holder`` says which, as it wrote itself)."""

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder


def _try_lock(fd: int) -> bool:
    try:
        import fcntl
    except ImportError:  # Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except (BlockingIOError, PermissionError):
        return False
    except OSError as exc:  # ENOLCK, ENOSYS, EOPNOTSUPP: a file system without locks (some network mounts)
        global _UNLOCKED_NOTED
        if not _UNLOCKED_NOTED:
            print(f"note: this file system cannot lock files ({exc.strerror or exc}): two processes using the same "
                  "folder at once are not kept apart", file=sys.stderr)
            _UNLOCKED_NOTED = True
    return True


_UNLOCKED_NOTED = False


class FileLock:
    """An exclusive lock on the file ``path``, held by one process (and one object) at a time.

    It is the operating system's lock (``flock``; ``msvcrt.locking`` on Windows), so it is released when
    its process dies, however it dies: a lock left by a killed process never blocks the next one. The
    holder writes who it is (pid, host, start time) into the file, so a refusal can name it; the file is
    removed on release. ``acquire(wait=False)`` raises :class:`LockBusy`; ``wait=True`` polls (calling
    ``on_wait(holder)`` once) until the lock is free or ``timeout`` seconds pass.
    """

    def __init__(self, path: str | os.PathLike, what: str = "this file", fix: str = "choose a writable folder") -> None:
        self.path = Path(path)
        self.what = what
        self.fix = fix
        self._fd: int | None = None

    def holder(self) -> str:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                return f.read(300).strip() or "another process"
        except OSError:
            return "another process"

    def _open_locked(self) -> bool:
        fd = open_regular(self.path, os.O_RDWR | os.O_CREAT, "lock file")
        if not _try_lock(fd):
            os.close(fd)
            return False
        try:  # the file may have been removed (released) between our open and our lock: then try again
            same = os.fstat(fd).st_ino == os.lstat(self.path).st_ino
        except OSError:
            same = False
        if not same:
            os.close(fd)
            return False
        info = (f"pid {os.getpid()} on {socket.gethostname()}, since "
                f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime())} ({' '.join(sys.argv[:3])[:120]})")
        os.ftruncate(fd, 0)
        os.write(fd, info.encode("utf-8", "replace"))
        self._fd = fd
        return True

    def acquire(self, wait: bool = True, *, timeout: float | None = None, poll: float = 0.1,
                on_wait: Callable[[str], None] | None = None) -> FileLock:
        if self._fd is not None:
            raise RuntimeError(f"{self.path} is locked by this object already")
        ensure_dir(self.path.parent, self.fix)
        start, told = time.monotonic(), False
        while True:
            try:
                if self._open_locked():
                    return self
            except OSError as exc:
                raise cannot_write(self.path, exc, self.fix) from None
            holder = self.holder()
            if not wait or (timeout is not None and time.monotonic() - start > timeout):
                raise LockBusy(f"{self.what} is in use by {holder} (lock {self.path}): wait for it to finish "
                               "or stop it", holder)
            if on_wait is not None and not told:
                on_wait(holder)
                told = True
            time.sleep(poll)

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)  # while still holding it: a waiter then sees a new file and retries
        except OSError:
            pass
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> FileLock:
        return self.acquire() if self._fd is None else self

    def __exit__(self, *exc: object) -> None:
        self.release()
