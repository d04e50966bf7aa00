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
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    errors = [o for o in outputs if o.get("output_type") == "error"]
    assert not errors
    # matplotlib warns "Glyph 54620 (...) missing from font(s) DejaVu Sans." for Hangul without a Korean font
    texts = [o.get("text", "") for o in outputs if o.get("output_type") == "stream"]
    assert not [t for t in texts if "missing from font" in t], texts
