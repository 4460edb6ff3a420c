"""Model-Agnostic Meta-Learning (Finn, Abbeel & Levine, ICML 2017), second- and first-order.

MAML learns an initialisation ``theta`` such that a few gradient steps on a new task's support set
give low loss on that task's query set::

    inner loop  (per task i):  phi_i = theta - alpha * grad L_support_i(theta)      (repeated k times)
    outer loop             :  theta <- theta - beta * grad_theta  mean_i L_query_i(phi_i)

Everything here is a pure function of a **parameter dict** ``{name: tensor}``; the model is only
used as an architecture through :func:`torch.func.functional_call`. So the inner loop never copies
or mutates the model, and the query loss keeps its autograd path back to ``theta``.

* ``first_order=False`` (MAML): inner gradients are computed with ``create_graph=True`` so the
  meta-gradient contains the Hessian-vector terms ``(I - alpha H) ...``.
* ``first_order=True`` (FOMAML): inner gradients are treated as constants, so
  ``d phi / d theta = I`` and the meta-gradient is the query gradient at ``phi``.

Two interchangeable implementations of the meta-loss:

* ``vectorize=False``: a Python loop over tasks with :func:`torch.autograd.grad`.
* ``vectorize=True``: :func:`torch.func.grad` for the inner loop and :func:`torch.func.vmap` over
  the tasks of the batch (all tasks must have the same number of support/query examples). The
  per-task meta-gradients are computed inside the vmap, ``vmap(grad(task_meta_loss))``, and then
  averaged; see :func:`_vmap_meta_loss` for why not ``grad(vmap(...))``.

Both give the same numbers (tested). Which one is faster depends on the model and the device; on
CPU, ``benchmarks/maml_step.py`` measures both. :data:`DEFAULT_VECTORIZE` holds the measured winner.

Shapes: a task batch holds ``support_x [T, Ns, ...]``, ``support_y [T, Ns, ...]``,
``query_x [T, Nq, ...]``, ``query_y [T, Nq, ...]``; a single task drops the leading ``T``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from course_lib.nets import params_of

Params = dict[str, Tensor]
LossFn = Callable[[Tensor, Tensor], Tensor]

# Measured on CPU (torch 2.13, quiet 2-core x86_64 machine, benchmarks/maml_step.py, round-robin
# medians of 30 steps):
# * sinusoid MLP 1-40-40-1, 25 tasks: vmap 4-6 ms per meta-step (chapter 02), the task loop about
#   ten times slower -> vmap;
# * Conv-4, 5-way 1-shot: with 2 threads vmap is fastest at 8 tasks (99 vs 111 ms) and even at 4
#   (55-60 vs 57-59 ms); with 1 thread the loop wins (8 tasks: 140-146 vs 169-182 ms), because
#   vmap(grad(...)) materialises per-task gradients [T, ...] of every parameter.
# So vmap is the default, and the Omniglot experiments pass ``vectorize=False``
# (``course_lib.gbml_experiments.train_omniglot``). Re-measure on your hardware.
DEFAULT_VECTORIZE = True


# --------------------------------------------------------------------------------------------
# argument checks (clear errors instead of silent nonsense)
# --------------------------------------------------------------------------------------------
def check_inner_args(inner_lr: float, inner_steps: int) -> None:
    """Raise ``ValueError`` for a negative/non-finite step size or fewer than one inner step."""
    if isinstance(inner_steps, bool) or not isinstance(inner_steps, int):
        raise ValueError(f"inner_steps must be an int >= 1, got {inner_steps!r}")
    if inner_steps < 1:
        raise ValueError(
            f"inner_steps must be >= 1, got {inner_steps}. With zero inner steps there is no "
            "adaptation and MAML reduces to ordinary training on the query sets; evaluate the "
            "unadapted model directly instead."
        )
    lr = float(inner_lr)
    if not lr == lr or lr in (float("inf"), float("-inf")) or lr < 0:
        raise ValueError(
            f"inner_lr must be a finite number >= 0, got {inner_lr!r}. A negative step size would "
            "climb the support loss instead of descending it."
        )


def check_task(support_x: Tensor, support_y: Tensor, query_x: Tensor | None = None,
               query_y: Tensor | None = None, *, batched: bool = False) -> None:
    """Raise ``ValueError`` when examples and targets (or tasks) do not line up."""
    pairs = [("support", support_x, support_y)]
    if query_x is not None or query_y is not None:
        if query_x is None or query_y is None:
            raise ValueError("query_x and query_y must be given together")
        pairs.append(("query", query_x, query_y))
    dim = 1 if batched else 0
    for name, x, y in pairs:
        if x.dim() <= dim or y.dim() <= dim:
            raise ValueError(
                f"{name}_x {tuple(x.shape)} / {name}_y {tuple(y.shape)}: expected "
                f"{'[T, N, ...]' if batched else '[N, ...]'} tensors"
            )
        if x.shape[: dim + 1] != y.shape[: dim + 1]:
            raise ValueError(
                f"{name}_x has shape {tuple(x.shape)} but {name}_y has shape {tuple(y.shape)}: "
                f"the first {dim + 1} dimension(s) ({'tasks, ' if batched else ''}examples) must match"
            )
    if batched and query_x is not None and support_x.shape[0] != query_x.shape[0]:
        raise ValueError(
            f"support has {support_x.shape[0]} tasks but query has {query_x.shape[0]} tasks"
        )


def _check_params(model: nn.Module, params: Params) -> None:
    names = {n for n, _ in model.named_parameters()}
    missing = names - set(params)
    if missing:
        raise ValueError(f"params is missing {sorted(missing)[:3]}... of the model's parameters")


# --------------------------------------------------------------------------------------------
# building blocks
# --------------------------------------------------------------------------------------------
def task_loss(model: nn.Module, params: Params, x: Tensor, y: Tensor, loss_fn: LossFn) -> Tensor:
    """``loss_fn(model_params(x), y)``: the loss of the model evaluated with ``params`` (scalar)."""
    return loss_fn(functional_call(model, params, (x,)), y)


def sgd_update(params: Params, grads: Params | Sequence[Tensor], lr: float) -> Params:
    """One plain gradient step ``p - lr * g`` for every entry (a new dict; nothing is mutated)."""
    if not isinstance(grads, dict):
        grads = dict(zip(params, grads))
    return {name: p - lr * grads[name] for name, p in params.items()}


def adapt(
    model: nn.Module,
    params: Params,
    support_x: Tensor,
    support_y: Tensor,
    *,
    loss_fn: LossFn,
    inner_lr: float,
    inner_steps: int = 1,
    first_order: bool = False,
) -> Params:
    """The inner loop: ``inner_steps`` steps of gradient descent on one task's support loss.

    Args:
        params: starting point ``theta`` (e.g. ``params_of(model)``); tensors that require grad
            keep their autograd path, so the returned ``phi`` is differentiable w.r.t. them.
        support_x: ``[N, ...]`` inputs; support_y: ``[N, ...]`` targets of the same task.
        first_order: if True the inner gradients are constants (FOMAML), else they are
            differentiable (``create_graph=True``), which is what second-order MAML needs.

    Returns: the adapted parameters ``phi`` as a new dict (``params`` is not modified).

    If ``params`` do not require grad (plain fine-tuning at test time) they are made leaf tensors
    that do, and the result is detached.
    """
    check_inner_args(inner_lr, inner_steps)
    check_task(support_x, support_y)
    _check_params(model, params)
    tracked = any(p.requires_grad for p in params.values())
    if not tracked:
        params = {n: p.detach().requires_grad_(True) for n, p in params.items()}
    create_graph = tracked and not first_order
    for _ in range(inner_steps):
        with torch.enable_grad():
            loss = task_loss(model, params, support_x, support_y, loss_fn)
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
        params = sgd_update(params, grads, inner_lr)
        if not tracked:
            params = {n: p.detach().requires_grad_(True) for n, p in params.items()}
    if not tracked:
        params = {n: p.detach() for n, p in params.items()}
    return params


def _loop_task_losses(model, params, sx, sy, qx, qy, loss_fn, inner_lr, inner_steps, first_order):
    """Each task's query loss after adapting to its support set, one task at a time.

    A generator, so that a caller can back-propagate one task's loss (and free its graph) before
    the next task's graph is built (see :func:`maml_step`).
    """
    for i in range(sx.shape[0]):
        phi = adapt(model, params, sx[i], sy[i], loss_fn=loss_fn, inner_lr=inner_lr,
                    inner_steps=inner_steps, first_order=first_order)
        yield task_loss(model, phi, qx[i], qy[i], loss_fn)


def _loop_meta_loss(model, params, sx, sy, qx, qy, loss_fn, inner_lr, inner_steps, first_order):
    return torch.stack(list(_loop_task_losses(model, params, sx, sy, qx, qy, loss_fn, inner_lr, inner_steps,
                                              first_order)))


def _vmap_meta_loss(model, params, sx, sy, qx, qy, loss_fn, inner_lr, inner_steps, first_order):
    """Per-task query losses ``[T]``; their gradient w.r.t. ``params`` comes from ``vmap(grad(...))``.

    The per-task meta-gradients are computed *inside* the vmap (``vmap(grad_and_value(task))``) and
    handed to autograd through :class:`_PerTaskGradients`. Differentiating *through* a vmapped
    inner loop from outside (``grad(vmap(...))`` or ``.backward()`` on a vmapped result) gave
    second-order terms that were off by about 1 % for Conv-4 with BatchNorm (torch 2.13, float64,
    checked against finite differences); ``vmap(grad(...))`` matches them.
    """
    names = list(params)

    def support_loss(p, x, y):
        return task_loss(model, p, x, y, loss_fn)

    def one_task(p, x_s, y_s, x_q, y_q):
        phi = p
        for _ in range(inner_steps):
            g = grad(support_loss)(phi, x_s, y_s)
            if first_order:
                g = {n: t.detach() for n, t in g.items()}
            phi = sgd_update(phi, g, inner_lr)
        return task_loss(model, phi, x_q, y_q, loss_fn)

    def compute(detached):
        grads, losses = vmap(torch.func.grad_and_value(one_task), in_dims=(None, 0, 0, 0, 0),
                             randomness="same")(detached, sx, sy, qx, qy)
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
        grads = ctx.saved_tensors
        out = [torch.tensordot(grad_losses, g, dims=1) for g in grads]  # sum_t w_t * grad_t
        return (None, None, *out)


def _checked_batch(model, params, batch, inner_lr, inner_steps):
    """Validate the inner-loop settings, the task batch and ``params``; return ``(sx, sy, qx, qy)``."""
    check_inner_args(inner_lr, inner_steps)
    sx, sy, qx, qy = batch.support_x, batch.support_y, batch.query_x, batch.query_y
    check_task(sx, sy, qx, qy, batched=True)
    _check_params(model, params)
    return sx, sy, qx, qy


def meta_loss(
    model: nn.Module,
    params: Params,
    batch,
    *,
    loss_fn: LossFn,
    inner_lr: float,
    inner_steps: int = 1,
    first_order: bool = False,
    vectorize: bool | None = None,
    reduce: bool = True,
) -> Tensor:
    """The MAML objective ``mean_i L_query_i(adapt_i(theta))`` for a batch of tasks.

    Args:
        batch: any object with ``support_x [T, Ns, ...]``, ``support_y [T, Ns, ...]``,
            ``query_x [T, Nq, ...]``, ``query_y [T, Nq, ...]`` (e.g. ``episodes.TaskBatch``).
        vectorize: ``True`` = torch.func.vmap over tasks, ``False`` = loop; ``None`` = default.
        reduce: return the mean (scalar) or the per-task query losses ``[T]``.

    Returns: a tensor differentiable w.r.t. ``params`` (second order unless ``first_order``).
    """
    sx, sy, qx, qy = _checked_batch(model, params, batch, inner_lr, inner_steps)
    vectorize = DEFAULT_VECTORIZE if vectorize is None else vectorize
    impl = _vmap_meta_loss if vectorize else _loop_meta_loss
    losses = impl(model, params, sx, sy, qx, qy, loss_fn, inner_lr, inner_steps, first_order)
    return losses.mean() if reduce else losses


def meta_gradient(model: nn.Module, batch, **kwargs) -> Params:
    """``grad_theta`` of :func:`meta_loss` at the model's current parameters, as a dict.

    Keyword arguments are those of :func:`meta_loss`. The model's ``.grad`` fields are untouched.
    """
    params = params_of(model)
    loss = meta_loss(model, params, batch, **kwargs)
    grads = torch.autograd.grad(loss, list(params.values()), allow_unused=True)
    return {n: (torch.zeros_like(p) if g is None else g) for (n, p), g in zip(params.items(), grads)}


def maml_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batch,
    *,
    loss_fn: LossFn,
    inner_lr: float,
    inner_steps: int = 1,
    first_order: bool = False,
    vectorize: bool | None = None,
) -> dict[str, float]:
    """One meta-training step: meta-loss, backward, ``optimizer.step()``. Returns ``{"loss": ...}``.

    With the task loop (``vectorize=False``) each task's share of the meta-loss, ``L_i / T``, is
    back-propagated as soon as it is computed: the gradients add up to those of the mean, but only
    one task's graph is alive at a time (less memory, and faster on a CPU).
    """
    vectorize = DEFAULT_VECTORIZE if vectorize is None else vectorize
    optimizer.zero_grad(set_to_none=True)
    params = params_of(model)
    if vectorize:
        loss = meta_loss(model, params, batch, loss_fn=loss_fn, inner_lr=inner_lr,
                         inner_steps=inner_steps, first_order=first_order, vectorize=True)
        loss.backward()
        value = float(loss.detach())
    else:
        sx, sy, qx, qy = _checked_batch(model, params, batch, inner_lr, inner_steps)
        value = 0.0
        for task_query_loss in _loop_task_losses(model, params, sx, sy, qx, qy, loss_fn, inner_lr,
                                                 inner_steps, first_order):
            share = task_query_loss / sx.shape[0]
            share.backward()
            value += float(share.detach())
    optimizer.step()
    return {"loss": value}


# --------------------------------------------------------------------------------------------
# evaluation: adapt on support, measure on query after several numbers of steps
# --------------------------------------------------------------------------------------------
def batched_fine_tune(model, params, support_x, support_y, loss_fn, inner_lr, inner_steps, params_batched):
    """Plain fine-tuning (no graph) of every task of a batch at once: ``{name: [T, ...]}``."""
    def support_loss(p, x, y):
        return task_loss(model, p, x, y, loss_fn)

    def one_task(p, x, y):
        for _ in range(inner_steps):
            g = grad(support_loss)(p, x, y)
            p = {n: p[n] - inner_lr * g[n] for n in p}
        return p

    if not params_batched:  # one copy per task, as views: vmap over batched weights is faster (Conv-4, CPU)
        params = {n: p.expand(support_x.shape[0], *p.shape) for n, p in params.items()}
    with torch.no_grad():
        return vmap(one_task, randomness="same")(params, support_x, support_y)


def evaluate_adaptation(
    model: nn.Module,
    params: Params,
    tasks,
    *,
    loss_fn: LossFn,
    inner_lr: float,
    steps: Sequence[int] = (0, 1, 5, 10),
    metric_fn: Callable[[Tensor, Tensor], float] | None = None,
    chunk_size: int = 100,
) -> dict[int, list[float]]:
    """Fine-tune from ``params`` on each task's support set and score its query set.

    Args:
        tasks: a task batch (``support_x [T, Ns, ...]``, ``support_y``, ``query_x [T, Nq, ...]``,
            ``query_y``; adapted ``chunk_size`` tasks at a time with vmap) or an iterable of
            single tasks (``support_x [Ns, ...]``, ...; adapted one by one).
        steps: numbers of inner steps after which to score (0 = before adaptation).
        metric_fn: ``metric(prediction [Nq, ...], target [Nq, ...]) -> float``; default ``loss_fn``.

    Returns: ``{steps: [score per task]}``, ready for ``metrics.mean_ci``.
    """
    steps = sorted(set(int(s) for s in steps))
    if not steps or steps[0] < 0:
        raise ValueError(f"steps must be non-negative integers, got {steps}")
    check_inner_args(inner_lr, max(1, steps[-1]))
    metric_fn = metric_fn or loss_fn
    theta = {n: p.detach() for n, p in params.items()}
    scores: dict[int, list[float]] = {s: [] for s in steps}
    if hasattr(tasks, "support_x"):  # a batch: vmap over chunks of tasks
        check_task(tasks.support_x, tasks.support_y, tasks.query_x, tasks.query_y, batched=True)
        for lo in range(0, tasks.support_x.shape[0], chunk_size):
            sl = slice(lo, lo + chunk_size)
            sx, sy, qx, qy = tasks.support_x[sl], tasks.support_y[sl], tasks.query_x[sl], tasks.query_y[sl]
            phi, done = theta, 0
            for s in steps:
                if s > done:
                    phi = batched_fine_tune(model, phi, sx, sy, loss_fn, inner_lr, s - done, done > 0)
                    done = s
                with torch.no_grad():
                    if done == 0:
                        preds = vmap(lambda x: functional_call(model, theta, (x,)), randomness="same")(qx)
                    else:
                        preds = vmap(lambda p, x: functional_call(model, p, (x,)), randomness="same")(phi, qx)
                scores[s].extend(float(metric_fn(preds[i], qy[i])) for i in range(qx.shape[0]))
        return scores
    for task in tasks:
        phi, done = theta, 0
        for s in steps:
            if s > done:
                phi = adapt(model, phi, task.support_x, task.support_y, loss_fn=loss_fn,
                            inner_lr=inner_lr, inner_steps=s - done)
                done = s
            with torch.no_grad():
                scores[s].append(float(metric_fn(functional_call(model, phi, (task.query_x,)), task.query_y)))
    return scores
