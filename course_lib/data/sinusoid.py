"""The sinusoid regression task family of the MAML paper (Finn, Abbeel & Levine 2017, section 5.1).

A task is a function ``y = A * sin(x - phase)`` with amplitude ``A ~ U[0.1, 5.0]`` and
``phase ~ U[0, pi]``; its inputs are drawn from ``x ~ U[-5, 5]``. A learner sees K (x, y) pairs of a
new task (the support set) and must predict y on other points of the same task (the query set).
The family is an explicit distribution over tasks p(T), which makes it the "hello world" of
meta-learning: everything is cheap, exact and plottable.

All randomness goes through a ``torch.Generator`` (CPU), so a seed reproduces the same tasks and
points on any device; move the results with ``.to(device)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from course_lib.data.episodes import TaskBatch


def _uniform(shape: tuple[int, ...], low: float, high: float, generator: torch.Generator | None) -> Tensor:
    return low + (high - low) * torch.rand(shape, generator=generator)


def _check_range(name: str, value: tuple[float, float]) -> tuple[float, float]:
    low, high = (float(v) for v in value)
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValueError(f"{name} must be a finite (low, high) pair with low <= high, got {value!r}")
    return low, high


@dataclass
class SinusoidTasks:
    """``n`` concrete sinusoid tasks.

    Attributes:
        amplitude: float32 ``[n]``.
        phase: float32 ``[n]``.
        x_range: interval the inputs are drawn from.
    """

    amplitude: Tensor
    phase: Tensor
    x_range: tuple[float, float] = (-5.0, 5.0)

    def __post_init__(self) -> None:
        if self.amplitude.dim() != 1 or self.amplitude.shape != self.phase.shape:
            raise ValueError(f"amplitude and phase must both have shape [n], got "
                             f"{tuple(self.amplitude.shape)} and {tuple(self.phase.shape)}")

    def __len__(self) -> int:
        return int(self.amplitude.shape[0])

    def __call__(self, x: Tensor) -> Tensor:
        """Evaluate every task: ``x [n, k, 1]`` (or ``[n, k]``) -> ``y`` of the same shape.

        ``y[i] = amplitude[i] * sin(x[i] - phase[i])``. The parameters follow ``x`` to its device.
        """
        if x.dim() not in (2, 3) or x.shape[0] != len(self) or (x.dim() == 3 and x.shape[2] != 1):
            raise ValueError(f"x must have shape [n, k, 1] or [n, k] with n = {len(self)} tasks, "
                             f"got {tuple(x.shape)}")
        view = (-1, 1, 1) if x.dim() == 3 else (-1, 1)
        amplitude = self.amplitude.to(device=x.device, dtype=x.dtype).view(view)
        phase = self.phase.to(device=x.device, dtype=x.dtype).view(view)
        return amplitude * torch.sin(x - phase)

    def sample_points(self, k: int, generator: torch.Generator | None = None,
                      x: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Draw ``k`` inputs per task from ``x_range`` and evaluate the tasks on them.

        Args:
            k: points per task.
            generator: CPU ``torch.Generator`` for reproducibility.
            x: optional fixed inputs instead of random ones: ``[k]``, ``[k, 1]`` (shared by all
                tasks, e.g. a plotting grid) or ``[n, k, 1]``; ``k`` is then taken from ``x``.

        Returns:
            ``(x, y)``, both float32 ``[n, k, 1]``.
        """
        n = len(self)
        if x is None:
            if not isinstance(k, int) or k < 1:
                raise ValueError(f"k must be a positive number of points, got {k!r}")
            x = _uniform((n, k, 1), *self.x_range, generator)
        else:
            x = torch.as_tensor(x, dtype=torch.float32)
            if x.dim() == 1:
                x = x.view(1, -1, 1).expand(n, -1, -1)
            elif x.dim() == 2 and x.shape[1] == 1:
                x = x.unsqueeze(0).expand(n, -1, -1)
            if x.dim() != 3 or x.shape[0] != n or x.shape[2] != 1:
                raise ValueError(f"x must have shape [k], [k, 1] or [{n}, k, 1], got {tuple(x.shape)}")
        return x, self(x)

    def to(self, device: torch.device | str) -> SinusoidTasks:
        """Copy with the parameters on ``device``."""
        return SinusoidTasks(self.amplitude.to(device), self.phase.to(device), self.x_range)


@dataclass(frozen=True)
class SinusoidTaskFamily:
    """The distribution p(T) over sinusoid tasks (defaults: the MAML paper's ranges).

    Attributes:
        amplitude: (low, high) of the uniform amplitude distribution.
        phase: (low, high) of the uniform phase distribution.
        x_range: (low, high) of the uniform input distribution.
    """

    amplitude: tuple[float, float] = (0.1, 5.0)
    phase: tuple[float, float] = (0.0, math.pi)
    x_range: tuple[float, float] = (-5.0, 5.0)

    def __post_init__(self) -> None:
        object.__setattr__(self, "amplitude", _check_range("amplitude", self.amplitude))
        object.__setattr__(self, "phase", _check_range("phase", self.phase))
        object.__setattr__(self, "x_range", _check_range("x_range", self.x_range))

    def sample_tasks(self, n: int, generator: torch.Generator | None = None) -> SinusoidTasks:
        """Draw ``n`` tasks: amplitudes ``[n]`` and phases ``[n]`` (float32, CPU)."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive number of tasks, got {n!r}")
        amplitude = _uniform((n,), *self.amplitude, generator)
        phase = _uniform((n,), *self.phase, generator)
        return SinusoidTasks(amplitude, phase, self.x_range)

    def sample_batch(self, n_tasks: int, k_support: int, k_query: int,
                     generator: torch.Generator | None = None,
                     device: torch.device | str | None = None) -> TaskBatch:
        """Draw ``n_tasks`` tasks with independent support and query points.

        Returns a :class:`course_lib.data.episodes.TaskBatch` with ``support_x, support_y``
        float32 ``[n_tasks, k_support, 1]`` and ``query_x, query_y`` ``[n_tasks, k_query, 1]``
        (``classes`` is None), on ``device`` (default CPU).
        """
        batch, _ = self.sample_batch_with_tasks(n_tasks, k_support, k_query, generator)
        return batch.to(device) if device is not None else batch

    def sample_batch_with_tasks(self, n_tasks: int, k_support: int, k_query: int,
                                generator: torch.Generator | None = None) -> tuple[TaskBatch, SinusoidTasks]:
        """Like :meth:`sample_batch`, also returning the tasks (to plot true curves or oracles)."""
        for name, k in (("k_support", k_support), ("k_query", k_query)):
            if not isinstance(k, int) or k < 1:
                raise ValueError(f"{name} must be a positive number of points, got {k!r}")
        tasks = self.sample_tasks(n_tasks, generator)
        support_x, support_y = tasks.sample_points(k_support, generator)
        query_x, query_y = tasks.sample_points(k_query, generator)
        return TaskBatch(support_x, support_y, query_x, query_y), tasks
