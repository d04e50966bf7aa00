"""The course machinery, apart from the science; this ``__init__`` is the course itself: the list of
notebooks, their full-mode plans, and the Colab links made from the one repository constant.

The subpackage, lowest first (the science in :mod:`adain_lesson` never imports it): :mod:`.translation`
(builds the Korean edition) -> this catalogue -> :mod:`.exercises` (the notebooks' answer checks),
:mod:`.classroom` (student copies, slides, Colab metadata), :mod:`.rehearse` (the full-mode rehearsal).

:data:`adain_lesson.REPO_URL` is the single place the repository's address lives. The notebooks and the
README hold copies of it (a Markdown badge cannot import Python), so :func:`sync` rewrites those copies
from the constant, and ``tests/test_repo.py`` fails while any copy disagrees:
change the constant, run ``python -m adain_lesson sync-notebooks``, commit.

Each notebook's ``parameters`` cell calls :func:`full_mode_plan` (smoke, quick or full mode's settings for
the device it found, announced with the expected minutes), and cells after a long one call :func:`require`
(a one-line "re-run ..." instead of a ``NameError`` when the long cell was interrupted).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import REPO_BRANCH, REPO_URL, env
from ..errors import UserError
from ..files import atomic_write_text
from ..i18n import language, tr
from . import translation

__all__ = ["CANNOT_FIX", "FULL_MINUTES_CPU", "NOTEBOOKS", "QUICK_MINUTES_CPU", "SOURCES", "Notebook", "Plan", "badge", "clone_command", "colab_url",
           "full_mode_plan", "install_command", "korean_links", "readme_table", "require", "sync"]


@dataclass(frozen=True)
class Notebook:
    file: str
    title: str
    teaches: str
    minutes: int
    gpu: str  # "no", "recommended" or "needed" (for full mode; every notebook runs on a CPU in smoke mode)


NOTEBOOKS: tuple[Notebook, ...] = (
    Notebook("00_setup_and_tour.ipynb", "Setup and tour", "the series map and lecture paths, your environment, downloads, a first stylization in three lines, the image tensor layout", 15, "no"),
    Notebook("01_gan_fundamentals.ipynb", "GAN fundamentals", "the minimax game, D* = p_data/(p_data+p_g), C(G) = -log 4 + 2 JSD, the non-saturating loss, a 1-D GAN; going further: the 2-D ring, mode collapse, where AdaIN reappears in StyleGAN", 45, "no"),
    Notebook("02_normalization.ipynb", "Normalization layers", "BN, IN, CIN and AdaIN from their equations (Eqs. 1-8, checked against torch.nn), the BN/LN/IN/GN cube, and what channel statistics carry: IN as \"a kind of style normalization\"", 45, "no"),
    Notebook("03_gatys_optimization.ipynb", "Style transfer by optimization (Gatys et al.)", "content and style as VGG feature statistics, Gram matrices, L-BFGS on pixels, timing against Table 1, the mean/std bridge to AdaIN", 45, "recommended"),
    Notebook("04_adain_model.ipynb", "The AdaIN model", "Fig. 2 drawn from code; the whole model in plain PyTorch as the deck's tutorial writes it (calc_mean_std, adaptive_instance_normalization, the nn.Sequentials, style_transfer), asserted equal to the package; relu4_1, a decoder without normalization, pretrained weights, a Fig. 4 grid, Table 1 timing", 48, "recommended"),
    Notebook("05_training.ipynb", "Training the decoder", "the objective (Eqs. 11-13) and where each hyper-parameter comes from, the paper's data pipeline, a short load-or-train run with loss curves and samples; going further: exact resume, full 160k training on GPU, Colab or torchrun", 45, "needed"),
    Notebook("06_runtime_controls.ipynb", "Runtime controls", "Figs. 7-10 beside the paper's: alpha trade-off, style interpolation, colour preservation, spatial control; 3+ regions, soft masks, alpha per region", 45, "recommended"),
    Notebook("07_ablations.ipynb", "Ablations and evaluation", "Figs. 1, 3, 5 and 6 of Sections 4 and 7: IN performs style normalization (IN vs BN texture networks); Enc-Concat-Dec and BN/IN decoders trained beside Enc-AdaIN-Dec, and why they fail; Gatys et al. vs texture networks vs AdaIN on the content and IN-statistics style losses", 45, "needed"),
    Notebook("08_playground.ipynb", "Playground", "AdaIN's runtime controls on sliders: alpha (Eq. 14), interpolation (Eq. 15), colour (Fig. 9), masks (Fig. 10), your own photos", 45, "recommended"),
    Notebook("09_real_time.ipynb", "Real time: video and the webcam", "frames per second against a frame budget, the cost of Fig. 2's parts, caching Eq. 8's style statistics, batching and reduced precision, FPS measured model-only and end to end against Table 1's 56 and 15 FPS, a clip played inline, flicker measured and damped (ours), the webcam", 45, "recommended"),
)  # fmt: skip

_BADGE_RE = re.compile(r"\[!\[Open In Colab\]\([^)]*\)\]\([^)]*\)")
_CLONE_RE = re.compile(r"git clone \S+ && cd \S+ ")
_INSTALL_RE = re.compile(r'^(\s*)%pip install .*adain-lesson.*$', re.MULTILINE)


def _slug() -> str:
    return REPO_URL.rstrip("/").removeprefix("https://github.com/")


def clone_command() -> str:
    """``git clone <REPO_URL> && cd <folder>``: the start of the README's two set-up lines."""
    return f"git clone {REPO_URL} && cd {_slug().rsplit('/', 1)[-1]}"


def colab_url(notebook: str) -> str:
    """The Colab address that opens ``notebooks/<notebook>`` from the repository."""
    return f"https://colab.research.google.com/github/{_slug()}/blob/{REPO_BRANCH}/notebooks/{notebook}"


def badge(notebook: str) -> str:
    """The Markdown "Open in Colab" badge for ``notebook``."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(notebook)})"


def install_command(extras: str = "") -> str:
    """The notebooks' Colab install line: the package from the repository, without pinning torch and
    without the ``notebooks`` extra (Colab brings its own Jupyter and ipywidgets 7.7.1; installing
    JupyterLab there would only risk conflicts). The Korean notebooks add ``extras="ko"`` (a Hangul font)."""
    name = f"adain-lesson[{extras}]" if extras else "adain-lesson"
    return f'%pip install -q "{name} @ git+{REPO_URL}@{REPO_BRANCH}"'


def korean_links() -> translation.Links:
    """The badges and install lines the Korean edition is built with (:mod:`adain_lesson.course.translation`)."""
    return translation.Links(en_badge=badge, ko_badge=lambda nb: badge(f"ko/{nb}"),
                             en_install=install_command(), ko_install=install_command("ko"))


def readme_table() -> str:
    """The README's notebook table (Markdown); in Korean (:func:`adain_lesson.i18n.language`) README.ko.md's,
    with the titles and summaries of the Korean translations, as the Korean 00 shows it."""
    if language() == "ko":
        return translation.readme_table(Path(__file__).resolve().parents[2], NOTEBOOKS, korean_links().ko_badge)
    rows = ["| # | Notebook | What it teaches | Time | GPU (full mode) | Colab | 한국어 |", "|---|---|---|---|---|---|---|"]
    for nb in NOTEBOOKS:
        rows.append(
            f"| {nb.file[:2]} | [{nb.title}](notebooks/{nb.file}) | {nb.teaches} | {nb.minutes} min | {nb.gpu} | {badge(nb.file)} | [한국어](notebooks/ko/{nb.file}) |"
        )
    return "\n".join(rows)


#: The ending of a problem :func:`sync` reports but cannot repair (the notebook needs a person).
CANNOT_FIX = translation.CANNOT_FIX


def _sync_notebook(path: Path, write: bool) -> list[str]:
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [f"{path.name}: cannot be read as a notebook ({type(exc).__name__}) {CANNOT_FIX}"]
    problems = []
    cells = nb.get("cells", []) if isinstance(nb, dict) else []
    header = cells[0] if cells else None
    if header is None or header.get("cell_type") != "markdown":
        return [f"{path.name}: the first cell must be the Markdown header {CANNOT_FIX}"]
    text = "".join(header["source"])
    want = badge(path.name)
    if want not in text:
        problems.append(f"{path.name}: header badge differs from REPO_URL")
        text = _BADGE_RE.sub(want, text) if _BADGE_RE.search(text) else text.rstrip() + "\n\n" + want + "\n"
        header["source"] = text.splitlines(keepends=True)
    setup = [c for c in cells if "setup" in c.get("metadata", {}).get("tags", [])]
    if len(setup) != 1:
        problems.append(f"{path.name}: needs exactly one code cell tagged 'setup' {CANNOT_FIX}")
    else:
        src = "".join(setup[0]["source"])
        if install_command() not in src:
            problems.append(f"{path.name}: the Colab install line differs from REPO_URL")
            if _INSTALL_RE.search(src):
                src = _INSTALL_RE.sub(lambda m: m.group(1) + install_command(), src)
                setup[0]["source"] = src.splitlines(keepends=True)
    if write and any(not p.endswith(CANNOT_FIX) for p in problems):
        atomic_write_text(path, json.dumps(nb, indent=1, ensure_ascii=False) + "\n")
    return problems


def sync(root: str | Path, write: bool = True) -> list[str]:
    """Bring every notebook's badge and install line, and the README's table, in line with REPO_URL;
    rebuild the Korean edition (``notebooks/ko/``, README.ko.md's table) with :func:`translation.sync`.

    Returns what was (or, with ``write=False``, would be) changed; an empty list means all agree.
    """
    root = Path(root)
    notebooks = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    if not notebooks:
        raise UserError(f"{root / 'notebooks'} holds no numbered notebooks: pass the repository checkout as root",
                        param="root")
    problems = []
    for path in notebooks:
        problems += _sync_notebook(path, write)
    problems += translation.sync(root, korean_links(), write)  # notebooks/ko/ (the Korean edition)
    for name, table in (("README.md", readme_table()),
                        ("README.ko.md", translation.readme_table(root, NOTEBOOKS, korean_links().ko_badge))):
        problems += _sync_readme(root / name, table, write)
    return problems


def _sync_readme(readme: Path, table: str, write: bool) -> list[str]:
    problems: list[str] = []
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        start, end = "<!-- notebooks:start -->", "<!-- notebooks:end -->"
        if start in text and end in text:
            head, rest = text.split(start, 1)
            _, tail = rest.split(end, 1)
            new = f"{head}{start}\n{table}\n{end}{tail}"
            if new != text:
                problems.append(f"{readme.name}: notebook table differs from adain_lesson.course.NOTEBOOKS")
                if write:
                    atomic_write_text(readme, new)
        else:
            problems.append(f"{readme.name}: missing the <!-- notebooks:start/end --> markers {CANNOT_FIX}")
        text = readme.read_text(encoding="utf-8") if write else new if start in text and end in text else text
        cloned = _CLONE_RE.sub(clone_command() + " ", text)
        if cloned != text:
            problems.append(f"{readme.name}: the git clone line differs from REPO_URL")
            if write:
                atomic_write_text(readme, cloned)
    return problems

# --------------------------------------------------------------------------------------------------
# Full mode on the device at hand: full mode's settings, or smaller ones on a CPU (announced)
# --------------------------------------------------------------------------------------------------

#: Where a full-mode value comes from, as each notebook's parameters cell labels it: the paper's text, the
#: paper's figure (read from it), the authors' Torch code (xunhuang1995/AdaIN-style), the PyTorch port
#: (naoto0804/pytorch-AdaIN), or our own choice. Full mode is "full mode", never "the paper's settings":
#: most of its values are the paper's, some are not, and each says which.
SOURCES = ("paper", "paper's figure", "authors' code", "port", "ours")

#: Minutes that a notebook's full mode takes on a 2-core CPU: measured (00, 04, 06, 08) or estimated (02, 03,
#: 05, 07) in issue 17's trial run with stand-in weights (our numbers, not the paper's). 01's entry is its own
#: full setting (4 ring seeds), estimated from its QUICK run (2 seeds; the ring's training dominates). 02's
#: estimate is for 02 without Fig. 1 (moved to 07): two encode/decode experiments at 512 px.
FULL_MINUTES_CPU: dict[str, float] = {"00": 1, "01": 7, "02": 2, "03": 240, "04": 13, "05": 720, "06": 4, "07": 1700,
                                      "08": 0.5}
#: Minutes of a notebook's QUICK settings on a 2-core CPU, measured by the rehearsal
#: (``python -m adain_lesson rehearse``, stand-in weights): announced before the notebook starts.
#: 02 and 03 were rehearsed on a 2-core machine shared with other runs: 02 in 23 s; 03 in 7.5 min of wall time at
#: load ~5 (about 4 CPU-minutes, so about 4 min on a quiet 2-core CPU, our estimate).
QUICK_MINUTES_CPU: dict[str, float] = {"00": 0.5, "01": 4, "02": 1, "03": 4, "04": 1.5, "05": 5, "06": 1, "08": 0.5,
                                       "07": 4,  # 07: 3.3 CPU minutes (13 min wall on a machine under load 11)
                                       "09": 4}  # 09: 12 min wall at load 7-11 (2026-12-07); 4 quiet: our estimate


@dataclass(frozen=True)
class Plan:
    """What a notebook runs with: ``smoke`` (CI's tiny mode), ``quick`` (full mode with smaller settings,
    chosen on a CPU), the ``device`` type, the chosen value of each setting (``plan["SIZE"]``), and each
    setting's full-mode value (``full``) with its source (``sources``, one of :data:`SOURCES`)."""

    notebook: str
    device: str
    smoke: bool
    quick: bool
    values: Mapping[str, Any] = field(default_factory=dict)
    full: Mapping[str, Any] = field(default_factory=dict)
    sources: Mapping[str, str] = field(default_factory=dict)
    message: str = ""

    def __getitem__(self, name: str) -> Any:
        return self.values[name]


def _source_text(source: str) -> str:
    if source == "paper":
        return tr("the paper")
    if source == "paper's figure":
        return tr("read from the paper's figure")
    if source == "authors' code":
        return tr("the authors' code")
    if source == "port":
        return tr("the PyTorch port")
    return tr("ours")


def full_mode_plan(notebook: str, device: Any, *, smoke: bool | None = None, quick: bool | None = None,
                   announce: bool = True, **settings: tuple[Any, Any, Any, str]) -> Plan:
    """Choose a notebook's settings for the device it runs on, and say so before anything long starts.

    Each setting is ``(smoke, quick, full, source)``: ``SIZE=(64, 256, 512, "authors' code")``, where
    ``source`` (one of :data:`SOURCES`) says where the full-mode value comes from; the announcement names it.
    ``smoke`` defaults to ``ADAIN_LESSON_SMOKE=1``. In full mode ``quick`` defaults to ``ADAIN_LESSON_QUICK``
    (``1``/``0``) if set, else to "the device is not a GPU": on a CPU the quick values are used, and the plan
    announces them with the minutes full mode would take there (:data:`FULL_MINUTES_CPU`). ``quick=False``
    (or ``ADAIN_LESSON_QUICK=0``) forces full mode's settings on any device.
    """
    key = str(notebook)[:2]
    kind = getattr(device, "type", None) or str(device).split(":")[0]
    for name, setting in settings.items():
        if not (isinstance(setting, tuple) and len(setting) == 4 and setting[3] in SOURCES):
            raise UserError(tr("setting {name} must be (smoke, quick, full, source) with a source among {sources}, "
                               "got {setting}", name=name, sources=", ".join(SOURCES), setting=repr(setting)),
                            param=name)
    if smoke is None:
        smoke = bool(env.flag("ADAIN_LESSON_SMOKE"))
    if smoke:
        quick = False
    elif quick is None:
        wanted = env.flag("ADAIN_LESSON_QUICK", None)
        quick = wanted if wanted is not None else kind not in ("cuda", "mps")
    index = 0 if smoke else 1 if quick else 2
    values = {name: setting[index] for name, setting in settings.items()}
    full = {name: setting[2] for name, setting in settings.items()}
    sources = {name: setting[3] for name, setting in settings.items()}
    minutes = FULL_MINUTES_CPU.get(key) if kind == "cpu" else None
    if smoke:
        message = tr("notebook {key}: SMOKE mode (tiny sizes, random weights): {settings}", key=key,
                     settings=", ".join(f"{n} = {v!r}" for n, v in values.items()))
    elif quick:
        changed = [n for n, v in values.items() if v != full[n]]
        quick_minutes = QUICK_MINUTES_CPU.get(key) if kind == "cpu" else None
        took = tr(" (about {minutes} min here)", minutes=max(1, round(quick_minutes))) if quick_minutes is not None else ""
        text = ", ".join(tr("{name} = {value} (full mode: {full}, {source})", name=n, value=repr(values[n]),
                            full=repr(full[n]), source=_source_text(sources[n])) for n in changed)
        message = " ".join([tr("notebook {key}: QUICK full mode on {kind}{took}: {settings}.", key=key, kind=kind,
                               took=took, settings=text or tr("the same as full mode")),
                            _minutes_text(minutes, kind),
                            tr("To use full mode's settings anyway, set QUICK = False (or ADAIN_LESSON_QUICK=0).")])
    else:
        text = ", ".join(tr("{name} = {value} ({source})", name=n, value=repr(v), source=_source_text(sources[n]))
                         for n, v in values.items())
        message = (tr("notebook {key}: full mode on {kind}: {settings}.", key=key, kind=kind, settings=text) if text
                   else tr("notebook {key}: full mode on {kind}.", key=key, kind=kind))
        if minutes is not None and minutes >= 5:
            message += " " + _minutes_text(minutes, kind) + " " + tr("Interrupting is safe: later cells say what to "
                                                                     "re-run.")
    plan = Plan(key, kind, bool(smoke), bool(quick), values, full, sources, message)
    if announce:
        print(message)
    return plan


def _minutes_text(minutes: float | None, kind: str) -> str:
    if minutes is None:
        return tr("Full mode's time on {kind} is not measured.", kind=kind)
    if minutes >= 120:
        return tr("Full mode would take about {hours} hours on a 2-core {kind}.", hours=f"{minutes / 60:.0f}", kind=kind)
    if minutes < 1.5:
        return tr("Full mode would take about a minute on a 2-core {kind}.", kind=kind)
    return tr("Full mode would take about {minutes} minutes on a 2-core {kind}.", minutes=round(minutes), kind=kind)


def require(names: str | tuple[str, ...] | list[str], namespace: Mapping[str, Any], *, rerun: str) -> None:
    """Check that a long earlier cell left its results: each of ``names`` must be in ``namespace`` (pass
    ``globals()``) and not ``None``. Otherwise a one-line :class:`UserError` says what is missing and what
    to re-run (``rerun``: "the training cell of section 3"), instead of a ``NameError`` or ``KeyError``
    after an interrupted or timed-out cell."""
    wanted = (names,) if isinstance(names, str) else tuple(names)
    missing = [n for n in wanted if namespace.get(n) is None]
    if missing:
        what = ", ".join(missing)
        verb = "is" if len(missing) == 1 else "are"
        raise UserError(f"{what} {verb} missing (an earlier cell was interrupted or not run): re-run {rerun}")
