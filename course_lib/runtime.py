"""Runtime set-up shared by every chapter: device, seeds, budget, folders, and the banner.

Everything that depends on the machine or on environment variables is decided here, so that the
notebooks and the algorithms stay free of such details.

Environment variables
---------------------
COURSE_BUDGET     ``smoke`` | ``standard`` (default) | ``full`` — scales iteration counts only.
COURSE_DEVICE     ``cpu`` | ``cuda`` | ``cuda:1`` | ``mps`` — overrides the automatic choice.
COURSE_DATA_DIR   folder holding (or receiving) the raw downloads; may be a read-only mirror.
COURSE_CACHE_DIR  writable folder for processed arrays, checkpoints and results.
COURSE_THREADS    number of CPU threads PyTorch may use (default: ``OMP_NUM_THREADS`` if set, else
                  every core this process may run on). Fewer threads help on a shared machine.
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

from course_lib.i18n import tr

BUDGETS = ("smoke", "standard", "full")
_HOME_CACHE = Path.home() / ".cache" / "meta-learning-hands-on"


def get_budget() -> str:
    """Return the compute budget named by ``COURSE_BUDGET`` (default ``standard``)."""
    value = os.environ.get("COURSE_BUDGET", "standard").strip().lower() or "standard"
    if value not in BUDGETS:
        raise ValueError(tr(
            "COURSE_BUDGET={value!r} is not a budget. Use one of {budgets}, e.g. "
            "`COURSE_BUDGET=smoke make lab` for a quick run, or unset it for the default 'standard'.",
            value=value, budgets=", ".join(BUDGETS)))
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
        raise ValueError(tr(
            "COURSE_DEVICE={requested!r} is not a device name. Use 'cpu', 'cuda', 'cuda:0' or 'mps'.",
            requested=requested)) from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(tr(
            "Device {requested!r} was requested but this PyTorch build sees no CUDA GPU "
            "(torch {torch}, CUDA build: {cuda}). "
            "Unset COURSE_DEVICE to run on the CPU, or install a CUDA build of PyTorch.",
            requested=requested, torch=torch.__version__, cuda=torch.version.cuda or "no"))
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise RuntimeError(tr(
            "Device {requested!r} was requested but only {count} GPU(s) exist.",
            requested=requested, count=torch.cuda.device_count()))
    if device.type == "mps" and not (
        getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    ):
        raise RuntimeError(tr(
            "Device {requested!r} was requested but Apple MPS is not available here. "
            "Unset COURSE_DEVICE to run on the CPU.", requested=requested))
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


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, e.g. in a container)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def configure_threads() -> int:
    """Set PyTorch's intra-op threads: ``COURSE_THREADS``, else ``OMP_NUM_THREADS``, else every core.

    Returns the number of threads in use. Raises a ValueError with a fix when ``COURSE_THREADS`` is
    not a positive integer.
    """
    value = os.environ.get("COURSE_THREADS", "").strip()
    if value:
        if not value.isdigit() or int(value) < 1:
            raise ValueError(tr(
                "COURSE_THREADS={value!r} is not a number of threads. Use a positive integer, e.g. "
                "`COURSE_THREADS=2 make lab`, or unset it to use every core.", value=value))
        torch.set_num_threads(int(value))
    elif "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(available_cores())
    return torch.get_num_threads()


def path_aliases() -> list[tuple[Path, str]]:
    """``(folder, how outputs show it)`` pairs, the longest folder first.

    The cache and data folders are shown as ``$COURSE_CACHE_DIR`` / ``$COURSE_DATA_DIR`` when those
    variables set them, the checkout as ``.`` and the home folder as ``~``.
    """
    pairs = []
    if os.environ.get("COURSE_CACHE_DIR"):
        pairs.append((cache_dir(), "$COURSE_CACHE_DIR"))
    if os.environ.get("COURSE_DATA_DIR"):
        pairs.append((data_dir(), "$COURSE_DATA_DIR"))
    root = _project_root()
    if root:
        pairs.append((root, "."))
    home = Path.home().resolve()
    if home != Path(home.anchor):
        pairs.append((home, "~"))
    return sorted(pairs, key=lambda pair: len(str(pair[0])), reverse=True)


def shown_path(path: str | os.PathLike) -> str:
    """``path`` as the course prints it: relative to the cache, data, checkout or home folder.

    E.g. ``data/cache/ch05/protonet.pt`` in a checkout, ``$COURSE_CACHE_DIR/ch05/protonet.pt`` when
    ``COURSE_CACHE_DIR`` is set; a path outside all of them is returned unchanged.
    """
    path = Path(path).expanduser()
    absolute = path.resolve() if path.is_absolute() or path.exists() else path
    for folder, alias in path_aliases():
        if absolute == folder or folder in absolute.parents:
            relative = absolute.relative_to(folder).as_posix()
            if alias == ".":
                return relative
            return alias if relative == "." else f"{alias}/{relative}"
    return str(path)


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


def banner(info: RuntimeInfo) -> str:
    """The two lines ``setup()`` prints: versions, device, budget and seed; threads and data folder."""
    dev = info.device
    accel = f" ({torch.cuda.get_device_name(dev)})" if dev.type == "cuda" else ""
    cores = available_cores()
    if info.threads > 1:
        hint = tr(" (fewer: COURSE_THREADS={n} make lab)", n=info.threads // 2)
    else:
        hint = tr(" (more: COURSE_THREADS={n} make lab)", n=cores) if cores > 1 else ""
    return (
        tr("course_lib | Python {python} | torch {torch} | device {device}{accel} | budget {budget} | seed {seed}",
           python=platform.python_version(), torch=torch.__version__, device=dev, accel=accel, budget=info.budget,
           seed=info.seed)
        + "\n"
        + tr("threads: torch uses {threads} of {cores} CPU cores{hint} | data: {data}/", threads=info.threads,
             cores=cores, hint=hint, data=shown_path(info.data_dir))
    )


def setup(seed: int = 0, device: str | None = None, quiet: bool = False) -> RuntimeInfo:
    """Seed everything, pick the device, budget and CPU threads, and print a two-line banner.

    Returns a :class:`RuntimeInfo`. Call it in the first code cell of every chapter.
    """
    budget = get_budget()
    dev = get_device(device)
    threads = configure_threads()
    enable_hosted_widgets()
    seed_everything(seed)
    info = RuntimeInfo(device=dev, budget=budget, seed=seed, data_dir=data_dir(), threads=threads)
    if not quiet:
        print(banner(info))
    return info
