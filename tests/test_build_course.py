"""``make course``: executed chapters rendered to HTML with a table of contents (tools/build_course.py)."""

import importlib.util
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("build_course", ROOT / "tools" / "build_course.py")
build_course = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_course)


def test_chapters_are_found_by_their_number_whatever_they_are(tmp_path):
    for name in ("11_wrap_up", "00_start", "08_new", "10_another", "notes", "1_short"):
        nbformat.write(nbformat.v4.new_notebook(), tmp_path / f"{name}.ipynb")
    assert [p.stem for p in build_course.chapters([], tmp_path)] == ["00_start", "08_new", "10_another", "11_wrap_up"]
    assert [p.stem for p in build_course.chapters(["1"], tmp_path)] == ["10_another", "11_wrap_up"]
    assert [p.stem for p in build_course.chapters(["00", "02_maml"])] == ["00_start_here", "02_maml"]
    assert build_course.chapters(["99"]) == []


def test_chapter_titles_are_numbered_alike():
    assert build_course.chapter_title("02_maml", "Chapter 02 — MAML: a few steps") == "02 · MAML: a few steps"
    assert build_course.chapter_title("04_lo", "04 · Learned optimizers") == "04 · Learned optimizers"
    assert build_course.chapter_title("09_lifelong", "08 · Lifelong") == "09 · Lifelong"  # the file's number
    assert build_course.chapter_title("05_metric", "Metric-based") == "05 · Metric-based"


class _Links(HTMLParser):
    """The ``(rel, href)`` of every link, and the attributes of every ``<details>``."""

    def __init__(self, text: str):
        super().__init__()
        self.links, self.details = [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a":
            self.links.append((attrs.get("rel"), attrs.get("href")))
        elif tag == "details":
            self.details.append(attrs)


def _failing_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A broken page"), nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(nb, path)
    return path


def _widgets_notebook(path: Path) -> Path:
    """A page with what a static site must handle: a tqdm bar, a widget with a figure, a hidden cell, paths."""
    nb = nbformat.v4.new_notebook()
    hidden = nbformat.v4.new_code_cell("print('the hidden solution ran')")
    hidden.metadata["jupyter"] = {"source_hidden": True}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# 50 — Widgets\n\nInline $x^2$ and display $$\\sum_i x_i$$"),
        nbformat.v4.new_code_cell("from tqdm.auto import tqdm\nfor _ in tqdm(range(7), desc='counting'):\n    pass\n"
                                  "for _ in tqdm(range(3), desc='transient', leave=False):\n    pass"),
        nbformat.v4.new_code_cell(
            "import ipywidgets as w, matplotlib.pyplot as plt\nout = w.Output()\n"
            "with out:\n    plt.plot([0, 1]); plt.show()\n"
            "w.VBox([w.IntSlider(value=4, description='K points'), w.Button(description='step'), out])"),
        nbformat.v4.new_code_cell("import sys\nfor i in range(3):\n    sys.stdout.write(f'\\rstep {i}')\nprint()"),
        nbformat.v4.new_code_cell("import course_lib, pathlib\nprint(pathlib.Path(course_lib.__file__).resolve().parent)\n"
                                  "print(pathlib.Path.home() / 'notes.txt')\nimport tempfile\n"
                                  "print(pathlib.Path(tempfile.gettempdir(), 'ipykernel_1', '2.py'))"),
        hidden,
    ]
    nbformat.write(nb, path)
    return path


def test_course_site_reads_offline_and_lists_a_failing_page(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_BUDGET", "smoke")
    chapter = build_course.chapters(["00"])
    extra = [_widgets_notebook(tmp_path / "50_widgets.ipynb"), _failing_notebook(tmp_path / "99_broken.ipynb")]
    out = tmp_path / "site"
    assert build_course.build(chapter + extra, None, 600, out) == 1  # one page failed

    page = (out / "00_start_here.html").read_text()
    assert "Start here" in page and "<img" in page  # executed: its figures are embedded
    executed = nbformat.read(out / "executed" / "00_start_here.ipynb", as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code)
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)

    pages = {p.stem: p.read_text() for p in out.glob("*.html") if p.stem != "index"}
    assert sorted(pages) == ["00_start_here", "50_widgets", "99_broken"]
    for stem, html_text in pages.items():
        assert "cdnjs" not in html_text and "unpkg" not in html_text and "require.js" not in html_text, stem
        assert 'src="mathjax/MathJax.js?config=' in html_text and (out / "mathjax" / "MathJax.js").is_file()
        for local in (str(ROOT), str(Path.home()), str(tmp_path)):
            assert local not in html_text, f"{stem} shows the local path {local}"
        parsed = _Links(html_text)
        assert html_text.count('class="course-nav"') == 2 and parsed.links.count((None, "index.html")) == 2, stem
        hidden = sum("source_hidden" in json.dumps(c.metadata)
                     for c in nbformat.read(out / "executed" / f"{stem}.ipynb", as_version=4).cells)
        assert len(parsed.details) == hidden and not any("open" in d for d in parsed.details), stem
    links = {stem: {rel: href for rel, href in _Links(text).links if rel} for stem, text in pages.items()}
    assert links == {"00_start_here": {"next": "50_widgets.html"},
                     "50_widgets": {"prev": "00_start_here.html", "next": "99_broken.html"},
                     "99_broken": {"prev": "50_widgets.html"}}
    assert "<title>00 · Start here — Meta-Learning, Hands-On</title>" in pages["00_start_here"]

    widgets = pages["50_widgets"]
    assert "<h1" in widgets and "50 · Widgets" in widgets  # the heading in the course's numbering
    assert "counting: 100%|██████████| 7/7" in widgets  # the bar's final line, as text
    assert "transient:" not in widgets  # a bar closed by tqdm (leave=False) is gone, as in JupyterLab
    assert "Static snapshot" in widgets and "K points: <b>4</b>" in widgets
    assert re.search(r'<button class="course-widget-button" disabled[^>]*>step</button>', widgets)
    assert widgets.count('<img alt="figure" src="data:image/png;base64,') == 1  # the Output widget's figure
    assert "step 2" in widgets and "step 0" not in widgets  # carriage returns: the final state only
    assert re.search(r"<pre>course_lib\s", widgets)  # the checkout's folder, shown relative to it
    assert "~/notes.txt" in widgets and "$TMPDIR/ipykernel_1/2.py" in widgets
    assert "the hidden solution ran" in widgets  # the output of a hidden cell stays visible

    index = (out / "index.html").read_text()
    assert 'href="00_start_here.html"' in index and 'href="99_broken.html"' in index
    assert "00 · Start here" in index and "white-space:nowrap" in index
    assert "ZeroDivisionError" in pages["99_broken"]
    timings = json.loads((out / "timings.json").read_text())
    assert timings["00_start_here"]["status"] == "ok" and timings["00_start_here"]["budget"] == "smoke"
    assert timings["99_broken"]["status"].startswith("failed") and "ZeroDivisionError" in timings["99_broken"]["status"]
