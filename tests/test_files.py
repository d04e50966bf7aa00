"""adain_lesson.files: atomic writes with normal permissions and one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from adain_lesson.errors import UserError
from adain_lesson.files import atomic_write


def test_a_file_appears_whole_with_the_usual_permissions(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    with atomic_write(target, "w", encoding="utf-8") as f:
        f.write("hello")
        assert not target.exists()  # nothing under the real name until the end
    assert target.read_text(encoding="utf-8") == "hello"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask  # not mkstemp's 0o600
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_a_failure_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as f:
            f.write(b"half")
            raise RuntimeError("crash mid-write")
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_an_unwritable_place_is_a_one_line_error(tmp_path: Path) -> None:
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot write .*choose a writable folder") as info:
        with atomic_write(blocker / "out.png") as f:
            f.write(b"x")
    assert "\n" not in str(info.value)
