"""Archives, second adversarial pass (issue 20, item 7): many small members that expand together, a remote
zip that claims a huge central directory, a member name longer than the file system allows. Each case was
reproduced against the code before the fix; servers listen on 127.0.0.1 only."""

from __future__ import annotations

import hashlib
import http.server
import io
import struct
import tarfile
import threading
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from adain_lesson import data
from adain_lesson.errors import DownloadError, UserError


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (12, 12), (seed * 40 % 256, 90, 200)).save(buf, format="PNG")
    return buf.getvalue()


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text
    return text


def _many_small(path: Path, n: int = 300, each: int = 1_000_000) -> Path:
    """The issue's archive: ``n`` members of ``each`` zero bytes (each under the 1 MiB ratio floor)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        block = bytes(each)
        for i in range(n):
            zf.writestr(f"imgs/{i:03d}.png", block)
    return path


def _source(url: str, blob: bytes) -> data.DataSource:
    return data.DataSource("tiny", url, "tiny.zip", len(blob), hashlib.sha256(blob).hexdigest(), None, "test")


def test_many_small_members_are_capped_in_total(tmp_path: Path, file_server) -> None:
    """341 KB of zip, 300 members of 1 MB each: each passes the member check, the total (300 MB, about 1000:1)
    does not; before, 314 MB were written."""
    archive = _many_small(tmp_path / "many.zip")
    assert archive.stat().st_size < 400_000
    with pytest.raises(UserError, match=r"many\.zip would expand from [\d,]+ to 300,000,000 bytes .*limit is 100:1"):
        data.extract_archive(archive, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    # the same archive on a server, read part by part
    base, handler = file_server
    handler.files["/many.zip"] = archive.read_bytes()
    with pytest.raises(UserError, match=r"would expand from .* to 300,000,000 bytes") as info:
        data.extract_remote_zip(base + "/many.zip", tmp_path / "out", max_images=300, progress=False)
    _one_line(info.value)
    assert not (tmp_path / "out").exists()
    assert sum(handler.sent) < 400_000  # the list of members only, never a member's bytes
    # and as a tar.gz (its total was capped before: kept so)
    tgz = tmp_path / "many.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        for i in range(30):
            info = tarfile.TarInfo(f"imgs/{i:03d}.png")
            info.size = 1_000_000
            tf.addfile(info, io.BytesIO(bytes(info.size)))
    with pytest.raises(UserError, match="would expand from"):
        data.extract_archive(tgz, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_a_subset_of_many_small_members_that_fits_the_ratio_is_extracted(tmp_path: Path) -> None:
    """The cap is on what is taken: real images (about 1:1) pass, however many there are."""
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for i in range(40):
            zf.writestr(f"imgs/{i:03d}.png", _png(i))
    got = data.extract_archive(archive, tmp_path / "out", progress=False)
    assert len(got) == 40 and all(p.read_bytes() == _png(int(p.stem)) for p in got)


def test_members_that_do_not_fit_the_free_space_are_refused_before_writing(tmp_path: Path, small_disk) -> None:
    disk = small_disk(512)  # 512 KiB
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        for i in range(3):
            zf.writestr(f"imgs/{i}.png", bytes([i]) * 300_000)  # stored: 1:1, 900 KB in all
    with pytest.raises(UserError, match=r"needs 900,000 bytes, but .* bytes free: nothing was extracted") as info:
        data.extract_archive(archive, disk / "out", progress=False)
    _one_line(info.value)
    assert not (disk / "out").exists()


def _claim_directory(blob: bytes, claimed: int, *, zip64: bool = False) -> bytes:
    """``blob`` with its end record claiming a central directory of ``claimed`` bytes (in the zip64 record
    when ``zip64``, the classic record then saying 0xFFFFFFFF, as a large archive's does)."""
    raw = bytearray(blob)
    end = raw.rfind(b"PK\x05\x06")
    if zip64:
        at = raw.rfind(b"PK\x06\x06")
        assert at >= 0
        raw[at + 40:at + 48] = struct.pack("<Q", claimed)
        raw[end + 12:end + 16] = struct.pack("<L", 0xFFFFFFFF)
    else:
        raw[end + 12:end + 16] = struct.pack("<L", claimed)
    return bytes(raw)


def _small_zip(*, zip64: bool = False) -> bytes:
    buf = io.BytesIO()
    limit = zipfile.ZIP_FILECOUNT_LIMIT
    if zip64:
        zipfile.ZIP_FILECOUNT_LIMIT = 1  # more members than that: zipfile writes the zip64 end records
    try:
        with zipfile.ZipFile(buf, "w") as zf:
            for i in range(3):
                zf.writestr(f"imgs/{i}.png", _png(i))
    finally:
        zipfile.ZIP_FILECOUNT_LIMIT = limit
    return buf.getvalue()


@pytest.mark.parametrize("zip64", [False, True])
def test_a_remote_zip_claiming_a_huge_central_directory_is_refused_before_reading_it(zip64: bool, tmp_path: Path,
                                                                                     file_server) -> None:
    """A 1 GB claim made ``max_images`` read (and hold) it: a 4.3 GB peak. Now the claim is checked first."""
    base, handler = file_server
    blob = _claim_directory(_small_zip(zip64=zip64), 1 << 30, zip64=zip64)
    handler.files["/huge.zip"] = blob
    tracemalloc.start()
    try:
        with pytest.raises(DownloadError, match=r"claims a list of members \(central directory\) of "
                                                r"1,073,741,824 bytes") as info:
            data.extract_remote_zip(base + "/huge.zip", tmp_path / "out", max_images=2, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20  # before: zipfile asked for 1 GiB at once (the buffer of one read)
    assert "download the whole archive" in _one_line(info.value)
    assert not (tmp_path / "out").exists()
    assert sum(handler.sent) <= len(blob) + 1  # a 1-byte probe and the tail (this archive is small)


class _Sparse(http.server.BaseHTTPRequestHandler):
    """A 2 GiB file on 127.0.0.1 that is zeros but for its last bytes (``tail``), served by Range only and
    at most 1 MiB per answer: what a zip of that size claiming a 1 GiB central directory looks like."""

    size = 2 << 30
    tail = b""
    sent: list[int] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        first, _, last = (self.headers.get("Range") or "bytes=0-").removeprefix("bytes=").partition("-")
        start = int(first)
        end = min(int(last) if last else self.size - 1, self.size - 1, start + (1 << 20) - 1)
        body = bytearray(end - start + 1)
        at = self.size - len(self.tail)
        for i in range(max(start, at), end + 1):
            body[i - start] = self.tail[i - at]
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end}/{self.size}")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.sent.append(len(body))

    def log_message(self, *args: object) -> None:
        pass


def test_a_remote_zip_of_2_gib_claiming_1_gib_of_directory_is_refused_without_holding_it(tmp_path: Path) -> None:
    """The issue's case: a claim that is consistent with the file's size (so zipfile would read it), refused
    by the cap before a byte of it is read; before, one read asked for the whole 1 GiB at once."""
    claimed = 1 << 30
    offset = _Sparse.size - 22 - claimed
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, claimed, offset, 0)  # one member, 1 GiB of list
    handler = type("Sparse", (_Sparse,), {"tail": end, "sent": []})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    tracemalloc.start()
    try:
        with pytest.raises(DownloadError, match=r"claims a list of members \(central directory\) of 1,073,741,824 "
                                                r"bytes, more than 33,554,432") as info:
            data.extract_remote_zip(f"http://127.0.0.1:{httpd.server_address[1]}/big.zip", tmp_path / "out",
                                    max_images=2, progress=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        httpd.shutdown()
        httpd.server_close()
    _one_line(info.value)
    assert peak < 16 << 20 and sum(handler.sent) < 1 << 20  # the end records only
    assert not (tmp_path / "out").exists()


def test_a_remote_central_directory_above_the_cap_is_refused_even_within_the_file(tmp_path: Path, file_server,
                                                                                  monkeypatch) -> None:
    """A claim within the file's size but above :data:`MAX_DIRECTORY_BYTES` (lowered here to 100 bytes)."""
    base, handler = file_server
    blob = _small_zip()
    handler.files["/a.zip"] = blob
    monkeypatch.setattr(data, "MAX_DIRECTORY_BYTES", 100)
    with pytest.raises(DownloadError, match=r"claims a list of members .* of 168 bytes, more than 100"):
        data.extract_remote_zip(base + "/a.zip", tmp_path / "out", max_images=2, progress=False)
    monkeypatch.undo()
    got = data.extract_remote_zip(base + "/a.zip", tmp_path / "out", max_images=2, progress=False)
    assert sorted(p.name for p in got) == ["0.png", "1.png"]


@pytest.mark.parametrize("member", ["imgs/" + "a" * 250 + ".png", "d" * 300 + "/a.png"])
def test_a_member_name_too_long_for_the_file_system_says_so_and_keeps_the_archive(member: str, tmp_path: Path,
                                                                                 file_server) -> None:
    """Before: "corrupt", and the good archive just downloaded was deleted."""
    base, handler = file_server
    src = tmp_path / "src.zip"
    with zipfile.ZipFile(src, "w") as zf:
        zf.writestr("imgs/0.png", _png(0))
        zf.writestr(member, _png(1))
    blob = src.read_bytes()
    handler.files["/tiny.zip"] = blob
    root = tmp_path / "d"
    with pytest.raises(UserError, match=r"whose name .* bytes long, and this file system allows \d+ here: "
                                        r"nothing was extracted and the archive is kept") as info:
        data.download_dataset(_source(base + "/tiny.zip", blob), root, progress=False)
    text = _one_line(info.value)
    assert "corrupt" not in text and not isinstance(info.value, DownloadError)
    assert (root / "archives" / "tiny.zip").read_bytes() == blob  # kept
    assert not list(root.rglob("*.png"))
    # read part by part from the server (max_images): the same message, nothing written
    with pytest.raises(UserError, match="whose name .* the archive is kept"):
        data.extract_remote_zip(base + "/tiny.zip", tmp_path / "r", max_images=5, progress=False)
    assert not (tmp_path / "r").exists()


def test_a_destination_that_cannot_be_searched_is_not_a_corrupt_archive(tmp_path: Path, monkeypatch) -> None:
    """The class behind the long name: any error of the destination (here ENAMETOOLONG from a stat of the
    target, faked past the name check) is a write problem, never "corrupt"."""
    import errno
    import os

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("imgs/0.png", _png(0))
    real_stat = os.stat

    def failing(path, *args, **kw):  # noqa: ANN001, ANN002, ANN003 - os.stat's signature
        if str(path).endswith("0.png"):
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), str(path))
        return real_stat(path, *args, **kw)

    monkeypatch.setattr(data.os, "stat", failing)
    with pytest.raises(UserError, match="cannot write to .*0.png: File name too long") as info:
        data.extract_archive(archive, tmp_path / "out", progress=False)
    monkeypatch.undo()
    assert "corrupt" not in _one_line(info.value) and archive.exists()


def test_a_tar_member_name_too_long_says_so_too(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for name, seed in (("imgs/0.png", 0), ("imgs/" + "b" * 260 + ".png", 1)):
            payload = _png(seed)
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tf.addfile(info, io.BytesIO(payload))
    with pytest.raises(UserError, match=r"whose name .* is 264 bytes long.* the archive is kept") as info:
        data.extract_archive(archive, tmp_path / "out", progress=False)
    assert "corrupt" not in _one_line(info.value)
    assert archive.exists() and not (tmp_path / "out").exists()
