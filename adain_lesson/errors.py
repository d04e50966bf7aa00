"""The one exception type for a user's mistake.

Everything a user can get wrong (a missing or corrupt image, a bad mask, a wrong checksum, no network)
raises :class:`UserError` with a one-line message that names the problem and the fix. The CLI prints
that line and exits non-zero without a traceback; notebooks and widgets show it as a message.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class UserError(ValueError):
    """A problem with the user's input or environment, with a one-line message saying how to fix it.

    A library function names its parameters (``"weights must be ..."``) and says which in ``param`` (a name
    or a tuple of names); the CLI then names its flags instead (``"--weights must be ..."``).
    """

    def __init__(self, message: str = "", *, param: str | tuple[str, ...] | None = None) -> None:
        super().__init__(message)
        self.param = param

    @property
    def params(self) -> tuple[str, ...]:
        """The parameters the message names (none, one or several)."""
        return () if self.param is None else (self.param,) if isinstance(self.param, str) else tuple(self.param)


class DownloadError(UserError):
    """A download failed, was truncated, or did not match its pinned size or SHA-256."""


class OfflineError(DownloadError):
    """A file is needed from the network, and the network cannot be reached."""


@contextmanager
def offline_hint(fix: str) -> Iterator[None]:
    """Turn an :class:`OfflineError` raised inside the block into a :class:`UserError` that adds the offline
    way out: ``"<what could not be reached>; or <fix>"`` (e.g. "set ADAIN_LESSON_SMOKE=1 ...")."""
    try:
        yield
    except OfflineError as exc:
        raise UserError(f"{exc}; or {fix}") from None
