import json

import pytest
import torch

from course_lib.results import flatten_results, load_results, save_results


def test_round_trip_records_budget_and_device(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_BUDGET", "smoke")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    path = save_results("02_maml", {"mse": torch.tensor(0.5), "curve": [1.0, float("nan")]}, folder=tmp_path)
    assert path.name == "02_maml.json"
    record = load_results(tmp_path)["02_maml"]
    assert record["budget"] == "smoke" and record["device"] == "cpu"
    assert record["results"] == {"mse": 0.5, "curve": [1.0, None]}
    assert not list(tmp_path.glob(".*.tmp")), "temporary file left behind"


def test_reader_reports_broken_files(tmp_path):
    (tmp_path / "03_reptile.json").write_text("{not json")
    assert "error" in load_results(tmp_path)["03_reptile"]


def test_bad_inputs(tmp_path):
    with pytest.raises(ValueError):
        save_results("../evil", {}, folder=tmp_path)
    with pytest.raises(TypeError, match="cannot store"):
        save_results("01_x", {"model": object()}, folder=tmp_path)
    assert json.loads(json.dumps(load_results(tmp_path))) == {}


def test_flatten_results_names_nested_numbers(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_BUDGET", "standard")
    save_results("05_metric", {"protonet": {"5way1shot": 0.97, "ci": 0.004}, "curve": list(range(20)),
                               "steps": [1, 5], "note": "text"}, folder=tmp_path)
    (tmp_path / "06_broken.json").write_text("{")
    rows = flatten_results(load_results(tmp_path))
    metrics = {(r["chapter"], r["metric"]): r["value"] for r in rows}
    assert metrics[("05_metric", "protonet.5way1shot")] == 0.97
    assert metrics[("05_metric", "steps[1]")] == 5
    assert not any(m.startswith("curve") for _, m in metrics), "long curves stay out of tables"
    assert ("05_metric", "note") not in metrics
    assert metrics[("06_broken", "error")].startswith("06_broken.json")
    assert all(r["budget"] == "standard" for r in rows if r["chapter"] == "05_metric")
