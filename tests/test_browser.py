"""The browser tier (marker ``browser``): the series' two web faces in headless Chromium.

- The playground of notebook 08, English and Korean, in a real JupyterLab page (ipywidgets 8): the notebook
  runs in smoke mode, then the alpha slider is dragged, a style switched, colour preservation toggled and a
  mask chosen; after each, the picture must change, the timing readout must follow, and nothing may print an
  error. A variant shows that a slider which does not redraw fails the check.
- The slide decks of ``python -m adain_lesson slides``: opened with every request outside 127.0.0.1 refused,
  each must be a reveal.js deck (one slide shown, the arrow key moves on) with its math typeset.

Screenshots land in ``output/browser/`` (git-ignored). Colab's frontend (ipywidgets 7.7.1) is not driven
here: tests/test_widgets.py checks the 7.7 compatibility in Python. Skips, saying why, without Chromium.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import browser_tier as B
import pytest

from adain_lesson import i18n

pytestmark = pytest.mark.browser

WHY = B.why_no_browser()
if WHY:
    pytest.skip(WHY, allow_module_level=True)

ROOT = B.ROOT
NOTEBOOKS = {"en": Path("notebooks/08_playground.ipynb"), "ko": Path("notebooks/ko/08_playground.ipynb")}


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    with B.chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[B.Lab]:
    """JupyterLab serving copies of the two 08 notebooks (what they save stays in a temporary folder), with
    kernels in smoke mode that import this checkout's package."""
    root = tmp_path_factory.mktemp("lab_root")
    for lang, rel in NOTEBOOKS.items():
        (root / lang).mkdir()
        shutil.copy(ROOT / rel, root / lang / rel.name)
    scratch = tmp_path_factory.mktemp("lab_scratch")
    python_path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, ADAIN_LESSON_SMOKE="1", ADAIN_LESSON_OFFLINE="1", MPLBACKEND="Agg",
               ADAIN_LESSON_HOME=str(scratch / "home"), PYTHONPATH=python_path)
    env.pop("ADAIN_LESSON_LANG", None)
    with B.jupyterlab(root, scratch, env) as server:
        yield server


_pages: dict[str, B.NotebookPage] = {}


@pytest.fixture(scope="module")
def notebook(chromium, lab) -> Iterator:
    """``notebook(lang)``: notebook 08 in that language, open in its own page and run (once per module)."""
    contexts = []

    def open_notebook(lang: str) -> B.NotebookPage:
        if lang not in _pages:
            context = chromium.new_context(viewport={"width": 1400, "height": 1000})
            contexts.append(context)
            outside = B.Outside()
            B.guard_network(context, outside)
            page = context.new_page()
            path = f"{lang}/{NOTEBOOKS[lang].name}"
            page.goto(lab.url(path, workspace=lang))
            nb = B.NotebookPage(page, f"playground-{lang}", path)
            nb.outside = outside
            nb.run_all()
            _pages[lang] = nb
        return _pages[lang]

    yield open_notebook
    _pages.clear()
    for context in contexts:
        context.close()


def _drive(nb: B.NotebookPage) -> list[str]:
    """Run notebook 08's playground through its four controls, as a person would; the checks of
    :meth:`NotebookPage.wait_for_redraw` after each. Returns the actions done, for the failure messages."""
    assert nb.cell_errors() == [], nb.cell_errors()
    nb.printed_problems()  # what the run printed (warnings of a cell) is not the controls' doing
    done = []
    view = nb.view()
    assert view.image is not None, "the playground shows no picture after the notebook ran"
    nb.screenshot("0-start")

    alpha = nb.drag_alpha(-60)
    view = nb.wait_for_redraw(view)
    done.append(f"alpha -> {alpha}")
    nb.screenshot("1-alpha")

    style = nb.choose_next(".adain-style-1")
    view = nb.wait_for_redraw(view)
    done.append(f"style 1 -> {style}")
    nb.screenshot("2-style")

    assert nb.toggle(".adain-preserve-color")
    view = nb.wait_for_redraw(view)
    done.append("preserve colour on")
    nb.screenshot("3-colour")

    mask = nb.choose_next(".adain-mask")  # none, left | right, top | bottom, ellipse | outside
    view = nb.wait_for_redraw(view)
    done.append(f"mask -> {mask}")
    nb.screenshot("4-mask")

    assert nb.printed_problems() == [], done
    assert nb.cell_errors() == [], done
    return done


def _outside_is_only_badges(nb: B.NotebookPage) -> None:
    """JupyterLab itself asks for nothing outside 127.0.0.1; the Markdown's Colab badge may (refused)."""
    others = [(kind, url) for kind, url in nb.outside.requests if kind != "image"]
    assert others == [], others


def test_playground_redraws_in_jupyterlab(notebook) -> None:
    nb = notebook("en")
    done = _drive(nb)
    assert len(done) == 4
    labels = nb.page.text_content(".adain-playground")
    assert "preserve colour (Fig. 9)" in labels and "α (Eq. 14)" in labels
    _outside_is_only_badges(nb)


def test_a_slider_that_does_not_redraw_fails(notebook) -> None:
    """The variant that proves the check: the kernel's engine is made to hand back its last result (the
    picture is not redrawn, the readout still ticks); dragging alpha must then fail wait_for_redraw."""
    nb = notebook("en")
    errors = nb.execute("_render = pg.engine.render\npg.engine.render = lambda settings: pg.last")
    assert errors == []
    try:
        before = nb.view()
        nb.drag_alpha(40)
        with pytest.raises(AssertionError, match="the picture did not change"):
            nb.wait_for_redraw(before, timeout_s=8)
    finally:
        assert nb.execute("pg.engine.render = _render") == []
    before = nb.view()
    nb.drag_alpha(-80)  # to an alpha not shown before (dragging back by 40 would show the old picture again)
    nb.wait_for_redraw(before)  # and with the engine back, it redraws again


def test_korean_playground_speaks_korean_and_redraws(notebook) -> None:
    nb = notebook("ko")
    ko = i18n.catalog("ko")
    labels = nb.page.text_content(".adain-playground")
    for english in ("α (Eq. 14)", "preserve colour (Fig. 9)", "mask (Fig. 10)", "output size", "Controls"):
        assert ko[english] in labels, (english, labels[:500])
    assert "preserve colour" not in labels
    _drive(nb)
    _outside_is_only_badges(nb)


# ------------------------------------------------------------------------------------------------
# The slide decks
# ------------------------------------------------------------------------------------------------

DECKS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
_MATH_RE = re.compile(r"\$[^$\n]+\$|\$\$")


def _has_math(stem: str) -> bool:
    import json

    nb = json.loads((ROOT / "notebooks" / f"{stem}.ipynb").read_text(encoding="utf-8"))
    return any(_MATH_RE.search("".join(c["source"])) for c in nb["cells"] if c["cell_type"] == "markdown")


@pytest.fixture(scope="module")
def decks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Every notebook's deck, made by the command a lecturer runs, served from 127.0.0.1."""
    out = tmp_path_factory.mktemp("decks")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    done = subprocess.run([sys.executable, "-m", "adain_lesson", "slides", "--out", str(out), "--root", str(ROOT)],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert sorted(Path(line).name for line in done.stdout.split()) == [f"{d}.slides.html" for d in DECKS]
    with B.serve_folder(out) as base:
        yield base


@pytest.fixture(scope="module")
def offline(chromium) -> Iterator[tuple[object, B.Outside]]:
    """A browser context in which every request outside 127.0.0.1 is refused (and recorded)."""
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    outside = B.Outside()
    B.guard_network(context, outside)
    yield context, outside
    context.close()


@pytest.mark.parametrize("stem", DECKS)
def test_deck_is_a_reveal_deck_offline(stem: str, decks: str, offline) -> None:
    context, outside = offline
    outside.requests.clear()
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("requestfailed", lambda r: problems.append(f"failed: {r.url}") if r.url.startswith("http") else None)
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    try:
        page.goto(f"{decks}/{stem}.slides.html")
        page.wait_for_function("() => window.Reveal && Reveal.isReady()", timeout=60_000)
        first = page.evaluate(B.DECK_STATE)
        assert first["slides"] > 1, first
        assert first["present"] == 1 and first["seen"] == 1, f"not one slide at a time: {first}"
        assert first["oneScreen"], "the deck scrolls as one long page"
        if _has_math(stem):
            math = page.evaluate(B.MATH_STATE)
            assert math["loaded"] and math["typeset"] > 0, f"no math typeset: {math}"
            assert math["errors"] == [], math["errors"]
        B.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(B.ARTIFACTS / f"slides-{stem}-1.png"))
        page.keyboard.press("ArrowRight")
        page.wait_for_function("i => Reveal.getIndices().h !== i.h", arg=first["indices"], timeout=10_000)
        second = page.evaluate(B.DECK_STATE)
        assert second["indices"]["h"] == first["indices"]["h"] + 1, (first, second)
        assert second["present"] == 1 and second["current"] != first["current"], (first, second)
        page.wait_for_timeout(900)  # the slide transition, for the screenshot
        page.screenshot(path=str(B.ARTIFACTS / f"slides-{stem}-2.png"))
        assert outside.requests == [], f"the deck reached outside 127.0.0.1: {outside.requests}"
        assert problems == [], problems
    finally:
        page.close()
