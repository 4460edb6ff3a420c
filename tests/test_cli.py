"""`python -m course_lib doctor | data | list | run` (in-process, fixture data, no network; `run` on the mirror)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import course_lib.__main__ as cli
from course_lib.data import fetch, omniglot
from course_lib.data.fetch import RemoteFile
from course_lib.data.omniglot import CharacterSet
from course_lib.experiments import gbml as gx
from course_lib.experiments import registry

GOOD = b"good bytes" * 100
KEYS = ("set/a.bin", "set/b.bin", "set/large.bin")


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A data folder with fixture files registered in FILES, a cache folder, CPU, smoke budget."""
    data = tmp_path / "data"
    (data / "set").mkdir(parents=True)
    files = {
        KEYS[0]: RemoteFile(KEYS[0], "https://example.org/a.bin", hashlib.md5(GOOD).hexdigest()),
        KEYS[1]: RemoteFile(KEYS[1], "https://example.org/b.bin", hashlib.md5(GOOD).hexdigest()),
        KEYS[2]: RemoteFile(KEYS[2], "https://example.org/large.bin", "1" * 32, optional=True),
    }
    monkeypatch.setattr(fetch, "FILES", files)
    monkeypatch.setattr(fetch, "_sleep", lambda seconds: None)
    monkeypatch.setenv("COURSE_DATA_DIR", str(data))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    monkeypatch.setenv("COURSE_BUDGET", "smoke")
    (data / KEYS[0]).write_bytes(GOOD)
    return data


class FakeResponse(io.BytesIO):
    def __init__(self, body: bytes):
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body))}


def lines_of(capsys) -> dict[str, str]:
    out = capsys.readouterr().out
    return {line.split()[1]: line for line in out.splitlines() if line.startswith(("OK ", "PROBLEM "))}


def test_doctor_all_fine(env, capsys):
    assert cli.main(["doctor"]) == 0
    lines = lines_of(capsys)
    for name in ("python", "torch", "numpy", "matplotlib", "PIL", "tqdm", "ipywidgets", "torch", "device",
                 "budget", "data", "cache", *KEYS):
        assert name in lines, f"no line for {name}"
    assert all(line.startswith("OK") for line in lines.values())
    assert "cpu" in lines["device"] and "smoke" in lines["budget"]
    assert "fetched on first use" in lines[KEYS[1]] and fetch.fix_command(KEYS[1]) in lines[KEYS[1]]
    assert "only for the full" in lines[KEYS[2]]


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here, so requesting it is fine")
def test_doctor_cuda_requested_but_absent(env, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cuda")
    assert cli.main(["doctor"]) == 1
    line = lines_of(capsys)["device"]
    assert line.startswith("PROBLEM") and "COURSE_DEVICE=cuda" in line and "Unset COURSE_DEVICE" in line


def test_doctor_bad_budget_and_bad_device_name(env, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_BUDGET", "huge")
    monkeypatch.setenv("COURSE_DEVICE", "tpu")
    assert cli.main(["doctor"]) == 1
    lines = lines_of(capsys)
    assert lines["budget"].startswith("PROBLEM") and "smoke, standard, full" in lines["budget"]
    assert lines["device"].startswith("PROBLEM") and "'tpu'" in lines["device"]


def test_doctor_missing_required_package_optional_package(env, capsys, monkeypatch):
    missing = ("no_such_pkg_xyz", "x", "testing")
    monkeypatch.setattr(cli, "REQUIRED_PACKAGES", [*cli.REQUIRED_PACKAGES, missing])
    monkeypatch.setattr(cli, "OPTIONAL_PACKAGES", [("also_missing_xyz", "y", "extras", "lab")])
    assert cli.main(["doctor"]) == 1
    lines = lines_of(capsys)
    assert lines["no_such_pkg_xyz"].startswith("PROBLEM") and "pip install" in lines["no_such_pkg_xyz"]
    assert lines["also_missing_xyz"].startswith("OK") and "optional" in lines["also_missing_xyz"]


def test_doctor_corrupt_file_and_read_only_mirror(env, capsys, monkeypatch):
    (env / KEYS[0]).write_bytes(GOOD[:-1])
    monkeypatch.setattr(fetch, "is_writable", lambda folder: False)
    assert cli.main(["doctor"]) == 1
    lines = lines_of(capsys)
    assert lines[KEYS[0]].startswith("PROBLEM") and "corrupt" in lines[KEYS[0]]
    assert hashlib.md5(GOOD[:-1]).hexdigest() in lines[KEYS[0]]
    assert fetch.fix_command(KEYS[0]) in lines[KEYS[0]]
    assert lines[KEYS[1]].startswith("PROBLEM") and "read-only" in lines[KEYS[1]]
    assert lines[KEYS[2]].startswith("OK")  # optional files may be absent from a mirror
    assert "read-only" in lines["data"]


def test_doctor_data_dir_typo_and_unwritable_cache(env, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "no-such-mirror"))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(blocker / "cache"))
    assert cli.main(["doctor"]) == 1
    lines = lines_of(capsys)
    assert lines["data"].startswith("PROBLEM") and "does not exist" in lines["data"]
    assert lines["cache"].startswith("PROBLEM") and "COURSE_CACHE_DIR" in lines["cache"]


def test_data_lists_each_file_with_url_and_fix(env, capsys):
    (env / KEYS[1]).write_bytes(b"tampered")
    assert cli.main(["data"]) == 1  # a corrupt file is a problem
    out = capsys.readouterr().out
    assert f"OK       {KEYS[0]}" in out
    assert f"CORRUPT  {KEYS[1]}" in out and hashlib.md5(b"tampered").hexdigest() in out
    assert f"MISSING  {KEYS[2]}" in out
    for key in KEYS:
        assert fetch.FILES[key].url in out
    assert fetch.fix_command(KEYS[1]) in out and fetch.fix_command(KEYS[2]) in out


def test_data_download_replaces_corrupt_and_missing_files(env, capsys, monkeypatch):
    (env / KEYS[1]).write_bytes(b"tampered")
    served = []

    def fake_open(url, timeout):
        served.append(url)
        return FakeResponse(GOOD)

    monkeypatch.setattr(fetch, "_open", fake_open)
    assert cli.main(["data", "--download", KEYS[0], KEYS[1]]) == 0
    assert served == ["https://example.org/b.bin"]  # the verified file is not fetched again
    assert (env / KEYS[1]).read_bytes() == GOOD
    out = capsys.readouterr().out
    assert f"{KEYS[0]}: already present" in out and f"{KEYS[1]}: downloaded" in out


def test_data_download_all_reports_failures(env, capsys, monkeypatch):
    monkeypatch.setattr(fetch, "_open", lambda url, timeout: FakeResponse(GOOD))
    assert cli.main(["data", "--download", "all"]) == 1  # large.bin's md5 never matches
    captured = capsys.readouterr()
    assert f"{KEYS[2]}: FAILED" in captured.err and "1" * 32 in captured.err
    assert (env / KEYS[1]).read_bytes() == GOOD and not (env / KEYS[2]).exists()


def test_data_download_unknown_key(env, capsys):
    assert cli.main(["data", "--download", "nope.zip"]) == 2
    err = capsys.readouterr().err
    assert "nope.zip" in err and KEYS[0] in err


def test_module_entry_point_exits_with_the_status(env, capsys, monkeypatch):
    monkeypatch.setenv("COURSE_BUDGET", "bogus")
    monkeypatch.setattr(sys, "argv", ["python -m course_lib", "doctor"])
    monkeypatch.delitem(sys.modules, "course_lib.__main__")  # run it afresh, as `python -m` does
    with pytest.raises(SystemExit) as info:
        runpy.run_module("course_lib", run_name="__main__")
    assert info.value.code == 1 and "PROBLEM  budget" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# `list` and `run`: headless experiments (the real chapter code on the offline mirror, smoke budget)
# --------------------------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[1]
MIRROR = Path(os.environ.get("COURSE_DATA_DIR", ROOT / "data"))


@pytest.fixture
def headless(tmp_path, monkeypatch):
    """Own cache and results folders, CPU, one thread, the data mirror CI uses."""
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    monkeypatch.setenv("COURSE_BUDGET", "standard")  # `--budget smoke` must win over it
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield tmp_path
    torch.set_num_threads(threads)


def test_run_help_names_the_options_and_torchrun(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert info.value.code == 0
    for word in ("--budget", "--device", "--set", "--results-dir", "torchrun --nproc_per_node"):
        assert word in out


def test_list_names_every_experiment_with_a_time_per_budget(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    for name, experiment in registry.EXPERIMENTS.items():
        assert name in out and experiment.chapter in out
        assert set(experiment.expected) == {"smoke", "standard", "full"}
        for expected in experiment.expected.values():
            assert expected in out
    assert {"maml-sinusoid", "reptile-omniglot", "protonet-omniglot"} <= set(registry.EXPERIMENTS)


def test_run_rejects_unknown_experiments_and_malformed_settings(headless, capsys):
    assert cli.main(["run", "mamal-sinusoid", "--budget", "smoke"]) == 2
    assert "maml-sinusoid" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["run", "maml-sinusoid", "--set", "meta_batch_size"])
    assert "KEY=VALUE" in capsys.readouterr().err
    assert cli._setting("meta_lr=1e-3") == ("meta_lr", 0.001) and cli._setting("x=adam") == ("x", "adam")


def test_run_maml_sinusoid_smoke_writes_results_and_the_notebooks_checkpoint(headless, capsys):
    results = headless / "results"
    assert cli.main(["run", "maml-sinusoid", "--budget", "smoke", "--results-dir", str(results),
                     "--no-progress"]) == 0
    record = json.loads((results / "run-maml-sinusoid.json").read_text())
    assert record["budget"] == "smoke" and record["results"]["world_size"] == 1
    out = record["results"]
    assert out["meta_steps"] == 1200 and out["settings"]["meta_batch_size"] == 25
    mse = out["test_mse_5shot_600tasks"]
    assert mse["10"][0] < mse["0"][0]  # adaptation helps after meta-training
    # chapter 02's own call finds the finished run: it reloads, it does not train
    capsys.readouterr()
    reloaded = gx.train_sinusoid("maml", 1200, device="cpu", progress=False)
    assert "loaded the finished run" in capsys.readouterr().out
    assert len(reloaded.history.steps) == 1200


def test_interrupted_run_resumes_where_it_stopped(headless, monkeypatch, capsys):
    results = headless / "results"
    args = ["run", "fomaml-sinusoid", "--budget", "smoke", "--results-dir", str(results), "--no-progress",
            "--set", "meta_batch_size=5"]
    original, calls = gx._meta_step, []

    def stops_at_step_100(*a, **k):
        calls.append(1)
        if len(calls) == 101:
            raise KeyboardInterrupt
        return original(*a, **k)

    monkeypatch.setattr(gx, "_meta_step", stops_at_step_100)
    assert cli.main(args) == 0
    assert "interrupted at step 100 of 300" in capsys.readouterr().out
    monkeypatch.setattr(gx, "_meta_step", original)
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "resuming from" in out and "at step 100 of 300" in out
    resumed = torch.load(next((headless / "cache" / "checkpoints").glob("*.pt")), weights_only=False)
    assert resumed["step"] == 300
    # the same run without interruption ends in the same parameters
    monkeypatch.setenv("COURSE_CACHE_DIR", str(headless / "cache-straight"))
    assert cli.main(args) == 0
    straight = torch.load(next((headless / "cache-straight" / "checkpoints").glob("*.pt")), weights_only=False)
    for name, value in straight["state"]["model"].items():
        assert torch.equal(value, resumed["state"]["model"][name]), name


def test_torchrun_two_processes_run_and_write_once(headless):
    """The torchrun variant: 2 gloo processes share each meta-batch of 24 tasks; rank 0 writes the results."""
    results = headless / "results"
    env = dict(os.environ, OMP_NUM_THREADS="1", COURSE_DATA_DIR=str(MIRROR))
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "course_lib", "run", "maml-sinusoid", "--budget", "smoke", "--set", "meta_batch_size=24",
               "--results-dir", str(results), "--no-progress"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    record = json.loads((results / "run-maml-sinusoid.json").read_text())["results"]
    assert record["world_size"] == 2 and record["settings"]["meta_batch_size"] == 24
    assert record["test_mse_5shot_600tasks"]["10"][0] < record["test_mse_5shot_600tasks"]["0"][0]
    assert done.stdout.count("results written to") == 1
    files = sorted(p.name for p in (headless / "cache" / "checkpoints").iterdir())
    assert len(files) == 2 and sum(".rank1." in f for f in files) == 1
    # a meta-batch that does not divide among the processes stops with the explanation
    odd = [arg if arg != "meta_batch_size=24" else "meta_batch_size=25" for arg in command]
    bad = subprocess.run(odd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode != 0 and "does not divide among 2 processes" in bad.stdout + bad.stderr


def synthetic_pool(name: str, count: int, offset: int) -> CharacterSet:
    images = torch.arange(offset, offset + count, dtype=torch.float32)[:, None, None, None].expand(count, 2, 3, 3)
    return CharacterSet(images.clone(), [f"{name}-alphabet"] * count, [f"{name}/c{i}" for i in range(count)], name)


def test_full_budget_uses_the_papers_1200_character_split(monkeypatch):
    sizes = {"background": (964, 0), "evaluation": (659, 964)}
    monkeypatch.setattr(omniglot, "load_omniglot", lambda subset, **kw: synthetic_pool(subset, *sizes[subset]))
    train, test = omniglot.omniglot_split("full", progress=False)
    assert (len(train), len(test)) == (1200, 423)
    ids = torch.cat([train.images[:, 0, 0, 0], test.images[:, 0, 0, 0]])
    assert sorted(ids.tolist()) == list(range(1623))  # every character once, on one side only
    assert {a for a in test.alphabets} == {"background-alphabet", "evaluation-alphabet"}
    again, _ = omniglot.load_paper_split(progress=False)
    assert torch.equal(again.images, train.images)  # seeded: the same split every time
    with pytest.raises(ValueError, match="num_train"):
        omniglot.load_paper_split(1623, progress=False)
