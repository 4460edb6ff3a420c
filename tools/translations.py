"""The Chinese edition: translations of the English notebooks' Markdown, kept in step by fingerprints.

One source of truth. The English notebooks ``notebooks/NN_*.ipynb`` are the originals; the
translation of chapter ``NN_name`` lives in ``notebooks/translations/zh/NN_name.md``, one entry per
Markdown cell, keyed by the cell's id and carrying a fingerprint of the English text it translates::

    <!-- cell 3c1f0e2a · en 5d41402abc4b -->
    ## 1 · 什么是元学习
    ...

The Chinese notebooks ``notebooks/zh/NN_name.ipynb`` are generated from the two: the same cells in
the same order with the same ids, identical code cells, every Markdown cell replaced by its
translation, and the course's Chinese kernel (which sets ``COURSE_LANG=zh``). Links to a chapter
notebook point to its Chinese version.

When an English Markdown cell changes, its fingerprint no longer matches: ``status`` lists the cell
(with its current English text), the test suite fails naming it, and the translation must be
updated in the same commit. An entry whose header ends in ``· todo`` still holds English text to be
translated (``stub`` writes those for cells that have no entry yet).

Usage::

    python tools/translations.py status            # every chapter: translated / stale / missing cells
    python tools/translations.py stub [CHAPTER]    # add todo entries for cells without a translation
    python tools/translations.py build             # write notebooks/zh/*.ipynb (refuses on problems)
    python tools/translations.py mark CHAPTER CELL # after updating a stale cell's translation: record
                                                   # the fingerprint of the English it now translates
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
LANGUAGES = {"zh": {"kernel": "meta-learning-hands-on-zh", "display_name": "Python (元学习实战)"}}
_HEADER = re.compile(r"^<!-- cell (?P<id>\S+) · en (?P<fp>[0-9a-f]{12})(?P<todo> · todo)? -->$")
# a chapter notebook named in a link (GitHub, Colab, nbviewer or relative): .../notebooks/NN_name.ipynb
_CHAPTER_LINK = re.compile(r"(notebooks/)(\d\d_[A-Za-z0-9_]+\.ipynb)")


def fingerprint(text: str) -> str:
    """First 12 hex digits of the SHA-256 of an English cell's source."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def english_chapters() -> list[Path]:
    """The English notebooks ``notebooks/NN_*.ipynb`` in chapter order."""
    return sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def translation_path(chapter: Path, lang: str = "zh") -> Path:
    return NOTEBOOKS / "translations" / lang / f"{chapter.stem}.md"


def translated_notebook_path(chapter: Path, lang: str = "zh") -> Path:
    return NOTEBOOKS / lang / chapter.name


def _source(cell: dict) -> str:
    source = cell["source"]
    return source if isinstance(source, str) else "".join(source)


def load_notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def save_notebook(nb: dict, path: Path) -> None:
    """The course's on-disk notebook format: JSON indented by 1, UTF-8 as is, a final newline."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


@dataclass
class Entry:
    """One translated cell: the English cell's id, the fingerprint of the English it translates,
    the translation, and whether it is still a to-do (English text waiting for its translation)."""

    cell_id: str
    english_fp: str
    text: str
    todo: bool = False

    def render(self) -> str:
        return f"<!-- cell {self.cell_id} · en {self.english_fp}{' · todo' if self.todo else ''} -->\n{self.text}\n"


def read_translations(path: Path) -> dict[str, Entry]:
    """Entries of a translation file, by cell id, in file order. Raises ValueError on a malformed file."""
    if not path.exists():
        return {}
    entries: dict[str, Entry] = {}
    current: Entry | None = None
    lines: list[str] = []

    def close():
        if current is not None:
            current.text = "\n".join(lines).strip("\n")
            entries[current.cell_id] = current

    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.startswith("<!-- cell "):
            match = _HEADER.match(line)
            if not match:
                raise ValueError(f"{path.name}, line {number}: malformed entry header {line!r}; expected "
                                 "'<!-- cell <id> · en <12 hex digits> -->' (optionally ' · todo' before ' -->')")
            close()
            if match["id"] in entries:
                raise ValueError(f"{path.name}, line {number}: cell {match['id']} is translated twice")
            current, lines = Entry(match["id"], match["fp"], "", bool(match["todo"])), []
        elif current is None:
            if line.strip():
                raise ValueError(f"{path.name}, line {number}: text before the first '<!-- cell ... -->' header")
        else:
            lines.append(line)
    close()
    return entries


def write_translations(path: Path, entries: list[Entry]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(e.render() for e in entries), encoding="utf-8")


@dataclass
class Problem:
    chapter: str
    cell_id: str
    kind: str          # "missing", "todo", "stale", "orphan"
    english: str       # the English cell's current text ("" for an orphan)

    def __str__(self) -> str:
        what = {"missing": "has no translation",
                "todo": "is still marked todo (English text waiting for its translation)",
                "stale": "changed since it was translated: update the translation and its 'en' fingerprint",
                "orphan": "is translated but no longer exists in the English notebook: delete the entry"}[self.kind]
        first = self.english.strip().splitlines()[0][:80] if self.english.strip() else ""
        return f"{self.chapter}: markdown cell {self.cell_id} {what}" + (f" — English: {first!r}" if first else "")


def problems(chapter: Path, lang: str = "zh", english: dict | None = None) -> list[Problem]:
    """What keeps ``chapter``'s translation from matching its English notebook (empty: in step).

    ``english``: the English notebook as loaded (default: read from ``chapter``).
    """
    nb = english if english is not None else load_notebook(chapter)
    entries = read_translations(translation_path(chapter, lang))
    found, ids = [], set()
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        ids.add(cell["id"])
        text, entry = _source(cell), entries.get(cell["id"])
        if entry is None:
            found.append(Problem(chapter.stem, cell["id"], "missing", text))
        elif entry.todo:
            found.append(Problem(chapter.stem, cell["id"], "todo", text))
        elif entry.english_fp != fingerprint(text):
            found.append(Problem(chapter.stem, cell["id"], "stale", text))
    found += [Problem(chapter.stem, cid, "orphan", "") for cid in entries if cid not in ids]
    return found


def _localise_links(text: str, lang: str) -> str:
    """Links to a chapter notebook ``notebooks/NN_x.ipynb`` -> ``notebooks/<lang>/NN_x.ipynb``."""
    return _CHAPTER_LINK.sub(lambda m: f"{m[1]}{lang}/{m[2]}", text)


def render(chapter: Path, lang: str = "zh") -> dict:
    """The translated notebook of ``chapter``. Raises ValueError listing the cells that block it."""
    english = load_notebook(chapter)
    blocking = problems(chapter, lang, english)
    if blocking:
        raise ValueError(f"{chapter.stem}: the translation is not in step with the English notebook:\n  "
                         + "\n  ".join(map(str, blocking)))
    entries = read_translations(translation_path(chapter, lang))
    nb = copy.deepcopy(english)
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            cell["source"] = _localise_links(entries[cell["id"]].text, lang).splitlines(keepends=True)
    spec = LANGUAGES[lang]
    nb["metadata"]["kernelspec"] = {"name": spec["kernel"], "display_name": spec["display_name"], "language": "python"}
    return nb


def stub(chapter: Path, lang: str = "zh") -> int:
    """Append a todo entry (the English text) for every Markdown cell without one, keeping the
    English cell order; returns how many were added."""
    path = translation_path(chapter, lang)
    entries = read_translations(path)
    ordered, added = [], 0
    for cell in load_notebook(chapter)["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        entry = entries.pop(cell["id"], None)
        if entry is None:
            entry, added = Entry(cell["id"], fingerprint(_source(cell)), _source(cell), todo=True), added + 1
        ordered.append(entry)
    write_translations(path, ordered + list(entries.values()))
    return added


def mark(chapter: Path, cell_ids: list[str], lang: str = "zh") -> None:
    """Record that the translations of ``cell_ids`` now translate the current English text (their
    ``en`` fingerprint becomes the English cell's). Raises ValueError for an unknown or todo cell."""
    path = translation_path(chapter, lang)
    entries = read_translations(path)
    english = {c["id"]: _source(c) for c in load_notebook(chapter)["cells"] if c["cell_type"] == "markdown"}
    for cell_id in cell_ids:
        if cell_id not in entries or cell_id not in english:
            raise ValueError(f"{chapter.stem}: no translated markdown cell {cell_id}")
        if entries[cell_id].todo:
            raise ValueError(f"{chapter.stem}: cell {cell_id} is still todo: translate it and remove ' · todo' first")
        entries[cell_id].english_fp = fingerprint(english[cell_id])
    write_translations(path, list(entries.values()))


def _select(names: list[str]) -> list[Path]:
    chapters = english_chapters()
    if not names:
        return chapters
    chosen = [c for c in chapters if any(c.stem == n or c.stem.startswith(n) for n in names)]
    if not chosen:
        raise SystemExit(f"no chapter matches {names}; chapters: {', '.join(c.stem for c in chapters)}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["status", "stub", "build", "mark"])
    parser.add_argument("chapters", nargs="*", help="chapter stems or number prefixes (default: all); "
                        "for mark: one chapter, then the cell ids")
    parser.add_argument("--lang", default="zh", choices=sorted(LANGUAGES))
    args = parser.parse_args(argv)
    if args.command == "mark":
        if len(args.chapters) < 2:
            raise SystemExit("mark needs a chapter and at least one cell id")
        chapter = _select(args.chapters[:1])[0]
        mark(chapter, args.chapters[1:], args.lang)
        print(f"{chapter.stem}: {len(args.chapters) - 1} cell(s) marked as translating the current English")
        return 0
    chapters = _select(args.chapters)
    if args.command == "stub":
        for chapter in chapters:
            print(f"{chapter.stem}: {stub(chapter, args.lang)} todo entries added")
        return 0
    if args.command == "status":
        bad = 0
        for chapter in chapters:
            found = problems(chapter, args.lang)
            cells = sum(c["cell_type"] == "markdown" for c in load_notebook(chapter)["cells"])
            print(f"{chapter.stem}: {cells - len([p for p in found if p.kind != 'orphan'])}/{cells} markdown cells in step")
            for p in found:
                print(f"  {p}")
            bad += bool(found)
        return 1 if bad else 0
    failed = 0
    for chapter in chapters:
        try:
            save_notebook(render(chapter, args.lang), translated_notebook_path(chapter, args.lang))
            print(f"wrote {translated_notebook_path(chapter, args.lang).relative_to(ROOT)}")
        except ValueError as err:
            print(err, file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
