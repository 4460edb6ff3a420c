"""List every number with a decimal point or a percent sign in the notebooks' Markdown, with its context.

A measured number belongs in a code cell's output, never typed into Markdown; published numbers are
quoted with their citation. Run this before committing a chapter and read each line it prints:

    python tools/markdown_numbers.py [notebooks/03_reptile.ipynb ...]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

NUMBER = re.compile(r"(?<![\w.$\\{^_])\d+\.\d+(?:\s*%)?|(?<![\w.$\\{^_])\d+\s*%")


def markdown_numbers(path: Path):
    """Yield ``(cell index, number, context)`` for every decimal or percentage outside LaTeX math."""
    for index, cell in enumerate(json.loads(path.read_text())["cells"]):
        if cell["cell_type"] != "markdown":
            continue
        text = "".join(cell["source"])
        text = re.sub(r"\$\$.*?\$\$|\$[^$\n]*\$", " ", text, flags=re.DOTALL)  # formulas are not measurements
        for match in NUMBER.finditer(text):
            start, end = max(0, match.start() - 60), min(len(text), match.end() + 60)
            yield index, match.group(0), " ".join(text[start:end].split())


def main(paths: list[str]) -> None:
    files = [Path(p) for p in paths] or sorted(Path(__file__).resolve().parent.parent.glob("notebooks/*.ipynb"))
    for path in files:
        for index, number, context in markdown_numbers(path):
            print(f"{path.name} cell {index}: {number!r:>10}  …{context}…")


if __name__ == "__main__":
    main(sys.argv[1:])
