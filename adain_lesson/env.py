"""Environment variables: one parser per kind of value, so that every switch reads the same way.

- :func:`flag` for every yes/no switch (``ADAIN_LESSON_OFFLINE``, ``ADAIN_LESSON_SMOKE``, ``ADAIN_LESSON_QUICK``):
  ``1/0``, ``true/false``, ``yes/no``, ``on/off`` in any case, with spaces around allowed; unset or empty is the
  default; anything else is one :class:`~adain_lesson.errors.UserError` line naming the variable and the
  accepted values (a typo such as ``ADAIN_LESSON_SMOKE=maybe`` must not silently mean full mode).
- :func:`integer` for counts such as ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` (set by ``torchrun``).
- :func:`check_mpl_backend`: ``MPLBACKEND`` names a backend matplotlib knows (matplotlib itself fails to import
  otherwise, with a traceback).
- :func:`check_all`: all of the above at once; the command line calls it first, so a bad value is one line
  before any work.
"""

from __future__ import annotations

import os
import sys

from .errors import UserError
from .i18n import tr

__all__ = ["FLAGS", "TRUE", "FALSE", "check_all", "check_mpl_backend", "flag", "integer"]

#: The values :func:`flag` reads as on and as off (compared after ``strip().lower()``).
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
#: The package's yes/no switches and their defaults.
FLAGS = {"ADAIN_LESSON_OFFLINE": False, "ADAIN_LESSON_SMOKE": False, "ADAIN_LESSON_QUICK": None}
#: The integer variables of distributed training (torchrun) and their smallest values.
_INTEGERS = {"WORLD_SIZE": 1, "RANK": 0, "LOCAL_RANK": 0}


def flag(name: str, default: bool | None = False) -> bool | None:
    """The yes/no environment variable ``name``: ``default`` when unset or empty, else ``True``/``False``; a
    value that is neither raises :class:`UserError` naming the variable and the accepted values."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise UserError(tr("the environment variable {name}={value} is not understood: use 1, true, yes or on to switch "
                       "it on, 0, false, no or off to switch it off (or unset it)", name=name, value=repr(raw)))


def integer(name: str, default: int, minimum: int = 0) -> int:
    """The integer environment variable ``name`` (``default`` when unset or empty), at least ``minimum``; a value
    that is not such a whole number raises :class:`UserError` naming the variable."""
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise UserError(tr("the environment variable {name}={value} is not understood: it must be a whole number of "
                           "at least {minimum} (torchrun sets it; unset it for a single process)",
                           name=name, value=repr(raw), minimum=minimum))
    return value


def check_mpl_backend() -> None:
    """Check ``MPLBACKEND`` before matplotlib reads it: an unknown backend is one :class:`UserError` line (matplotlib
    itself would fail to import with a traceback). A valid one is left to matplotlib."""
    raw = os.environ.get("MPLBACKEND")
    if raw is None or not raw.strip() or raw.startswith("module://") or "matplotlib" in sys.modules:
        return
    os.environ.pop("MPLBACKEND")
    try:
        import matplotlib
        import matplotlib.rcsetup

        try:
            matplotlib.rcsetup.validate_backend(raw)
        except ValueError:
            raise UserError(tr("the environment variable MPLBACKEND={value} is not a matplotlib backend: use e.g. "
                               "agg (files only), inline (notebooks) or tkagg, or unset it", value=repr(raw))) from None
        matplotlib.rcParams["backend"] = raw  # what matplotlib would have done with the variable
    finally:
        os.environ["MPLBACKEND"] = raw


def check_all() -> None:
    """Check every environment variable the package reads (:data:`FLAGS`, the torchrun integers, ``MPLBACKEND``);
    the first bad value raises :class:`UserError`."""
    for name, default in FLAGS.items():
        flag(name, default)
    for name, minimum in _INTEGERS.items():
        integer(name, minimum, minimum)
    check_mpl_backend()
