"""A training run as weights: ``stylize --weights RUN_FOLDER`` (and ``figures``, ``lesson_model``) take the run's
encoder and its newest checkpoint's decoder; the train CLI's ``--preset cpu``. Tiny images, one thread."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from conftest import tiny_train_config  # noqa: E402

from adain_lesson import train as T
from adain_lesson.__main__ import main as cli
from adain_lesson.errors import UserError
from adain_lesson.model import lesson_model, load_pretrained
from adain_lesson.weights import find_run, load_checkpoint, load_encoder

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


@pytest.fixture(scope="module")
def short_run(train_dirs, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 4-iteration run with checkpoints at 2 and 4 (random encoder, seed 3)."""
    out = tmp_path_factory.mktemp("runs") / "short"
    T.train(tiny_train_config(train_dirs, out, max_iter=4, checkpoint_every=2, seed=3))
    return out


def test_a_run_folder_loads_its_encoder_and_newest_decoder(short_run: Path) -> None:
    run = find_run(short_run)
    assert run is not None and run.checkpoint.name == "ckpt-00000004.pt" and run.iteration == 4
    assert run.encoder == "random" and run.device == "cpu" and run.config["seed"] == 3
    model = load_pretrained(short_run, "cpu")
    assert model.trained_run == run and model.random_weights  # the run's encoder is random: said as such
    trained = load_checkpoint(run.checkpoint)["decoder"]
    for key, value in model.decoder.state_dict().items():
        assert torch.equal(value, trained[key]), key
    # the encoder is the one the decoder trained against: the random VGG of the run's seed, not of seed 0
    same = load_encoder("random", "relu4_1", seed=3)
    other = load_encoder("random", "relu4_1", seed=0)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(model.encoder(x), same(x)) and not torch.equal(model.encoder(x), other(x))
    # a checkpoint file of the run selects that checkpoint
    older = load_pretrained(short_run / "checkpoints" / "ckpt-00000002.pt", "cpu")
    assert older.trained_run.iteration == 2
    assert not torch.equal(older.decoder[1].weight, model.decoder[1].weight)
    # what it is, for every banner and figure made with it
    assert run.label.startswith("not the released model: a decoder trained here on the CPU (4 iterations)")


def test_stylize_takes_a_run_folder(short_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "out"
    assert cli(["stylize", "--weights", str(short_run), "--content", "sample:house", "--style", "sample:waves",
                "--content-size", "32", "--style-size", "32", "--device", "cpu", "--out", str(out)]) == 0
    written = sorted(out.glob("*.png"))
    assert [p.name for p in written] == ["house_stylized_waves.png"]
    assert "RANDOM WEIGHTS" in capsys.readouterr().err  # the run's encoder is random, and the banner says so


def test_a_folder_that_is_not_a_run_and_runs_that_cannot_serve(short_run: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    def error(folder: Path) -> str:
        capsys.readouterr()
        assert cli(["stylize", "--weights", str(folder), "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err  # one line
        return err

    (tmp_path / "plain").mkdir()
    assert "is not a training run" in error(tmp_path / "plain") and find_run(tmp_path / "plain") is None
    (tmp_path / "fresh" / "checkpoints").mkdir(parents=True)
    assert "--weights" in error(tmp_path / "fresh") and "without a checkpoint yet" in error(tmp_path / "fresh")
    broken = tmp_path / "broken"
    shutil.copytree(short_run, broken)
    (broken / "checkpoints" / "ckpt-00000004.pt").write_bytes(b"torn")
    said = error(broken)
    assert "does not load" in said and "ckpt-00000002.pt" in said  # names the earlier checkpoint that does
    for p in (broken / "checkpoints").glob("*.pt"):
        p.write_bytes(b"torn")
    assert "train the run again" in error(broken)


def test_a_concat_run_is_refused_for_stylizing(train_dirs, tmp_path: Path) -> None:
    out = tmp_path / "concat"
    T.train(tiny_train_config(train_dirs, out, max_iter=1, fusion="concat"))
    with pytest.raises(UserError, match="fusion=adain"):
        load_pretrained(out, "cpu")


def test_the_cpu_preset_is_ours_and_labelled(train_dirs, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    c = T.preset_config("cpu", content_dir="c", style_dir="s")
    got = (c.preset, c.load_size, c.crop_size, c.batch_size, c.lr, c.checkpoint_every)
    assert got == ("cpu", 256, 128, 4, 5e-4, 25)
    assert (c.lr_decay, c.style_weight, c.max_iter) == (5e-5, 10.0, 160_000)  # the rest stays the code's
    assert T.preset_config("cpu", crop_size=64).crop_size == 64  # a setting given explicitly wins
    table = T.describe_config(c)
    assert "ours (preset cpu)" in table.split("crop_size")[1].splitlines()[0]
    assert "paper" in T.describe_config().split("crop_size")[1].splitlines()[0]
    with pytest.raises(UserError, match="unknown preset"):
        T.preset_config("gpu")
    # the CLI: --preset cpu fills what is not given; a flag given wins; the run announces the preset
    out = tmp_path / "cli"
    d = {k: str(v) for k, v in zip(("c", "s"), train_dirs)}
    capsys.readouterr()
    assert cli(["train", "--content-dir", d["c"], "--style-dir", d["s"], "--encoder", "random", "--preset", "cpu",
                "--load-size", "24", "--crop-size", "16", "--batch-size", "2", "--max-iter", "1", "--no-progress",
                "--device", "cpu", "--workers", "0", "--out", str(out)]) == 0
    saved = json.loads((out / "config.json").read_text())
    assert (saved["preset"], saved["load_size"], saved["crop_size"], saved["checkpoint_every"]) == ("cpu", 24, 16, 25)
    err = capsys.readouterr().err
    assert "preset cpu (ours, not the paper's settings)" in err and "checkpoint_every=25" in err
    assert "crop_size" not in err.split("preset cpu")[1].split(";")[0]  # given explicitly: not the preset's


def test_notebooks_fall_back_to_a_run_when_the_released_weights_are_unavailable(
        short_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")  # an empty cache and no network: the released files cannot come
    with pytest.raises(UserError, match="DECODER_RUN"):
        lesson_model(False, "cpu")
    with pytest.raises(UserError, match="DECODER_RUN"):
        lesson_model(False, "cpu", fallback=tmp_path / "no-such-run")
    capsys.readouterr()
    model = lesson_model(False, "cpu", fallback=short_run)
    assert model.trained_run is not None and model.trained_run.folder == short_run
    said = capsys.readouterr()
    out = said.out + said.err
    assert "not available here" in out and "4 iterations" in out


def test_hold_out_keeps_images_out_of_training(train_dirs, tmp_path: Path) -> None:
    config = tiny_train_config(train_dirs, tmp_path / "held", hold_out="house, waves")
    content, style = T._datasets(config)
    assert T.held_out(config) == ["house", "waves"]
    assert "house" not in {f.stem for f in content.files} and "waves" not in {f.stem for f in style.files}
    assert "HOUSE2" in {f.stem for f in content.files} and len(style.files) == 4  # only those names, exactly
    with pytest.raises(UserError, match="hold_out names chicago"):
        T._datasets(tiny_train_config(train_dirs, tmp_path / "typo", hold_out="chicago"))


@pytest.fixture(scope="module")
def pip_run(train_dirs, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The issue's Done-when, made small: ``train --encoder vgg19-pip --preset cpu`` for 2 iterations on tiny
    crops, in a cache of its own (the conversion runs once for the module)."""
    home = tmp_path_factory.mktemp("pip_home")
    out = tmp_path_factory.mktemp("pip_runs") / "run"
    before = os.environ.get("ADAIN_LESSON_HOME")
    os.environ["ADAIN_LESSON_HOME"] = str(home)
    try:
        code = cli(["train", "--content-dir", str(train_dirs[0]), "--style-dir", str(train_dirs[1]),
                    "--encoder", "vgg19-pip", "--preset", "cpu", "--load-size", "40", "--crop-size", "32",
                    "--batch-size", "2", "--max-iter", "2", "--log-every", "1", "--device", "cpu", "--no-progress",
                    "--out", str(out)])
    finally:
        if before is None:
            os.environ.pop("ADAIN_LESSON_HOME")
        else:
            os.environ["ADAIN_LESSON_HOME"] = before
    assert code == 0
    return {"home": home, "out": out}


def test_stylize_and_figures_take_a_vgg19_pip_run(pip_run: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture) -> None:
    from adain_lesson.weights import TRAINED_HERE, provenance_label, weights_kind

    monkeypatch.setenv("ADAIN_LESSON_HOME", str(pip_run["home"]))
    monkeypatch.setenv("ADAIN_LESSON_OFFLINE", "1")  # nothing beyond the installed wheel
    capsys.readouterr()
    assert cli(["stylize", "--weights", str(pip_run["out"]), "--content", "sample:house", "--style", "sample:waves",
                "--content-size", "32", "--style-size", "32", "--device", "cpu", "--out", str(tmp_path / "s")]) == 0
    err = capsys.readouterr().err
    assert "not the released model" in err and "2 iterations" in err and "8-bit weights from pip" in err
    assert (tmp_path / "s" / "house_stylized_waves.png").is_file()
    model = load_pretrained(pip_run["out"], "cpu")
    assert not model.random_weights and model.encoder.provenance == "vgg19-pip"
    assert weights_kind(model) == TRAINED_HERE and "on the CPU (2 iterations)" in provenance_label(model)
    # figures: the same value; the figure's JSON and title say what the decoder is
    assert cli(["figures", "--smoke", "--weights", str(pip_run["out"]), "--fig", "7", "--device", "cpu",
                "--out", str(tmp_path / "f")]) == 0
    settings = json.loads(next((tmp_path / "f").glob("fig07*.json")).read_text())
    assert settings["weights"] == TRAINED_HERE and "8-bit weights from pip" in settings["weights_label"]
    assert settings["layout"]["title_height"] > 0  # a title strip says it on the image too
