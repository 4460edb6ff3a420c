"""Exercises are numbered in reading order with their chapter's prefix (Exercise 3.1, 3.2, ...)."""

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_are_numbered_in_reading_order_with_the_chapter_prefix(path):
    chapter = int(path.name[:2])
    numbers = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        for line in "".join(cell["source"]).splitlines():
            if not re.match(r"^#+ |\*\*Exercise", line) or "Exercise" not in line or re.match(r"^#+ \d+\.", line):
                continue
            found = re.findall(r"Exercise (\d+)\.(\d+)\b", line)
            assert found, f"{path.name}: exercise heading without a chapter-prefixed number: {line!r}"
            for prefix, number in found:
                assert int(prefix) == chapter, f"{path.name}: {line!r} is not numbered {chapter}.N"
                numbers.append(int(number))
    assert numbers == list(range(1, len(numbers) + 1)), f"{path.name}: exercises numbered {numbers} in reading order"
