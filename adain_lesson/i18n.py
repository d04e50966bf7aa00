"""The reader's language: every sentence the package prints or draws for a person goes through :func:`tr`.

One switch: :func:`set_language` (the Korean notebooks' setup cell calls ``set_language("ko")``), or the
environment variable ``ADAIN_LESSON_LANG`` (``en`` or ``ko``) read at import. English is the source:
``tr("Loaded {n} images.", n=3)`` looks the English template up in the Korean message table and formats
the result; a message without a translation falls back to English.

Why a message table and not gettext catalogs: the package has one other language, a few hundred messages
and no plural forms beyond what a template can say; gettext would add a compile step (``.po`` -> ``.mo``)
and a build dependency (Babel) for nothing a dict lookup does not already do. The table is plain JSON,
one file per module under ``adain_lesson/_data/ko/`` (``<module>.json``: ``{"English template": "Korean"}``),
so that two people adding messages to two modules never touch the same file. ``tests/test_i18n.py``
finds every ``tr("...")`` call in the package (by its AST) and fails when one lacks its Korean, or when a
Korean template names other ``{placeholders}`` than its English one.

Only literal strings may be passed to :func:`tr` (the test must be able to see them); build variable parts
with placeholders.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

__all__ = ["LANGUAGES", "LazyTable", "catalog", "language", "set_language", "tr"]

#: The languages the package speaks; English is the source of every message.
LANGUAGES = ("en", "ko")
_TABLES = Path(__file__).parent / "_data"
_current = "en"


def set_language(lang: str) -> None:
    """Speak ``lang`` ("en" or "ko") from now on, in every module of the package."""
    global _current
    value = str(lang).strip().lower()
    if value not in LANGUAGES:
        # No UserError here: errors sits above this module. A ValueError with one line says the same.
        raise ValueError(f"language must be one of {', '.join(LANGUAGES)}, not {lang!r}")
    _current = value
    os.environ["ADAIN_LESSON_LANG"] = value  # the commands a notebook runs (python -m adain_lesson ...) speak it too


def language() -> str:
    """The language the package speaks now ("en" or "ko")."""
    return _current


@cache
def catalog(lang: str) -> dict[str, str]:
    """The message table of ``lang``: English template -> translated template (empty for English)."""
    table: dict[str, str] = {}
    folder = _TABLES / lang
    if lang == "en" or not folder.is_dir():
        return table
    for path in sorted(folder.glob("*.json")):
        table.update(json.loads(path.read_text(encoding="utf-8")))
    return table


def tr(message: str, /, **values: object) -> str:
    """``message`` in the reader's language, with ``{name}`` placeholders filled from ``values``."""
    text = catalog(_current).get(message, message)
    return text.format(**values) if values else text


class LazyTable(Mapping[str, Any]):
    """A read-only table of texts built each time it is read, so that they speak the language set at that
    moment: a module-level ``{"a": tr("...")}`` would be English for good, being built at import, before the
    Korean setup cell calls :func:`set_language`. ``build`` returns the dict (its texts written with :func:`tr`)."""

    def __init__(self, build: Callable[[], dict[str, Any]]) -> None:
        self._build = build

    def __getitem__(self, key: str) -> Any:
        return self._build()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._build())

    def __len__(self) -> int:
        return len(self._build())

    def __repr__(self) -> str:
        return repr(self._build())


def _language_from_environment() -> None:
    """Read ``ADAIN_LESSON_LANG`` as :mod:`adain_lesson.env` reads its values (spaces and case ignored; unset or
    empty is the default, English). A value that is not understood is one line on standard error, and the
    package speaks English: the language is no reason to stop a run. (This module cannot use ``env``: it sits
    below it, as every module's messages come through here.)"""
    global _current
    raw = os.environ.get("ADAIN_LESSON_LANG")
    if raw is None or not raw.strip():
        return
    value = raw.strip().lower()
    if value in LANGUAGES:
        _current = value
    else:
        print(tr("note: the environment variable ADAIN_LESSON_LANG={value} is not understood: use {languages} "
                 "(or unset it); speaking English", value=repr(raw), languages=" or ".join(LANGUAGES)),
              file=sys.stderr)


_language_from_environment()
