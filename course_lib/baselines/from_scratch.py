"""The no-prior baseline of few-shot learning: a fresh network fitted to one task's K examples.

It answers "what do K examples give without any experience of other tasks?". Its companion, the
network pre-trained on points pooled from all tasks, is in ``joint_pretraining.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["fit_from_scratch"]

LossFn = Callable[[Tensor, Tensor], Tensor]


def fit_from_scratch(
    make_model: Callable[[], nn.Module],
    x: Tensor,
    y: Tensor,
    *,
    loss_fn: LossFn,
    steps: int = 500,
    lr: float = 1e-2,
) -> nn.Module:
    """Train a fresh ``make_model()`` on one small data set ``x [K, d]``, ``y [K, o]`` with Adam.

    This is what "learning from K examples without prior experience" means: the fitted network
    interpolates the K points and has no reason to be right anywhere else.
    """
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    if lr <= 0:
        raise ValueError(f"lr must be positive, got {lr}")
    if x.shape[0] != y.shape[0] or x.shape[0] == 0:
        raise ValueError(f"x and y must hold the same non-zero number of points; got {x.shape[0]} and {y.shape[0]}")
    model = make_model().to(x.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    return model
