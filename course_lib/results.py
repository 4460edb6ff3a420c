"""Headline numbers of each chapter, written as one small JSON file per chapter.

Chapters call :func:`save_results` at the end of a run; the wrap-up chapter and the README read them
back with :func:`load_results`, so comparison tables are never retyped by hand.
"""

from __future__ import annotations

import json
import math
import os
import platform
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import torch

from course_lib.runtime import get_budget, get_device, results_dir


def _jsonable(value):
    """Convert tensors, numpy scalars and non-finite floats into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, torch.Tensor):
        return _jsonable(value.tolist())
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    raise TypeError(f"cannot store {type(value).__name__} in a results file: {value!r}")


def save_results(chapter: str, results: dict, folder: Path | None = None) -> Path:
    """Write ``results`` for ``chapter`` (e.g. ``"02_maml"``) to ``<results_dir>/<chapter>.json``.

    The file also records the budget, device, torch version and UTC time. The write is atomic.
    """
    if not chapter or any(c in chapter for c in "/\\"):
        raise ValueError(f"chapter must be a plain name like '02_maml', got {chapter!r}")
    folder = Path(folder) if folder is not None else results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    record = {
        "chapter": chapter,
        "budget": get_budget(),
        "device": str(get_device()),
        "torch": torch.__version__,
        "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "results": _jsonable(results),
    }
    path = folder / f"{chapter}.json"
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{chapter}.", suffix=".tmp")
    with os.fdopen(fd, "w") as handle:
        json.dump(record, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)
    return path


def load_results(folder: Path | None = None) -> dict[str, dict]:
    """Read every ``<chapter>.json`` in the results folder: ``{chapter: record}``.

    Files that are not valid JSON are reported in the record as ``{"error": ...}`` instead of
    stopping the reader.
    """
    folder = Path(folder) if folder is not None else results_dir()
    records = {}
    for path in sorted(folder.glob("*.json")):
        try:
            records[path.stem] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as err:
            records[path.stem] = {"error": f"{path.name}: {err}"}
    return records


def flatten_results(records: dict[str, dict]) -> list[dict]:
    """One row per number: ``{"chapter", "metric", "value", "budget", "device", "written_at"}``.

    Nested dicts become dotted metric names (``"sinusoid.maml.mse_10_steps"``); lists of numbers
    are kept as one row each with an index (``"curve[3]"``) only when they hold at most 10 values,
    longer curves are left out of tables. Records that failed to load give one row with the error.
    """
    rows = []

    def walk(chapter, meta, prefix, value):
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(chapter, meta, f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list):
            if len(value) <= 10 and all(isinstance(v, (int, float)) or v is None for v in value):
                for i, sub in enumerate(value):
                    walk(chapter, meta, f"{prefix}[{i}]", sub)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            rows.append({"chapter": chapter, "metric": prefix, "value": value, **meta})

    for chapter, record in sorted(records.items()):
        if "error" in record:
            rows.append({"chapter": chapter, "metric": "error", "value": record["error"],
                         "budget": None, "device": None, "written_at": None})
            continue
        meta = {k: record.get(k) for k in ("budget", "device", "written_at")}
        walk(chapter, meta, "", record.get("results", {}))
    return rows
