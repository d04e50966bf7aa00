"""Downloads against a local HTTP server on 127.0.0.1: good, wrong hash, truncated (then resumed),
server down, offline mode, the cache, a local mirror, and the pinned manifest."""

from __future__ import annotations

import csv
import hashlib
import io
import socket
from pathlib import Path

import pytest
import torch

from adain_lesson import hub
from adain_lesson.errors import DownloadError, OfflineError


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
    with pytest.raises(DownloadError, match="size"):
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
