"""Execute every chapter under the current budget and render a browsable HTML course into build/.

Usage: ``python tools/build_course.py [--budget standard] [--only 02_maml] [--lang all] [--timeout 3600]``
(``make course`` runs it with the default budget, both languages). Chapters are the notebooks
``notebooks/NN_*.ipynb``, in the order of their numbers; the Chinese edition's are
``notebooks/zh/NN_*.ipynb``, executed with ``COURSE_LANG=zh``. Executed notebooks go to
``build/executed/``, HTML pages to ``build/`` (Chinese: ``build/zh/``), with ``index.html`` as the
table of contents of each language and a link on every page to the same page in the other language.
The site reads offline: MathJax is copied into
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
#: per language: the folder of its notebooks (relative to notebooks/), of its pages (relative to the
#: build folder), and the words of the pages (the other language's name labels the switch)
LANGUAGES = {
    "en": {"sub": "", "name": "English", "html_lang": "en", "contents": "Contents", "chapter": "chapter",
           "status": "status", "time": "run time", "total": "total",
           "solution": "Solution (hidden): click to show", "output": "Output (hidden): click to show",
           "intro": "Executed with budget <b>{budget}</b>; each page reads offline (formulas, figures and widget "
                    "snapshots are in this folder)."},
    "zh": {"sub": "zh", "name": "中文", "html_lang": "zh-CN", "contents": "目录", "chapter": "章节",
           "status": "状态", "time": "运行时间", "total": "合计",
           "solution": "参考答案（已隐藏）：点击显示", "output": "输出（已隐藏）：点击显示",
           "intro": "以计算预算 <b>{budget}</b> 执行；每一页都可离线阅读（公式、图和控件快照都在本文件夹中）。"},
}
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


def other_language_page(path: Path, lang: str) -> dict | None:
    """The link from the page of notebook ``path`` (in ``lang``) to the same chapter in the other
    language, if that notebook exists: English ``X.html`` <-> Chinese ``zh/X.html``."""
    if lang == "en":
        twin, href, other = path.parent / "zh" / path.name, f"zh/{path.stem}.html", "zh"
    else:
        twin, href, other = path.parent.parent / path.name, f"../{path.stem}.html", "en"
    return {"href": href, "label": LANGUAGES[other]["name"], "lang": LANGUAGES[other]["html_lang"]} if twin.exists() else None


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
                            mathjax_url=mathjax_url, language_code=nav["words"]["html_lang"])
    body, _ = exporter.from_notebook_node(nb, resources={"course_nav": nav})
    return body


def _index_page(rows: list[tuple[str, str, str, float]], budget: str, lang: str = "en",
                switch: dict | None = None) -> str:
    words = LANGUAGES[lang]
    other = f'<p><a href="{switch["href"]}" hreflang="{switch["lang"]}">{switch["label"]}</a></p>' if switch else ""
    items = "\n".join(
        f'<tr><td><a href="{stem}.html">{html.escape(title)}</a></td><td>{html.escape(status)}</td>'
        f'<td class="time">{seconds:.0f} s</td></tr>'
        for stem, title, status, seconds in rows
    )
    return (
        f"<!doctype html><html lang='{words['html_lang']}'><meta charset='utf-8'><title>Meta-Learning, Hands-On</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:2em auto;padding:0 1em}"
        "td,th{padding:.3em 1em;text-align:left;vertical-align:top}"
        "td.time,th.time{white-space:nowrap;text-align:right}</style>"
        f"<h1>Meta-Learning, Hands-On</h1>{other}<p>{words['intro'].format(budget=html.escape(budget))}</p>"
        f"<table><tr><th>{words['chapter']}</th><th>{words['status']}</th><th class='time'>{words['time']}</th></tr>"
        f"{items}<tr><td>{words['total']}</td><td></td><td class='time'>{sum(row[3] for row in rows):.0f} s</td></tr>"
        "</table></html>"
    )


def build(notebooks: list[Path], budget: str | None, timeout: int, root: Path, lang: str = "en") -> int:
    """Execute ``notebooks`` (in ``lang``, with ``COURSE_LANG`` set to it) and write their HTML pages and
    ``index.html`` into ``root`` (English) or ``root/<lang>``; MathJax goes to ``root/mathjax``. 1 if any failed."""
    if budget:
        os.environ["COURSE_BUDGET"] = budget
    words = LANGUAGES[lang]
    out = root / words["sub"]
    (out / "executed").mkdir(parents=True, exist_ok=True)
    mathjax_url = ("../" if words["sub"] else "") + course_html.copy_mathjax(root)
    sources = [nbformat.read(path, as_version=4) for path in notebooks]
    titles = [chapter_title(path.stem, _heading(nb)) for path, nb in zip(notebooks, sources)]
    links = [{"href": f"{path.stem}.html", "title": title} for path, title in zip(notebooks, titles)]
    rows, failures, timings = [], 0, {}
    # Outputs show the course folders relative to themselves, and the temporary folder (where a
    # warning's cell file lives, e.g. ipykernel_123/456.py) as $TMPDIR.
    aliases = sorted([*path_aliases(), (Path(tempfile.gettempdir()).resolve(), "$TMPDIR")],
                     key=lambda pair: len(str(pair[0])), reverse=True)
    budget_used = os.environ.get("COURSE_BUDGET", "standard")
    previous_lang = os.environ.get("COURSE_LANG")
    os.environ["COURSE_LANG"] = lang  # the kernels inherit it: hints and messages in the page's language
    try:
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
            nav = {"prev": links[i - 1] if i else None, "next": links[i + 1] if i + 1 < len(links) else None,
                   "switch": other_language_page(path, lang), "words": words}
            (out / f"{path.stem}.html").write_text(render(nb, titles[i], nav, mathjax_url), encoding="utf-8")
            render_seconds = time.perf_counter() - start
            rows.append((path.stem, titles[i], status, seconds))
            timings[path.stem] = {"status": status, "seconds": round(seconds, 1), "render_seconds": round(render_seconds, 1),
                                  "budget": budget_used, "title": titles[i]}
            print(f"  {status} in {seconds:.0f} s (+ {render_seconds:.1f} s to render)", flush=True)
    finally:
        if previous_lang is None:
            os.environ.pop("COURSE_LANG", None)
        else:
            os.environ["COURSE_LANG"] = previous_lang
    other = "zh" if lang == "en" else "en"
    index_switch = {"href": "zh/index.html" if lang == "en" else "../index.html",
                    "label": LANGUAGES[other]["name"], "lang": LANGUAGES[other]["html_lang"]}
    has_twins = any(other_language_page(path, lang) for path in notebooks)
    (out / "index.html").write_text(_index_page(rows, budget_used, lang, index_switch if has_twins else None),
                                    encoding="utf-8")
    (out / "timings.json").write_text(json.dumps(timings, indent=2, ensure_ascii=False))
    print(f"wrote {len(rows)} page(s) and index.html into {out.relative_to(root.parent)}/; {failures} chapter(s) failed")
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=["smoke", "standard", "full"], default=None)
    parser.add_argument("--only", nargs="*", default=[], help="chapter prefixes, e.g. 00 02_maml")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per cell")
    parser.add_argument("--out", type=Path, default=ROOT / "build")
    parser.add_argument("--lang", choices=["en", "zh", "all"], default="all",
                        help="which edition to build (default: both, English first)")
    args = parser.parse_args()
    failed = 0
    for lang in (["en", "zh"] if args.lang == "all" else [args.lang]):
        notebooks = chapters(args.only, ROOT / "notebooks" / LANGUAGES[lang]["sub"])
        if not notebooks:
            print(f"no chapter matches {args.only}: give prefixes such as 00 or 02_maml", file=sys.stderr)
            return 1
        failed |= build(notebooks, args.budget, args.timeout, args.out, lang)
    return failed


if __name__ == "__main__":
    sys.exit(main())
