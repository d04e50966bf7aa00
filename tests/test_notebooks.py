"""Every notebook under notebooks/ and notebooks/ko/ (the Korean edition) runs top to bottom in smoke mode
(ADAIN_LESSON_SMOKE=1).

New notebooks are covered as they land: the list is the folders' contents.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# The Korean notebooks run the English ones' code (tests/test_korean.py checks it) with Korean text and Hangul
# figures: running them too catches a translated string that breaks a cell, and the Hangul font set-up.
NOTEBOOKS += sorted((ROOT / "notebooks" / "ko").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.notebook
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.relative_to(ROOT / "notebooks").as_posix() for p in NOTEBOOKS])
def test_notebook_runs_in_smoke_mode(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("ADAIN_LESSON_SMOKE", "1")
    monkeypatch.setenv("ADAIN_LESSON_HOME", str(tmp_path / "cache"))  # smoke mode must not need the cache
    # the inline backend draws every figure a cell shows or leaves open, as Jupyter does (with Agg, most
    # figures are never drawn, and a glyph the font lacks would go unnoticed)
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors
    # matplotlib warns "Glyph 54620 (...) missing from font(s) DejaVu Sans." for Hangul without a Korean font,
    # and mathtext (log-axis ticks, $...$) logs "Font 'default' does not have a glyph for '\u2212' ..."
    texts = [o.get("text", "") for o in outputs if o.get("output_type") == "stream"]
    assert not [t for t in texts if "missing from font" in t or "does not have a glyph" in t], texts
    assert any(o.get("output_type") == "display_data" and "image/png" in o.get("data", {}) for o in outputs) or \
        not any("plt.show()" in "".join(c.source) for c in nb.cells if c.cell_type == "code")  # figures were drawn
