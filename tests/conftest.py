"""Shared fixtures: tiny random-weight models, and the original repository's images when present."""

from __future__ import annotations

import http.server
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
#: The original repository's images: ``../shared/adain-style-repo`` beside the checkout, or under
#: ``$ADAIN_LESSON_SHARED`` (for a worktree elsewhere). Tests that need it skip when it is absent.
SHARED = Path(os.environ.get("ADAIN_LESSON_SHARED", ROOT.parent / "shared")) / "adain-style-repo"


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts online (the user's ``ADAIN_LESSON_OFFLINE=1`` is removed) with an empty cache of
    its own (``ADAIN_LESSON_HOME``) and the shipped manifest (no ``ADAIN_LESSON_MANIFEST``), so neither the
    user's shell nor their real cache changes a result. A test may still set these variables itself."""
    monkeypatch.delenv("ADAIN_LESSON_OFFLINE", raising=False)
    monkeypatch.delenv("ADAIN_LESSON_MANIFEST", raising=False)
    monkeypatch.setenv("ADAIN_LESSON_HOME", str(tmp_path_factory.mktemp("adain_home")))


@pytest.fixture(scope="session")
def random_model():
    """The released layout with seeded random weights, on the CPU, in eval mode."""
    from adain_lesson.model import load_pretrained

    torch.manual_seed(0)
    return load_pretrained("random", "cpu")


@pytest.fixture(scope="session")
def shared_repo() -> Path:
    """../shared/adain-style-repo (the original AdaIN repository's images); skips when absent."""
    if not (SHARED / "MANIFEST.tsv").is_file():
        pytest.skip("../shared/adain-style-repo is not present (a fresh clone has none)")
    return SHARED


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread (and far faster when other jobs share the 2 cores).
    Use with ``pytestmark = pytest.mark.usefixtures("one_thread")``; the old count is restored."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# A local HTTP server on 127.0.0.1 for download tests: ``files`` maps paths to bytes, ``truncate`` names
# paths whose transfer breaks off half-way, ``log`` records (path, Range header) per request, ``sent``
# counts body bytes sent; ``ranges = False`` makes it ignore Range headers (a server without support).
# Lying and slow servers: ``headers`` maps a path to headers sent as they are (they replace ours, e.g. a
# malformed Content-Length, or Content-Type text/html); ``range_from`` maps a path to the start it sends
# whatever range was asked for (a server that answers another part); ``slow`` maps a path to seconds
# slept after each 16 KiB of the body (bounded by the test's file size: a trickling server).
class _Files(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    truncate: set[str] = set()
    log: list[tuple[str, str | None]] = []
    sent: list[int] = []
    ranges: bool = True
    headers_for: dict[str, dict[str, str]] = {}
    range_from: dict[str, int] = {}
    slow: dict[str, float] = {}

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.log.append((self.path, self.headers.get("Range")))
        data = self.files.get(self.path)
        if data is None:
            self.send_error(404)
            return
        start, end = 0, len(data) - 1
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and self.ranges:
            first, _, last = rng[6:].partition("-")
            start = int(first)
            end = min(end, int(last)) if last else end
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start = self.range_from.get(self.path, start)
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:end + 1]
        self.sent.append(len(body))
        extra = self.headers_for.get(self.path, {})
        if "Content-Length" not in extra:
            self.send_header("Content-Length", str(len(body)))
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        if self.path in self.truncate:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)  # the connection drops mid-transfer
            return
        pause = self.slow.get(self.path)
        if pause:
            for i in range(0, len(body), 1 << 14):
                self.wfile.write(body[i:i + (1 << 14)])
                self.wfile.flush()
                time.sleep(pause)
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def file_server() -> Iterator[tuple[str, type[_Files]]]:
    handler = type("Files", (_Files,), {"files": {}, "truncate": set(), "log": [], "sent": [], "ranges": True,
                                        "headers_for": {}, "range_from": {}, "slow": {}})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    """``small_disk(kib)``: a folder on a fresh tmpfs of that many KiB, a real full disk (ENOSPC) for the
    tests. It needs root on Linux (``mount``); elsewhere the test skips. Unmounted afterwards."""
    import shutil
    import subprocess

    mounted: list[Path] = []

    def make(kib: int) -> Path:
        where = tmp_path / f"disk{len(mounted)}"
        where.mkdir()
        if not shutil.which("mount") or os.geteuid() != 0:
            pytest.skip("a tiny tmpfs needs root and mount")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(where)],
                              capture_output=True, timeout=30)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def train_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Tiny content and style folders for training tests: nested and upper-case names, and one corrupt file."""
    from adain_lesson.images import sample_image, save_image

    base = tmp_path_factory.mktemp("train_data")
    c, s = base / "content", base / "style"
    for name in ("grace_hopper", "house", "mountains"):
        save_image(sample_image(name, 40), c / f"{name}.png")
    save_image(sample_image("house", 36), c / "nested" / "HOUSE2.JPG")
    for name in ("stripes", "mosaic", "waves", "dots"):
        save_image(sample_image(name, 40), s / f"{name}.jpg")
    (s / "corrupt.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    return c, s


def tiny_train_config(dirs: tuple[Path, Path], out: Path, **kw):
    """A seconds-long CPU training run on ``train_dirs`` (random weights, 16 px crops); ``kw`` overrides."""
    from adain_lesson.train import TrainConfig

    base = dict(content_dir=str(dirs[0]), style_dir=str(dirs[1]), out=str(out), encoder="random",
                load_size=24, crop_size=16, batch_size=2, max_iter=6, log_every=1, checkpoint_every=100,
                sample_every=0, progress=False, device="cpu", workers=0)
    base.update(kw)
    return TrainConfig(**base)
