"""The stylize command: built-in samples, folders, interpolation, masks, and every bad input as one line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

from adain_lesson.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--weights", "random", "--content-size", "48", "--style-size", "48", "--device", "cpu"]


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "in"
    (d / "contents").mkdir(parents=True)
    paths = {}
    for i, name in enumerate(["a.jpg", "B.PNG"]):
        p = d / "contents" / name
        Image.effect_noise((80, 64), 40 + 10 * i).convert("RGB").save(p)
        paths[name] = p
    for name, color in (("s1.png", (200, 30, 30)), ("s2.png", (30, 30, 200))):
        p = d / name
        im = Image.effect_noise((64, 64), 80).convert("RGB")
        Image.blend(im, Image.new("RGB", (64, 64), color), 0.5).save(p)
        paths[name] = p
    mask = Image.new("L", (80, 64), 0)
    mask.paste(255, (0, 0, 40, 64))
    mask.save(d / "mask.png")
    Image.new("L", (80, 64), 0).save(d / "black.png")
    (d / "text.jpg").write_text("not an image")
    (d / "empty.jpg").write_bytes(b"")
    good = paths["a.jpg"].read_bytes()
    (d / "truncated.jpg").write_bytes(good[: len(good) // 2])
    Image.new("RGB", (8, 8)).save(d / "tiny.png")
    paths.update({n: d / n for n in ("mask.png", "black.png", "text.jpg", "empty.jpg", "truncated.jpg", "tiny.png")})
    paths["contents"] = d / "contents"
    return paths


def test_builtin_samples_with_random_weights_show_the_banner(tmp_path: Path, capsys) -> None:
    assert main(["stylize", *SMALL, "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "RANDOM WEIGHTS" in captured.err  # the banner on standard error ...
    assert captured.out.strip().endswith("grace_hopper_stylized_mosaic.png")  # ... standard output: the paths only
    result = tmp_path / "out" / "grace_hopper_stylized_mosaic.png"
    assert result.is_file() and min(Image.open(result).size) == 48


def test_folder_of_contents_interpolation_masks_and_colour(files, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["stylize", *SMALL, "--content", str(files["contents"]), "--style", str(files["s1.png"]),
                 "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["B_stylized_s1.png", "a_stylized_s1.png"]
    both = f"{files['s1.png']},{files['s2.png']}"
    assert main(["stylize", *SMALL, "--content", str(files["a.jpg"]), "--style", both,
                 "--style-weights", "1,3", "--out", str(out / "interp")]) == 0
    assert main(["stylize", *SMALL, "--content", str(files["a.jpg"]), "--style", both,
                 "--mask", str(files["mask.png"]), "--alpha", "1,0.5", "--out", str(out / "mask")]) == 0
    assert main(["stylize", *SMALL, "--content", str(files["a.jpg"]), "--style", str(files["s1.png"]),
                 "--preserve-color", "--crop", "--out", str(out / "color")]) == 0
    assert (out / "interp" / "a_stylized_s1-s2_w1-3.png").is_file()  # settings in the name: no overwriting
    assert (out / "mask" / "a_stylized_s1-s2_mask-mask_a1-0.5.png").is_file()
    assert Image.open(out / "color" / "a_stylized_s1_keepcolor.png").size == (48, 48)


def test_a_folder_with_bad_files_and_twin_names(files, tmp_path: Path, capsys) -> None:
    """Unreadable files in a folder (the first one too) are skipped and reported (exit 2 at the end), the
    others are written and each path printed; a.jpg and a.png in one folder get names that do not collide."""
    folder = files["contents"]
    Image.effect_noise((80, 64), 60).convert("RGB").save(folder / "a.png")  # the same stem as a.jpg
    (folder / "0broken.jpg").write_text("not an image")  # sorts first
    (folder / "c.jpg").write_text("not an image")
    out = tmp_path / "out"
    assert main(["stylize", *SMALL, "--content", str(folder), "--style", str(files["s1.png"]), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == ["B_stylized_s1.png", "a_jpg_stylized_s1.png",
                                                     "a_png_stylized_s1.png"]
    assert sorted(Path(line).name for line in captured.out.split()) == sorted(p.name for p in out.iterdir())
    err = captured.err.strip().splitlines()
    assert sum(line.startswith("note: skipped") for line in err) == 2
    assert err[-1].startswith("error: 2 of 5 content images could not be used")


def test_a_style_folder_is_read_lazily_and_a_bad_style_skipped(files, tmp_path: Path, capsys) -> None:
    styles = tmp_path / "styles"
    styles.mkdir()
    for name in ("s1.png", "s2.png"):
        (styles / name).write_bytes(files[name].read_bytes())
    (styles / "zz.jpg").write_text("not an image")
    out = tmp_path / "out"
    assert main(["stylize", *SMALL, "--content", str(files["a.jpg"]), "--style", str(styles), "--out", str(out)]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["a_stylized_s1.png", "a_stylized_s2.png"]
    err = capsys.readouterr().err.strip().splitlines()
    assert any("skipped style" in line and "zz.jpg" in line for line in err)
    assert err[-1].startswith("error: 1 style images could not be used")


def test_a_content_that_does_not_fit_the_mask_is_skipped_in_a_folder(files, tmp_path: Path, capsys) -> None:
    folder = files["contents"]
    Image.effect_noise((40, 90), 50).convert("RGB").save(folder / "tall.png")  # another shape than the mask
    both = f"{files['s1.png']},{files['s2.png']}"
    out = tmp_path / "out"
    assert main(["stylize", *SMALL, "--content", str(folder), "--style", both, "--mask", str(files["mask.png"]),
                 "--out", str(out)]) == 2
    assert sorted(p.name for p in out.iterdir()) == ["B_stylized_s1-s2_mask-mask.png", "a_stylized_s1-s2_mask-mask.png"]
    err = capsys.readouterr().err
    assert "note: skipped" in err and "tall.png" in err and "another shape" in err


def _nan_weights(folder: Path) -> Path:
    from adain_lesson.decoder import make_decoder
    from adain_lesson.vgg import make_vgg

    folder.mkdir()
    dec = make_decoder().state_dict()
    dec["1.weight"][0, 0, 0, 0] = float("nan")
    torch.save(make_vgg().state_dict(), folder / "vgg_normalised.pth")
    torch.save(dec, folder / "decoder.pth")
    return folder


def test_every_bad_input_is_one_line_and_exit_2(files, tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("ADAIN_LESSON_HOME", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")
    s1, both = str(files["s1.png"]), f"{files['s1.png']},{files['s2.png']}"
    a = str(files["a.jpg"])
    cases = [
        (["--content", str(tmp_path / "nope.jpg")], "no such file"),
        (["--content", str(files["text.jpg"])], "not an image"),
        (["--content", str(files["empty.jpg"])], "empty"),
        (["--content", str(files["truncated.jpg"])], "truncated"),
        (["--content", str(files["tiny.png"]), "--content-size", "0"], "too small"),
        (["--content", a, "--style", both, "--mask", str(files["black.png"]), str(files["mask.png"])], "empty"),
        (["--content", a, "--style", both, "--mask", str(files["mask.png"])] * 1 + ["--style-weights", "1,1"],
         "not both"),
        (["--content", a, "--style", s1, "--mask", str(files["mask.png"]), str(files["mask.png"])], "2 files for 1"),
        (["--content", a, "--style", both, "--style-weights", "1"], "one per style"),
        (["--content", a, "--style", both, "--style-weights", "x,y"], "numbers"),
        (["--content", a, "--style", s1, "--alpha", "1.5"], "alpha"),
        (["--content", a, "--style", s1, "--alpha", ""], "alpha"),
        (["--content", a, "--style", s1, "--alpha", "0.2,0.5"], "needs --mask"),
        (["--content", a, "--style", both, "--mask", str(files["mask.png"]), "--alpha", "1,0.5,0.2"], "2 mask regions"),
        (["--content", a, "--style", both, "--style-weights", "0,0"], "zero"),
        (["--content", a, "--style", "sample:nope"], "unknown built-in sample"),
        (["--content", a, "--device", "cuda:0" if not torch.cuda.is_available() else "tpu"], "device"),
        (["--content", a, "--weights", str(tmp_path)], "lacks"),
        (["--content", a, "--weights", str(_nan_weights(tmp_path / "nan"))], "NaN"),
    ]
    for extra, pattern in cases:
        args = ["stylize", *SMALL, "--out", str(tmp_path / "o"), *extra]
        assert main(args) == 2, extra
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, (extra, err)
        assert __import__("re").search(pattern, err), (pattern, err)
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())  # nothing half-written


def test_offline_auto_suggests_random_weights(tmp_path: Path, monkeypatch) -> None:
    """A real process: exit status 2, one line on stderr, no traceback."""
    env = {**__import__("os").environ, "ADAIN_LESSON_HOME": str(tmp_path), "ADAIN_LESSON_OFFLINE": "1",
           "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-m", "adain_lesson", "stylize", "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "--weights random" in lines[0] and "Traceback" not in proc.stderr


def test_help_lists_the_commands(capsys) -> None:
    assert main([]) == 2
    assert "stylize" in capsys.readouterr().out


def test_batch_is_a_library_function(tmp_path: Path, random_model) -> None:
    """The stylize command's pipeline is adain_lesson.batch: a notebook can call it, and its errors name
    parameters (the CLI names flags)."""
    from adain_lesson import batch
    from adain_lesson.__main__ import as_flags
    from adain_lesson.errors import UserError

    with pytest.raises(UserError, match="^style_weights has 1 values for 2 styles") as caught:
        batch.plan_batch("sample:house", "sample:mosaic,sample:dots", style_weights=[1.0])
    assert as_flags(caught.value).startswith("--style-weights has 1 values for 2 styles")
    plan = batch.plan_batch("sample:house", "sample:mosaic", alpha=0.5, content_size=32, style_size=32)
    written = []
    report = batch.run_batch(random_model, plan, tmp_path / "out", progress=False, on_written=written.append)
    assert [p.name for p in report.written] == ["house_stylized_mosaic_a0.5.png"] == [p.name for p in written]
    assert report.problem is None and report.written[0].is_file()


def test_contents_and_styles_whose_names_would_collide_give_distinct_outputs(files, tmp_path: Path) -> None:
    """Issue 20, item 11: a.png, a.jpg and a_png.jpg (before: 2 outputs for 3 inputs, a_png.jpg overwrote a.png's
    result), the same for a folder of styles, and a name differing only in case. Names are the same on every run."""
    from adain_lesson.batch import unique_names

    contents, styles = tmp_path / "c", tmp_path / "s"
    for folder in (contents, styles):
        folder.mkdir()
        for i, name in enumerate(("a.png", "a.jpg", "a_png.jpg")):
            Image.effect_noise((64, 64), 30 + 20 * i).convert("RGB").save(folder / name)
    out = tmp_path / "out"
    assert main(["stylize", *SMALL, "--content", str(contents), "--style", str(styles), "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 9 and len({n.casefold() for n in names}) == 9
    assert "a_png_jpg_stylized_a_png.png" in names and "a_png_stylized_a_png_jpg.png" in names
    paths = [Path(n) for n in ("A.png", "a.png", "a_png.jpg", "a_png_1.png", "b.jpg")]
    first = unique_names(paths)
    assert first == unique_names(list(paths)) and len({n.casefold() for n in first}) == len(paths)
    assert first[-1] == "b"  # a name that collides with nothing stays the file's stem


def test_a_style_file_with_a_comma_in_its_name(files, tmp_path: Path, capsys) -> None:
    """Issue 20, item 11: ``my,style.png`` was split at the comma into two missing files. It is taken whole when
    it exists; when it does not, the error names the split."""
    comma = tmp_path / "my,style.png"
    comma.write_bytes(files["s1.png"].read_bytes())
    out = tmp_path / "out"
    assert main(["stylize", *SMALL, "--content", str(files["a.jpg"]), "--style", str(comma), "--out", str(out)]) == 0
    assert [p.name for p in out.iterdir()] == ["a_stylized_my,style.png"]
    capsys.readouterr()
    missing = tmp_path / "your,style.png"
    assert main(["stylize", *SMALL, "--content", str(files["a.jpg"]), "--style", str(missing),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--style was split at its commas into 2 images" in err, err
