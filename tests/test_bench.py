"""The benchmark (``adain_lesson.bench``) and the inference optimizations (``InferenceOptions``).

No timing is asserted: only that the quick benchmark runs and writes a well-formed report, and that every
optimization gives the reference output (float32: within 1e-5 relative; reduced precision: PSNR > 40 dB).
"""

from __future__ import annotations

import copy
import json
import math

import pytest
import torch
from torch import nn

from adain_lesson import bench
from adain_lesson.__main__ import main
from adain_lesson.errors import UserError
from adain_lesson.model import InferenceOptions, StyleTransfer, lesson_model, load_pretrained, reference_forward

SIZE = 64


@pytest.fixture(scope="module")
def model() -> StyleTransfer:
    return load_pretrained("random", "cpu")


@pytest.fixture(scope="module")
def images() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.rand(2, 3, SIZE, SIZE, generator=g), torch.rand(1, 3, 48, 56, generator=g)


@pytest.fixture(scope="module")
def reference(model, images) -> torch.Tensor:
    content, style = images
    return reference_forward(model.encoder.body, model.decoder, content[:1], style)


def _stylize(model: StyleTransfer, options: InferenceOptions, content, style) -> torch.Tensor:
    m = copy.deepcopy(model).optimize(options)
    with torch.inference_mode():
        return m.stylize(content, style)


def _close_fp32(out: torch.Tensor, ref: torch.Tensor) -> float:
    """Max |difference| relative to the reference's scale (the bench's float32 parity rule)."""
    return float((out - ref).abs().max()) / max(1.0, float(ref.abs().max()))


# ------------------------------------------------------------------------------------------------
# Parity of each optimization with the naive reference
# ------------------------------------------------------------------------------------------------


def test_inference_mode_is_exact(model, images, reference):
    out = _stylize(model, InferenceOptions(), images[0][:1], images[1])
    assert out.shape == reference.shape
    assert torch.equal(out, reference)


def test_channels_last_matches_within_1e5(model, images, reference):
    out = _stylize(model, InferenceOptions(channels_last=True), images[0][:1], images[1])
    assert out.is_contiguous()  # callers may .view() the result
    assert _close_fp32(out, reference) <= 1e-5


def test_bf16_autocast_on_cpu_passes_psnr(model, images, reference):
    for opts in (InferenceOptions(autocast="bfloat16"), InferenceOptions(channels_last=True, autocast="bfloat16")):
        out = _stylize(model, opts, images[0][:1], images[1])
        assert out.dtype == torch.float32
        assert not torch.equal(out, reference)  # it really ran in reduced precision
        assert bench.psnr(out, reference) > bench.MIN_PSNR_DB


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_fp16_autocast_on_cuda_passes_psnr(model, images, reference):
    gpu = copy.deepcopy(model).to("cuda")
    for opts in (InferenceOptions.for_device("cuda"), InferenceOptions(autocast="bfloat16", channels_last=True)):
        out = _stylize(gpu, opts, images[0][:1].cuda(), images[1].cuda()).cpu()
        assert bench.psnr(out, reference) > bench.MIN_PSNR_DB


def test_cached_style_statistics_are_exact(model, images):
    content, style = images
    with torch.inference_mode():
        direct = model.stylize(content[:1], style)
        cached = model.stylize(content[:1], model.encode_style(style))
    assert torch.equal(direct, cached)


def test_batching_many_contents_per_style(model, images):
    content, style = images
    m = copy.deepcopy(model).optimize("fp32")
    with torch.inference_mode():
        stats = m.encode_style(style)
        batched = m.stylize(content, stats)
        singles = torch.cat([m.stylize(content[i : i + 1], stats) for i in range(content.shape[0])])
    assert batched.shape == (2, 3, SIZE, SIZE)
    assert _close_fp32(batched, singles) <= 1e-5


def test_autocast_is_off_while_gradients_are_on(model, images, reference):
    """Training paths (gradients on) are never run in reduced precision."""
    m = copy.deepcopy(model).optimize(InferenceOptions(autocast="bfloat16"))
    content, style = images
    out = m.stylize(content[:1], style)
    assert torch.equal(out.detach(), reference)


def test_optimize_presets_and_reset(model, images, reference):
    m = copy.deepcopy(model)
    keys = set(m.state_dict())
    assert m.optimize("auto").options == InferenceOptions.for_device("cpu", "auto")
    assert m.decoder[1].weight.is_contiguous(memory_format=torch.channels_last)
    with pytest.MonkeyPatch.context() as mp:  # a stand-in for torch.compile's wrapper, also an nn.Module
        mp.setattr(torch, "compile", lambda module: nn.Sequential(module))
        m.optimize(InferenceOptions(compile=True))
    assert set(m.state_dict()) == keys  # the compiled wrappers are not submodules
    with torch.inference_mode():
        assert m.stylize(images[0][:1], images[1]).shape == reference.shape  # and they are used
    m.optimize("none")
    assert m.decoder[1].weight.is_contiguous()
    with torch.inference_mode():
        assert torch.equal(m.stylize(images[0][:1], images[1]), reference)
    with pytest.raises(UserError, match="preset"):
        m.optimize("fastest")
    with pytest.raises(UserError, match="autocast"):
        InferenceOptions(autocast="int8")
    with pytest.raises(UserError, match="precision"):
        InferenceOptions.for_device("cpu", "fp64")


def test_for_device_defaults():
    cpu = InferenceOptions.for_device("cpu", "fp32")
    assert cpu.channels_last and cpu.autocast is None and not cpu.compile
    cuda = InferenceOptions.for_device("cuda")
    assert cuda.channels_last and cuda.cudnn_benchmark and cuda.autocast == "float16"
    assert InferenceOptions.for_device("cuda", "fp32").autocast is None


def test_lesson_model_uses_float32_winners(capsys):
    m = lesson_model(True, "cpu")
    assert m.options == InferenceOptions.for_device("cpu", "fp32")
    assert "RANDOM WEIGHTS" in capsys.readouterr().err  # a terminal: the banner goes to standard error


# ------------------------------------------------------------------------------------------------
# Measures
# ------------------------------------------------------------------------------------------------


def test_conv_flops_match_a_hooked_forward(model):
    counted: list[int] = []

    def hook(m: nn.Conv2d, _inp, out):
        counted.append(2 * out.numel() * m.in_channels * m.kernel_size[0] * m.kernel_size[1])

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            x = torch.rand(2, 3, 40, 52)  # not a multiple of 8: exercises the ceil-mode pooling
            f = model.encoder.body(x)
            enc_hooked = sum(counted)
            out = model.decoder(f)
    finally:
        for h in handles:
            h.remove()
    enc, feat_shape = bench.conv_flops(model.encoder.body, x.shape)
    dec, out_shape = bench.conv_flops(model.decoder, feat_shape)
    assert feat_shape == tuple(f.shape) and out_shape == tuple(out.shape)
    assert enc == enc_hooked and enc + dec == sum(counted)


def test_psnr():
    ref = torch.linspace(0, 1, 100)
    assert math.isinf(bench.psnr(ref, ref))
    assert bench.psnr(ref + 0.01, ref) == pytest.approx(40.0, abs=1e-3)


# ------------------------------------------------------------------------------------------------
# The report and the CLI
# ------------------------------------------------------------------------------------------------


def test_quick_benchmark_writes_a_well_formed_json(tmp_path):
    report = bench.run_benchmark(["cpu"], methods=["naive", "inference_mode", "channels_last", "best", "best_batch"],
                                 quick=True, repeats=1, warmup=0)
    path = bench.write_json(report, tmp_path / "sub" / "bench.json")
    loaded = json.loads(path.read_text())
    bench.validate_report(loaded)
    rows = loaded["rows"]
    assert {r["method"] for r in rows} == {"naive", "inference_mode", "channels_last", "best", "best_batch"}
    assert {r["style_encoding"] for r in rows} == {True, False}
    assert all(r["size"] == 64 and len(r["runs_ms"]) == 1 for r in rows)
    assert all(r["parity_ok"] for r in rows), loaded["parity_failures"]
    naive = [r for r in rows if r["method"] == "naive"]
    assert all(r["speedup"] == pytest.approx(1.0) for r in naive)
    batch = next(r for r in rows if r["method"] == "best_batch" and r["style_encoding"])
    assert batch["batch"] == 2 and batch["ms_per_image"] == pytest.approx(batch["median_ms"] / 2)
    assert any("not measured" in n for n in loaded["notes"])  # no GPU here: said so
    assert "| cpu | 64 |" in bench.format_table(loaded)


def test_validate_report_rejects_broken_reports():
    good = {"schema": bench.SCHEMA, "created": "", "torch": "", "host": {}, "settings": {}, "devices": [],
            "notes": [], "parity_failures": [],
            "rows": [{"device": "cpu", "method": "naive", "size": 64, "style_encoding": True, "batch": 1,
                      "precision": "float32", "runs_ms": [1.0], "median_ms": 1.0, "parity_ok": True}]}
    bench.validate_report(good)
    for broken in (
        {k: v for k, v in good.items() if k != "rows"},
        {**good, "schema": "other/1"},
        {**good, "rows": [{**good["rows"][0], "median_ms": None}]},
        {**good, "rows": [{**good["rows"][0], "method": "magic"}]},
        {**good, "rows": [{**good["rows"][0], "size": "64"}]},
    ):
        with pytest.raises(ValueError):
            bench.validate_report(broken)


def test_cli_quick(tmp_path, capsys):
    out = tmp_path / "b.json"
    rc = main(["bench", "--quick", "--methods", "naive,best", "--mode", "cached", "--repeats", "1", "--warmup", "0",
               "--json", str(out)])
    assert rc == 0
    bench.validate_report(json.loads(out.read_text()))
    assert "| cpu | 64 | cached | best |" in capsys.readouterr().out


def test_cli_user_errors(capsys):
    assert main(["bench", "--quick", "--methods", "warp"]) == 2
    assert "unknown bench method" in capsys.readouterr().err
    assert main(["bench", "--sizes", "8"]) == 2
    assert "from 16 to 4096" in capsys.readouterr().err


def test_train_benchmark_uses_benchmark_training(monkeypatch):
    calls = []

    def fake(steps, tuned, device=None, batch=8, size=256):
        calls.append((steps, tuned, batch, size))
        return {"it_per_s": 3.0 if tuned else 1.5, "data_wait_share": 0.1}

    monkeypatch.setattr(bench, "benchmark_training", fake)  # bench imports train plainly
    result = bench.run_train_benchmark(4, "cpu")
    assert calls == [(4, False, 8, 256), (4, True, 8, 256)]
    assert result["speedup"] == pytest.approx(2.0)


def test_stylize_cli_precisions_agree(tmp_path):
    from adain_lesson.images import load_image

    outs = []
    for precision in ("fp32", "auto"):
        folder = tmp_path / precision
        rc = main(["stylize", "--weights", "random", "--device", "cpu", "--content-size", "64", "--style-size", "64",
                   "--precision", precision, "--out", str(folder)])
        assert rc == 0
        (path,) = folder.iterdir()
        outs.append(load_image(path))
    assert outs[0].shape == outs[1].shape
    assert bench.psnr(outs[1], outs[0]) > 35.0  # 8-bit images of the two precisions (clamped): near-identical
