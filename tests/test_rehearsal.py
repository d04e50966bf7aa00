"""The full-mode rehearsal: notebooks 00, 04, 06, 08 and 09 run in full mode (not smoke) through the real download
code, against stand-in weights and the paper's images served from 127.0.0.1 (adain_lesson.course.rehearse).

The heavy test is marked ``rehearsal`` (``python -m pytest -m rehearsal`` runs it alone, ``-m "not rehearsal"``
skips it); the others check the stand-ins themselves and take seconds.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
import torch

from adain_lesson import hub
from adain_lesson.course import rehearse
from adain_lesson.model import load_pretrained


def test_stand_in_weights_have_the_released_layout_and_finite_activations(tmp_path: Path) -> None:
    paths = rehearse.stand_in_weights(tmp_path)
    model = load_pretrained(tmp_path, "cpu")  # strict: the released keys and shapes
    assert not model.random_weights
    x = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        f = model.encode(x)
        out = model.stylize(x, torch.rand(1, 3, 64, 64))
    assert torch.isfinite(f).all() and f.abs().max() > 0 and torch.isfinite(out).all()
    from adain_lesson.vgg import from_torchvision

    tv = torch.load(paths[rehearse.TORCHVISION_VGG19], weights_only=True)
    assert len(from_torchvision(tv)) == 34  # torchvision's 16 convolutions, converted


def test_build_serves_a_manifest_that_the_real_fetch_verifies(tmp_path: Path, monkeypatch) -> None:
    """Without the shared images every picture is generated; the override manifest is well formed, its
    files are served with their stated hashes, and a wrong byte would be refused by the same check."""
    server = rehearse.Server({})
    with server as url:
        made = rehearse.build(tmp_path / "served", url, shared=tmp_path / "no-shared-repo")
        server.httpd.RequestHandlerClass.files.update(made.files)
        assert made.real_images == 0 and made.generated_images > 50
        monkeypatch.setenv(hub.MANIFEST_ENV, str(made.manifest))
        assets = hub.manifest()
        pinned = rehearse._shipped_manifest()
        assert set(pinned) <= set(assets) and rehearse.TORCHVISION_VGG19 in assets
        assert all(a.url.startswith(url) for a in assets.values())
        got = hub.fetch("mask.png", progress=False)
        assert hub.sha256_file(got) == assets["mask.png"].sha256 != pinned["mask.png"].sha256
        tv = hub.torchvision_weights("https://download.pytorch.org/models/" + rehearse.TORCHVISION_VGG19,
                                     progress=False)
        assert any(k.startswith("features.") for k in tv)
        ranged = urllib.request.Request(assets["decoder.pth"].url, headers={"Range": "bytes=10-19"})
        with urllib.request.urlopen(ranged) as r:
            assert r.status == 206 and len(r.read()) == 10


def test_build_serves_a_dataset_zip_through_the_checked_download(tmp_path: Path, monkeypatch) -> None:
    """The training notebooks' dataset (MS-COCO val2017) is served as a generated zip under its name: the real
    download_dataset reads a subset over HTTP Range, or the whole archive checked against the stated SHA-256."""
    from adain_lesson import data
    from adain_lesson.errors import DownloadError

    server = rehearse.Server({})
    with server as url:
        made = rehearse.build(tmp_path / "served", url, shared=tmp_path / "no-shared-repo")
        server.httpd.RequestHandlerClass.files.update(made.files)
        monkeypatch.setenv(hub.MANIFEST_ENV, str(made.manifest))
        row = hub.manifest("dataset")["coco-val2017"]
        assert row.url.startswith(url) and row.size != data.SOURCES["coco-val2017"].size
        subset = data.download_dataset("coco-val2017", tmp_path / "d1", max_images=7, progress=False)
        assert len(data.ImageFolder(subset)) == 7
        whole = data.download_dataset("coco-val2017", tmp_path / "d2", progress=False)
        assert len(data.ImageFolder(whole)) == rehearse.DATASET_IMAGES
        text = made.manifest.read_text(encoding="utf-8").replace(row.sha256, "0" * 64)
        (tmp_path / "bad.tsv").write_text(text, encoding="utf-8")
        monkeypatch.setenv(hub.MANIFEST_ENV, str(tmp_path / "bad.tsv"))
        with pytest.raises(DownloadError, match="SHA-256"):  # the override is verified as strictly
            data.download_dataset("coco-val2017", tmp_path / "d3", progress=False)
        assert not (tmp_path / "d3" / "coco-val2017").exists()
    monkeypatch.delenv(hub.MANIFEST_ENV)
    assert data.mirrored_source(data.SOURCES["coco-val2017"]) == data.SOURCES["coco-val2017"]


def test_build_uses_the_papers_images_with_their_pinned_hashes(shared_repo: Path, tmp_path: Path) -> None:
    made = rehearse.build(tmp_path, "http://127.0.0.1:9", shared=shared_repo)
    pinned = rehearse._shipped_manifest()
    images = [a for a in pinned.values() if a.kind != "weights"]
    assert made.real_images == len(images) and made.generated_images == 0
    for a in images[:5]:
        theirs = shared_repo / a.path.removeprefix("adain-style-repo/")
        assert made.files[f"/{a.path}"].read_bytes() == theirs.read_bytes()


def test_unknown_notebook_and_device_are_user_errors() -> None:
    pytest.importorskip("nbclient")
    from adain_lesson.errors import UserError

    with pytest.raises(UserError, match="does not exist"):
        rehearse.rehearse(["42"], "cpu")
    with pytest.raises(UserError, match="cpu or cuda"):
        rehearse.rehearse(["00"], "tpu")


def test_cli_errors_are_one_line_and_nbclient_is_named(capsys, monkeypatch) -> None:
    import sys

    from adain_lesson.__main__ import main
    from adain_lesson.errors import UserError

    pytest.importorskip("nbclient")
    assert main(["rehearse", "--notebooks", "42"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --notebooks names '42', which does not exist") and "\n" not in err
    assert main(["rehearse", "--timeout", "0"]) == 2
    assert "--timeout" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "nbclient", None)  # as if the test extra were not installed
    with pytest.raises(UserError, match=r'pip install -e "\.\[test\]"'):
        rehearse.rehearse(["00"], "cpu")


@pytest.mark.rehearsal
def test_inference_notebooks_pass_in_full_mode_on_the_cpu(monkeypatch) -> None:
    """00, 04, 06, 08 and 09 in full mode (their QUICK settings on a CPU): every one passes, and each downloaded
    the weights through the loopback server (a fresh cache each)."""
    pytest.importorskip("nbclient")
    monkeypatch.delenv("ADAIN_LESSON_SMOKE", raising=False)
    lines: list[str] = []
    runs = rehearse.rehearse(rehearse.CPU_NOTEBOOKS, "cpu", timeout=900, report=lines.append)
    assert [r.notebook[:2] for r in runs] == list(rehearse.CPU_NOTEBOOKS)
    failed = [f"{r.notebook}: {r.error}" for r in runs if r.error]
    assert not failed, "\n".join(lines)
    for r in runs:
        assert {"/decoder.pth", "/vgg_normalised.pth"} <= set(r.requests), r
        assert r.announced.startswith(f"notebook {r.notebook[:2]}: QUICK full mode on cpu"), r
    assert f"/torchvision/{rehearse.TORCHVISION_VGG19}" in runs[1].requests  # 04's torchvision cell, cached
    print("\n".join(lines))
