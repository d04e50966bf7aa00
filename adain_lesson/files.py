"""Atomic file writes: a file appears complete, under its final name, or not at all.

Every file the package writes (images, figures, checkpoints, logs, downloads, extracted datasets, reports)
is written to a temporary name in the same folder and renamed into place with ``os.replace``, so a crash,
Ctrl-C or a full disk never leaves a half-written file under the real name. The temporary file is created
with ``open(..., "x")``, so it gets the usual permissions (``0o666`` minus the umask), like any other file
the user makes, not ``tempfile.mkstemp``'s owner-only ``0o600``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .errors import UserError

__all__ = ["atomic_write", "atomic_write_text", "cannot_write", "ensure_dir", "temporary_name"]


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
