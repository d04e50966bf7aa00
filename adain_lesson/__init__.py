"""adain-lesson: a tested helper package for the AdaIN teaching notebook series.

Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization",
ICCV 2017. Modules, lowest layer first (imports point down only; ``tests/test_repo.py`` checks it):

``errors`` -> ``files`` -> ``images``, ``hub``, ``viz``, ``course``, ``device`` -> ``norms``, ``vgg``,
``decoder``, ``color`` -> ``model``, ``losses`` -> ``gatys``, ``data``, ``gan``, ``texture_net`` -> ``train``
-> ``figures``, ``playground`` (the engine) -> ``evaluation``, ``bench``, ``widgets`` (the UI) -> ``exercises``
(the notebooks' answer checks), ``classroom`` (student copies, slides, Colab metadata) -> the CLI
(``__main__``). ``experiments`` is a deprecated re-export of ``figures``/``evaluation`` for one release.
"""

from __future__ import annotations

__version__ = "0.1.0"

#: The public repository. The Colab badges and the Colab install cell of every notebook are made from
#: this one constant: change it here, then run ``python -m adain_lesson sync-notebooks``
#: (``tests/test_repo.py`` fails until the notebooks agree with it).
REPO_URL = "https://github.com/adain-lesson/adain-lesson"
#: The branch the Colab badges open.
REPO_BRANCH = "main"

__all__ = ["REPO_BRANCH", "REPO_URL", "__version__"]
