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
from adain_lesson.weights import random_init_

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
    from adain_lesson.model import FUSIONS, fuse

    assert T.fuse is fuse and T.FUSIONS is FUSIONS  # the old home answers for one release
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
    ckpt = T.load_checkpoint(result.checkpoint)
    assert ckpt["config"]["fusion"] == fusion and ckpt["config"]["decoder_norm"] == norm
    dec, cfg = T.decoder_from_checkpoint(result.checkpoint)
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
    # t = AdaIN(f(c), f(c)) equals f(c) up to the variance epsilon; the output has the style's statistics
    assert float(loss_c) < 1e-6 * float(model.encoder(img[None]).pow(2).mean())
    assert float(loss_s) < 1e-8
    other = _square("stripes", 32)
    _, loss_s_other = E.evaluate_losses(model.encoder, img, other, img)
    assert float(loss_s_other) > 1e-4


def test_evaluate_losses_matches_training_losses(model) -> None:
    torch.manual_seed(0)
    dec = random_init_(make_decoder(), 3)
    c = torch.stack([_square("house", 32), _square("mountains", 32)])
    s = torch.stack([_square("mosaic", 32), _square("waves", 32)])
    with torch.no_grad():
        want = T.training_losses(model.encoder, dec, c, s)
        out = dec(fuse(model.encoder(c), model.encoder(s)))
    got = E.evaluate_losses(model.encoder, c, s, out)
    for a, b in zip(want, got):
        assert torch.allclose(a, b, rtol=1e-5), (a, b)
    with pytest.raises(UserError, match="size"):
        E.evaluate_losses(model.encoder, c, s, out[..., :16, :16])


def test_log_steps() -> None:
    assert E.log_steps(1) == [1]
    steps = E.log_steps(500)
    assert steps[0] == 1 and steps[-1] == 500 and steps == sorted(set(steps)) and len(steps) >= 8


def test_fig3_losses_structure(model) -> None:
    from adain_lesson.gatys import gatys_encoder

    vgg = gatys_encoder("random", "cpu")
    contents = [_square("grace_hopper", 32), _square("house", 32)]
    styles = [_square("mosaic", 32)]
    result = E.fig3_losses(model, contents, styles, vgg, gatys_steps=5, texture_steps=2, texture_batch=2,
                           texture_width=4)
    assert result["pairs"] == 2 and result["iterations"] == E.log_steps(5)
    for key in ("content", "style"):
        curve = result["gatys"][key]
        assert len(curve) == len(result["iterations"]) and all(v >= 0 for v in curve)
        assert result["adain"][key] >= 0 and result["texture_net"][key] >= 0
    # Gatys et al.'s optimisation lowers the style loss from white noise
    assert result["gatys"]["style"][-1] < result["gatys"]["style"][0]
    fig = E.plot_fig3(result)
    assert len(fig.axes) == 2 and fig.axes[0].get_xscale() == "log"
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_fig5_grid(model) -> None:
    variants = {"Enc-AdaIN": (model.decoder, "adain"),
                "Enc-Concat": (random_init_(make_decoder(in_channels=1024), 1), "concat")}
    pairs = [(_square("house", 32), _square("dots", 40))]
    grid, settings = E.fig5_ablation_grid(model.encoder, variants, pairs)
    assert settings["cols"] == 4 and settings["rows"] == 1 and settings["columns"][2:] == list(variants)
    assert grid.shape[0] == 3 and grid.min() >= 0 and grid.max() <= 1


def test_cli_trains_enc_concat_and_refuses_resuming_it_as_adain(train_dirs, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture) -> None:
    from adain_lesson.__main__ import main as cli

    base = ["train", "--content-dir", str(train_dirs[0]), "--style-dir", str(train_dirs[1]),
            "--out", str(tmp_path / "o"), "--encoder", "random", "--load-size", "24", "--crop-size", "16",
            "--batch-size", "2", "--device", "cpu", "--workers", "0", "--sample-every", "0", "--no-progress"]
    assert cli([*base, "--fusion", "concat", "--max-iter", "1"]) == 0
    dec, cfg = T.decoder_from_checkpoint(T.find_checkpoints(tmp_path / "o")[-1])
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
