"""adain-lesson: a tested helper package for the AdaIN teaching notebook series.

Huang & Belongie, "Arbitrary Style Transfer in Real-time with Adaptive Instance Normalization",
ICCV 2017. Modules, lowest layer first (imports point down only; ``tests/test_repo.py`` checks it):

``i18n`` -> ``errors`` -> ``files``, ``env``, ``memory`` -> ``images``, ``hub``, ``viz``, ``device`` -> ``norms``,
``vgg``, ``decoder``, ``color`` -> ``vgg_pip`` -> ``weights`` -> ``model``, ``losses`` -> ``gatys``, ``data``,
``gan``, ``texture_net`` -> ``train`` -> ``figures``, ``playground`` (the engine), ``video`` -> ``evaluation``,
``bench``, ``widgets`` (the UI), ``batch`` -> ``reproduce`` (the paper's results end to end) -> the
course machinery, apart in the subpackage ``course``
(``course.translation`` -> ``course`` (the notebook list and plans) -> ``course.exercises``,
``course.classroom``, ``course.rehearse``) -> the CLI (``__main__``). The science never imports the course.
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
