"""Running continual learners on a stream of tasks: the accuracy matrix, its summaries and figures.

After each task of the stream every task is tested, which fills the accuracy matrix of
Lopez-Paz & Ranzato (2017, "Gradient Episodic Memory for Continual Learning", NeurIPS)::

    R[i, j] = test accuracy on task j after training on tasks 0..i         R: [T, T]

and ``b[j]``, the accuracy on task j before any training (random initialisation). The streams are
:class:`course_lib.data.task_streams.TaskStream`, the learners live in
:mod:`course_lib.algorithms.continual`, the metrics in :mod:`course_lib.analysis.continual_metrics`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from course_lib.algorithms.continual import ContinualLearner
from course_lib.analysis.continual_metrics import (
    average_accuracy,
    backward_transfer,
    first_task_drop,
    forgetting,
    forward_transfer,
)
from course_lib.checks import check_count

__all__ = ["StreamResult", "compare_learners", "plot_task_curves", "run_stream", "summarize"]


# --------------------------------------------------------------------------------------------
# Running a stream
# --------------------------------------------------------------------------------------------


@dataclass
class StreamResult:
    """What one pass over the stream produced.

    matrix : ndarray [T, T]   R[i, j] = test accuracy on task j after learning tasks 0..i
    initial : ndarray [T]     b[j] = accuracy on task j before any training
    probe : ndarray [T, T] or None   same as ``matrix`` but with a prototype head from the memory
        on top of the learner's body (how much the *representation* still knows), if requested
    losses : list[list[float]]  training losses, one list per task
    """

    learner: str
    seed: int
    task_names: list[str]
    matrix: np.ndarray
    initial: np.ndarray
    probe: np.ndarray | None = None
    losses: list[list[float]] = field(default_factory=list)
    seconds: float = 0.0

    def metrics(self) -> dict[str, float]:
        """ACC, BWT, FWT, forgetting and the first task's drop for this run (fractions, not %)."""
        return {
            "average_accuracy": average_accuracy(self.matrix),
            "backward_transfer": backward_transfer(self.matrix),
            "forward_transfer": forward_transfer(self.matrix, self.initial),
            "forgetting": forgetting(self.matrix),
            "first_task_drop": first_task_drop(self.matrix),
        }


def run_stream(
    learner: ContinualLearner,
    steps_per_task: int,
    *,
    probe: bool = False,
    progress: bool = True,
) -> StreamResult:
    """Train ``learner`` on its stream task after task, testing on every task after each one.

    Returns a :class:`StreamResult` with the full accuracy matrix ``[T, T]`` (the entries above
    the diagonal are tasks not learned yet: chance for a fresh linear head, few-shot accuracy for a
    prototype head). ``probe=True`` also fills ``result.probe`` with prototype-head accuracies.
    """
    check_count("steps_per_task", steps_per_task, 0)
    stream = learner.stream
    T = len(stream)
    start = time.perf_counter()
    initial = np.array([learner.accuracy(j) for j in range(T)])
    matrix = np.zeros((T, T))
    probes = np.zeros((T, T)) if probe else None
    losses = []
    bar = tqdm(range(T), desc=learner.name, disable=not progress, leave=False)
    for i in bar:
        losses.append(learner.learn_task(i, steps_per_task))
        for j in range(T):
            matrix[i, j] = learner.accuracy(j)
            if probes is not None:
                probes[i, j] = learner.probe_accuracy(j)
        bar.set_postfix(task=stream[i].name, acc=f"{matrix[i, i]:.2f}", first=f"{matrix[i, 0]:.2f}")
    return StreamResult(
        learner=learner.name,
        seed=learner.seed,
        task_names=stream.names,
        matrix=matrix,
        initial=initial,
        probe=probes,
        losses=losses,
        seconds=time.perf_counter() - start,
    )


def compare_learners(
    factories: dict[str, Callable[[int], ContinualLearner]],
    seeds: Sequence[int],
    steps_per_task: int,
    *,
    probe: bool | Sequence[str] = False,
    progress: bool = True,
) -> dict[str, list[StreamResult]]:
    """Run every learner (``factories[name](seed) -> learner``) on its stream once per seed.

    Returns ``{name: [StreamResult per seed]}``. The seed changes the initialisation and the
    batches; the stream (order, splits, memory) is whatever the factories build. ``probe``: True
    for all learners, or the names of the learners whose prototype-head probe should be recorded.
    """
    if not factories:
        raise ValueError("factories is empty: give at least one name -> learner factory")
    if not isinstance(probe, bool):
        unknown = [p for p in probe if p not in factories]
        if unknown:
            raise ValueError(f"probe names {unknown} are not among the learners {list(factories)}")
    if len(seeds) == 0:
        raise ValueError("seeds is empty: give at least one seed (two or more for a confidence interval)")
    results: dict[str, list[StreamResult]] = {name: [] for name in factories}
    runs = [(name, seed) for seed in seeds for name in factories]
    for name, seed in tqdm(runs, desc="streams", disable=not progress):
        learner = factories[name](seed)
        wants_probe = probe if isinstance(probe, bool) else name in probe
        result = run_stream(learner, steps_per_task, probe=wants_probe, progress=progress)
        result.learner = name
        results[name].append(result)
    return results


# --------------------------------------------------------------------------------------------
# Summaries and figures over seeds
# --------------------------------------------------------------------------------------------


def summarize(results: dict[str, list[StreamResult]], confidence: float = 0.95) -> dict[str, dict[str, tuple[float, float]]]:
    """``{learner: {metric: (mean, CI half-width over seeds)}}`` for every metric of :meth:`StreamResult.metrics`.

    The half-width is Student's t interval of :func:`course_lib.metrics.mean_ci` (t = 4.30 for 3 seeds).
    """
    from course_lib.metrics import mean_ci

    table = {}
    for name, runs in results.items():
        if not runs:
            raise ValueError(f"no runs for {name!r}")
        per_metric: dict[str, list[float]] = {}
        for run in runs:
            for key, value in run.metrics().items():
                per_metric.setdefault(key, []).append(value)
        table[name] = {key: mean_ci(values, confidence) for key, values in per_metric.items()}
    return table


def plot_task_curves(results: dict[str, list[StreamResult]], task: int = 0, *, confidence: float = 0.95):
    """Accuracy on one task (default: the first) after each stage of the stream, mean +- Student-t CI over seeds."""
    import matplotlib.pyplot as plt

    from course_lib.metrics import mean_ci

    fig, ax = plt.subplots(figsize=(6.5, 3.8), constrained_layout=True)
    names = None
    for name, runs in results.items():
        stack = np.stack([r.matrix[:, task] for r in runs])  # [seeds, T]
        names = runs[0].task_names
        stats = [mean_ci(stack[:, i], confidence) if len(runs) > 1 else (stack[0, i], 0.0) for i in range(stack.shape[1])]
        mean = np.array([m for m, _ in stats])
        half = np.nan_to_num(np.array([h for _, h in stats]))
        steps = np.arange(stack.shape[1])
        ax.plot(steps, 100 * mean, marker="o", label=name)
        ax.fill_between(steps, 100 * (mean - half), 100 * (mean + half), alpha=0.2)
    ax.set_xticks(range(len(names)), [f"{i}:{n[:8]}" for i, n in enumerate(names)], rotation=45, ha="right", fontsize=8)
    ax.axvline(task, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("after training on task")
    ax.set_ylabel(f"accuracy on task {task} ({names[task]}) %")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8)
    return fig
