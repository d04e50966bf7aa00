"""adain_lesson.weights: one encoder loader for the model, Gatys et al. and training, with errors that name
the caller's parameter (the CLI names its flag)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adain_lesson.__main__ import as_flags
from adain_lesson.errors import UserError
from adain_lesson.weights import load_encoder


def test_model_gatys_and_training_load_the_same_encoder(tmp_path: Path) -> None:
    from adain_lesson import gatys, train
    from adain_lesson.model import load_pretrained
    from adain_lesson.vgg import make_vgg

    model_enc = load_pretrained("random", "cpu").encoder
    gatys_enc = gatys.gatys_encoder("random", "cpu")  # to relu5_1
    train_enc = train._build_encoder(train.TrainConfig(encoder="random"))
    for a, b in zip(model_enc.body.parameters(), train_enc.body.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(model_enc.body.parameters(), gatys_enc.body.parameters()):  # the same weights, further
        assert torch.equal(a, b)
    assert len(gatys_enc.body) > len(model_enc.body) and model_enc.random_weights and gatys_enc.random_weights
    vgg = make_vgg()
    torch.save(vgg.state_dict(), tmp_path / "vgg_normalised.pth")
    for source in (tmp_path, tmp_path / "vgg_normalised.pth"):
        loaded = load_encoder(source, "relu4_1")
        assert not loaded.random_weights and torch.equal(loaded.body[2].weight, vgg[2].weight)


def test_errors_name_the_parameter_and_the_cli_names_the_flag(tmp_path: Path) -> None:
    from adain_lesson import train
    from adain_lesson.model import load_pretrained

    missing = tmp_path / "nowhere"
    with pytest.raises(UserError, match="^encoder must be auto, random") as caught:
        train._build_encoder(train.TrainConfig(encoder=str(missing)))
    assert as_flags(caught.value).startswith("--encoder must be auto, random")
    with pytest.raises(UserError, match="^weights must be auto, random") as caught:
        load_pretrained(missing, "cpu")
    assert as_flags(caught.value).startswith("--weights must be auto, random")
    with pytest.raises(UserError, match="unknown VGG layer"):
        load_encoder("random", "relu9_9")
