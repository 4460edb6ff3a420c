"""Noiseless linear regression tasks, the task family of in-context learning studies (Garg et al. 2022)."""

from __future__ import annotations

import torch
from torch import Tensor


def linear_tasks(n_tasks: int, n_points: int, dim: int, generator: torch.Generator | None = None,
                 x_scale: float = 1.0) -> tuple[Tensor, Tensor]:
    """Noiseless linear regression tasks ``y = w.x``: ``w ~ N(0, I_dim)``, ``x ~ N(0, x_scale^2 I_dim)``.

    Returns ``x [n_tasks, n_points, dim]`` and ``y [n_tasks, n_points, 1]``.
    """
    x = x_scale * torch.randn(n_tasks, n_points, dim, generator=generator)
    w = torch.randn(n_tasks, dim, 1, generator=generator)
    return x, x @ w
