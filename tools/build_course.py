"""Execute every chapter under the current budget and render a browsable HTML course into build/.

Usage: ``python tools/build_course.py [--budget standard] [--only 02_maml] [--timeout 3600]``
(``make course`` runs it with the default budget). Chapters are the notebooks ``notebooks/NN_*.ipynb``,
in the order of their numbers. Executed notebooks go to ``build/executed/``, HTML pages to ``build/``,
with ``build/index.html`` as the table of contents. The site reads offline: MathJax is copied into
``build/mathjax/``, widgets become static snapshots, progress bars their final line, and outputs
show paths relative to the course folders. A chapter that fails is still rendered (with its error)
and listed as failed; the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import copy
import html
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbconvert import HTMLExporter
from nbconvert.preprocessors import CellExecutionError, ExecutePreprocessor

TOOLS = Path(__file__).resolve().parent
ROOT = TOOLS.parent
sys.path.insert(0, str(TOOLS))
import course_html  # noqa: E402  (tools/ is not a package)

from course_lib.runtime import path_aliases  # noqa: E402

KERNEL = "python3"  # the Python running this script, so the build needs no installed kernelspec
_NUMBERED_HEADING = re.compile(r"^(chapter\s+)?\d+\s*[·:—–.-]?\s*", re.IGNORECASE)


def _heading(nb) -> str:
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            for line in cell.source.splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return "untitled"


def chapter_title(stem: str, heading: str) -> str:
    """``NN · Title`` from the file's number and the notebook's heading, whatever numbering it uses.

    E.g. ``("02_maml", "Chapter 02 — MAML: ...")`` and ``("04_x", "04 · Learned optimizers")``
    give ``"02 · MAML: ..."`` and ``"04 · Learned optimizers"``.
    """
    number = stem.split("_", 1)[0]
    return f"{number} · {_NUMBERED_HEADING.sub('', heading, count=1)}" if number.isdigit() else heading


def chapters(only: list[str], folder: Path = ROOT / "notebooks") -> list[Path]:
    """The chapter notebooks of ``folder``, in order; ``only`` keeps those whose name starts with one of its prefixes."""
    notebooks = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    return [p for p in notebooks if not only or any(p.stem.startswith(o) for o in only)]


class _Executor(ExecutePreprocessor):
    """Forgets the state of a widget once the kernel closes it (e.g. a tqdm bar with ``leave=False``).

    JupyterLab removes such a widget from the page; nbclient would keep its last state, and the
    static page would show a bar that a learner never sees.
    """

    def handle_comm_msg(self, outs, msg, cell_index) -> None:
        if msg["header"]["msg_type"] == "comm_close":
            self.widget_state.pop(msg["content"]["comm_id"], None)
            self.widget_buffers.pop(msg["content"]["comm_id"], None)
            return
        super().handle_comm_msg(outs, msg, cell_index)


def execute(nb, path: Path, timeout: int) -> str:
    """Run ``nb`` in a fresh kernel with ``path``'s folder as working directory; "ok" or "failed: ...".

    The kernel talks over local IPC sockets (not TCP), which is private to this machine's user, so
    the kernel has no reason to warn about unencrypted TCP traffic.
    """
    with tempfile.TemporaryDirectory(prefix="course-kernel-") as tmp:
        km = KernelManager(kernel_name=KERNEL, transport="ipc", connection_file=str(Path(tmp) / "kernel.json"))
        try:
            _Executor(timeout=timeout, kernel_name=KERNEL).preprocess(
                nb, {"metadata": {"path": str(path.parent)}}, km=km
            )
        except CellExecutionError as err:
            last = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).splitlines()[-1:] or ["error"]  # no colour codes
            return f"failed: {last[0][:200]}"
        finally:
            if km.has_kernel:  # a kernel manager passed in is not shut down by the preprocessor
                km.shutdown_kernel(now=True)
    return "ok"


def render(nb, title: str, nav: dict, mathjax_url: str) -> str:
    """The static HTML page of an executed notebook (a copy is changed, not ``nb``)."""
    nb = copy.deepcopy(nb)
    course_html.snapshot_widgets(nb)
    for cell in nb.cells:  # the page's heading becomes the consistent chapter title
        if cell.cell_type == "markdown" and re.search(r"^# ", cell.source, re.MULTILINE):
            cell.source = re.sub(r"^# .*$", lambda _: f"# {title}", cell.source, count=1, flags=re.MULTILINE)
            break
    nb.metadata["title"] = f"{title} — Meta-Learning, Hands-On"
    exporter = HTMLExporter(template_name="course_template", extra_template_basedirs=[str(TOOLS)],
                            mathjax_url=mathjax_url)
    body, _ = exporter.from_notebook_node(nb, resources={"course_nav": nav})
    return body


def _index_page(rows: list[tuple[str, str, str, float]], budget: str) -> str:
    items = "\n".join(
        f'<tr><td><a href="{stem}.html">{html.escape(title)}</a></td><td>{html.escape(status)}</td>'
        f'<td class="time">{seconds:.0f} s</td></tr>'
        for stem, title, status, seconds in rows
    )
    return (
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>Meta-Learning, Hands-On</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "td,th{padding:.3em 1em;text-align:left;vertical-align:top}"
        "td.time,th.time{white-space:nowrap;text-align:right}</style>"
        f"<h1>Meta-Learning, Hands-On</h1><p>Executed with budget <b>{html.escape(budget)}</b>; "
        "each page reads offline (formulas, figures and widget snapshots are in this folder).</p>"
        "<table><tr><th>chapter</th><th>status</th><th class='time'>run time</th></tr>"
        f"{items}<tr><td>total</td><td></td><td class='time'>{sum(row[3] for row in rows):.0f} s</td></tr>"
        "</table></html>"
    )


def build(notebooks: list[Path], budget: str | None, timeout: int, out: Path) -> int:
    """Execute ``notebooks``, write their HTML pages and ``index.html`` into ``out``; 1 if any failed."""
    if budget:
        os.environ["COURSE_BUDGET"] = budget
    (out / "executed").mkdir(parents=True, exist_ok=True)
    mathjax_url = course_html.copy_mathjax(out)
    sources = [nbformat.read(path, as_version=4) for path in notebooks]
    titles = [chapter_title(path.stem, _heading(nb)) for path, nb in zip(notebooks, sources)]
    links = [{"href": f"{path.stem}.html", "title": title} for path, title in zip(notebooks, titles)]
    rows, failures, timings = [], 0, {}
    # Outputs show the course folders relative to themselves, and the temporary folder (where a
    # warning's cell file lives, e.g. ipykernel_123/456.py) as $TMPDIR.
    aliases = sorted([*path_aliases(), (Path(tempfile.gettempdir()).resolve(), "$TMPDIR")],
                     key=lambda pair: len(str(pair[0])), reverse=True)
    budget_used = os.environ.get("COURSE_BUDGET", "standard")
    for i, (path, nb) in enumerate(zip(notebooks, sources)):
        print(f"executing {path.name} ...", flush=True)
        start = time.perf_counter()
        status = execute(nb, path, timeout)
        seconds = time.perf_counter() - start
        failures += status != "ok"
        course_html.clean_streams(nb)
        course_html.scrub_paths(nb, aliases)
        nbformat.write(nb, out / "executed" / path.name)
        start = time.perf_counter()
        nav = {"prev": links[i - 1] if i else None, "next": links[i + 1] if i + 1 < len(links) else None}
        (out / f"{path.stem}.html").write_text(render(nb, titles[i], nav, mathjax_url), encoding="utf-8")
        render_seconds = time.perf_counter() - start
        rows.append((path.stem, titles[i], status, seconds))
        timings[path.stem] = {"status": status, "seconds": round(seconds, 1), "render_seconds": round(render_seconds, 1),
                              "budget": budget_used, "title": titles[i]}
        print(f"  {status} in {seconds:.0f} s (+ {render_seconds:.1f} s to render)", flush=True)
    (out / "index.html").write_text(_index_page(rows, budget_used), encoding="utf-8")
    (out / "timings.json").write_text(json.dumps(timings, indent=2, ensure_ascii=False))
    print(f"wrote {len(rows)} page(s) and index.html into {out.name}/; {failures} chapter(s) failed")
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
