"""Sections 7.1-7.2: the Enc-Concat / BN / IN decoder ablation (Figs. 5-6) and the evaluation losses (Fig. 3)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import tiny_train_config  # noqa: E402

from adain_lesson import evaluation as E
from adain_lesson import train as T
from adain_lesson.decoder import make_decoder
from adain_lesson.errors import UserError
from adain_lesson.images import sample_image
from adain_lesson.model import fuse, load_pretrained
from adain_lesson.weights import decoder_from_checkpoint, find_checkpoints, load_checkpoint, random_init_

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: one thread is fastest


@pytest.fixture(scope="module")
def model():
    return load_pretrained("random", "cpu")


def _square(name: str, n: int = 32) -> torch.Tensor:
    return sample_image(name, n)[:, :n, :n]


def _config(dirs: tuple[Path, Path], out: Path, **kw) -> T.TrainConfig:
    return tiny_train_config(dirs, out, **{"max_iter": 2, **kw})


def test_concat_decoder_layout_keeps_the_released_one() -> None:
    plain, concat = make_decoder(), make_decoder(in_channels=1024)
    assert len(plain) == len(concat) == 29
    assert concat[1].in_channels == 1024 and plain[1].in_channels == 512
    rest = {k: v.shape for k, v in plain.state_dict().items() if not k.startswith("1.")}
    assert rest == {k: v.shape for k, v in concat.state_dict().items() if not k.startswith("1.")}
    with pytest.raises(UserError, match="in_channels"):
        make_decoder(in_channels=256)


def test_fuse() -> None:
    from adain_lesson.model import fuse

    f_c, f_s = torch.rand(2, 512, 3, 3), torch.rand(2, 512, 5, 4)
    assert fuse(f_c, f_s, "adain").shape == f_c.shape
    cat = fuse(f_c, f_s, "concat")
    assert cat.shape == (2, 1024, 3, 3) and torch.equal(cat[:, :512], f_c)
    with pytest.raises(UserError, match="unknown fusion"):
        fuse(f_c, f_s, "sum")


@pytest.mark.parametrize(("fusion", "norm"), [("concat", "none"), ("adain", "batch"), ("adain", "instance")])
def test_variants_train_and_refuse_a_mismatched_resume(train_dirs, tmp_path: Path, fusion: str, norm: str) -> None:
    out = tmp_path / "run"
    result = T.train(_config(train_dirs, out, fusion=fusion, decoder_norm=norm))
    assert result.iteration == 2 and len(result.log) == 2
    assert all(torch.isfinite(torch.tensor([r["content"], r["style"]])).all() for r in result.log)
    ckpt = load_checkpoint(result.checkpoint)
    assert ckpt["config"]["fusion"] == fusion and ckpt["config"]["decoder_norm"] == norm
    dec, cfg = decoder_from_checkpoint(result.checkpoint)
    assert (cfg["fusion"], cfg["decoder_norm"]) == (fusion, norm)
    assert dec[1].in_channels == (1024 if fusion == "concat" else 512)
    # the same settings resume; another fusion or another norm is refused
    again = T.train(_config(train_dirs, out, fusion=fusion, decoder_norm=norm, max_iter=3, resume="latest"))
    assert again.iteration == 3
    other_fusion = "adain" if fusion == "concat" else "concat"
    with pytest.raises(UserError, match="another architecture"):
        T.train(_config(train_dirs, out, fusion=other_fusion, decoder_norm=norm, max_iter=4, resume="latest"))
    other_norm = "none" if norm != "none" else "instance"
    with pytest.raises(UserError, match="another architecture"):
        T.train(_config(train_dirs, out, fusion=fusion, decoder_norm=other_norm, max_iter=4, resume="latest"))


def test_bn_and_in_share_shapes_but_resume_is_still_refused(train_dirs, tmp_path: Path) -> None:
    """BN and IN (affine) decoders have parameters of one shape: the recorded config must catch it."""
    out = tmp_path / "run"
    T.train(_config(train_dirs, out, decoder_norm="instance"))
    with pytest.raises(UserError, match="decoder_norm"):
        T.train(_config(train_dirs, out, decoder_norm="batch", max_iter=3, resume="latest"))


def test_default_fusion_is_the_papers(train_dirs) -> None:
    assert T.TrainConfig().fusion == "adain" and "fusion" in T._RUN_FIELDS
    from adain_lesson.__main__ import as_flags

    with pytest.raises(UserError, match="^unknown fusion 'sum'") as caught:  # the library names its parameter
        T.train(_config(train_dirs, Path("unused"), fusion="sum"))
    assert as_flags(caught.value).startswith("unknown --fusion 'sum'")  # the CLI names its flag


def test_evaluate_losses_zero_for_identical_statistics(model) -> None:
    img = _square("grace_hopper", 32)
    loss_c, loss_s = E.evaluate_losses(model.encoder, img, img, img)
    assert float(loss_c) == 0.0 and float(loss_s) < 1e-8  # the content image against its own features
    loss_t, _ = E.evaluate_losses(model.encoder, img, img, img, content_target="adain")
    # t = AdaIN(f(c), f(c)) equals f(c) up to the variance epsilon
    assert float(loss_t) < 1e-6 * float(model.encoder(img[None]).pow(2).mean())
    other = _square("stripes", 32)
    _, loss_s_other = E.evaluate_losses(model.encoder, img, other, img)
    assert float(loss_s_other) > 1e-4


def test_the_evaluation_content_loss_is_against_the_content_images_features_not_t(model) -> None:
    # Fig. 3: "The content loss shown here is the same as in [52, 16]": || phi(x) - phi(c) ||, not Eq. 12's t
    c, s = _square("house", 32), _square("mosaic", 32)
    with torch.no_grad():
        out = model.stylize(c, s).clamp(0, 1)
        f_out, f_c = model.encoder(out), model.encoder(c[None])
        t = fuse(f_c, model.encoder(s[None]))
    loss_c, _ = E.evaluate_losses(model.encoder, c, s, out)
    assert torch.allclose(loss_c, torch.nn.functional.mse_loss(f_out, f_c), rtol=1e-5)
    assert not torch.allclose(loss_c, torch.nn.functional.mse_loss(f_out, t), rtol=1e-2)
    loss_t, _ = E.evaluate_losses(model.encoder, c, s, out, content_target="adain")
    assert torch.allclose(loss_t, torch.nn.functional.mse_loss(f_out, t), rtol=1e-5)
    # Fig. 3 scores at relu4_2 (Gatys et al.'s content layer), which the relu4_1 encoder cannot reach
    with pytest.raises(UserError, match="relu4_2"):
        E.evaluate_losses(model.encoder, c, s, out, content_layer="relu4_2")
    with pytest.raises(UserError, match="relu4_1"):
        E.evaluate_losses(model.encoder, c, s, out, content_target="adain", content_layer="relu4_2")
    with pytest.raises(UserError, match="content_target"):
        E.evaluate_losses(model.encoder, c, s, out, content_target="t")


def test_evaluate_losses_with_the_adain_target_matches_training_losses(model) -> None:
    torch.manual_seed(0)
    dec = random_init_(make_decoder(), 3)
    c = torch.stack([_square("house", 32), _square("mountains", 32)])
    s = torch.stack([_square("mosaic", 32), _square("waves", 32)])
    with torch.no_grad():
        want = T.training_losses(model.encoder, dec, c, s)
        out = dec(fuse(model.encoder(c), model.encoder(s)))
    got = E.evaluate_losses(model.encoder, c, s, out, content_target="adain")
    for a, b in zip(want, got):
        assert torch.allclose(a, b, rtol=1e-5), (a, b)
    with pytest.raises(UserError, match="size"):
        E.evaluate_losses(model.encoder, c, s, out[..., :16, :16])


def test_linear_and_log_steps() -> None:
    assert E.log_steps(1) == [1]
    steps = E.log_steps(500)
    assert steps[0] == 1 and steps[-1] == 500 and steps == sorted(set(steps)) and len(steps) >= 8
    assert E.linear_steps(500) == [1, *range(10, 501, 10)]
    assert E.linear_steps(7, 3) == [1, 3, 6, 7]
    with pytest.raises(UserError):
        E.linear_steps(0)


@pytest.fixture(scope="module")
def fig3(model):
    from adain_lesson.gatys import gatys_encoder

    vgg = gatys_encoder("random", "cpu")
    contents = [_square("grace_hopper", 32), _square("house", 32)]
    styles = [_square("mosaic", 32)]
    return E.fig3_losses(model, contents, styles, vgg, gatys_steps=5, score_every=2, texture_steps=2,
                         texture_batch=2, texture_width=4)


def test_fig3_losses_structure_and_the_reference_lines(fig3) -> None:
    result = fig3
    assert result["pairs"] == 2 and result["iterations"] == [1, 2, 4, 5]
    for key in ("content", "style"):
        curve = result["gatys"][key]
        assert len(curve) == len(result["iterations"]) and all(v >= 0 for v in curve)
        assert len(result["gatys"][f"ln_{key}_std"]) == len(curve)
        for method in ("adain", "texture_net", "content_image", "style_image"):
            assert result[method][key] >= 0
    # the content image scored against its own features: content loss exactly 0 (no ln, no line)
    assert result["content_image"]["content"] == 0.0 and result["content_image"]["ln_content"] is None
    assert result["content_image"]["style"] > 0 and result["style_image"]["content"] > 0
    assert result["gatys"]["style"][-1] < result["gatys"]["style"][0]  # the optimisation lowers the style loss
    st = result["settings"]
    assert st["style_loss"] == "mean_std" and st["content_layer"] == "relu4_2" and st["weights"] == "random"


def test_fig3_baselines_are_optimised_with_the_in_statistics_style_loss(model, monkeypatch) -> None:
    # "we also modify the loss function in [16] and [52] accordingly for a fair comparison"
    from adain_lesson import gatys, texture_net
    from adain_lesson.vgg import ADAIN_STYLE_LAYERS

    seen: dict[str, dict] = {}
    real_optimize, real_train = gatys.optimize_image, texture_net.train_texture_net

    def spy_optimize(*a, **kw):
        seen["gatys"] = kw
        return real_optimize(*a, **kw)

    def spy_train(*a, **kw):
        seen["texture"] = kw
        return real_train(*a, **kw)

    monkeypatch.setattr(gatys, "optimize_image", spy_optimize)
    monkeypatch.setattr(texture_net, "train_texture_net", spy_train)
    vgg = gatys.gatys_encoder("random", "cpu")
    args = ([_square("house", 32)], [_square("dots", 32)], vgg)
    E.fig3_losses(model, *args, gatys_steps=2, texture_steps=1, texture_batch=2, texture_width=4)
    assert seen["gatys"]["style_loss"] == "mean_std" and list(seen["gatys"]["style_layers"]) == list(ADAIN_STYLE_LAYERS)
    assert seen["texture"]["style_loss"] == "mean_std" and seen["texture"]["content_layer"] == "relu4_2"
    extra = E.fig3_losses(model, *args, gatys_steps=2, texture_steps=1, texture_batch=2, texture_width=4,
                          style_loss="gram")
    assert seen["gatys"]["style_loss"] == "gram" and seen["texture"]["style_loss"] == "gram"
    assert extra["settings"]["style_loss"] == "gram"
    with pytest.raises(UserError, match="mean_std"):
        E.fig3_losses(model, *args, style_loss="histogram")


def test_plot_fig3_draws_the_papers_axes_and_says_random_weights(fig3) -> None:
    import matplotlib.pyplot as plt

    fig = E.plot_fig3(fig3)
    style_ax, content_ax = fig.axes
    for ax, key in ((style_ax, "style"), (content_ax, "content")):
        assert ax.get_xscale() == "linear" and ax.get_yscale() == "linear" and ax.get_xlim()[0] == 0
        assert ax.get_ylabel() == f"ln({key} loss)" and "random weights" in ax.get_title()
    labels = [t.get_text() for t in style_ax.get_legend().get_texts()]
    assert labels[:3] == ["Gatys et al.", "Ours (AdaIN)", "Ulyanov et al."] and "Content Image" in labels
    assert "Content Image" not in [t.get_text() for t in content_ax.get_legend().get_texts()]  # its loss is 0
    # what the paper's figure does not have is labelled as ours: the spread band and the style image's line
    both = labels + [t.get_text() for t in content_ax.get_legend().get_texts()]
    ours = {label for label in both if "ours, not in the paper's figure" in label}
    assert len(ours) == 2 and any("SD" in label for label in ours) and any("Style Image" in label for label in ours)
    plt.close(fig)
    fig = E.plot_fig3(fig3 | {"settings": fig3["settings"] | {"style_loss": "gram"}}, random_weights=False)
    assert "not the paper's setting" in fig.axes[0].get_title() and "random" not in fig.axes[0].get_title()
    plt.close(fig)


def _final(order: dict[str, tuple[float, float]]) -> dict:
    return {name: {"content": c, "style": s} for name, (c, s) in order.items()}


def test_fig6_checks_read_the_paper_the_right_way_round() -> None:
    # as the paper reports: Enc-Concat-Dec low style, highest content; Enc-AdaIN-Dec lowest content; IN worst
    paper = _final({"Enc-AdaIN-Dec": (1.0, 2.0), "Enc-Concat-Dec": (3.0, 1.0),
                    "Enc-AdaIN-BNDec": (1.5, 2.5), "Enc-AdaIN-INDec": (2.0, 3.0)})
    report = E.fig6_checks(paper, random_weights=False)
    assert report["checked"] and all(r["holds"] for r in report["claims"]) and report["verdict"].startswith("5 of 5")
    assert any(r["source"].startswith('"Enc-Concat-Dec can reach low style loss') for r in report["claims"])
    # the old reading (Enc-AdaIN lowest style loss) is not what the paper says
    swapped = _final({"Enc-AdaIN-Dec": (1.0, 0.5), "Enc-Concat-Dec": (3.0, 1.0),
                      "Enc-AdaIN-BNDec": (1.5, 2.5), "Enc-AdaIN-INDec": (1.2, 2.0)})
    holds = {r["claim"]: r["holds"] for r in E.fig6_checks(swapped, random_weights=False)["claims"]}
    assert holds["Enc-Concat-Dec has the lowest style loss"] is False
    assert holds["the IN decoder is worst of the three AdaIN decoders"] is False
    assert holds["Enc-Concat-Dec has the highest content loss"] is True
    smoke = E.fig6_checks(paper, random_weights=True)
    assert smoke["verdict"] == "not checked: random weights" and all(r["holds"] is None for r in smoke["claims"])
    assert "not checked: random weights" in E.format_checks(smoke)
    with pytest.raises(UserError, match="Enc-AdaIN-INDec"):
        E.fig6_checks({k: v for k, v in paper.items() if k != "Enc-AdaIN-INDec"}, random_weights=False)


def test_plot_fig6_runs_to_the_given_axis_and_says_random_weights() -> None:
    import matplotlib.pyplot as plt

    logs = {name: [{"iteration": i, "content": 1.0 / i, "style": 2.0 / i} for i in (10, 20, 30)]
            for name in E.ABLATION_VARIANTS}
    fig = E.plot_fig6(logs, random_weights=True, xmax=E.FIG6_PAPER_ITERATIONS)
    assert fig.axes[0].get_xlim() == (0.0, 30_000.0) and "random weights" in fig.axes[0].get_title()
    assert E.final_losses(logs)["Enc-AdaIN-Dec"] == {"content": 1.0 / 30, "style": 2.0 / 30}
    plt.close(fig)


def test_fig5_grid(model) -> None:
    variants = {"Enc-AdaIN": (model.decoder, "adain"),
                "Enc-Concat": (random_init_(make_decoder(in_channels=1024), 1), "concat")}
    pairs = [(_square("house", 32), _square("dots", 40))]
    grid, settings = E.fig5_ablation_grid(model.encoder, variants, pairs, random_weights=True)
    assert settings["figure"] == "5" and settings["cols"] == 4 and settings["rows"] == 1
    assert settings["columns"][2:] == list(variants) and settings["labels"] == ["content", "style", *variants]
    assert settings["title_height"] > 0 and settings["weights"] == "random"
    assert grid.shape[0] == 3 and grid.min() >= 0 and grid.max() <= 1


def test_cli_trains_enc_concat_and_refuses_resuming_it_as_adain(train_dirs, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    from adain_lesson.__main__ import main as cli

    base = ["train", "--content-dir", str(train_dirs[0]), "--style-dir", str(train_dirs[1]),
            "--out", str(tmp_path / "o"), "--encoder", "random", "--load-size", "24", "--crop-size", "16",
            "--batch-size", "2", "--device", "cpu", "--workers", "0", "--sample-every", "0", "--no-progress"]
    assert cli([*base, "--fusion", "concat", "--max-iter", "1"]) == 0
    dec, cfg = decoder_from_checkpoint(find_checkpoints(tmp_path / "o")[-1])
    assert cfg["fusion"] == "concat" and dec[1].in_channels == 1024
    capsys.readouterr()
    assert cli([*base, "--max-iter", "2", "--resume", "latest"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "fusion=concat" in err and err.count("\n") == 1


def test_fig3_losses_is_repeatable_and_leaves_the_global_rng_alone(model) -> None:
    from adain_lesson.gatys import gatys_encoder

    vgg = gatys_encoder("random", "cpu")
    args = ([_square("house", 32)], [_square("dots", 32)], vgg)
    kw = dict(gatys_steps=2, texture_steps=2, texture_batch=2, texture_width=4)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    a = E.fig3_losses(model, *args, **kw)
    assert torch.equal(torch.get_rng_state(), before)
    b = E.fig3_losses(model, *args, **kw)
    assert a["texture_net"] == b["texture_net"] and a["gatys"] == b["gatys"]
    with pytest.raises(UserError, match="one size"):
        E.fig3_losses(model, [_square("house", 32), _square("house", 40)], [_square("dots", 32)], vgg, **kw)


def test_one_ctrl_c_during_fig6_training_stops_and_draws_nothing(tmp_path: Path) -> None:
    """Issue 20, item 11: a real SIGINT while ``figures --fig 6`` trains its first decoder. The run checkpoints
    (the next command resumes it), the command exits non-zero and writes no Fig. 6 drawn from a partial run
    (before the fix: exit 0 and a figure from 12 of 100 log rows)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "figs"
    env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "adain_lesson", "figures", "--fig", "6", "--smoke", "--iterations", "100000",
           "--out", str(out), "--device", "cpu", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    log = out / "runs" / next(iter(E.ABLATION_VARIANTS)) / "log.jsonl"
    try:
        deadline = time.monotonic() + 180
        while not T.read_log(log) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        proc.send_signal(signal.SIGINT)
        stdout, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "not drawn from a partial run" in err
    assert not list(out.glob("fig06*")), sorted(p.name for p in out.iterdir())
    assert find_checkpoints(log.parent)  # the next command resumes from here
