"""The Chinese edition stays in step with the English one (tools/translations.py).

Every English Markdown cell has a translation whose fingerprint matches the English text it
translates; the Chinese notebooks are exactly what the tool generates (identical code cells, same
cell ids, the Chinese kernel); a changed English cell without its translation fails, naming it.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import translations as tl  # noqa: E402  (tools/ is not a package)

CHAPTERS = tl.english_chapters()


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_every_markdown_cell_has_an_up_to_date_translation(chapter):
    found = tl.problems(chapter)
    assert not found, f"{len(found)} cell(s) of {chapter.stem} out of step (python tools/translations.py status):\n" \
        + "\n".join(map(str, found))


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chinese_notebook_is_generated_from_english_plus_translation(chapter):
    path = tl.translated_notebook_path(chapter)
    assert path.exists(), f"{path.relative_to(ROOT)} is missing: run python tools/translations.py build"
    on_disk = tl.load_notebook(path)
    assert on_disk == tl.render(chapter), \
        f"{path.relative_to(ROOT)} differs from what the tool generates: run python tools/translations.py build"
    english = tl.load_notebook(chapter)
    assert [c["id"] for c in on_disk["cells"]] == [c["id"] for c in english["cells"]]
    for zh, en in zip(on_disk["cells"], english["cells"]):
        assert zh["cell_type"] == en["cell_type"]
        if en["cell_type"] == "code":
            assert zh["source"] == en["source"], f"code cell {en['id']} differs between the two editions"
    assert on_disk["metadata"]["kernelspec"]["name"] == tl.LANGUAGES["zh"]["kernel"]


def test_a_changed_english_cell_without_its_translation_is_named(tmp_path, monkeypatch):
    chapter = CHAPTERS[2]
    english = tl.load_notebook(chapter)
    cell = next(c for c in english["cells"] if c["cell_type"] == "markdown")
    changed = copy.deepcopy(english)
    target = next(c for c in changed["cells"] if c["id"] == cell["id"])
    target["source"] = tl._source(target) + "\nOne more sentence."
    found = tl.problems(chapter, english=changed)
    assert [(p.cell_id, p.kind) for p in found] == [(cell["id"], "stale")]
    assert f"markdown cell {cell['id']} changed since it was translated" in str(found[0])
    # and the generator refuses to write a notebook from it
    copy_path = tmp_path / chapter.name
    copy_path.write_text(json.dumps(changed), encoding="utf-8")
    monkeypatch.setattr(tl, "translation_path", lambda c, lang="zh": tl.NOTEBOOKS / "translations" / lang / f"{chapter.stem}.md")
    with pytest.raises(ValueError, match=cell["id"]):
        tl.render(copy_path)


def test_translation_files_parse_and_reject_malformed_headers(tmp_path):
    good = tmp_path / "good.md"
    good.write_text("<!-- cell abc · en 0123456789ab -->\n# 标题\n\n正文\n\n<!-- cell def · en ba9876543210 · todo -->\nText\n",
                    encoding="utf-8")
    entries = tl.read_translations(good)
    assert entries["abc"].text == "# 标题\n\n正文" and not entries["abc"].todo and entries["def"].todo
    bad = tmp_path / "bad.md"
    bad.write_text("<!-- cell abc en 0123 -->\ntext\n", encoding="utf-8")
    with pytest.raises(ValueError, match="bad.md, line 1: malformed entry header"):
        tl.read_translations(bad)


def test_links_to_chapters_point_to_the_chinese_notebooks():
    text = "[02](https://colab.research.google.com/github/o/r/blob/main/notebooks/02_maml.ipynb) and GLOSSARY.md"
    assert tl._localise_links(text, "zh") == \
        "[02](https://colab.research.google.com/github/o/r/blob/main/notebooks/zh/02_maml.ipynb) and GLOSSARY.md"


def test_make_lab_opens_the_chinese_course_when_course_lang_is_zh():
    if not shutil.which("make"):
        pytest.skip("needs make")
    built = [".venv/.installed-stamp", ".venv/share/jupyter/kernels/meta-learning-hands-on-zh/kernel.json",
             ".venv/share/jupyter/lab/settings/overrides.d/meta-learning-hands-on.json"]
    base = ["make", "-n", *(f"--old-file={path}" for path in built), "lab"]  # print the command, run nothing
    chinese = subprocess.run(base + ["COURSE_LANG=zh"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    english = subprocess.run(base, cwd=ROOT, capture_output=True, text=True, check=True,
                             env={k: v for k, v in os.environ.items() if k != "COURSE_LANG"}).stdout
    assert "default_url=/lab/tree/notebooks/zh/00_start_here.ipynb" in chinese
    assert "default_url=/lab/tree/notebooks/00_start_here.ipynb" in english
