"""Shared fixtures: tiny random-weight models, and the original repository's images when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
#: The original repository's images: ``../shared/adain-style-repo`` beside the checkout, or under
#: ``$ADAIN_LESSON_SHARED`` (for a worktree elsewhere). Tests that need it skip when it is absent.
SHARED = Path(os.environ.get("ADAIN_LESSON_SHARED", ROOT.parent / "shared")) / "adain-style-repo"


@pytest.fixture(scope="session")
def random_model():
    """The released layout with seeded random weights, on the CPU, in eval mode."""
    from adain_lesson.model import load_pretrained

    torch.manual_seed(0)
    return load_pretrained("random", "cpu")


@pytest.fixture(scope="session")
def shared_repo() -> Path:
    """../shared/adain-style-repo (the original AdaIN repository's images); skips when absent."""
    if not (SHARED / "MANIFEST.tsv").is_file():
        pytest.skip("../shared/adain-style-repo is not present (a fresh clone has none)")
    return SHARED
