"""Checkpoints of a training run, written atomically, and the global random states they restore.

A checkpoint holds the ``state_dict()`` of every object in ``state`` (models, optimizers, samplers,
``torch.Generator`` objects), the :class:`course_lib.history.History`, the number of completed steps
and the global random states (torch, CUDA, NumPy, Python). It is written to a temporary file and
renamed into place, so an interrupted write never leaves a broken file.
"""

from __future__ import annotations

import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

from course_lib.history import History
from course_lib.runtime import shown_path

__all__ = ["load_checkpoint", "rng_states", "save_checkpoint", "set_rng_states", "state_of"]

CHECKPOINT_VERSION = 1


def state_of(obj):
    """What a checkpoint stores of ``obj``: ``obj.state_dict()``, or the state of a ``torch.Generator``."""
    if isinstance(obj, torch.Generator):
        return obj.get_state()
    if hasattr(obj, "state_dict"):
        return obj.state_dict()
    raise TypeError(
        f"cannot checkpoint an object of type {type(obj).__name__}: objects in `state` need "
        "state_dict()/load_state_dict() (models, optimizers, samplers) or be a torch.Generator"
    )


def _load_into(obj, saved) -> None:
    if isinstance(obj, torch.Generator):
        obj.set_state(saved)
    else:
        obj.load_state_dict(saved)


def rng_states() -> dict:
    """The global random states now: ``{"torch", "numpy", "python"}`` (and ``"cuda"`` once CUDA is in use)."""
    states = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    """Restore the global random states saved by :func:`rng_states`."""
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(
    path: str | os.PathLike,
    state: dict[str, object],
    history: History,
    step: int,
    rng: dict | None = None,
    saved_states: dict[str, object] | None = None,
) -> Path:
    """Atomically write ``{state_dicts, history, step, rng states}`` to ``path``.

    ``step`` is the number of completed steps (training resumes at this step). ``rng`` defaults
    to the current global random states; ``saved_states`` (name -> earlier state) replaces the
    current state of those objects.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "version": CHECKPOINT_VERSION,
        "step": int(step),
        "state": {name: state_of(obj) for name, obj in state.items()} | dict(saved_states or {}),
        "history": history.to_dict(),
        "rng": rng if rng is not None else rng_states(),
    }
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: str | os.PathLike, state: dict[str, object], restore_rng: bool = True) -> tuple[int, History]:
    """Load a checkpoint written by :func:`save_checkpoint` into the objects of ``state``.

    Returns ``(step, history)``. Tensors are mapped onto the devices of the objects they are
    loaded into (optimizers and models handle this themselves), so a checkpoint written on a GPU
    resumes on a CPU.
    """
    path = Path(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:
        raise RuntimeError(
            f"could not read checkpoint {shown_path(path)} ({type(err).__name__}: {err}). Delete the file or "
            "pass resume=False to start training from scratch."
        ) from err
    saved = payload["state"]
    missing = sorted(set(state) - set(saved))
    if missing:
        raise ValueError(
            f"checkpoint {shown_path(path)} has no entry for {missing} (it holds {sorted(saved)}). It was written "
            "by a different set-up: pass resume=False or use another checkpoint_path."
        )
    for name, obj in state.items():
        try:
            _load_into(obj, saved[name])
        except Exception as err:
            raise ValueError(
                f"checkpoint {shown_path(path)}: cannot load {name!r} ({type(err).__name__}: {err}). The model or "
                "optimizer changed since it was written: pass resume=False or use another checkpoint_path."
            ) from err
    if restore_rng and "rng" in payload:
        set_rng_states(payload["rng"])
    return int(payload["step"]), History.from_dict(payload["history"])
