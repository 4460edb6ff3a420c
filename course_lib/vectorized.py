"""The vectorised engine: the shared inner loop run on every task of a batch at once with ``vmap``.

:func:`course_lib.adaptation.adapt` adapts one task. Under :func:`torch.func.vmap` the same function
adapts a whole batch ``support_x [T, N, ...]`` in one call, which for small networks on a CPU is far
faster than a Python loop over tasks (chapter 02's sinusoid MLP: about ten times). Two uses:

* :func:`adapt_batch`: adapted weights ``{name: [T, ...]}`` without a graph (Reptile's inner loop,
  fine-tuning at test time);
* :func:`meta_losses`: per-task query losses ``[T]`` whose backward gives the MAML meta-gradient.
  The per-task meta-gradients are computed *inside* the vmap, ``vmap(grad(task))``, and handed to
  autograd by :class:`_PerTaskGradients`: differentiating *through* a vmapped inner loop from
  outside (``grad(vmap(...))`` or ``.backward()`` on a vmapped result) gave second-order terms off
  by about 1 % for Conv-4 with BatchNorm (torch 2.13, float64, against finite differences).

Both equal the task loop to floating-point precision (``tests/test_maml.py``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from course_lib.adaptation import LossFn, Params, UpdateRule, adapt, task_loss

__all__ = ["adapt_batch", "meta_losses", "predict_batch"]


def adapt_batch(model: nn.Module, params: Params, support_x: Tensor, support_y: Tensor, *, loss_fn: LossFn,
                steps: int, update: UpdateRule | float, params_batched: bool = False,
                minibatches: bool = False) -> Params:
    """:func:`adapt` on every task of a batch, without a graph: ``{name: [T, ...]}``.

    ``params``: one starting point shared by all tasks, or (``params_batched=True``) one per task
    with a leading ``T``. ``support_x [T, N, ...]``, ``support_y [T, N, ...]`` (with ``minibatches``:
    ``[T, steps, b, ...]``, one minibatch per step, see :func:`~course_lib.adaptation.adapt`).
    """
    def one_task(p, x, y):
        return adapt(model, p, x, y, loss_fn=loss_fn, steps=steps, update=update, minibatches=minibatches)

    if not params_batched:  # one copy per task, as views: vmap over batched weights is faster (Conv-4, CPU)
        params = {n: p.detach().expand(support_x.shape[0], *p.shape) for n, p in params.items()}
    with torch.no_grad():
        return vmap(one_task, randomness="same")(params, support_x, support_y)


def predict_batch(model: nn.Module, params: Params, x: Tensor, *, params_batched: bool) -> Tensor:
    """Predictions ``[T, M, ...]`` for inputs ``x [T, M, ...]`` with shared or per-task (``[T, ...]``) params."""
    with torch.no_grad():
        if params_batched:
            return vmap(lambda p, xi: functional_call(model, p, (xi,)), randomness="same")(params, x)
        return vmap(lambda xi: functional_call(model, params, (xi,)), randomness="same")(x)


def meta_losses(model: nn.Module, params: Params, batch, *, loss_fn: LossFn, steps: int,
                update: UpdateRule | float, first_order: bool) -> Tensor:
    """Per-task query losses ``[T]`` after adaptation; their backward is the (FO)MAML meta-gradient."""
    names = list(params)

    def one_task(p, x_s, y_s, x_q, y_q):
        phi = adapt(model, p, x_s, y_s, loss_fn=loss_fn, steps=steps, update=update, first_order=first_order)
        return task_loss(model, phi, x_q, y_q, loss_fn)

    def compute(detached):
        grads, losses = vmap(torch.func.grad_and_value(one_task), in_dims=(None, 0, 0, 0, 0), randomness="same")(
            detached, batch.support_x, batch.support_y, batch.query_x, batch.query_y)
        return losses, [grads[n] for n in names]

    return _PerTaskGradients.apply(compute, names, *[params[n] for n in names])


class _PerTaskGradients(torch.autograd.Function):
    """Per-task losses ``[T]`` whose backward uses per-task gradients computed in the forward pass."""

    @staticmethod
    def forward(ctx, compute, names, *tensors):
        detached = {n: t.detach() for n, t in zip(names, tensors)}
        with torch.enable_grad():
            losses, grads = compute(detached)
        ctx.save_for_backward(*[g.detach() for g in grads])
        return losses.detach()

    @staticmethod
    def backward(ctx, grad_losses):
        out = [torch.tensordot(grad_losses, g, dims=1) for g in ctx.saved_tensors]  # sum_t w_t * grad_t
        return (None, None, *out)
