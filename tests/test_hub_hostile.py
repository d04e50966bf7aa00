"""Downloads under hostile or unlucky conditions (issue 14), each against a server on 127.0.0.1: two
processes fetching one file, a planted ``.part`` link, a full disk, servers that lie (another range, a
malformed Content-Length, HTTP 416, a web page instead of the file) or trickle bytes."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adain_lesson import hub
from adain_lesson.errors import DownloadError, UserError

ROOT = Path(__file__).resolve().parents[1]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text
    return text


def test_two_processes_fetching_one_asset_never_share_the_partial_file(file_server, tmp_path: Path) -> None:
    """torchrun's ranks (or two notebook tabs) all call fetch: the second waits, then uses the verified file."""
    url, files = file_server
    data = os.urandom(1 << 19)
    files.files["/w.pth"] = data
    files.slow["/w.pth"] = 0.1  # 32 pieces of 16 KiB: over 3 s, so the second process starts mid-transfer
    code = ("import sys; from adain_lesson import hub; "
            f"a = hub.Asset('w.pth', 'weights', 'w.pth', {len(data)}, '{_sha(data)}', '{url}/w.pth'); "
            f"print(hub.fetch(a, root=sys.argv[1], progress=False))")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def start() -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    procs = [start()]
    for _ in range(300):  # up to 30 s: the first one's request has reached the server
        if files.log:
            break
        time.sleep(0.1)
    procs.append(start())
    results = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
        assert out.strip() == str(tmp_path / "w.pth")
    assert (tmp_path / "w.pth").read_bytes() == data
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == ["w.pth", "w.pth.sha256-ok"]  # no .part, no lock left behind
    assert len([entry for entry in files.log if entry[0] == "/w.pth"]) == 1  # one download, the other waited
    assert "waiting for pid" in results[1][1]  # the second one waited for the first, named by its pid


def test_a_planted_part_link_is_never_followed(file_server, tmp_path: Path) -> None:
    url, files = file_server
    data = b"w" * 5000
    files.files["/w.pth"] = data
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"precious")  # e.g. a user's file, or ~/.bashrc
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "w.pth.part").symlink_to(outside)
    with pytest.raises(UserError, match="symbolic link or not a regular file") as info:
        hub.download(f"{url}/w.pth", cache / "w.pth", size=len(data) + 8, sha256=None, progress=False)
    _one_line(info.value)
    assert outside.read_bytes() == b"precious" and files.log == []
    os.mkfifo(cache / "x.pth.part")  # nor any other non-regular file (a FIFO would block a read forever)
    with pytest.raises(UserError, match="not a regular file"):
        hub.download(f"{url}/w.pth", cache / "x.pth", size=len(data), progress=False)
    (cache / "w.pth.part").unlink()
    (cache / "w.pth.sha256-ok.tmp").symlink_to(outside)  # the old fixed marker temp name: no longer used
    asset = hub.Asset("w.pth", "weights", "w.pth", len(data), _sha(data), f"{url}/w.pth")
    assert hub.fetch(asset, root=cache, progress=False).read_bytes() == data
    assert outside.read_bytes() == b"precious"


def test_a_full_disk_is_a_write_error_not_a_cut_off_download(file_server, tmp_path: Path, monkeypatch) -> None:
    url, files = file_server
    data = bytes(range(256)) * 8000
    files.files["/w.pth"] = data
    dest = tmp_path / "w.pth"
    real_write = os.write

    def full(fd: int, buf) -> int:  # noqa: ANN001 - faked ENOSPC for the partial download only
        if os.readlink(f"/proc/self/fd/{fd}").endswith(".part"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_write(fd, buf)

    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc/self/fd")
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(UserError) as info:
        hub.download(f"{url}/w.pth", dest, size=len(data), sha256=_sha(data), progress=False)
    monkeypatch.undo()
    text = _one_line(info.value)
    assert "cannot write to" in text and "No space left" in text and "w.pth.part" in text and "cut off" not in text
    assert not isinstance(info.value, DownloadError) and not dest.exists()


def test_a_resume_checks_the_content_range(file_server, tmp_path: Path, capsys) -> None:
    url, files = file_server
    data = os.urandom(40_000)
    files.files["/w.pth"] = data
    files.range_from["/w.pth"] = 0  # asked for bytes=1000-, it sends bytes 0- (labelled so)
    dest = tmp_path / "w.pth"
    (tmp_path / "w.pth.part").write_bytes(data[:1000])
    hub.download(f"{url}/w.pth", dest, size=len(data), sha256=_sha(data), progress=False)
    assert dest.read_bytes() == data  # not data[:1000] + data: the wrong part was refused, and it started afresh
    assert "sent another part" in capsys.readouterr().err
    assert [r for _, r in files.log] == ["bytes=1000-", None]


def test_http_416_on_resume_is_not_a_cut_off_forever(file_server, tmp_path: Path) -> None:
    """A partial file longer than the server's file: 416 each time. It is dropped, and the real problem named."""
    url, files = file_server
    served = b"<html>moved</html>" * 10  # the address now gives a short page
    files.files["/w.pth"] = served
    dest = tmp_path / "w.pth"
    (tmp_path / "w.pth.part").write_bytes(b"x" * 1000)
    for _ in range(2):  # the same answer each time: never "run it again"
        with pytest.raises(DownloadError) as info:
            hub.download(f"{url}/w.pth", dest, size=5000, sha256=None, progress=False)
        text = _one_line(info.value)
        assert "not the expected w.pth" in text and "web page" in text and "run it again" not in text
        assert list(tmp_path.iterdir()) == []
    # and a partial file that is the whole file already (416 with the right total) is accepted
    good = b"g" * 3000
    files.files["/g.pth"] = good
    (tmp_path / "g.pth.part").write_bytes(good)
    assert hub.download(f"{url}/g.pth", tmp_path / "g.pth", size=3000, sha256=_sha(good),
                        progress=False).read_bytes() == good


@pytest.mark.parametrize("length", ["abc", "12, 12", "-5"])
def test_a_malformed_content_length_is_handled(length: str, file_server, tmp_path: Path) -> None:
    url, files = file_server
    data = os.urandom(30_000)
    files.files["/w.bin"] = data
    files.headers_for["/w.bin"] = {"Content-Length": length}
    got = hub.download(f"{url}/w.bin", tmp_path / "w.bin", size=None, sha256=_sha(data), progress=False)
    assert got.read_bytes() == data


def test_a_web_page_is_never_cached_even_without_size_or_hash(file_server, tmp_path: Path) -> None:
    """A login page or an error page served with 200 (WikiArt's size and hash are unknown)."""
    url, files = file_server
    files.files["/wikiart.zip"] = b"<!DOCTYPE html><html><body>Please log in</body></html>"
    files.headers_for["/wikiart.zip"] = {"Content-Type": "text/html; charset=utf-8"}
    with pytest.raises(DownloadError, match="sent a web page") as info:
        hub.download(f"{url}/wikiart.zip", tmp_path / "wikiart.zip", progress=False)
    assert "run it again" not in _one_line(info.value)
    assert list(tmp_path.iterdir()) == []
    # gzip-wrapped (Content-Encoding in transit) with a known hash: named as such, deleted
    import gzip

    data = os.urandom(5000)
    files.files["/w.pth"] = gzip.compress(data)
    with pytest.raises(DownloadError, match="gzip-compressed") as info:
        hub.download(f"{url}/w.pth", tmp_path / "w.pth", size=None, sha256=_sha(data), progress=False)
    assert "run it again" not in str(info.value) and list(tmp_path.iterdir()) == []


def test_a_trickling_server_meets_an_overall_deadline_and_what_came_is_kept(file_server, tmp_path: Path) -> None:
    url, files = file_server
    data = os.urandom(1 << 18)  # 16 pieces of 16 KiB, 0.2 s apart: over 3 s in all
    files.files["/w.pth"] = data
    files.slow["/w.pth"] = 0.2
    dest = tmp_path / "w.pth"
    with pytest.raises(DownloadError, match="too slow.*kept: run it again later to resume") as info:
        hub.download(f"{url}/w.pth", dest, size=len(data), sha256=_sha(data), progress=False, deadline=0.5)
    _one_line(info.value)
    partial = tmp_path / "w.pth.part"
    kept = partial.stat().st_size
    assert 0 < kept < len(data) and partial.read_bytes() == data[:kept]  # small reads: every piece is on disk
    files.slow.clear()
    assert hub.download(f"{url}/w.pth", dest, size=len(data), sha256=_sha(data), progress=False).read_bytes() == data
    assert files.log[-1][1] == f"bytes={kept}-"


def test_a_killed_copys_temporary_file_is_removed_by_the_next_fetch(file_server, tmp_path: Path, capsys) -> None:
    url, files = file_server
    data = b"m" * 3000
    files.files["/w.pth"] = data
    stale = tmp_path / ".w.pth.4194999-0badf00d.part"  # a mirror copy whose process was killed
    stale.write_bytes(b"half")
    asset = hub.Asset("w.pth", "weights", "w.pth", len(data), _sha(data), f"{url}/w.pth")
    assert hub.fetch(asset, root=tmp_path, progress=False).read_bytes() == data
    assert not stale.exists() and "unfinished copy" in capsys.readouterr().err
