"""The one exception type for a user's mistake.

Everything a user can get wrong (a missing or corrupt image, a bad mask, a wrong checksum, no network)
raises :class:`UserError` with a one-line message that names the problem and the fix. The CLI prints
that line and exits non-zero without a traceback; notebooks and widgets show it as a message.
"""

from __future__ import annotations


class UserError(ValueError):
    """A problem with the user's input or environment, with a one-line message saying how to fix it."""


class DownloadError(UserError):
    """A download failed, was truncated, or did not match its pinned size or SHA-256."""


class OfflineError(DownloadError):
    """A file is needed from the network, and the network cannot be reached."""
