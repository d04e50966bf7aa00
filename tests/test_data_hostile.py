"""Archives that lie or explode (issue 14): zip and tar bombs (local and remote), compression methods
zipfile cannot read, encryption, a web page or a corrupt file downloaded as the archive, and the temporary
files of a killed extraction."""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tarfile
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from adain_lesson import data
from adain_lesson.errors import DownloadError, UserError


def _png(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (20, 20), (seed * 40 % 256, 90, 200)).save(buf, format="PNG")
    return buf.getvalue()


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text
    return text


def _bomb_zip(path: Path, mb: int = 24) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a/0.png", _png(0))
        zf.writestr("a/1_huge.jpg", bytes(mb << 20))  # about 24 KB packed, 24 MB unpacked: 1000:1
    return path


def test_a_zip_bomb_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    archive = _bomb_zip(tmp_path / "bomb.zip")
    assert archive.stat().st_size < 100_000
    with pytest.raises(UserError, match=r"1_huge\.jpg.*expands from .* \(\d[\d,]*:1, the limit is 100:1\)") as info:
        data.extract_archive(archive, tmp_path / "out", progress=False)
    _one_line(info.value)
    assert not (tmp_path / "out").exists()


def test_a_member_larger_than_any_image_is_refused(tmp_path: Path, monkeypatch) -> None:
    archive = tmp_path / "big.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("x.png", os.urandom(3 << 20))  # incompressible: the ratio is 1:1, only the size is wrong
    monkeypatch.setattr(data, "MAX_MEMBER_BYTES", 2 << 20)
    with pytest.raises(UserError, match=r"x\.png.*more than any image may be"):
        data.extract_archive(archive, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_a_tar_gz_bomb_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        payload = bytes(24 << 20)
        info = tarfile.TarInfo("imgs/huge.png")
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))
    with pytest.raises(UserError, match=r"would expand from .* the limit is 100:1") as info:
        data.extract_archive(archive, tmp_path / "out", progress=False)
    _one_line(info.value)
    assert not (tmp_path / "out").exists()


def test_a_remote_zip_bomb_is_refused(tmp_path: Path, file_server) -> None:
    base, handler = file_server
    blob = _bomb_zip(tmp_path / "bomb.zip").read_bytes()
    handler.files["/bomb.zip"] = blob
    with pytest.raises(UserError, match="expands from"):
        data.extract_remote_zip(base + "/bomb.zip", tmp_path / "out", max_images=2, progress=False)
    assert not (tmp_path / "out").exists()


def _patch_zip(path: Path, *, method: int | None = None, flags: int | None = None) -> Path:
    """Rewrite the compression method / flag bits of every member, in the local and central headers."""
    raw = bytearray(path.read_bytes())
    for sig, off_flags, off_method in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
        at = raw.find(sig)
        while at != -1:
            if flags is not None:
                raw[at + off_flags:at + off_flags + 2] = struct.pack("<H", flags)
            if method is not None:
                raw[at + off_method:at + off_method + 2] = struct.pack("<H", method)
            at = raw.find(sig, at + 4)
    path.write_bytes(bytes(raw))
    return path


@pytest.mark.parametrize(("method", "flags", "expect"), [
    (9, None, "Deflate64.*7-Zip"),
    (99, None, "encrypted.*password"),
    (None, 1, "encrypted.*password"),
])
def test_zip_methods_zipfile_cannot_read_get_one_line(tmp_path: Path, method, flags, expect: str) -> None:
    archive = tmp_path / "win.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("photos/a.jpg", _png(1))
    _patch_zip(archive, method=method, flags=flags)
    with pytest.raises(UserError, match=expect) as info:
        data.extract_archive(archive, tmp_path / "out", progress=False)
    _one_line(info.value)
    assert not (tmp_path / "out").exists()


def _source(url: str, size: int | None = None, sha: str | None = None) -> data.DataSource:
    return data.DataSource("tiny", url, "tiny.zip", size, sha, None, "test")


def test_a_downloaded_file_that_is_no_archive_is_deleted_not_reused(tmp_path: Path, file_server) -> None:
    base, handler = file_server
    handler.files["/tiny.zip"] = b"<html><body>Service temporarily unavailable</body></html>"  # no Content-Type
    root = tmp_path / "d"
    for _ in range(2):  # the second run downloads again: nothing wrong was cached
        with pytest.raises(DownloadError, match="not a zip or tar archive; it is a web page") as info:
            data.download_dataset(_source(base + "/tiny.zip"), root, progress=False)
        assert "run it again" not in _one_line(info.value)
        assert list((root / "archives").iterdir()) == []
    assert len(handler.log) == 2


def test_a_corrupt_downloaded_archive_is_deleted(tmp_path: Path, file_server) -> None:
    base, handler = file_server
    src = tmp_path / "src.zip"
    with zipfile.ZipFile(src, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("imgs/a.png", _png(2))
    blob = bytearray(src.read_bytes())
    at = blob.index(b"IDAT") + 6
    blob[at] ^= 0xFF  # a bad CRC-32 (WikiArt and COCO train2014 publish no SHA-256 to catch it earlier)
    handler.files["/tiny.zip"] = bytes(blob)
    root = tmp_path / "d"
    with pytest.raises(DownloadError, match="corrupt.*deleted.*download it afresh") as info:
        data.download_dataset(_source(base + "/tiny.zip", size=len(blob)), root, progress=False)
    _one_line(info.value)
    assert list((root / "archives").iterdir()) == [] and not list(root.rglob("*.png"))


def test_temporary_files_of_a_killed_extraction_are_removed(tmp_path: Path, capsys) -> None:
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for i in range(3):
            zf.writestr(f"imgs/{i}.png", _png(i))
    out = tmp_path / "out"
    (out / "imgs").mkdir(parents=True)
    stale = out / "imgs" / ".1.png.4194999-0badf00d.part"  # a pid that cannot run (above pid_max)
    stale.write_bytes(b"half")
    alive = out / "imgs" / f".2.png.{os.getpid()}-0badf00d.part"  # a running process's: left alone
    alive.write_bytes(b"mine")
    data.extract_archive(archive, out, progress=False)
    assert not stale.exists() and alive.exists()
    assert "removed 1 unfinished temporary file" in capsys.readouterr().err
    assert sorted(p.name for p in (out / "imgs").glob("*.png")) == ["0.png", "1.png", "2.png"]
    assert hashlib.sha256((out / "imgs" / "1.png").read_bytes()).digest() == hashlib.sha256(_png(1)).digest()


def test_a_server_that_answers_another_range_gets_the_whole_archive_downloaded(tmp_path: Path, file_server,
                                                                             capsys) -> None:
    base, handler = file_server
    src = tmp_path / "src.zip"
    with zipfile.ZipFile(src, "w") as zf:
        for i in range(4):
            zf.writestr(f"imgs/{i}.png", _png(i))
    blob = src.read_bytes()
    handler.files["/tiny.zip"] = blob
    handler.range_from["/tiny.zip"] = 1  # whatever part is asked for, it labels it as from byte 1
    source = data.DataSource("tiny", base + "/tiny.zip", "tiny.zip", len(blob), hashlib.sha256(blob).hexdigest(),
                             4, "test")
    folder = data.download_dataset(source, tmp_path / "d", max_images=2, progress=False)
    assert "downloading all of it" in capsys.readouterr().err
    assert sorted(p.name for p in folder.rglob("*.png")) == ["0.png", "1.png"]
