"""One meta-training loop for every chapter: progress bar, history, checkpoints, NaN guard.

The algorithm-specific work lives in a ``step_fn(step) -> dict`` that performs one meta-update
(sample a task batch, adapt, compute the outer loss, step the optimizer) and returns numbers such
as ``{"loss": 0.41}``. :func:`train_loop` calls it ``num_steps`` times and takes care of everything
around it; the step functions of :mod:`course_lib.algorithms` already have that shape::

    from course_lib.algorithms.maml import maml_step

    def step_fn(step):
        batch = family.sample_batch(meta_batch_size, k_support, k_query).to(device)
        return maml_step(model, optimizer, batch, loss_fn=F.mse_loss, inner_lr=0.01)

    history = train_loop(step_fn, 2000, state={"model": model, "optimizer": optimizer},
                         checkpoint_path=cache_dir() / "ch02_maml.pt")
    history.plot()

* **Checkpoints** (:mod:`course_lib.checkpoint`) hold the ``state_dict()`` of every object in
  ``state`` (models, optimizers, samplers, ``torch.Generator`` objects), the history, the step and
  the global random states, written atomically. With ``resume=True`` an existing checkpoint is
  loaded and training continues at its step; a resumed run ends in the same state as an
  uninterrupted one.
* **Interrupting** (Jupyter's stop button, Ctrl-C) ends the loop cleanly: the checkpoint is
  written, ``history.interrupted`` is True and the history is returned.
* **Non-finite loss** raises :class:`NonFiniteLossError` naming the step, with the usual fixes.
"""

from __future__ import annotations

import copy
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import torch
from tqdm.auto import tqdm

from course_lib.checkpoint import load_checkpoint, rng_states, save_checkpoint, state_of
from course_lib.runtime import shown_path
from course_lib.history import History

__all__ = ["History", "NonFiniteLossError", "train_loop"]


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite. ``.step`` and ``.history`` (up to the previous step) are attached."""

    def __init__(self, message: str, step: int, history: History) -> None:
        super().__init__(message)
        self.step = step
        self.history = history


def _finite_mean(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return sum(finite) / len(finite) if finite else math.nan


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
                f"{desc}: loaded the finished run from {shown_path(checkpoint_path)} ({start} steps); nothing to "
                "train. Pass resume=False to train again."
            )
            return history
        print(f"{desc}: resuming from {shown_path(checkpoint_path)} at step {start} of {num_steps}.")

    def checkpoint(done: int, rng: dict | None = None, saved_states: dict | None = None) -> None:
        if checkpoint_path is not None:
            save_checkpoint(checkpoint_path, state, history, done, rng, saved_states)

    # Random streams (global RNGs, samplers, generators) are snapshotted at the start of every
    # step, so that a step interrupted half-way is re-run from the same randomness on resume.
    # Models and optimizers are not copied: step_fn normally changes them only at its very end.
    streams = {k: v for k, v in state.items() if not isinstance(v, (torch.nn.Module, torch.optim.Optimizer))}

    def snapshot() -> tuple[dict, dict]:
        return rng_states(), {k: copy.deepcopy(state_of(v)) for k, v in streams.items()}

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
