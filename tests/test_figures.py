"""The figure code (adain_lesson.figures) shared by notebooks 04/06 and
 ``python -m adain_lesson figures`` (Figs. 4, 7-10).

Random weights at tiny sizes: these tests check layouts, the weights of Eq. 15, the mechanics of Eq. 14
and the handling of bad masks, not what a stylization looks like.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from PIL import Image

from adain_lesson import bench, device
from adain_lesson import figures as FG
from adain_lesson.__main__ import main
from adain_lesson.errors import UserError
from adain_lesson.figures import label_height
from adain_lesson.images import sample_image, split_mask
from adain_lesson.model import load_pretrained

ROOT = Path(__file__).resolve().parents[1]
from conftest import SHARED  # noqa: E402 - the one definition of where ../shared is

S = 32  # shorter side of the test images: 4 x 4 feature positions at relu4_1


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return load_pretrained("random", "cpu")


@pytest.fixture(scope="module")
def content():
    return sample_image("house", S)  # 32 x 43


@pytest.fixture(scope="module")
def styles():
    return [sample_image(n, S) for n in ("stripes", "mosaic", "waves", "dots")]


def _check_layout(img: torch.Tensor, settings: dict, rows: int, cols: int, tile: tuple[int, int]) -> None:
    lay = settings["layout"]
    assert (lay["rows"], lay["cols"]) == (rows, cols)
    assert tuple(lay["tile"]) == tile
    p = lay["padding"]
    title = lay["title_height"]  # the strip that says "random weights" (these tests use random weights)
    assert title > 0 and "random weights" in settings.get("title", "random weights")
    assert img.shape == (3, title + rows * tile[0] + (rows + 1) * p, cols * tile[1] + (cols + 1) * p)
    assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0
    json.dumps(settings)  # JSON-ready


def _top(ref: torch.Tensor) -> torch.Tensor:
    """A reference image cut like :func:`_tile`: without the rows its label strip would cover."""
    h = ref.shape[-2]
    return ref[..., : h - label_height(h), :]


def _tile(img: torch.Tensor, settings: dict, r: int, c: int) -> torch.Tensor:
    """Tile (r, c) of a figure, above its label strip (the label is drawn on the tile's bottom edge)."""
    (h, w), p = settings["layout"]["tile"], settings["layout"]["padding"]
    top, left = settings["layout"]["title_height"] + p + r * (h + p), p + c * (w + p)
    return img[:, top : top + h - label_height(h), left : left + w]


def _ref(model, content, style, **kw) -> torch.Tensor:
    with torch.inference_mode():
        return model.stylize(content, style, **kw)[0].clamp(0, 1)


# ------------------------------------------------------------------------------------------------
# Eq. 15: bilinear weights
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 5])
def test_bilinear_weights_are_one_hot_at_corners_and_sum_to_one(n: int) -> None:
    w = FG.bilinear_weights(n)
    assert w.shape == (n, n, 4)
    assert (w >= 0).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(n, n, dtype=w.dtype))
    eye = torch.eye(4, dtype=w.dtype)
    for k, (i, j) in enumerate([(0, 0), (0, n - 1), (n - 1, 0), (n - 1, n - 1)]):
        torch.testing.assert_close(w[i, j], eye[k])
    if n == 5:
        torch.testing.assert_close(w[2, 2], torch.full((4,), 0.25, dtype=w.dtype))
        torch.testing.assert_close(w[0, 2], torch.tensor([0.5, 0.5, 0, 0], dtype=w.dtype))  # top edge: 2 styles


def test_bilinear_weights_reject_a_degenerate_grid() -> None:
    with pytest.raises(UserError, match="at least 2"):
        FG.bilinear_weights(1)


# ------------------------------------------------------------------------------------------------
# Figure layouts and what the tiles hold
# ------------------------------------------------------------------------------------------------


def test_fig7_layout_and_alpha_ends(model, content, styles) -> None:
    img, st = FG.fig7_tradeoff(model, content, styles[1])
    _check_layout(img, st, 1, 6, (S, 43))
    assert st["alphas"] == [0.0, 0.25, 0.5, 0.75, 1.0]
    with torch.inference_mode():  # alpha = 0: the decoder's reconstruction g(f(c)) (Eq. 14)
        recon = model.decode(model.encode(content), (S, 43))[0].clamp(0, 1)
    torch.testing.assert_close(_tile(img, st, 0, 0), _top(recon), atol=1e-4, rtol=0)
    torch.testing.assert_close(_tile(img, st, 0, 4), _top(_ref(model, content, styles[1])), atol=1e-4, rtol=0)
    assert not torch.allclose(_tile(img, st, 0, 0), _tile(img, st, 0, 4), atol=1e-2)


def test_fig8_layout_and_corners_are_single_styles(model, content, styles) -> None:
    img, st = FG.fig8_interpolation(model, content, styles, n=3)  # the CLI test makes the full 5 x 5
    _check_layout(img, st, 3, 5, (S, 43))
    # cells sit in columns 1..n; the corner cells are each style alone (Eq. 15 with one-hot weights)
    for k, (r, c) in enumerate([(0, 1), (0, 3), (2, 1), (2, 3)]):
        torch.testing.assert_close(_tile(img, st, r, c), _top(_ref(model, content, styles[k])), atol=1e-4, rtol=0)
    # the centre is the equal mix, as model.stylize computes it
    torch.testing.assert_close(_tile(img, st, 1, 2), _top(_ref(model, content, styles, weights=[1, 1, 1, 1])),
                               atol=1e-4, rtol=0)
    # style images beside the corners, blanks (white) beside the middle row
    assert torch.all(_tile(img, st, 1, 0) == 1.0) and torch.all(_tile(img, st, 1, 4) == 1.0)
    assert not torch.all(_tile(img, st, 0, 0) == 1.0)


def test_fig8_needs_four_styles(model, content, styles) -> None:
    with pytest.raises(UserError, match="four styles"):
        FG.fig8_interpolation(model, content, styles[:3])


def test_fig9_layout_and_colour_preservation_changes_the_result(model, content, styles) -> None:
    img, st = FG.fig9_preserve_color(model, content, styles[2])
    _check_layout(img, st, 1, 4, (S, 43))
    torch.testing.assert_close(_tile(img, st, 0, 0), _top(content), atol=1e-5, rtol=0)
    assert not torch.allclose(_tile(img, st, 0, 2), _tile(img, st, 0, 3), atol=1e-2)


def test_content_style_grid_layout(model, styles) -> None:
    contents = [sample_image("house", S), sample_image("mountains", S)]
    img, st = FG.content_style_grid(model, contents, styles[:3])
    _check_layout(img, st, 3, 4, (S, 43))
    assert torch.all(_tile(img, st, 0, 0) == 1.0)  # the empty corner
    torch.testing.assert_close(_tile(img, st, 2, 3), _top(_ref(model, contents[1], styles[2])), atol=1e-4, rtol=0)


def test_fig10_layout_and_mask_regions(model, content, styles) -> None:
    mask = split_mask("left", S, 43)
    img, st = FG.fig10_spatial(model, content, mask, styles[:2])
    _check_layout(img, st, 1, 5, (S, 43))
    torch.testing.assert_close(_tile(img, st, 0, 1)[0], _top(mask))  # the mask tile shows the mask
    # swapping the styles and inverting the mask gives the same picture
    img2, st2 = FG.fig10_spatial(model, content, 1.0 - mask, styles[1::-1])
    torch.testing.assert_close(_tile(img, st, 0, 4), _tile(img2, st2, 0, 4), atol=1e-4, rtol=0)


def test_fig10_wrong_size_mask_is_resized_with_a_message(model, content, styles) -> None:
    mask = split_mask("left", 2 * S, 2 * 43)
    with pytest.warns(UserWarning, match="resized"):
        img, st = FG.fig10_spatial(model, content, mask, styles[:2])
    _check_layout(img, st, 1, 5, (S, 43))
    assert st["mask_size"] == [2 * S, 2 * 43]


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (torch.zeros(S, 43), "empty"),
        (torch.ones(S, 43), "all white"),
        (split_mask("left", S, 43) * 255.0, r"\[0, 1\]"),
        (split_mask("left", S, 43) - 0.5, r"\[0, 1\]"),
        (torch.full((S, 43), float("nan")), "NaN"),
    ],
    ids=["empty", "full", "0-255", "negative", "nan"],
)
def test_fig10_bad_masks_give_one_clear_line(model, content, styles, mask, message) -> None:
    with pytest.raises(UserError, match=message) as info:
        FG.fig10_spatial(model, content, mask, styles[:2])
    assert "\n" not in str(info.value)


def test_fig10_region_too_small_for_the_features(model, content, styles) -> None:
    mask = torch.zeros(S, 43)
    mask[:3, :3] = 1.0  # a few pixels: under 2 feature positions of 8 x 8 px
    with pytest.raises(UserError, match="feature positions"):
        FG.fig10_spatial(model, content, mask, styles[:2])


# ------------------------------------------------------------------------------------------------
# Beyond the paper
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("softness", [0.0, 0.3])
def test_band_masks_partition_the_image(softness: float) -> None:
    m = FG.band_masks(3, 20, 30, softness=softness)
    assert m.shape == (3, 20, 30)
    torch.testing.assert_close(m.sum(0), torch.ones(20, 30))
    soft = bool(((m > 1e-3) & (m < 1 - 1e-3)).any())
    assert soft == (softness > 0)
    assert m[0, :, 0].min() > 0.5 and m[2, :, -1].min() > 0.5  # first band left, last band right


def test_regions_figure_three_regions_and_alpha_per_region(model, content, styles) -> None:
    masks = FG.band_masks(3, S, 43, softness=0.2)
    img, st = FG.regions_figure(model, content, styles[:3], masks, alpha=[1.0, 0.5, 1.0])
    _check_layout(img, st, 1, 6, (S, 43))
    assert st["regions"] == 3 and st["soft_masks"] is True and st["alpha"] == [1.0, 0.5, 1.0]
    # alpha 0 in every region gives back the content reconstruction (Eq. 14 per region)
    img0, st0 = FG.regions_figure(model, content, styles[:3], FG.band_masks(3, S, 43), alpha=[0.0, 0.0, 0.0])
    with torch.inference_mode():
        recon = model.decode(model.encode(content), (S, 43))[0].clamp(0, 1)
    torch.testing.assert_close(_tile(img0, st0, 0, 5), _top(recon), atol=1e-4, rtol=0)
    with pytest.raises(UserError, match="alpha"):
        FG.regions_figure(model, content, styles[:3], masks, alpha=[1.0, 0.5])


def test_regions_figure_rejects_mismatched_masks(model, content, styles) -> None:
    with pytest.raises(UserError, match="one mask per style"):
        FG.regions_figure(model, content, styles[:3], FG.band_masks(2, S, 43))


# ------------------------------------------------------------------------------------------------
# Inputs, dispatcher, timing
# ------------------------------------------------------------------------------------------------


def test_smoke_inputs_and_the_dispatcher(model) -> None:
    for fig in FG.FIGURES:  # every figure's inputs exist offline (the figures themselves are tested above)
        inputs = FG.load_inputs(fig, smoke=True, size=S)
        assert ("content" in inputs) != ("contents" in inputs) and ("style" in inputs) != ("styles" in inputs)
        assert ("mask" in inputs) == (fig == "10")
    inputs = FG.load_inputs("regions", smoke=True, size=S)
    img, st = FG.make_figure("regions", model, inputs)
    assert st["weights"] == "random" and st["inputs"] == inputs["names"]
    _check_layout(img, st, 1, 6, (S, 43))
    with pytest.raises(UserError, match="unknown figure"):
        FG.load_inputs("11", smoke=True)


def test_time_stylization_rows(model) -> None:
    rows = bench.time_stylization(model, sizes=(S,), runs=2, warmup=0)
    assert len(rows) == 1 and rows[0]["size"] == S and rows[0]["paper_with_s"] is None
    assert rows[0]["with_style_s"] > 0 and rows[0]["without_style_s"] > 0
    assert bench.PAPER_TABLE1_MS[512] == (65.0, 98.0) and rows[0]["device"] == "cpu"
    with pytest.raises(UserError, match="runs"):
        bench.time_stylization(model, sizes=(S,), runs=0)


# ------------------------------------------------------------------------------------------------
# The CLI
# ------------------------------------------------------------------------------------------------


def test_cli_figures_writes_png_and_json_for_7_to_10(tmp_path: Path, capsys) -> None:
    out = tmp_path / "figs"
    assert main(["figures", "--smoke", "--size", str(S), "--out", str(out), "--device", "cpu"]) == 0
    captured = capsys.readouterr()
    printed = captured.out
    for fig in ("7", "8", "9", "10"):
        stem = FG.FIGURE_STEMS[fig]
        png, js = out / f"{stem}.png", out / f"{stem}.json"
        assert str(png) in printed and str(js) in printed
        settings = json.loads(js.read_text())
        assert settings["figure"] == fig and settings["weights"] == "random"
        lay = settings["layout"]
        h, w = lay["tile"]
        with Image.open(png) as im:
            assert im.size == (lay["cols"] * w + (lay["cols"] + 1) * lay["padding"],
                               lay["title_height"] + lay["rows"] * h + (lay["rows"] + 1) * lay["padding"])
    assert "RANDOM WEIGHTS" in captured.err and "RANDOM" not in printed
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))  # atomic writes leave nothing behind


def _mask_png(path: Path, value: int, size: tuple[int, int]) -> Path:
    Image.new("L", size, value).save(path)
    return path


def test_cli_mask_of_another_size_is_resized_and_another_shape_refused(tmp_path: Path, capsys) -> None:
    args = ["figures", "--smoke", "--fig", "10", "--size", str(S), "--out", str(tmp_path / "o")]
    m = torch.zeros(100, 60)  # portrait 3:5, the smoke content (grace_hopper) is 32x38: another shape
    m[:, :30] = 1.0
    Image.fromarray((m * 255).byte().numpy()).save(tmp_path / "m.png")
    assert main([*args, "--mask", str(tmp_path / "m.png")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: the mask is 60x100 but the content is") and "make the mask" in err
    assert "Traceback" not in err
    m = torch.zeros(76, 64)  # the content's shape at twice its size: resized, with a note
    m[:, :32] = 1.0
    Image.fromarray((m * 255).byte().numpy()).save(tmp_path / "m2.png")
    assert main([*args, "--mask", str(tmp_path / "m2.png")]) == 0
    err = capsys.readouterr().err
    assert "note:" in err and "resized" in err
    assert json.loads((tmp_path / "o" / "fig10_spatial_control.json").read_text())["mask_size"] == [76, 64]


@pytest.mark.parametrize("case", ["fig", "empty-mask", "missing-mask", "size"])
def test_cli_bad_input_exits_2_with_one_line(tmp_path: Path, capsys, case: str) -> None:
    args = ["figures", "--smoke", "--size", str(S), "--out", str(tmp_path / "o")]
    if case == "fig":
        args += ["--fig", "11"]
    elif case == "empty-mask":
        args += ["--fig", "10", "--mask", str(_mask_png(tmp_path / "black.png", 0, (43, S)))]
    elif case == "missing-mask":
        args += ["--fig", "10", "--mask", str(tmp_path / "nope.png")]
    else:
        args = ["figures", "--smoke", "--size", "4", "--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert not (tmp_path / "o" / "fig10_spatial_control.png").exists()


# ------------------------------------------------------------------------------------------------
# The paper's own images (../shared); skipped on a fresh clone
# ------------------------------------------------------------------------------------------------

needs_shared = pytest.mark.skipif(not (SHARED / "MANIFEST.tsv").is_file(), reason="../shared/adain-style-repo absent")


@needs_shared
def test_paper_inputs_for_fig10_from_the_shared_mirror(model, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("ADAIN_LESSON_HOME", str(tmp_path / "cache"))
    inputs = FG.load_inputs("10", smoke=False, size=64, mirror=SHARED.parent)
    assert inputs["names"]["styles"] == ["woman_in_peasant_dress_cropped.jpg", "mondrian_cropped.jpg"]
    h, w = inputs["content"].shape[-2:]
    assert (h, w) == (85, 64) and inputs["mask"].shape == (h, w)  # blonde_girl is 600 x 800
    assert 0.2 < float(inputs["mask"].mean()) < 0.8  # the figure and the background both present
    img, st = FG.make_figure("10", model, inputs)
    _check_layout(img, st, 1, 5, (85, 64))


@needs_shared
def test_cli_paper_mask_on_a_smoke_content_of_another_shape_is_refused(tmp_path: Path, capsys) -> None:
    """The paper's 3:4 mask does not fit the built-in 5:6 content: one line with the fix, before any work."""
    rc = main(["figures", "--smoke", "--fig", "10", "--size", str(S), "--out", str(tmp_path / "o"),
               "--mask", str(SHARED / "input" / "mask" / "mask.png")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: the mask is 600x800") and "another shape" in err and "\n" not in err
    assert not (tmp_path / "o").exists()


def test_show_figures_stacks_wide_images_at_their_aspect() -> None:
    plt = pytest.importorskip("matplotlib.pyplot")
    wide, tall = torch.rand(3, 10, 60), torch.rand(3, 40, 20)
    fig = FG.show_figures([wide, tall], ["wide", "tall"], width=6.0)
    try:
        assert len(fig.axes) == 2
        w, h = fig.get_size_inches()
        assert w == 6.0 and h == pytest.approx(6.0 * (10 / 60 + 40 / 20) + 1.0)
    finally:
        plt.close(fig)
    with pytest.raises(UserError):
        FG.show_figures([], [])


def test_median_seconds_warms_up_and_takes_the_median() -> None:
    calls = []

    def fn() -> None:
        calls.append(torch.is_inference_mode_enabled())

    assert device.median_seconds(fn, "cpu", runs=3, warmup=2) >= 0.0
    assert calls == [True] * 5  # 2 untimed + 3 timed calls, all in inference mode
    with pytest.raises(UserError, match="runs must be >= 1"):
        device.median_seconds(fn, "cpu", runs=0)


# ------------------------------------------------------------------------------------------------
# Labels on the tiles, "random weights" in the title
# ------------------------------------------------------------------------------------------------


def test_a_tile_label_is_drawn_on_the_tile_where_the_label_is() -> None:
    tiles = [sample_image("house", 48)[:, :48, :48], sample_image("mosaic", 48)[:, :48, :48]]
    plain, lay0 = FG.tile_grid(tiles, cols=2)
    labelled, lay1 = FG.tile_grid(tiles, cols=2, labels=["alpha=0.5", None])
    assert labelled.shape == plain.shape and lay1["labels"] == ["alpha=0.5", ""]
    p, lh = lay0["padding"], label_height(48)
    diff = (labelled - plain).abs().amax(0)  # [H, W]
    strip = diff[p + 48 - lh : p + 48, p : p + 48]  # the bottom strip of the first tile
    assert float(strip.max()) > 0.5  # the label is there, in black on white
    rest = diff.clone()
    rest[p + 48 - lh : p + 48, p : p + 48] = 0
    assert float(rest.max()) == 0.0  # and nowhere else: the unlabelled tile and the grid are untouched
    with pytest.raises(UserError, match="one label per tile"):
        FG.tile_grid(tiles, cols=2, labels=["only one"])


def test_figures_with_random_weights_say_so_in_their_title_and_label_their_tiles(model, content, styles) -> None:
    img, st = FG.fig7_tradeoff(model, content, styles[1], names={"inputs": {"style": "mosaic.png"}})
    lay = st["layout"]
    assert lay["labels"] == ["alpha=0", "alpha=0.25", "alpha=0.5", "alpha=0.75", "alpha=1", "mosaic"]
    title = img[:, : lay["title_height"], :]
    assert lay["title_height"] > 0 and float(title.min()) < 0.5  # text in the strip above the tiles
    assert FG.random_title(model, "7") == "Fig. 7: random weights (mechanics only)"
    img, st = FG.content_style_grid(model, [content], styles[:2],
                                    names={"inputs": {"contents": ["house"], "styles": ["a.jpg", "b.jpg"]}})
    assert st["layout"]["labels"] == ["", "a", "b", "house", "", ""]
