"""Every notebook under notebooks/ and notebooks/ko/ (the Korean edition) runs top to bottom in smoke mode
(ADAIN_LESSON_SMOKE=1), with every figure drawn.

New notebooks are covered as they land: the list is the folders' contents. A Korean notebook must also speak
Korean: no line it prints or displays, and no text drawn on its figures, is an English sentence
(:func:`english_sentences`), which catches a package message that lacks ``tr()`` or its Korean.
"""

from __future__ import annotations

import ast
import html
import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
# The Korean notebooks run the English ones' code (tests/test_korean.py checks it) with Korean text and Hangul
# figures: running them too catches a translated string that breaks a cell, and the Hangul font set-up.
NOTEBOOKS += sorted((ROOT / "notebooks" / "ko").glob("[0-9][0-9]_*.ipynb"))


_HANGUL = re.compile(r"[\u3130-\u318f\uac00-\ud7a3]")
#: Data taken out of a line before its words are counted: URLs and file paths (anything with a slash), code
#: identifiers and numbers (a token holding "_", a digit, or a dot between letters: relu4_1, torch.Size, 1e-4,
#: vgg_normalised.pth), keyword arguments of a repr (stride=), and the citation "et al.".
_DATA = re.compile(r"https?://\S+|\S*[/\\]\S*|\b\w*(?:_|\d|\.\w)[\w.]*|\b\w+=|\bet al\.")
#: A command line shown to be run (a shell command is code, whatever its words).
_COMMAND = re.compile(r"^\s*[$!%]?\s*(python3?|pip|git|torchrun|nbstripout) ")
#: An English word: letters only, with a lowercase one (acronyms such as IN, GN, NCHW are names, not prose).
_WORD = re.compile(r"^[A-Za-z]*[a-z][A-Za-z]*$")


def _words(text: str) -> int:
    return sum(1 for token in text.split() if len(token.strip(".,;:!?()[]{}\"'")) >= 2
               and _WORD.match(token.strip(".,;:!?()[]{}\"'")))


def _is_data(line: str) -> bool:
    """A printed Python value (a dict, list, tuple, number), a command line, or a row of a table (at least three
    cells apart by runs of spaces, each of at most two words: a header or a row of numbers)."""
    try:
        ast.literal_eval(line.strip())
        return True
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    if _COMMAND.match(line):
        return True
    cells = [c for c in re.split(r"\s{2,}", _DATA.sub(" ", line).strip()) if c]
    return len(cells) >= 3 and all(_words(c) <= 2 for c in cells)


def english_sentences(text: str, min_words: int = 4) -> list[str]:
    """The lines of ``text`` that are English sentences: no Hangul, not data (:func:`_is_data`), and at least
    ``min_words`` English words once the data in the line (paths, URLs, identifiers, numbers) is taken out.
    A line with any Hangul passes (a Korean sentence naming English terms)."""
    found = []
    for line in text.splitlines():
        if _HANGUL.search(line) or _is_data(line):
            continue
        if _words(_DATA.sub(" ", line)) >= min_words:
            found.append(line.strip())
    return found


@pytest.mark.parametrize(("text", "english"), [
    ("RANDOM WEIGHTS: this model has untrained, randomly initialised weights.", True),
    ("Correct. With random weights the output shows that the machinery runs", True),
    ("notebook 04: SMOKE mode (tiny sizes, random weights): SIZE = 64", True),
    ("style_weight      10.0         port --style_weight 10.0 with MSE terms. The paper gives no lambda.", True),
    ("torch.Size([1, 512, 32, 32])", False),
    ("(1, 512, 8, 8) float32 cpu", False),
    ("/tmp/pytest-of-root/adain05/stopped/checkpoints/ckpt-00000002.pt", False),
    ("content_weight    1.0  relu4_1  vgg_normalised.pth  decoder.pth", False),
    ("  0.1234   0.5678   1.2e-04   3.14", False),
    ("정답입니다. Enc-AdaIN-Dec is the paper's own model", False),  # Hangul: a Korean line quoting English
    ("무작위 가중치: 이 모델의 가중치는 학습되지 않은 무작위 초깃값입니다.", False),
    ("python -m adain_lesson stylize --content sample:grace_hopper --weights random --device cpu", False),
    ("GN(G=C) == IN and GN(G=1) == LN", False),
    ("(7): MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0), dilation=1, ceil_mode=True)", False),
    ("{'weights': 'random', 'device': 'cpu', 'labels': ['style 1', 'content 1']}", False),
    ("  size       ours   ours+enc    paper  paper+enc   device: cpu", False),
    ("Gatys et al., 3 it.                 -1.969    -1.757", False),
    ("Enc-AdaIN-Dec          mean |out_a - out_b| = 0.1607", False),
    ("note: the mask is 128x150: resized to the content's 64x75", True),
    ("saved   the result   to a file that the   notebook shows", True),  # spaced out, still a sentence
])
def test_the_english_detector(text: str, english: bool) -> None:
    assert bool(english_sentences(text)) is english


# Injected before a notebook's first cell: records every text matplotlib draws (titles, labels, legends, ticks),
# so that the figures' words are checked as well as the printed ones; the last injected cell writes them out.
_RECORD_TEXT = """import matplotlib.text as _adain_text
_adain_drawn = []
_adain_draw = _adain_text.Text.draw
def _adain_recording_draw(self, renderer, *args, **kwargs):
    if self.get_visible() and self.get_text():
        _adain_drawn.append(self.get_text())
    return _adain_draw(self, renderer, *args, **kwargs)
_adain_text.Text.draw = _adain_recording_draw
"""


def _printed(outputs: list) -> list[str]:
    """What the outputs show as text: streams, and the HTML, Markdown or plain text of displays that are not
    images (the richest form, as Jupyter shows it)."""
    texts = []
    for o in outputs:
        if o.get("output_type") == "stream":
            texts.append(o.get("text", ""))
        elif o.get("output_type") in ("display_data", "execute_result") and "image/png" not in o.get("data", {}):
            data = o.get("data", {})
            if "text/html" in data:
                shown = re.sub(r"<video\b.*?</video>", " ", "".join(data["text/html"]), flags=re.S)  # the text
                # inside <video> is the fallback of a browser without video, not what the reader sees
                texts.append(html.unescape(re.sub(r"<[^>]+>", " ", shown)))
            elif "text/markdown" in data:
                texts.append("".join(data["text/markdown"]))
            elif "text/plain" in data:
                texts.append("".join(data["text/plain"]))
    return texts


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
    drawn_file = tmp_path / "drawn.json"
    nb.cells.insert(0, nbformat.v4.new_code_cell(_RECORD_TEXT))
    nb.cells.append(nbformat.v4.new_code_cell(
        f"import json\nopen({str(drawn_file)!r}, 'w').write(json.dumps(_adain_drawn))"))
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
    if path.parent.name == "ko":  # the Korean edition speaks Korean, in what it prints and what it draws
        drawn = json.loads(drawn_file.read_text(encoding="utf-8"))
        english = [line for t in _printed(outputs) + drawn for line in english_sentences(t)]
        assert not english, "English sentences in a Korean notebook:\n" + "\n".join(dict.fromkeys(english))
