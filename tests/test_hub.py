"""Downloads against a local HTTP server on 127.0.0.1: good, wrong hash, truncated (then resumed),
server down, offline mode, the cache, a local mirror, and the pinned manifest."""

from __future__ import annotations

import csv
import errno
import hashlib
import io
import os
import socket
from pathlib import Path

import pytest
import torch

from adain_lesson import hub
from adain_lesson.errors import DownloadError, OfflineError, UserError


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_good_download_is_verified_and_renamed(file_server, tmp_path: Path) -> None:
    url, files = file_server
    data = bytes(range(256)) * 4000
    files.files["/w.pth"] = data
    dest = hub.download(f"{url}/w.pth", tmp_path / "w.pth", size=len(data), sha256=_sha(data), progress=False)
    assert dest.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.pth"]


def test_wrong_checksum_deletes_the_file_and_says_so(file_server, tmp_path: Path) -> None:
    url, files = file_server
    files.files["/w.pth"] = b"x" * 1000
    with pytest.raises(DownloadError, match="SHA-256.*deleted"):
        hub.download(f"{url}/w.pth", tmp_path / "w.pth", size=1000, sha256=_sha(b"y" * 1000), progress=False)
    assert list(tmp_path.iterdir()) == []


def test_wrong_size_deletes_the_file(file_server, tmp_path: Path) -> None:
    url, files = file_server
    files.files["/w.pth"] = b"x" * 1200
    with pytest.raises(DownloadError, match=r"announced 1,200 bytes, more than the 1,000 bytes w\.pth has"):
        hub.download(f"{url}/w.pth", tmp_path / "w.pth", size=1000, sha256=None, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_truncated_download_is_never_cached_and_resumes(file_server, tmp_path: Path) -> None:
    url, files = file_server
    data = bytes(range(256)) * 2000
    files.files["/big.pth"] = data
    files.truncate.add("/big.pth")
    dest = tmp_path / "big.pth"
    with pytest.raises(DownloadError, match="cut off"):
        hub.download(f"{url}/big.pth", dest, size=len(data), sha256=_sha(data), progress=False)
    assert not dest.exists()
    partial = dest.with_name("big.pth.part")
    assert 0 < partial.stat().st_size < len(data)
    files.truncate.clear()
    hub.download(f"{url}/big.pth", dest, size=len(data), sha256=_sha(data), progress=False)
    assert dest.read_bytes() == data and not partial.exists()
    assert files.log[-1][1] == f"bytes={len(data) // 2}-"  # the second request resumed


def test_server_down_is_an_offline_error(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(OfflineError, match="cannot reach") as info:
        hub.download(f"http://127.0.0.1:{port}/w.pth", tmp_path / "w.pth", size=10, progress=False)
    assert str(tmp_path / "w.pth") in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_http_error_is_a_download_error(file_server, tmp_path: Path) -> None:
    url, _ = file_server
    with pytest.raises(DownloadError, match="HTTP 404"):
        hub.download(f"{url}/missing.pth", tmp_path / "m.pth", progress=False)


def test_fetch_caches_and_offline_mode_says_where_to_put_files(file_server, tmp_path: Path, monkeypatch) -> None:
    url, files = file_server
    data = b"abc" * 999
    files.files["/a.bin"] = data
    asset = hub.Asset("a.bin", "weights", "sub/a.bin", len(data), _sha(data), f"{url}/a.bin")
    first = hub.fetch(asset, root=tmp_path, progress=False)
    second = hub.fetch(asset, root=tmp_path, progress=False)
    assert first == second == tmp_path / "sub" / "a.bin" and first.read_bytes() == data
    assert len(files.log) == 1  # the second call used the cache
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")
    other = hub.Asset("b.bin", "weights", "b.bin", 3, _sha(b"xyz"), f"{url}/b.bin")
    with pytest.raises(OfflineError, match=r"put it at .*b\.bin"):
        hub.fetch(other, root=tmp_path)


def test_cache_dir_follows_torch_hub(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("ADAIN_LESSON_HOME", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "th"))
    assert hub.cache_dir() == tmp_path / "th" / "hub" / "adain_lesson"
    monkeypatch.setenv("ADAIN_LESSON_HOME", str(tmp_path / "mine"))
    assert hub.cache_dir() == tmp_path / "mine"


def test_load_pretrained_auto_downloads_the_released_files(file_server, tmp_path: Path, monkeypatch) -> None:
    """End to end: 'auto' fetches both weight files by their manifest entries and loads them strictly."""
    from adain_lesson.decoder import make_decoder
    from adain_lesson.model import load_pretrained
    from adain_lesson.vgg import make_vgg

    url, files = file_server
    assets = {}
    for name, module in (("vgg_normalised.pth", make_vgg()), ("decoder.pth", make_decoder())):
        buf = io.BytesIO()
        torch.save(module.state_dict(), buf)
        files.files[f"/{name}"] = data = buf.getvalue()
        assets[name] = hub.Asset(name, "weights", name, len(data), _sha(data), f"{url}/{name}")
    monkeypatch.setattr(hub, "manifest", lambda kind=None: assets)
    monkeypatch.setenv("ADAIN_LESSON_HOME", str(tmp_path))
    model = load_pretrained("auto", "cpu", progress=False)
    assert not model.random_weights
    assert (tmp_path / "decoder.pth").is_file() and (tmp_path / "vgg_normalised.pth").is_file()


def test_manifest_pins_the_release_and_the_shared_images(shared_repo: Path, tmp_path: Path) -> None:
    assets = hub.manifest()
    assert assets["decoder.pth"].size == 14_023_458
    assert assets["decoder.pth"].sha256 == "379ca41d59f3a37eed3599bbbc2560c19da5c458870a5ffd3a9dd41aa88f9472"
    assert assets["vgg_normalised.pth"].size == 80_102_481
    assert assets["vgg_normalised.pth"].sha256 == "804ca2835ecf7539f0cd2a7ac3c18ce81e6f8468969ae7117ac0c148d286bb4a"
    with open(shared_repo / "MANIFEST.tsv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    by_path = {a.path: a for a in assets.values()}
    for row in rows:
        a = by_path[f"adain-style-repo/{row['path']}"]
        assert (a.size, a.sha256, a.url) == (int(row["bytes"]), row["sha256"], row["url"])
    # a local mirror laid out like the cache is verified and copied, without the network
    got = hub.fetch("chicago.jpg", root=tmp_path, mirror=shared_repo.parent)
    assert hub.sha256_file(got) == assets["chicago.jpg"].sha256


# ---------------------------------------------------------------------------------------------------
# A user's mistakes: one-line errors, nothing half-written
# ---------------------------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert "\n" not in text and text
    return text


def _served(files, url: str, name: str = "a.bin", data: bytes = b"abc" * 999) -> hub.Asset:
    files.files[f"/{name}"] = data
    return hub.Asset(name, "weights", f"sub/{name}", len(data), _sha(data), f"{url}/{name}")


@pytest.mark.parametrize("where", ["a regular file", "/proc"])
def test_unwritable_cache_is_a_user_error(where: str, file_server, tmp_path: Path, monkeypatch) -> None:
    url, files = file_server
    if where == "/proc":
        if not Path("/proc/self").is_dir():
            pytest.skip("no /proc on this system")
        home = Path("/proc/adain_lesson_nope")
    else:
        home = tmp_path / "a-file"
        home.write_text("not a folder")
    monkeypatch.setenv("ADAIN_LESSON_HOME", str(home))
    with pytest.raises(UserError) as info:
        hub.fetch(_served(files, url), progress=False)
    text = _one_line(info.value)
    assert "cannot write to" in text and str(home) in text and "ADAIN_LESSON_HOME" in text
    assert not isinstance(info.value, DownloadError) and files.log == []
    with pytest.raises(UserError, match="cannot write to .*choose a writable folder"):
        hub.download(f"{url}/a.bin", home / "x" / "a.bin", progress=False)


@pytest.mark.parametrize("bad", ["foo", "ftp://example.org/x.zip", "file:///etc/passwd", "http://[oops/x.zip"])
def test_an_address_that_is_not_http_is_a_user_error(bad: str, tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"is not an http\(s\) URL") as info:
        hub.download(bad, tmp_path / "x.zip", progress=False)
    assert repr(bad) in _one_line(info.value)
    with pytest.raises(UserError, match=r"is not an http\(s\) URL"):
        hub.RemoteFile(bad)
    assert list(tmp_path.iterdir()) == []


def test_offline_mode_stops_download_and_remote_reads(file_server, tmp_path: Path, monkeypatch) -> None:
    url, files = file_server
    files.files["/w.pth"] = b"w" * 100
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")
    with pytest.raises(OfflineError, match=r"ADAIN_LESSON_OFFLINE=1 .*put it at .*w\.pth"):
        hub.download(f"{url}/w.pth", tmp_path / "w.pth", progress=False)
    with pytest.raises(OfflineError, match="ADAIN_LESSON_OFFLINE=1"):
        hub.RemoteFile(f"{url}/w.pth")
    assert files.log == [] and list(tmp_path.iterdir()) == []


def test_a_cached_file_of_the_wrong_size_is_never_deleted_silently(file_server, tmp_path: Path, monkeypatch,
                                                                   capsys) -> None:
    url, files = file_server
    asset = _served(files, url)
    dest = tmp_path / asset.path
    dest.parent.mkdir()
    dest.write_bytes(b"hand-placed")
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")
    with pytest.raises(DownloadError) as info:
        hub.fetch(asset, root=tmp_path, progress=False)
    text = _one_line(info.value)
    assert f"{dest} has size 11 bytes, expected {asset.size:,}: replace it with the file from {asset.url}" in text
    assert dest.read_bytes() == b"hand-placed" and files.log == []  # kept, and no network
    monkeypatch.delenv("ADAIN_LESSON_OFFLINE")
    assert hub.fetch(asset, root=tmp_path, progress=False) == dest
    assert "note:" in capsys.readouterr().err and dest.read_bytes() == files.files["/a.bin"]


def test_a_hand_placed_file_is_hash_checked_once(file_server, tmp_path: Path, monkeypatch, capsys) -> None:
    url, files = file_server
    asset = _served(files, url)
    dest = tmp_path / asset.path
    dest.parent.mkdir()
    dest.write_bytes(b"x" * asset.size)  # the right size, the wrong bytes
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")
    with pytest.raises(DownloadError, match=f"{dest} has SHA-256 .*: replace it with the file from"):
        hub.fetch(asset, root=tmp_path, progress=False)
    monkeypatch.delenv("ADAIN_LESSON_OFFLINE")
    assert hub.fetch(asset, root=tmp_path, progress=False).read_bytes() == files.files["/a.bin"]
    assert "replacing it" in capsys.readouterr().err and len(files.log) == 1
    # the right file placed by hand: hashed once, then trusted while its size and time are unchanged
    other = _served(files, url, "b.bin", b"good" * 500)
    placed = tmp_path / other.path
    placed.write_bytes(b"good" * 500)
    assert hub.fetch(other, root=tmp_path, progress=False) == placed and len(files.log) == 1
    monkeypatch.setattr(hub, "sha256_file", lambda path: pytest.fail("hashed a file already verified"))
    assert hub.fetch(other, root=tmp_path, progress=False) == placed
    monkeypatch.undo()
    placed.write_bytes(b"evil" * 500)  # replaced by hand later: checked again
    os.utime(placed, ns=(placed.stat().st_atime_ns, placed.stat().st_mtime_ns + 10**9))
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")
    with pytest.raises(DownloadError, match="SHA-256"):
        hub.fetch(other, root=tmp_path, progress=False)


def test_mirror_that_does_not_exist_or_fails_half_way(file_server, tmp_path: Path, monkeypatch) -> None:
    url, files = file_server
    asset = _served(files, url)
    with pytest.raises(UserError, match=r"mirror folder .*nowhere does not exist"):
        hub.fetch(asset, root=tmp_path / "cache", mirror=tmp_path / "nowhere", progress=False)
    assert files.log == []
    mirror = tmp_path / "usb"
    (mirror / "sub").mkdir(parents=True)
    (mirror / asset.path).write_bytes(files.files["/a.bin"])

    def full_disk(fd: int, block: bytes) -> None:
        os.write(fd, block[:4])  # half-way through the copy
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(hub, "_write_all", full_disk)
    with pytest.raises(UserError, match="No space left on device") as info:
        hub.fetch(asset, root=tmp_path / "cache", mirror=mirror, progress=False)
    _one_line(info.value)
    assert [p.name for p in (tmp_path / "cache").rglob("*") if p.is_file()] == []  # no temp file left behind
    monkeypatch.undo()
    got = hub.fetch(asset, root=tmp_path / "cache", mirror=mirror, progress=False)
    assert got.read_bytes() == files.files["/a.bin"] and files.log == []


# ---------------------------------------------------------------------------------------------------
# ADAIN_LESSON_MANIFEST: a test or a mirror replaces the manifest; the check stays
# ---------------------------------------------------------------------------------------------------


def _write_manifest(path: Path, rows: list[hub.Asset], header: str = "name\tkind\tpath\tbytes\tsha256\turl") -> Path:
    lines = ["# a manifest override", header]
    lines += [f"{a.name}\t{a.kind}\t{a.path}\t{a.size}\t{a.sha256}\t{a.url}" for a in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_manifest_override_is_used_and_still_verified(file_server, tmp_path: Path, monkeypatch) -> None:
    url, files = file_server
    stand_in = b"stand-in decoder" * 500
    files.files["/decoder.pth"] = stand_in
    good = hub.Asset("decoder.pth", "weights", "decoder.pth", len(stand_in), _sha(stand_in), f"{url}/decoder.pth")
    monkeypatch.setenv(hub.MANIFEST_ENV, str(_write_manifest(tmp_path / "good.tsv", [good])))
    assert hub.manifest() == {"decoder.pth": good}
    got = hub.fetch("decoder.pth", root=tmp_path / "cache", progress=False)
    assert got.read_bytes() == stand_in

    # an override row whose hash the served bytes do not match is refused: nothing lands in the cache
    wrong = hub.Asset("decoder.pth", "weights", "decoder.pth", len(stand_in), _sha(b"other"), good.url)
    monkeypatch.setenv(hub.MANIFEST_ENV, str(_write_manifest(tmp_path / "wrong.tsv", [wrong])))
    with pytest.raises(DownloadError, match="SHA-256"):
        hub.fetch("decoder.pth", root=tmp_path / "cache2", progress=False)
    assert not (tmp_path / "cache2" / "decoder.pth").exists()


def test_without_the_override_the_pinned_hashes_apply(file_server, tmp_path: Path, monkeypatch) -> None:
    """A cache filled under an override (stand-in bytes, marked as verified) is not trusted once the
    variable is gone: the pinned SHA-256 of the shipped manifest is checked again, and fails."""
    url, files = file_server
    stand_in = b"not the released decoder" * 100
    files.files["/decoder.pth"] = stand_in
    row = hub.Asset("decoder.pth", "weights", "decoder.pth", len(stand_in), _sha(stand_in), f"{url}/decoder.pth")
    monkeypatch.setenv(hub.MANIFEST_ENV, str(_write_manifest(tmp_path / "m.tsv", [row])))
    cache = tmp_path / "cache"
    hub.fetch("decoder.pth", root=cache, progress=False)
    assert (cache / "decoder.pth.sha256-ok").is_file()

    monkeypatch.delenv(hub.MANIFEST_ENV)
    pinned = hub.manifest()["decoder.pth"]
    assert pinned.sha256 == "379ca41d59f3a37eed3599bbbc2560c19da5c458870a5ffd3a9dd41aa88f9472"
    assert pinned.url.startswith("https://github.com/naoto0804/")
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")
    with pytest.raises(DownloadError, match="expected 14,023,458"):
        hub.fetch("decoder.pth", root=cache, progress=False)


@pytest.mark.parametrize("problem, text, match", [
    ("no sha256", "decoder.pth\tweights\tdecoder.pth\t10\t\thttp://127.0.0.1/d", "lacks sha256"),
    ("short sha256", "decoder.pth\tweights\tdecoder.pth\t10\tabc123\thttp://127.0.0.1/d", "not 64 hex"),
    ("bad size", "decoder.pth\tweights\tdecoder.pth\tten\t" + "a" * 64 + "\thttp://127.0.0.1/d", "whole number"),
    ("not http", "decoder.pth\tweights\tdecoder.pth\t10\t" + "a" * 64 + "\tfile:///etc/passwd", "http"),
    ("too few columns", "decoder.pth\tweights\tdecoder.pth", "lacks"),
    ("twice", ("decoder.pth\tweights\tdecoder.pth\t10\t" + "a" * 64 + "\thttp://127.0.0.1/d\n") * 2, "twice"),
])
def test_a_malformed_override_is_a_one_line_error(problem: str, text: str, match: str, tmp_path: Path,
                                                  monkeypatch) -> None:
    path = tmp_path / "m.tsv"
    path.write_text("name\tkind\tpath\tbytes\tsha256\turl\n" + text + "\n", encoding="utf-8")
    monkeypatch.setenv(hub.MANIFEST_ENV, str(path))
    with pytest.raises(UserError, match=match) as err:
        hub.fetch("decoder.pth", root=tmp_path / "c", progress=False)
    assert str(path) in _one_line(err.value)


def test_a_missing_or_headerless_override_is_a_one_line_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(hub.MANIFEST_ENV, str(tmp_path / "nowhere.tsv"))
    with pytest.raises(UserError, match="ADAIN_LESSON_MANIFEST=.*cannot be read") as err:
        hub.manifest()
    _one_line(err.value)
    path = tmp_path / "noheader.tsv"
    path.write_text("decoder.pth\tweights\tdecoder.pth\t10\t" + "a" * 64 + "\thttp://x/d\n", encoding="utf-8")
    monkeypatch.setenv(hub.MANIFEST_ENV, str(path))
    with pytest.raises(UserError, match="header") as err:
        hub.manifest()
    _one_line(err.value)


def test_torchvision_weights_go_to_the_package_cache_and_respect_offline(file_server, tmp_path: Path,
                                                                        monkeypatch) -> None:
    """Issue 17 (iv): notebook 04's torchvision VGG is kept in ADAIN_LESSON_HOME (a Colab Drive cache keeps
    it), checked against the hash prefix in its name, and never downloaded with ADAIN_LESSON_OFFLINE=1."""
    url, files = file_server
    buf = io.BytesIO()
    torch.save({"features.0.weight": torch.ones(2, 3, 3, 3)}, buf)
    blob = buf.getvalue()
    name = f"vgg19-{_sha(blob)[:8]}.pth"
    files.files[f"/{name}"] = blob
    files.files["/vgg19-00000000.pth"] = blob  # the name promises another hash
    monkeypatch.setenv("ADAIN_LESSON_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")
    with pytest.raises(OfflineError, match="ADAIN_LESSON_OFFLINE=1"):
        hub.torchvision_weights(f"{url}/{name}", progress=False)
    assert not (tmp_path / "home" / "torchvision").exists() or not any((tmp_path / "home" / "torchvision").iterdir())
    monkeypatch.delenv("ADAIN_LESSON_OFFLINE")
    with pytest.raises(DownloadError, match="prefix"):
        hub.torchvision_weights(f"{url}/vgg19-00000000.pth", progress=False)
    assert not (tmp_path / "home" / "torchvision" / "vgg19-00000000.pth").exists()
    state = hub.torchvision_weights(f"{url}/{name}", progress=False)
    assert torch.equal(state["features.0.weight"], torch.ones(2, 3, 3, 3))
    assert (tmp_path / "home" / "torchvision" / name).read_bytes() == blob
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")  # cached: no network needed any more
    assert torch.equal(hub.torchvision_weights(f"{url}/{name}")["features.0.weight"], state["features.0.weight"])
