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


def test_check_writable_finds_problems_before_the_work(tmp_path: Path) -> None:
    from adain_lesson.files import check_writable

    assert check_writable(tmp_path / "new" / "deeper" / "out.png") == tmp_path / "new" / "deeper" / "out.png"
    assert not (tmp_path / "new").exists()  # the probe and the folders made for it are gone
    (tmp_path / "new").mkdir()
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="a_file is a file, not a folder"):
        check_writable(blocker / "out.png")
    with pytest.raises(UserError, match="is a folder"):
        check_writable(tmp_path / "new")
    # a name that fits the file system alone, but not with the temporary name's suffix
    with pytest.raises(UserError, match=r"the name is 240 bytes long .* use a shorter name"):
        check_writable(tmp_path / ("x" * 236 + ".png"))


def test_a_file_lock_refuses_a_second_holder_and_names_the_first(tmp_path: Path) -> None:
    from adain_lesson.files import FileLock, LockBusy

    first = FileLock(tmp_path / "x.lock", "the folder x").acquire(wait=False)
    with pytest.raises(LockBusy, match=f"the folder x is in use by pid {os.getpid()}"):
        FileLock(tmp_path / "x.lock", "the folder x").acquire(wait=False)
    first.release()
    assert not (tmp_path / "x.lock").exists()
    (tmp_path / "y.lock").symlink_to(tmp_path / "elsewhere")  # a planted link is not followed
    with pytest.raises(UserError, match="symbolic link"):
        FileLock(tmp_path / "y.lock").acquire(wait=False)
    assert not (tmp_path / "elsewhere").exists()


def test_a_file_system_without_locks_is_a_note_not_a_failure(tmp_path: Path, monkeypatch, capsys) -> None:
    import errno

    fcntl = pytest.importorskip("fcntl")
    from adain_lesson import files
    from adain_lesson.files import FileLock

    def no_locks(fd: int, op: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(fcntl, "flock", no_locks)
    monkeypatch.setattr(files, "_UNLOCKED_NOTED", False)
    lock = FileLock(tmp_path / "z.lock").acquire(wait=False)
    lock.release()
    assert "cannot lock files" in capsys.readouterr().err


def test_open_regular_and_locks_never_write_through_a_hard_link(tmp_path: Path) -> None:
    """Issue 20 (5): a planted hard link is the victim's file under a second name; O_NOFOLLOW does not see it,
    the link count does. Every writer of a fixed name (a download's .part, a lock, the training log) opens
    through open_regular, so each refuses it."""
    from adain_lesson.files import FileLock, open_regular

    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    os.link(victim, tmp_path / "log.jsonl")
    with pytest.raises(UserError, match=r"is a hard link \(the same file as 1 other name\(s\)\)") as info:
        open_regular(tmp_path / "log.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    assert "\n" not in str(info.value)
    os.link(victim, tmp_path / "run.lock")
    with pytest.raises(UserError, match="is a hard link"):
        FileLock(tmp_path / "run.lock").acquire(wait=False)
    assert victim.read_bytes() == b"precious"
    fd = open_regular(tmp_path / "fresh.part", os.O_RDWR | os.O_CREAT)  # a file of its own: fine
    os.close(fd)
