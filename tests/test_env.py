"""Environment values: one parser for every yes/no switch, one line for a value that is not understood
(issue 20, item 12), and ``--compile`` without a C++ compiler falls back to eager with a note."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from adain_lesson import env, hub
from adain_lesson.errors import UserError

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("value", ["1", "true", "TRUE", " 1", "yes", "Yes ", "on", "ON"])
def test_every_spelling_of_yes_switches_offline_on(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", value)
    assert hub.is_offline() is True
    assert env.flag("ADAIN_LESSON_OFFLINE") is True


@pytest.mark.parametrize("value", ["0", "false", "No", " off ", ""])
def test_every_spelling_of_no_switches_offline_off(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", value)
    assert hub.is_offline() is False


@pytest.mark.parametrize("value", ["maybe", "2", "y", "enabled"])
def test_a_value_not_understood_is_one_line_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("ADAIN_LESSON_SMOKE", value)
    with pytest.raises(UserError) as info:
        env.flag("ADAIN_LESSON_SMOKE")
    text = str(info.value)
    assert "ADAIN_LESSON_SMOKE" in text and repr(value) in text and "on" in text and "off" in text
    assert "\n" not in text


def test_the_course_smoke_switch_uses_the_same_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    from adain_lesson import course

    monkeypatch.setenv("ADAIN_LESSON_SMOKE", "on")
    assert course.full_mode_plan("00", "cpu", announce=False, SIZE=(1, 2, 3, "ours")).smoke is True
    monkeypatch.setenv("ADAIN_LESSON_SMOKE", "maybe")
    with pytest.raises(UserError, match="ADAIN_LESSON_SMOKE"):
        course.full_mode_plan("00", "cpu", announce=False, SIZE=(1, 2, 3, "ours"))
    monkeypatch.setenv("ADAIN_LESSON_SMOKE", "0")
    monkeypatch.setenv("ADAIN_LESSON_QUICK", "off")
    assert course.full_mode_plan("00", "cpu", announce=False, SIZE=(1, 2, 3, "ours")).quick is False


def test_no_module_or_notebook_reads_a_switch_by_hand() -> None:
    """Every reader of a yes/no switch goes through env.flag: no ``os.environ.get("ADAIN_LESSON_...") == "1"``
    in the package or in a notebook's parameters cell."""
    offenders = []
    for path in [*ROOT.glob("adain_lesson/**/*.py"), *ROOT.glob("notebooks/**/*.ipynb")]:
        text = path.read_text(encoding="utf-8").replace('\\"', "'").replace('"', "'")  # JSON escapes the quotes
        for name in env.FLAGS:
            if f"environ.get('{name}'" in text or f"getenv('{name}'" in text:
                offenders.append(f"{path.relative_to(ROOT)} reads {name}")
    assert not offenders, offenders


def _cli(*args: str, **environ: str) -> subprocess.CompletedProcess:
    env_vars = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MPLBACKEND")}
    env_vars |= {"PYTHONPATH": str(ROOT), **environ}
    return subprocess.run([sys.executable, "-m", "adain_lesson", *args], capture_output=True, text=True,
                          env=env_vars, timeout=300)


@pytest.mark.parametrize(("name", "value"), [("WORLD_SIZE", "abc"), ("RANK", "-1"), ("MPLBACKEND", "nonsense"),
                                             ("ADAIN_LESSON_OFFLINE", "maybe"), ("ADAIN_LESSON_SMOKE", "2")])
def test_the_cli_says_one_line_for_a_bad_environment_value(name: str, value: str, tmp_path: Path) -> None:
    result = _cli("stylize", "--weights", "random", "--content-size", "16", "--style-size", "16",
                  "--out", str(tmp_path), **{name: value})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0] and value in lines[0], result.stderr
    assert not list(tmp_path.iterdir())  # refused before any work


def test_world_size_garbage_in_training_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from adain_lesson import train

    monkeypatch.setenv("WORLD_SIZE", "abc")
    with pytest.raises(UserError, match="WORLD_SIZE='abc'"):
        train._dist_env()
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "5")
    with pytest.raises(UserError, match="RANK=5 is not below WORLD_SIZE=2"):
        train._dist_env()


def test_a_valid_mpl_backend_is_kept() -> None:
    code = ("import sys; from adain_lesson import env; env.check_mpl_backend(); import matplotlib; "
            "print(matplotlib.get_backend().lower())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, PYTHONPATH=str(ROOT), MPLBACKEND="svg"))
    assert out.returncode == 0 and out.stdout.strip() == "svg", out.stderr


def test_compile_without_a_cpp_compiler_falls_back_to_eager_with_a_note() -> None:
    """The reproduction: ``CXX`` names no compiler; ``stylize --compile`` used to fail with inductor's traceback."""
    code = r"""
import torch
from adain_lesson.model import InferenceOptions, load_pretrained
torch.manual_seed(0)
m = load_pretrained("random", "cpu")
c, s = torch.rand(3, 32, 32), torch.rand(3, 32, 32)
ref = m.stylize(c, s)
m.optimize(InferenceOptions(compile=True))
out = m.stylize(c, s)
print("same", bool(torch.equal(ref, out)), "compiled", bool(m._compiled))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env=dict(os.environ, PYTHONPATH=str(ROOT), CXX="/nonexistent/g++"))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "same True compiled False"
    assert "compile is off" in out.stderr and "C++ compiler" in out.stderr and "Traceback" not in out.stderr


def test_a_compilation_that_fails_at_the_first_call_falls_back_to_eager(capsys: pytest.CaptureFixture) -> None:
    from adain_lesson.model import load_pretrained

    class BackendCompilerFailed(RuntimeError):
        __module__ = "torch._dynamo.exc"

    def failing(x: torch.Tensor) -> torch.Tensor:
        raise BackendCompilerFailed("backend='inductor' raised: CppCompileError")

    m = load_pretrained("random", "cpu").optimize("fp32")
    c = torch.rand(3, 32, 32)
    ref = m.stylize(c, c)
    m._compiled = {"encoder": failing, "decoder": failing}
    assert torch.equal(m.stylize(c, c), ref)
    assert m._compiled == {} and "compile is off" in capsys.readouterr().err
