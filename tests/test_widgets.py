"""Headless tests of the playground (the engine, adain_lesson.playground, and its UI, adain_lesson.widgets):
the widget tree is built, and its callbacks
are driven directly, as the browser would (set a slider, pick a style, upload bytes), with ipywidgets 8
or 7.7.1 (the upload helper below speaks both formats)."""

from __future__ import annotations

import asyncio
import io
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import torch
from PIL import Image

from adain_lesson import images
from adain_lesson.errors import UserError
from adain_lesson.playground import (
    MAX_STYLES,
    Debouncer,
    PlaygroundEngine,
    Settings,
    default_size,
    parse_upload,
)
from adain_lesson.widgets import Playground

W = pytest.importorskip("ipywidgets")
MAJOR = int(W.__version__.split(".")[0])
SIZE = 32  # small: the tests check behaviour, not looks


@pytest.fixture()
def model(random_model):
    """The session's random-weight model (tests/conftest.py); monkeypatching it is undone after each test."""
    return random_model


@pytest.fixture()
def pg(model) -> Playground:
    return Playground(model, size=SIZE, debounce_s=0)


@pytest.fixture()
def counted(model, monkeypatch):
    """Count calls of model.encode_style (the style encoder that the cache should spare)."""
    calls = []
    original = model.encode_style

    def counting(style):
        calls.append(tuple(style.shape))
        return original(style)

    monkeypatch.setattr(model, "encode_style", counting)
    return calls


def png(width: int = 96, height: int = 80, seed: int = 0, mode: str = "RGB") -> bytes:
    """A real PNG file's bytes: a random-coloured gradient."""
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(3, 1, 1, generator=g)
    ramp = torch.linspace(0, 1, width).view(1, 1, width).expand(3, height, width)
    img = images.to_pil((base * 0.5 + 0.5 * ramp).clamp(0, 1))
    buf = io.BytesIO()
    img.convert(mode).save(buf, format="PNG")
    return buf.getvalue()


def upload(widget, name: str, data: bytes) -> None:
    """Do what the browser does when a file is chosen in a FileUpload, for ipywidgets 8 or 7."""
    if MAJOR >= 8:
        widget.value = ({"name": name, "type": "image/png", "size": len(data), "content": memoryview(data),
                         "last_modified": datetime.now(timezone.utc)},)
    else:
        widget.metadata = [{"name": name, "type": "image/png", "size": len(data), "lastModified": 0}]
        widget.data = [data]
        widget._counter += 1


def walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from walk(child)


# --------------------------------------------------------------------------------------------------
# The upload formats of both ipywidgets majors (no 7.x install needed)
# --------------------------------------------------------------------------------------------------


def test_parse_upload_reads_the_ipywidgets_7_format() -> None:
    data = png()
    value = {"a.png": {"metadata": {"name": "a.png", "type": "image/png", "size": len(data)}, "content": data}}
    assert parse_upload(value) == [("a.png", data)]


def test_parse_upload_reads_the_ipywidgets_8_format() -> None:
    data = png()
    value = ({"name": "b.png", "type": "image/png", "size": len(data), "content": memoryview(data),
              "last_modified": 1},)
    files = parse_upload(value)
    assert files == [("b.png", data)] and isinstance(files[0][1], bytes)


def test_parse_upload_empty_and_junk() -> None:
    assert parse_upload({}) == [] and parse_upload(()) == [] and parse_upload(None) == []
    with pytest.raises(UserError):
        parse_upload(42)
    with pytest.raises(UserError):
        parse_upload(({"name": "x.png"},))  # no content


# --------------------------------------------------------------------------------------------------
# The widget tree
# --------------------------------------------------------------------------------------------------


def test_widget_tree_holds_every_control(pg: Playground) -> None:
    tree = list(walk(pg.widget))
    wanted = [pg.content, pg.content_upload, pg.alpha, pg.preserve_color, pg.mask, pg.softness, pg.mask_upload,
              pg.size, pg.style_upload, pg.result, pg.timing, pg.message, pg.save_path, pg.save_button,
              *pg.style_sources, *pg.weights]
    for w in wanted:
        assert any(w is t for t in tree), w
    assert len(pg.style_sources) == len(pg.weights) == MAX_STYLES
    assert sum(isinstance(t, W.FileUpload) for t in tree) == 3
    assert "RANDOM WEIGHTS" in pg.banner.value  # random weights are announced
    assert pg.size.value == SIZE and SIZE in pg.size.options


def test_controls_carry_the_classes_a_page_finds_them_by(pg: Playground) -> None:
    """tests/test_browser.py finds the controls by these CSS classes, in any language."""
    assert "adain-playground" in pg.widget._dom_classes
    for name in ("alpha", "preserve_color", "mask", "result", "timing", "message"):
        assert f"adain-{name.replace('_', '-')}" in getattr(pg, name)._dom_classes
    assert [s._dom_classes for s in pg.style_sources] == [(f"adain-style-{i}",) for i in range(1, MAX_STYLES + 1)]


def test_labels_speak_the_readers_language(model, monkeypatch) -> None:
    from adain_lesson import i18n

    monkeypatch.setattr(i18n, "_current", "ko")
    ko = Playground(model, size=SIZE, debounce_s=0)
    assert ko.alpha.description == "α (식 14)" and ko.preserve_color.description == "색 보존 (그림 9)"
    assert ko.style_sources[1].description == "스타일 2"
    assert ko.style_sources[0].options[0][0] == "(없음)" and "(내장)" in ko.style_sources[0].options[1][0]
    assert [label for label, _ in ko.mask.options[:2]] == ["없음", "왼쪽 | 오른쪽"]
    assert [key for _, key in ko.mask.options] == [key for _, key in Playground(model, size=SIZE).mask.options]
    ko.update_now()
    assert ko.timing.value.startswith("결과 1:") and "ms" in ko.timing.value
    monkeypatch.setattr(i18n, "_current", "en")
    en = Playground(model, size=SIZE, debounce_s=0)
    assert en.alpha.description == "α (Eq. 14)" and en.style_sources[0].options[0][0] == "(none)"


def test_the_timing_readout_counts_results(pg: Playground) -> None:
    """Each new result changes the readout (the browser tier waits for that), even at the same speed."""
    pg.update_now()
    first = pg.timing.value
    pg.set(alpha=0.3)
    pg.update_now()
    assert first.startswith("result 1:") and pg.timing.value.startswith("result 2:")
    pg.update_now()  # nothing changed: no new result, the same readout
    assert pg.timing.value.startswith("result 2:")
    assert [s.value for s in pg.style_sources] == ["sample:mosaic", "", "", ""]


def test_default_size_is_small_on_cpu_and_paper_size_on_gpu() -> None:
    assert default_size("cpu") == 256
    assert default_size("cuda") == 512


def test_paper_images_are_offered_in_full_mode(model) -> None:
    engine = PlaygroundEngine(model, paper_images=True)
    assert "paper:chicago.jpg" in dict(engine.choices("content")).values()
    assert "paper:asheville.jpg" in dict(engine.choices("style")).values()
    assert "paper:mask.png" in dict(engine.choices("mask")).values()
    assert engine.default("content") == "paper:chicago.jpg"
    assert "paper:chicago.jpg" not in dict(PlaygroundEngine(model).choices("content")).values()


# --------------------------------------------------------------------------------------------------
# Driving the callbacks
# --------------------------------------------------------------------------------------------------


def test_alpha_changes_the_output_without_re_encoding_the_style(pg: Playground, counted) -> None:
    first = pg.update_now()
    assert first is not None and pg.result.value, pg.message.value
    assert len(counted) == 1
    before = pg.result.value
    pg.alpha.value = 0.3  # the observer renders (debounce_s=0)
    assert pg.last.settings.alpha == 0.3
    assert pg.result.value != before
    assert not torch.equal(pg.last.image, first.image)
    assert len(counted) == 1, "moving alpha must reuse the cached style statistics"
    assert "ms" in pg.timing.value and "1 from cache" in pg.timing.value
    pg.alpha.value = 0.6
    pg.alpha.value = 0.3  # back to a rendered state: equal settings, same picture
    assert len(counted) == 1


def test_alpha_zero_ignores_the_style(pg: Playground) -> None:
    """Eq. 14 with alpha = 0 is g(f(c)): the style no longer matters."""
    pg.alpha.value = 0.0
    a = pg.last.image
    pg.style_sources[0].value = "sample:waves"
    assert pg.last.settings.styles[0] == "sample:waves"
    assert torch.allclose(pg.last.image, a, atol=1e-5)


def test_adding_a_style_interpolates_and_a_zero_weight_drops_it(pg: Playground, counted) -> None:
    one = pg.update_now().image
    pg.style_sources[1].value = "sample:waves"  # add a second style (Eq. 15)
    two = pg.last.image
    assert pg.last.settings.styles[:2] == ("sample:mosaic", "sample:waves")
    assert not torch.allclose(one, two, atol=1e-3)
    assert len(counted) == 2
    pg.weights[1].value = 0.0  # weight 0: the result is the first style alone again
    assert torch.allclose(pg.last.image, one, atol=1e-5)
    pg.weights[0].value = 0.0  # all weights zero: a message, not a crash
    assert "all style weights are zero" in pg.message.value
    assert len(counted) == 2


def test_upload_of_a_real_png_becomes_the_content(pg: Playground) -> None:
    pg.update_now()
    before = pg.result.value
    upload(pg.content_upload, "my photo.png", png(120, 90))
    assert pg.content.value.startswith("upload:") and pg.content.value.endswith("my photo.png")
    assert "my photo.png (uploaded)" in [label for label, _ in pg.content.options]
    assert pg.result.value != before
    h, w = pg.last.image.shape[-2:]
    assert min(h, w) == SIZE and w > h  # the upload's 4:3 landscape shape, at the output size
    assert "uploaded my photo.png" in pg.message.value


def test_upload_of_a_style_fills_the_first_free_slot(pg: Playground, counted) -> None:
    pg.update_now()
    upload(pg.style_upload, "texture.png", png(100, 100, seed=3, mode="L"))  # greyscale works too
    assert pg.style_sources[1].value.endswith("texture.png")
    assert pg.style_sources[0].value == "sample:mosaic"  # kept when the options were replaced
    assert len(pg.last.settings.styles) == MAX_STYLES and pg.last.encoded == 1
    assert any(label.startswith("texture.png") for label, _ in pg.style_sources[3].options)


@pytest.mark.parametrize("data", [b"this is not an image", png()[:60], b""], ids=["text", "truncated", "empty"])
def test_upload_of_a_broken_file_shows_a_message(pg: Playground, data: bytes) -> None:
    pg.update_now()
    before, content = pg.result.value, pg.content.value
    upload(pg.content_upload, "broken.png", data)  # must not raise
    assert "broken.png" in pg.message.value and "#b00020" in pg.message.value
    assert "Traceback" not in pg.message.value
    assert pg.content.value == content and pg.result.value == before
    assert not any("broken" in label for label, _ in pg.content.options)


def test_preserve_colour_changes_the_output_and_is_cached_per_content(pg: Playground, counted) -> None:
    plain = pg.update_now().image
    pg.preserve_color.value = True  # Fig. 9: the style is colour-matched to this content, encoded again
    assert len(counted) == 2 and not torch.allclose(plain, pg.last.image, atol=1e-3)
    pg.alpha.value = 0.5
    assert len(counted) == 2
    pg.content.value = "sample:house"  # another content: another colour match
    assert len(counted) == 3


def test_split_mask_gives_each_region_its_style(pg: Playground) -> None:
    pg.style_sources[1].value = "sample:waves"
    blend = pg.last.image
    pg.mask.value = "left"  # Fig. 10: style 1 on the left, style 2 on the right
    assert all(w.disabled for w in pg.weights) and pg.style_sources[2].disabled
    split = pg.last.image
    assert not torch.allclose(blend, split, atol=1e-3)
    assert pg.message.value == "" and len(pg.last.inputs) == 4  # content, two styles, mask
    pg.mask.value = "none"
    assert not any(w.disabled for w in pg.weights)
    assert torch.allclose(pg.last.image, blend, atol=1e-5)


def test_uploaded_mask_of_another_shape_is_refused_with_the_fix(pg: Playground) -> None:
    pg.style_sources[1].value = "sample:waves"
    pg.update_now()
    before = pg.last
    upload(pg.mask_upload, "mask.png", png(100, 50, mode="L"))  # a 2:1 landscape mask, portrait content
    assert pg.mask.value.endswith("mask.png")
    assert "#b00020" in pg.message.value  # shown as an error, not stretched over the content
    assert "another shape" in pg.message.value and "make the mask" in pg.message.value
    assert "stretched" not in pg.message.value
    assert pg.last is before  # no result was rendered with a distorted mask
    h, w = before.image.shape[-2:]
    upload(pg.mask_upload, "fits.png", png(w * 2, h * 2, mode="L"))  # the content's shape, twice the size
    assert pg.last is not None and pg.last.settings.mask == pg.mask.value
    assert "#b00020" not in pg.message.value


def test_an_empty_mask_region_is_a_message(pg: Playground) -> None:
    pg.update_now()
    h, w = pg.last.image.shape[-2:]
    black = io.BytesIO()
    Image.new("L", (w * 2, h * 2), 0).save(black, format="PNG")  # the content's shape: only the emptiness is wrong
    upload(pg.mask_upload, "black.png", black.getvalue())
    assert "empty" in pg.message.value and "#b00020" in pg.message.value


def test_unexpected_errors_are_shown_not_raised(pg: Playground, monkeypatch) -> None:
    def boom(settings):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(pg.engine, "render", boom)
    assert pg.update_now() is None
    assert "unexpected RuntimeError: simulated failure" in pg.message.value


def test_save_button_writes_the_result(pg: Playground, tmp_path: Path) -> None:
    pg.save_path.value = str(tmp_path / "out" / "result.png")
    pg.save_button.click()  # nothing rendered yet: a message
    assert "nothing to save" in pg.message.value
    pg.update_now()
    pg.save_button.click()
    saved = tmp_path / "out" / "result.png"
    assert saved.is_file() and "saved" in pg.message.value
    back = images.load_image(saved)
    assert back.shape == pg.last.image.shape
    assert (back - pg.last.image).abs().max() <= 1 / 255 + 1e-6
    assert [p.name for p in saved.parent.iterdir()] == ["result.png"]  # no temporary file left
    pg.save_path.value = str(tmp_path / "result.xyz")
    pg.save_button.click()
    assert "unknown image extension" in pg.message.value


def test_output_size_selector(pg: Playground) -> None:
    pg.size.value = 64
    assert min(pg.last.image.shape[-2:]) == 64
    assert "64" in pg.timing.value


# --------------------------------------------------------------------------------------------------
# Debouncing
# --------------------------------------------------------------------------------------------------


def test_debouncer_without_an_event_loop_runs_at_once() -> None:
    calls = []
    d = Debouncer(lambda: calls.append(1), wait=0.5)
    d()
    d()
    assert calls == [1, 1] and not d.pending


def test_a_burst_of_slider_changes_gives_one_render(model, counted) -> None:
    async def drag() -> tuple[int, Playground]:
        pg = Playground(model, size=SIZE, debounce_s=0.05)
        renders = []
        original = pg.engine.render
        pg.engine.render = lambda s: renders.append(s) or original(s)
        for i in range(30):  # a slider drag: thirty events in a burst
            pg.alpha.value = i / 40
        assert renders == [] and pg.debouncer.pending
        deadline = time.monotonic() + 30
        while pg.debouncer.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return len(renders), pg

    n, pg = asyncio.run(drag())
    assert n == 1, f"{n} renders for one burst"
    assert pg.last.settings.alpha == 29 / 40  # the last value wins
    assert pg.debouncer.requests == 30 and pg.debouncer.calls == 1
    assert len(counted) == 1


def test_engine_render_without_widgets(model) -> None:
    """The computation layer is usable from plain Python: one Settings in, one Render out."""
    engine = PlaygroundEngine(model)
    r = engine.render(Settings(size=SIZE, styles=("sample:mosaic", "sample:dots"), weights=(1.0, 3.0)))
    assert r.image.shape[0] == 3 and min(r.image.shape[-2:]) == SIZE and r.encoded == 2
    assert torch.isfinite(r.image).all() and r.image.min() >= 0 and r.image.max() <= 1
    with pytest.raises(UserError, match="no style"):
        engine.render(Settings(size=SIZE, styles=("",), weights=(1.0,)))
    with pytest.raises(UserError, match="unknown image source"):
        engine.render(Settings(size=SIZE, content="nowhere:x"))


@pytest.mark.parametrize(
    "case",
    [
        dict(styles=("sample:mosaic", "sample:dots"), weights=(1.0, 3.0), alpha=0.7),
        dict(styles=("sample:mosaic", "sample:waves"), weights=(1.0, 1.0), mask="left", alpha=0.8),
        dict(styles=("sample:stripes",), weights=(1.0,), mask="ellipse", softness=0.2),
        dict(styles=("sample:mosaic",), weights=(1.0,), preserve_color=True, alpha=0.6),
    ],
    ids=["interpolation", "split", "one-region", "colour"],
)
def test_engine_agrees_with_model_stylize(model, case) -> None:
    """The engine's cached path gives what StyleTransfer.stylize gives from scratch (Eqs. 14, 15, Figs. 9, 10)."""
    s = Settings(content="sample:house", size=SIZE, **case)
    got = PlaygroundEngine(model).render(s).image
    content = images.sample_image("house", SIZE)
    styles = [images.sample_image(k.removeprefix("sample:"), SIZE) for k in s.styles]
    kwargs = dict(alpha=s.alpha, preserve_color=s.preserve_color)
    if s.mask == "none":
        kwargs["weights"] = list(s.weights)
    else:
        kwargs["masks"] = images.split_mask(s.mask, *content.shape[-2:], s.softness)
    with torch.inference_mode():
        want = model.stylize(content, styles, **kwargs)[0].clamp(0, 1)
    assert torch.allclose(got, want, atol=1e-5), (got - want).abs().max()


def test_moving_alpha_runs_no_encoder_at_all(model, monkeypatch) -> None:
    """Content features and style statistics are both cached: an alpha change costs one decoder pass."""
    engine = PlaygroundEngine(model)
    engine.render(Settings(size=SIZE))
    calls = []
    original = model.encode
    monkeypatch.setattr(model, "encode", lambda x: calls.append(1) or original(x))
    r = engine.render(Settings(size=SIZE, alpha=0.4))
    assert calls == [] and r.content_cached and r.encoded == 0
    engine.render(Settings(size=SIZE, content="sample:house", alpha=0.4))
    assert calls == [1]  # a new content: one encoder pass, the style still cached


def test_paper_images_from_the_shared_mirror(model, shared_repo, tmp_path, monkeypatch) -> None:
    """Full mode's defaults (the paper's Chicago and Asheville) and the mask of Fig. 10, via hub.fetch's mirror."""
    monkeypatch.setenv("ADAIN_LESSON_HOME", str(tmp_path / "cache"))
    pg = Playground(model, paper_images=True, size=SIZE, debounce_s=0, mirror=shared_repo.parent)
    pg.update_now()
    assert pg.last is not None and pg.last.settings.content == "paper:chicago.jpg", pg.message.value
    pg.mask.value = "paper:mask.png"  # Fig. 10's 3:4 mask does not fit Chicago (3:2): a message, no render
    assert "another shape" in pg.message.value and pg.last.settings.mask == "none"
    pg.content.value = "paper:blonde_girl.jpg"  # Fig. 10's content: the mask fits
    pg.style_sources[1].value = "sample:waves"
    assert pg.last.settings.content == "paper:blonde_girl.jpg" and pg.last.settings.mask == "paper:mask.png"


def test_benchmark_playground_reports_each_update_against_fp32(tmp_path, capsys) -> None:
    from adain_lesson.__main__ import main
    from adain_lesson.bench import benchmark_playground

    rows = benchmark_playground("cpu", sizes=(32,), repeats=2)
    assert {(r["preset"], r["update"]) for r in rows} == {(p, u) for p in ("fp32", "auto") for u in ("fresh", "alpha")}
    assert all(r["min_ms"] <= r["median_ms"] for r in rows)
    assert all(r["speedup_vs_fp32"] == 1.0 for r in rows if r["preset"] == "fp32")  # the baseline, same process
    assert main(["bench", "--playground", "--quick", "--device", "cpu", "--json", str(tmp_path / "pg.json")]) == 0
    out = capsys.readouterr().out
    assert "| 64 | auto | alpha |" in out and (tmp_path / "pg.json").is_file()


# --------------------------------------------------------------------------------------------------
# Hostile uploads and settings (issue 14)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "message"), [
    ({"a.png": {"metadata": {}, "content": "text, not bytes"}}, "carries str, not the file's bytes"),
    ({"a.png": {"metadata": {}, "content": 12345}}, "carries int"),
    ({"a.png": {"metadata": "odd", "content": b"x"}}, "odd metadata"),
    ({"a.png": {"metadata": {"size": 10**12}, "content": b"x"}}, "more than the 256 MB"),
    ({"a.png": {"metadata": {"size": "big"}, "content": b"x"}}, "odd size"),
    ({"a.png": {"metadata": {"size": float("nan")}, "content": b"x"}}, "odd size"),
    (({"name": "a.png", "size": 10**12, "content": memoryview(b"x")},), "more than the 256 MB"),
    (({"name": "a.png", "metadata": ["odd"], "content": b"x"},), "odd metadata"),
    (({"name": "a.png", "content": ["not", "bytes"]},), "carries list"),
    (("just a string",), "arrived as str"),
    (42, "unrecognised upload value"),
])
def test_parse_upload_turns_every_malformed_payload_into_one_user_error(value, message: str) -> None:
    with pytest.raises(UserError, match=message) as info:
        parse_upload(value)
    assert "\n" not in str(info.value)


def test_parse_upload_keeps_only_the_file_name() -> None:
    assert parse_upload(({"name": "../../etc/x.png", "content": b"abc"},)) == [("x.png", b"abc")]
    assert parse_upload(({"name": 7, "content": b"abc"},)) == [("upload1", b"abc")]


@pytest.mark.parametrize("value", [
    ({"name": "a.png", "metadata": "odd", "content": b"x"},),
    ({"name": "a.png", "size": 10**12, "content": memoryview(b"x")},),
    ({"name": "a.png", "content": "not bytes"},),
])
def test_a_malformed_upload_is_a_message_in_the_ui_never_an_unexpected_error(pg: Playground, value) -> None:
    pg.update_now()
    before = pg.result.value
    pg._guard(pg._take_upload, "content", value)
    assert "#b00020" in pg.message.value and "unexpected" not in pg.message.value
    assert pg.result.value == before


def test_an_uploaded_8000px_photo_is_checked_without_a_full_decode(pg: Playground, monkeypatch) -> None:
    from PIL import ImageFile

    buf = io.BytesIO()
    Image.new("RGB", (8000, 8000), (40, 90, 160)).save(buf, format="JPEG", quality=70)
    decoded: list[tuple[int, int]] = []
    real = ImageFile.ImageFile.load

    def spy(self):  # noqa: ANN001, ANN202
        decoded.append(self.size)
        return real(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", spy)
    key = pg.engine.add_upload("content", "huge.jpg", buf.getvalue())
    assert key.endswith("huge.jpg") and max(w * h for w, h in decoded) <= 8000 * 8000 // 16


def test_a_nan_style_weight_is_named_as_nan(pg: Playground) -> None:
    pg.update_now()
    s = pg.last.settings
    bad = Settings(content=s.content, styles=("sample:mosaic", "sample:waves"), weights=(1.0, float("nan")),
                   size=s.size)
    with pytest.raises(UserError, match=r"the weight of style 2 is nan \(not a number\)"):
        pg.engine.render(bad)


@pytest.mark.parametrize("data", ["photo.jpg", None, 42, [1, 2, 3]])
def test_an_upload_that_is_not_bytes_is_one_user_error(pg: Playground, data) -> None:  # noqa: ANN001
    """Issue 20, item 9: ``add_upload`` given a ``str`` or ``None`` raised ``TypeError`` (from ``bytes(data)``)."""
    with pytest.raises(UserError, match=f"data must be the file's bytes .*got {type(data).__name__}") as info:
        pg.engine.add_upload("content", "photo.jpg", data)
    assert "\n" not in str(info.value)
    with pytest.raises(UserError, match="name must be text"):
        pg.engine.add_upload("content", None, png())  # type: ignore[arg-type]
    assert pg.engine.add_upload("content", "ok.png", memoryview(png())).endswith("ok.png")
