"""Teaching from the notebooks: solution cells, student copies, slides and Colab runtimes.

**Solution cells** (the one convention). An exercise's solution is a code cell whose metadata carries the tag
``"solution"``; its source starts with ``# @title Solution N`` (Colab shows the title of a collapsed form),
and it is collapsed everywhere: ``cellView: "form"`` on Colab, ``jupyter.source_hidden`` in JupyterLab.
:func:`update_notebooks` sets the two collapsing keys; the tag and the title are the author's.
A solution may define names (variables, functions) that the exercise's check cell after it reads, e.g.
``exercises.check_d_star(d_star)``; any other later cell must not read them (:func:`solution_leaks`).

**Student copies** (:func:`student_copy`): every solution cell becomes a visible "your code here" stub that
still runs: each name the solution assigns becomes ``name = ...`` and each function it defines keeps its
signature with the body ``...``, so the checks say "Not done yet". The copies live in ``notebooks/student/``
(committed, so their Colab badges open them); :func:`update_notebooks` regenerates them.

**Teachers' files are data too.** Each student copy carries a mark in its notebook metadata
(:data:`STUDENT_MARK`: the file name it was written as). :func:`write_student_copies` and
:func:`update_notebooks` replace or delete only files so marked (:func:`made_as_student_copy`): never the
notebooks themselves (``notebooks/``, ``notebooks/ko/``), never a teacher's own notebook, and nothing through a
link; they refuse, in one line, instead.

**Slides** (:func:`slide_type`, one rule): a Markdown cell starting with ``# `` or ``## `` opens a slide, one
starting with ``### `` a sub-slide (below it in reveal.js); the setup, parameters and solution cells are
skipped; every other cell continues the current slide. :func:`write_slides` renders reveal.js decks with
nbconvert.

**Colab runtime** (:func:`colab_metadata`): a notebook whose ``gpu`` column in
:data:`adain_lesson.course.NOTEBOOKS` is not ``"no"`` asks Colab for a GPU runtime (``accelerator: "GPU"``
and ``colab.gpuType``); the others ask for none.

Notebook authors run ``python -c "from adain_lesson.course import classroom; classroom.update_notebooks('.')"``
after editing a notebook (``tests/test_classroom.py`` fails until the metadata and the student copies are
up to date).
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from .. import course
from ..errors import UserError
from ..files import atomic_write, ensure_dir
from ..i18n import tr

__all__ = [
    "COLAB_GPU_TYPE",
    "INSTRUCTOR_GUIDE",
    "SOLUTION_TAG",
    "STUB_TAG",
    "STUDENT_DIR",
    "STUDENT_MARK",
    "apply_metadata",
    "colab_metadata",
    "instructor_table",
    "is_solution",
    "made_as_student_copy",
    "notebook_paths",
    "slide_type",
    "solution_leaks",
    "solution_problems",
    "student_copy",
    "student_stub",
    "update_notebooks",
    "write_slides",
    "write_student_copies",
    "update_korean_student_copies",
]

#: The tag that marks a solution cell.
SOLUTION_TAG = "solution"
#: The tag a solution cell's stub carries in a student copy.
STUB_TAG = "stub"
#: Where the student copies live, relative to the repository root (their Colab badges point there).
STUDENT_DIR = "notebooks/student"
#: Where the Korean edition's student copies live (made from the Korean notebooks in ``notebooks/ko``).
KO_STUDENT_DIR = "notebooks/ko/student"
#: The key of a student copy's notebook metadata that marks it as one: ``{"student_copy_of": "<its file name>"}``.
#: Only a file marked with its own name is replaced or deleted by this module.
STUDENT_MARK = "adain_lesson"
#: The GPU Colab is asked for (the free tier's).
COLAB_GPU_TYPE = "T4"

_TITLE_RE = re.compile(r"^# @title (?:Solution|풀이)(?: (\d+))?")  # 풀이: the Korean edition's title
_SKIPPED_TAGS = ("setup", "parameters", SOLUTION_TAG)


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _python(source: str) -> str:
    """``source`` with IPython's magic and shell lines (``%...``, ``!...``) as ``pass``, so ``ast`` parses it."""
    return "".join(re.sub(r"^(\s*)[%!].*", r"\1pass", line) for line in source.splitlines(keepends=True))


def _tags(cell: dict) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def is_solution(cell: dict) -> bool:
    """True for a code cell tagged ``"solution"``."""
    return cell.get("cell_type") == "code" and SOLUTION_TAG in _tags(cell)


def notebook_paths(root: str | os.PathLike) -> list[Path]:
    """The series' notebooks under ``root/notebooks`` (``NN_name.ipynb``)."""
    paths = sorted((Path(root) / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not paths:
        raise UserError(f"{Path(root) / 'notebooks'} holds no numbered notebooks: pass the repository checkout as root")
    return paths


def _read(path: Path) -> dict:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: cannot be read as a notebook ({type(exc).__name__})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise UserError(f"{path}: cannot be read as a notebook (no cells)")
    return nb


def _dumps(nb: dict) -> str:
    """The notebook as nbformat (and nbstripout) write it: sorted keys, indent 1, a final newline."""
    return json.dumps(nb, sort_keys=True, indent=1, ensure_ascii=False, separators=(",", ": ")) + "\n"


def _write(path: Path, text: str) -> None:
    with atomic_write(path, "w", encoding="utf-8") as f:
        f.write(text)


# ------------------------------------------------------------------------------------------------
# The solution-cell convention
# ------------------------------------------------------------------------------------------------


def solution_problems(nb: dict, name: str) -> list[str]:
    """What breaks the solution-cell convention in ``nb`` (named ``name`` in the messages); [] when none."""
    problems = []
    for i, cell in enumerate(nb["cells"]):
        if SOLUTION_TAG in _tags(cell) and cell.get("cell_type") != "code":
            problems.append(f"{name}: cell {i} is tagged 'solution' but is not a code cell")
        elif is_solution(cell) and not _TITLE_RE.match(_source(cell)):
            problems.append(f"{name}: solution cell {i} must start with '# @title Solution N' "
                            "(Korean: '# @title 풀이 N')")
        elif is_solution(cell):
            try:
                ast.parse(_python(_source(cell)))
            except SyntaxError as exc:
                problems.append(f"{name}: solution cell {i} is not valid Python ({exc.msg}, line {exc.lineno})")
    return problems


def _bound_names(tree: ast.Module) -> tuple[list[str], list[ast.FunctionDef | ast.AsyncFunctionDef]]:
    """Names a cell binds at top level (also inside if/for/with/try blocks): assigned names, and functions."""
    names: list[str] = []
    funcs: list[ast.FunctionDef | ast.AsyncFunctionDef] = []

    def targets(node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            names.append(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                targets(elt)
        elif isinstance(node, ast.Starred):
            targets(node.value)

    def visit(body: Sequence[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                funcs.append(node)
            elif isinstance(node, ast.ClassDef):
                names.append(node.name)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    targets(t)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                targets(node.target)
            elif isinstance(node, (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try)):
                for field in ("body", "orelse", "finalbody"):
                    visit(getattr(node, field, []))
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)

    visit(tree.body)
    return list(dict.fromkeys(names)), funcs


def student_stub(source: str, korean: bool = False) -> str:
    """The "your code here" stub for a solution cell's ``source``: the same number in its title, each name the
    solution assigns set to ``...``, each function it defines with its signature and the body ``...``. With
    ``korean`` its comments are Korean (the Korean edition's student copies), the marker "your code here"
    kept, since the Korean notebooks' text names the cells by it."""
    match = _TITLE_RE.match(source)
    number = f" {match.group(1)}" if match and match.group(1) else ""
    names, funcs = _bound_names(ast.parse(_python(source)))
    if korean:
        lines = [f"# @title 연습 문제{number}: 여기에 코드를 쓰세요 (your code here)",
                 "# 여기에 코드를 쓰세요: 각 ...를 답으로 바꾼 뒤, 아래 셀들을 실행하세요."]
        here = "# 여기에 코드를 쓰세요"
    else:
        lines = [f"# @title Exercise{number}: your code here",
                 "# Your code here: replace each ... with your answer, then run the cells below."]
        here = "# your code here"
    defined = {f.name for f in funcs}
    for f in funcs:
        prefix = "async def" if isinstance(f, ast.AsyncFunctionDef) else "def"
        lines += [f"{prefix} {f.name}({ast.unparse(f.args)}):", f"    ...  {here}"]
    lines += [f"{name} = ...  {here}" for name in names if name not in defined]
    return "\n".join(lines) + "\n"


def solution_leaks(nb: dict) -> list[str]:
    """Names a solution cell binds that a later cell reads outside a ``check_*(...)`` call: in a student copy
    those names are stubs (``...``), so such a cell would fail. [] when the notebook is safe to stub."""
    bound: dict[str, int] = {}
    leaks = []
    for i, cell in enumerate(nb["cells"]):
        if cell.get("cell_type") != "code":
            continue
        try:
            tree = ast.parse(_python(_source(cell)))
        except SyntaxError:
            continue  # not Python (a %%bash cell): it cannot read the solutions' names
        if is_solution(cell):
            names, funcs = _bound_names(tree)
            bound.update({n: i for n in [*names, *(f.name for f in funcs)]})
            continue
        inside_checks = {id(n) for call in ast.walk(tree) if isinstance(call, ast.Call)
                         and getattr(call.func, "attr", getattr(call.func, "id", "")).startswith("check_")
                         for n in ast.walk(call)}
        rebound, _ = _bound_names(tree)
        for node in ast.walk(tree):
            if (isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id in bound
                    and id(node) not in inside_checks and node.id not in rebound):
                leaks.append(f"cell {i} reads {node.id!r}, defined by the solution in cell {bound[node.id]}")
    return list(dict.fromkeys(leaks))


# ------------------------------------------------------------------------------------------------
# Metadata: slides, Colab runtime, collapsed solutions
# ------------------------------------------------------------------------------------------------


def slide_type(cell: dict) -> str:
    """The reveal.js ``slide_type`` of a cell, by the one rule of this module's docstring."""
    if any(tag in _tags(cell) for tag in (*_SKIPPED_TAGS, STUB_TAG)):
        return "skip"
    if cell.get("cell_type") == "markdown":
        first = _source(cell).lstrip("\n").split("\n", 1)[0]
        if first.startswith(("# ", "## ")):
            return "slide"
        if first.startswith("### "):
            return "subslide"
    return "-"


def colab_metadata(gpu: str) -> dict:
    """The notebook-level keys that pick Colab's runtime for a notebook whose ``gpu`` column is ``gpu``:
    ``{"accelerator": "GPU", "colab": {"gpuType": "T4"}}`` unless ``gpu`` is ``"no"`` (then ``{}``)."""
    if gpu not in ("no", "recommended", "needed"):
        raise UserError(f"unknown gpu column {gpu!r}: use 'no', 'recommended' or 'needed'")
    return {} if gpu == "no" else {"accelerator": "GPU", "colab": {"gpuType": COLAB_GPU_TYPE}}


def _course_entry(name: str) -> course.Notebook | None:
    return next((nb for nb in course.NOTEBOOKS if nb.file == name), None)


def apply_metadata(nb: dict, name: str) -> dict:
    """A copy of notebook ``nb`` (file name ``name``) with the slideshow metadata on every cell, solution cells
    collapsed, and the Colab runtime of its ``course.NOTEBOOKS`` entry (none when it has no entry)."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        meta = cell.setdefault("metadata", {})
        meta["slideshow"] = {"slide_type": slide_type(cell)}
        if is_solution(cell):
            meta["cellView"] = "form"
            meta.setdefault("jupyter", {})["source_hidden"] = True
    meta = nb.setdefault("metadata", {})
    entry = _course_entry(name)
    wanted = colab_metadata(entry.gpu) if entry else {}
    colab = meta.setdefault("colab", {})
    colab.setdefault("provenance", [])
    colab.pop("gpuType", None)
    meta.pop("accelerator", None)
    if wanted:
        meta["accelerator"] = wanted["accelerator"]
        colab.update(wanted["colab"])
    return nb


# ------------------------------------------------------------------------------------------------
# Student copies
# ------------------------------------------------------------------------------------------------

_SOLUTIONS_BELOW_RE = re.compile(r"(The )?[Ss]olutions are in the collapsed cells below( \(click to expand\))?\.")
_ANSWERS_BELOW = "Write your answers in the cells marked *your code here* below."
_STUDENT_NOTE = ("> **Student copy.** The solutions are replaced by cells marked *your code here*; after each one, "
                 "a check tells you whether your answer is right, or gives a hint.")
# The same three for the Korean edition (its sentences about the collapsed solution cells vary a little)
_KO_SOLUTIONS_BELOW_RE = re.compile(
    r"풀이는 (?:아래의 )?접힌 셀에 있습니다(?: \((?:클릭하면 펼쳐집니다|클릭해서 펼치세요)\))?\.")
_KO_SOLUTIONS_AND_RE = re.compile(r"풀이는 접힌 셀에 있고, ")
_KO_ANSWERS_BELOW = "답은 아래의 *your code here* 셀에 쓰세요."
_KO_STUDENT_NOTE = ("> **학생용 사본.** 풀이 셀이 *your code here* 셀로 바뀌어 있습니다. 셀마다 답을 쓰고 실행하면, "
                    "그다음 확인 셀이 답이 맞는지 알려 주거나 힌트를 줍니다.")


def student_copy(nb: dict, name: str, korean: bool = False) -> dict:
    """The student copy of notebook ``nb`` (file name ``name``): solution cells become visible stubs (same ids,
    tag ``"stub"``), "Solutions are in the collapsed cells below." points to the stubs instead, and the header's
    Colab badge opens the copy in :data:`STUDENT_DIR`. With ``korean``, ``nb`` is a Korean notebook (built in
    ``notebooks/ko``): Korean stubs and note, and the badge opens the copy in :data:`KO_STUDENT_DIR`."""
    problems = solution_problems(nb, name)
    if problems:
        raise UserError("; ".join(problems))
    out = copy.deepcopy(nb)
    for cell in out["cells"]:
        if cell.get("cell_type") == "markdown":
            text = _source(cell)
            if korean:
                new = _KO_SOLUTIONS_AND_RE.sub("답은 *your code here* 셀에 쓰고, ",
                                               _KO_SOLUTIONS_BELOW_RE.sub(_KO_ANSWERS_BELOW, text))
            else:
                new = _SOLUTIONS_BELOW_RE.sub(_ANSWERS_BELOW, text)
            if new != text:
                cell["source"] = _lines(new)
        if not is_solution(cell):
            continue
        cell["source"] = _lines(student_stub(_source(cell), korean))
        meta = cell["metadata"]
        meta["tags"] = [STUB_TAG if t == SOLUTION_TAG else t for t in meta["tags"]]
        meta.pop("cellView", None)
        jupyter = meta.pop("jupyter", {})
        jupyter.pop("source_hidden", None)
        if jupyter:
            meta["jupyter"] = jupyter
        meta["slideshow"] = {"slide_type": "-"}
        cell["outputs"], cell["execution_count"] = [], None
    header = out["cells"][0] if out["cells"] else None
    if header is not None and header.get("cell_type") == "markdown":
        text = _source(header)
        where = "ko/" if korean else ""
        student = course.badge(f"{where}{Path(STUDENT_DIR).name}/{name}")
        original = course.badge(f"{where}{name}")
        note = _KO_STUDENT_NOTE if korean else _STUDENT_NOTE
        text = text.replace(original, f"{student}\n\n{note}") if original in text else (
            text.rstrip() + f"\n\n{student}\n\n{note}\n")
        header["source"] = _lines(text)
    out.setdefault("metadata", {})[STUDENT_MARK] = {"student_copy_of": name}
    return out


#: The Korean instructor guide, relative to the repository root; its notebook table sits between the markers.
KO_INSTRUCTOR_GUIDE = "notebooks/ko/INSTRUCTOR.md"
_KO_RUNTIME = {True: f"GPU ({COLAB_GPU_TYPE})", False: "CPU"}


def korean_instructor_table(root: str | os.PathLike = ".") -> str:
    """The Korean instructor guide's table (Markdown): each Korean notebook's title (from its translation
    file), time, GPU need, and the Colab links of the Korean notebook and of its Korean student copy."""
    from .translation import _GPU_KO, load_translation

    rows = ["| # | 노트북 | 시간 | GPU (전체 모드) | Colab 런타임 | 풀이 포함 | 학생용 사본 |",
            "|---|---|---|---|---|---|---|"]
    for nb in course.NOTEBOOKS:
        data = load_translation(Path(root) / "notebooks" / "ko" / "translations" / f"{nb.file[:2]}.json")
        runtime = _KO_RUNTIME[bool(colab_metadata(nb.gpu))]
        title, gpu = data.get("title") or nb.title, _GPU_KO.get(nb.gpu, nb.gpu)
        links = f"[열기]({course.colab_url(f'ko/{nb.file}')}) | [열기]({course.colab_url(f'ko/student/{nb.file}')})"
        rows.append(f"| {nb.file[:2]} | {title} | {nb.minutes}분 | {gpu} | {runtime} | {links} |")
    return "\n".join(rows)


def update_korean_student_copies(root: str | os.PathLike = ".", write: bool = True) -> list[str]:
    """Bring the Korean edition's student copies (:data:`KO_STUDENT_DIR`, one per Korean notebook in
    ``notebooks/ko``) up to date: what was (with ``write=False``: would be) changed; [] when up to date. Run
    after the Korean notebooks are built (``python -m adain_lesson sync-notebooks`` does both)."""
    root = Path(root)
    out_dir = root / KO_STUDENT_DIR
    changes: list[str] = []
    wanted = {}
    for path in sorted((root / "notebooks" / "ko").glob("[0-9][0-9]_*.ipynb")):
        nb = _read(path)
        if solution_problems(nb, path.name) or solution_leaks(nb):
            continue  # the English notebook's problem, reported by update_notebooks
        wanted[path.name] = _dumps(student_copy(nb, path.name, korean=True))
    for name, text in wanted.items():
        target = out_dir / name
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            harm = _foreign(target)
            if harm:  # never overwrite a file this module did not make
                changes.append(f"{KO_STUDENT_DIR}/{name}: {harm} {course.CANNOT_FIX}")
                continue
            changes.append(f"{KO_STUDENT_DIR}/{name}: the Korean student copy")
            if write:
                ensure_dir(out_dir)
                _write(target, text)
    for path in sorted(out_dir.glob("*.ipynb")) if out_dir.is_dir() else []:
        if path.name not in wanted and made_as_student_copy(path):  # only the copies this module wrote
            changes.append(f"{KO_STUDENT_DIR}/{path.name}: a Korean student copy without its notebook (removed)")
            if write:
                path.unlink()
    guide = root / KO_INSTRUCTOR_GUIDE
    if guide.is_file():
        text = guide.read_text(encoding="utf-8")
        if _TABLE_START not in text or _TABLE_END not in text:
            return changes + [f"{KO_INSTRUCTOR_GUIDE}: missing the {_TABLE_START} / {_TABLE_END} markers "
                              f"{course.CANNOT_FIX}"]
        head, rest = text.split(_TABLE_START, 1)
        new = f"{head}{_TABLE_START}\n{korean_instructor_table(root)}\n{_TABLE_END}{rest.split(_TABLE_END, 1)[1]}"
        if new != text:
            changes.append(f"{KO_INSTRUCTOR_GUIDE}: the notebook table")
            if write:
                _write(guide, new)
    return changes
def made_as_student_copy(path: str | os.PathLike) -> bool:
    """True when ``path`` is a student copy this module wrote under this very name (its :data:`STUDENT_MARK`
    says so). A link is never one: nothing is replaced or deleted through a link."""
    path = Path(path)
    if path.is_symlink() or not path.is_file():
        return False
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    meta = nb.get("metadata") if isinstance(nb, dict) else None
    mark = meta.get(STUDENT_MARK) if isinstance(meta, dict) else None
    return isinstance(mark, dict) and mark.get("student_copy_of") == path.name


def _foreign(path: Path) -> str | None:
    """Why writing a student copy to ``path`` would harm a file it did not make (None: it would not)."""
    if path.is_symlink():
        return tr("{path} is a link: student copies are never written through a link", path=path)
    if path.exists() and not made_as_student_copy(path):
        return tr("{path} is not a student copy (a notebook, or a teacher's own file): it is kept", path=path)
    return None


def write_student_copies(root: str | os.PathLike, out: str | os.PathLike) -> list[Path]:
    """Write the student copy of every notebook under ``root`` into the folder ``out``; returns the paths.

    Refused, before anything is written, when ``out`` is (or links to) the notebooks' own folder or the Korean
    edition's, or when a file there that a copy would replace is not a student copy, or is a link."""
    paths = notebook_paths(root)
    out = Path(out)
    sources = {(Path(root) / "notebooks").resolve(), (Path(root) / "notebooks" / "ko").resolve()}
    if out.resolve() in sources:
        raise UserError(tr("out {out} is a folder of the notebooks themselves: student copies would replace them; "
                           "choose another folder (the committed copies live in {student})", out=out,
                           student=STUDENT_DIR), param="out")
    copies = [(out / p.name, _dumps(student_copy(apply_metadata(_read(p), p.name), p.name))) for p in paths]
    for path, _ in copies:
        why = _foreign(path)
        if why:
            raise UserError(tr("{why}; choose another out folder", why=why), param="out")
    ensure_dir(out)
    for path, text in copies:
        _write(path, text)
    return [path for path, _ in copies]


# ------------------------------------------------------------------------------------------------
# Keeping the repository's notebooks up to date
# ------------------------------------------------------------------------------------------------

#: The instructor guide, relative to the repository root; its notebook table sits between these markers.
INSTRUCTOR_GUIDE = "notebooks/INSTRUCTOR.md"
_TABLE_START, _TABLE_END = "<!-- classroom:start -->", "<!-- classroom:end -->"


def instructor_table() -> str:
    """The instructor guide's table (Markdown): each notebook's time, GPU need, and both Colab links."""
    rows = ["| # | Notebook | Time | GPU (full mode) | Colab runtime | With solutions | Student copy |",
            "|---|---|---|---|---|---|---|"]
    for nb in course.NOTEBOOKS:
        runtime = f"GPU ({COLAB_GPU_TYPE})" if colab_metadata(nb.gpu) else "CPU"
        student = f"{Path(STUDENT_DIR).name}/{nb.file}"
        rows.append(f"| {nb.file[:2]} | {nb.title} | {nb.minutes} min | {nb.gpu} | {runtime} | "
                    f"[open]({course.colab_url(nb.file)}) | [open]({course.colab_url(student)}) |")
    return "\n".join(rows)


def _sync_guide(root: Path, write: bool) -> list[str]:
    guide = root / INSTRUCTOR_GUIDE
    if not guide.is_file():
        return []
    text = guide.read_text(encoding="utf-8")
    if _TABLE_START not in text or _TABLE_END not in text:
        return [f"{INSTRUCTOR_GUIDE}: missing the {_TABLE_START} / {_TABLE_END} markers {course.CANNOT_FIX}"]
    head, rest = text.split(_TABLE_START, 1)
    tail = rest.split(_TABLE_END, 1)[1]
    new = f"{head}{_TABLE_START}\n{instructor_table()}\n{_TABLE_END}{tail}"
    if new == text:
        return []
    if write:
        _write(guide, new)
    return [f"{INSTRUCTOR_GUIDE}: the notebook table"]


def update_notebooks(root: str | os.PathLike = ".", write: bool = True) -> list[str]:
    """Bring every notebook's metadata (slides, Colab runtime, collapsed solutions), the student copies in
    :data:`STUDENT_DIR` and the table of :data:`INSTRUCTOR_GUIDE` up to date. Returns what was (with
    ``write=False``: would be) changed, plus problems it cannot fix (ending in ``course.CANNOT_FIX``); [] when
    everything is up to date."""
    root = Path(root)
    changes: list[str] = []
    student_dir = root / STUDENT_DIR
    wanted: dict[str, str] = {}
    for path in notebook_paths(root):
        try:
            nb = _read(path)
        except UserError as exc:  # reported like course.sync reports it; the other notebooks are still updated
            changes.append(f"{path.name}: {str(exc).split(': ', 1)[1]} {course.CANNOT_FIX}")
            continue
        text = path.read_text(encoding="utf-8")
        broken = solution_problems(nb, path.name) + [f"{path.name}: {leak}" for leak in solution_leaks(nb)]
        if broken:
            changes += [f"{line} {course.CANNOT_FIX}" for line in broken]
            continue
        updated = _dumps(apply_metadata(nb, path.name))
        if updated != text:
            changes.append(f"{path.name}: slideshow, Colab or solution metadata")
            if write:
                _write(path, updated)
        wanted[path.name] = _dumps(student_copy(json.loads(updated), path.name))
    if student_dir.is_symlink():  # neither written nor deleted through a link: the link may lead anywhere
        changes.append(tr("{folder} is a link: the student copies are neither written nor deleted through it; "
                          "make it a folder", folder=STUDENT_DIR) + f" {course.CANNOT_FIX}")
        wanted = {}
    for name, text in wanted.items():
        target = student_dir / name
        if target.is_file() and not target.is_symlink() and target.read_text(encoding="utf-8") == text:
            continue
        why = _foreign(target)
        if why and not _legacy_copy(target):
            changes.append(f"{why} {course.CANNOT_FIX}")
            continue
        changes.append(f"{STUDENT_DIR}/{name}: the student copy")
        if write:
            ensure_dir(student_dir)
            _write(target, text)
    changes += _sync_guide(root, write)
    if any(line.endswith(course.CANNOT_FIX) for line in changes):
        return changes  # a broken notebook has no student copy this time: keep its old one
    # only the copies this module made (marked with their own name); a teacher's own notebook stays
    stale = sorted(p for p in student_dir.glob("*.ipynb") if p.name not in wanted and made_as_student_copy(p))
    for path in stale:
        changes.append(f"{STUDENT_DIR}/{path.name}: a student copy without its notebook (removed)")
        if write:
            path.unlink()
    return changes


def _legacy_copy(path: Path) -> bool:
    """A student copy written before copies carried :data:`STUDENT_MARK` (its header holds the student note):
    replaced by its marked successor, never deleted."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        cells = json.loads(path.read_text(encoding="utf-8")).get("cells") or [{}]
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return False
    return isinstance(cells[0], dict) and _STUDENT_NOTE in _source(cells[0])


# ------------------------------------------------------------------------------------------------
# Slides
# ------------------------------------------------------------------------------------------------


def _execute_smoke(nb: dict, workdir: Path, timeout: int) -> dict:
    import nbclient
    import nbformat

    node = nbformat.reads(_dumps(nb), as_version=4)
    env = dict(os.environ, ADAIN_LESSON_SMOKE="1", MPLBACKEND="Agg")
    client = nbclient.NotebookClient(node, timeout=timeout, kernel_name="python3",
                                     resources={"metadata": {"path": str(workdir)}})
    try:
        client.execute(env=env)
    except nbclient.exceptions.CellExecutionError as exc:
        raise UserError(f"a cell failed in smoke mode: {str(exc).strip().splitlines()[-1]}") from None
    return node


#: What a deck needs beside it to work offline: (Python package that ships it, folder inside the package,
#: folder beside the decks, what to copy). reveal.js 5 comes with sphinx-revealjs, MathJax 2.7 with
#: jupyter-server-mathjax (the copy Jupyter's own servers serve); both from PyPI, neither copied into this
#: repository: :func:`write_slides` copies them next to the decks it writes.
SLIDE_ASSETS = (
    ("sphinx_revealjs", "_static/revealjs", "reveal.js", ("LICENSE", "dist", "plugin/notes")),
    ("jupyter_server_mathjax", "static", "mathjax", (".",)),
)
#: MathJax's entry point beside the decks: its TeX and MathML configuration (the one that package ships).
MATHJAX_URL = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe"
_TEMPLATES = Path(__file__).resolve().parents[1] / "_data"  # adain_lesson/_data/slides: the deck template
# a remote image in Markdown, ![alt](https://...): the deck shows its alt text instead (a badge in a link stays
# a link), so that a deck asks nothing of the network
_REMOTE_IMAGE_RE = re.compile(r"!\[([^\]]*)\]\(\s*https?://[^)]*\)")


def _package_dir(name: str) -> Path:
    """The folder of the installed package ``name``, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"slides need the package {name.replace('_', '-')} (reveal.js and MathJax for offline "
                        "decks): pip install 'adain-lesson[slides]'")
    return Path(next(iter(spec.submodule_search_locations)))


def copy_slide_assets(out: str | os.PathLike) -> list[Path]:
    """Copy reveal.js and MathJax (:data:`SLIDE_ASSETS`) into the folder ``out``, beside the decks; returns
    the folders. A folder already complete for the same package version is kept; an interrupted copy is
    finished (each folder is written under a temporary name and renamed when complete)."""
    from importlib.metadata import version

    out = ensure_dir(out)
    folders = []
    for package, inside, name, parts in SLIDE_ASSETS:
        source = _package_dir(package) / inside
        stamp = f"{package} {version(package.replace('_', '-'))}\n"
        target = out / name
        folders.append(target)
        partial = out / f".{name}.partial"
        shutil.rmtree(partial, ignore_errors=True)  # what an interrupted copy left
        if (target / ".complete").is_file() and (target / ".complete").read_text(encoding="utf-8") == stamp:
            continue
        for part in parts:
            src = (source / part).resolve()
            dst = partial / part
            if src.is_dir():
                shutil.copytree(src, dst, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.map"))
            else:
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
        (partial / ".complete").write_text(stamp, encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    return folders


def _offline_markdown(node) -> None:
    """Remote images in ``node``'s Markdown cells become their alt text (in place)."""
    for cell in node.cells:
        if cell.cell_type == "markdown":
            cell.source = _REMOTE_IMAGE_RE.sub(lambda m: m.group(1), cell.source)


def write_slides(root: str | os.PathLike, out: str | os.PathLike, *, only: Sequence[str] | None = None,
                 execute_smoke: bool = False, timeout: int = 900) -> list[Path]:
    """Render reveal.js slide decks (``NN_name.slides.html``) of the notebooks under ``root`` into ``out``.

    ``only``: notebook numbers (``"04"``) to render; all by default. ``execute_smoke``: run each notebook in
    smoke mode first (CPU, random weights: minutes per notebook), so the deck shows outputs; otherwise the
    deck shows the code only.

    The decks work without a network: reveal.js and MathJax are copied beside them
    (:func:`copy_slide_assets`; the folder ``out`` moves as a whole, e.g. onto a USB stick), and remote
    images in the Markdown (the Colab badges) are shown as their alt text, links kept.
    """
    try:
        import nbformat
        from nbconvert import SlidesExporter
    except ImportError:
        raise UserError("slides need nbconvert: pip install 'adain-lesson[slides]'") from None
    paths = notebook_paths(root)
    if only:
        unknown = sorted(set(only) - {p.name[:2] for p in paths})
        if unknown:
            raise UserError(f"no notebook numbered {', '.join(unknown)}: choose from "
                            f"{', '.join(p.name[:2] for p in paths)}")
        paths = [p for p in paths if p.name[:2] in only]
    out = ensure_dir(out)
    copy_slide_assets(out)
    exporter = SlidesExporter(extra_template_basedirs=[str(_TEMPLATES)], template_name="slides")
    exporter.reveal_scroll = True  # long cells scroll instead of overflowing the slide
    exporter.reveal_url_prefix = "reveal.js"  # beside the deck
    exporter.reveal_theme = "white"  # its fonts ship with reveal.js (nbconvert's default, simple, loads Google's)
    exporter.mathjax_url = MATHJAX_URL
    written = []
    for path in paths:
        nb = apply_metadata(_read(path), path.name)
        node = _execute_smoke(nb, out, timeout) if execute_smoke else nbformat.reads(_dumps(nb), as_version=4)
        _offline_markdown(node)
        body, _ = exporter.from_notebook_node(node)
        target = out / f"{path.stem}.slides.html"
        _write(target, body)
        written.append(target)
    return written
