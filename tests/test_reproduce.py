"""``python -m adain_lesson figures --fig 1 3 5 6 table1``: one command per quantitative result (Figs. 1, 3,
5, 6 and Table 1), each writing a PNG and the numbers behind it. Smoke mode: random weights, tiny sizes, a
few steps; these tests check the files, their layout and that the numbers are finite, not the paper's
findings (which random weights cannot show, and the outputs say so)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from PIL import Image

from adain_lesson import bench
from adain_lesson import evaluation as E
from adain_lesson.__main__ import main

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


def _finite(obj) -> bool:
    """Every number in a JSON value is finite (None stands for 'no value', e.g. ln of a zero loss)."""
    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_finite(v) for v in obj)
    if isinstance(obj, float):
        return math.isfinite(obj)
    return True


def _check_outputs(out: Path, printed: str, figs: dict[str, str]) -> None:
    for fig, stem in figs.items():
        png, js = out / f"{stem}.png", out / f"{stem}.json"
        assert str(png) in printed and str(js) in printed, fig
        numbers = json.loads(js.read_text())
        assert _finite(numbers), fig
        with Image.open(png) as im:
            assert im.size[0] > 100 and im.size[1] > 40, fig
        if fig != "5":  # the curves and the table also come as CSV
            with open(out / f"{stem}.csv", newline="") as f:
                rows = list(csv.DictReader(f))
            assert rows and all(v == "" or math.isfinite(float(v)) for r in rows for k, v in r.items()
                                if k not in ("set", "norm", "variant", "device")), fig


def test_figures_command_writes_figs_1_3_and_table1(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "results"
    args = ["figures", "--fig", "1", "3", "table1", "--smoke", "--out", str(out), "--device", "cpu", "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    _check_outputs(out, printed, {"1": E.QUANTITATIVE_STEMS["1"], "3": E.QUANTITATIVE_STEMS["3"],
                                  "table1": "table1_speed"})
    fig3 = json.loads((out / "fig03_losses.json").read_text())
    assert fig3["settings"]["style_loss"] == "mean_std" and fig3["iterations"][0] == 1
    table1 = json.loads((out / "table1_speed.json").read_text())
    assert [r["size"] for r in table1["rows"]] == list(bench.TABLE1_SMOKE["sizes"])
    # verdicts that need real weights are never printed as findings
    assert "Fig. 1: not checked: random weights" in printed and "not meaningful in smoke mode" in printed


def test_figures_command_writes_figs_5_and_6_and_reuses_the_runs(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "results"
    args = ["figures", "--fig", "5", "6", "--smoke", "--out", str(out), "--device", "cpu", "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    _check_outputs(out, printed, {"5": E.QUANTITATIVE_STEMS["5"], "6": E.QUANTITATIVE_STEMS["6"]})
    fig5 = json.loads((out / "fig05_ablation_samples.json").read_text())
    assert fig5["figure"] == "5" and fig5["columns"][2:6] == list(E.ABLATION_VARIANTS)
    with Image.open(out / "fig05_ablation_samples.png") as im:  # the grid's layout, with its title strip
        h, w = fig5["tile"]
        assert im.size == (fig5["cols"] * w + (fig5["cols"] + 1) * fig5["padding"],
                           fig5["title_height"] + fig5["rows"] * h + (fig5["rows"] + 1) * fig5["padding"])
    fig6 = json.loads((out / "fig06_training_curves.json").read_text())
    assert fig6["checks"]["verdict"] == "not checked: random weights" and "Fig. 6: not checked" in printed
    assert set(fig6["final"]) == set(E.ABLATION_VARIANTS)
    # the four training runs are kept and reused: a second Fig. 6 trains nothing
    assert main(["figures", "--fig", "6", "--smoke", "--out", str(out), "--device", "cpu", "--no-progress"]) == 0
    assert capsys.readouterr().err.count("nothing to train") == len(E.ABLATION_VARIANTS)


def test_bad_quantitative_options_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base = ["figures", "--smoke", "--out", str(tmp_path / "o"), "--device", "cpu"]
    assert main([*base, "--fig", "2"]) == 2
    assert "table1" in capsys.readouterr().err
    assert main([*base, "--fig", "6", "--iterations", "0"]) == 2
    assert "--iterations" in capsys.readouterr().err
    assert main([*base, "--fig", "6", "--content-dir", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --content-dir") and err.count("\n") == 1


def test_fig1_check_and_the_plots_say_random_weights() -> None:
    import matplotlib.pyplot as plt

    result = {"curves": {n: {"batch": [2.0, 1.5], "instance": [1.0, 0.5]} for n in E.FIG1_TITLES},
              "ratio_bn_over_in": {"original": 3.0, "contrast_normalized": 2.0, "style_normalized": 1.2},
              "settings": {"weights": "random"}}
    assert E.fig1_check(result, random_weights=False)["claims"][0]["holds"] is True
    smoke = E.fig1_check(result, random_weights=True)
    assert smoke["verdict"] == "not checked: random weights" and smoke["claims"][0]["holds"] is None
    fig = E.plot_fig1(result)
    assert all("random weights" in ax.get_title() for ax in fig.axes)
    # our step count and log scale are flagged as ours against the paper's 5000 iterations on linear axes
    assert all("ours: 2" in ax.get_xlabel() and "5000" in ax.get_xlabel() for ax in fig.axes)
    assert fig.axes[0].get_yscale() == "log" and "(ours)" in fig.axes[0].get_ylabel()
    plt.close(fig)
    rows = [{"size": 32, "without_style_s": 0.01, "with_style_s": 0.02, "gatys_500_s": 5.0,
             "paper_without_s": None, "paper_with_s": None, "paper_gatys_s": None, "device": "cpu"}]
    fig = bench.plot_table1(rows, random_weights=True)
    assert "random weights" in fig.axes[0].get_title()
    plt.close(fig)


_TINY_FULL = {"fig1_size": 32, "fig1_crops": 1, "fig1_steps": 2, "fig1_batch": 2, "fig1_width": 4,
              "fig3_size": 32, "fig3_gatys_steps": 2, "fig3_every": 1, "fig3_texture_steps": 1,
              "fig3_texture_batch": 2, "fig3_texture_width": 4,
              "ablation_load": 40, "ablation_crop": 32, "ablation_batch": 2, "ablation_iterations": 2,
              "ablation_log_every": 1, "ablation_checkpoint_every": 2, "fig5_size": 32}


@pytest.fixture
def full_mode_tiny(shared_repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Full mode's inputs (the paper's images, from the shared mirror) at tiny sizes and step counts, with
    random weights: the full-mode code path without a GPU or the network."""
    from adain_lesson.gatys import gatys_encoder
    from adain_lesson.model import load_pretrained

    monkeypatch.setenv("ADAIN_LESSON_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(E, "_FULL", _TINY_FULL)
    monkeypatch.setattr(E, "_FIG3_STYLES", ("asheville.jpg",))
    return load_pretrained("random", "cpu"), gatys_encoder("random", "cpu"), shared_repo


def test_full_mode_inputs_of_figs_1_and_3(full_mode_tiny, tmp_path: Path) -> None:
    model, vgg, shared = full_mode_tiny
    paths, _ = E.reproduce("3", model, vgg, tmp_path / "o", smoke=False, weights="random", progress=False,
                           mirror=shared.parent)
    fig3 = json.loads(paths[1].read_text())
    assert fig3["pairs"] == 11 and fig3["settings"]["size"] == [32, 32]  # the 11 contents of the repository
    paths, lines = E.reproduce("1", model, vgg, tmp_path / "o", smoke=False, weights="random", progress=False,
                               mirror=shared.parent)
    fig1 = json.loads(paths[1].read_text())
    assert fig1["settings"]["contents"] == 11 and "not checked: random weights" in lines[0]


def test_full_mode_fig5_trains_on_given_folders(full_mode_tiny, tmp_path: Path) -> None:
    model, vgg, shared = full_mode_tiny
    folders = dict(content_dir=str(shared / "input" / "content"), style_dir=str(shared / "input" / "style"))
    paths, _ = E.reproduce("5", model, vgg, tmp_path / "o", smoke=False, weights="random", progress=False,
                           mirror=shared.parent, **folders)
    settings = json.loads(paths[1].read_text())
    assert settings["rows"] == 3 and settings["columns"][-1] == "random decoder"  # the paper's three pairs
    assert sorted(p.name for p in (tmp_path / "o" / "runs").iterdir()) == sorted(E.ABLATION_VARIANTS)


def test_the_library_checks_every_option_before_any_weight_loads(tmp_path: Path, monkeypatch) -> None:
    """``reproduce`` is the ``figures`` command without its flags: its errors name parameters (the CLI maps
    them to flags), and each comes before an input is read or a weight is loaded."""
    from adain_lesson import reproduce as R
    from adain_lesson.errors import UserError

    def no_loading(*args, **kwargs):
        raise AssertionError("loaded weights before checking the options")

    monkeypatch.setattr(R, "load_pretrained", no_loading)
    monkeypatch.setattr(R.figures, "load_inputs", no_loading)
    (tmp_path / "o" / "fig07_alpha_tradeoff.png").mkdir(parents=True)
    cases = [
        (dict(wanted=["11"]), ("fig",), "unknown figure '11' for fig"),
        (dict(wanted=["4"], size=4), ("size",), "size 4 is too small"),
        (dict(wanted=["4"], mask=str(tmp_path / "m.png")), ("mask",), "mask: no such file"),
        (dict(wanted=["6"], iterations=0), ("iterations",), "iterations must be at least 1"),
        (dict(wanted=["6"], style_dir=str(tmp_path / "none")), ("style_dir",), "style_dir: no such folder"),
        (dict(wanted=["4", "7"]), ("out",), "it is a folder; choose another out folder"),
    ]
    for kwargs, params, message in cases:
        with pytest.raises(UserError) as caught:
            R.reproduce(out_dir=tmp_path / "o", smoke=True, device="cpu", **kwargs)
        assert caught.value.params == params and message in str(caught.value) and "--" not in str(caught.value)
    (tmp_path / "m.png").write_bytes(b"")
    with pytest.raises(UserError) as caught:
        R.reproduce(["4"], tmp_path / "o2", smoke=True, mask=str(tmp_path / "m.png"))
    assert caught.value.params == ("mask", "fig") and "add fig 10" in str(caught.value)
    assert R.wanted_results(["7", "all", "7"]) == list(R.KNOWN)
    assert R.wanted_results(["table1", "4", "table1"]) == ["table1", "4"]
