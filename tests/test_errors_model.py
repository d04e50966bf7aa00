"""A user's mistakes at the model's API (inputs, devices, weight files) are one-line UserErrors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adain_lesson import hub
from adain_lesson.errors import UserError
from adain_lesson.images import MIN_SIDE, sample_image, split_mask
from adain_lesson.model import load_pretrained
from adain_lesson.vgg import make_vgg
from adain_lesson.weights import random_init_


@pytest.fixture(scope="module")
def pair() -> tuple[torch.Tensor, torch.Tensor]:
    return sample_image("house", 32), sample_image("stripes", 32)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int64, torch.bool])
def test_integer_images_are_refused_with_the_fix(random_model, pair, dtype) -> None:
    c, s = pair
    with pytest.raises(UserError, match="expects float images in \\[0, 1\\].*images.load_image"):
        random_model.stylize((c * 255).to(dtype), s)
    with pytest.raises(UserError, match="style has dtype"):
        random_model.encode_style((s * 255).to(dtype))
    with pytest.raises(UserError, match="image has dtype"):
        random_model.encode((c * 255).to(dtype))


@pytest.mark.parametrize("dtype", [torch.float64, torch.float16, torch.bfloat16])
def test_other_float_dtypes_are_cast_to_the_models(random_model, pair, dtype) -> None:
    c, s = pair
    with torch.no_grad():
        ref = random_model.stylize(c, s)
        out = random_model.stylize(c.to(dtype), s.to(dtype))
        f = random_model.encode(c.to(dtype))
    assert out.dtype == ref.dtype == torch.float32 and f.dtype == torch.float32
    tol = 1e-5 if dtype == torch.float64 else 0.1 * float(ref.abs().max())  # half inputs round to 3 digits
    assert float((out - ref).abs().max()) <= tol


def test_values_outside_the_unit_range_or_not_finite_are_refused(random_model, pair) -> None:
    c, s = pair
    with pytest.raises(UserError, match="looks like 0..255"):
        random_model.stylize(c * 255, s)
    with pytest.raises(UserError, match="style has values up to .*looks like 0..255"):
        random_model.stylize(c, s * 255)
    with pytest.raises(UserError, match="looks normalised"):
        random_model.encode((c - 0.45) / 0.22)
    for bad in (float("nan"), float("inf"), -float("inf")):
        x = c.clone()
        x[0, 3, 3] = bad
        with pytest.raises(UserError, match="NaN or infinite"):
            random_model.stylize(x, s)
        with pytest.raises(UserError, match="NaN or infinite"):
            random_model.encode_style(x)
    with torch.no_grad():  # slightly outside [0, 1] (resampling overshoot) is fine
        assert random_model.stylize(c * 1.2 - 0.1, s).shape == (1, 3, 32, 43)


def test_small_images_wrong_types_and_batches(random_model, pair) -> None:
    c, s = pair
    with pytest.raises(UserError, match=f"content is 8x8 px.*at least {MIN_SIDE} px"):
        random_model.stylize(torch.rand(3, 8, 8), s)
    with pytest.raises(UserError, match="style is 40x12 px"):
        random_model.encode_style(torch.rand(3, 12, 40))
    with pytest.raises(UserError, match="must be an image tensor, got str.*images.load_image"):
        random_model.stylize("content.jpg", s)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="style 2 must be an image tensor, got str"):
        random_model.stylize(c, [s, "style.jpg"])  # type: ignore[list-item]
    cb, sb = c.expand(2, -1, -1, -1), s.expand(3, -1, -1, -1)
    with pytest.raises(UserError, match="batch of 3 but the content a batch of 2"):
        random_model.stylize(cb, sb)
    with pytest.raises(UserError, match="batch of 3 but the content a batch of 2"):
        random_model.stylize(cb, random_model.encode_style(sb))
    with torch.no_grad():
        assert random_model.stylize(cb, s).shape[0] == 2  # one style for all contents
        assert random_model.stylize(cb, s.expand(2, -1, -1, -1)).shape[0] == 2


def test_bool_masks_count_as_zero_one(random_model, pair) -> None:
    c, s = pair
    s2 = sample_image("waves", 32)
    m = split_mask("left", 32, 43)
    with torch.no_grad():
        ref = random_model.stylize(c, [s, s2], masks=m)
        out = random_model.stylize(c, [s, s2], masks=m > 0.5)
        out_list = random_model.stylize(c, [s, s2], masks=[m > 0.5, m <= 0.5])
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(out_list, ref)


def test_resolve_device() -> None:
    from adain_lesson.device import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert resolve_device(None) == resolve_device("auto")
    with pytest.raises(UserError, match="unknown device 'gpu': use cpu, cuda, cuda:N or mps"):
        resolve_device("gpu")
    for name in ("meta", "xpu"):
        with pytest.raises(UserError, match=f"'{name}'.*use cpu, cuda, cuda:N or mps"):
            resolve_device(name)
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        assert resolve_device(f"cuda:{n - 1}").index == n - 1
        with pytest.raises(UserError, match=f"only {n} GPU"):
            resolve_device(f"cuda:{n}")
    else:
        with pytest.raises(UserError, match="no CUDA GPU is available: use cpu"):
            resolve_device("cuda")
    with pytest.raises(UserError, match="unknown device 'gpu'"):
        load_pretrained("random", "gpu")


def _folder_with(tmp_path: Path, decoder_state: object) -> Path:
    torch.save(random_init_(make_vgg()).state_dict(), tmp_path / hub.WEIGHT_FILES[0])
    torch.save(decoder_state, tmp_path / hub.WEIGHT_FILES[1])
    return tmp_path


def test_a_decoder_with_wrong_keys_is_summarised(tmp_path: Path) -> None:
    good = load_pretrained("random", "cpu").decoder.state_dict()
    renamed = {f"module.{k}": v for k, v in good.items()}  # a DataParallel checkpoint
    folder = _folder_with(tmp_path, renamed)
    with pytest.raises(UserError) as info:
        load_pretrained(folder, "cpu")
    msg = str(info.value)
    n = len(good)
    assert f"{n} missing and {n} unexpected keys (missing e.g. '1.weight', '1.bias', '5.weight', ...;" in msg
    assert "unexpected e.g. 'module.1.weight'" in msg and "right file" in msg
    assert "\n" not in msg and len(msg) < 300


def test_a_pickled_module_is_named_as_such(tmp_path: Path) -> None:
    decoder = load_pretrained("random", "cpu").decoder
    folder = _folder_with(tmp_path, decoder)  # torch.save(model), not model.state_dict()
    with pytest.raises(UserError, match="holds a pickled model.*not a state_dict: save model.state_dict"):
        load_pretrained(folder, "cpu")
    (folder / hub.WEIGHT_FILES[1]).write_bytes(b"\x80\x02garbage")  # a damaged file is still "download again"
    with pytest.raises(UserError, match="download it again"):
        load_pretrained(folder, "cpu")
