"""Runtime set-up shared by every chapter: device, seeds, budget, folders, and the banner.

Everything that depends on the machine or on environment variables is decided here, so that the
notebooks and the algorithms stay free of such details.

Environment variables
---------------------
COURSE_BUDGET     ``smoke`` | ``standard`` (default) | ``full`` — scales iteration counts only.
COURSE_DEVICE     ``cpu`` | ``cuda`` | ``cuda:1`` | ``mps`` — overrides the automatic choice.
COURSE_DATA_DIR   folder holding (or receiving) the raw downloads; may be a read-only mirror.
COURSE_CACHE_DIR  writable folder for processed arrays, checkpoints and results.
"""

from __future__ import annotations

import os
import platform
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

BUDGETS = ("smoke", "standard", "full")
_HOME_CACHE = Path.home() / ".cache" / "meta-learning-hands-on"


def get_budget() -> str:
    """Return the compute budget named by ``COURSE_BUDGET`` (default ``standard``)."""
    value = os.environ.get("COURSE_BUDGET", "standard").strip().lower() or "standard"
    if value not in BUDGETS:
        raise ValueError(
            f"COURSE_BUDGET={value!r} is not a budget. Use one of {', '.join(BUDGETS)}, e.g. "
            "`COURSE_BUDGET=smoke make lab` for a quick run, or unset it for the default 'standard'."
        )
    return value


def by_budget(smoke, standard, full):
    """Pick the value that matches the current budget, e.g. ``by_budget(200, 5_000, 70_000)``."""
    return {"smoke": smoke, "standard": standard, "full": full}[get_budget()]


def get_device(name: str | None = None) -> torch.device:
    """Choose the device: ``name`` if given, else ``COURSE_DEVICE``, else CUDA > Apple MPS > CPU.

    Raises a RuntimeError with a fix when the requested accelerator is not available.
    """
    requested = name or os.environ.get("COURSE_DEVICE", "").strip()
    if not requested:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as err:
        raise ValueError(
            f"COURSE_DEVICE={requested!r} is not a device name. Use 'cpu', 'cuda', 'cuda:0' or 'mps'."
        ) from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(
            f"Device {requested!r} was requested but this PyTorch build sees no CUDA GPU "
            f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}). "
            "Unset COURSE_DEVICE to run on the CPU, or install a CUDA build of PyTorch."
        )
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise RuntimeError(
            f"Device {requested!r} was requested but only {torch.cuda.device_count()} GPU(s) exist."
        )
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise RuntimeError(
            f"Device {requested!r} was requested but Apple MPS is not available here. "
            "Unset COURSE_DEVICE to run on the CPU."
        )
    return device


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (all devices); return a CPU ``torch.Generator`` seeded alike."""
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def _project_root() -> Path | None:
    """The checkout's root when course_lib is used from a clone (editable install), else None."""
    root = Path(__file__).resolve().parent.parent
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def data_dir() -> Path:
    """Folder of the raw dataset files (``COURSE_DATA_DIR``, else ``<repo>/data``)."""
    env = os.environ.get("COURSE_DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    root = _project_root()
    return root / "data" if root else _HOME_CACHE / "data"


def cache_dir() -> Path:
    """Writable folder for processed arrays and checkpoints (``COURSE_CACHE_DIR``, else ``<repo>/data/cache``)."""
    env = os.environ.get("COURSE_CACHE_DIR")
    root = _project_root()
    path = Path(env).expanduser() if env else (root / "data" / "cache" if root else _HOME_CACHE / "cache")
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def results_dir() -> Path:
    """Folder where chapters write their headline numbers (``<repo>/results`` in a checkout)."""
    root = _project_root()
    path = root / "results" if root else cache_dir() / "results"
    path.mkdir(parents=True, exist_ok=True)
    return path


def configure_threads() -> int:
    """Use every physical core for intra-op parallelism unless the user set ``OMP_NUM_THREADS``."""
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(max(1, os.cpu_count() or 1))
    return torch.get_num_threads()


@dataclass(frozen=True)
class RuntimeInfo:
    """What ``setup()`` decided; notebooks pass ``info.device`` around."""

    device: torch.device
    budget: str
    seed: int
    data_dir: Path
    threads: int


def enable_hosted_widgets() -> bool:
    """On Colab, turn on its custom widget manager (ipywidgets 8 does not render without it).

    Returns True if it did so; elsewhere (JupyterLab, classic Notebook, plain Python) it does nothing.
    """
    if "google.colab" not in sys.modules:
        return False
    from google.colab import output  # available exactly when running on Colab

    output.enable_custom_widget_manager()
    return True


def setup(seed: int = 0, device: str | None = None, quiet: bool = False) -> RuntimeInfo:
    """Seed everything, pick the device and budget, and print one banner line.

    Returns a :class:`RuntimeInfo`. Call it in the first code cell of every chapter.
    """
    budget = get_budget()
    dev = get_device(device)
    threads = configure_threads()
    enable_hosted_widgets()
    seed_everything(seed)
    info = RuntimeInfo(device=dev, budget=budget, seed=seed, data_dir=data_dir(), threads=threads)
    if not quiet:
        accel = ""
        if dev.type == "cuda":
            accel = f" ({torch.cuda.get_device_name(dev)})"
        print(
            f"course_lib | Python {platform.python_version()} | torch {torch.__version__} | "
            f"device {dev}{accel} | {threads} CPU threads | budget {budget} | seed {seed} | "
            f"data {info.data_dir}"
        )
    return info
