"""The full-mode rehearsal: the notebooks run as a Colab user runs them, with stand-ins served from 127.0.0.1.

CI runs the notebooks in smoke mode; every user runs full mode, where the hub downloads the released
weights and the paper's images and checks their sizes and SHA-256. The rehearsal exercises that path
unchanged, without the internet:

1. :func:`build` writes stand-in weights with the released layout and keys (seeded random weights, finite
   activations; not the released values), takes the paper's images from ``../shared/adain-style-repo`` when
   present (the real bytes, checked against the pinned hashes) or generates images otherwise, and writes a
   manifest for them (``ADAIN_LESSON_MANIFEST``, see :mod:`adain_lesson.hub`) whose URLs point at
2. :class:`Server`, a small threaded HTTP server on 127.0.0.1 (with HTTP Range, as the real hosts);
3. :func:`rehearse` executes notebooks with ``nbclient`` in **full mode**: ``ADAIN_LESSON_SMOKE`` and
   ``ADAIN_LESSON_OFFLINE`` unset, ``ADAIN_LESSON_HOME`` a fresh cache, ``ADAIN_LESSON_MANIFEST`` set. On a
   CPU the notebooks choose their QUICK settings (:func:`adain_lesson.course.full_mode_plan`).

Command line: ``python -m adain_lesson rehearse [--notebooks 00,04,06,08,09] [--device cpu|cuda]``; the test
``tests/test_rehearsal.py`` (marker ``rehearsal``) runs 00, 04, 06, 08 and 09 on the CPU. What a rehearsal cannot
check: the released weights' values and the closeness of the pictures to the paper's.
"""

from __future__ import annotations

import http.server
import io
import os
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import hub
from ..data import SOURCES
from ..decoder import make_decoder
from ..errors import UserError
from ..images import SAMPLE_CONTENTS, SAMPLE_STYLES, sample_image, save_image, split_mask, to_pil
from ..vgg import make_vgg
from ..weights import random_init_
from . import NOTEBOOKS

__all__ = ["CPU_NOTEBOOKS", "DATASETS", "NotebookRun", "Server", "build", "dataset_zip", "default_shared", "rehearse",
           "stand_in_weights"]

#: The notebooks the CPU rehearsal runs (the inference notebooks); on a GPU every notebook runs.
CPU_NOTEBOOKS = ("00", "04", "06", "08", "09")
#: The datasets (:data:`adain_lesson.data.SOURCES`) the rehearsal serves as generated zips (manifest rows of
#: kind ``dataset``, see :func:`adain_lesson.data.mirrored_source`), and how many images each holds.
DATASETS = ("coco-val2017",)
DATASET_IMAGES = 160
#: torchvision's ImageNet VGG-19 (notebook 04's pitfall); the rehearsal serves a stand-in under this name.
TORCHVISION_VGG19 = "vgg19-dcbb9e9d.pth"
_ROOT = Path(__file__).resolve().parents[2]


def default_shared() -> Path:
    """``$ADAIN_LESSON_SHARED/adain-style-repo``, else ``../shared/adain-style-repo`` beside the checkout."""
    return Path(os.environ.get("ADAIN_LESSON_SHARED", _ROOT.parent / "shared")) / "adain-style-repo"


def _sha(path: Path) -> str:
    return hub.sha256_file(path)


def stand_in_weights(folder: str | os.PathLike, seed: int = 0) -> dict[str, Path]:
    """Write ``vgg_normalised.pth``, ``decoder.pth`` (the released layout and keys) and torchvision's
    ``vgg19-dcbb9e9d.pth`` layout (its ``features.*`` keys; the classifier is not needed) into ``folder``,
    with seeded Kaiming-normal weights (finite activations at every depth)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vgg, dec = random_init_(make_vgg(), seed), random_init_(make_decoder(), seed + 1)
    out = {"vgg_normalised.pth": vgg.state_dict(), "decoder.pth": dec.state_dict()}
    tv = random_init_(make_vgg(), seed + 2)
    convs = [i for i, m in enumerate(tv) if isinstance(m, torch.nn.Conv2d)][1:]  # not the 1x1 input conv
    tv_index = [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]  # torchvision's vgg19.features
    out[TORCHVISION_VGG19] = {f"features.{t}.{p}": tv[i].state_dict()[p] for i, t in zip(convs, tv_index)
                              for p in ("weight", "bias")}
    paths = {}
    for name, state in out.items():
        paths[name] = folder / name
        torch.save({k: v.contiguous().clone() for k, v in state.items()}, paths[name])
    return paths


def dataset_zip(path: str | os.PathLike, images: int = DATASET_IMAGES, size: int = 160) -> Path:
    """A small zip standing in for a dataset archive: ``images`` generated JPEGs (the sample pictures, each
    flipped, shifted and tinted differently so that no two are alike) in one folder, as in MS-COCO's zips."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    bases = [sample_image(name, size + 16) for name in SAMPLE_CONTENTS + SAMPLE_STYLES]  # made once (slow)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for i in range(images):
            img = bases[i % len(bases)][:, (i % 5) * 4:, (i % 3) * 5:]  # sizes and aspect ratios differ a little
            img = torch.roll(img.flip(-1) if (i // len(bases)) % 2 else img, shifts=7 * i, dims=-1)
            img = (img * (0.8 + 0.4 * ((i * 37) % 11) / 10)).clamp(0, 1)
            buf = io.BytesIO()
            to_pil(img).save(buf, format="JPEG", quality=85)
            zf.writestr(f"{path.stem}/{i:012d}.jpg", buf.getvalue())
    return path


def _generated(asset: hub.Asset, folder: Path, index: int) -> Path:
    """A generated image in place of a paper's image (no shared copy): the sample pictures, cycled."""
    path = folder / asset.path
    if asset.kind == "mask":
        img = split_mask("left", 384, 512).expand(3, -1, -1)
    elif asset.kind == "style":
        img = sample_image(SAMPLE_STYLES[index % len(SAMPLE_STYLES)], 384)
    else:
        img = sample_image(SAMPLE_CONTENTS[index % len(SAMPLE_CONTENTS)], 384)
    return save_image(img, path)


@dataclass(frozen=True)
class Build:
    """What :func:`build` made: the manifest file, each name's local file, and how many images are real."""

    manifest: Path
    files: dict[str, Path]
    real_images: int
    generated_images: int


def build(folder: str | os.PathLike, base_url: str, shared: str | os.PathLike | None = None) -> Build:
    """Write the stand-ins into ``folder`` and a manifest (same columns as the shipped one) whose URLs are
    ``base_url/<path>``. Every name of the shipped manifest gets a row: the weights as stand-ins, each
    image as the shared repository's file when it has the pinned size and SHA-256, else generated."""
    folder = Path(folder)
    shared_dir = Path(shared) if shared is not None else default_shared()
    pinned = _shipped_manifest()
    files: dict[str, Path] = {}
    rows: list[hub.Asset] = []
    real = generated = 0
    weights = stand_in_weights(folder / "weights")
    for i, a in enumerate(pinned.values()):
        if a.kind == "weights":
            files[a.name] = weights[a.name]
        else:
            theirs = shared_dir / a.path.removeprefix("adain-style-repo/")
            if theirs.is_file() and hub.verify(theirs, a.size, a.sha256) is None:
                files[a.name], real = theirs, real + 1
            else:
                files[a.name], generated = _generated(a, folder / "generated", i), generated + 1
    files[TORCHVISION_VGG19] = weights[TORCHVISION_VGG19]
    kinds = {a.name: a for a in pinned.values()}
    for name in DATASETS:  # the training notebooks' datasets: small generated zips, checked like the real ones
        files[name] = dataset_zip(folder / "datasets" / SOURCES[name].archive)
        kinds[name] = hub.Asset(name, "dataset", f"datasets/{SOURCES[name].archive}", 0, "", "")
    for name, path in files.items():
        a = kinds.get(name) or hub.Asset(name, "weights", f"torchvision/{name}", 0, "", "")
        rows.append(hub.Asset(name, a.kind, a.path, path.stat().st_size, _sha(path), f"{base_url}/{a.path}"))
    lines = ["# the rehearsal's stand-ins (python -m adain_lesson rehearse): not the released weights",
             "name\tkind\tpath\tbytes\tsha256\turl"]
    lines += [f"{a.name}\t{a.kind}\t{a.path}\t{a.size}\t{a.sha256}\t{a.url}" for a in rows]
    manifest = folder / "manifest.tsv"
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return Build(manifest, {f"/{a.path}": files[a.name] for a in rows}, real, generated)


def _shipped_manifest() -> dict[str, hub.Asset]:
    saved = os.environ.pop(hub.MANIFEST_ENV, None)
    try:
        return hub.manifest()
    finally:
        if saved is not None:
            os.environ[hub.MANIFEST_ENV] = saved


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, Path] = {}
    served: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.served.append(self.path)
        path = self.files.get(self.path.split("?")[0])
        if path is None:
            self.send_error(404)
            return
        data = path.read_bytes()
        start, end = 0, len(data) - 1
        rng = self.headers.get("Range", "")
        if rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            start = int(first or 0)
            end = min(end, int(last)) if last else end
            if start >= len(data):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(end - start + 1))
        self.end_headers()
        self.wfile.write(data[start:end + 1])

    def log_message(self, *args: object) -> None:
        pass


class Server:
    """A threaded HTTP server on 127.0.0.1 (a free port) serving ``files`` (URL path -> local file), with
    HTTP Range; a context manager (``with Server(files) as url: ...``)."""

    def __init__(self, files: dict[str, Path]) -> None:
        handler = type("Files", (_Handler,), {"files": dict(files), "served": []})
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@dataclass(frozen=True)
class NotebookRun:
    """One notebook's rehearsal: its file, wall seconds, the first error (``None`` when it passed), and the
    URL paths it requested from the loopback server (its downloads), and what its parameters cell
    announced (:func:`adain_lesson.course.full_mode_plan`'s line, ``""`` if none)."""

    notebook: str
    seconds: float
    error: str | None
    requests: tuple[str, ...] = ()
    announced: str = ""


def _notebook_paths(keys: Sequence[str] | None, device: str, root: Path) -> list[Path]:
    folder = root / "notebooks"
    if not folder.is_dir():
        raise UserError(f"{folder} does not exist: the rehearsal runs the notebooks of a checkout (root must be "
                        "the repository folder)")
    known = {nb.file[:2]: nb.file for nb in NOTEBOOKS}
    if keys is None:
        keys = CPU_NOTEBOOKS if device == "cpu" else tuple(known)
    paths = []
    for key in keys:
        key = key.strip().zfill(2)[:2]
        if key not in known:
            raise UserError(f"notebooks names {key!r}, which does not exist: choose from {', '.join(known)}",
                            param="notebooks")
        paths.append(folder / known[key])
    return paths


@contextmanager
def _served(shared: str | os.PathLike | None) -> Iterator[tuple[str, Build, list[str]]]:
    """Build the stand-ins in a temporary folder and serve them; yields (the folder, the build, the log of
    requested paths)."""
    with tempfile.TemporaryDirectory(prefix="adain_rehearsal_") as tmp:
        # the URLs need the port: start on an empty map, build, then hand the handler the files
        server = Server({})
        with server as url:
            made = build(Path(tmp) / "served", url, shared)
            server.httpd.RequestHandlerClass.files.update(made.files)  # type: ignore[attr-defined]
            yield tmp, made, server.httpd.RequestHandlerClass.served  # type: ignore[attr-defined]


def _import_nbclient():  # noqa: ANN202 - the modules
    try:
        import nbclient
        import nbformat
    except ImportError:
        raise UserError('the rehearsal needs nbclient and nbformat: pip install -e ".[test]"') from None
    return nbclient, nbformat


def rehearse(
    notebooks: Sequence[str] | None = None,
    device: str = "cpu",
    *,
    root: str | os.PathLike | None = None,
    shared: str | os.PathLike | None = None,
    timeout: int = 900,
    report=print,  # noqa: ANN001 - a callable taking one line
) -> list[NotebookRun]:
    """Run ``notebooks`` (two-digit numbers; default :data:`CPU_NOTEBOOKS` on the CPU, all on a GPU) in full
    mode against the stand-ins served from 127.0.0.1; returns one :class:`NotebookRun` each.

    ``device``: ``"cpu"`` hides every GPU from the kernels (``CUDA_VISIBLE_DEVICES=""``), so the notebooks
    choose their CPU (QUICK) settings; ``"cuda"`` needs a GPU and uses full mode's settings. ``timeout``
    limits each cell (seconds). Each notebook runs in its own temporary folder with a fresh cache.
    """
    nbclient, nbformat = _import_nbclient()
    if device not in ("cpu", "cuda"):
        raise UserError(f"device must be cpu or cuda, got {device!r}", param="device")
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda' asked for, but no CUDA GPU is available: use cpu", param="device")
    paths = _notebook_paths(notebooks, device, Path(root) if root is not None else _ROOT)
    runs = []
    with _served(shared) as (tmp, made, served):
        report(f"rehearsal: {len(made.files)} files served from 127.0.0.1 ({made.real_images} of the paper's images "
               f"from the shared repository, {made.generated_images} generated; stand-in weights)")
        for path in paths:
            work = Path(tmp) / path.stem
            (work / "cache").mkdir(parents=True)
            env = {k: v for k, v in os.environ.items()
                   if k not in ("ADAIN_LESSON_SMOKE", "ADAIN_LESSON_OFFLINE", "ADAIN_LESSON_QUICK")}
            env.update(ADAIN_LESSON_HOME=str(work / "cache"), MPLBACKEND="Agg",
                       PYTHONPATH=os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH", "")) if p))
            env[hub.MANIFEST_ENV] = str(made.manifest)
            if device == "cpu":
                env["CUDA_VISIBLE_DEVICES"] = ""
            nb = nbformat.read(path, as_version=4)
            client = nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                             resources={"metadata": {"path": str(work)}})
            start, before = time.perf_counter(), len(served)
            error = None
            try:
                client.execute(env=env)
            except nbclient.exceptions.CellExecutionError as exc:
                error = _first_error(nb) or str(exc).strip().splitlines()[-1]
            except nbclient.exceptions.CellTimeoutError:
                error = f"a cell ran longer than {timeout} s"
            seconds = time.perf_counter() - start
            runs.append(NotebookRun(path.name, seconds, error, tuple(served[before:]), _announced(nb)))
            report(f"{path.name}: {'passed' if error is None else 'FAILED'} in {seconds:.0f} s, "
                   f"{len(served) - before} downloads; {runs[-1].announced or 'no plan announced'}"
                   + (f": {error}" if error else ""))
            shutil.rmtree(work, ignore_errors=True)
    return runs


def _announced(nb) -> str:  # noqa: ANN001 - a NotebookNode
    """The line the parameters cell printed (the plan), if any."""
    for cell in nb.cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
            return next((ln for ln in text.splitlines() if ln.startswith("notebook ")), "")
    return ""


def _first_error(nb) -> str | None:  # noqa: ANN001 - a NotebookNode
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                evalue = " | ".join(ln.strip() for ln in str(out.get("evalue")).splitlines() if ln.strip())
                return f"cell {i} (id {cell.get('id')}): {out.get('ename')}: {evalue[:300]}"
    return None

