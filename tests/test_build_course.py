"""``make course``: executed chapters rendered to HTML with a table of contents (tools/build_course.py)."""

import importlib.util
import json
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("build_course", ROOT / "tools" / "build_course.py")
build_course = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build_course)


def test_chapter_selection_by_prefix():
    assert len(build_course.chapters([])) == 10
    assert [p.stem for p in build_course.chapters(["00", "02_maml"])] == ["00_start_here", "02_maml"]
    assert build_course.chapters(["99"]) == []


def _failing_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# A broken page"), nbformat.v4.new_code_cell("1 / 0")]
    nbformat.write(nb, path)
    return path


def test_course_site_renders_chapter_00_and_lists_a_failing_page(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_BUDGET", "smoke")
    chapter = build_course.chapters(["00"])
    broken = _failing_notebook(tmp_path / "99_broken.ipynb")
    out = tmp_path / "site"
    assert build_course.build(chapter + [broken], None, 600, out) == 1  # one page failed

    page = (out / "00_start_here.html").read_text()
    assert "Start here" in page and "<img" in page  # executed: its figures are embedded
    executed = nbformat.read(out / "executed" / "00_start_here.ipynb", as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    assert code and all(c.execution_count for c in code)
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)

    index = (out / "index.html").read_text()
    assert 'href="00_start_here.html"' in index and 'href="99_broken.html"' in index
    assert "ZeroDivisionError" in (out / "99_broken.html").read_text()
    timings = json.loads((out / "timings.json").read_text())
    assert timings["00_start_here"]["status"] == "ok" and timings["00_start_here"]["budget"] == "smoke"
    assert timings["99_broken"]["status"].startswith("failed") and "ZeroDivisionError" in timings["99_broken"]["status"]
