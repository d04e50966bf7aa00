"""The Korean edition (notebooks/ko/): built from the English notebooks plus translations, no drift, the
same code, Hangul in figures, and README.ko.md."""

from __future__ import annotations

import io
import json
import logging
import re
import shutil
import warnings
from pathlib import Path

import pytest

from adain_lesson import course
from adain_lesson.course import translation

ROOT = Path(__file__).resolve().parents[1]
ENGLISH = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
LINKS = course.korean_links()


def _read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _copy_repo(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    for name in ("README.md", "README.ko.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


# ------------------------------------------------------------------------------------------------
# built, up to date, and the same code
# ------------------------------------------------------------------------------------------------


def test_every_english_notebook_has_a_korean_build_that_is_up_to_date() -> None:
    assert [p.name for p in ENGLISH] == sorted(p.name for p in (ROOT / "notebooks" / "ko").glob("[0-9][0-9]_*.ipynb"))
    problems = translation.sync(ROOT, LINKS, write=False)
    assert problems == [], "run 'python -m adain_lesson sync-notebooks':\n" + "\n".join(problems)


@pytest.mark.parametrize("path", ENGLISH, ids=[p.name for p in ENGLISH])
def test_korean_code_equals_english_code_but_for_strings_and_comments(path: Path) -> None:
    en, ko = _read(path), _read(ROOT / "notebooks" / "ko" / path.name)
    assert translation.code_differences(en, ko, LINKS) == []
    en_md = [c["id"] for c in en["cells"] if c["cell_type"] != "code"]
    assert en_md == [c["id"] for c in ko["cells"] if c["cell_type"] != "code"]
    assert [c["id"] for c in en["cells"]] == [c["id"] for c in ko["cells"]]  # nbstripout keeps them so
    setup = next(c for c in ko["cells"] if "setup" in c["metadata"].get("tags", []))
    assert "".join(setup["source"]).endswith(translation.HANGUL_LINES) and LINKS.ko_install in "".join(setup["source"])
    # the Korean edition switches the package to Korean before anything prints, and registers the Hangul font
    tail = "".join(setup["source"])[-len(translation.HANGUL_LINES):]
    assert tail.index('set_language("ko")') < tail.index("use_korean_font()")


def test_code_identity_check_catches_a_changed_statement(tmp_path: Path) -> None:
    """The check is real: a Korean cell that changes code (a number, a name) is named; one that changes
    only a string and a comment is not."""
    en = _read(ROOT / "notebooks" / "00_setup_and_tour.ipynb")
    ko = _read(ROOT / "notebooks" / "ko" / "00_setup_and_tour.ipynb")
    cell = next(c for c in ko["cells"] if "parameters" in c["metadata"].get("tags", []))
    source = "".join(cell["source"])
    assert "SMOKE = env.flag" in source
    cell["source"] = source.replace("SMOKE = env.flag", "SMOKE = not env.flag", 1)
    wrong = f"cell {cell['id']}: the code differs beyond strings and comments"
    assert translation.code_differences(en, ko, LINKS) == [wrong]
    # only a string and a comment change
    cell["source"] = source.replace('"ADAIN_LESSON_SMOKE"', '"스모크"') + "# 주석 하나 더\n"
    assert translation.code_differences(en, ko, LINKS) == []
    ko["cells"].remove(cell)
    assert "code cells differ" in translation.code_differences(en, ko, LINKS)[0]


def test_every_english_code_cell_splits_into_exact_strings_and_comments() -> None:
    """On this Python (CI and Colab may differ: 3.12 tokenizes f-strings apart), each unit is a whole string
    literal or comment, and marking every one as a translation of itself gives back the cell unchanged."""
    import ast

    count = 0
    for path in ENGLISH:
        for cell in _read(path)["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            for unit in translation.code_units(source):
                assert unit.text.startswith("#") if unit.kind == "comment" else \
                    isinstance(ast.parse(unit.text.strip(), mode="eval").body, (ast.Constant, ast.JoinedStr)), unit
                count += 1
            same = {u.text: u.text for u in translation.code_units(source)}
            assert translation.translate_code(source, same) == (source, []), (path.name, cell["id"])
    assert count > 100


def test_translate_code_touches_only_strings_and_comments() -> None:
    src = 'x = f"{n} files in {t:.2f} s"  # count\nprint("content", x)\nif IN_COLAB:\n    %pip install -q "a"\n'
    new, problems = translation.translate_code(src, {
        'f"{n} files in {t:.2f} s"': 'f"{t:.2f}초 동안 파일 {n}개"',  # fields may move, not change
        "# count": "# 개수",
        '"content"': '"콘텐츠"',
    })
    assert problems == []
    assert new == ('x = f"{t:.2f}초 동안 파일 {n}개"  # 개수\nprint("콘텐츠", x)\n'
                   'if IN_COLAB:\n    %pip install -q "a"\n')
    assert translation.code_skeleton(new) == translation.code_skeleton(src)
    bad = {
        "print": "출력",  # a name, not a string or comment
        '"a"': '"b"',  # inside an IPython magic line: never translated
        'f"{n} files in {t:.2f} s"': 'f"파일 {n + 1}개"',  # a changed f-string field
        "# count": "개수",  # no longer a comment
        '"content"': '"콘" + x',  # code smuggled in
    }
    new, problems = translation.translate_code(src, bad)
    assert new == src and len(problems) == 5, problems


# ------------------------------------------------------------------------------------------------
# drift: a stale translation is named
# ------------------------------------------------------------------------------------------------


def test_a_changed_english_cell_makes_its_translation_stale_and_is_named(tmp_path: Path, capsys) -> None:
    """Change an English cell that has a Korean translation, leave the translation alone: sync names the
    notebook and the cell, sync-notebooks --check fails, and the Korean build keeps the English cell."""
    from adain_lesson.__main__ import main

    root = _copy_repo(tmp_path)
    en_path = root / "notebooks" / "00_setup_and_tour.ipynb"
    en = _read(en_path)
    cell = next(c for c in en["cells"] if c["cell_type"] == "markdown" and c["id"] != en["cells"][0]["id"])
    cell["source"] = "".join(cell["source"]).replace("## ", "## Revised: ", 1)
    en_path.write_text(json.dumps(en, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")

    problems = course.sync(root, write=False)
    stale = [p for p in problems if "stale" in p]
    assert len(stale) == 1 and f"00.json: cell {cell['id']} is stale" in stale[0], problems
    assert stale[0].endswith(course.CANNOT_FIX)
    assert not [p for p in problems if "marked complete" in p]  # stale, not also "missing"
    assert main(["sync-notebooks", "--root", str(root), "--check"]) == 1
    assert f"cell {cell['id']} is stale" in capsys.readouterr().err

    course.sync(root, write=True)  # builds anyway: the stale cell stays English, the others Korean
    ko = _read(root / "notebooks" / "ko" / "00_setup_and_tour.ipynb")
    built = {c["id"]: "".join(c["source"]) for c in ko["cells"]}
    assert built[cell["id"]].startswith("## Revised: ")
    assert "스모크 모드" in "".join(built.values())
    # the translator updates the hash (and the Korean): the error goes away
    tpath = root / "notebooks" / "ko" / "translations" / "00.json"
    data = _read(tpath)
    data["cells"][cell["id"]]["hash"] = translation.cell_hash(cell["source"], en_path.name, LINKS)
    tpath.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert [p for p in course.sync(root, write=True) if p.endswith(course.CANNOT_FIX)] == []


def test_translations_follow_their_cells_when_ids_are_renumbered(tmp_path: Path) -> None:
    """nbstripout renumbers cell ids: insert a cell near the top, and every cell below gets a new id. The
    translations follow their cells by hash (sync re-keys the file), only the new cell is untranslated."""
    root = _copy_repo(tmp_path)
    en_path = root / "notebooks" / "00_setup_and_tour.ipynb"
    en = _read(en_path)
    new = {"cell_type": "markdown", "id": "new", "metadata": {}, "source": ["## A new section\n", "\n", "Text."]}
    en["cells"].insert(2, new)
    for i, cell in enumerate(en["cells"]):
        cell["id"] = str(i)
    en_path.write_text(json.dumps(en, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    problems = course.sync(root, write=True)
    only_new = f"notebooks/ko/translations/00.json: marked complete but cells 2 have no translation {course.CANNOT_FIX}"
    assert [p for p in problems if p.endswith(course.CANNOT_FIX)] == [only_new]  # 00 is complete: the new cell
    assert any("translations follow their cells to new ids" in p for p in problems)
    assert course.sync(root, write=False) == [only_new]
    assert translation.untranslated(root, LINKS)[0] == "00_setup_and_tour.ipynb: cell 2 (markdown) has no translation"
    ko = _read(root / "notebooks" / "ko" / "00_setup_and_tour.ipynb")
    assert "".join(ko["cells"][3]["source"]).startswith("# 설정:")  # the setup cell, now id 3, still Korean
    assert translation.code_differences(en, ko, LINKS) == []


def test_moving_the_repository_does_not_make_translations_stale(tmp_path: Path, monkeypatch) -> None:
    """The hash leaves out the Colab badge and install line (made from REPO_URL), so a new REPO_URL
    rebuilds the Korean notebooks with new links and no stale translation."""
    root = _copy_repo(tmp_path)
    monkeypatch.setattr(course, "REPO_URL", "https://github.com/someone-else/adain-fork")
    changed = course.sync(root, write=True)
    assert not [p for p in changed if p.endswith(course.CANNOT_FIX)], changed
    assert course.sync(root, write=False) == []
    ko = (root / "notebooks" / "ko" / "00_setup_and_tour.ipynb").read_text(encoding="utf-8")
    assert "someone-else/adain-fork/blob/main/notebooks/ko/00_setup_and_tour.ipynb" in ko
    assert 'adain-lesson[ko] @ git+https://github.com/someone-else/adain-fork@main' in ko


def test_untranslated_cells_are_listed_and_scaffold_prepares_them(tmp_path: Path, capsys) -> None:
    from adain_lesson.__main__ import main

    root = _copy_repo(tmp_path)
    tpath = root / "notebooks" / "ko" / "translations" / "00.json"
    data = _read(tpath)
    first_id = next(iter(data["cells"]))
    del data["cells"][first_id]
    data["complete"] = False
    tpath.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    line = f"00_setup_and_tour.ipynb: cell {first_id} (markdown) has no translation"
    assert line in translation.untranslated(root, LINKS)
    assert main(["sync-notebooks", "--root", str(root), "--scaffold", "00"]) == 0
    assert "to do: notebooks/ko/translations/00.json" in capsys.readouterr().out
    entry = _read(tpath)["cells"][first_id]
    header = "".join(_read(root / "notebooks" / "00_setup_and_tour.ipynb")["cells"][0]["source"])
    assert entry["todo"] is True and entry["hash"] == translation.cell_hash(header, "00_setup_and_tour.ipynb", LINKS)
    assert "{colab-badge}" in entry["markdown"]  # no copy of the repository's address in a translation
    assert list(_read(tpath)["cells"])[0] == first_id  # in the notebook's order
    # a to-do entry still counts as untranslated, and a notebook marked complete fails while one is left
    assert any(f"cell {first_id}" in line for line in translation.untranslated(root, LINKS))
    data = _read(tpath)
    data["complete"] = True
    tpath.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    assert any("marked complete" in p and first_id in p for p in course.sync(root, write=False))


# ------------------------------------------------------------------------------------------------
# Hangul in figures
# ------------------------------------------------------------------------------------------------


def _glyph_warnings() -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, log_ax) = plt.subplots(1, 2)
    ax.plot([-2, 1], [-3, 2])  # negative ticks: a minus sign (U+2212 unless axes.unicode_minus is off)
    ax.set_title("스타일 손실 곡선 (style loss)")
    ax.set_xlabel("반복 횟수")
    log_ax.plot([1, 2, 3], [0.01, 0.1, 1.0])
    log_ax.set_yscale("log")  # ticks 10^-2, 10^-1 drawn by mathtext, which has no font fallback
    log_ax.set_title("로그 눈금")
    log_ax.set_xlabel("$\\alpha$ = 0.5")

    class Records(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.WARNING)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    records = Records()
    logger = logging.getLogger("matplotlib")
    logger.addHandler(records)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig.savefig(io.BytesIO(), format="png")
    finally:
        logger.removeHandler(records)
    plt.close(fig)
    messages = [str(w.message) for w in caught] + records.messages
    # "Glyph 54620 ... missing from font(s)" (text) and "Font 'default' does not have a glyph for ..." (mathtext)
    return [m for m in messages if "missing from font" in m or "does not have a glyph" in m]


def test_hangul_renders_without_missing_glyphs() -> None:
    pytest.importorskip("koreanize_matplotlib", reason='pip install "adain-lesson[ko]"')
    import matplotlib

    from adain_lesson.viz import use_korean_font

    with matplotlib.rc_context({"font.family": ["DejaVu Sans"]}):
        assert _glyph_warnings(), "matplotlib's default font has no Hangul: the check below would prove nothing"
    with matplotlib.rc_context():
        font = use_korean_font()
        assert font.endswith("NanumGothic.ttf")
        assert _glyph_warnings() == []


def test_korean_font_missing_names_the_extra(monkeypatch) -> None:
    import importlib.util

    from adain_lesson.errors import UserError
    from adain_lesson.viz import use_korean_font

    real = importlib.util.find_spec
    absent = lambda name, *a: None if name == "koreanize_matplotlib" else real(name, *a)
    monkeypatch.setattr(importlib.util, "find_spec", absent)
    with pytest.raises(UserError) as info:
        use_korean_font()
    message = str(info.value)
    assert 'pip install "adain-lesson[ko]"' in message and "\n" not in message


# ------------------------------------------------------------------------------------------------
# README.ko.md and the documents
# ------------------------------------------------------------------------------------------------


def test_readme_ko_has_the_readme_setup_lines_the_korean_table_and_a_link_back() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ko = (ROOT / "README.ko.md").read_text(encoding="utf-8")
    lines = [line for line in readme.splitlines() if line.startswith(course.clone_command())]
    assert len(lines) == 2
    first_screen = ko[: ko.index("<!-- notebooks:start -->")]
    # the Korean first line installs the [ko] extra and opens the Korean 00; the test line is the README's
    korean_first = lines[0].replace('".[notebooks]"', '".[notebooks,ko]"').replace(
        "notebooks/00_setup_and_tour.ipynb", "notebooks/ko/00_setup_and_tour.ipynb")
    assert korean_first != lines[0]
    setup = [line for line in first_screen.splitlines() if line.startswith(course.clone_command())]
    assert setup == [korean_first, lines[1]]
    assert "`[ko]`가 꼭 필요합니다" in first_screen and "conda activate adain-lesson" in first_screen
    assert "download-data coco-val2017" in first_screen and "download-data wikiart" in first_screen
    table = translation.readme_table(ROOT, course.NOTEBOOKS, LINKS.ko_badge)
    assert table in ko and course.badge("ko/00_setup_and_tour.ipynb") in table
    assert "(README.ko.md)" in readme[: readme.index("## Start here")]
    assert "(README.md)" in first_screen


def test_translation_files_give_every_notebook_a_korean_title() -> None:
    for nb in course.NOTEBOOKS:
        data = translation.load_translation(ROOT / "notebooks" / "ko" / "translations" / f"{nb.file[:2]}.json")
        assert data.get("notebook") == nb.file
        assert any("\uac00" <= ch <= "\ud7a3" for ch in data.get("title", "")), nb.file


def test_korean_documents_exist_and_link_where_they_say() -> None:
    ko = ROOT / "notebooks" / "ko"
    glossary = (ko / "GLOSSARY.md").read_text(encoding="utf-8")
    rows = [line for line in glossary.splitlines() if line.startswith("| ") and not line.startswith("| English")]
    assert len(rows) >= 38
    for term, korean in (("generator", "생성자"), ("discriminator", "판별자"), ("Gram matrix", "그람 행렬")):
        assert any(term in r and korean in r for r in rows), term
    for doc in (ROOT / "notebooks" / "DECK_MAP.md", ko / "DECK_MAP.md"):
        text = doc.read_text(encoding="utf-8")
        for nb in course.NOTEBOOKS[1:5]:
            assert nb.file[:2] in text
        for name in ("calc_mean_std", "adaptive_instance_normalization", "style_transfer", "test_transform"):
            assert name in text, (doc, name)
    korean_00 = (ko / "00_setup_and_tour.ipynb").read_text(encoding="utf-8")
    assert "(GLOSSARY.md)" in korean_00 and "(DECK_MAP.md)" in korean_00
    assert "--check" in (ko / "TRANSLATING.md").read_text(encoding="utf-8")


def test_shared_translations_serve_every_notebook_and_are_watched(tmp_path: Path) -> None:
    """translations/shared.json translates the setup cell once for all nine notebooks; when the English setup
    cells change, it matches no cell any more and sync says so."""
    shared = translation.load_translation(ROOT / "notebooks" / "ko" / "translations" / "shared.json")["cells"]
    (key, entry), = shared.items()
    korean = next(iter(entry["code"].values()))
    for path in ENGLISH:
        setup = next(c for c in _read(ROOT / "notebooks" / "ko" / path.name)["cells"]
                     if "setup" in c["metadata"].get("tags", []))
        assert korean in "".join(setup["source"]), path.name
    root = _copy_repo(tmp_path)
    for path in (root / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        nb = _read(path)
        setup = next(c for c in nb["cells"] if "setup" in c["metadata"].get("tags", []))
        setup["source"] = "".join(setup["source"]).replace("import torch\n", "import torch  # changed\n")
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    problems = course.sync(root, write=False)
    assert any(f"shared.json: translation {key} matches no English cell any more" in p for p in problems), problems


def test_a_code_translation_is_stale_only_when_its_strings_or_comments_change(tmp_path: Path) -> None:
    """A code cell's hash covers its strings and comments: a new number keeps the translation (the code is
    the English code at every build), a changed string makes it stale, named."""
    root = _copy_repo(tmp_path)
    en_path = root / "notebooks" / "00_setup_and_tour.ipynb"
    en = _read(en_path)
    cell = next(c for c in en["cells"] if "parameters" in c["metadata"].get("tags", []))
    source = "".join(cell["source"])
    assert "SMOKE = env.flag" in source and source.startswith("# Parameters.")
    cell["source"] = source.replace("SMOKE = env.flag", "SMOKE = not env.flag", 1)
    en_path.write_text(json.dumps(en, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    assert not [p for p in course.sync(root, write=True) if p.endswith(course.CANNOT_FIX)]
    built = next(c for c in _read(root / "notebooks" / "ko" / en_path.name)["cells"] if c["id"] == cell["id"])
    assert "SMOKE = not env.flag" in "".join(built["source"]) and "# 매개변수." in "".join(built["source"])
    cell["source"] = source.replace("# Parameters.", "# Settings.", 1)
    en_path.write_text(json.dumps(en, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    stale = [p for p in course.sync(root, write=False) if "stale" in p]
    assert len(stale) == 1 and f"00.json: cell {cell['id']} is stale" in stale[0]


# The deck map's "Sections that teach it" column: every name must be a heading of the notebook it names.
# Convention (written at the top of DECK_MAP.md): exact headings without the #s, separated by "; "; when a row
# links several notebooks, a name starting "NN: " switches to notebook NN for it and the names after it.


def _normalized_heading(text: str) -> str:
    return " ".join(text.replace("`", "").split()).casefold()


def _notebook_headings(path: Path) -> set[str]:
    headings = set()
    for cell in _read(path)["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for line in "".join(cell["source"]).splitlines():
            hashes, _, rest = line.partition(" ")
            if hashes and set(hashes) == {"#"} and len(hashes) <= 6:
                headings.add(_normalized_heading(rest))
    return headings


def _deck_map_problems(text: str, notebooks: Path) -> list[str]:
    """Each section named in the deck-part table that is not a heading of its notebook, as 'row N: NN: name'."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| # |"))
    problems, rows = [], 0
    headings: dict[str, set[str]] = {}
    for line in lines[start + 2:]:
        if not line.startswith("| "):
            break
        cols = [c.strip() for c in line.strip().strip("|").split(" | ")]
        row, linked, sections = cols[0], re.findall(r"\]\((?:\.\./)?(\d\d)_", cols[2]), cols[3]
        rows += 1
        assert linked, f"row {row}: no notebook linked"
        current = linked[0] if len(linked) == 1 else None
        for name in sections.split("; "):
            m = re.match(r"(\d\d): (.*)", name)
            if m:
                current, name = m.groups()
                if current not in linked:
                    problems.append(f"row {row}: {current} is named but not linked")
            if current is None:
                problems.append(f"row {row}: {name!r} needs an 'NN: ' prefix (the row links {linked})")
                continue
            if current not in headings:
                path, = notebooks.glob(f"{current}_*.ipynb")
                headings[current] = _notebook_headings(path)
            if _normalized_heading(name) not in headings[current]:
                problems.append(f"row {row}: {current}: {name}")
    assert rows >= 25
    return problems


@pytest.mark.parametrize("doc", ["DECK_MAP.md", "ko/DECK_MAP.md"])
def test_deck_map_sections_are_headings_of_the_linked_notebooks(doc: str) -> None:
    """The Korean map names the English headings too (it says so), so both are checked against notebooks/."""
    text = (ROOT / "notebooks" / doc).read_text(encoding="utf-8")
    problems = set(_deck_map_problems(text, ROOT / "notebooks"))
    assert problems == set(), "sections that are not headings of their notebook"


def test_deck_map_check_fails_on_a_renamed_heading(tmp_path: Path) -> None:
    text = (ROOT / "notebooks" / "DECK_MAP.md").read_text(encoding="utf-8")
    for path in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        shutil.copy(path, tmp_path / path.name)
    before = _deck_map_problems(text, tmp_path)
    nb_path = tmp_path / "04_adain_model.ipynb"
    source = nb_path.read_text(encoding="utf-8")
    assert "## Speed, like Table 1" in source
    nb_path.write_text(source.replace("## Speed, like Table 1", "## Timing the model"), encoding="utf-8")
    after = _deck_map_problems(text, tmp_path)
    assert set(after) - set(before) == {"row 9: 04: Speed, like Table 1", "row 16: 04: Speed, like Table 1"}
    # a name without its notebook in a row that links several, and a name for an unlinked notebook
    first, trade_off = "A first stylization, in three lines; 03:", "Fig. 7: the content-style trade-off; Fig. 8"
    bad = text.replace(f"| 00: {first}", f"| {first}", 1).replace(f"| 06: {trade_off}", f"| 05: {trade_off}", 1)
    problems = _deck_map_problems(bad, tmp_path)
    assert any(p.startswith("row 4: 'A first stylization") for p in problems)
    assert "row 18: 05 is named but not linked" in problems


def test_korean_pages_link_to_files_that_exist() -> None:
    """README.ko.md and the Korean documents link to the Korean notebooks, student copies and guides: every
    relative link resolves (the student copies and the Korean instructor guide included)."""
    pages = [ROOT / "README.ko.md"] + sorted((ROOT / "notebooks" / "ko").glob("*.md"))
    assert ROOT / "notebooks" / "ko" / "INSTRUCTOR.md" in pages
    linked = set()
    for page in pages:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if target.startswith(("http://", "https://", "#", "mailto:")):
                continue
            path = (page.parent / target.split("#", 1)[0]).resolve()
            assert path.exists(), (page.name, target)
            linked.add(path)
    assert (ROOT / "notebooks" / "ko" / "student").resolve() in linked
    assert (ROOT / "notebooks" / "ko" / "INSTRUCTOR.md").resolve() in linked
