"""The Korean edition: ``notebooks/ko/*.ipynb`` built from the English notebooks plus translation files.

One source, no drift. The English notebook is the source of the code; ``notebooks/ko/translations/NN.json``
holds only Korean text, keyed by the English cell's id and by a hash of what the translation replaces
(:func:`cell_hash`, first 12 hex digits of a SHA-256: of a Markdown cell's source; of a code cell's strings
and comments). nbstripout renumbers cell ids (0, 1, 2,
...), so a cell inserted above shifts the ids below it: a translation follows its cell by hash, and sync
re-keys the file (:func:`match_translations`). :func:`sync` (called by ``course.sync``, so by
``python -m adain_lesson sync-notebooks``) rebuilds every Korean notebook:

- a **Markdown** cell takes its Korean Markdown as a whole;
- a **code** cell stays the English code: only its string literals and comments are replaced, token by
  token (:func:`translate_code`, with :mod:`tokenize`), so the Korean code cannot differ from the English
  one anywhere else (:func:`code_skeleton` states and tests that promise);
- a cell whose translation is missing, or whose hash no longer matches the English cell (the English
  changed since it was translated: *stale*), keeps the English cell. A stale translation is an error that
  names the notebook and the cell until a translator updates it; a missing one is listed by
  :func:`untranslated` (``sync-notebooks --check``) and is an error only in a notebook whose translation
  file says ``"complete": true``.

The format of a translation file (``notebooks/ko/TRANSLATING.md`` explains it for translators)::

    {"notebook": "00_setup_and_tour.ipynb", "title": "...", "teaches": "...", "complete": true,
     "cells": {"0": {"hash": "8d25...", "markdown": ["# 00 · ...", "", "{colab-badge}", "..."]},
               "7": {"hash": "9c1d...", "code": {"# Parameters.": "# 매개변수.", "\\"content\\"": "\\"콘텐츠\\""}}}}

A code entry maps an English string literal or comment, exactly as written in the cell (quotes, prefix
and ``#`` included), to its Korean replacement; every occurrence in the cell is replaced. Anything that
must stay English (file names, keys, flags) is simply left out.

This module knows nothing of the repository's address: ``course`` passes the Colab badges and install
lines in (:class:`Links`), so it sits below ``course`` in the package's layers.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import io
import json
import re
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..files import atomic_write_text, ensure_dir
from ..i18n import tr

__all__ = [
    "HANGUL_LINES", "HASH_LENGTH", "KO_DIR", "Links", "build_notebook", "cell_hash", "code_differences",
    "code_skeleton", "code_units", "load_translation", "match_translations", "readme_table", "scaffold", "sync",
    "translate_code", "untranslated",
]

#: Where the Korean notebooks and their translations live, relative to the repository root.
KO_DIR = Path("notebooks") / "ko"
TRANSLATIONS_DIR = KO_DIR / "translations"
HASH_LENGTH = 12
#: Stands for the Colab badge in a header's translation (and in the hashed English): the build puts the Korean
#: notebook's badge there, so no translation holds a copy of the repository's address.
BADGE_PLACEHOLDER = "{colab-badge}"
#: The problem-line ending :func:`sync` shares with ``course.CANNOT_FIX``: a person must fix it.
CANNOT_FIX = "(fix it by hand)"

#: Appended to the setup cell of every Korean notebook (after the install, so that on Colab the ``[ko]``
#: extra is there): the package speaks Korean from then on (:func:`adain_lesson.i18n.set_language`), and
#: figures in the Korean notebooks carry Hangul, which matplotlib's default font lacks. Not a cell of its own:
#: nbstripout renumbers cell ids, and the Korean cells keep the English ids.
HANGUL_LINES = (
    "\n\n# 한국어판: 패키지가 출력하고 그리는 문장도 한국어로 바꿉니다 (adain_lesson.i18n).\n"
    "from adain_lesson.i18n import set_language\n"
    "\n"
    "set_language(\"ko\")\n"
    "\n# 그림 속 한글: koreanize-matplotlib의 NanumGothic 글꼴을 matplotlib에 등록합니다 ([ko] extra).\n"
    "from adain_lesson.viz import use_korean_font\n"
    "\n"
    "use_korean_font()"
)

_GPU_KO = {"no": "필요 없음", "recommended": "권장", "needed": "필요"}
_MAGIC_RE = re.compile(r"^[ \t]*[%!]")
_PREFIX_RE = re.compile(r"^([A-Za-z]*)['\"]")
# Python 3.12 splits an f-string into FSTRING_START, parts and FSTRING_END tokens (before: one STRING)
_FSTART, _FEND = getattr(tokenize, "FSTRING_START", -1), getattr(tokenize, "FSTRING_END", -1)


@dataclass(frozen=True)
class Links:
    """What ``course`` knows and this module needs: the repository's badges and install lines."""

    en_badge: Callable[[str], str]  # notebook file name -> the English notebook's Markdown Colab badge
    ko_badge: Callable[[str], str]  # notebook file name -> the Korean notebook's badge (notebooks/ko/...)
    en_install: str  # the English notebooks' Colab install line
    ko_install: str  # the same with the [ko] extra


# ------------------------------------------------------------------------------------------------
# hashes and code tokens
# ------------------------------------------------------------------------------------------------


def _normalized(source: str, file: str, links: Links | None) -> str:
    """The cell's source with the lines made from REPO_URL replaced by placeholders: moving the repository
    must not make every header's translation stale."""
    if links is not None:
        source = source.replace(links.en_badge(file), BADGE_PLACEHOLDER).replace(links.en_install, "{install}")
    return source


def cell_hash(source: str, file: str = "", links: Links | None = None, code: bool = False) -> str:
    """The key a translation is checked against, first 12 hex digits of a SHA-256.

    A Markdown cell (``code=False``): of its source (UTF-8; the Colab badge and install line replaced by
    placeholders when ``links`` is given). A code cell (``code=True``): of its strings and comments only, in
    order (:func:`code_units`), the only parts a translation touches; the rest of the code is taken from the
    English cell at every build, so changing a number or an import leaves the translation valid, while
    changing, adding or removing a string or comment makes it stale."""
    if code:
        try:
            source = json.dumps([[u.kind, u.text] for u in code_units(source)], ensure_ascii=False)
        except UserError:
            pass  # not Python: the whole source (the build reports the cell)
    else:
        source = _normalized(source, file, links)
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:HASH_LENGTH]


@dataclass(frozen=True)
class _Unit:
    kind: str  # "string" or "comment"
    start: int  # offsets into the source
    end: int
    text: str


def _mask_magics(source: str) -> tuple[str, set[int]]:
    """IPython's ``%magic`` and ``!shell`` lines are not Python: mask each as a comment of the same length
    (so every offset stays valid) and return the masked rows (1-based), whose text is never translated."""
    lines = source.splitlines(keepends=True)
    rows = set()
    for i, line in enumerate(lines):
        if _MAGIC_RE.match(line):
            body = line.rstrip("\r\n")
            indent = len(body) - len(body.lstrip())
            lines[i] = body[:indent] + "#" + " " * (len(body) - indent - 1) + line[len(body):]
            rows.add(i + 1)
    return "".join(lines), rows


def _tokens(source: str) -> tuple[list[tokenize.TokenInfo], set[int], list[int]]:
    masked, rows = _mask_magics(source)
    starts = [0]
    for line in masked.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(masked).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise UserError(f"code cannot be split into Python tokens ({exc}): fix the cell's syntax") from exc
    return tokens, rows, starts


def code_units(source: str) -> list[_Unit]:
    """The cell's string literals and comments, in order: the only parts a translation may replace.

    An f-string is one unit on every Python (3.12 splits it into FSTRING_START/MIDDLE/END tokens)."""
    tokens, magic_rows, starts = _tokens(source)
    lines = source.splitlines(keepends=True)

    def offset(pos: tuple[int, int], text: str, at_end: bool) -> int:
        # columns count characters; should a Python count UTF-8 bytes instead (Hangul, arrows), convert
        row, col = pos
        line = lines[row - 1] if row <= len(lines) else ""
        piece = text.split("\n")[-1 if at_end else 0]
        if not (line[:col].endswith(piece) if at_end else line[col:].startswith(piece)):
            col = len(line.encode("utf-8")[:col].decode("utf-8", errors="ignore"))
        return starts[row - 1] + col

    units, depth, opened = [], 0, None
    for tok in tokens:
        if tok.type == _FSTART:
            depth += 1
            if depth == 1:
                opened = tok
        elif tok.type == _FEND:
            depth -= 1
            if depth == 0:
                s, e = offset(opened.start, opened.string, False), offset(tok.end, tok.string, True)
                units.append(_Unit("string", s, e, source[s:e]))
        elif depth == 0 and tok.type == tokenize.STRING:
            s, e = offset(tok.start, tok.string, False), offset(tok.end, tok.string, True)
            units.append(_Unit("string", s, e, source[s:e]))
        elif depth == 0 and tok.type == tokenize.COMMENT and tok.start[0] not in magic_rows:
            s, e = offset(tok.start, tok.string, False), offset(tok.end, tok.string, True)
            units.append(_Unit("comment", s, e, source[s:e]))
    return units


def _string_shape(literal: str) -> tuple[str, tuple[str, ...]]:
    """A string literal's prefix (lower case) and, for an f-string, its replacement fields (expression,
    conversion and format spec, sorted: a translation may reorder them, not change them)."""
    prefix = _PREFIX_RE.match(literal)
    node = ast.parse(literal.strip(), mode="eval").body
    fields = ()
    if isinstance(node, ast.JoinedStr):
        fields = tuple(sorted(ast.dump(v) for v in node.values if isinstance(v, ast.FormattedValue)))
    return (prefix.group(1).lower() if prefix else ""), fields


def code_skeleton(source: str, links: Links | None = None) -> tuple:
    """Everything in a code cell but the wording of its strings and its comments: the tokens (layout-free),
    each string reduced to its prefix and f-string fields, no comments, and the IPython
    magic lines verbatim (the Colab install line as a placeholder: the Korean one adds the ``[ko]`` extra).

    Two cells with equal skeletons run the same code; the Korean notebooks are tested to have the
    English notebooks' skeletons."""
    tokens, magic_rows, _ = _tokens(source)
    lines = source.splitlines()
    out: list[tuple] = []
    for row in sorted(magic_rows):
        line = lines[row - 1].strip()
        if links is not None and line in (links.en_install.strip(), links.ko_install.strip()):
            line = "{install}"
        out.append(("MAGIC", row, line))
    units = iter(code_units(source))
    depth = 0
    for tok in tokens:
        if tok.type == _FSTART:
            depth += 1
            if depth == 1:
                unit = next(units)
                out.append(("STRING", *_string_shape(unit.text)))
            continue
        if tok.type == _FEND:
            depth -= 1
            continue
        if depth:
            continue
        if tok.type == tokenize.STRING:
            unit = next(units)
            out.append(("STRING", *_string_shape(unit.text)))
        elif tok.type == tokenize.COMMENT:  # not code: left out
            if tok.start[0] not in magic_rows:
                next(units)
        elif tok.type == tokenize.NEWLINE:  # "" at the end of a cell without a final line break
            out.append(("NEWLINE",))
        elif tok.type not in (tokenize.NL, tokenize.ENCODING):
            out.append((tokenize.tok_name[tok.type], tok.string))
    return tuple(out)


def code_differences(en: dict, ko: dict, links: Links | None = None) -> list[str]:
    """Where the Korean notebook ``ko`` runs other code than the English notebook ``en``: cells added,
    lost or reordered, or a code cell whose :func:`code_skeleton` differs (the setup cell's
    :data:`HANGUL_LINES` aside). An empty list: the two differ only in Markdown, strings and comments."""
    en_cells = [c for c in en.get("cells", []) if c.get("cell_type") == "code"]
    ko_cells = [c for c in ko.get("cells", []) if c.get("cell_type") == "code"]
    en_ids, ko_ids = [c.get("id") for c in en_cells], [c.get("id") for c in ko_cells]
    if en_ids != ko_ids:
        return [f"code cells differ: English {en_ids}, Korean {ko_ids}"]
    out = []
    for a, b in zip(en_cells, ko_cells):
        b_source = "".join(b["source"])
        if "setup" in b.get("metadata", {}).get("tags", []) and b_source.endswith(HANGUL_LINES):
            b_source = b_source[: -len(HANGUL_LINES)]
        try:
            same = code_skeleton("".join(a["source"]), links) == code_skeleton(b_source, links)
        except (UserError, SyntaxError) as exc:
            out.append(f"cell {a.get('id')}: cannot be compared ({exc})")
            continue
        if not same:
            out.append(f"cell {a.get('id')}: the code differs beyond strings and comments")
    return out


def translate_code(source: str, replacements: dict[str, str]) -> tuple[str, list[str]]:
    """Replace string literals and comments of ``source`` by their Korean versions.

    Returns the new source and what is wrong with the replacements (an English key that is not a string
    or comment of this cell, a Korean value that is not one of the same kind, prefix and f-string fields);
    a faulty replacement is not applied."""
    units = code_units(source)
    present = {u.text for u in units}
    problems = [f"{key!r} is not a string or comment of this cell" for key in replacements if key not in present]
    usable = {}
    for key, value in replacements.items():
        if key not in present:
            continue
        kind = next(u.kind for u in units if u.text == key)
        problem = _check_replacement(kind, key, value)
        if problem:
            problems.append(f"{key!r} -> {value!r}: {problem}")
        else:
            usable[key] = value
    out, last = [], 0
    for u in units:
        if u.text in usable:
            out += [source[last:u.start], usable[u.text]]
            last = u.end
    out.append(source[last:])
    return "".join(out), problems


def _check_replacement(kind: str, key: str, value: str) -> str | None:
    if not isinstance(value, str):
        return "the translation must be a string"
    try:
        units = code_units(value)
    except UserError:
        units = []
    if len(units) != 1 or units[0].kind != kind or units[0].text != value:
        return f"the translation must be one {kind}" + (" (starting with #, on one line)" if kind == "comment" else
                                                         " literal with its quotes")
    if kind == "string":
        try:
            if _string_shape(value) != _string_shape(key):
                return "keep the prefix (f, r, b) and every {field} of an f-string unchanged"
        except SyntaxError as exc:
            return f"not a valid string literal ({exc.msg})"
    return None


# ------------------------------------------------------------------------------------------------
# translation files and the build
# ------------------------------------------------------------------------------------------------


def _has_units(source: str) -> bool:
    """Whether a code cell has anything to translate (a code cell without strings or comments needs no entry)."""
    try:
        return bool(code_units(source))
    except UserError:
        return True  # reported when it is translated


def _translation_path(root: Path, notebook: str) -> Path:
    return root / TRANSLATIONS_DIR / f"{notebook[:2]}.json"


#: Translations of cells that several notebooks hold alike (the setup cell), keyed by the cells' hash.
SHARED_FILE = "shared.json"


def load_translation(path: str | Path) -> dict:
    """A translation file as a dict (``{"cells": {}}`` when the file does not exist yet)."""
    path = Path(path)
    if not path.exists():
        return {"cells": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path} cannot be read as JSON ({exc}): fix the file") from exc
    if not isinstance(data, dict) or not isinstance(data.get("cells", {}), dict):
        raise UserError(f"{path} must hold a JSON object with a 'cells' object: see notebooks/ko/TRANSLATING.md")
    data.setdefault("cells", {})
    return data


def _markdown(entry: dict) -> str:
    text = entry["markdown"]
    return "\n".join(text) if isinstance(text, list) else text


def _lines(text: str) -> list[str]:
    return text.splitlines(keepends=True)


def _translatable(cell: dict) -> bool:
    source = "".join(cell.get("source", []))
    kind = cell.get("cell_type")
    return bool(source.strip()) and (kind == "markdown" or kind == "code" and _has_units(source))


def _hash_of(cell: dict, file: str, links: Links | None) -> str:
    return cell_hash("".join(cell.get("source", [])), file, links, code=cell.get("cell_type") == "code")


def match_translations(en: dict, entries: dict, file: str, links: Links | None,
                       shared: dict | None = None) -> tuple[dict, dict, list[str]]:
    """Pair the English cells with their translations.

    nbstripout renumbers cell ids (0, 1, 2, ...), so a cell inserted above shifts the ids of the cells below:
    a translation belongs to the cell with its id *and* its hash, else to another cell with its hash (the
    cell moved). Returns ``(matched, rekeyed, problems)``: English id -> translation entry; all entries keyed
    by the English ids they now belong to (what the file should hold); and the stale translations (the
    English cell changed) and orphans (no cell has their hash any more), each named. A cell the notebook's
    file does not translate takes the entry of ``shared`` (``translations/shared.json``) with its hash, if
    any: cells that several notebooks hold alike, such as the setup cell, are translated once."""
    cells = [c for c in en.get("cells", []) if c.get("cell_type") in ("markdown", "code")]
    hashes = {c.get("id"): _hash_of(c, file, links) for c in cells}
    done = lambda e: isinstance(e, dict) and not e.get("todo")
    matched = {cid: entries[cid] for cid, h in hashes.items()
               if done(entries.get(cid)) and entries[cid].get("hash") == h}
    pool = [k for k, e in entries.items() if done(e) and not (k in matched and matched[k] is e)]
    for cid, h in hashes.items():
        if cid not in matched:
            k = next((k for k in pool if entries[k].get("hash") == h), None)
            if k is not None:
                matched[cid] = entries[k]
                pool.remove(k)
    own = set(matched)
    for cid, h in hashes.items():
        if cid not in matched and done((shared or {}).get(h)) and shared[h].get("hash") == h:
            matched[cid] = shared[h]
    rekeyed, problems = {}, []
    leftover = {k: entries[k] for k in pool}
    todo = {k: e for k, e in entries.items() if isinstance(e, dict) and e.get("todo")}
    for cid, h in hashes.items():
        if cid in own:
            rekeyed[cid] = matched[cid]
        elif cid in leftover:  # the cell at this id changed: the common case of drift
            rekeyed[cid] = leftover.pop(cid)
            problems.append(f"cell {cid} is stale: the English cell changed since it was translated "
                            f"(translation hash {rekeyed[cid].get('hash')}, English now {h}); update the Korean "
                            f"and set its hash to {h}")
    untranslated = [cid for cid in hashes if cid not in rekeyed and cid not in matched]
    for k, e in todo.items():  # to-do entries keep their place (their work in progress is not lost)
        key = k
        while key in rekeyed:
            key += "-todo"
        rekeyed[key] = e
    for k, e in leftover.items():
        key = k
        while key in rekeyed:
            key += "-stale"
        rekeyed[key] = e
        problems.append(f"translation {key!r} (hash {e.get('hash')}) matches no English cell: its cell changed or "
                        f"was removed; move it to its cell's id (untranslated: {', '.join(untranslated) or 'none'}) "
                        "and update it, or delete it")
    return matched, rekeyed, problems


def build_notebook(en: dict, translation: dict, file: str, links: Links,
                   shared: dict | None = None) -> tuple[dict, list[str], list[str], dict]:
    """The Korean notebook made from the English notebook ``en`` and its ``translation``.

    Returns ``(notebook, problems, missing, rekeyed)``: problems are stale or faulty translations (the cell
    stays English), missing the ids of cells without a translation (also English), rekeyed the translation
    entries under the ids of the cells they belong to now (see :func:`match_translations`)."""
    ko = copy.deepcopy(en)
    matched, rekeyed, problems = match_translations(en, translation.get("cells", {}), file, links, shared)
    missing = []
    for cell in ko.get("cells", []):
        cell_id = cell.get("id")
        source = "".join(cell.get("source", []))
        entry = matched.get(cell_id)
        if cell.get("cell_type") not in ("markdown", "code"):
            continue
        if entry is None:
            stale = cell_id in rekeyed and not rekeyed[cell_id].get("todo")  # reported as stale already
            if _translatable(cell) and not stale:
                missing.append(cell_id)
            continue
        if cell["cell_type"] == "markdown":
            if "markdown" not in entry:
                problems.append(f"cell {cell_id} is Markdown: its translation needs a 'markdown' entry")
                continue
            cell["source"] = _lines(_markdown(entry))
        else:
            if not isinstance(entry.get("code"), dict):
                problems.append(f"cell {cell_id} is code: its translation needs a 'code' object")
                continue
            try:
                new, wrong = translate_code(source, entry["code"])
            except UserError as exc:
                problems.append(f"cell {cell_id}: {exc}")
                continue
            problems += [f"cell {cell_id}: {w}" for w in wrong]
            cell["source"] = _lines(new)
    cells = ko.get("cells", [])
    if cells and cells[0].get("cell_type") == "markdown":
        head = "".join(cells[0]["source"]).replace(links.en_badge(file), links.ko_badge(file))
        head = head.replace(BADGE_PLACEHOLDER, links.ko_badge(file))
        if links.ko_badge(file) not in head:
            problems.append(f"the header cell's translation lost the Colab badge (keep the line {BADGE_PLACEHOLDER})")
        cells[0]["source"] = _lines(head)
    for cell in cells:
        if "setup" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"]).replace(links.en_install, links.ko_install)
            cell["source"] = _lines(source.rstrip("\n") + HANGUL_LINES)
            break
    return ko, problems, missing, rekeyed


def _dump(data: dict) -> str:
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def _english(root: Path) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _builds(root: Path, links: Links, shared: dict | None = None):
    for path in _english(root):
        tpath = _translation_path(root, path.name)
        rel = tpath.relative_to(root).as_posix()
        try:
            en = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            fault = f"{path.name}: no Korean build, the notebook cannot be read ({type(exc).__name__})"
            yield path, tpath, None, [fault], [], None, None
            continue
        try:
            translation = load_translation(tpath)
        except UserError as exc:
            yield path, tpath, None, [f"{rel}: {exc}"], [], None, None
            continue
        ko, problems, missing, rekeyed = build_notebook(en, translation, path.name, links, shared)
        yield path, tpath, ko, [f"{rel}: {p}" for p in problems], missing, translation, rekeyed


def sync(root: str | Path, links: Links, write: bool = True) -> list[str]:
    """Rebuild ``notebooks/ko/*.ipynb`` from the English notebooks and their translations.

    Returns the problems, as ``course.sync`` does: a Korean notebook that differs from its build (fixed
    when ``write``), and, ending in ``(fix it by hand)``, stale or faulty translations and the missing ones
    of a notebook marked complete. Cells with a stale or missing translation are built in English."""
    root = Path(root)
    problems = []
    spath = root / TRANSLATIONS_DIR / SHARED_FILE
    try:
        shared = load_translation(spath)["cells"]
    except UserError as exc:
        shared = {}
        problems.append(f"{exc} {CANNOT_FIX}")
    used = set()
    for path, tpath, ko, faults, missing, translation, rekeyed in _builds(root, links, shared):
        problems += [f + " " + CANNOT_FIX for f in faults]
        if ko is None:
            continue
        used |= {_hash_of(c, path.name, links) for c in _read_en(path) if c.get("cell_type") in ("markdown", "code")}
        rel = tpath.relative_to(root).as_posix()
        if translation.get("complete") and missing:
            problems.append(f"{rel}: marked complete but cells {', '.join(missing)} have no translation {CANNOT_FIX}")
        if any(translation["cells"].get(k) is not e for k, e in rekeyed.items()):
            problems.append(f"{rel}: translations follow their cells to new ids (cells were inserted or removed)")
            if write:
                atomic_write_text(tpath, _dump({**translation, "cells": rekeyed}))
        out = root / KO_DIR / path.name
        text = _dump(ko)
        old = out.read_text(encoding="utf-8") if out.exists() else None
        if old != text:
            problems.append(f"ko/{path.name}: differs from the English notebook plus its translation")
            if write:
                ensure_dir(out.parent)
                atomic_write_text(out, text)
    rel = spath.relative_to(root).as_posix()
    for key, entry in shared.items():
        if not isinstance(entry, dict) or key != entry.get("hash"):
            problems.append(f"{rel}: entry {key!r} must be keyed by its own 'hash' {CANNOT_FIX}")
        elif key not in used and not entry.get("todo"):
            problems.append(f"{rel}: translation {key} matches no English cell any more: its cells changed; "
                            f"translate them again (or in their notebooks' files) and delete it {CANNOT_FIX}")
    return problems


def _read_en(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8")).get("cells", [])


def untranslated(root: str | Path, links: Links) -> list[str]:
    """One line per English cell that has no Korean translation yet: ``NN_name.ipynb: cell ID (kind)``."""
    root = Path(root)
    lines = []
    for path, _, ko, _, missing, _, _ in _builds(root, links, _shared(root)):
        if ko is None:
            continue
        kinds = {c.get("id"): c.get("cell_type") for c in ko["cells"]}
        lines += [f"{path.name}: cell {m} ({kinds.get(m)}) has no translation" for m in missing]
    return lines


def scaffold(root: str | Path, links: Links, notebooks: Sequence[str] | None = None) -> list[str]:
    """Add a to-do entry to the translation file for each untranslated cell (for ``notebooks``, given as
    file names or two-digit numbers; all when ``None``): the English cell's hash, and the English text to
    overwrite (Markdown) or every string and comment as ``{"English": "English"}`` (code), with
    ``"todo": true``, which the build treats as untranslated until a translator deletes it. To-do entries
    already there are made afresh from the current English; translated entries are kept (under the id of
    the cell they belong to now).
    Returns the files written. A name that is no notebook of the series is refused before anything is written.
    """
    root = Path(root)
    known = {key for path in _english(root) for key in (path.name, path.name[:2])}
    unknown = [str(name) for name in (notebooks or ()) if name not in known]
    if unknown:
        choices = ", ".join(path.name[:2] for path in _english(root)) or "-"
        raise UserError(tr("there is no notebook {name} to scaffold: choose from {choices} (two digits or a file "
                           "name)", name=unknown[0], choices=choices))
    written = []
    for path in _english(root):
        if notebooks is not None and path.name not in notebooks and path.name[:2] not in notebooks:
            continue
        tpath = _translation_path(root, path.name)
        translation = load_translation(tpath)
        en = json.loads(path.read_text(encoding="utf-8"))
        entries = translation["cells"]
        matched, rekeyed, _ = match_translations(en, entries, path.name, links, _shared(root))
        cells = {}
        for cell in en.get("cells", []):
            cell_id, source = cell.get("id"), "".join(cell.get("source", []))
            if cell_id in rekeyed and not rekeyed[cell_id].get("todo"):
                cells[cell_id] = rekeyed[cell_id]  # translated (or stale: reported, kept for its translator)
            elif cell_id in matched:
                continue  # translated in shared.json
            elif cell.get("cell_type") in ("markdown", "code") and _translatable(cell):
                entry = {"hash": _hash_of(cell, path.name, links), "todo": True}
                if cell["cell_type"] == "markdown":
                    entry["markdown"] = _normalized(source, path.name, links).split("\n")
                else:
                    entry["code"] = {u.text: u.text for u in code_units(source)}
                cells[cell_id] = entry
        # orphans stay, to be reported; old to-do entries are replaced by the fresh ones
        cells.update({k: v for k, v in rekeyed.items() if k not in cells and not v.get("todo")})
        if cells != entries or list(cells) != list(entries):
            translation = {"notebook": path.name, **translation, "cells": cells}
            ensure_dir(tpath.parent)
            atomic_write_text(tpath, _dump(translation))
            written.append(tpath.relative_to(root).as_posix())
    return written


def _shared(root: Path) -> dict:
    try:
        return load_translation(root / TRANSLATIONS_DIR / SHARED_FILE)["cells"]
    except UserError:
        return {}  # sync reports it


def readme_table(root: str | Path, notebooks: Sequence, badge: Callable[[str], str]) -> str:
    """README.ko.md's notebook table (Markdown): ``course.NOTEBOOKS`` with the Korean titles and summaries
    of the translation files (the English ones until a file has them) and badges for ``notebooks/ko/``."""
    root = Path(root)
    rows = ["| # | 노트북 | 배우는 내용 | 시간 | GPU (전체 모드) | Colab |", "|---|---|---|---|---|---|"]
    for nb in notebooks:
        try:
            meta = load_translation(_translation_path(root, nb.file))
        except UserError:
            meta = {}
        title, teaches = meta.get("title") or nb.title, meta.get("teaches") or nb.teaches
        rows.append(f"| {nb.file[:2]} | [{title}](notebooks/ko/{nb.file}) | {teaches} | {nb.minutes}분 | "
                    f"{_GPU_KO.get(nb.gpu, nb.gpu)} | {badge(nb.file)} |")
    return "\n".join(rows)
