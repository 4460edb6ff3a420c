"""`python -m course_lib doctor` and `python -m course_lib data` (in-process, fixture data, no network)."""

from __future__ import annotations

import hashlib
import io
import runpy
import sys

import pytest
import torch

import course_lib.__main__ as cli
from course_lib.data import fetch
from course_lib.data.fetch import RemoteFile

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
