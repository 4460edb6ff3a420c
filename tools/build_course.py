"""Execute every chapter under the current budget and render a browsable HTML course into build/.

Usage: ``python tools/build_course.py [--budget standard] [--only 02_maml] [--timeout 3600]``
(``make course`` runs it with the default budget). Executed notebooks go to ``build/executed/``,
HTML pages to ``build/``, with ``build/index.html`` as the table of contents. A chapter that fails
is still rendered (with its error) and listed as failed; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import sys
import time
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import CellExecutionError, ExecutePreprocessor

ROOT = Path(__file__).resolve().parent.parent


def _title(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "untitled"


def chapters(only: list[str]) -> list[Path]:
    """The chapter notebooks, in order; ``only`` keeps those whose name starts with one of its prefixes."""
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return [p for p in notebooks if not only or any(p.stem.startswith(o) for o in only)]


def build(notebooks: list[Path], budget: str | None, timeout: int, out: Path) -> int:
    """Execute ``notebooks``, write their HTML pages and ``index.html`` into ``out``; 1 if any failed."""
    if budget:
        os.environ["COURSE_BUDGET"] = budget
    (out / "executed").mkdir(parents=True, exist_ok=True)
    rows, failures = [], 0
    for path in notebooks:
        nb = nbformat.read(path, as_version=4)
        start = time.perf_counter()
        status = "ok"
        print(f"executing {path.name} ...", flush=True)
        try:
            ExecutePreprocessor(timeout=timeout, kernel_name="python3").preprocess(
                nb, {"metadata": {"path": str(path.parent)}}
            )
        except CellExecutionError as err:
            status = f"failed: {str(err).splitlines()[-1][:200] if str(err) else 'error'}"
            failures += 1
        seconds = time.perf_counter() - start
        nbformat.write(nb, out / "executed" / path.name)
        body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
        (out / f"{path.stem}.html").write_text(body)
        rows.append((path.stem, _title(nb), status, seconds))
        print(f"  {status} in {seconds:.0f} s", flush=True)
    items = "\n".join(
        f'<tr><td><a href="{stem}.html">{html.escape(stem)}</a></td><td>{html.escape(title)}</td>'
        f"<td>{html.escape(status)}</td><td>{seconds:.0f} s</td></tr>"
        for stem, title, status, seconds in rows
    )
    budget_used = os.environ.get("COURSE_BUDGET", "standard")
    (out / "index.html").write_text(
        "<!doctype html><meta charset='utf-8'><title>Meta-Learning, Hands-On</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td{padding:.3em 1em}</style>"
        f"<h1>Meta-Learning, Hands-On</h1><p>Executed with budget <b>{budget_used}</b>.</p>"
        f"<table><tr><th>chapter</th><th>title</th><th>status</th><th>time</th></tr>{items}</table>"
    )
    (out / "timings.json").write_text(json.dumps(
        {stem: {"status": status, "seconds": round(seconds, 1), "budget": budget_used} for stem, _, status, seconds in rows},
        indent=2))
    print(f"wrote {out / 'index.html'}; {failures} chapter(s) failed")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=["smoke", "standard", "full"], default=None)
    parser.add_argument("--only", nargs="*", default=[], help="chapter prefixes, e.g. 00 02_maml")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    args = parser.parse_args()
    notebooks = chapters(args.only)
    if not notebooks:
        print(f"no chapter matches {args.only}: give prefixes such as 00 or 02_maml", file=sys.stderr)
        return 1
    return build(notebooks, args.budget, args.timeout, args.out)


if __name__ == "__main__":
    sys.exit(main())
