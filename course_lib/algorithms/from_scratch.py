"""Non-meta baselines for few-shot regression: training from scratch, and pre-training on all tasks.

Both answer the question "what do we get *without* meta-learning?":

* **from scratch** — a fresh network fitted to the K support points of one task only;
* **pretrained on all tasks** ("multi-task" / "joint training", the baseline of Finn et al. 2017,
  §5.1): one network trained by ordinary supervised learning on points pooled from many tasks.
  It converges to the *average* function ``E_T[f_T(x)]`` and is then fine-tuned on the K points
  of a new task with plain gradient descent (e.g. ``maml.evaluate_adaptation``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

__all__ = ["pretrain_step", "fit_from_scratch"]

LossFn = Callable[[Tensor, Tensor], Tensor]


def pretrain_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch, *, loss_fn: LossFn) -> dict[str, float]:
    """One supervised step on every point of a task batch, ignoring which task a point belongs to.

    Args:
        batch: object with ``support_x [T, K, d]``, ``support_y [T, K, o]``, ``query_x``, ``query_y``
            (e.g. ``episodes.TaskBatch`` of sinusoid tasks); support and query points are pooled.
    Returns: ``{"loss": mean loss over the T*(K+Q) pooled points}``.
    """
    x = torch.cat([batch.support_x.flatten(0, 1), batch.query_x.flatten(0, 1)])
    y = torch.cat([batch.support_y.flatten(0, 1), batch.query_y.flatten(0, 1)])
    optimizer.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"pre-training loss is {loss.item()}; lower the learning rate")
    loss.backward()
    optimizer.step()
    return {"loss": float(loss.detach())}


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
