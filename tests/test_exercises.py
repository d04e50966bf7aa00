"""The exercise checks: every check is fed a right answer, wrong answers (each with the hint it must give) and
the student copy's stub, and says so in one line without raising."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from adain_lesson.course import exercises as E
from adain_lesson.device import default_device
from adain_lesson.figures import bilinear_weights
from adain_lesson.norms import adaptive_instance_norm, relative_difference


def _stub(*args):  # what a student copy's "your code here" function returns
    ...


def _ema(values, beta):  # notebook 09's exponential moving average, written as a learner would
    out = [values[0]]
    for x in values[1:]:
        out.append(beta * out[-1] + (1 - beta) * x)
    return torch.stack(out)


def _mean_std(x: torch.Tensor, unbiased: bool = True):
    return x.mean(dim=(2, 3), keepdim=True), torch.sqrt(x.var(dim=(2, 3), keepdim=True, unbiased=unbiased) + 1e-5)


def _adain(x, y):
    (mx, sx), (my, sy) = _mean_std(x), _mean_std(y)
    return (x - mx) / sx * sy + my


def _adain_eq6(x, y):  # the paper's Eq. 6 variance (over H*W): accepted with a note
    (mx, sx), (my, sy) = _mean_std(x, False), _mean_std(y, False)
    return (x - mx) / sx * sy + my


def _style_loss(fs, ts, terms=("mean", "std"), per_layer=1.0):
    total = 0.0
    for f, t in zip(fs, ts):
        (fm, fsd), (tm, tsd) = _mean_std(f), _mean_std(t)
        total = total + ("mean" in terms) * F.mse_loss(fm, tm) + ("std" in terms) * F.mse_loss(fsd, tsd)
    return total * per_layer


def _calc_mean_std(feat, eps=1e-5, unbiased=True, keep=True):  # the tutorial's view/expand form
    n, c = feat.shape[:2]
    var = feat.view(n, c, -1).var(dim=2, unbiased=unbiased) + eps
    shape = (n, c, 1, 1) if keep else (n, c)
    return feat.view(n, c, -1).mean(dim=2).view(shape), var.sqrt().view(shape)


def _masked(fc, fs, mask):  # AdaIN over each region's positions, as the reference code selects them
    out, m = fc.clone(), mask.bool()
    for region, s in ((m, fs[0]), (~m, fs[1])):
        x = fc[..., region]
        xm, xs = x.mean(-1, keepdim=True), x.std(-1, keepdim=True)
        sm, ss = s.mean((2, 3)).unsqueeze(-1), s.std((2, 3)).unsqueeze(-1)
        out[..., region] = (x - xm) / xs * ss + sm
    return out


def _left_half(h: int, w: int) -> torch.Tensor:
    """A learner's left-half mask: 1 on the columns left of the middle."""
    m = torch.zeros(h, w)
    m[:, : w // 2] = 1.0
    return m


def _to_tensor(a):  # numpy [H, W, 3] uint8 -> [3, H, W] float in [0, 1]
    return torch.from_numpy(a).permute(2, 0, 1).float().div(255)


_HERE = default_device().type  # the device checks compare with this machine's
_ABSENT = "cpu" if _HERE == "cuda" else "cuda"  # on a CUDA machine the CPU is the wrong answer, else CUDA is

# (check, right answers, [(wrong answer, words the hint must contain)], stub); answers are argument tuples
CASES = {
    "check_smoke_mode": (
        [("b",), ("B)",), ("That the code runs, with random weights",),
         ("코드가 처음부터 끝까지 돌아간다는 것",)],
        [(("a",), "random weights"),
         (("AdaIN이 무엇을 할 수 있는지 보여 준다",), "pick one letter"),
         (("c",), "time full mode"), (("d",), "downloads nothing"),
         (("it looks nice",), "pick one letter"), ((2,), "one letter")],
        (...,),
    ),
    "check_image_tensor": (
        [(_to_tensor,), (lambda a: torch.as_tensor(a).permute(2, 0, 1) / 255.0,)],
        [((lambda a: torch.from_numpy(a).float() / 255,), "channels go first"),
         ((lambda a: _to_tensor(a)[None],), "batch of one"),
         ((lambda a: torch.from_numpy(a).permute(2, 1, 0).float() / 255,), "swapped"),
         ((lambda a: torch.from_numpy(a).permute(2, 0, 1).float(),), "divide by 255"),
         ((lambda a: torch.from_numpy(a).permute(2, 0, 1),), "convert to float"),
         ((lambda a: torch.from_numpy(a).reshape(3, *a.shape[:2]).float() / 255,), "permute(2, 0, 1)"),
         ((lambda a: a / 255,), "torch tensor")],
        (_stub,),
    ),
    "check_device": (
        [(default_device(),), (_HERE,), (torch.device(_HERE),)],
        [((_ABSENT,), "GPU"), (("tpu",), "not a device name"), ((3,), "torch.device")],
        (None,),
    ),
    "check_d_star": (
        [(lambda pd, pg: pd / (pd + pg),)],
        [((lambda pd, pg: pg / (pd + pg),), "1 - D*"), ((lambda pd, pg: pd / pg,), "sum"),
         ((lambda pd, pg: pd,), "share of p_data"), ((lambda pd, pg: 1 / 0,), "ZeroDivisionError"),
         ((0.5,), "function itself"), ((lambda pd, pg: pd[:3],), "shape")],
        (_stub,),
    ),
    "check_optimal_value": (
        [(-math.log(4),), (torch.tensor(-1.3863),)],
        [((math.log(4),), "sign"), ((-math.log(2),), "two terms"), ((0.5,), "D*"), ((0.0,), "JSD"), ((-1.0,), "p_g"),
         (("-log 4",), "a number")],
        (...,),
    ),
    "check_generator_loss": (
        [(lambda d: -torch.log(d).mean(),)],
        [((lambda d: torch.log(1 - d).mean(),), "saturating"), ((lambda d: torch.log(d).mean(),), "minimises"),
         ((lambda d: -torch.log(d).sum(),), "mean"), ((lambda d: -torch.log(d),), "one number"),
         ((lambda d: (1 - d).mean(),), "-E[log D(G(z))]")],
        (_stub,),
    ),
    "check_instance_norm": (
        [(lambda x: F.instance_norm(x),), (lambda x: (x - _mean_std(x, False)[0]) / _mean_std(x, False)[1],)],
        [((lambda x: F.batch_norm(x, None, None, training=True),), "batch norm"),
         ((lambda x: (x - _mean_std(x)[0]) / _mean_std(x)[1],), "H*W"), ((lambda x: x - x.mean(),), "subtract"),
         ((lambda x: x.mean(dim=(2, 3)),), "shape")],
        (None,),
    ),
    "check_adain": (
        [(_adain,), (adaptive_instance_norm,), (_adain_eq6,)],
        [((lambda x, y: F.instance_norm(x),), "scale by sigma(y)"), ((lambda x, y: _adain(x, y * 2),), "content"),
         ((lambda x, y: _adain(y, x),), "shape")],
        (_stub,),
    ),
    "check_cin_parameters": (
        [(2 * 64 * 32, 64), (2 * 128 * 10, 128, 10)],
        [((64 * 32, 64), "two vectors"), ((128, 64), "one style's pair"), ((64, 64), "one entry per channel"),
         ((7, 64), "count the entries")],
        (..., 64),
    ),
    "check_gram_matrix": (
        [(lambda f: f.flatten(2) @ f.flatten(2).transpose(1, 2),),
         (lambda f: f.flatten(2) @ f.flatten(2).transpose(1, 2) / f[0].numel(), True)],
        [((lambda f: f.flatten(2).transpose(1, 2) @ f.flatten(2),), "F^T F"),
         ((lambda f: f.flatten(2) @ f.flatten(2).transpose(1, 2) / f[0].numel(),), "plain sum"),
         ((lambda f: f.flatten(2) @ f.flatten(2).transpose(1, 2), True), "divide by C*H*W"),
         ((lambda f: (f.flatten(2) @ f.flatten(2).transpose(1, 2)).abs() + 1,), "inner product")],
        (_stub,),
    ),
    "check_mean_std_loss": (
        [(_style_loss,)],
        [((lambda fs, ts: _style_loss(fs, ts, ("mean",)),), "standard deviations"),
         ((lambda fs, ts: _style_loss(fs, ts, ("std",)),), "means' term"),
         ((lambda fs, ts: _style_loss(fs, ts, per_layer=0.5),), "sum the layers"),
         ((lambda fs, ts: torch.tensor([1.0, 2.0]),), "one number"), ((lambda fs, ts: torch.tensor(3.0),), "MSE")],
        (_stub,),
    ),
    "check_optimization_cost": (
        [("b",), ("B)",), ("Every image needs hundreds of forward and backward passes through VGG",),
         ("이미지마다 VGG-19를 지나는 순전파와 역전파를 수백 번 해야 하기 때문",)],
        [(("a",), "AdaIN runs VGG-19 too"),
         (("VGG-19가 너무 큰 네트워크라서",), "count the passes"),
         (("c",), "Adam usually needs more steps"), (("d",), "matrix product"),
         (("it is slow",), "count the passes"), ((2,), "one letter")],
        (...,),
    ),
    "check_calc_mean_std": (
        [(_calc_mean_std,), (lambda f: _calc_mean_std(f, eps=0.0),)],
        [((lambda f: _calc_mean_std(f, keep=False),), "[N, C, 1, 1]"),
         ((lambda f: _calc_mean_std(f, unbiased=False),), "unbiased"),
         ((lambda f: (f.mean(dim=(0, 2, 3), keepdim=True).expand(2, 3, 1, 1), _calc_mean_std(f)[1]),), "mean"),
         ((lambda f: (_calc_mean_std(f)[0], _calc_mean_std(f)[1] ** 2),), "sqrt"),
         ((lambda f: _calc_mean_std(f)[0],), "two tensors")],
        (_stub,),
    ),
    "check_alpha_zero": (
        [("b",), ("B",), ("The decoder's reconstruction of the content features",),
         ("디코더가 콘텐츠 특징을 복원한 이미지",)],
        [(("a",), "not an exact inverse"),
         (("스타일 이미지 그대로",), "Eq. 14"), (("d",), "alpha = 1"), (("c",), "Eq. 14"), (("the style",), "Eq. 14"),
         ((3,), "one letter")],
        (...,),
    ),
    "check_relu4_1_shape": (
        [((1, 512, 32, 32),), ([2, 512, 8, 12], (2, 3, 64, 96))],
        [(((1, 512, 16, 16),), "poolings"), (((1, 256, 32, 32),), "channels"), (((512, 32, 32),), "four numbers"),
         (("1x512",), "tuple of four")],
        (None,),
    ),
    "check_content_target": (
        [("b",), ("so that the decoder learns to invert t",),
         ("디코더가 AdaIN 출력 t를 되돌리도록 배우기 때문",)],
        [(("a",), "computed anyway"),
         (("t가 더 빨리 계산되기 때문",), "trained"),
         (("c",), "costs more"), (("d",), "style loss"), (("it is faster",), "trained")],
        (...,),
    ),
    "check_learning_rate": (
        [(1e-4 / (1 + 5e-5 * 1000), 1000), (1e-4, 0)],
        [((1e-4, 1000), "decays"), ((1e-4 * math.exp(-5e-5 * 1000), 1000), "inverse-time"),
         ((1e-4 / (1 + 5e-5 * 999), 1000), "off by one"), ((2e-4, 10), "lr / (1 + lr_decay * t)")],
        (..., 1000),
    ),
    "check_resized_size": (
        [(lambda w, h, load: (round(w * load / min(w, h)), round(h * load / min(w, h))),)],
        [((lambda w, h, load: (load, load),), "aspect ratio"),
         ((lambda w, h, load: (round(h * load / min(w, h)), round(w * load / min(w, h))),), "width first"),
         ((lambda w, h, load: (round(w * load / max(w, h)), round(h * load / max(w, h))),), "shorter"),
         ((lambda w, h, load: (int(w * load / min(w, h)), int(h * load / min(w, h))),), "round"),
         ((lambda w, h, load: (w, h),), "expected"), ((lambda w, h, load: 512,), "two whole numbers")],
        (_stub,),
    ),
    "check_style_weights": (
        [([0.25, 0.75],), (torch.tensor([0.2, 0.3, 0.5]),), ([0.5, 0.25, 0.25], [2, 1, 1])],
        [(([1, 3],), "sum of 1"), (([1.5, -0.5],), "non-negative"), (([0.0, 0.0],), "positive"), (([1.0],), "two"),
         (([2, 1, 1], [2, 1, 1]), "slider positions"), (([1 / 3, 1 / 3, 1 / 3], [2, 1, 1]), "proportions"),
         (([0.5, 0.5], [2, 1, 1]), "one weight per slider")],
        (...,),
    ),
    "check_color_preservation": (
        [("b",), ("The style image gets the content's colour mean and covariance",),
         ("스타일 이미지가 인코딩 전에 콘텐츠의 색 통계를 받는다",)],
        [(("a",), "which image gives up"), (("the content image takes the style's palette",), "which input image"),
         (("콘텐츠 이미지가 스타일의 색으로 바뀐다",), "which input image"),
         (("c",), "before the network"), (("d",), "AdaIN is unchanged"),
         (("the colours are kept",), "which input image"), ((2,), "one letter")],
        (...,),
    ),
    "check_split_mask": (
        [(_left_half,), (lambda h, w: _left_half(w, h).T, "top")],
        [((lambda h, w: 1 - _left_half(h, w),), "swapped: 1 goes on the left"),
         ((lambda h, w: _left_half(w, h).T,), "rows and columns"),
         ((lambda h, w: _left_half(h, w) * 0.5,), "only 0 and 1"),
         ((lambda h, w: torch.ones(h, w),), "set the left half"),
         ((lambda h, w: torch.ones(w, h),), "shape"), ((_left_half, "ellipse"), "kinds")],
        (_stub,),
    ),
    "check_bilinear_weights": (
        [(bilinear_weights(5),), (lambda n: bilinear_weights(n), 3)],
        [((bilinear_weights(5).transpose(0, 1),), "swapped"), ((bilinear_weights(5) * 2,), "sum to 1"),
         ((bilinear_weights(5).flip(-1),), "corner"), ((bilinear_weights(4),), "shape")],
        (...,),
    ),
    "check_masked_adain": (
        [(_masked,)],
        [((lambda fc, fs, m: adaptive_instance_norm(fc, fs[0]) * m + adaptive_instance_norm(fc, fs[1]) * (1 - m),),
          "whole map"),
         ((lambda fc, fs, m: _masked(fc, fs[::-1], m),), "swapped"),
         ((lambda fc, fs, m: adaptive_instance_norm(fc, fs[0]),), "each region")],
        (_stub,),
    ),
    "check_ablation": (
        [("highest_content_loss", "Enc-Concat-Dec"), ("low_style_high_content", "concat"),
         ("worst_normalized_decoder", "Enc-AdaIN-INDec"), ("worst_normalized_decoder", "IN")],
        [(("highest_content_loss", "Enc-AdaIN-Dec"), "paper's own model"),
         (("highest_content_loss", "BN"), "spatial layout"), (("worst_normalized_decoder", "batch norm"), "resets"),
         (("worst_normalized_decoder", "gatys"), "not one of the variants"), (("best", "IN"), "unknown question")],
        ("highest_content_loss", ...),
    ),
    "check_fig3_content_loss": (
        [(lambda out, fc, fs: F.mse_loss(out, fc),), (lambda out, fc, fs: ((out - fc) ** 2).mean().item(),)],
        [((lambda out, fc, fs: F.mse_loss(out, adaptive_instance_norm(fc, fs)),), "Eq. 12's training loss"),
         ((lambda out, fc, fs: ((out - fc) ** 2).sum(),), "sum of squares"),
         ((lambda out, fc, fs: (out - fc).abs().mean(),), "mean over all elements"),
         ((lambda out, fc, fs: (out - fc) ** 2,), "one number")],
        (_stub,),
    ),
    "check_relative_difference": (
        [(lambda a, b, ch: relative_difference(a, b, ch),),
         (lambda a, b, ch: float((a[:, ch] - b[:, ch]).abs().max() / a[:, ch].abs().max()),)],
        [((lambda a, b, ch: float((a[:, ch] - b[:, ch]).abs().max()),), "absolute difference"),
         ((lambda a, b, ch: relative_difference(a, b),), "select the channels"),
         ((lambda a, b, ch: float((a - b)[:, ch].abs().mean()),), "expected")],
        (_stub,),
    ),
    "check_alpha_effect": (
        [("up", "down"), ("Increases", "decreases")],
        [(("down", "down"), "content distance"), (("up", "up"), "style distance"), (("sideways", "down"), "up")],
        (..., "down"),
    ),
    "check_table1_fps": (
        [(1 / 0.018, 1 / 0.065), (55.6, 15.4)],
        [((1 / 0.027, 1 / 0.098), "with style encoding"), ((1 / 18, 1 / 65), "in seconds"),
         ((1 / 0.065, 1 / 0.018), "swapped"), ((30, 30), "1 / 0.018")],
        (..., 15.4),
    ),
    "check_video_cache": (
        [("b",), ("the style statistics, computed once",), ("스타일의 통계",)],
        [(("a",), "changes with the frame"), (("c",), "each frame's own"), (("d",), "new one for every frame"),
         (("the decoder",), "does not involve the frame"), ((3,), "one letter")],
        (...,),
    ),
    "check_temporal_change": (
        [(lambda f: (f[1:] - f[:-1]).abs().mean(dim=(1, 2, 3)),)],
        [((lambda f: (f[1:] - f[:-1]).abs().mean(),), "one number per pair"),
         ((lambda f: (f[1:] - f[:-1]).pow(2).mean(dim=(1, 2, 3)),), "squared"),
         ((lambda f: (f[1:] - f[:-1]).mean(dim=(1, 2, 3)).abs(),), "absolute value of the change before"),
         ((lambda f: (f[1:] - f[:-1]).abs().mean(dim=(0, 2, 3)),), "shape")],
        (_stub,),
    ),
    "check_smoothed_statistics": (
        [(_ema,)],
        [((lambda v, b: _ema(v, 1 - b),), "beta weighs the past"),
         ((lambda v, b: v.cumsum(0) / torch.arange(1, v.shape[0] + 1, dtype=v.dtype)[:, None],), "running mean"),
         ((lambda v, b: v * 0,), "start from row 0"), ((lambda v, b: v[1:],), "shape")],
        (_stub,),
    ),
}


def test_every_check_is_tested_and_listed_by_notebook() -> None:
    checks = {name for name in E.__all__ if name.startswith("check_")}
    assert set(CASES) == checks
    listed = [name for names in E.CHECKS.values() for name in names]
    assert set(listed) == checks and set(E.CHECKS) == {f"{i:02d}" for i in range(10)}
    assert len(listed) == len(set(listed)) + 1  # one check serves two notebooks: check_style_weights (06 and 08)


@pytest.mark.parametrize("name", sorted(CASES))
def test_check_accepts_right_rejects_wrong_and_waits_for_stubs(name: str, capsys: pytest.CaptureFixture) -> None:
    check = getattr(E, name)
    rights, wrongs, stub = CASES[name]
    for args in rights:
        assert check(*args) is True, args
        out = capsys.readouterr().out
        assert out.startswith("Correct.") and out.count("\n") == 1, out
    for args, hint in wrongs:
        assert check(*args) is False, args
        out = capsys.readouterr().out
        assert out.startswith("Not yet: ") and hint in out and out.count("\n") == 1, (args, out)
    assert check(*stub) is False
    assert capsys.readouterr().out.startswith("Not done yet: ")


def test_a_stub_function_and_none_count_as_not_done(capsys: pytest.CaptureFixture) -> None:
    def d_star(p_data, p_g):
        ...  # your code here

    assert E.check_d_star(d_star) is False and E.check_d_star(None) is False
    assert capsys.readouterr().out.count("Not done yet: ") == 2


def test_the_answers_come_from_the_package_not_a_table(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture) -> None:
    """Change the package's implementation and the checks' notion of "right" follows it."""
    monkeypatch.setattr(E.gan, "optimal_discriminator", lambda pd, pg: pg / (pd + pg))
    assert E.check_d_star(lambda pd, pg: pd / (pd + pg)) is False
    monkeypatch.setattr(E.train, "learning_rate", lambda config, t: config.lr)
    assert E.check_learning_rate(1e-4, 1000) is True
    capsys.readouterr()
