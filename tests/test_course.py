"""course.full_mode_plan (the settings a notebook runs with on the device it found) and course.require
(later cells after an interrupted long cell)."""

from __future__ import annotations

import pytest
import torch

from adain_lesson import course
from adain_lesson.errors import UserError

SETTINGS = dict(SIZE=(64, 256, 512, "authors' code"), RUNS=(3, 3, 20, "ours"))


@pytest.fixture(autouse=True)
def _no_mode_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ADAIN_LESSON_SMOKE", raising=False)
    monkeypatch.delenv("ADAIN_LESSON_QUICK", raising=False)


def test_a_cpu_gets_quick_settings_announced_with_the_papers_time(capsys: pytest.CaptureFixture) -> None:
    plan = course.full_mode_plan("04_adain_model.ipynb", torch.device("cpu"), **SETTINGS)
    assert (plan.smoke, plan.quick, plan.device) == (False, True, "cpu")
    assert (plan["SIZE"], plan["RUNS"]) == (256, 3)
    out = capsys.readouterr().out
    assert out.strip() == plan.message and "\n" not in plan.message
    # each full-mode value is labelled with its own source, never all of them "the paper's"
    assert "SIZE = 256 (full mode: 512, the authors' code)" in out and "RUNS = 3 (full mode: 20, ours)" in out
    assert "paper" not in out
    assert f"QUICK full mode on cpu (about {round(course.QUICK_MINUTES_CPU['04'])} min here)" in out
    assert f"about {course.FULL_MINUTES_CPU['04']:.0f} minutes" in out and "QUICK = False" in out
    hours = course.full_mode_plan("05", "cpu", announce=False, ITERS=(4, 200, 160_000, "authors' code"))
    assert hours["ITERS"] == 200 and "about 12 hours" in hours.message


def test_the_learner_can_force_the_papers_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = course.full_mode_plan("04", "cpu", quick=False, announce=False, **SETTINGS)
    assert not plan.quick and plan["SIZE"] == 512 and "full mode on cpu" in plan.message
    assert "SIZE = 512 (the authors' code)" in plan.message and "RUNS = 20 (ours)" in plan.message
    assert "13 minutes" in plan.message  # still told how long it will take
    monkeypatch.setenv("ADAIN_LESSON_QUICK", "0")
    assert course.full_mode_plan("04", "cpu", announce=False, **SETTINGS)["RUNS"] == 20
    monkeypatch.setenv("ADAIN_LESSON_QUICK", "1")
    assert course.full_mode_plan("04", "cuda:0", announce=False, **SETTINGS)["SIZE"] == 256


def test_a_gpu_gets_the_papers_settings_and_smoke_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu = course.full_mode_plan("04", "cuda", announce=False, **SETTINGS)
    assert not gpu.quick and gpu["SIZE"] == 512 and "minutes" not in gpu.message
    monkeypatch.setenv("ADAIN_LESSON_SMOKE", "1")
    smoke = course.full_mode_plan("04", "cuda", announce=False, **SETTINGS)
    assert smoke.smoke and not smoke.quick and smoke["SIZE"] == 64 and "SMOKE" in smoke.message
    assert course.full_mode_plan("04", "cpu", smoke=False, announce=False, **SETTINGS)["SIZE"] == 256
    for bad in ((64, 512), (64, 256, 512), (64, 256, 512, "the paper's settings")):  # a source is required
        with pytest.raises(UserError, match=r"\(smoke, quick, full, source\)"):
            course.full_mode_plan("04", "cpu", SIZE=bad)


def test_require_names_what_is_missing_and_what_to_rerun() -> None:
    namespace = {"result": object(), "log": None}
    course.require("result", namespace, rerun="the training cell")
    with pytest.raises(UserError) as err:
        course.require(["result", "log", "samples"], namespace, rerun="the training cell of section 3")
    text = str(err.value)
    assert text == ("log, samples are missing (an earlier cell was interrupted or not run): "
                    "re-run the training cell of section 3")
    with pytest.raises(UserError, match="^runs is missing .* re-run section 4$"):
        course.require("runs", {}, rerun="section 4")


def test_every_notebook_labels_each_full_mode_value_with_its_source() -> None:
    """Each parameters cell passes (smoke, quick, full, source) for every setting, with a known source."""
    import ast
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    seen = 0
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        cell = next(c for c in cells if "parameters" in c["metadata"].get("tags", []))
        source = "".join(cell["source"])
        assert "paper's settings" not in source, path.name  # full mode is "full mode"
        calls = [n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Call)
                 and getattr(n.func, "attr", None) == "full_mode_plan"]
        assert len(calls) == 1, path.name
        for kw in calls[0].keywords:
            if kw.arg in ("smoke", "quick", "announce"):
                continue
            value = ast.literal_eval(kw.value)
            assert len(value) == 4 and value[3] in course.SOURCES, (path.name, kw.arg, value)
            seen += 1
    assert seen >= 40
