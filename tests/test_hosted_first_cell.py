"""Every chapter's first cell works unchanged on a hosted notebook (Colab, Kaggle, a JupyterHub).

The cell installs ``course_lib`` from the repository when it is missing, without dependencies (so
the runtime keeps its own PyTorch), then the light dependencies. These tests check that the cell is
the same everywhere, that it names the repository and the dependency pins of ``pyproject.toml``,
and, end to end, that its install block puts a complete ``course_lib`` into a fresh environment.
"""

import json
import os
import re
import shutil
import subprocess
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
REPO_URL = PROJECT["urls"]["Repository"]


def _first_code_cell(path: Path) -> str:
    cells = json.loads(path.read_text())["cells"]
    return "".join(next(c for c in cells if c["cell_type"] == "code")["source"])


def _install_block(cell: str) -> str:
    """The ``if ... is None:`` block of the first cell (everything before ``from course_lib``)."""
    return cell.split("from course_lib import setup")[0]


def test_first_cell_is_identical_in_every_chapter():
    cells = {p.name: _first_code_cell(p) for p in NOTEBOOKS}
    assert len(cells) >= 10 and sorted(cells)[0].startswith("00_")
    assert len(set(cells.values())) == 1, "chapters disagree on the first cell: " + ", ".join(cells)
    cell = next(iter(cells.values()))
    assert cell.rstrip().endswith("info = setup(seed=0)")
    assert 'find_spec("course_lib") is None' in cell


def test_first_cell_names_the_repository_and_the_pinned_dependencies():
    cell = _first_code_cell(NOTEBOOKS[0])
    assert f'REPO = "{REPO_URL}"' in cell
    assert '"--no-deps"' in cell, "installing with dependencies would replace the hosted PyTorch build"
    wanted = {d.replace(" ", "") for d in PROJECT["dependencies"] if not d.startswith("torch")}
    listed = set(re.findall(r'"([a-z]+[<>=][^"]+)"', cell))
    assert listed == wanted


def test_readme_colab_links_point_at_existing_notebooks():
    readme = (ROOT / "README.md").read_text()
    base = REPO_URL.removeprefix("https://github.com/")
    links = re.findall(r"https://colab\.research\.google\.com/github/([^)]+)/blob/main/(notebooks/[\w.]+)", readme)
    assert {repo for repo, _ in links} == {base}
    assert sorted(path for _, path in links) == sorted(f"notebooks/{p.name}" for p in NOTEBOOKS)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git to serve the checkout as a repository")
def test_install_block_installs_course_lib_into_a_fresh_environment(tmp_path):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the install block installs from a git repository")
    env_dir = tmp_path / "hosted"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"
    # the repository URL is replaced by this checkout (committed state), the rest runs as written
    block = _install_block(_first_code_cell(NOTEBOOKS[0])).replace(REPO_URL, ROOT.as_uri())
    probe = block + (
        "\nimport importlib.util, pathlib\n"
        "spec = importlib.util.find_spec('course_lib')\n"
        "assert spec is not None, 'course_lib was not installed'\n"
        "print(pathlib.Path(spec.origin).parent)\n"
    )
    out = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    installed = Path(out.stdout.strip().splitlines()[-1])
    assert installed.parent != ROOT, "the fresh environment imported the checkout, not an installed copy"
    tracked = subprocess.run(["git", "ls-files", "course_lib/*.py"], cwd=ROOT, capture_output=True, text=True).stdout
    expected = [Path(line).relative_to("course_lib") for line in tracked.split()]
    assert expected, "git lists no course_lib modules"
    missing = [str(p) for p in expected if not (installed / p).exists()]
    assert not missing, f"modules missing from the installed package: {missing}"
    # the runtime's PyTorch was not touched: the fresh environment still has none
    has_torch = subprocess.run([str(python), "-c", "import importlib.util as u; print(u.find_spec('torch') is not None)"],
                               capture_output=True, text=True).stdout.strip()
    assert has_torch == "False"
