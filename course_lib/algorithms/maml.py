"""Model-Agnostic Meta-Learning (Finn, Abbeel & Levine, ICML 2017), second- and first-order.

MAML learns an initialisation ``theta`` such that a few gradient steps on a new task's support set
give a low loss on that task's query set::

    inner loop (task i):  phi_i = theta - alpha * grad L_support_i(theta)        (repeated k times)
    outer loop         :  theta <- theta - beta * grad_theta  mean_i L_query_i(phi_i)

The meta-gradient of one task, by the chain rule through one inner step, is::

    grad_theta L_query(phi) = (I - alpha * H_support(theta)) grad_phi L_query(phi)

with ``H_support`` the Hessian of the support loss. The inner loop is the shared
:func:`course_lib.adaptation.adapt` with ``update=SGD(alpha)``:

* ``first_order=False`` (MAML): inner gradients keep their graph, so ``backward`` of the query loss
  produces the Hessian-vector products of the factor ``(I - alpha H)``;
* ``first_order=True`` (FOMAML): inner gradients are constants, the factor becomes ``I`` and the
  meta-gradient is the query gradient at ``phi``.

This file is the plain task loop with :func:`torch.autograd.grad`: one task after another, each
task's share of the meta-loss back-propagated before the next task's graph is built. The
vectorised engine (``vmap`` over the tasks of a batch) is in :mod:`course_lib.vectorized`; both give
the same numbers (tested). Which is faster depends on the model and the device:
``benchmarks/maml_step.py`` measures both; on a CPU vmap wins for the sinusoid MLP (about ten
times) and the loop for Conv-4 with one thread.

Shapes: a task batch holds ``support_x [T, Ns, ...]``, ``support_y [T, Ns, ...]``,
``query_x [T, Nq, ...]``, ``query_y [T, Nq, ...]``; one task drops the leading ``T``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from course_lib import vectorized
from course_lib.adaptation import SGD, LossFn, Params, adapt, task_loss
from course_lib.checks import check_count, check_params, check_task
from course_lib.nets import params_of

__all__ = ["maml_step", "meta_gradient", "meta_loss"]


def _settings(model, params, batch, inner_lr, inner_steps) -> SGD:
    """Check the batch, ``params`` and the inner-loop settings once; return the inner update rule."""
    check_count("inner_steps", inner_steps, 1, "With zero inner steps MAML is ordinary training on the query sets.")
    check_task(batch.support_x, batch.support_y, batch.query_x, batch.query_y, batched=True)
    check_params(model, params)
    return SGD(inner_lr)


def _task_losses(model, params, batch, loss_fn, update, inner_steps, first_order):
    """Each task's query loss after adapting to its support set, one task at a time (a generator)."""
    for i in range(batch.support_x.shape[0]):
        phi = adapt(model, params, batch.support_x[i], batch.support_y[i], loss_fn=loss_fn, steps=inner_steps,
                    update=update, first_order=first_order)
        yield task_loss(model, phi, batch.query_x[i], batch.query_y[i], loss_fn)


def meta_loss(model: nn.Module, params: Params, batch, *, loss_fn: LossFn, inner_lr: float, inner_steps: int = 1,
              first_order: bool = False, vectorize: bool = False, reduce: bool = True) -> Tensor:
    """The MAML objective ``mean_i L_query_i(adapt_i(params))`` over a batch of tasks.

    Args:
        params: the initialisation (all of the model's parameters, or the part that is adapted).
        batch: ``support_x [T, Ns, ...]``, ``support_y``, ``query_x [T, Nq, ...]``, ``query_y``.
        vectorize: ``True`` = vmap over the tasks (:mod:`course_lib.vectorized`), ``False`` = loop.
        reduce: the mean (a scalar) or the per-task query losses ``[T]``.

    Returns: a tensor differentiable w.r.t. ``params`` (second order unless ``first_order``).
    """
    update = _settings(model, params, batch, inner_lr, inner_steps)
    if vectorize:
        losses = vectorized.meta_losses(model, params, batch, loss_fn=loss_fn, steps=inner_steps, update=update,
                                        first_order=first_order)
    else:
        losses = torch.stack(list(_task_losses(model, params, batch, loss_fn, update, inner_steps, first_order)))
    return losses.mean() if reduce else losses


def meta_gradient(model: nn.Module, batch, **settings) -> Params:
    """``grad_theta`` of :func:`meta_loss` at the model's current parameters (a dict; ``.grad`` untouched)."""
    params = params_of(model)
    loss = meta_loss(model, params, batch, **settings)
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    return {n: (torch.zeros_like(p) if g is None else g) for (n, p), g in zip(params.items(), grads)}


def maml_step(model: nn.Module, optimizer: torch.optim.Optimizer, batch, *, loss_fn: LossFn, inner_lr: float,
              inner_steps: int = 1, first_order: bool = False, vectorize: bool = False) -> dict[str, float]:
    """One meta-training step: meta-loss, backward, ``optimizer.step()``. Returns ``{"loss": ...}``.

    With the task loop each task's share ``L_i / T`` is back-propagated as soon as it is computed:
    the gradients add up to those of the mean, but only one task's graph is alive at a time.
    """
    optimizer.zero_grad(set_to_none=True)
    params = params_of(model)
    if vectorize:
        loss = meta_loss(model, params, batch, loss_fn=loss_fn, inner_lr=inner_lr, inner_steps=inner_steps,
                         first_order=first_order, vectorize=True)
        loss.backward()
        value = float(loss.detach())
    else:
        update = _settings(model, params, batch, inner_lr, inner_steps)
        value, num_tasks = 0.0, batch.support_x.shape[0]
        for query_loss in _task_losses(model, params, batch, loss_fn, update, inner_steps, first_order):
            share = query_loss / num_tasks
            share.backward()
            value += float(share.detach())
    optimizer.step()
    return {"loss": value}
