"""Checks for chapter 02 (MAML): the linear meta-gradient, two "find the bug" exercises, FOMAML's error."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from course_lib.adaptation import adapt
from course_lib.algorithms import maml
from course_lib.analysis import linear_maml
from course_lib.exercises._core import _correct, _wrong, check_close, check_function, not_attempted

__all__ = [
    "check_linear_meta_gradient",
    "adapt_by_copy",
    "meta_gradient_of",
    "check_differentiable_adapt",
    "buggy_take_batches",
    "check_take_batches",
    "check_fomaml_error_ratio",
]


# ---------------------------------------------------------------- Exercise 2.1
def check_linear_meta_gradient(fn) -> bool:
    """``fn(w [d], xs [n, d], ys [n], xq [m, d], yq [m], alpha) -> [d]``: the exact one-step meta-gradient."""
    g = torch.Generator().manual_seed(21)
    cases = []
    for d, n, m, alpha in [(2, 4, 6, 0.1), (3, 5, 5, 0.05), (4, 8, 3, 0.3)]:
        xs, ys, xq, yq, mu = linear_maml.random_linear_tasks(1, n, m, d, generator=g)
        cases.append((mu, xs[0], ys[0], xq[0], yq[0], alpha))
    hint = ("A = (2/n) X^T X and b = (2/n) X^T y; w' = w - alpha (A_s w - b_s); the meta-gradient is "
            "(I - alpha A_s)(A_q w' - b_q)")
    if fn is not None:
        try:
            value = fn(*cases[0])
        except Exception:  # reported by check_function below
            value = None
        if value is not None:
            first_order = linear_maml.meta_gradient(*cases[0], first_order=True)
            if torch.allclose(torch.as_tensor(value, dtype=torch.float64), first_order, atol=1e-9):
                return _wrong("Exercise 2.1", "this is the first-order (FOMAML) gradient: the factor "
                              "(I - alpha A_s) from differentiating w' with respect to w is missing", hint)
    return check_function("Exercise 2.1", fn, linear_maml.meta_gradient, cases, rtol=1e-8, atol=1e-10, hint=hint)


# ---------------------------------------------------------------- Exercise 2.2 (find the bug)
def adapt_by_copy(model: nn.Module, support_x, support_y, inner_lr: float, inner_steps: int = 1) -> nn.Module:
    """A BUGGY inner loop (the kind found in many tutorials): deep-copy the model, step an optimizer.

    It adapts fine, but the returned model's parameters are new leaf tensors: the query loss has
    no path back to ``model``'s parameters, so the meta-gradient is silently missing.
    """
    learner = copy.deepcopy(model)
    optimizer = torch.optim.SGD(learner.parameters(), lr=inner_lr)
    for _ in range(inner_steps):
        optimizer.zero_grad()
        F.mse_loss(learner(support_x), support_y).backward()
        optimizer.step()
    return learner


def meta_gradient_of(model: nn.Module, adapted, query_x, query_y) -> dict:
    """``{name: grad or None}`` of the query loss of ``adapted`` (a module or a params dict) w.r.t. ``model``."""
    for p in model.parameters():
        p.grad = None
    if isinstance(adapted, nn.Module):
        prediction = adapted(query_x)
    else:
        prediction = functional_call(model, adapted, (query_x,))
    loss = F.mse_loss(prediction, query_y)
    if loss.requires_grad:
        loss.backward()
    return {n: (None if p.grad is None else p.grad.clone()) for n, p in model.named_parameters()}


def _regression_case(seed=22):
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, 20), nn.Tanh(), nn.Linear(20, 1))
    x = torch.rand(20, 1, generator=g) * 10 - 5
    y = 3 * torch.sin(x - 1.0)
    return model, x[:10], y[:10], x[10:], y[10:]


def check_differentiable_adapt(fn) -> bool:
    """``fn(model, params, support_x, support_y, inner_lr) -> params dict`` after ONE differentiable step."""
    name = "Exercise 2.2"
    hint = ("compute grads = torch.autograd.grad(loss, list(params.values()), create_graph=True) and return "
            "{n: p - inner_lr * g for (n, p), g in zip(params.items(), grads)}; no deepcopy, no optimizer")
    if fn is None:
        return not_attempted(name, hint)
    model, sx, sy, qx, qy = _regression_case()
    try:
        phi = fn(model, dict(model.named_parameters()), sx, sy, 0.01)
    except Exception as err:
        return _wrong(name, f"calling it raised {type(err).__name__}: {err}", hint)
    if phi is None:
        return not_attempted(name, hint)
    if isinstance(phi, nn.Module):
        return _wrong(name, "it returns a module; return the adapted parameters as a dict", hint)
    reference = adapt(model, dict(model.named_parameters()), sx, sy, loss_fn=F.mse_loss, update=0.01)
    for n, p in reference.items():
        if n not in phi or phi[n].shape != p.shape or not torch.allclose(phi[n], p, atol=1e-6):
            return _wrong(name, f"the adapted value of {n!r} is not one SGD step on the support MSE", hint)
    grads = meta_gradient_of(model, phi, qx, qy)
    if any(g is None for g in grads.values()):
        return _wrong(name, "the meta-gradient is None: the adapted parameters are cut off from the model's "
                      "parameters (detach/clone/deepcopy/no_grad somewhere?)", hint)
    expected = maml.meta_gradient(model, _as_batch(sx, sy, qx, qy), loss_fn=F.mse_loss, inner_lr=0.01, vectorize=False)
    for n, g in grads.items():
        if not torch.allclose(g, expected[n], rtol=1e-4, atol=1e-6):
            if torch.allclose(g, maml.meta_gradient(model, _as_batch(sx, sy, qx, qy), loss_fn=F.mse_loss,
                                                    inner_lr=0.01, first_order=True, vectorize=False)[n], atol=1e-6):
                return _wrong(name, "the gradient is the first-order one: the inner gradient needs "
                              "create_graph=True for the Hessian term", hint)
            return _wrong(name, f"the meta-gradient of {n!r} differs from MAML's", hint)
    return _correct(name, "the query loss now has a path back to the initial parameters")


def _as_batch(sx, sy, qx, qy):
    from course_lib.data.episodes import TaskBatch

    return TaskBatch(sx[None], sy[None], qx[None], qy[None])


# ---------------------------------------------------------------- Exercise 2.3 (find the bug)
def buggy_take_batches(task_stream, num_steps: int):
    """A BUGGY training-loop skeleton: the loop variable ``iter`` shadows the builtin ``iter``."""
    batches = []
    for iter in range(num_steps):  # noqa: B007 - this line IS the bug the exercise is about
        batches.append(next(iter(task_stream)))  # 'int' object is not callable
    return batches


def check_take_batches(fn) -> bool:
    """``fn(task_stream, num_steps) -> list`` of the first ``num_steps`` items of ``iter(task_stream)``."""
    name = "Exercise 2.3"
    hint = "rename the loop variable (e.g. `step`) so that `iter` is the builtin again, and create the iterator once"
    stream = list(range(100, 110))  # stand-ins for task batches
    return check_function(name, (lambda s, n: fn(s, n)) if fn is not None else None,
                          lambda s, n: list(s[:n]), [(stream, 3), (stream, 1), (stream, 7)],
                          hint=hint) if fn is not None else not_attempted(name, hint)


# ---------------------------------------------------------------- Exercise 2.4
def check_fomaml_error_ratio(answer) -> bool:
    """FOMAML's dropped term is ``-alpha A_s (...)``: halving ``alpha`` roughly halves the error (ratio 2)."""
    hint = ("the dropped term is alpha * A_s (A_q w' - b_q); w' changes only a little with alpha, so the term "
            "is proportional to alpha")
    if answer is not None and abs(float(answer) - 4.0) < 0.3:
        return _wrong("Exercise 2.4", "4 would mean the error is quadratic in alpha; look at the formula: one factor of alpha", hint)
    return check_close("Exercise 2.4", answer, 2.0, rtol=0.1, hint=hint)
