"""The cache as a trust boundary, and downloads bounded by what the manifest says (issue 20, items 5 and 6).

Each case was reproduced against the code before the fix, then fixed as a class: manifest paths outside the
cache (``../``, absolute, through a link), a ``.part`` or ``.lock`` that is a hard link, forged or stale
``.sha256-ok`` markers, files the user cannot read (a real ``chmod 000``, checked as the unprivileged user
``nobody`` since the tests run as root), an endless answer, a server that trickles its headers, the right
bytes labelled ``text/html``, and invalid URLs. Every server listens on 127.0.0.1 only; every loop is
bounded in count.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from adain_lesson import hub
from adain_lesson.errors import DownloadError, UserError

NOBODY = 65534


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text
    return text


def _manifest(path: Path, rows: list[tuple[str, str, str, int, str, str]]) -> Path:
    lines = ["name\tkind\tpath\tbytes\tsha256\turl"] + ["\t".join(map(str, row)) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------------
# Item 5: the cache is not a trust boundary for anyone but its owner
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["../victim.txt", "sub/../../victim.txt", "/ABS/victim.txt", "~/victim.txt",
                                 "C:/victim.txt", "sub\\..\\..\\victim.txt", "./w.pth", "sub//w.pth", " w.pth"])
def test_a_manifest_row_may_not_name_a_path_outside_the_cache(bad: str, file_server, tmp_path: Path,
                                                              monkeypatch) -> None:
    url, files = file_server
    payload = b"attacker's bytes, with their own correct hash"
    files.files["/x"] = payload
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    cache = tmp_path / "cache"
    bad = bad.replace("/ABS", str(tmp_path))  # an absolute path that names the victim
    monkeypatch.setenv(hub.MANIFEST_ENV, str(_manifest(tmp_path / "m.tsv", [
        ("decoder.pth", "weights", bad, len(payload), _sha(payload), f"{url}/x")])))
    with pytest.raises(UserError, match="could lead outside the cache") as info:
        hub.fetch("decoder.pth", root=cache, progress=False)
    assert str(tmp_path / "m.tsv") in _one_line(info.value)
    assert victim.read_bytes() == b"precious" and files.log == []
    # an Asset made in Python (no manifest) is held to the same rule
    monkeypatch.delenv(hub.MANIFEST_ENV)
    with pytest.raises(UserError, match="could lead outside the cache"):
        hub.fetch(hub.Asset("x", "weights", bad, len(payload), _sha(payload), f"{url}/x"), root=cache,
                  progress=False)
    assert victim.read_bytes() == b"precious" and files.log == []


def test_a_link_in_the_cache_that_leads_outside_is_not_followed(file_server, tmp_path: Path) -> None:
    url, files = file_server
    payload = b"w" * 3000
    files.files["/w.pth"] = payload
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "weights").symlink_to(outside)  # planted by someone who can write the cache folder
    asset = hub.Asset("w.pth", "weights", "weights/w.pth", len(payload), _sha(payload), f"{url}/w.pth")
    with pytest.raises(UserError, match="leads outside the cache") as info:
        hub.fetch(asset, root=cache, progress=False)
    _one_line(info.value)
    assert list(outside.iterdir()) == [] and files.log == []
    # the same for a mirror: its layout is the cache's, and a link out of it is not read through
    (cache / "weights").unlink()
    mirror = tmp_path / "usb"
    mirror.mkdir()
    (mirror / "weights").symlink_to(outside)
    (outside / "w.pth").write_bytes(payload)
    with pytest.raises(UserError, match="leads outside the cache"):
        hub.fetch(asset, root=cache, mirror=mirror, progress=False)
    # a cache folder that is itself a link (ADAIN_LESSON_HOME on a bigger disk) is fine
    real = tmp_path / "big_disk"
    real.mkdir()
    (tmp_path / "home").symlink_to(real)
    assert hub.fetch(asset, root=tmp_path / "home", progress=False).read_bytes() == payload
    assert (real / "weights" / "w.pth").read_bytes() == payload


@pytest.mark.parametrize("suffix", [".part", ".lock"])
def test_a_hard_linked_part_or_lock_is_never_written_through(suffix: str, file_server, tmp_path: Path) -> None:
    url, files = file_server
    data = os.urandom(5000)
    files.files["/w.pth"] = data
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    cache = tmp_path / "cache"
    cache.mkdir()
    os.link(victim, cache / f"w.pth{suffix}")  # the same file under a second name: a write would change it
    with pytest.raises(UserError, match="is a hard link .* not writing through it") as info:
        hub.download(f"{url}/w.pth", cache / "w.pth", size=len(data), sha256=_sha(data), progress=False)
    _one_line(info.value)
    assert victim.read_bytes() == b"precious" and files.log == []
    (cache / f"w.pth{suffix}").unlink()  # deleted, as the message says: then it works
    assert hub.download(f"{url}/w.pth", cache / "w.pth", size=len(data), sha256=_sha(data),
                        progress=False).read_bytes() == data
    assert victim.read_bytes() == b"precious"


def _cached(file_server, tmp_path: Path, data: bytes = b"") -> tuple[hub.Asset, Path, dict]:
    """A verified file in a fresh cache (with its marker), and the server's files."""
    url, files = file_server
    data = data or os.urandom(20_000)
    files.files["/w.pth"] = data
    asset = hub.Asset("w.pth", "weights", "w.pth", len(data), _sha(data), f"{url}/w.pth")
    dest = hub.fetch(asset, root=tmp_path / "cache", progress=False)
    assert (tmp_path / "cache" / "w.pth.sha256-ok").is_file()
    return asset, dest, files


def _hashes(monkeypatch) -> list[int]:
    """Counts the files hashed from now on."""
    count: list[int] = []
    real = hub._hash_fd

    def counting(fd: int) -> str:
        count.append(fd)
        return real(fd)

    monkeypatch.setattr(hub, "_hash_fd", counting)
    return count


def test_a_bit_flipped_after_its_marker_was_written_is_noticed(file_server, tmp_path: Path, monkeypatch) -> None:
    """A byte changed in place, the modification time set back: the same size, time and inode. The change time
    (which no user can set back) differs, so the file is hashed again and the flip is found."""
    asset, dest, _ = _cached(file_server, tmp_path)
    before = dest.stat()
    for _ in range(200):  # the change time must move past the marker's (a coarse clock ticks every few ms)
        with open(dest, "r+b") as f:
            f.seek(1234)
            byte = f.read(1)
            f.seek(1234)
            f.write(bytes([byte[0] ^ 0x01]))
        os.utime(dest, ns=(before.st_atime_ns, before.st_mtime_ns))
        after = dest.stat()
        if after.st_ctime_ns != before.st_ctime_ns:
            break
        with open(dest, "r+b") as f:  # undo, and try once more a moment later
            f.seek(1234)
            f.write(byte)
        threading.Event().wait(0.01)
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (before.st_size, before.st_mtime_ns, before.st_ino)
    assert after.st_ctime_ns != before.st_ctime_ns
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")
    with pytest.raises(DownloadError, match="SHA-256 .*replace it with the file from") as info:
        hub.fetch(asset, root=tmp_path / "cache", progress=False)
    _one_line(info.value)


def test_a_forged_marker_beside_a_planted_file_is_not_trusted(file_server, tmp_path: Path, monkeypatch,
                                                              capsys) -> None:
    url, files = file_server
    data = os.urandom(20_000)
    files.files["/w.pth"] = data
    asset = hub.Asset("w.pth", "weights", "w.pth", len(data), _sha(data), f"{url}/w.pth")
    cache = tmp_path / "cache"
    cache.mkdir()
    planted = cache / "w.pth"
    planted.write_bytes(os.urandom(len(data)))  # the right size, other bytes
    st = planted.stat()
    marker = cache / "w.pth.sha256-ok"
    # the reproduction: the old format (hash, size, modification time), which anyone can write
    marker.write_text(f"{asset.sha256} {st.st_size} {st.st_mtime_ns}\n", encoding="ascii")
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")
    with pytest.raises(DownloadError, match="SHA-256"):
        hub.fetch(asset, root=cache, progress=False)
    # today's format, with every field right, but written so that another user could have planted it
    forged = hub._stamp(st, asset.sha256)
    marker.write_text(forged, encoding="ascii")
    os.chmod(marker, 0o666)  # writable by anyone
    with pytest.raises(DownloadError, match="SHA-256"):
        hub.fetch(asset, root=cache, progress=False)
    os.chmod(marker, 0o644)
    marker.unlink()
    (cache / "real-marker").write_text(forged, encoding="ascii")
    marker.symlink_to(cache / "real-marker")  # a link to a marker
    with pytest.raises(DownloadError, match="SHA-256"):
        hub.fetch(asset, root=cache, progress=False)
    marker.unlink()
    marker.write_text(forged, encoding="ascii")
    os.chmod(marker, 0o644)
    if os.geteuid() == 0:  # another user's marker (a shared cache): only root can make one here
        os.chown(marker, NOBODY, NOBODY)
        with pytest.raises(DownloadError, match="SHA-256"):
            hub.fetch(asset, root=cache, progress=False)
    # online, the planted file is replaced by the verified download, with a marker of this user's
    monkeypatch.delenv("ADAIN_LESSON_OFFLINE")
    assert hub.fetch(asset, root=cache, progress=False).read_bytes() == data
    assert "replacing it with the verified file" in capsys.readouterr().err
    assert marker.stat().st_uid == os.geteuid() and marker.stat().st_mode & 0o022 == 0


def test_a_marker_copied_with_its_file_is_checked_again(file_server, tmp_path: Path, monkeypatch) -> None:
    """A cache copied elsewhere (``cp -p``: same size and times, another inode) is hashed once more, then
    trusted again; an unchanged file is trusted without hashing."""
    asset, dest, _ = _cached(file_server, tmp_path)
    hashed = _hashes(monkeypatch)
    assert hub.fetch(asset, root=tmp_path / "cache", progress=False) == dest and hashed == []
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("w.pth", "w.pth.sha256-ok"):
        shutil.copy2(tmp_path / "cache" / name, copy / name)
    assert (copy / "w.pth").stat().st_mtime_ns == dest.stat().st_mtime_ns
    assert hub.fetch(asset, root=copy, progress=False) == copy / "w.pth" and len(hashed) == 1
    assert hub.fetch(asset, root=copy, progress=False) == copy / "w.pth" and len(hashed) == 1


@pytest.fixture()
def shared_dir() -> Iterator[Path]:
    """A folder that the user ``nobody`` can enter (pytest's own tmp_path is root's alone)."""
    where = Path(tempfile.mkdtemp(prefix="adain-perm-"))
    where.chmod(0o755)
    try:
        yield where
    finally:
        shutil.rmtree(where, ignore_errors=True)


@contextmanager
def _unprivileged() -> Iterator[None]:
    """Run the block as the user ``nobody`` when the tests run as root (root reads any file, so a ``chmod 000``
    means nothing to it), else as this user. Only the effective ids change (``seteuid``), so root comes back
    at the end; a subprocess cannot be used here, as this machine's Python lives under root's own folder."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        yield
        return
    groups = os.getgroups()
    os.setgroups([])
    os.setegid(NOBODY)
    os.seteuid(NOBODY)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(groups)


def _fetch_as_user(cache: Path, mirror: Path | None, data: bytes) -> str:
    asset = hub.Asset("w.pth", "weights", "w.pth", len(data), _sha(data), "http://127.0.0.1:9/w.pth")
    with _unprivileged(), pytest.raises(UserError) as info:
        hub.fetch(asset, root=cache, mirror=mirror, progress=False)
    return _one_line(info.value)


def test_a_cached_or_mirror_file_the_user_cannot_read_is_one_line(shared_dir: Path) -> None:
    data = os.urandom(4000)
    cache, mirror = shared_dir / "cache", shared_dir / "usb"
    cache.mkdir()
    mirror.mkdir()
    for folder in (cache, mirror):
        folder.chmod(0o777)  # nobody may write here (the marker, the copy); only the file itself is closed
    (mirror / "w.pth").write_bytes(data)
    (mirror / "w.pth").chmod(0o000)
    text = _fetch_as_user(cache, mirror, data)
    assert text.startswith(f"cannot read {mirror / 'w.pth'}: permission denied") and "chmod u+r" in text
    assert list(cache.iterdir()) == []  # no partial copy left
    # a cached file that cannot be read: with a valid marker beside it, and without one
    (mirror / "w.pth").chmod(0o644)
    shutil.copyfile(mirror / "w.pth", cache / "w.pth")
    if os.geteuid() == 0:
        os.chown(cache / "w.pth", NOBODY, NOBODY)  # the user's own file, then made unreadable
    (cache / "w.pth").chmod(0o000)
    marker = cache / "w.pth.sha256-ok"
    marker.write_text(hub._stamp((cache / "w.pth").stat(), _sha(data)), encoding="ascii")
    marker.chmod(0o644)
    if os.geteuid() == 0:
        os.chown(marker, NOBODY, NOBODY)
    for _ in range(2):  # with the marker, then without it
        text = _fetch_as_user(cache, None, data)
        assert text.startswith(f"cannot read {cache / 'w.pth'}: permission denied") and "chmod u+r" in text
        marker.unlink(missing_ok=True)
    assert sorted(p.name for p in cache.iterdir()) == ["w.pth"]


# ---------------------------------------------------------------------------------------------------
# Item 6: downloads are bounded by what the manifest says
# ---------------------------------------------------------------------------------------------------


@pytest.fixture()
def raw_server() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """``raw_server(answer)``: a server on 127.0.0.1 that calls ``answer(conn)`` for each connection (after
    reading the request), for answers ``http.server`` cannot give: endless bodies, trickled headers."""
    servers: list[socket.socket] = []

    def start(answer: Callable[[socket.socket], None]) -> str:
        srv = socket.create_server(("127.0.0.1", 0))
        servers.append(srv)

        def loop() -> None:
            for _ in range(10):  # at most ten connections
                try:
                    conn, _ = srv.accept()
                except OSError:
                    return
                with conn:
                    conn.recv(65536)
                    try:
                        answer(conn)
                    except OSError:  # the client hung up: exactly what a bounded download does
                        pass

        threading.Thread(target=loop, daemon=True).start()
        return f"http://127.0.0.1:{srv.getsockname()[1]}"

    yield start
    for srv in servers:
        srv.close()


def test_an_endless_answer_stops_at_the_pinned_size(raw_server, tmp_path: Path) -> None:
    """A 50 KB file answered with an endless body (no Content-Length): reading stops just past 50 KB, and
    the partial file is discarded; before, the .part grew to 4.4 GB in 6 s."""
    sent = [0]

    def endless(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n")
        block = b"\0" * 65536
        for _ in range(2000):  # would be 131 MB: bounded, but far past what the client may take
            conn.sendall(block)
            sent[0] += len(block)

    url = raw_server(endless)
    dest = tmp_path / "w.pth"
    size = 50_000
    with pytest.raises(DownloadError, match=r"sent more than the 50,000 bytes w\.pth has") as info:
        hub.download(f"{url}/w.pth", dest, size=size, sha256="0" * 64, progress=False)
    text = _one_line(info.value)
    assert "nothing of it was kept" in text and "run it again" not in text
    assert list(tmp_path.iterdir()) == []  # no .part, no lock, no file


def test_an_announced_length_above_the_pinned_size_is_refused_before_reading(raw_server, tmp_path: Path) -> None:
    def big(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 4400000000\r\n\r\n" + b"\0" * 100_000)

    url = raw_server(big)
    with pytest.raises(DownloadError, match=r"announced 4,400,000,000 bytes, more than the 50,000 bytes"):
        hub.download(f"{url}/w.pth", tmp_path / "w.pth", size=50_000, sha256="0" * 64, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_server_that_trickles_headers_meets_the_overall_deadline(raw_server, tmp_path: Path) -> None:
    """One header byte every 50 ms (each read well within its 30 s timeout): the deadline of 0.5 s covers the
    headers too, so the client hangs up long before the server's 20 s of headers are out."""
    finished = threading.Event()
    hung_up = threading.Event()

    def trickle(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        try:
            for _ in range(400):  # 400 bytes, 50 ms apart: 20 s in all, at most
                conn.sendall(b"a")
                if hung_up.wait(0.05):
                    break
            else:
                conn.sendall(b"\r\nContent-Length: 4\r\n\r\nbody")
                finished.set()
        except OSError:
            pass

    url = raw_server(trickle)
    with pytest.raises(DownloadError, match=r"too slow: 0 bytes in 0 s \(the deadline\)") as info:
        hub.download(f"{url}/w.pth", tmp_path / "w.pth", size=4, sha256=_sha(b"body"), progress=False,
                     timeout=30, deadline=0.5)
    hung_up.set()
    _one_line(info.value)
    assert not finished.is_set()  # the client gave up during the headers, not after them


def test_a_remote_file_whose_server_trickles_headers_meets_its_deadline(raw_server) -> None:
    """The same for the reads of a remote zip (``download-data --max-images``), one request at a time."""
    finished = threading.Event()
    hung_up = threading.Event()

    def trickle(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 206 Partial Content\r\nX-Slow: ")
        for _ in range(400):  # at most 20 s
            conn.sendall(b"a")
            if hung_up.wait(0.05):
                return
        conn.sendall(b"\r\nContent-Range: bytes 0-0/10\r\nContent-Length: 1\r\n\r\nx")
        finished.set()

    url = raw_server(trickle)
    with pytest.raises(DownloadError, match=r"reading .* is too slow \(0 bytes in 0 s\)") as info:
        hub.RemoteFile(f"{url}/a.zip", timeout=30, deadline=0.5)
    hung_up.set()
    _one_line(info.value)
    assert not finished.is_set()


def test_the_hash_decides_not_the_content_type(file_server, tmp_path: Path) -> None:
    url, files = file_server
    data = os.urandom(30_000)
    files.files["/w.pth"] = data
    files.headers_for["/w.pth"] = {"Content-Type": "text/html; charset=utf-8"}  # a server's wrong label
    got = hub.download(f"{url}/w.pth", tmp_path / "w.pth", size=len(data), sha256=_sha(data), progress=False)
    assert got.read_bytes() == data
    # a web page under the same label, with a hash to check: refused by the hash, and named as a web page
    files.files["/v.pth"] = b"<!DOCTYPE html><html>login</html>" + b" " * 100
    files.headers_for["/v.pth"] = {"Content-Type": "text/html"}
    with pytest.raises(DownloadError, match=r"SHA-256 .*it is a web page"):
        hub.download(f"{url}/v.pth", tmp_path / "v.pth", sha256=_sha(data), progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pth"]


@pytest.mark.parametrize("bad", ["http://[::1/w.pth", "http://[fe80::zz]/w.pth", "http://[127.0.0.1/w.pth",
                                 "http://127.0.0.1:port/w.pth", "http://127.0.0.1:99999/w.pth",
                                 "http://127.0.0.1/a b.pth", "http:///w.pth", "ftp://127.0.0.1/w.pth",
                                 "http://127.0.0.1/w\x7f.pth"])
def test_an_invalid_url_is_one_line(bad: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(hub.MANIFEST_ENV, str(_manifest(tmp_path / "m.tsv", [
        ("decoder.pth", "weights", "decoder.pth", 10, "a" * 64, bad)])))
    with pytest.raises(UserError, match="not a usable http\\(s\\) address") as info:
        hub.manifest()
    assert str(tmp_path / "m.tsv") in _one_line(info.value)
    monkeypatch.delenv(hub.MANIFEST_ENV)
    with pytest.raises(UserError, match=r"is not an http\(s\) URL") as info:
        hub.download(bad, tmp_path / "w.pth", progress=False)
    _one_line(info.value)
    with pytest.raises(UserError, match=r"is not an http\(s\) URL"):
        hub.RemoteFile(bad)
    assert list(tmp_path.iterdir()) == [tmp_path / "m.tsv"]


def test_a_valid_ipv6_literal_is_accepted_in_a_manifest(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(hub.MANIFEST_ENV, str(_manifest(tmp_path / "m.tsv", [
        ("decoder.pth", "weights", "decoder.pth", 10, "a" * 64, "http://[::1]:8080/decoder.pth")])))
    assert hub.manifest()["decoder.pth"].url == "http://[::1]:8080/decoder.pth"  # parsed only: no request
