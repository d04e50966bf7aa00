"""The CLI's outputs, pinned: the same inputs give the same files, names, messages and settings as before the
package was reorganised (issue 12), and every image equals a recomputation in the same process.

What is pinned exactly (SHA-256 or literal): file names, standard output and error, and the settings JSON of
each figure (without the ``torch`` and ``python`` versions, which belong to the machine). Pixels depend on the
machine's float arithmetic, so images are not pinned by hash; instead each PNG must be byte-identical to one
recomputed here: through the reference forward pass (:func:`adain_lesson.model.reference_forward`, the
pytorch-AdaIN ``test.py`` pipeline) in the CLI's memory layout, or through the library call the CLI stands for.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch

from adain_lesson import images
from adain_lesson.__main__ import main
from adain_lesson.model import InferenceOptions, load_pretrained, reference_forward

pytestmark = pytest.mark.usefixtures("one_thread")

#: The random-weights banner as the CLI prints it on standard error (three lines).
BANNER_SHA256 = "36493860fee807f195394750631c9d71761bd62310a421ccd43a0e7456ac3db3"
#: Each figure's settings JSON, keys sorted, without the "torch" and "python" versions.
FIGURE_JSON_SHA256 = {
    "fig07_alpha_tradeoff.json": "e2c5abebd0c007687962a166ba76b22183b63d2a2a5ac6247a2d92101fb6bfc3",
    "fig09_preserve_color.json": "35c5fb7f6f0d11b1a1e77835869890632cb667906f052bef50c7ccd6c2b39349",
    "fig10_spatial_control.json": "40f5538f50011444394ae261296237623d5378b82633a1704f523893ddac963b",
}
CPU_FP32 = ["--weights", "random", "--device", "cpu", "--precision", "fp32"]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _cli_model():
    """The model the CLI builds for ``--weights random --device cpu --precision fp32``."""
    model = load_pretrained("random", "cpu")
    return model.optimize(InferenceOptions.for_device(torch.device("cpu"), "fp32"))


def _png_bytes(img: torch.Tensor, path: Path) -> bytes:
    return images.save_image(img, path).read_bytes()


def test_stylize_one_pair_equals_the_reference_forward_pass(tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["stylize", *CPU_FP32, "--content-size", "32", "--style-size", "32", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    name = "grace_hopper_stylized_mosaic.png"
    assert captured.out == f"{out / name}\n"
    assert _sha(captured.err.encode()) == BANNER_SHA256
    assert sorted(p.name for p in out.iterdir()) == [name]

    model = _cli_model()
    content, style = images.sample_image("grace_hopper", 32), images.sample_image("mosaic", 32)
    layout = torch.channels_last if model.options.channels_last else torch.contiguous_format
    c, s = (x[None].contiguous(memory_format=layout) for x in (content, style))
    ref = reference_forward(model.encoder, model.decoder, c, s)[0, :, : content.shape[-2], : content.shape[-1]]
    assert (out / name).read_bytes() == _png_bytes(ref, tmp_path / "ref.png")
    # and the layout changes the float rounding only (NCHW, the reference's own layout)
    plain = load_pretrained("random", "cpu")
    ref_nchw = reference_forward(plain.encoder, plain.decoder, content[None], style[None])
    assert torch.allclose(ref_nchw[0, :, : content.shape[-2], : content.shape[-1]], ref, atol=1e-4)


@pytest.mark.parametrize(
    ("args", "name", "call"),
    [
        (["--content", "sample:house", "--style", "sample:mosaic,sample:stripes", "--style-weights", "1,3",
          "--alpha", "0.7", "--content-size", "48", "--style-size", "40", "--crop"],
         "house_stylized_mosaic-stripes_w1-3_a0.7.png",
         {"content": ("house", 48, True), "styles": [("mosaic", 40), ("stripes", 40)], "alpha": 0.7,
          "weights": [1.0, 3.0]}),
        (["--content", "sample:house", "--style", "sample:dots", "--preserve-color", "--content-size", "40",
          "--style-size", "32"],
         "house_stylized_dots_keepcolor.png",
         {"content": ("house", 40, False), "styles": [("dots", 32)], "preserve_color": True}),
    ],
)
def test_stylize_names_and_pixels_match_the_library(args, name, call, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out"
    assert main(["stylize", *CPU_FP32, *args, "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"{out / name}\n" and _sha(captured.err.encode()) == BANNER_SHA256
    assert sorted(p.name for p in out.iterdir()) == [name]

    c_name, c_size, crop = call["content"]
    content = images.sample_image(c_name, c_size)
    if crop:  # the built-in samples are drawn at their size; --crop does not change them
        assert min(content.shape[-2:]) == c_size
    styles = [images.sample_image(n, size) for n, size in call["styles"]]
    with torch.inference_mode():
        expected = _cli_model().stylize(content, styles, alpha=call.get("alpha", 1.0), weights=call.get("weights"),
                                        preserve_color=call.get("preserve_color", False))
    assert (out / name).read_bytes() == _png_bytes(expected[0], tmp_path / "expected.png")


def test_figures_smoke_names_settings_and_pixels(tmp_path: Path, capsys) -> None:
    from adain_lesson.figures import FIGURE_STEMS, load_inputs, make_figure

    out = tmp_path / "f"
    assert main(["figures", "--smoke", "--device", "cpu", "--size", "32", "--fig", "7", "9", "10",
                 "--out", str(out)]) == 0
    stems = [FIGURE_STEMS[f] for f in ("7", "9", "10")]
    assert stems == ["fig07_alpha_tradeoff", "fig09_preserve_color", "fig10_spatial_control"]
    lines = [str(out / f"{stem}{ext}") for stem in stems for ext in (".png", ".json")]
    assert capsys.readouterr().out == "".join(f"{line}\n" for line in lines)
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(line).name for line in lines)
    model = load_pretrained("random", "cpu")
    for fig, stem in zip(("7", "9", "10"), stems):
        settings = json.loads((out / f"{stem}.json").read_text(encoding="utf-8"))
        assert settings.pop("torch") == torch.__version__ and "python" in settings
        settings.pop("python")
        # issue 21 added, on purpose, the weights' provenance label (none beside "weights": "random")
        assert settings.pop("weights_label") is None and settings["weights"] == "random"
        # issue 13 added, on purpose, the label drawn on each tile and the "random weights" title strip;
        # everything else is pinned as before
        layout = settings["layout"]
        assert layout.pop("title_height") > 0 and len(layout.pop("labels")) == layout["rows"] * layout["cols"]
        assert _sha(json.dumps(settings, sort_keys=True).encode()) == FIGURE_JSON_SHA256[f"{stem}.json"], stem
        image, _ = make_figure(fig, model, load_inputs(fig, True, 32))
        assert (out / f"{stem}.png").read_bytes() == _png_bytes(image, tmp_path / f"{stem}.png"), stem
