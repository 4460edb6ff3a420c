"""One meta-training loop for every chapter: progress bar, history, checkpoints, NaN guard.

The algorithm-specific work lives in a ``step_fn(step) -> dict`` that performs one meta-update
(sample a task batch, adapt, compute the outer loss, step the optimizer) and returns numbers such
as ``{"loss": 0.41, "acc": 0.87}``. :func:`train_loop` calls it ``num_steps`` times and takes care
of everything around it::

    def step_fn(step):
        batch = sampler.sample_batch(meta_batch_size).to(device)
        loss, acc = maml_outer_loss(model, batch, ...)
        optimizer.zero_grad(); loss.backward(); optimizer.step()
        return {"loss": loss.item(), "acc": acc}

    history = train_loop(step_fn, 2000, state={"model": model, "optimizer": optimizer, "sampler": sampler},
                         checkpoint_path=cache_dir() / "ch02_maml.pt")
    history.plot()

* **Checkpoints** hold the ``state_dict()`` of every object in ``state`` (models, optimizers,
  samplers, ``torch.Generator`` objects), the history, the step and the global random states. They
  are written atomically (temporary file + rename), so an interrupted write never leaves a broken
  file. With ``resume=True`` an existing checkpoint is loaded and training continues at its step;
  a resumed run ends in the same state as an uninterrupted one.
* **Interrupting** (Jupyter's stop button, Ctrl-C) ends the loop cleanly: the checkpoint is
  written, ``history.interrupted`` is True and the history is returned.
* **Non-finite loss** raises :class:`NonFiniteLossError` naming the step, with the usual fixes.
"""

from __future__ import annotations

import copy
import math
import os
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

__all__ = ["History", "NonFiniteLossError", "load_checkpoint", "save_checkpoint", "train_loop"]

CHECKPOINT_VERSION = 1


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite. ``.step`` and ``.history`` (up to the previous step) are attached."""

    def __init__(self, message: str, step: int, history: History) -> None:
        super().__init__(message)
        self.step = step
        self.history = history


class History:
    """What happened during training.

    Attributes
    ----------
    steps : list[int]                       the training steps recorded (0-based)
    records : dict[str, list[float]]        per-step values returned by ``step_fn``, aligned with
                                            ``steps`` (NaN where a step did not report a key)
    eval_steps : list[int]                  steps after which ``eval_fn`` ran
    eval_records : dict[str, list[float]]   its values, aligned with ``eval_steps``
    interrupted : bool                      True if training was stopped by KeyboardInterrupt
    wall_time : float                       seconds spent in the loop (summed over resumed runs)
    """

    def __init__(self) -> None:
        self.steps: list[int] = []
        self.records: dict[str, list[float]] = {}
        self.eval_steps: list[int] = []
        self.eval_records: dict[str, list[float]] = {}
        self.interrupted = False
        self.wall_time = 0.0

    # -- recording -------------------------------------------------------------------------------
    @staticmethod
    def _append(steps: list[int], records: dict[str, list[float]], step: int, values: dict) -> None:
        for key in values:
            if key not in records:
                records[key] = [math.nan] * len(steps)
        steps.append(int(step))
        for key, column in records.items():
            column.append(float(values[key]) if key in values else math.nan)

    def log(self, step: int, values: dict[str, float]) -> None:
        """Record the values of one training step."""
        self._append(self.steps, self.records, step, values)

    def log_eval(self, step: int, values: dict[str, float]) -> None:
        """Record evaluation results obtained after ``step``."""
        self._append(self.eval_steps, self.eval_records, step, values)

    # -- reading ---------------------------------------------------------------------------------
    def __getitem__(self, key: str) -> list[float]:
        """``history["loss"]``: a training record, else the evaluation record of that name."""
        if key in self.records:
            return self.records[key]
        if key in self.eval_records:
            return self.eval_records[key]
        raise KeyError(
            f"{key!r} was not recorded; training keys: {sorted(self.records)}, "
            f"evaluation keys: {sorted(self.eval_records)}"
        )

    def __len__(self) -> int:
        return len(self.steps)

    def last(self, key: str, window: int = 1) -> float:
        """Mean of the last ``window`` finite values of ``key``."""
        values = [v for v in self[key] if math.isfinite(v)][-window:]
        if not values:
            raise ValueError(f"no finite value recorded for {key!r}")
        return float(np.mean(values))

    def smoothed(self, key: str, window: int | None = None) -> np.ndarray:
        """Moving average of a training record (window: about 1/20 of the run by default)."""
        values = np.asarray(self.records[key], dtype=float)
        window = window or max(1, len(values) // 20)
        return _moving_average(values, window)

    def to_dict(self) -> dict:
        return {
            "steps": list(self.steps),
            "records": {k: list(v) for k, v in self.records.items()},
            "eval_steps": list(self.eval_steps),
            "eval_records": {k: list(v) for k, v in self.eval_records.items()},
            "interrupted": self.interrupted,
            "wall_time": self.wall_time,
        }

    @classmethod
    def from_dict(cls, data: dict) -> History:
        history = cls()
        history.steps = list(data["steps"])
        history.records = {k: list(v) for k, v in data["records"].items()}
        history.eval_steps = list(data.get("eval_steps", []))
        history.eval_records = {k: list(v) for k, v in data.get("eval_records", {}).items()}
        history.interrupted = bool(data.get("interrupted", False))
        history.wall_time = float(data.get("wall_time", 0.0))
        return history

    def plot(self, keys=None, window: int | None = None, ax=None):
        """Smoothed learning curves (raw values faint); see :func:`course_lib.plots.plot_history`.

        Returns the Figure; in a notebook end the line with ``;`` (``history.plot();``) so that
        Jupyter does not show it twice.
        """
        from course_lib.plots import plot_history

        return plot_history(self, keys=keys, window=window, ax=ax)

    def __repr__(self) -> str:
        parts = [f"{len(self.steps)} steps"]
        for key in self.records:
            try:
                parts.append(f"{key}={self.last(key, window=max(1, len(self.steps) // 20)):.4g}")
            except ValueError:
                pass
        for key, column in self.eval_records.items():
            finite = [v for v in column if math.isfinite(v)]
            if finite:
                parts.append(f"eval {key}={finite[-1]:.4g}")
        if self.interrupted:
            parts.append("interrupted")
        return f"History({', '.join(parts)})"


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over up to ``window`` previous finite values (same length as ``values``)."""
    finite = np.isfinite(values)
    v = np.where(finite, values, 0.0)
    csum = np.concatenate([[0.0], np.cumsum(v)])
    ccount = np.concatenate([[0], np.cumsum(finite)])
    idx = np.arange(1, len(values) + 1)
    lo = np.maximum(idx - window, 0)
    count = ccount[idx] - ccount[lo]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, (csum[idx] - csum[lo]) / np.maximum(count, 1), np.nan)


def _finite_mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


# -- checkpoints ----------------------------------------------------------------------------------
def _state_of(obj):
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


def _rng_states() -> dict:
    states = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict) -> None:
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
        "state": {name: _state_of(obj) for name, obj in state.items()} | dict(saved_states or {}),
        "history": history.to_dict(),
        "rng": rng if rng is not None else _rng_states(),
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
            f"could not read checkpoint {path} ({type(err).__name__}: {err}). Delete the file or "
            "pass resume=False to start training from scratch."
        ) from err
    saved = payload["state"]
    missing = sorted(set(state) - set(saved))
    if missing:
        raise ValueError(
            f"checkpoint {path} has no entry for {missing} (it holds {sorted(saved)}). It was written "
            "by a different set-up: pass resume=False or use another checkpoint_path."
        )
    for name, obj in state.items():
        try:
            _load_into(obj, saved[name])
        except Exception as err:
            raise ValueError(
                f"checkpoint {path}: cannot load {name!r} ({type(err).__name__}: {err}). The model or "
                "optimizer changed since it was written: pass resume=False or use another checkpoint_path."
            ) from err
    if restore_rng and "rng" in payload:
        _set_rng_states(payload["rng"])
    return int(payload["step"]), History.from_dict(payload["history"])


# -- the loop -------------------------------------------------------------------------------------
def _non_finite_message(step: int, key: str, value: float, history: History, checkpoint_path) -> str:
    previous = ""
    if history.steps and key in history.records:
        finite = [(s, v) for s, v in zip(history.steps, history.records[key]) if math.isfinite(v)]
        if finite:
            previous = f" (last finite value {finite[-1][1]:.4g} at step {finite[-1][0]})"
    where = f" The last checkpoint, {checkpoint_path}, was written before the failure." if checkpoint_path else ""
    return (
        f"{key} became {value} at step {step}{previous}. Training stopped. Usual fixes: lower the "
        "learning rate (the outer/meta learning rate, or the inner-loop inner_lr for MAML-style "
        "methods); clip gradients with torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0); "
        "check the inputs and targets for NaN/inf and the loss for log(0) or division by zero."
        + where
    )


def train_loop(
    step_fn: Callable[[int], dict],
    num_steps: int,
    *,
    state: dict[str, object] | None = None,
    checkpoint_path: str | os.PathLike | None = None,
    resume: bool = True,
    checkpoint_every: int | None = None,
    log_every: int = 10,
    eval_fn: Callable[[], dict] | None = None,
    eval_every: int | None = None,
    desc: str = "meta-train",
    progress: bool = True,
) -> History:
    """Call ``step_fn(step)`` for ``step = start, ..., num_steps - 1`` and return the :class:`History`.

    Parameters
    ----------
    step_fn : step -> dict of floats
        One meta-update. Must return a dict with a ``"loss"`` entry (float or 0-d tensor); any
        other entries (``"acc"``, ...) are recorded too.
    num_steps : total number of steps (a resumed run continues up to this number)
    state : name -> object with ``state_dict()``/``load_state_dict()`` (model, optimizer,
        episode sampler) or ``torch.Generator``; saved in checkpoints and restored on resume.
        Objects whose state changes during training must be here for an exact resume.
    checkpoint_path : file to write checkpoints to (None: no checkpoints)
    resume : if True and ``checkpoint_path`` exists, load it and continue from its step;
        if False, start from scratch and overwrite it
    checkpoint_every : steps between checkpoints (default: a tenth of the run, at most 1000);
        a checkpoint is also written at the end and on interruption
    log_every : steps between progress-bar updates (the bar shows running means over them)
    eval_fn : () -> dict of floats, e.g. ``{"acc": ...}`` on validation episodes; called every
        ``eval_every`` steps and after the last step, recorded in ``history.eval_records``
    desc : progress-bar label
    progress : show the tqdm progress bar

    Raises :class:`NonFiniteLossError` when the loss is NaN or infinite.
    """
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 0:
        raise ValueError(f"num_steps must be a non-negative integer, got {num_steps!r}")
    if eval_every is not None and eval_every < 1:
        raise ValueError(f"eval_every must be >= 1 (or None), got {eval_every}")
    if eval_every is not None and eval_fn is None:
        raise ValueError("eval_every was given without eval_fn; pass eval_fn=... (a function returning a dict)")
    state = dict(state or {})
    for name, obj in state.items():
        if not (isinstance(obj, torch.Generator) or hasattr(obj, "state_dict")):
            raise TypeError(
                f"state[{name!r}] is a {type(obj).__name__}, which cannot be checkpointed; pass objects "
                "with state_dict()/load_state_dict() (models, optimizers, samplers) or torch.Generator"
            )
    if checkpoint_path is not None and not state:
        raise ValueError(
            "checkpoint_path was given without state, so a resumed run could not restore the model; "
            "pass state={'model': model, 'optimizer': optimizer} (plus any sampler or generator)"
        )
    checkpoint_every = checkpoint_every or max(1, min(1000, num_steps // 10))
    log_every = max(1, int(log_every))

    history = History()
    start = 0
    if checkpoint_path is not None and resume and Path(checkpoint_path).exists():
        start, history = load_checkpoint(checkpoint_path, state)
        history.interrupted = False
        if start >= num_steps:
            print(
                f"{desc}: loaded the finished run from {checkpoint_path} ({start} steps); nothing to "
                "train. Pass resume=False to train again."
            )
            return history
        print(f"{desc}: resuming from {checkpoint_path} at step {start} of {num_steps}.")

    def checkpoint(done: int, rng: dict | None = None, saved_states: dict | None = None) -> None:
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, state, history, done, rng, saved_states)

    # Random streams (global RNGs, samplers, generators) are snapshotted at the start of every
    # step, so that a step interrupted half-way is re-run from the same randomness on resume.
    # Models and optimizers are not copied: step_fn normally changes them only at its very end.
    streams = {k: v for k, v in state.items() if not isinstance(v, (torch.nn.Module, torch.optim.Optimizer))}

    def snapshot() -> tuple[dict, dict]:
        return _rng_states(), {k: copy.deepcopy(_state_of(v)) for k, v in streams.items()}

    def evaluate(step: int) -> dict:
        values = eval_fn()
        if not isinstance(values, dict):
            raise TypeError(f"eval_fn must return a dict of numbers, got {type(values).__name__}")
        values = {k: float(v) for k, v in values.items()}
        history.log_eval(step, values)
        return values

    bar = tqdm(total=num_steps, initial=start, desc=desc, disable=not progress, dynamic_ncols=True)
    window: dict[str, list[float]] = {}
    last_eval: dict[str, float] = {}
    t0 = time.perf_counter()
    completed = start  # number of finished (recorded) steps
    at_step_start = (None, None)
    try:
        for step in range(start, num_steps):
            at_step_start = snapshot() if checkpoint_path is not None else (None, None)
            out = step_fn(step)
            if not isinstance(out, dict) or "loss" not in out:
                raise TypeError(
                    f"step_fn must return a dict with a 'loss' entry, e.g. {{'loss': loss.item()}}; "
                    f"got {out!r} at step {step}"
                )
            values = {k: float(v) for k, v in out.items()}
            if not math.isfinite(values["loss"]):
                raise NonFiniteLossError(
                    _non_finite_message(step, "loss", values["loss"], history, checkpoint_path), step, history
                )
            history.log(step, values)
            completed = step + 1
            at_step_start = (None, None)  # the step is finished: an interrupt from here on keeps the current state
            for k, v in values.items():
                window.setdefault(k, []).append(v)
            done = step + 1
            if eval_fn is not None and eval_every is not None and done % eval_every == 0:
                last_eval = evaluate(step)
            if (done - start) % log_every == 0 or done == num_steps:
                postfix = {k: f"{_finite_mean(v):.4g}" for k, v in window.items()}
                postfix.update({f"eval_{k}": f"{v:.4g}" for k, v in last_eval.items()})
                bar.set_postfix(postfix, refresh=False)
                bar.update(len(window["loss"]))
                window = {}
            if done % checkpoint_every == 0 and done < num_steps:
                history.wall_time += time.perf_counter() - t0
                t0 = time.perf_counter()
                checkpoint(done)
        if eval_fn is not None and (not history.eval_steps or history.eval_steps[-1] != num_steps - 1) and num_steps > 0:
            evaluate(num_steps - 1)
        history.wall_time += time.perf_counter() - t0
        checkpoint(num_steps)
    except KeyboardInterrupt:
        # Steps before `completed` are finished and recorded. If the interrupt came inside
        # step_fn, resume re-runs that step from the random state it started with.
        history.wall_time += time.perf_counter() - t0
        history.interrupted = True
        checkpoint(completed, *at_step_start)
        saved = f"; checkpoint saved to {checkpoint_path}, run the cell again to resume" if checkpoint_path else ""
        bar.close()
        print(f"{desc}: interrupted at step {completed} of {num_steps}; history kept{saved}.")
        return history
    finally:
        bar.close()
    return history
