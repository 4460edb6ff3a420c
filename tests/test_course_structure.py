"""The course's structural promises: one inner loop, small files, the course kernel, a build section per algorithm chapter."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "course_lib"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ALGORITHM_CHAPTERS = ("02_", "03_", "04_", "05_", "06_", "07_", "08_")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def test_one_inner_loop_in_the_whole_library():
    definitions = [f"{p.relative_to(ROOT)}" for p in LIBRARY.rglob("*.py")
                   if re.search(r"^def adapt\(", p.read_text(), flags=re.MULTILINE)]
    assert definitions == ["course_lib/adaptation.py"], definitions


def test_every_library_file_reads_in_one_sitting():
    long_files = {str(p.relative_to(ROOT)): n for p in LIBRARY.rglob("*.py")
                  if (n := len(p.read_text().splitlines())) > 300}
    assert not long_files, f"files over 300 lines: {long_files}"


def test_algorithms_folder_holds_only_methods():
    """Harnesses, analysis and widgets live elsewhere: no runner, plot or widget code among the methods."""
    for path in (LIBRARY / "algorithms").glob("*.py"):
        text = path.read_text()
        assert "import matplotlib" not in text and "ipywidgets" not in text, path.name
        assert "train_loop(" not in text, f"{path.name} runs a training loop: that belongs in experiments/"


def test_every_notebook_runs_on_the_course_kernel():
    kernel = re.search(r"^KERNEL\s*:=\s*(\S+)", (ROOT / "Makefile").read_text(), flags=re.MULTILINE).group(1)
    for path in NOTEBOOKS:
        spec = json.loads(path.read_text())["metadata"].get("kernelspec", {})
        assert spec.get("name") == kernel, f"{path.name}: kernelspec {spec} (expected the course kernel {kernel!r})"


def test_chapters_are_numbered_in_order_and_titled_alike():
    numbers = [int(path.name[:2]) for path in NOTEBOOKS]
    assert numbers == list(range(len(NOTEBOOKS))), f"chapter numbers {numbers} have a gap or a repeat"
    for path in NOTEBOOKS:
        title = next(c for c in _cells(path) if c["cell_type"] == "markdown")["source"][0]
        assert title.startswith(f"# {path.name[:2]} · "), f"{path.name}: title {title!r} is not '# NN · ...'"


@pytest.mark.parametrize("prefix", ALGORITHM_CHAPTERS)
def test_algorithm_chapters_have_a_build_it_yourself_section_with_a_hidden_solution(prefix):
    path = next(p for p in NOTEBOOKS if p.name.startswith(prefix))
    cells = _cells(path)
    heading = [i for i, c in enumerate(cells) if c["cell_type"] == "markdown"
               and re.search(r"^#+ .*Build it yourself", "".join(c["source"]), flags=re.MULTILINE)]
    assert heading, f"{path.name} has no 'Build it yourself' section"
    solutions = [i for i, c in enumerate(cells) if "solution" in c.get("metadata", {}).get("tags", [])]
    after = [i for i in solutions if i > heading[0]]
    assert after, f"{path.name}: no solution cell after the 'Build it yourself' heading"
    for i in solutions:
        assert cells[i]["metadata"].get("jupyter", {}).get("source_hidden"), f"{path.name}: solution cell {i} is not hidden"
