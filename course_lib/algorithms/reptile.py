"""Reptile (Nichol, Achiam & Schulman 2018, "On First-Order Meta-Learning Algorithms").

For each task of a meta-batch, start from the shared initialisation ``theta``, run ``k`` steps of
plain SGD on the task's support loss to get ``phi_i``, then move ``theta`` towards the average
adapted weights::

    theta <- theta + epsilon * mean_i (phi_i - theta)

No second derivatives, no query set, no graph through the inner loop: ``phi_i`` is computed under
``torch.no_grad`` semantics (plain numbers).

With ``k = 1`` Reptile is ordinary SGD on the average task loss (joint training); it needs
``k >= 2`` to meta-learn anything (see chapter 03's Taylor analysis).

Inner minibatches: by default every inner step uses the whole support set. With
``inner_batch_size=b`` each step uses its own minibatch of ``b`` support examples (consecutive
slices of a random permutation, reshuffled when it runs out), as Nichol et al. do on Omniglot
(10 examples per class, 5 steps on minibatches of 10). The Taylor analysis shows why it matters:
the term that makes Reptile meta-learn, AvgGradInner, rewards agreement between the gradients of
*different* minibatches of a task (within-task generalisation); with one batch in every step it
only rewards a large gradient on that batch.

The inner loop is the shared :func:`course_lib.adaptation.adapt` with ``update=SGD(alpha)`` (or any
update rule, e.g. :class:`~course_lib.adaptation.Adam`), run on the tasks of a batch one after another
(``vectorize=False``) or all at once with ``vmap`` (``vectorize=True``; much faster for small models
on a CPU, measured in chapter 03). With minibatches, ``adapt(..., minibatches=True)`` takes one step
per minibatch and a stateful rule such as Adam keeps its state from one step to the next.

Nichol et al.'s own experiments use Adam with ``beta1 = 0`` for the inner loop
(:class:`~course_lib.adaptation.Adam`) and a
plain outer step ``epsilon`` annealed linearly to 0 (sine demo: 0.1 -> 0; Omniglot: 1 -> 0).

The outer update is handed to a ``torch.optim`` optimizer: :func:`reptile_step` sets
``p.grad = theta - mean_i phi_i`` (the *Reptile gradient*, Nichol et al.'s ``g``), so
``torch.optim.SGD(model.parameters(), lr=epsilon)`` is exactly the update above, and Adam (say)
is Reptile with Adam as the outer optimizer.

Shapes: ``support_x [T, N, ...]``, ``support_y [T, N, ...]`` for a batch; ``[N, ...]`` per task.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import vmap

from course_lib.adaptation import SGD, LossFn, Params, UpdateRule, adapt, as_update, task_loss
from course_lib.checks import check_count, check_params, check_task
from course_lib.nets import params_of
from course_lib.vectorized import adapt_batch

__all__ = ["adapted_weights", "inner_minibatches", "reptile_direction", "reptile_step"]


def inner_minibatches(num_examples: int, batch_size: int, steps: int,
                      generator: torch.Generator | None = None) -> list[Tensor]:
    """Example indices of each inner step: ``steps`` tensors ``[batch_size]``.

    Consecutive slices of a random permutation of ``range(num_examples)``; a new permutation is
    drawn when fewer than ``batch_size`` examples are left (so no step sees an example twice
    before every other one has been seen, except for that leftover).
    """
    if not 1 <= int(batch_size) <= int(num_examples):
        raise ValueError(
            f"inner_batch_size must be between 1 and the number of support examples ({num_examples}), "
            f"got {batch_size}; sample tasks with more shots or use a smaller minibatch"
        )
    batches, order, pos = [], torch.randperm(num_examples, generator=generator), 0
    for _ in range(steps):
        if pos + batch_size > num_examples:
            order, pos = torch.randperm(num_examples, generator=generator), 0
        batches.append(order[pos:pos + batch_size])
        pos += batch_size
    return batches


def adapted_weights(
    model: nn.Module,
    params: Params,
    support_x: Tensor,
    support_y: Tensor,
    *,
    loss_fn: LossFn,
    inner_lr: float | None = None,
    inner_steps: int,
    inner_batch_size: int | None = None,
    vectorize: bool = True,
    update: UpdateRule | None = None,
) -> Params:
    """Run the inner SGD loop on every task of a batch; return ``{name: phi [T, ...]}``.

    Args:
        params: the initialisation ``theta`` (detached internally; no graph is built).
        support_x ``[T, N, ...]``, support_y ``[T, N, ...]``: the tasks' training examples.
        inner_batch_size: ``None``: every step on all ``N`` examples; ``b``: each step on its own
            minibatch of ``b`` examples (:func:`inner_minibatches`, same indices for every task,
            drawn from the global torch random state).
        vectorize: vmap over tasks (True) or a Python loop (False).
        update: the inner update rule (default ``SGD(inner_lr)``), e.g. ``Adam(1e-3)``.
    """
    check_count("inner_steps", inner_steps, 1)
    check_task(support_x, support_y, batched=True)
    check_params(model, params)
    update = SGD(inner_lr) if update is None else as_update(update)
    theta = {n: p.detach() for n, p in params.items()}
    if inner_batch_size is None:
        if vectorize:
            return adapt_batch(model, theta, support_x, support_y, loss_fn=loss_fn, steps=inner_steps, update=update)
        per_task = [adapt(model, theta, x, y, loss_fn=loss_fn, steps=inner_steps, update=update)
                    for x, y in zip(support_x, support_y)]
    else:  # xs [T, k, b, ...]: task t's minibatch for step j is xs[t, j]
        idx = torch.stack(inner_minibatches(support_x.shape[1], inner_batch_size, inner_steps))
        xs, ys = support_x[:, idx], support_y[:, idx]
        if vectorize:
            return adapt_batch(model, theta, xs, ys, loss_fn=loss_fn, steps=inner_steps, update=update,
                               minibatches=True)
        per_task = [adapt(model, theta, x, y, loss_fn=loss_fn, steps=inner_steps, update=update, minibatches=True)
                    for x, y in zip(xs, ys)]
    return {n: torch.stack([phi[n] for phi in per_task]) for n in theta}


def reptile_direction(model: nn.Module, params: Params, batch, **kwargs) -> Params:
    """``mean_i (phi_i - theta)``: where Reptile moves the initialisation (a dict like ``params``).

    ``batch`` has ``support_x``/``support_y`` ``[T, N, ...]``; keyword arguments are those of
    :func:`adapted_weights`.
    """
    phi = adapted_weights(model, params, batch.support_x, batch.support_y, **kwargs)
    return {n: phi[n].mean(0) - p.detach() for n, p in params.items()}


def reptile_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch,
    *,
    loss_fn: LossFn,
    inner_lr: float | None = None,
    inner_steps: int,
    inner_batch_size: int | None = None,
    vectorize: bool = True,
    update: UpdateRule | None = None,
) -> dict[str, float]:
    """One Reptile meta-update: ``p.grad = theta - mean_i phi_i``, then ``optimizer.step()``.

    With ``torch.optim.SGD(model.parameters(), lr=epsilon)`` this is
    ``theta <- theta + epsilon * mean_i (phi_i - theta)``. ``inner_batch_size``, ``update`` (the inner rule,
    default ``SGD(inner_lr)``): see :func:`adapted_weights`.

    Returns ``{"loss": mean query loss of the adapted weights (or support loss if the batch has no
    query set), "update_norm": ||mean_i (phi_i - theta)||}``.
    """
    params = params_of(model)
    phi = adapted_weights(model, params, batch.support_x, batch.support_y, loss_fn=loss_fn, inner_lr=inner_lr,
                          inner_steps=inner_steps, inner_batch_size=inner_batch_size, vectorize=vectorize,
                          update=update)
    direction = {n: phi[n].mean(0) - p.detach() for n, p in params.items()}
    # a number for the progress bar: how well the adapted weights do on held-out examples
    has_query = getattr(batch, "query_x", None) is not None
    x, y = (batch.query_x, batch.query_y) if has_query else (batch.support_x, batch.support_y)
    with torch.no_grad():
        losses = vmap(lambda p, xi, yi: task_loss(model, p, xi, yi, loss_fn), randomness="same")(phi, x, y)
    optimizer.zero_grad(set_to_none=True)
    for n, p in params.items():
        p.grad = -direction[n]
    optimizer.step()
    norm = torch.sqrt(sum((d**2).sum() for d in direction.values()))
    return {"loss": float(losses.mean()), "update_norm": float(norm)}
