"""Reptile (Nichol, Achiam & Schulman 2018, "On First-Order Meta-Learning Algorithms").

For each task of a meta-batch, start from the shared initialisation ``theta``, run ``k`` steps of
plain SGD on the task's support loss to get ``phi_i``, then move ``theta`` towards the average
adapted weights::

    theta <- theta + epsilon * mean_i (phi_i - theta)

No second derivatives, no query set, no graph through the inner loop: ``phi_i`` is computed under
``torch.no_grad`` semantics (plain numbers). ``(theta - phi_i) / (k * alpha)`` plays the role of a
gradient, so the outer update can also be handed to any optimizer (Adam, say) as ``p.grad``.

With ``k = 1`` Reptile is ordinary SGD on the average task loss (joint training); it needs
``k >= 2`` to meta-learn anything (see chapter 03's Taylor analysis).

Two implementations of the inner loop over a batch of tasks, giving the same result:

* ``vectorize=False`` (serial): one task after another.
* ``vectorize=True`` (batched): :func:`torch.func.vmap` of a :func:`torch.func.grad` loop over the
  tasks of the batch; much faster for small models on CPU (measured in chapter 03).

Shapes: ``support_x [T, N, ...]``, ``support_y [T, N, ...]`` for a batch; ``[N, ...]`` per task.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import vmap

from course_lib.algorithms.maml import LossFn, Params, adapt, batched_fine_tune, check_inner_args, check_task, task_loss
from course_lib.nets import params_of


def check_outer_lr(outer_lr: float) -> None:
    """Raise ``ValueError`` unless ``0 <= outer_lr`` (1.0 = jump to the average adapted weights)."""
    lr = float(outer_lr)
    if not lr == lr or lr < 0 or lr == float("inf"):
        raise ValueError(
            f"outer_lr must be a finite number >= 0, got {outer_lr!r}; a negative value would move "
            "the initialisation away from the adapted weights"
        )


def _detached(params: Params) -> Params:
    return {n: p.detach() for n, p in params.items()}


def adapted_weights(
    model: nn.Module,
    params: Params,
    support_x: Tensor,
    support_y: Tensor,
    *,
    loss_fn: LossFn,
    inner_lr: float,
    inner_steps: int,
    vectorize: bool = True,
) -> Params:
    """Run the inner SGD loop on every task of a batch; return ``{name: phi [T, ...]}``.

    Args:
        params: the initialisation ``theta`` (detached internally; no graph is built).
        support_x ``[T, N, ...]``, support_y ``[T, N, ...]``: the tasks' training examples.
        vectorize: vmap over tasks (True) or a Python loop (False).
    """
    check_inner_args(inner_lr, inner_steps)
    check_task(support_x, support_y, batched=True)
    theta = _detached(params)
    if not vectorize:
        per_task = [
            adapt(model, theta, support_x[i], support_y[i], loss_fn=loss_fn, inner_lr=inner_lr,
                  inner_steps=inner_steps)
            for i in range(support_x.shape[0])
        ]
        return {n: torch.stack([phi[n] for phi in per_task]) for n in theta}

    return batched_fine_tune(model, theta, support_x, support_y, loss_fn, inner_lr, inner_steps, params_batched=False)


def reptile_direction(model: nn.Module, params: Params, batch, **kwargs) -> Params:
    """``mean_i (phi_i - theta)``: where Reptile moves the initialisation (a dict like ``params``).

    ``batch`` has ``support_x``/``support_y`` ``[T, N, ...]``; keyword arguments are those of
    :func:`adapted_weights`.
    """
    phi = adapted_weights(model, params, batch.support_x, batch.support_y, **kwargs)
    return {n: phi[n].mean(0) - p.detach() for n, p in params.items()}


def reptile_step(
    model: nn.Module,
    batch,
    *,
    loss_fn: LossFn,
    inner_lr: float,
    inner_steps: int,
    outer_lr: float = 1.0,
    optimizer: torch.optim.Optimizer | None = None,
    vectorize: bool = True,
) -> dict[str, float]:
    """One Reptile meta-update of ``model`` in place.

    Without ``optimizer``: ``theta <- theta + outer_lr * mean_i (phi_i - theta)``.
    With ``optimizer``: the optimizer steps along the pseudo-gradient ``-(mean_i phi_i - theta)``
    (``outer_lr`` is then ignored; the optimizer's own learning rate applies).

    Returns ``{"loss": mean query loss of the adapted weights (or support loss if the batch has no
    query set), "update_norm": ||mean_i (phi_i - theta)||}``.
    """
    check_outer_lr(outer_lr)
    params = params_of(model)
    phi = adapted_weights(model, params, batch.support_x, batch.support_y, loss_fn=loss_fn,
                          inner_lr=inner_lr, inner_steps=inner_steps, vectorize=vectorize)
    direction = {n: phi[n].mean(0) - p.detach() for n, p in params.items()}
    # a number for the progress bar: how well the adapted weights do on held-out examples
    has_query = getattr(batch, "query_x", None) is not None
    x, y = (batch.query_x, batch.query_y) if has_query else (batch.support_x, batch.support_y)
    with torch.no_grad():
        losses = vmap(lambda p, xi, yi: task_loss(model, p, xi, yi, loss_fn), randomness="same")(phi, x, y)
    if optimizer is None:
        with torch.no_grad():
            for n, p in params.items():
                p.add_(direction[n], alpha=float(outer_lr))
    else:
        optimizer.zero_grad(set_to_none=True)
        for n, p in params.items():
            p.grad = -direction[n]
        optimizer.step()
    norm = torch.sqrt(sum((d**2).sum() for d in direction.values()))
    return {"loss": float(losses.mean()), "update_norm": float(norm)}
