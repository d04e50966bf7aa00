"""The CLI under hostile or unlucky conditions (issue 14): every output problem found before the weights
load (stylize, gatys, figures), a value that starts with a dash, and runs with other mask files."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from adain_lesson import gatys, model
from adain_lesson.__main__ import main

SMALL = ["--weights", "random", "--content-size", "48", "--style-size", "48", "--device", "cpu"]


@pytest.fixture()
def inputs(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "in"
    d.mkdir()
    paths = {}
    for name in ("c.png", "s1.png", "s2.png"):
        Image.effect_noise((80, 64), 50).convert("RGB").save(d / name)
        paths[name] = d / name
    for name, box in (("left.png", (0, 0, 40, 64)), ("top.png", (0, 0, 80, 32))):
        m = Image.new("L", (80, 64), 0)
        m.paste(255, box)
        m.save(d / name)
        paths[name] = d / name
    return paths


@pytest.fixture()
def no_weights(monkeypatch) -> list[str]:
    """Loading weights records the call and fails: a check that comes too late shows up."""
    calls: list[str] = []

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append("weights")
        raise AssertionError("the weights were loaded before the output was checked")

    # every module that binds the loaders by name, imported first (a module first imported while the patch is on
    # would keep the refusing stand-in for the rest of the session) and patched too
    from adain_lesson import bench, reproduce

    for module in (model, bench, reproduce):
        monkeypatch.setattr(module, "load_pretrained", refuse)
    for module in (gatys, reproduce):
        monkeypatch.setattr(module, "gatys_encoder", refuse)
    return calls


def _outs(tmp_path: Path) -> dict[str, Path]:
    blocker = tmp_path / "a_file"
    blocker.write_text("in the way")
    return {"a file in the way": blocker / "out", "a file as the folder": blocker}


@pytest.mark.parametrize("case", ["a file in the way", "a file as the folder"])
def test_output_problems_are_found_before_the_weights_load(case: str, inputs, tmp_path: Path, no_weights,
                                                           capsys) -> None:
    out = _outs(tmp_path)[case]
    common = ["--content", str(inputs["c.png"]), "--style", str(inputs["s1.png"]), "--out", str(out)]
    for argv in (["stylize", *SMALL, *common],
                 ["gatys", "--weights", "random", "--size", "32", "--steps", "1", "--device", "cpu", *common],
                 ["figures", "--smoke", "--fig", "4", "--size", "32", "--out", str(out), "--device", "cpu"]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("error: cannot write to") and "a_file is a file, not a folder" in err, err
        assert err.count("\n") == 1
    assert no_weights == []


def test_a_name_longer_than_the_file_system_allows_is_found_before_the_weights_load(inputs, tmp_path: Path,
                                                                                      no_weights, capsys) -> None:
    long = inputs["c.png"].with_name("c" * 220 + ".png")  # fits alone; the output name with its temp name does not
    inputs["c.png"].rename(long)
    assert main(["stylize", *SMALL, "--content", str(long), "--style", str(inputs["s1.png"]),
                 "--out", str(tmp_path / "o")]) == 2
    assert "use a shorter name" in capsys.readouterr().err and no_weights == []


def test_a_value_that_starts_with_a_dash_gets_a_hint(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["stylize", "--content", "-dash.jpg"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "--content=-dash.jpg" in err and "./-dash.jpg" in err


def test_runs_with_other_mask_files_do_not_overwrite_each_other(inputs, tmp_path: Path) -> None:
    out = tmp_path / "out"
    both = f"{inputs['s1.png']},{inputs['s2.png']}"
    for mask in ("left.png", "top.png"):
        assert main(["stylize", *SMALL, "--content", str(inputs["c.png"]), "--style", both,
                     "--mask", str(inputs[mask]), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["c_stylized_s1-s2_mask-left.png", "c_stylized_s1-s2_mask-top.png"]


def test_a_stopped_runs_temporary_file_is_removed_by_the_next_run(inputs, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".c_stylized_s1.png.4194999-0badf00d.part"  # Ctrl-C'd or killed while saving
    stale.write_bytes(b"half a png")
    assert main(["stylize", *SMALL, "--content", str(inputs["c.png"]), "--style", str(inputs["s1.png"]),
                 "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["c_stylized_s1.png"]
    assert "removed 1 unfinished temporary file" in capsys.readouterr().err


def test_an_image_too_large_for_the_free_memory_is_refused_before_the_weights_load(inputs, tmp_path: Path,
                                                                                    no_weights, monkeypatch,
                                                                                    capsys) -> None:
    from adain_lesson import memory

    monkeypatch.setattr(memory, "available", lambda device: 400_000_000)  # 250 MB of it kept for the weights
    assert main(["stylize", *SMALL[:2], "--content-size", "512", "--device", "cpu", "--content", str(inputs["c.png"]),
                 "--style", str(inputs["s1.png"]), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: stylizing 640x512 needs about") and "--content-size (at most" in err
    assert "400 MB free, 250 MB of which the model's weights will take" in err
    assert no_weights == []
