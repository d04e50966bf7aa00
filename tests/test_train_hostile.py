"""Training under hostile or unlucky conditions (issue 14): two runs on one --out (two processes), a run
killed and its stale lock, torn logs, a full disk, a folder of only unreadable images, a resume on other
data or precision, and a run that diverges to NaN."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_train_config

from adain_lesson import files
from adain_lesson import train as T
from adain_lesson.errors import UserError
from adain_lesson.weights import find_checkpoints, load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")
ROOT = Path(__file__).resolve().parents[1]


def _one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text
    return text


def test_two_runs_on_one_out_never_mix_and_a_killed_runs_lock_does_not_block(train_dirs, tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = (
        "import sys, time; sys.path.insert(0, sys.argv[3]); import torch; torch.set_num_threads(1)\n"
        "from pathlib import Path; from conftest import tiny_train_config; from adain_lesson import train as T\n"
        "def slow(row):\n"
        "    print('row', row['iteration'], flush=True); time.sleep(0.3)\n"
        "T.train(tiny_train_config((Path(sys.argv[1]), Path(sys.argv[2])), Path(sys.argv[4]), max_iter=400), "
        "on_log=slow)\n"
    )
    first = subprocess.Popen([sys.executable, "-c", code, str(train_dirs[0]), str(train_dirs[1]),
                              str(ROOT / "tests"), str(out)], env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert first.stdout.readline().startswith("row 1"), first.stderr.read()  # it is training now
        with pytest.raises(UserError, match=f"another training run is writing to .*pid {first.pid}") as info:
            T.train(tiny_train_config(train_dirs, out, max_iter=3, resume="auto"))
        _one_line(info.value)
        rows = T.read_log(out / "log.jsonl")
        assert rows and all(r["iteration"] == i + 1 for i, r in enumerate(rows))  # only the first run's rows
        (out / "checkpoints").mkdir(exist_ok=True)
        stale = out / "checkpoints" / ".ckpt-00000009.pt.4194999-0badf00d.part"  # a killed save's leftover
        stale.write_bytes(b"half a checkpoint")
    finally:
        first.send_signal(signal.SIGKILL)  # killed hard: its lock file stays, its lock does not
        first.communicate(timeout=60)
    assert (out / ".train.lock").exists()
    res = T.train(tiny_train_config(train_dirs, out, max_iter=3, resume="auto"))
    assert res.iteration == 3 and not stale.exists() and not (out / ".train.lock").exists()
    config = load_checkpoint(res.checkpoint)["config"]
    assert config["max_iter"] == 3 and "400" not in (out / "config.json").read_text()


def test_a_torn_log_line_does_not_block_the_resume(train_dirs, tmp_path: Path, capsys) -> None:
    for fmt, torn in (("jsonl", '{"iteration": 4, "loss": 1.2, "cont'), ("csv", "4,0.52,0.1")):
        out = tmp_path / fmt
        T.train(tiny_train_config(train_dirs, out, max_iter=3, log_format=fmt))
        log = T._log_path(out, fmt)
        with open(log, "a", encoding="utf-8") as f:
            f.write(torn)  # the machine died mid-write
        res = T.train(tiny_train_config(train_dirs, out, max_iter=5, log_format=fmt, resume="latest"))
        assert "torn line" in capsys.readouterr().err
        assert [r["iteration"] for r in T.read_log(log)] == [1, 2, 3, 4, 5] and res.iteration == 5


def test_a_torn_line_is_never_glued_to_the_next_row(tmp_path: Path, capsys) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text('{"iteration": 1, "loss": 1.0}\n{"iteration": 2, "lo', encoding="utf-8")
    T._write_rows(log, [{"iteration": 3, "loss": 0.5}])
    assert [r["iteration"] for r in T.read_log(log)] == [1, 3]
    assert "torn line(s) (line 2" in capsys.readouterr().err


def test_torch_save_on_a_full_disk_is_one_line(tmp_path: Path, monkeypatch) -> None:
    """torch.save reports a failed write as RuntimeError ('unexpected pos'): the same one line as an OSError."""
    real_open = open

    class Full:
        def __init__(self, f) -> None:  # noqa: ANN001
            self.f, self.n = f, 0

        def write(self, b) -> int:  # noqa: ANN001
            self.n += len(b)
            if self.n > 4096:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.f.write(b)

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(self.f, name)

        def __enter__(self):  # noqa: ANN204
            return self

        def __exit__(self, *exc) -> None:  # noqa: ANN002
            self.f.close()

    monkeypatch.setattr(files, "open", lambda *a, **k: Full(real_open(*a, **k)), raising=False)
    path = tmp_path / "ckpt-00000002.pt"
    with pytest.raises(UserError, match="cannot write to .*ckpt-00000002.pt") as info:
        T._save_atomic({"format": T.CHECKPOINT_FORMAT, "w": torch.zeros(100_000)}, path)
    _one_line(info.value)
    assert list(tmp_path.iterdir()) == []


def test_a_run_on_a_full_disk_stops_with_one_line_and_keeps_the_old_checkpoint(train_dirs, tmp_path: Path,
                                                                              small_disk) -> None:
    disk = small_disk(1024)  # 1 MiB: config and log fit, a decoder checkpoint (14 MB and Adam's state) does not
    with pytest.raises(UserError, match="cannot write to .*ckpt-00000002.pt.*free some space") as info:
        T.train(tiny_train_config(train_dirs, disk / "run", max_iter=2))
    _one_line(info.value)
    assert not list((disk / "run" / "checkpoints").iterdir())  # no partial checkpoint, no temporary file
    assert [r["iteration"] for r in T.read_log(disk / "run" / "log.jsonl")] == [1, 2]


def test_a_folder_of_only_unreadable_images_fails_before_anything_is_written(train_dirs, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    for i in range(3):
        (bad / f"{i}.jpg").write_bytes(b"\xff\xd8\xff not a jpeg")
    out = tmp_path / "o"
    with pytest.raises(UserError, match="none of the 3 files") as info:
        T.train(tiny_train_config(train_dirs, out, content_dir=str(bad), batch_size=2))
    _one_line(info.value)
    assert not (out / "config.json").exists() and not (out / "checkpoints").exists()


def test_resume_on_other_images_is_refused_a_moved_folder_or_precision_is_named(train_dirs, tmp_path: Path,
                                                                                capsys) -> None:
    out = tmp_path / "run"
    T.train(tiny_train_config(train_dirs, out, max_iter=2))
    other = tmp_path / "other_content"
    shutil.copytree(train_dirs[0], other)
    (other / "house.png").unlink()
    with pytest.raises(UserError, match="trained on 4 content images .* holds 3 other or changed files"):
        T.train(tiny_train_config(train_dirs, out, max_iter=3, resume="latest", content_dir=str(other)))
    moved = tmp_path / "moved_style"
    shutil.copytree(train_dirs[1], moved)
    capsys.readouterr()
    T.train(tiny_train_config(train_dirs, out, max_iter=3, resume="latest", style_dir=str(moved), amp="on"))
    err = capsys.readouterr().err
    assert "style images moved" in err and "mixed precision off, this run has it on" in err


def test_divergence_names_the_last_finite_checkpoint_and_the_advice_works(train_dirs, tmp_path: Path,
                                                                          capsys) -> None:
    out = tmp_path / "run"
    T.train(tiny_train_config(train_dirs, out, max_iter=3))
    with pytest.raises(UserError, match=r"diverged: the loss became nan .*last finite checkpoint is ") as info:
        T.train(tiny_train_config(train_dirs, out, max_iter=8, checkpoint_every=100, resume="latest", lr=1e6))
    text = _one_line(info.value)
    bad = int(text.split("at iteration ")[1].split(";")[0])
    resume = text.split("resume=")[1].split(",")[0]
    assert Path(resume) == find_checkpoints(out)[-1]  # the newest, and no NaN checkpoint was saved after it
    assert int(Path(resume).stem.split("-")[1]) < bad
    assert all(torch.isfinite(v).all() for v in load_checkpoint(resume)["decoder"].values())
    capsys.readouterr()
    res = T.train(tiny_train_config(train_dirs, out, max_iter=5, resume=resume, lr=5e-5))  # the advice, followed
    assert res.iteration == 5 and "not an exact continuation" in capsys.readouterr().err
    assert all(map(lambda r: r == r, (row["loss"] for row in res.log)))  # finite again


def test_a_planted_log_link_is_never_appended_to(tmp_path: Path) -> None:
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me\n")
    log = tmp_path / "run" / "log.jsonl"
    log.parent.mkdir()
    log.symlink_to(outside)
    with pytest.raises(UserError, match="symbolic link"):
        T._write_rows(log, [{"iteration": 1, "loss": 1.0}])
    assert outside.read_text() == "keep me\n"


# ---- issue 20, item 13: resume edge cases ----


@pytest.mark.parametrize("dropped", ["rng", "optimizer"])
def test_a_checkpoint_without_rng_or_optimizer_resumes_with_a_note(train_dirs, tmp_path: Path, capsys,
                                                                    dropped: str) -> None:
    """Before: ``KeyError: 'rng'`` / ``'optimizer'``. The run resumes from the decoder and says it is not exact."""
    out = tmp_path / "run"
    T.train(tiny_train_config(train_dirs, out, max_iter=2, checkpoint_every=2))
    path = find_checkpoints(out)[-1]
    ckpt = torch.load(path, weights_only=True)
    del ckpt[dropped]
    torch.save(ckpt, path)
    capsys.readouterr()
    res = T.train(tiny_train_config(train_dirs, out, max_iter=4, checkpoint_every=2, resume="latest"))
    assert res.iteration == 4 and [r["iteration"] for r in T.read_log(out / "log.jsonl")] == [1, 2, 3, 4]
    err = capsys.readouterr().err
    assert f"holds no {dropped} state" in err and "not as an exact continuation" in err
    ckpt = torch.load(path, weights_only=True)
    del ckpt["decoder"]
    torch.save(ckpt, path)
    with pytest.raises(UserError, match="lacks its decoder weights") as info:
        T.train(tiny_train_config(train_dirs, out, max_iter=6, resume=str(path)))
    _one_line(info.value)


def test_a_users_own_file_in_checkpoints_is_never_resumed_from_nor_deleted(train_dirs, tmp_path: Path) -> None:
    """Before: ``ckpt-best.pt`` sorted after ``ckpt-00000006.pt`` and was resumed from (iteration 2 over 6), and the
    divergence message crashed on ``int('best')``; keep_last could delete the user's file."""
    out = tmp_path / "run"
    T.train(tiny_train_config(train_dirs, out, max_iter=2, checkpoint_every=2))
    best = out / "checkpoints" / "ckpt-best.pt"
    shutil.copy(find_checkpoints(out)[-1], best)  # the user keeps iteration 2 as "best"
    (out / "checkpoints" / "ckpt-notes.pt.txt").write_text("mine")
    T.train(tiny_train_config(train_dirs, out, max_iter=6, checkpoint_every=2, keep_last=1, resume="latest"))
    assert [p.name for p in find_checkpoints(out)] == ["ckpt-00000006.pt"]
    assert best.is_file() and (out / "checkpoints" / "ckpt-notes.pt.txt").is_file()
    res = T.train(tiny_train_config(train_dirs, out, max_iter=8, checkpoint_every=2, keep_last=1, resume="latest"))
    assert res.iteration == 8 and T.read_log(out / "log.jsonl")[-1]["iteration"] == 8  # from 6, not from "best"
    error = T._diverged(out, 10, "nan", tiny_train_config(train_dirs, out))
    assert "ckpt-00000008.pt" in str(error) and "best" not in str(error)


def test_out_inside_the_content_folder_does_not_change_the_training_data(train_dirs, tmp_path: Path) -> None:
    """Before: ``out`` inside ``content_dir`` made the run's own sample grids count as changed training data, and the
    resume was refused ("other or changed files")."""
    content = tmp_path / "content"
    shutil.copytree(train_dirs[0], content)
    out = content / "run"
    cfg = dict(max_iter=2, checkpoint_every=2, sample_every=1)
    T.train(tiny_train_config((content, train_dirs[1]), out, **cfg))
    assert list((out / "samples").glob("*.png"))  # pictures the run wrote under the content folder
    res = T.train(tiny_train_config((content, train_dirs[1]), out, **{**cfg, "max_iter": 4}, resume="latest"))
    assert res.iteration == 4
    ds = T._datasets(tiny_train_config((content, train_dirs[1]), out))[0]
    assert not [f for f in ds.files if "samples" in f.parts] and len(ds) == 4


@pytest.mark.parametrize("planted", ["checkpoints", "samples", "log.jsonl", "config.json"])
def test_a_file_where_a_folder_goes_or_the_reverse_is_one_line(train_dirs, tmp_path: Path, planted: str) -> None:
    """Before: a traceback (``FileExistsError`` / ``IsADirectoryError``) from deep inside the run."""
    out = tmp_path / "run"
    out.mkdir()
    if planted in ("checkpoints", "samples"):
        (out / planted).write_text("a file")
    else:
        (out / planted).mkdir()
    with pytest.raises(UserError, match=planted) as info:
        T.train(tiny_train_config(train_dirs, out, sample_every=1))
    _one_line(info.value)
    assert info.value.params == ("out",)
