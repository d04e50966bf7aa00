"""Every message the package speaks through ``i18n.tr`` has its Korean, with the same placeholders."""

from __future__ import annotations

import ast
import os
import string
import subprocess
import sys
from pathlib import Path

import pytest

from adain_lesson import i18n

ROOT = Path(__file__).resolve().parents[1]


def _tr_calls() -> list[tuple[str, int, object]]:
    """(file, line, first argument) of every ``tr(...)`` call in the package."""
    calls = []
    for path in sorted((ROOT / "adain_lesson").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "tr":
                arg = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
                calls.append((str(path.relative_to(ROOT)), node.lineno, arg))
    return calls


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_every_message_is_a_literal_with_its_korean() -> None:
    table = i18n.catalog("ko")
    problems = []
    for file, line, message in _tr_calls():
        if not isinstance(message, str):
            problems.append(f"{file}:{line}: tr() needs a literal string (use placeholders for the variable parts)")
        elif message not in table:
            problems.append(f"{file}:{line}: no Korean for {message!r} (add it to adain_lesson/_data/ko/*.json)")
        elif _fields(table[message]) != _fields(message):
            problems.append(f"{file}:{line}: the Korean of {message!r} names other placeholders")
    assert not problems, "\n".join(problems)


def test_the_switch_changes_what_tr_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(i18n.catalog("ko"), "Hello {name}.", "안녕하세요 {name}.")
    monkeypatch.setattr(i18n, "_current", "en")
    monkeypatch.setenv("ADAIN_LESSON_LANG", "en")  # set_language sets it: restored (unset) after the test
    assert i18n.tr("Hello {name}.", name="A") == "Hello A."
    i18n.set_language("ko")
    assert i18n.tr("Hello {name}.", name="A") == "안녕하세요 A."
    assert os.environ["ADAIN_LESSON_LANG"] == "ko"  # so that a command the notebook runs speaks it too
    assert i18n.tr("Not in the table.") == "Not in the table."  # missing translations fall back to English
    with pytest.raises(ValueError, match="language must be one of en, ko"):
        i18n.set_language("fr")


@pytest.mark.parametrize(("value", "spoken", "lines"), [(" KO ", "ko", 0), ("en", "en", 0), ("", "en", 0),
                                                        ("fr", "en", 1), ("korean", "en", 1)])
def test_the_environment_variable_sets_the_language_or_says_one_line(value: str, spoken: str, lines: int) -> None:
    """``ADAIN_LESSON_LANG`` read at import: spaces and case ignored; a value not understood is one line on
    standard error naming the variable and the value, and the package speaks English (no traceback)."""
    environ = {**os.environ, "ADAIN_LESSON_LANG": value, "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", "from adain_lesson import i18n; print(i18n.language())"],
                            capture_output=True, text=True, env=environ, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == spoken, (result.stdout, result.stderr)
    err = result.stderr.strip().splitlines()
    assert len(err) == lines, result.stderr
    if lines:
        assert "ADAIN_LESSON_LANG" in err[0] and repr(value) in err[0] and "Traceback" not in result.stderr
