"""Teaching tools: the solution-cell convention, student copies, slide and Colab metadata, slide decks."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from adain_lesson import course
from adain_lesson.__main__ import main
from adain_lesson.course import classroom
from adain_lesson.errors import UserError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _nb(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _src(cell: dict) -> str:
    return "".join(cell["source"])


def _cell(source: str, kind: str = "code", tags: tuple[str, ...] = (), cell_id: str = "x") -> dict:
    cell = {"cell_type": kind, "id": cell_id, "metadata": {"tags": list(tags)} if tags else {}, "source": source}
    if kind == "code":
        cell.update(outputs=[], execution_count=None)
    return cell


def test_notebook_metadata_and_student_copies_are_up_to_date() -> None:
    changes = classroom.update_notebooks(ROOT, write=False)
    fix = 'python -c "from adain_lesson.course import classroom; classroom.update_notebooks(\'.\')"; then nbstripout'
    assert changes == [], f"run {fix}:\n" + "\n".join(changes)


def test_colab_runtime_matches_the_readme_gpu_column() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("<!-- notebooks:start -->")[1].split("<!-- notebooks:end -->")[0].strip().splitlines()
    header = [h.strip() for h in table[0].strip("|").split("|")]
    gpu_col = header.index("GPU (full mode)")
    rows = {}
    for line in table[2:]:
        cols = [c.strip() for c in line.strip("|").split("|")]
        rows[cols[1].split("(notebooks/")[1].rstrip(")")] = cols[gpu_col]
    assert set(rows) == {p.name for p in NOTEBOOKS}
    for path in NOTEBOOKS:
        meta = _nb(path)["metadata"]
        if rows[path.name] == "no":
            assert "accelerator" not in meta and "gpuType" not in meta.get("colab", {}), path.name
        else:
            assert meta["accelerator"] == "GPU" and meta["colab"]["gpuType"] == "T4", path.name


def test_slide_rule() -> None:
    assert classroom.slide_type(_cell("# 04 · Title\n", "markdown")) == "slide"
    assert classroom.slide_type(_cell("\n## A section\ntext", "markdown")) == "slide"
    assert classroom.slide_type(_cell("### A part\n", "markdown")) == "subslide"
    assert classroom.slide_type(_cell("#### small\n", "markdown")) == "-"
    assert classroom.slide_type(_cell("Some prose\n# not a heading", "markdown")) == "-"
    assert classroom.slide_type(_cell("# a comment, not a heading\nx = 1")) == "-"
    for tag in ("setup", "parameters", "solution"):
        assert classroom.slide_type(_cell("x = 1", tags=(tag,))) == "skip"


def test_every_notebook_cell_carries_its_slide_type() -> None:
    for path in NOTEBOOKS:
        for cell in _nb(path)["cells"]:
            assert cell["metadata"]["slideshow"]["slide_type"] == classroom.slide_type(cell), path.name
        assert classroom.slide_type(_nb(path)["cells"][0]) == "slide"


def test_colab_metadata_follows_the_gpu_column() -> None:
    assert classroom.colab_metadata("no") == {}
    assert classroom.colab_metadata("needed") == {"accelerator": "GPU", "colab": {"gpuType": "T4"}}
    with pytest.raises(UserError, match="unknown gpu column"):
        classroom.colab_metadata("maybe")
    nb = {"cells": [], "metadata": {"accelerator": "GPU", "colab": {"gpuType": "A100", "provenance": []}}}
    assert classroom.apply_metadata(nb, "00_setup_and_tour.ipynb")["metadata"] == {"colab": {"provenance": []}}
    nb_gpu = classroom.apply_metadata({"cells": [], "metadata": {}}, "05_training.ipynb")["metadata"]
    assert nb_gpu == {"accelerator": "GPU", "colab": {"gpuType": "T4", "provenance": []}}


def test_student_copy_replaces_every_solution_cell_and_nothing_else() -> None:
    for path in NOTEBOOKS:
        nb = _nb(path)
        student = classroom.student_copy(nb, path.name)
        assert [c["id"] for c in student["cells"]] == [c["id"] for c in nb["cells"]]
        solutions = [c for c in nb["cells"] if classroom.is_solution(c)]
        assert solutions, path.name
        for orig, copy in zip(nb["cells"], student["cells"]):
            if orig["cell_type"] == "markdown" and "collapsed cells below" in _src(orig):
                assert "collapsed" not in _src(copy) and "*your code here* below" in _src(copy)
                continue
            if orig is nb["cells"][0] or not classroom.is_solution(orig):
                assert copy == orig or orig is nb["cells"][0], (path.name, orig["id"])
                continue
            stub = _src(copy)
            assert stub.startswith("# @title Exercise") and "your code here" in stub, (path.name, stub)
            assert "stub" in copy["metadata"]["tags"] and "solution" not in copy["metadata"]["tags"]
            assert "cellView" not in copy["metadata"] and "source_hidden" not in copy["metadata"].get("jupyter", {})
            ast.parse(stub)
            code = [line.strip() for line in _src(orig).splitlines()[1:]  # a def line stays: its signature
                    if line.strip() and not line.strip().startswith(("#", "def ", "async def "))]
            assert not [line for line in code if line in stub.splitlines()], (path.name, stub)
        header = _src(student["cells"][0])
        assert course.badge(f"student/{path.name}") in header and course.badge(path.name) not in header
        assert "Student copy" in header and header.startswith("# ")


def test_korean_student_copies_are_built_from_the_korean_notebooks_and_up_to_date() -> None:
    """notebooks/ko/student/: one copy per Korean notebook, Korean stubs and note, its own Colab badge, no
    solution code left; sync-notebooks keeps them current."""
    assert classroom.update_korean_student_copies(ROOT, write=False) == []
    korean = sorted((ROOT / "notebooks" / "ko").glob("[0-9][0-9]_*.ipynb"))
    assert [p.name for p in korean] == [p.name for p in NOTEBOOKS]
    for path in korean:
        nb, student = _nb(path), _nb(ROOT / classroom.KO_STUDENT_DIR / path.name)
        assert [c["id"] for c in student["cells"]] == [c["id"] for c in nb["cells"]]
        stubs = [c for c in student["cells"] if "stub" in c["metadata"].get("tags", [])]
        assert stubs and not [c for c in student["cells"] if classroom.is_solution(c)], path.name
        for orig, copy in zip(nb["cells"], student["cells"]):
            if not classroom.is_solution(orig):
                continue
            stub = _src(copy)
            assert stub.startswith("# @title 연습 문제") and "여기에 코드를 쓰세요" in stub, (path.name, stub)
            ast.parse(stub)
            code = [line.strip() for line in _src(orig).splitlines()[1:]
                    if line.strip() and not line.strip().startswith(("#", "def ", "async def "))]
            assert not [line for line in code if line in stub.splitlines()], (path.name, stub)
        header = _src(student["cells"][0])
        assert course.badge(f"ko/student/{path.name}") in header and course.badge(f"ko/{path.name}") not in header
        assert "학생용 사본" in header
        assert not [c for c in student["cells"] if "풀이는 접힌 셀에" in _src(c)], path.name


def test_stub_keeps_the_names_and_signatures_and_the_checks_wait(capsys: pytest.CaptureFixture) -> None:
    solution = (
        "# @title Solution 3 (double-click to show the code)\n"
        "import torch\n"
        "def d_star(p_data, p_g, *, eps=0.0):\n"
        "    return p_data / (p_data + p_g + eps)\n"
        "value, (lo, hi) = -torch.log(torch.tensor(4.0)).item(), (0, 1)\n"
        "with torch.no_grad():\n"
        "    inner = 1\n"
        "for k in range(3):\n"
        "    total = k\n"
        "%timeit d_star(1, 2)\n"
        "if True:\n"
        "    !ls\n"
    )
    stub = classroom.student_stub(solution)
    assert stub.startswith("# @title Exercise 3: your code here\n")
    assert "def d_star(p_data, p_g, *, eps=0.0):\n    ...  # your code here" in stub
    for name in ("value", "lo", "hi", "inner", "total"):
        assert f"\n{name} = ...  # your code here" in stub
    assert "import torch" not in stub and "return" not in stub and "timeit" not in stub
    namespace: dict = {}
    exec(stub, namespace)
    from adain_lesson.course import exercises

    assert exercises.check_d_star(namespace["d_star"]) is False
    assert exercises.check_optimal_value(namespace["value"]) is False
    assert capsys.readouterr().out.count("Not done yet") == 2


def test_solution_leaks_are_found() -> None:
    nb = {"cells": [
        _cell("# @title Solution 1\nanswer = 3\ndef f(x):\n    return x\n", tags=("solution",)),
        _cell("from adain_lesson.course import exercises\nexercises.check_cin_parameters(answer, 1, 1)\ncheck_x(f(2))"),
        _cell("answer = 4\nprint(answer)"),  # rebinds it first: fine
        _cell("print(answer + 1)"),
        _cell("%timeit f(1)"),  # a magic: not parsed
    ]}
    leaks = classroom.solution_leaks(nb)
    assert leaks == ["cell 3 reads 'answer', defined by the solution in cell 0"]


def test_broken_conventions_are_reported_not_copied(tmp_path: Path) -> None:
    (tmp_path / "notebooks").mkdir()
    nb = {"cells": [_cell("# 09 · x\n", "markdown"), _cell("answer = 3\n", tags=("solution",)),
                    _cell("print(answer)")], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "notebooks" / "09_x.ipynb"
    path.write_text(json.dumps(nb), encoding="utf-8")
    with pytest.raises(UserError, match="must start with '# @title Solution N'"):
        classroom.student_copy(nb, path.name)
    changes = classroom.update_notebooks(tmp_path, write=True)
    assert changes and all(line.endswith(course.CANNOT_FIX) for line in changes)
    assert any("reads 'answer'" in line for line in changes)
    assert json.loads(path.read_text(encoding="utf-8")) == nb and not (tmp_path / "notebooks" / "student").exists()


def test_update_notebooks_writes_then_is_stable(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns("student"))
    (tmp_path / "notebooks" / "student").mkdir()
    gone = classroom.student_copy(_nb(NOTEBOOKS[0]), "99_gone.ipynb")  # a copy whose notebook was removed
    (tmp_path / "notebooks" / "student" / "99_gone.ipynb").write_text(json.dumps(gone), encoding="utf-8")
    changes = classroom.update_notebooks(tmp_path)
    assert len([c for c in changes if "student copy" in c]) == len(NOTEBOOKS) + 1
    assert not (tmp_path / "notebooks" / "student" / "99_gone.ipynb").exists()
    assert classroom.update_notebooks(tmp_path, write=False) == []
    for path in NOTEBOOKS:
        assert (tmp_path / "notebooks" / "student" / path.name).read_text(encoding="utf-8") == (
            ROOT / "notebooks" / "student" / path.name).read_text(encoding="utf-8")


def test_cli_student_copy(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["student-copy", "--root", str(ROOT), "--out", str(tmp_path / "copies")]) == 0
    printed = capsys.readouterr().out.split()
    assert [Path(p).name for p in printed] == [p.name for p in NOTEBOOKS]
    assert all(Path(p).is_file() for p in printed)
    assert main(["student-copy", "--root", str(tmp_path / "nowhere"), "--out", str(tmp_path / "c2")]) == 2
    assert "holds no numbered notebooks" in capsys.readouterr().err
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    assert main(["student-copy", "--root", str(ROOT), "--out", str(blocker / "sub")]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err


def test_slide_assets_are_copied_once_and_an_interrupted_copy_is_finished(tmp_path: Path) -> None:
    pytest.importorskip("sphinx_revealjs")
    pytest.importorskip("jupyter_server_mathjax")
    reveal, mathjax = classroom.copy_slide_assets(tmp_path)
    assert (reveal / "dist" / "reveal.js").is_file() and (reveal / "plugin" / "notes" / "notes.js").is_file()
    assert (mathjax / "MathJax.js").is_file() and not list(reveal.rglob("*.map"))
    kept = (mathjax / "MathJax.js").stat().st_mtime_ns
    classroom.copy_slide_assets(tmp_path)  # complete, same version: kept as it is
    assert (mathjax / "MathJax.js").stat().st_mtime_ns == kept
    (reveal / ".complete").unlink()  # as if the copy had been killed before it finished
    (reveal / "dist" / "reveal.js").unlink()
    (tmp_path / ".mathjax.partial").mkdir()
    classroom.copy_slide_assets(tmp_path)
    assert (reveal / "dist" / "reveal.js").is_file() and (reveal / ".complete").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mathjax", "reveal.js"]


def test_cli_slides_writes_a_reveal_deck(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("nbconvert")
    assert main(["slides", "--root", str(ROOT), "--out", str(tmp_path), "--only", "02"]) == 0
    (deck,) = (Path(p) for p in capsys.readouterr().out.split())
    assert deck.name == "02_normalization.slides.html"
    html = deck.read_text(encoding="utf-8")
    assert "Reveal.initialize" in html
    # offline: reveal.js and MathJax beside the deck, nothing loaded from elsewhere, the badge as its alt text
    assert (tmp_path / "reveal.js" / "dist" / "reveal.js").is_file()
    assert (tmp_path / "mathjax" / "MathJax.js").is_file()
    assert re.findall(r'<(?:script|link|img)[^>]*(?:src|href)="(https?:[^"]*)"', html) == []
    assert "colab-badge.svg" not in html and ">Open In Colab</a>" in html
    nb = _nb(ROOT / "notebooks" / "02_normalization.ipynb")
    slides = sum(classroom.slide_type(c) == "slide" for c in nb["cells"])
    # each slide is a <section> holding its sub-slides' <section>s
    assert html.count("<section") >= slides + sum(classroom.slide_type(c) == "subslide" for c in nb["cells"])
    setup = next(c for c in nb["cells"] if "setup" in c["metadata"].get("tags", []))
    assert "%pip install" not in html and "%pip install" in _src(setup)  # skipped cells stay out
    assert main(["slides", "--root", str(ROOT), "--out", str(tmp_path), "--only", "99"]) == 2
    assert "no notebook numbered 99" in capsys.readouterr().err


@pytest.mark.notebook
@pytest.mark.parametrize("copy", ["student/00_setup_and_tour.ipynb", "ko/student/00_setup_and_tour.ipynb"])
def test_a_student_copy_runs_in_smoke_mode(copy: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("ADAIN_LESSON_SMOKE", "1")
    monkeypatch.setenv("ADAIN_LESSON_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    path = ROOT / "notebooks" / copy
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    stubs = [c for c in nb.cells if "stub" in c.metadata.get("tags", [])]
    assert stubs and all(not any(o.get("output_type") == "error" for o in c.get("outputs", [])) for c in nb.cells)


def test_instructor_guide_lists_each_notebooks_checks_and_the_commands() -> None:
    import re

    from adain_lesson.course import exercises

    guide = (ROOT / classroom.INSTRUCTOR_GUIDE).read_text(encoding="utf-8")
    for cmd in ("python -m adain_lesson student-copy --out", "python -m adain_lesson slides --out",
                "python -m adain_lesson sync-notebooks"):
        assert cmd in guide, cmd
    section = guide.split("## Notebook by notebook")[1].split("## Lecture paths")[0]
    rows = {line.split("|")[1].strip(): line.split("|")[2]
            for line in section.splitlines() if re.match(r"\| \d\d ", line)}
    assert set(rows) == {p.name[:2] for p in NOTEBOOKS}
    for number, cell in rows.items():
        assert re.findall(r"`(check_\w+)`", cell) == list(exercises.CHECKS.get(number, ())), number
    paths = guide.split("## Lecture paths")[1]
    assert "One 90-minute lecture" in paths and "Three 90-minute lectures" in paths


@pytest.mark.notebook
def test_slides_of_a_smoke_run_show_its_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("nbconvert")
    pytest.importorskip("nbclient")
    monkeypatch.setenv("ADAIN_LESSON_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("PYTHONPATH", str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    monkeypatch.delenv("ADAIN_LESSON_SMOKE", raising=False)  # the command sets it for the kernel
    deck_dir = str(tmp_path / "deck")
    assert main(["slides", "--root", str(ROOT), "--out", deck_dir, "--only", "00", "--execute-smoke"]) == 0
    (deck,) = (Path(p) for p in capsys.readouterr().out.split())
    html = deck.read_text(encoding="utf-8")
    assert "RANDOM WEIGHTS" in html and "image/png" in html  # the smoke banner and a figure, as outputs


# ------------------------------------------------------------------------------------------------
# Teachers' files are data too (issue 20, item 10): only the tool's own copies are replaced or deleted
# ------------------------------------------------------------------------------------------------


def _solution_count(folder: Path) -> int:
    return sum(classroom.is_solution(c) for p in sorted(folder.glob("[0-9][0-9]_*.ipynb")) for c in _nb(p)["cells"])


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.ipynb"))}


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of the repository's notebooks (English, Korean, student copies) and README."""
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "notebooks", root / "notebooks", ignore=shutil.ignore_patterns("translations"))
    return root


@pytest.mark.parametrize("where", ["notebooks", "notebooks/ko", "link-to-notebooks", "link-to-ko"])
def test_student_copy_never_replaces_the_notebooks(checkout: Path, where: str, capsys) -> None:
    target = checkout / where
    if where.startswith("link"):
        target = checkout / "elsewhere"
        target.symlink_to(checkout / "notebooks" / ("ko" if where.endswith("ko") else ""))
    before = {d: _snapshot(checkout / d) for d in ("notebooks", "notebooks/ko")}
    solutions = _solution_count(checkout / "notebooks")
    assert solutions > 0
    assert main(["student-copy", "--root", str(checkout), "--out", str(target)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --out ") and "\n" not in err and "choose another" in err
    assert {d: _snapshot(checkout / d) for d in ("notebooks", "notebooks/ko")} == before
    assert _solution_count(checkout / "notebooks") == solutions


def test_student_copy_keeps_a_teachers_file_and_never_writes_through_a_link(checkout: Path, tmp_path) -> None:
    out = tmp_path / "copies"
    assert [p.name for p in classroom.write_student_copies(checkout, out)] == [p.name for p in NOTEBOOKS]
    assert all(classroom.made_as_student_copy(p) for p in out.glob("*.ipynb"))
    assert classroom.write_student_copies(checkout, out)  # its own copies: replaced again
    mine = out / NOTEBOOKS[0].name
    mine.write_text(json.dumps({"cells": [], "metadata": {}}), encoding="utf-8")  # the teacher's own version
    with pytest.raises(UserError, match="is not a student copy") as caught:
        classroom.write_student_copies(checkout, out)
    assert caught.value.params == ("out",)
    assert json.loads(mine.read_text(encoding="utf-8")) == {"cells": [], "metadata": {}}
    victim = tmp_path / "victim.ipynb"
    victim.write_text("keep", encoding="utf-8")
    mine.unlink()
    mine.symlink_to(victim)
    with pytest.raises(UserError, match="is a link"):
        classroom.write_student_copies(checkout, out)
    assert victim.read_text(encoding="utf-8") == "keep" and mine.is_symlink()


def test_sync_deletes_only_the_copies_it_made(checkout: Path) -> None:
    student = checkout / "notebooks" / "student"
    teachers = student / "99_my_own_lesson.ipynb"  # untracked, the teacher's: no mark
    teachers.write_text(json.dumps({"cells": [], "metadata": {}}), encoding="utf-8")
    derived = student / "my_copy_of_00.ipynb"  # a copy of a student copy: marked with another name
    shutil.copy(student / NOTEBOOKS[0].name, derived)
    gone = student / "09_removed_lesson.ipynb"  # a student copy whose notebook was removed
    stale = classroom.student_copy(_nb(NOTEBOOKS[0]), gone.name)
    gone.write_text(json.dumps(stale), encoding="utf-8")
    changes = classroom.update_notebooks(checkout)
    assert changes == ["notebooks/student/09_removed_lesson.ipynb: a student copy without its notebook (removed)"]
    assert not gone.exists() and teachers.is_file() and derived.is_file()


def test_sync_neither_writes_nor_deletes_through_a_linked_student_folder(checkout: Path, tmp_path) -> None:
    student = checkout / "notebooks" / "student"
    elsewhere = tmp_path / "elsewhere"
    shutil.move(student, elsewhere)
    student.symlink_to(elsewhere)
    stale = elsewhere / "09_removed_lesson.ipynb"
    stale.write_text(json.dumps(classroom.student_copy(_nb(NOTEBOOKS[0]), stale.name)), encoding="utf-8")
    (elsewhere / NOTEBOOKS[0].name).write_text("old", encoding="utf-8")
    before = {p.name: p.read_bytes() for p in elsewhere.iterdir()}
    for write in (False, True):
        changes = classroom.update_notebooks(checkout, write=write)
        assert [c for c in changes if "student" in c] == [
            f"notebooks/student is a link: the student copies are neither written nor deleted through it; make it "
            f"a folder {course.CANNOT_FIX}"]
    assert {p.name: p.read_bytes() for p in elsewhere.iterdir()} == before


def test_sync_replaces_a_student_copy_made_before_the_mark_but_keeps_a_foreign_file(checkout: Path) -> None:
    student = checkout / "notebooks" / "student"
    old = _nb(student / NOTEBOOKS[1].name)
    old["metadata"].pop(classroom.STUDENT_MARK)  # as written before copies were marked
    (student / NOTEBOOKS[1].name).write_text(json.dumps(old), encoding="utf-8")
    foreign = student / NOTEBOOKS[2].name
    foreign.write_text(json.dumps({"cells": [], "metadata": {}}), encoding="utf-8")
    changes = classroom.update_notebooks(checkout)
    assert f"notebooks/student/{NOTEBOOKS[1].name}: the student copy" in changes
    assert classroom.made_as_student_copy(student / NOTEBOOKS[1].name)
    assert any(c.startswith(str(foreign)) and c.endswith(course.CANNOT_FIX) for c in changes)
    assert json.loads(foreign.read_text(encoding="utf-8")) == {"cells": [], "metadata": {}}


def test_sync_scaffold_of_an_unknown_notebook_says_one_line(capsys) -> None:
    assert main(["sync-notebooks", "--root", str(ROOT), "--scaffold", "99"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: there is no notebook 99 to scaffold: choose from "
                   f"{', '.join(p.name[:2] for p in NOTEBOOKS)} (two digits or a file name)")
