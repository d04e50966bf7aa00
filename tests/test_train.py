"""adain_lesson.train: the objective, exact resume (also after a signal), atomic checkpoints, clear errors,
and two-process DDP on the CPU (gloo). Tiny images, random weights."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_train_config  # noqa: E402

from adain_lesson import train as T
from adain_lesson.__main__ import main as cli
from adain_lesson.errors import UserError
from adain_lesson.weights import find_checkpoints, load_checkpoint

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


def test_every_default_has_a_source() -> None:
    from dataclasses import fields

    for f in fields(T.TrainConfig):
        assert f.metadata.get("source"), f.name
    c = T.TrainConfig()
    assert (c.lr, c.lr_decay, c.batch_size, c.max_iter, c.crop_size, c.load_size) == (1e-4, 5e-5, 8, 160_000, 256, 512)
    assert T.learning_rate(c, 0) == 1e-4 and abs(T.learning_rate(c, 20_000) - 5e-5) < 1e-15
    assert "1e-1" in T.describe_config()  # the Lua README's weight for decoder.t7 is recorded


def test_losses_follow_eqs_12_and_13() -> None:
    from adain_lesson.decoder import make_decoder
    from adain_lesson.norms import calc_mean_std
    from adain_lesson.vgg import Encoder, make_vgg
    from adain_lesson.weights import random_init_

    enc = Encoder(random_init_(make_vgg(), 0))
    dec = random_init_(make_decoder(), 1)
    c, s = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    lc, ls = T.training_losses(enc, dec, c, s)
    with torch.no_grad():
        fs = enc.features(s)
        fc = enc(c)
        cm, cs = calc_mean_std(fc)
        sm, ss = calc_mean_std(fs[-1])
        t = (fc - cm) / cs * ss + sm
        fo = enc.features(dec(t))
        want_c = ((fo[-1] - t) ** 2).mean()
        want_s = sum(((calc_mean_std(a)[0] - calc_mean_std(b)[0]) ** 2).mean()
                     + ((calc_mean_std(a)[1] - calc_mean_std(b)[1]) ** 2).mean() for a, b in zip(fo, fs))
    assert torch.allclose(lc, want_c, rtol=1e-5) and torch.allclose(ls, want_s, rtol=1e-5)
    lc.backward()
    assert all(p.grad is not None for p in dec.parameters())
    assert all(p.grad is None for p in enc.parameters())  # the encoder stays frozen


def test_resume_after_sigterm_is_exact(train_dirs, tmp_path: Path) -> None:
    full = T.train(tiny_train_config(train_dirs, tmp_path / "full"))
    assert [r["iteration"] for r in full.log] == [1, 2, 3, 4, 5, 6]
    assert full.skipped >= 1  # the corrupt style file was skipped, and counted

    def stop_at_3(row: dict) -> None:
        if row["iteration"] == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # as a cluster or Colab would

    part = T.train(tiny_train_config(train_dirs, tmp_path / "cut"), on_log=stop_at_3)
    assert part.stopped == "SIGTERM" and part.iteration == 3
    assert part.checkpoint is not None and part.checkpoint.name == "ckpt-00000003.pt"
    rest = T.train(tiny_train_config(train_dirs, tmp_path / "cut", resume="latest"))
    assert rest.iteration == 6 and rest.stopped is None
    got = T.read_log(tmp_path / "cut" / "log.jsonl")
    want = full.log
    assert [r["iteration"] for r in got] == [1, 2, 3, 4, 5, 6]
    for a, b in zip(got, want):
        assert (a["content"], a["style"]) == (b["content"], b["style"]), a["iteration"]  # bit for bit
    w_full = load_checkpoint(full.checkpoint)["decoder"]
    w_cut = load_checkpoint(rest.checkpoint)["decoder"]
    assert all(torch.equal(w_full[k], w_cut[k]) for k in w_full)
    assert not list((tmp_path / "cut" / "checkpoints").glob("*.part"))


def test_keep_last_csv_log_and_samples(train_dirs, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = T.train(tiny_train_config(train_dirs, out, max_iter=4, checkpoint_every=2, keep_last=1, log_format="csv",
                          log_every=2, sample_every=4))
    assert [p.name for p in find_checkpoints(out)] == ["ckpt-00000004.pt"]
    rows = T.read_log(out / "log.csv")
    assert [r["iteration"] for r in rows] == [2, 4] and rows == res.log
    assert (out / "samples" / "iter-00000004.png").is_file()
    ck = load_checkpoint(find_checkpoints(out)[-1])
    assert {"decoder", "optimizer", "scaler", "rng", "config", "iteration"} <= set(ck)
    assert ck["config"]["batch_size"] == 2 and ck["iteration"] == 4


def test_checkpoint_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "ckpt-00000001.pt"
    T._save_atomic({"format": T.CHECKPOINT_FORMAT, "x": torch.ones(3)}, path)

    def broken_save(obj, f) -> None:
        f.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(UserError, match="cannot write .*disk full"):  # one line, not a traceback
        T._save_atomic({"format": T.CHECKPOINT_FORMAT, "x": torch.zeros(3)}, path)
    assert torch.equal(load_checkpoint(path)["x"], torch.ones(3))  # the old file is intact
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # and no temporary file is left


def test_an_old_run_is_never_mixed_with_a_new_one(train_dirs, tmp_path: Path, capsys) -> None:
    """A fresh run over old checkpoints is refused; ``resume="auto"`` starts, continues, or finds it done."""
    out = tmp_path / "run"
    first = T.train(tiny_train_config(train_dirs, out, max_iter=3, resume="auto"))  # nothing there: a fresh start
    assert first.iteration == 3 and [p.name for p in find_checkpoints(out)] == ["ckpt-00000003.pt"]
    with pytest.raises(UserError, match="already holds checkpoints.*set resume") as refused:
        T.train(tiny_train_config(train_dirs, out, max_iter=2))
    from adain_lesson.__main__ import as_flags

    assert "--" not in str(refused.value)  # the library speaks in parameters; the CLI maps them to its flags
    assert "set --resume" in as_flags(refused.value) and "the --out folder" in as_flags(refused.value)
    assert [p.name for p in find_checkpoints(out)] == ["ckpt-00000003.pt"]  # untouched
    again = T.train(tiny_train_config(train_dirs, out, max_iter=3, resume="auto"))  # the same cell, run again
    assert again.checkpoint == first.checkpoint and again.log == first.log
    assert "nothing to train" in capsys.readouterr().err
    torch.manual_seed(123)
    import random

    before = (torch.get_rng_state(), random.getstate())
    more = T.train(tiny_train_config(train_dirs, out, max_iter=5, resume="auto"))  # restores the run's RNG ...
    assert torch.equal(torch.get_rng_state(), before[0]) and random.getstate() == before[1]  # ... not the caller's
    assert [r["iteration"] for r in more.log] == [4, 5] and more.iteration == 5
    assert [r["iteration"] for r in T.read_log(out / "log.jsonl")] == [1, 2, 3, 4, 5]


def test_bad_configurations_fail_before_any_work(train_dirs, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "o"
    with pytest.raises(UserError, match="holds no images"):
        T.train(tiny_train_config(train_dirs, out, content_dir=str(empty)))
    with pytest.raises(UserError, match="batch size 9 is larger than the content set"):
        T.train(tiny_train_config(train_dirs, out, batch_size=9))
    blocker = tmp_path / "a_file"
    blocker.write_text("x")
    with pytest.raises(UserError, match="cannot write to the output folder"):
        T.train(tiny_train_config(train_dirs, blocker / "sub"))
    with pytest.raises(UserError, match="no checkpoint"):
        T.train(tiny_train_config(train_dirs, out, resume="latest"))
    assert not (out / "log.jsonl").exists() and not find_checkpoints(out)


def test_checkpoint_from_another_architecture_is_refused(train_dirs, tmp_path: Path) -> None:
    from adain_lesson.decoder import make_decoder

    out = tmp_path / "o"
    (out / "checkpoints").mkdir(parents=True)
    other = make_decoder("instance")
    fake = {"format": T.CHECKPOINT_FORMAT, "iteration": 2, "decoder": other.state_dict(),
            "arch": T._shapes(other), "config": {"decoder_norm": "instance"}}
    torch.save(fake, out / "checkpoints" / "ckpt-00000002.pt")
    with pytest.raises(UserError, match="another architecture"):
        T.train(tiny_train_config(train_dirs, out, resume="latest"))
    (out / "checkpoints" / "ckpt-00000003.pt").write_bytes(b"garbage")
    with pytest.raises(UserError, match="cannot read checkpoint"):
        T.train(tiny_train_config(train_dirs, out, resume="latest"))


def test_cli_reports_errors_in_one_line(train_dirs, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    rc = cli(["train", "--content-dir", str(tmp_path / "none"), "--style-dir", str(train_dirs[1]), "--out",
              str(tmp_path / "o"), "--encoder", "random"])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("error: content folder not found") and err.count("\n") == 1


def test_ddp_two_processes_on_cpu(train_dirs, tmp_path: Path) -> None:
    """The same command under torchrun with 2 gloo processes: one log, one set of checkpoints, ranks in sync."""
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    out = tmp_path / "ddp"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "adain_lesson", "train", "--content-dir", str(train_dirs[0]),
           "--style-dir", str(train_dirs[1]), "--out", str(out), "--encoder", "random", "--load-size", "24",
           "--crop-size", "16", "--batch-size", "1", "--max-iter", "3", "--log-every", "1", "--checkpoint-every", "2",
           "--sample-every", "0", "--device", "cpu", "--workers", "0", "--no-progress"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    rows = T.read_log(out / "log.jsonl")
    assert [r["iteration"] for r in rows] == [1, 2, 3]  # written once, by rank 0 only
    assert [p.name for p in find_checkpoints(out)] == ["ckpt-00000002.pt", "ckpt-00000003.pt"]
    assert load_checkpoint(find_checkpoints(out)[-1])["world_size"] == 2
    assert proc.stdout.count("checkpoint:") == 1


def test_cli_sigterm_writes_a_checkpoint_and_exits_143(train_dirs, tmp_path: Path) -> None:
    """The command line, stopped by SIGTERM mid-run: a checkpoint at the iteration reached, exit 143."""
    import time

    out = tmp_path / "sig"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "adain_lesson", "train", "--content-dir", str(train_dirs[0]),
           "--style-dir", str(train_dirs[1]), "--out", str(out), "--encoder", "random", "--load-size", "24",
           "--crop-size", "16", "--batch-size", "1", "--max-iter", "100000", "--log-every", "1",
           "--checkpoint-every", "100000", "--sample-every", "0", "--device", "cpu", "--workers", "0", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        while not T.read_log(out / "log.jsonl") and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err[-3000:]
    assert "stopped by SIGTERM" in err and "--resume" in err
    last = T.read_log(out / "log.jsonl")[-1]["iteration"]
    ckpts = find_checkpoints(out)
    assert [p.name for p in ckpts] == [f"ckpt-{last:08d}.pt"]
    assert load_checkpoint(ckpts[0])["iteration"] == last


def test_benchmark_training_reports_both_loops(train_dirs) -> None:
    """The function ``python -m adain_lesson bench --train`` calls: keys and sane values (speed is not tested)."""
    naive = T.benchmark_training(2, False, "cpu", batch=2, size=16, warmup=1, image_dir=train_dirs[0])
    tuned = T.benchmark_training(2, True, "cpu", batch=2, size=16, warmup=1, image_dir=train_dirs[0], workers=1)
    for r in (naive, tuned):
        assert r["it_per_s"] > 0 and 0.0 <= r["data_wait_share"] <= 1.0 and r["steps"] == 2
        assert r["images_per_s"] == pytest.approx(r["it_per_s"] * 2)
    assert (naive["workers"], tuned["workers"]) == (0, 1) and not naive["tuned"] and tuned["tuned"]
    from adain_lesson.device import cpu_has_fast_bf16

    # the tuned CPU loop uses bfloat16 + channels_last only where the CPU computes bfloat16 natively
    assert tuned["amp"] == tuned["channels_last"] == cpu_has_fast_bf16()
    assert not naive["amp"] and not naive["channels_last"]


def test_bfloat16_training_on_the_cpu_runs_and_resumes_exactly(train_dirs, tmp_path: Path) -> None:
    """--amp on on a CPU: bfloat16 autocast without a GradScaler; finite losses; exact resume still holds."""
    bf16 = {"amp": "on", "channels_last": "on"}
    full = T.train(tiny_train_config(train_dirs, tmp_path / "full", max_iter=4, **bf16))
    assert all(torch.isfinite(torch.tensor([r["content"], r["style"]])).all() for r in full.log)
    T.train(tiny_train_config(train_dirs, tmp_path / "cut", max_iter=2, checkpoint_every=2, **bf16))
    rest = T.train(tiny_train_config(train_dirs, tmp_path / "cut", max_iter=4, resume="latest", **bf16))
    got = T.read_log(tmp_path / "cut" / "log.jsonl")
    assert [(r["content"], r["style"]) for r in got] == [(r["content"], r["style"]) for r in full.log]
    assert rest.iteration == 4


def test_encoder_may_be_a_folder_holding_the_released_file(tmp_path: Path) -> None:
    from adain_lesson.vgg import make_vgg

    vgg = make_vgg()
    torch.save(vgg.state_dict(), tmp_path / "vgg_normalised.pth")
    enc = T._build_encoder(T.TrainConfig(encoder=str(tmp_path)))
    assert torch.equal(enc.body[0].weight, vgg[0].weight)  # the file in the folder, loaded


_EACH = """
import json, sys
from adain_lesson import train as T
content, style, out = sys.argv[1:4]
kw = dict(content_dir=content, style_dir=style, encoder="random", load_size=24, crop_size=16, batch_size=1,
          max_iter=100000, log_every=1, checkpoint_every=100000, sample_every=0, progress=False, device="cpu",
          workers=0)
configs = {name: T.TrainConfig(out=f"{out}/{name}", **kw) for name in ("a", "b", "c")}
results = T.train_each(configs, on_log=lambda row: print("LOG", flush=True) if row["iteration"] == 1 else None)
print(json.dumps({k: [r.stopped, r.interrupted, r.iteration, str(r.checkpoint)] for k, r in results.items()}))
"""


def test_one_interrupt_stops_a_loop_over_train(train_dirs, tmp_path: Path) -> None:
    """Issue 17 (iii), with a real SIGINT: the first run checkpoints and returns, the others never start."""
    import json
    import time

    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-c", _EACH, str(train_dirs[0]), str(train_dirs[1]), str(tmp_path)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 120
        assert proc.stdout.readline().strip() == "LOG" and time.monotonic() < deadline
        proc.send_signal(signal.SIGINT)  # one Ctrl-C
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-3000:]
    results = json.loads(out.strip().splitlines()[-1])
    assert list(results) == ["a"], results  # b and c were not started
    stopped, interrupted, iteration, ckpt = results["a"]
    assert stopped == "SIGINT" and interrupted and 1 <= iteration < 100000
    assert Path(ckpt).is_file() and load_checkpoint(Path(ckpt))["iteration"] == iteration
    assert "not starting 'b', 'c'" in err
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_train_each_runs_every_configuration_without_an_interrupt(train_dirs, tmp_path: Path) -> None:
    configs = {n: tiny_train_config(train_dirs, tmp_path / n, max_iter=2) for n in ("x", "y")}
    results = T.train_each(configs)
    assert list(results) == ["x", "y"] and not any(r.interrupted for r in results.values())
    assert all(r.iteration == 2 and r.checkpoint is not None for r in results.values())
