"""Evaluating a continual learner: the accuracy matrix and the metrics read from it.

After each task ``i`` of a stream the learner is tested on every task ``j``::

    R[i, j] = test accuracy on task j after training on tasks 0..i         R: [T, T]
    b[j]    = accuracy on task j before any training                        b: [T]

From ``R`` (and ``b``) come the standard summaries of Lopez-Paz & Ranzato (2017, "Gradient
Episodic Memory for Continual Learning") and Chaudhry et al. (2018, "Riemannian Walk for
Incremental Learning"): average accuracy, backward and forward transfer, forgetting, and the
first task's drop; :func:`plot_accuracy_matrices` draws ``R`` as heatmaps. Every function takes a
NumPy array or a tensor ``[T, T]`` and returns plain floats (fractions, not percent).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from torch import Tensor

__all__ = [
    "average_accuracy",
    "backward_transfer",
    "check_accuracy_matrix",
    "first_task_drop",
    "forgetting",
    "forward_transfer",
    "plot_accuracy_matrices",
]


def check_accuracy_matrix(matrix, min_tasks: int = 1) -> np.ndarray:
    """Validate and return ``matrix`` as a float array ``[T, T]`` (square, finite, T >= min_tasks)."""
    R = np.asarray(matrix.detach().cpu() if isinstance(matrix, Tensor) else matrix, dtype=float)
    if R.ndim != 2 or R.shape[0] != R.shape[1]:
        raise ValueError(
            f"an accuracy matrix must be square [T, T] (row i = after task i, column j = tested on task j), "
            f"got shape {list(R.shape)}"
        )
    if R.shape[0] < min_tasks:
        raise ValueError(f"this metric needs at least {min_tasks} tasks, got a {R.shape[0]}x{R.shape[0]} matrix")
    if not np.all(np.isfinite(R)):
        raise ValueError("the accuracy matrix contains NaN or infinite entries")
    return R


def average_accuracy(matrix) -> float:
    """ACC = (1/T) sum_j R[T-1, j]: mean final accuracy over all tasks."""
    R = check_accuracy_matrix(matrix)
    return float(R[-1].mean())


def backward_transfer(matrix) -> float:
    """BWT = 1/(T-1) sum_{j<T-1} (R[T-1, j] - R[j, j]); negative = forgetting."""
    R = check_accuracy_matrix(matrix, min_tasks=2)
    T = R.shape[0]
    return float(np.mean(R[-1, : T - 1] - np.diag(R)[: T - 1]))


def forward_transfer(matrix, initial) -> float:
    """FWT = 1/(T-1) sum_{j>0} (R[j-1, j] - b[j]): how much earlier tasks help before task j is trained."""
    R = check_accuracy_matrix(matrix, min_tasks=2)
    b = np.asarray(initial, dtype=float).reshape(-1)
    if b.shape[0] != R.shape[0]:
        raise ValueError(f"initial must hold one accuracy per task ({R.shape[0]}), got {b.shape[0]}")
    T = R.shape[0]
    return float(np.mean([R[j - 1, j] - b[j] for j in range(1, T)]))


def forgetting(matrix) -> float:
    """Average forgetting (Chaudhry et al. 2018): 1/(T-1) sum_{j<T-1} max_{l<T-1} (R[l, j] - R[T-1, j]), l >= j.

    The best accuracy a task ever had minus its final accuracy, averaged over all tasks but the last.
    """
    R = check_accuracy_matrix(matrix, min_tasks=2)
    T = R.shape[0]
    return float(np.mean([R[j : T - 1, j].max() - R[-1, j] for j in range(T - 1)]))


def first_task_drop(matrix) -> float:
    """R[0, 0] - R[T-1, 0]: accuracy lost on the first task by the end of the stream (> 0 = forgotten)."""
    R = check_accuracy_matrix(matrix, min_tasks=2)
    return float(R[0, 0] - R[-1, 0])


def plot_accuracy_matrices(matrices: dict[str, np.ndarray], task_names: Sequence[str], *, title: str | None = None):
    """Heatmaps of accuracy matrices side by side (rows: trained up to task i; columns: tested on task j).

    ``matrices``: ``{learner name: R [T, T]}`` (e.g. the mean over seeds). Returns the figure.
    """
    import matplotlib.pyplot as plt

    if not matrices:
        raise ValueError("matrices is empty")
    n = len(matrices)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 4.6), squeeze=False, constrained_layout=True)
    short = [name[:8] for name in task_names]
    image = None
    for ax, (name, matrix) in zip(axes[0], matrices.items()):
        R = check_accuracy_matrix(matrix)
        if R.shape[0] != len(task_names):
            raise ValueError(f"{name}: matrix has {R.shape[0]} tasks but {len(task_names)} task names were given")
        image = ax.imshow(100 * R, vmin=0, vmax=100, cmap="viridis")
        for i in range(R.shape[0]):
            for j in range(R.shape[1]):
                ax.text(j, i, f"{100 * R[i, j]:.0f}", ha="center", va="center", fontsize=7,
                        color="white" if R[i, j] < 0.6 else "black")
        ax.set_xticks(range(len(short)), short, rotation=60, ha="right", fontsize=8)
        ax.set_yticks(range(len(short)), short, fontsize=8)
        ax.set_xlabel("tested on task j")
        ax.set_ylabel("after training on task i")
        ax.set_title(name, fontsize=10)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="test accuracy (%)")
    if title:
        fig.suptitle(title)
    return fig
