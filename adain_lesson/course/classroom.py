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
from collections.abc import Sequence
from pathlib import Path

from .. import course
from ..errors import UserError
from ..files import atomic_write, ensure_dir

__all__ = [
    "COLAB_GPU_TYPE",
    "INSTRUCTOR_GUIDE",
    "SOLUTION_TAG",
    "STUB_TAG",
    "STUDENT_DIR",
    "apply_metadata",
    "colab_metadata",
    "instructor_table",
    "is_solution",
    "notebook_paths",
    "slide_type",
    "solution_leaks",
    "solution_problems",
    "student_copy",
    "student_stub",
    "update_notebooks",
    "write_slides",
    "write_student_copies",
]

#: The tag that marks a solution cell.
SOLUTION_TAG = "solution"
#: The tag a solution cell's stub carries in a student copy.
STUB_TAG = "stub"
#: Where the student copies live, relative to the repository root (their Colab badges point there).
STUDENT_DIR = "notebooks/student"
#: The GPU Colab is asked for (the free tier's).
COLAB_GPU_TYPE = "T4"

_TITLE_RE = re.compile(r"^# @title Solution(?: (\d+))?")
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
            problems.append(f"{name}: solution cell {i} must start with '# @title Solution N'")
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


def student_stub(source: str) -> str:
    """The "your code here" stub for a solution cell's ``source``: the same number in its title, each name the
    solution assigns set to ``...``, each function it defines with its signature and the body ``...``."""
    match = _TITLE_RE.match(source)
    number = f" {match.group(1)}" if match and match.group(1) else ""
    names, funcs = _bound_names(ast.parse(_python(source)))
    lines = [f"# @title Exercise{number}: your code here",
             "# Your code here: replace each ... with your answer, then run the cells below."]
    defined = {f.name for f in funcs}
    for f in funcs:
        prefix = "async def" if isinstance(f, ast.AsyncFunctionDef) else "def"
        lines += [f"{prefix} {f.name}({ast.unparse(f.args)}):", "    ...  # your code here"]
    lines += [f"{name} = ...  # your code here" for name in names if name not in defined]
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


def student_copy(nb: dict, name: str) -> dict:
    """The student copy of notebook ``nb`` (file name ``name``): solution cells become visible stubs (same ids,
    tag ``"stub"``), "Solutions are in the collapsed cells below." points to the stubs instead, and the header's
    Colab badge opens the copy in :data:`STUDENT_DIR`."""
    problems = solution_problems(nb, name)
    if problems:
        raise UserError("; ".join(problems))
    out = copy.deepcopy(nb)
    for cell in out["cells"]:
        if cell.get("cell_type") == "markdown" and _SOLUTIONS_BELOW_RE.search(_source(cell)):
            cell["source"] = _lines(_SOLUTIONS_BELOW_RE.sub(_ANSWERS_BELOW, _source(cell)))
        if not is_solution(cell):
            continue
        cell["source"] = _lines(student_stub(_source(cell)))
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
        student = course.badge(f"{Path(STUDENT_DIR).name}/{name}")
        original = course.badge(name)
        text = text.replace(original, f"{student}\n\n{_STUDENT_NOTE}") if original in text else (
            text.rstrip() + f"\n\n{student}\n\n{_STUDENT_NOTE}\n")
        header["source"] = _lines(text)
    return out


def write_student_copies(root: str | os.PathLike, out: str | os.PathLike) -> list[Path]:
    """Write the student copy of every notebook under ``root`` into the folder ``out``; returns the paths."""
    paths = notebook_paths(root)
    copies = [(Path(out) / p.name, _dumps(student_copy(apply_metadata(_read(p), p.name), p.name))) for p in paths]
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
    for name, text in wanted.items():
        target = student_dir / name
        if not target.is_file() or target.read_text(encoding="utf-8") != text:
            changes.append(f"{STUDENT_DIR}/{name}: the student copy")
            if write:
                ensure_dir(student_dir)
                _write(target, text)
    changes += _sync_guide(root, write)
    stale = sorted(p for p in student_dir.glob("*.ipynb") if p.name not in wanted) if student_dir.is_dir() else []
    if any(line.endswith(course.CANNOT_FIX) for line in changes):
        return changes  # a broken notebook has no student copy this time: keep its old one
    for path in stale:
        changes.append(f"{STUDENT_DIR}/{path.name}: a student copy without its notebook (removed)")
        if write:
            path.unlink()
    return changes


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


def write_slides(root: str | os.PathLike, out: str | os.PathLike, *, only: Sequence[str] | None = None,
                 execute_smoke: bool = False, timeout: int = 900) -> list[Path]:
    """Render reveal.js slide decks (``NN_name.slides.html``) of the notebooks under ``root`` into ``out``.

    ``only``: notebook numbers (``"04"``) to render; all by default. ``execute_smoke``: run each notebook in
    smoke mode first (CPU, random weights: minutes per notebook), so the deck shows outputs; otherwise the
    deck shows the code only. The decks load reveal.js from a CDN when opened.
    """
    try:
        import nbformat
        from nbconvert import SlidesExporter
    except ImportError:
        raise UserError("slides need nbconvert: pip install nbconvert (or the package's [test] extra)") from None
    paths = notebook_paths(root)
    if only:
        unknown = sorted(set(only) - {p.name[:2] for p in paths})
        if unknown:
            raise UserError(f"no notebook numbered {', '.join(unknown)}: choose from "
                            f"{', '.join(p.name[:2] for p in paths)}")
        paths = [p for p in paths if p.name[:2] in only]
    out = ensure_dir(out)
    exporter = SlidesExporter()
    exporter.reveal_scroll = True  # long cells scroll instead of overflowing the slide
    written = []
    for path in paths:
        nb = apply_metadata(_read(path), path.name)
        node = _execute_smoke(nb, out, timeout) if execute_smoke else nbformat.reads(_dumps(nb), as_version=4)
        body, _ = exporter.from_notebook_node(node)
        target = out / f"{path.stem}.slides.html"
        _write(target, body)
        written.append(target)
    return written
