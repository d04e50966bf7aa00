"""Image loading: EXIF, modes, resizing, every bad input as a clear error, and atomic saving."""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
import torch
from PIL import Image

from adain_lesson import images
from adain_lesson.errors import UserError


def _png_bytes(im: Image.Image) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


def test_exif_orientation_is_honoured(tmp_path: Path) -> None:
    im = Image.new("RGB", (40, 20), (255, 0, 0))
    im.paste((0, 0, 255), (20, 0, 40, 20))  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    im.save(path, exif=exif, quality=100)
    t = images.load_image(path)
    assert t.shape == (3, 40, 20)  # portrait after applying the orientation
    assert t[2, -5, 10] > 0.8 and t[0, 5, 10] > 0.8  # blue ends at the bottom, red at the top


@pytest.mark.parametrize("mode", ["L", "P", "CMYK", "1", "LA", "RGBA", "I;16", "I", "F"])
def test_modes_convert_to_rgb(mode: str) -> None:
    im = Image.new("RGB", (24, 20), (200, 100, 50)).convert(mode)
    t = images.load_image(im)
    assert t.shape == (3, 20, 24) and t.dtype == torch.float32
    assert 0.0 <= float(t.min()) and float(t.max()) <= 1.0


def test_transparency_is_composited_on_white() -> None:
    im = Image.new("RGBA", (20, 20), (255, 0, 0, 255))
    im.paste((0, 0, 0, 0), (0, 0, 10, 20))  # left half fully transparent
    t = images.load_image(_png_bytes(im))
    torch.testing.assert_close(t[:, 5, 2], torch.ones(3))
    torch.testing.assert_close(t[:, 5, 15], torch.tensor([1.0, 0.0, 0.0]))


def test_sixteen_bit_keeps_its_range(tmp_path: Path) -> None:
    im = Image.new("I;16", (20, 20))
    im.putpixel((3, 3), 65535)
    path = tmp_path / "deep.png"
    im.save(path)
    t = images.load_image(path)
    assert float(t[0, 3, 3]) == 1.0 and float(t[0, 0, 0]) == 0.0


def test_resize_by_shorter_side_and_crop() -> None:
    im = Image.new("RGB", (300, 200), (10, 20, 30))
    t = images.load_image(im, size=100)
    assert t.shape == (3, 100, 150)
    assert images.load_image(im, size=100, crop=True).shape == (3, 100, 100)
    assert images.load_image(im, size=0).shape == (3, 200, 300)  # 0 keeps the original size


def test_bytes_path_and_pil_agree(tmp_path: Path) -> None:
    im = Image.effect_noise((32, 24), 60).convert("RGB")
    path = tmp_path / "noise.png"
    im.save(path)
    a, b, c = images.load_image(path), images.load_image(path.read_bytes()), images.load_image(im)
    torch.testing.assert_close(a, b)
    torch.testing.assert_close(a, c)


def _huge_png_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\x00" * 64))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")


def test_bad_inputs_are_clear_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.jpg"
    Image.effect_noise((64, 64), 50).convert("RGB").save(good, quality=90)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.jpg").write_text("hello, I am not an image")
    (tmp_path / "truncated.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    Image.new("RGB", (10, 12)).save(tmp_path / "tiny.png")
    (tmp_path / "bomb.png").write_bytes(_huge_png_header(30000, 30000))
    cases = {
        "missing.jpg": "not found",
        "empty.jpg": "empty",
        "text.jpg": "not an image",
        "truncated.jpg": "truncated",
        "tiny.png": "too small",
        "bomb.png": "too large|pixels",
    }
    for name, pattern in cases.items():
        with pytest.raises(UserError, match=pattern) as info:
            images.load_image(tmp_path / name)
        assert "\n" not in str(info.value)
    with pytest.raises(UserError, match="folder"):
        images.load_image(tmp_path)
    with pytest.raises(UserError, match="empty"):
        images.load_image(b"")


def test_save_image_is_atomic_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    t = torch.rand(3, 20, 30)
    out = images.save_image(t, tmp_path / "sub" / "out.png")
    assert out.is_file() and sorted(p.name for p in out.parent.iterdir()) == ["out.png"]
    torch.testing.assert_close(images.load_image(out), t, atol=1 / 255, rtol=0)
    with pytest.raises(UserError, match="extension"):
        images.save_image(t, tmp_path / "out.xyz")
    assert not list(tmp_path.glob("*.xyz")) and not list(tmp_path.glob(".*part"))


def test_builtin_samples_and_masks() -> None:
    for name in images.SAMPLE_CONTENTS + images.SAMPLE_STYLES:
        t = images.sample_image(name, 32)
        assert t.shape[0] == 3 and min(t.shape[-2:]) == 32
        assert t.std() > 0.05, f"{name} should have visible structure"
    with pytest.raises(UserError, match="unknown sample"):
        images.sample_image("nope")
    left = images.split_mask("left", 10, 20)
    assert left[:, :10].min() == 1 and left[:, 10:].max() == 0
    soft = images.split_mask("ellipse", 32, 32, softness=0.2)
    assert 0 <= float(soft.min()) and float(soft.max()) <= 1
    assert float(((soft > 0.05) & (soft < 0.95)).float().mean()) > 0.05  # a soft border
    assert set(images.split_mask("ellipse", 32, 32).unique().tolist()) == {0.0, 1.0}


# ---- reviewer findings: damaged headers, resize limits, unwritable folders, mask shapes ----------


def _jpeg_bytes(w: int = 32, h: int = 32) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 200, 30)).save(buf, format="JPEG")
    return buf.getvalue()


def test_jpeg_truncated_inside_its_header_is_a_user_error(tmp_path: Path) -> None:
    data = _jpeg_bytes()
    half = data[: len(data) // 2]  # cut inside the header tables: PIL's Image.open itself fails
    path = tmp_path / "half.jpg"
    path.write_bytes(half)
    for src in (half, path):
        with pytest.raises(UserError, match="truncated or damaged.*re-download"):
            images.load_image(src)
        with pytest.raises(UserError, match="truncated or damaged"):
            images.load_mask(src)


def test_resized_size_is_checked_against_the_pixel_limit() -> None:
    strip = Image.new("RGB", (100_000, 3))  # 300k px: under the limit before resizing
    with pytest.raises(UserError, match=r"100000x3; .* 2133333x64 = 136,533,312 pixels, more than the limit of "
                                       r"64,000,000: choose a smaller size \(at most 43 "):
        images.load_image(strip, size=64)
    wide = Image.new("RGB", (4000, 100))
    with pytest.raises(UserError, match=r"at most 158 for this image"):
        images.load_image(wide, size=512, max_pixels=1_000_000)
    assert images.load_image(wide, size=158, max_pixels=1_000_000).shape == (3, 158, 6320)  # the size named fits
    with pytest.raises(UserError, match="no size fits: crop it"):
        images.load_image(strip, size=64, max_pixels=3_000_000)
    # a 2000x40 panorama (50:1) is a legal image: the pixel budget decides, not a fixed ratio
    assert images.load_image(Image.new("RGB", (2000, 40)), size=512).shape == (3, 512, 25600)
    small = Image.new("RGB", (40, 30))
    with pytest.raises(UserError, match=r"133333x100000 = .* more than the limit"):
        images.load_image(small, size=100_000)
    with pytest.raises(UserError, match="more than the limit"):
        images.load_image(small, size=64, max_pixels=64 * 85 - 1)  # 85x64 after resizing
    assert images.load_image(small, size=64, max_pixels=64 * 85).shape == (3, 64, 85)
    assert images.load_image(Image.new("RGB", (400, 30)), size=16).shape == (3, 16, 213)  # 13:1 is fine
    with pytest.raises(UserError, match="more than the limit"):
        images.sample_image("house", 100_000)


def test_save_image_into_an_impossible_folder_is_a_user_error(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a folder")
    t = torch.rand(3, 16, 16)
    with pytest.raises(UserError, match=r"cannot write .*afile/out.png: .*choose a writable folder"):
        images.save_image(t, afile / "out.png")
    with pytest.raises(UserError, match=r"cannot write to /proc/.*choose a writable folder"):
        images.save_image(t, "/proc/no-such-folder/out.png")
    target = tmp_path / "dir.png"
    target.mkdir()  # os.replace onto a folder fails after the temporary file was written
    with pytest.raises(UserError, match=r"cannot write .*dir.png: .*choose a writable folder"):
        images.save_image(t, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "dir.png"]  # no temporary file left
    assert list(target.iterdir()) == []


def test_masks_of_another_shape_are_refused_not_stretched() -> None:
    portrait = torch.ones(100, 50)
    with pytest.raises(UserError, match=r"50x100 but the content is 80x60.*make the mask 80x60"):
        images.load_mask(portrait, size=(60, 80))
    with pytest.raises(UserError, match="make the mask 80x60"):
        images.fit_mask(portrait, (60, 80))
    near = images.load_mask(torch.rand(31, 40), size=(60, 80))  # 40/31 vs 80/60: 3% off, resized quietly
    assert near.shape == (60, 80) and 0.0 <= float(near.min()) and float(near.max()) <= 1.0
    batch = images.fit_mask(torch.zeros(2, 30, 40), (60, 80))
    assert batch.shape == (2, 60, 80)


def test_check_image_never_decodes_a_large_photo_at_full_size(monkeypatch) -> None:
    """The playground checks an upload: an 8000x8000 JPEG is decoded at 1/4 scale at most, and a truncated
    one is still found."""
    from PIL import ImageFile

    buf = io.BytesIO()
    Image.new("RGB", (8000, 8000), (120, 30, 200)).save(buf, format="JPEG", quality=80)
    data = buf.getvalue()
    decoded: list[tuple[int, int]] = []
    real_load = ImageFile.ImageFile.load

    def spy(self):  # noqa: ANN001, ANN202
        decoded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    assert images.check_image(data) == (8000, 8000)
    assert decoded and max(w * h for w, h in decoded) <= 8000 * 8000 // 16
    with pytest.raises(UserError, match="truncated or corrupt"):
        images.check_image(data[: len(data) * 2 // 3])
    png = io.BytesIO()
    Image.new("L", (3000, 3000)).save(png, format="PNG")
    raw = png.getvalue()
    decoded.clear()
    assert images.check_image(raw) == (3000, 3000) and decoded == []  # chunks checked, nothing inflated
    with pytest.raises(UserError, match="truncated or corrupt"):
        images.check_image(raw[: len(raw) - 30])
    with pytest.raises(UserError, match="too small"):
        images.check_image(_small_png())


def _small_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, format="PNG")
    return buf.getvalue()


def _without_read_override(code: str) -> subprocess.CompletedProcess:
    """Run ``code`` in a Python that cannot read a file its permissions forbid. The tests run as root, which reads
    a ``chmod 000`` file anyway (CAP_DAC_OVERRIDE); ``setpriv`` starts the child without that capability (and
    CAP_DAC_READ_SEARCH). A child switched to ``nobody`` could not start this interpreter, which lies under
    ``/root`` (mode 700); a root without the override still owns it."""
    cmd = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: a chmod 000 file stays readable")
        drop = "-dac_override,-dac_read_search"
        cmd = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}", *cmd]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_an_image_the_user_cannot_read_is_permission_denied_not_damaged(tmp_path: Path) -> None:
    """Issue 20, item 9: a ``chmod 000`` content file was reported as "truncated or damaged"."""
    path = tmp_path / "locked.png"
    Image.new("RGB", (32, 32), (10, 20, 30)).save(path)
    path.chmod(0)
    code = ("import sys\nfrom adain_lesson import images\nfrom adain_lesson.errors import UserError\n"
            f"try:\n    images.load_image({str(path)!r}, 32)\nexcept UserError as exc:\n    print(exc)\n")
    result = _without_read_override(code)
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip()
    assert "permission denied" in line and str(path) in line and "damaged" not in line and "\n" not in line
