"""adain_lesson.data: folder datasets, the paper's crops, the sharded infinite sampler, safe downloads.

Downloads are tested only against a local HTTP server on 127.0.0.1 serving archives the test makes.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from adain_lesson import data
from adain_lesson.errors import DownloadError, OfflineError, UserError


def _png(w: int, h: int, seed: int = 0) -> bytes:
    g = torch.Generator().manual_seed(seed)
    arr = torch.randint(0, 256, (h, w, 3), generator=g, dtype=torch.uint8)
    buf = io.BytesIO()
    Image.frombytes("RGB", (w, h), arr.numpy().tobytes()).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "imgs"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "a.png").write_bytes(_png(48, 32, 1))
    (root / "sub" / "B.PNG").write_bytes(_png(40, 60, 2))  # upper-case extension, in a sub-folder
    (root / "sub" / "deeper" / "c.Jpg").write_bytes(_png(64, 64, 3))  # PNG bytes, JPEG name: PIL sniffs content
    (root / "sub" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "notes.txt").write_text("not an image")
    return root


# ---------------------------------------------------------------------------------------------------
# Dataset and transform
# ---------------------------------------------------------------------------------------------------


def test_folder_is_recursive_and_case_insensitive(folder: Path) -> None:
    ds = data.ImageFolder(folder, data.PaperTransform(32, 16))
    names = sorted(p.name for p in ds.files)
    assert names == ["B.PNG", "a.png", "broken.png", "c.Jpg"]


def test_unreadable_files_are_skipped_and_counted(folder: Path, capsys: pytest.CaptureFixture) -> None:
    ds = data.ImageFolder(folder, data.PaperTransform(32, 16))
    broken = [i for i, p in enumerate(ds.files) if p.name == "broken.png"][0]
    img, skipped = ds.load(broken, seed=0)
    assert skipped == 1 and img.shape == (3, 16, 16)
    assert "broken.png" in capsys.readouterr().err
    # every item of the dataset still yields an image
    assert all(ds[i].shape == (3, 16, 16) for i in range(len(ds)))


def test_only_unreadable_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").write_bytes(b"junk")
    ds = data.ImageFolder(tmp_path, data.PaperTransform(32, 16))
    with pytest.raises(UserError, match="could be read"):
        ds[0]


def test_a_file_given_as_the_folder_is_named_as_such(tmp_path: Path) -> None:
    (tmp_path / "one.jpg").write_bytes(_png(8, 8))
    with pytest.raises(UserError, match="is a file, not a folder"):
        data.ImageFolder(tmp_path / "one.jpg", what="content")


def test_empty_or_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="holds no images"):
        data.ImageFolder(tmp_path)
    with pytest.raises(UserError, match="not found"):
        data.ImageFolder(tmp_path / "nope")


def test_paper_transform_keeps_aspect_then_crops() -> None:
    im = Image.frombytes("RGB", (100, 50), bytes(100 * 50 * 3))
    tf = data.PaperTransform(64, 32)
    assert tf.resize(im).size == (128, 64)  # shorter side 64, aspect 2:1 kept
    assert data.PaperTransform(64, 32, squash=True).resize(im).size == (64, 64)  # the port's squash
    assert tf(im, torch.Generator().manual_seed(0)).shape == (3, 32, 32)
    with pytest.raises(UserError, match="smaller than the crop"):
        data.PaperTransform(16, 32)


def test_crops_follow_the_seed() -> None:
    im = Image.open(io.BytesIO(_png(120, 90, 5))).convert("RGB")
    tf = data.PaperTransform(90, 32)
    a = tf(im, torch.Generator().manual_seed(1))
    b = tf(im, torch.Generator().manual_seed(1))
    crops = {tuple(tf(im, torch.Generator().manual_seed(s)).flatten()[:20].tolist()) for s in range(6)}
    assert torch.equal(a, b)
    assert len(crops) > 1  # different seeds, different crops


# ---------------------------------------------------------------------------------------------------
# Sampler
# ---------------------------------------------------------------------------------------------------


def _take(it: Iterator, n: int) -> list:
    return list(itertools.islice(it, n))


def test_sampler_shards_are_disjoint_and_cover_each_epoch() -> None:
    n, world = 11, 3
    shards = [data.InfiniteSampler(n, seed=4, rank=r, world_size=world) for r in range(world)]
    epoch0 = [[i for i, _ in _take(iter(s), s.shard_len)] for s in shards]
    flat = [i for shard in epoch0 for i in shard]
    assert sorted(flat) == list(range(n))  # disjoint and complete
    # the next epoch is a different shuffle
    epoch1 = [i for i, _ in _take(iter(shards[0]), 2 * shards[0].shard_len)][shards[0].shard_len :]
    assert sorted(epoch1) != epoch1 or epoch1 != epoch0[0]


def test_sampler_start_skips_exactly() -> None:
    full = _take(iter(data.InfiniteSampler(7, seed=2, rank=1, world_size=2)), 25)
    tail = _take(iter(data.InfiniteSampler(7, seed=2, rank=1, world_size=2, start=10)), 15)
    assert tail == full[10:]
    assert len({s for _, s in full}) == 25  # every sample gets its own crop seed


def test_loader_stream_does_not_depend_on_workers(folder: Path) -> None:
    ds = data.ImageFolder(folder, data.PaperTransform(32, 16))

    def batches(workers: int) -> list[torch.Tensor]:
        loader = DataLoader(data.CountingView(ds), batch_size=2, num_workers=workers,
                            sampler=data.InfiniteSampler(len(ds), seed=3))
        it = iter(loader)
        return [next(it)[0] for _ in range(4)]

    for a, b in zip(batches(0), batches(2)):
        assert torch.equal(a, b)


# ---------------------------------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return path


def test_extract_zip_with_max_images(tmp_path: Path) -> None:
    members = {f"val/img_{i}.jpg": _png(20, 20, i) for i in range(5)}
    members["val/labels.json"] = b"{}"
    members["__MACOSX/val/._img_0.jpg"] = b"resource fork"  # macOS metadata: not an image
    archive = _zip(tmp_path / "a.zip", members)
    out = data.extract_archive(archive, tmp_path / "out", max_images=3, progress=False)
    assert [p.name for p in out] == ["img_0.jpg", "img_1.jpg", "img_2.jpg"]
    assert sorted(p.name for p in (tmp_path / "out" / "val").iterdir()) == ["img_0.jpg", "img_1.jpg", "img_2.jpg"]
    assert (tmp_path / "out" / "val" / "img_1.jpg").read_bytes() == members["val/img_1.jpg"]


@pytest.mark.parametrize("evil", ["../evil.jpg", "ok/../../evil.jpg", "/tmp/adain_evil_abs.jpg", "C:/evil.jpg"])
def test_zip_path_traversal_is_refused_before_writing(tmp_path: Path, evil: str) -> None:
    archive = _zip(tmp_path / "evil.zip", {"good/a.jpg": _png(8, 8), evil: _png(8, 8)})
    dest = tmp_path / "deep" / "out"
    with pytest.raises(UserError, match="unsafe path"):
        data.extract_archive(archive, dest, progress=False)
    assert not (tmp_path / "deep" / "evil.jpg").exists() and not (tmp_path / "evil.jpg").exists()
    assert not Path("/tmp/adain_evil_abs.jpg").exists()
    assert list(dest.rglob("*")) == []  # nothing at all was written


def test_tar_traversal_and_links_are_refused(tmp_path: Path) -> None:
    def tar(name: str, build) -> Path:
        path = tmp_path / name
        with tarfile.open(path, "w:gz") as tf:
            build(tf)
        return path

    def add(tf: tarfile.TarFile, name: str, payload: bytes = b"x") -> None:
        info = tarfile.TarInfo(name)
        info.size = len(payload)
        tf.addfile(info, io.BytesIO(payload))

    def link(tf: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("imgs/link.jpg")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tf.addfile(info)

    bad = tar("dots.tgz", lambda tf: add(tf, "../../outside.jpg"))
    with pytest.raises(UserError, match="unsafe path"):
        data.extract_archive(bad, tmp_path / "o1", progress=False)
    assert not (tmp_path / "outside.jpg").exists()
    with pytest.raises(UserError, match="link"):
        data.extract_archive(tar("link.tgz", link), tmp_path / "o2", progress=False)
    assert not (tmp_path / "o2" / "imgs" / "link.jpg").exists()
    good = tar("good.tgz", lambda tf: [add(tf, f"imgs/{i}.png", _png(8, 8, i)) for i in range(3)])
    assert len(data.extract_archive(good, tmp_path / "o3", progress=False)) == 3


# ---------------------------------------------------------------------------------------------------
# Downloads from a local server
# ---------------------------------------------------------------------------------------------------


def _source(url: str, blob: bytes, sha: str | None = None) -> data.DataSource:
    return data.DataSource("tiny", url, "tiny.zip", len(blob), sha or hashlib.sha256(blob).hexdigest(), 6, "test")


def test_download_dataset_resumes_verifies_and_subsets(tmp_path: Path, file_server) -> None:
    base, handler = file_server
    archive = _zip(tmp_path / "src.zip", {f"imgs/{i:02d}.png": _png(16, 16, i) for i in range(6)})
    blob = archive.read_bytes()
    handler.files["/tiny.zip"] = blob
    root = tmp_path / "data"
    part = root / "archives" / "tiny.zip.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(blob[:100])  # a download cut off earlier
    folder = data.download_dataset(_source(base + "/tiny.zip", blob), root, max_images=4, progress=False)
    assert [rng for _, rng in handler.log] == ["bytes=100-"]  # resumed, not restarted
    assert (root / "archives" / "tiny.zip").read_bytes() == blob
    assert len(data.ImageFolder(folder)) == 4


def test_download_with_wrong_checksum_keeps_nothing(tmp_path: Path, file_server) -> None:
    base, handler = file_server
    blob = _zip(tmp_path / "src.zip", {"a.png": _png(8, 8)}).read_bytes()
    handler.files["/tiny.zip"] = blob
    with pytest.raises(DownloadError, match="SHA-256"):
        data.download_dataset(_source(base + "/tiny.zip", blob, sha="0" * 64), tmp_path / "d", progress=False)
    assert list((tmp_path / "d" / "archives").iterdir()) == []
    assert not (tmp_path / "d" / "tiny").exists()


def _big_zip(tmp_path: Path) -> tuple[bytes, dict[str, bytes]]:
    """Eight small images around an 8 MB non-image member: a subset should not need the 8 MB."""
    imgs = {f"imgs/{i:02d}.png": _png(24, 24, 10 + i) for i in range(8)}
    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for name in list(imgs)[:4]:
            zf.writestr(name, imgs[name])
        zf.writestr("annotations/big.json", torch.randint(0, 256, (8 << 20,), dtype=torch.uint8).numpy().tobytes())
        for name in list(imgs)[4:]:
            zf.writestr(name, imgs[name])
    return path.read_bytes(), imgs


def test_subset_is_read_from_the_server_without_the_archive(tmp_path: Path, file_server) -> None:
    base, handler = file_server
    blob, imgs = _big_zip(tmp_path)
    handler.files["/big.zip"] = blob
    root = tmp_path / "d"
    folder = data.download_dataset(_source(base + "/big.zip", blob), root, max_images=5, progress=False)
    got = sorted(folder.rglob("*.png"))
    assert [p.name for p in got] == ["00.png", "01.png", "02.png", "03.png", "04.png"]
    assert all(p.read_bytes() == imgs[f"imgs/{p.name}"] for p in got)
    assert not (root / "archives").exists()  # no archive was downloaded
    assert sum(handler.sent) < len(blob) / 3, (sum(handler.sent), len(blob))
    assert all(rng and "-" in rng and not rng.endswith("-") for _, rng in handler.log)  # bounded ranges only
    # run again: the images are there, so only the probe and the zip's end records are read
    before = len(handler.log)
    data.download_dataset(_source(base + "/big.zip", blob), root, max_images=5, progress=False)
    assert len(handler.log) - before == 2
    assert not list(root.rglob("*.part"))


def test_subset_from_a_server_without_ranges_downloads_the_archive(tmp_path: Path, file_server, capsys) -> None:
    base, handler = file_server
    blob, imgs = _big_zip(tmp_path)
    handler.files["/big.zip"], handler.ranges = blob, False
    folder = data.download_dataset(_source(base + "/big.zip", blob), tmp_path / "d", max_images=2, progress=False)
    assert "downloading all of it" in capsys.readouterr().err
    assert (tmp_path / "d" / "archives" / "tiny.zip").read_bytes() == blob  # checked against its SHA-256
    assert sorted(p.name for p in folder.rglob("*.png")) == ["00.png", "01.png"]


def test_subset_with_corrupt_member_or_wrong_size_keeps_no_bad_file(tmp_path: Path, file_server) -> None:
    base, handler = file_server
    blob, imgs = _big_zip(tmp_path)
    at = blob.index(imgs["imgs/01.png"]) + len(imgs["imgs/01.png"]) // 2
    handler.files["/big.zip"] = blob[:at] + bytes([blob[at] ^ 0xFF]) + blob[at + 1:]
    root = tmp_path / "d"
    with pytest.raises(DownloadError, match="CRC"):
        data.download_dataset(_source(base + "/big.zip", blob), root, max_images=3, progress=False)
    assert sorted(p.name for p in root.rglob("*") if p.is_file()) == ["00.png"]  # no bad file, no .part
    handler.files["/other.zip"] = blob + b"more"
    with pytest.raises(DownloadError, match="expected"):
        data.download_dataset(_source(base + "/other.zip", blob), tmp_path / "e", max_images=3, progress=False)
    assert not list((tmp_path / "e").rglob("*.png"))


def test_unknown_dataset_and_missing_archive(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown dataset"):
        data.download_dataset("imagenet", tmp_path)
    with pytest.raises(UserError, match="does not exist"):
        data.download_dataset("wikiart", tmp_path, archive=tmp_path / "train.zip")
    assert data.SOURCES["coco-val2017"].size == 815_585_330


# ---------------------------------------------------------------------------------------------------
# A user's mistakes and damaged archives: one-line errors, nothing half-written
# ---------------------------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text
    return text


def _damaged_zip(path: Path, good: dict[str, bytes], bad_name: str) -> Path:
    """A zip whose member ``bad_name`` (deflated, after the ``good`` ones) has its compressed data damaged."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, payload in good.items():
            zf.writestr(name, payload)
        zf.writestr(bad_name, bytes(range(256)) * 40 + b"abc" * 20000)
    blob = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        off = zf.getinfo(bad_name).header_offset
    name_len, extra_len = (int.from_bytes(blob[i:i + 2], "little") for i in (off + 26, off + 28))
    start = off + 30 + name_len + extra_len
    blob[start] ^= 0xFF  # the first byte of the deflate stream: zlib.error, not a CRC mismatch
    path.write_bytes(bytes(blob))
    return path


def test_corrupt_archives_are_a_user_error_and_leave_nothing_half_done(tmp_path: Path) -> None:
    bad_zip = _damaged_zip(tmp_path / "bad.zip", {}, "imgs/1.png")
    with pytest.raises(UserError, match=r"archive bad\.zip is corrupt .*download it again") as info:
        data.extract_archive(bad_zip, tmp_path / "o1", progress=False)
    _one_line(info.value)
    assert not (tmp_path / "o1").exists()  # no empty destination left behind

    good = _png(8, 8, 1)
    half = _damaged_zip(tmp_path / "half.zip", {"imgs/0.png": good}, "imgs/1.png")
    with pytest.raises(UserError, match="is corrupt"):
        data.extract_archive(half, tmp_path / "o2", progress=False)
    files = sorted(p for p in (tmp_path / "o2").rglob("*") if p.is_file())
    assert [p.name for p in files] == ["0.png"] and files[0].read_bytes() == good  # no partial member, no .part

    tgz = tmp_path / "cut.tgz"
    with tarfile.open(tgz, "w:gz") as tf:
        for i in range(3):
            payload = torch.randint(0, 256, (30_000,), generator=torch.Generator().manual_seed(i),
                                    dtype=torch.uint8).numpy().tobytes()
            member = tarfile.TarInfo(f"imgs/{i}.png")
            member.size = len(payload)
            tf.addfile(member, io.BytesIO(payload))
    tgz.write_bytes(tgz.read_bytes()[: tgz.stat().st_size * 2 // 3])  # a download cut off
    with pytest.raises(UserError, match=r"archive cut\.tgz is corrupt .*download it again") as info:
        data.extract_archive(tgz, tmp_path / "o3", progress=False)
    _one_line(info.value)
    assert not (tmp_path / "o3").exists()


def test_unwritable_destinations_are_a_user_error(tmp_path: Path, file_server, monkeypatch) -> None:
    base, handler = file_server
    blob = _zip(tmp_path / "src.zip", {"imgs/a.png": _png(8, 8)}).read_bytes()
    handler.files["/tiny.zip"] = blob
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    with pytest.raises(UserError, match=r"cannot write to .*a-file is a file, not a folder; choose another data"):
        data.download_dataset(_source(base + "/tiny.zip", blob), a_file / "data", progress=False)
    with pytest.raises(UserError, match="cannot write to"):
        data.extract_archive(tmp_path / "src.zip", a_file / "out", progress=False)
    if Path("/proc/sys").is_dir():  # Linux: a folder that exists but cannot hold new folders
        with pytest.raises(UserError, match=r"cannot write to /proc/sys/archives: .*data folder \(root\)") as info:
            data.download_dataset(_source(base + "/tiny.zip", blob), "/proc/sys", progress=False)
        _one_line(info.value)
    assert handler.log == []
    if Path("/dev/full").exists():  # a full disk while writing a member
        def on_full_disk(path, mode="r", *args, **kw):  # noqa: ANN001, ANN002, ANN003 - open's signature
            if mode == "xb":  # the member's temporary file: every write fails as on a full disk
                return open("/dev/full", "wb")  # noqa: SIM115
            return open(path, mode, *args, **kw)  # noqa: SIM115

        monkeypatch.setattr(data, "open", on_full_disk, raising=False)
        with pytest.raises(UserError, match="cannot write to .*a.png: No space left on device") as info:
            data.extract_archive(tmp_path / "src.zip", tmp_path / "full", progress=False)
        assert "corrupt" not in _one_line(info.value)
        assert [p for p in (tmp_path / "full").rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("n", [0, -3])
def test_max_images_below_one_is_refused(n: int, tmp_path: Path, file_server) -> None:
    base, handler = file_server
    archive = _zip(tmp_path / "a.zip", {f"imgs/{i}.png": _png(8, 8, i) for i in range(5)})
    handler.files["/tiny.zip"] = blob = archive.read_bytes()
    with pytest.raises(UserError, match=f"at least 1.*got {n}"):
        data.extract_archive(archive, tmp_path / "o", max_images=n, progress=False)
    with pytest.raises(UserError, match="at least 1"):
        data.extract_remote_zip(base + "/tiny.zip", tmp_path / "o", max_images=n, progress=False)
    with pytest.raises(UserError, match="at least 1"):
        data.download_dataset(_source(base + "/tiny.zip", blob), tmp_path / "d", max_images=n, progress=False)
    assert handler.log == [] and not (tmp_path / "o").exists()


def test_a_mirror_url_is_checked_like_the_original(tmp_path: Path, file_server) -> None:
    base, handler = file_server
    blob = _zip(tmp_path / "src.zip", {f"imgs/{i}.png": _png(8, 8, i) for i in range(3)}).read_bytes()
    other = _zip(tmp_path / "other.zip", {f"imgs/{i}.png": _png(8, 8, 9 - i) for i in range(3)}).read_bytes()
    assert len(other) == len(blob) and other != blob
    handler.files["/mirror/tiny.zip"] = other  # the same size, other bytes
    source = _source(base + "/tiny.zip", blob)
    with pytest.raises(DownloadError, match="SHA-256"):
        data.download_dataset(source, tmp_path / "d", url=base + "/mirror/tiny.zip", progress=False)
    assert not (tmp_path / "d" / "tiny").exists()
    handler.files["/mirror/long.zip"] = other + b"x"  # a subset read from a mirror checks the size
    with pytest.raises(DownloadError, match="expected"):
        data.download_dataset(source, tmp_path / "e", url=base + "/mirror/long.zip", max_images=2, progress=False)
    assert not list((tmp_path / "e").rglob("*.png"))
    handler.files["/mirror/good.zip"] = blob
    folder = data.download_dataset(source, tmp_path / "f", url=base + "/mirror/good.zip", progress=False)
    assert len(data.ImageFolder(folder)) == 3


def test_offline_mode_and_bad_addresses(tmp_path: Path, file_server, monkeypatch) -> None:
    base, handler = file_server
    blob = _zip(tmp_path / "src.zip", {"imgs/a.png": _png(8, 8)}).read_bytes()
    handler.files["/tiny.zip"] = blob
    for bad in ("foo", "ftp://example.org/tiny.zip"):
        for n in (None, 2):
            with pytest.raises(UserError, match=rf"the address {bad!r} is not an http\(s\) URL"):
                data.download_dataset(_source(base + "/tiny.zip", blob), tmp_path / "d", url=bad, max_images=n,
                                      progress=False)
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")
    with pytest.raises(OfflineError, match=r"put it at .*archives/tiny\.zip") as info:
        data.download_dataset(_source(base + "/tiny.zip", blob), tmp_path / "d", max_images=1, progress=False)
    _one_line(info.value)
    assert handler.log == []


def test_a_hand_placed_archive_is_checked_before_extraction(tmp_path: Path, monkeypatch) -> None:
    """Issue 17 (ii): the offline message says to put the archive in root/archives by hand; a short or
    different file there (or given as ``archive``) is refused before anything is extracted."""
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")
    good = _zip(tmp_path / "src.zip", {f"imgs/{i:02d}.png": _png(16, 16, i) for i in range(6)}).read_bytes()
    source = _source("http://127.0.0.1:9/tiny.zip", good)
    short = _zip(tmp_path / "short.zip", {"imgs/00.png": _png(16, 16, 0)})
    root = tmp_path / "data"
    (root / "archives").mkdir(parents=True)
    (root / "archives" / "tiny.zip").write_bytes(short.read_bytes())
    with pytest.raises(DownloadError, match="expected .* not the complete tiny.zip") as err:
        data.download_dataset(source, root, progress=False)
    assert "\n" not in str(err.value)
    assert not (root / "tiny").exists() and (root / "archives" / "tiny.zip").is_file()  # nothing extracted or lost
    with pytest.raises(DownloadError, match="size"):
        data.download_dataset(source, tmp_path / "d2", archive=short, progress=False)
    same_size = bytearray(good)
    same_size[-30] ^= 0xFF  # same size, other bytes: the SHA-256 catches it
    (root / "archives" / "tiny.zip").write_bytes(bytes(same_size))
    with pytest.raises(DownloadError, match="SHA-256"):
        data.download_dataset(source, root, progress=False)
    (root / "archives" / "tiny.zip").write_bytes(good)
    folder = data.download_dataset(source, root, progress=False)
    assert len(data.ImageFolder(folder)) == 6
