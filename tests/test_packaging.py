"""The set-up promises of the README hold: same pins everywhere, CI runs the README's command."""

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = set(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs.update(extra)
    return {r.replace(" ", "") for r in reqs}


def _environment_pip_requirements() -> set[str]:
    lines = (ROOT / "environment.yml").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "- pip:")
    indent = len(lines[start + 1]) - len(lines[start + 1].lstrip())
    reqs = set()
    for line in lines[start + 1 :]:
        if not line.strip() or len(line) - len(line.lstrip()) < indent:
            break
        item = line.strip().removeprefix("- ").strip()
        if item != "-e .":
            reqs.add(item.replace(" ", ""))
    return reqs


def test_environment_yml_matches_pyproject():
    assert _environment_pip_requirements() == _pyproject_requirements()


def test_torch_is_pinned_exactly():
    torch_reqs = [r for r in _pyproject_requirements() if r.startswith("torch")]
    assert torch_reqs and all("==" in r for r in torch_reqs), torch_reqs


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"^make (\w+)$", readme, flags=re.M)
    assert "test" in commands and "lab" in commands, "README must show `make lab` and `make test`"
    assert re.search(r"^make test$", ci, flags=re.M), ".ci/run must call `make test`"
    assert "COURSE_DATA_DIR" in ci


def test_makefile_has_the_documented_targets():
    makefile = (ROOT / "Makefile").read_text()
    for target in ("lab", "test", "course", "bench"):
        assert re.search(rf"^{target}:", makefile, flags=re.M), target


def test_notebooks_are_committed_without_outputs():
    import json

    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    assert notebooks, "no notebooks found"
    for path in notebooks:
        cells = json.loads(path.read_text())["cells"]
        dirty = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
        assert not dirty, f"{path.name}: cells {dirty} carry outputs; strip them before committing"
