"""adain_lesson.weights: one encoder loader for the model, Gatys et al. and training, with errors that name
the caller's parameter (the CLI names its flag)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adain_lesson.__main__ import as_flags
from adain_lesson.errors import UserError
from adain_lesson.weights import load_encoder


def test_model_gatys_and_training_load_the_same_encoder(tmp_path: Path) -> None:
    from adain_lesson import gatys, train
    from adain_lesson.model import load_pretrained
    from adain_lesson.vgg import make_vgg

    model_enc = load_pretrained("random", "cpu").encoder
    gatys_enc = gatys.gatys_encoder("random", "cpu")  # to relu5_1
    train_enc = train._build_encoder(train.TrainConfig(encoder="random"))
    for a, b in zip(model_enc.body.parameters(), train_enc.body.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(model_enc.body.parameters(), gatys_enc.body.parameters()):  # the same weights, further
        assert torch.equal(a, b)
    assert len(gatys_enc.body) > len(model_enc.body) and model_enc.random_weights and gatys_enc.random_weights
    vgg = make_vgg()
    torch.save(vgg.state_dict(), tmp_path / "vgg_normalised.pth")
    for source in (tmp_path, tmp_path / "vgg_normalised.pth"):
        loaded = load_encoder(source, "relu4_1")
        assert not loaded.random_weights and torch.equal(loaded.body[2].weight, vgg[2].weight)


def test_errors_name_the_parameter_and_the_cli_names_the_flag(tmp_path: Path) -> None:
    from adain_lesson import train
    from adain_lesson.model import load_pretrained

    missing = tmp_path / "nowhere"
    with pytest.raises(UserError, match="^encoder must be auto, random") as caught:
        train._build_encoder(train.TrainConfig(encoder=str(missing)))
    assert as_flags(caught.value).startswith("--encoder must be auto, random")
    with pytest.raises(UserError, match="^weights must be auto, random") as caught:
        load_pretrained(missing, "cpu")
    assert as_flags(caught.value).startswith("--weights must be auto, random")
    with pytest.raises(UserError, match="unknown VGG layer"):
        load_encoder("random", "relu9_9")


def _deflated_with_extra(path: Path, state: dict, extra_floats: int) -> None:
    """``state`` plus a tensor ``extra`` of ``extra_floats`` zeros, saved by torch and then re-packed with its records
    deflated: a small file that declares far more tensor data than it takes on disk."""
    import shutil
    import zipfile

    plain = path.with_suffix(".plain")
    torch.save({**state, "extra": torch.zeros(extra_floats)}, plain)
    with zipfile.ZipFile(plain) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as dst:
        for info in src.infolist():
            with src.open(info) as fin, dst.open(info.filename, "w", force_zip64=True) as fout:
                shutil.copyfileobj(fin, fout, 1 << 22)
    plain.unlink()


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RLIMIT_AS and /proc")
def test_a_small_weights_file_declaring_a_huge_extra_tensor_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """Issue 20, item 8: a 14 MB decoder.pth carrying a 1.5 GB extra tensor peaked at 4.5 GB before it was refused
    (its keys were checked after loading it whole). Here a decoder.pth with 400 MB of zeros, deflated to a few MB,
    is loaded by a process capped at its size plus 200 MB: the sizes its zip records declare refuse it at once,
    in one line; the right file still loads there (lazily, memory-mapped)."""
    import os
    import subprocess
    import sys

    from adain_lesson.decoder import make_decoder

    state = make_decoder().state_dict()
    bad, good = tmp_path / "bad" / "decoder.pth", tmp_path / "good" / "decoder.pth"
    bad.parent.mkdir()
    good.parent.mkdir()
    _deflated_with_extra(bad, state, 100_000_000)
    torch.save(state, good)
    assert bad.stat().st_size < 30_000_000
    code = r"""
import resource, sys
import torch
from adain_lesson import weights
from adain_lesson.decoder import make_decoder
from adain_lesson.errors import UserError
dec = make_decoder()
with open("/proc/self/statm") as f:
    vm = int(f.read().split()[0]) * resource.getpagesize()
resource.setrlimit(resource.RLIMIT_AS, (vm + 200_000_000, resource.RLIM_INFINITY))
for path in sys.argv[1:]:
    try:
        weights.load_strict(dec, weights.load_weights_file(path, dec, "decoder.pth"), path, "decoder.pth")
        print("loaded")
    except UserError as exc:
        print(str(exc).replace("\n", "<NL>"))
"""
    done = subprocess.run([sys.executable, "-c", code, str(bad), str(good)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode == 0, done.stderr[-3000:]
    refused, loaded = done.stdout.strip().splitlines()[-2:]
    assert "holds 41" in refused and "MB of tensors, but Sequential has 14 MB" in refused and "<NL>" not in refused
    assert loaded == "loaded"


def test_wrong_keys_are_found_from_the_index_before_any_value_is_read(tmp_path: Path, monkeypatch) -> None:
    """The layout check runs on the lazily loaded state, before the finiteness scan touches a value."""
    from adain_lesson import weights
    from adain_lesson.decoder import make_decoder

    dec = make_decoder()
    state = dec.state_dict()
    renamed = {("x" + k if i == 0 else k): v for i, (k, v) in enumerate(state.items())}
    path = tmp_path / "decoder.pth"
    torch.save(renamed, path)
    touched = []
    real = torch.isfinite
    monkeypatch.setattr(torch, "isfinite", lambda t: touched.append(1) or real(t))
    with pytest.raises(UserError, match="1 missing and 1 unexpected keys"):
        weights.load_weights_file(path, dec, "decoder.pth")
    assert touched == []
