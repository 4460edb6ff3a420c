from pathlib import Path

import pytest
import torch

from course_lib import runtime


def test_budget_default_and_values(monkeypatch):
    monkeypatch.delenv("COURSE_BUDGET", raising=False)
    assert runtime.get_budget() == "standard"
    for name in runtime.BUDGETS:
        monkeypatch.setenv("COURSE_BUDGET", name.upper())
        assert runtime.get_budget() == name
    monkeypatch.setenv("COURSE_BUDGET", "smoke")
    assert runtime.by_budget(1, 2, 3) == 1
    monkeypatch.setenv("COURSE_BUDGET", "full")
    assert runtime.by_budget(1, 2, 3) == 3


def test_bad_budget_names_the_fix(monkeypatch):
    monkeypatch.setenv("COURSE_BUDGET", "quick")
    with pytest.raises(ValueError, match="smoke, standard, full"):
        runtime.get_budget()


def test_device_override_and_errors(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    assert runtime.get_device() == torch.device("cpu")
    assert runtime.get_device("cpu").type == "cpu"
    monkeypatch.setenv("COURSE_DEVICE", "not-a-device")
    with pytest.raises(ValueError, match="not a device"):
        runtime.get_device()
    if not torch.cuda.is_available():
        monkeypatch.setenv("COURSE_DEVICE", "cuda")
        with pytest.raises(RuntimeError, match="no CUDA GPU"):
            runtime.get_device()


def test_automatic_device_choice(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if torch.backends.mps.is_available() else "cpu")
    assert runtime.get_device().type == expected


def test_seed_everything_is_reproducible():
    g1 = runtime.seed_everything(7)
    a = torch.rand(3), torch.rand(3, generator=g1)
    g2 = runtime.seed_everything(7)
    b = torch.rand(3), torch.rand(3, generator=g2)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError):
        runtime.seed_everything(-1)


def test_folders_follow_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    assert runtime.data_dir() == (tmp_path / "mirror").resolve()
    assert runtime.cache_dir() == (tmp_path / "cache").resolve()
    assert runtime.cache_dir().is_dir()


def test_setup_prints_a_two_line_banner(monkeypatch, capsys, tmp_path):
    monkeypatch.setenv("COURSE_BUDGET", "smoke")
    monkeypatch.setenv("COURSE_DEVICE", "cpu")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "mirror"))
    monkeypatch.delenv("COURSE_THREADS", raising=False)
    info = runtime.setup(seed=3)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2 and "budget smoke" in out[0] and "device cpu" in out[0] and "torch" in out[0]
    assert f"torch uses {info.threads} of {runtime.available_cores()} CPU cores" in out[1]
    assert "COURSE_THREADS" in out[1] or runtime.available_cores() == 1
    assert out[1].endswith("data: $COURSE_DATA_DIR/") and str(tmp_path) not in "".join(out)
    assert info.budget == "smoke" and info.seed == 3 and info.device.type == "cpu"


@pytest.fixture
def restore_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_course_threads_is_honoured_and_checked(monkeypatch, restore_threads):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("COURSE_THREADS", "2")
    assert runtime.configure_threads() == 2 == torch.get_num_threads()
    monkeypatch.setenv("COURSE_THREADS", "1")
    assert runtime.setup(quiet=True).threads == 1 == torch.get_num_threads()
    for bad in ("0", "two", "-1"):
        monkeypatch.setenv("COURSE_THREADS", bad)
        with pytest.raises(ValueError, match="positive integer"):
            runtime.configure_threads()


def test_without_course_threads_every_available_core_is_used(monkeypatch, restore_threads):
    monkeypatch.delenv("COURSE_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert runtime.configure_threads() == runtime.available_cores()
    torch.set_num_threads(1)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # set by the user: left to torch
    assert runtime.configure_threads() == 1


def test_shown_paths_are_relative_to_the_course_folders(monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "mirror"))
    assert runtime.shown_path(tmp_path / "cache" / "ch05" / "run.pt") == "$COURSE_CACHE_DIR/ch05/run.pt"
    assert runtime.shown_path(tmp_path / "mirror") == "$COURSE_DATA_DIR"
    assert runtime.shown_path(Path.home() / "notes" / "x.txt") == "~/notes/x.txt"
    monkeypatch.delenv("COURSE_CACHE_DIR")
    monkeypatch.delenv("COURSE_DATA_DIR")
    root = Path(runtime.__file__).resolve().parent.parent
    assert runtime.shown_path(root / "data" / "cache" / "ch05" / "run.pt") == "data/cache/ch05/run.pt"
    assert runtime.shown_path("/nowhere/run.pt") == "/nowhere/run.pt"  # outside every course folder


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_device_runs_a_conv(monkeypatch):
    monkeypatch.delenv("COURSE_DEVICE", raising=False)
    device = runtime.get_device()
    x = torch.randn(2, 1, 28, 28, device=device)
    y = torch.nn.Conv2d(1, 4, 3).to(device)(x)
    assert y.is_cuda


def test_hosted_widgets_only_on_colab(monkeypatch):
    import sys
    import types

    from course_lib.runtime import enable_hosted_widgets

    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert enable_hosted_widgets() is False
    calls = []
    output = types.SimpleNamespace(enable_custom_widget_manager=lambda: calls.append(1))
    colab = types.ModuleType("google.colab")
    colab.output = output
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    assert enable_hosted_widgets() is True and calls == [1]
