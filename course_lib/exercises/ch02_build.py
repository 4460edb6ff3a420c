"""Checks of the MAML code the learner writes in chapter 02, against the library, with the typical
mistakes named: Exercise 2.3 (one differentiable inner step) and Exercise 2.6, "Build it yourself"
(MAML's meta-loss against :func:`course_lib.algorithms.maml.meta_loss`, value and meta-gradient).
Re-exported by :mod:`course_lib.exercises.ch02`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from course_lib.adaptation import adapt, task_loss
from course_lib.algorithms import maml
from course_lib.data.episodes import TaskBatch
from course_lib.exercises._core import _compare, _correct, _wrong, not_attempted
from course_lib.i18n import tr
from course_lib.nets import MLP

__all__ = ["check_differentiable_adapt", "check_meta_loss", "meta_gradient_of", "meta_loss_cases"]


# ---------------------------------------------------------------- Exercise 2.3
def meta_gradient_of(model: nn.Module, adapted, query_x, query_y) -> dict:
    """``{name: grad or None}`` of the query loss of ``adapted`` (module or params dict) w.r.t. ``model``."""
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
    """A 1-20-1 tanh MLP and one sinusoid task: support and query ``x, y`` of shape ``[10, 1]`` each."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():  # leave the notebook's random state alone
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(1, 20), nn.Tanh(), nn.Linear(20, 1))
    x = torch.rand(20, 1, generator=g) * 10 - 5
    y = 3 * torch.sin(x - 1.0)
    return model, x[:10], y[:10], x[10:], y[10:]


def check_differentiable_adapt(fn) -> bool:
    """``fn(model, params, support_x, support_y, inner_lr) -> params dict`` after ONE differentiable step."""
    name = tr("Exercise {number}", number="2.3")
    hint = tr("compute grads = torch.autograd.grad(loss, list(params.values()), create_graph=True) and return "
              "{code}; no deepcopy, no optimizer", code="{n: p - inner_lr * g for (n, p), g in zip(params.items(), grads)}")
    if fn is None:
        return not_attempted(name, hint)
    model, sx, sy, qx, qy = _regression_case()
    try:
        phi = fn(model, dict(model.named_parameters()), sx, sy, 0.01)
    except Exception as err:
        return _wrong(name, tr("calling it raised {error}: {err}", error=type(err).__name__, err=err), hint)
    if phi is None:
        return not_attempted(name, hint)
    if isinstance(phi, nn.Module):
        return _wrong(name, tr("it returns a module; return the adapted parameters as a dict"), hint)
    reference = adapt(model, dict(model.named_parameters()), sx, sy, loss_fn=F.mse_loss, update=0.01)
    for n, p in reference.items():
        if n not in phi or phi[n].shape != p.shape or not torch.allclose(phi[n], p, atol=1e-6):
            return _wrong(name, tr("the adapted value of {n!r} is not one SGD step on the support MSE", n=n), hint)
    grads = meta_gradient_of(model, phi, qx, qy)
    if any(g is None for g in grads.values()):
        return _wrong(name, tr("the meta-gradient is None: the adapted parameters are cut off from the model's "
                               "parameters (detach/clone/deepcopy/no_grad somewhere?)"), hint)
    batch = TaskBatch(sx[None], sy[None], qx[None], qy[None])
    expected = maml.meta_gradient(model, batch, loss_fn=F.mse_loss, inner_lr=0.01)
    first_order = maml.meta_gradient(model, batch, loss_fn=F.mse_loss, inner_lr=0.01, first_order=True)
    for n, g in grads.items():
        if not torch.allclose(g, expected[n], rtol=1e-4, atol=1e-6):
            if torch.allclose(g, first_order[n], atol=1e-6):
                return _wrong(name, tr("the gradient is the first-order one: the inner gradient needs "
                                       "create_graph=True for the Hessian term"), hint)
            return _wrong(name, tr("the meta-gradient of {n!r} differs from MAML's", n=n), hint)
    return _correct(name, tr("the query loss now has a path back to the initial parameters"))



# ---------------------------------------------------------------- Exercise 2.6 (build it yourself): the MAML meta-loss
class _Rule:
    """A (wrong) inner update ``step(name, p, g) -> new p`` for :func:`adapt`, to recognise mistakes."""

    def __init__(self, step):
        self.step = step

    def init(self, params):
        return None

    def __call__(self, params, grads, state):
        return {n: self.step(n, p, grads[n]) for n, p in params.items()}, state


def _variant(model, params, batch, update, steps: int, on_query: bool = True) -> torch.Tensor:
    """Mean over tasks of the loss after ``steps`` steps of ``update`` (0 = no adaptation), no graph."""
    losses = []
    with torch.no_grad():
        for i in range(batch.support_x.shape[0]):
            sx, sy = batch.support_x[i], batch.support_y[i]
            phi = params if not steps else adapt(model, params, sx, sy, loss_fn=F.mse_loss, steps=steps,
                                                 update=update)
            x, y = (batch.query_x[i], batch.query_y[i]) if on_query else (sx, sy)
            losses.append(task_loss(model, phi, x, y, F.mse_loss))
    return torch.stack(losses).mean()


def meta_loss_cases(seed: int = 25) -> list[tuple]:
    """Test cases ``(model, batch, inner_lr, inner_steps, first_order)``: a float64 2-16-1 tanh MLP and
    4 regression tasks (``support_x [4, 5, 2]``, ``query_x [4, 8, 2]``); second/first order, 1/2 steps."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng():  # leave the notebook's random state alone
        torch.manual_seed(seed)
        model = MLP((2, 16, 1), activation=nn.Tanh).double()
    cases = []
    for inner_steps, first_order in [(1, False), (2, False), (1, True), (2, True)]:
        x = torch.rand(4, 13, 2, generator=g, dtype=torch.float64) * 4 - 2
        w = torch.randn(4, 2, 1, generator=g, dtype=torch.float64)
        y = 2 * torch.sin(x @ w) + 0.5 * torch.randn(4, 1, 1, generator=g, dtype=torch.float64)
        batch = TaskBatch(x[:, :5], y[:, :5], x[:, 5:], y[:, 5:])
        cases.append((model, batch, 0.3, inner_steps, first_order))
    return cases


def _diagnose_value(value, model, theta, batch, lr, steps, reference) -> str | None:
    """Name the typical mistake whose meta-loss equals ``value``; None if none does."""
    tasks = batch.support_x.shape[0]
    mistakes = [
        (tasks * reference, tr("it is the SUM of the {tasks} task losses: average over the tasks (.mean())",
                               tasks=tasks)),
        (_variant(model, theta, batch, lr, steps, on_query=False),
         tr("it is the SUPPORT loss after adaptation: MAML scores the adapted parameters on the QUERY set")),
        (_variant(model, theta, batch, _Rule(lambda n, p, g: p + lr * g), steps),
         tr("the inner step goes UP the support loss: phi = p - inner_lr * g (a minus sign)")),
        (_variant(model, theta, batch, lr, 0), tr("it is the query loss BEFORE adaptation: no inner step used")),
    ]
    if steps > 1:
        mistakes += [
            (_variant(model, theta, batch, lr, 1), tr("only ONE inner step was taken, {steps} were asked", steps=steps)),
            (_variant(model, theta, batch, _Rule(lambda n, p, g: theta[n] - lr * g), steps),
             tr("every step restarts from params: step j+1 must start from phi_j, the result of step j")),
        ]
    return next((message for loss, message in mistakes if _compare(value, loss, 1e-6, 1e-9) is None), None)


def _meta_gradient(loss, theta) -> tuple[torch.Tensor, list[str]]:
    """``d loss / d theta`` flattened (zeros where there is no path), and the names with no path."""
    grads = torch.autograd.grad(loss, list(theta.values()), allow_unused=True) if loss.requires_grad else None
    grads = grads or [None] * len(theta)
    flat = [(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, theta.values())]
    flat = torch.cat(flat)
    return flat, [n for n, g in zip(theta, grads) if g is None]


def _check_meta_loss_case(fn, case, label: str) -> str | None:
    """What is wrong with ``fn`` on one test case (None: value and meta-gradient are right)."""
    model, batch, lr, steps, first_order = case
    theta = {n: p.detach().clone().requires_grad_(True) for n, p in model.named_parameters()}
    before = {n: p.detach().clone() for n, p in theta.items()}
    value = fn(model, theta, batch, F.mse_loss, lr, steps, first_order=first_order)
    if value is None:
        return tr("it returned None (forgot a `return`?)")
    if any(not torch.equal(theta[n].detach(), before[n]) for n in theta):
        return tr("it changed params in place: build NEW tensors phi = {code}; never p.data -= ..., p.sub_(...) or "
                  "optimizer.step() on the initialisation", code="{n: p - inner_lr * g}")
    if not isinstance(value, torch.Tensor):
        return tr("it returned a {kind}: return the loss TENSOR (no .item()), the outer step needs its graph",
                  kind=type(value).__name__)
    if value.numel() == batch.support_x.shape[0] > 1:
        return tr("it returned one loss per task (shape {shape}): average them (.mean())", shape=list(value.shape))
    settings = {"loss_fn": F.mse_loss, "inner_lr": lr, "inner_steps": steps}
    reference = maml.meta_loss(model, theta, batch, first_order=first_order, **settings)
    problem = _compare(value, reference, rtol=1e-6, atol=1e-9, what=tr("the meta-loss"))
    if problem is not None:
        problem = _diagnose_value(value, model, theta, batch, lr, steps, reference) or problem
        return tr("{label}: {problem}", label=label, problem=problem)
    grad, missing = _meta_gradient(value, theta)
    if missing:
        return tr("{label}: the meta-gradient w.r.t. params is None for {which}: the query loss has no path back "
                  "to params (copy.deepcopy, model(x) instead of functional_call(model, phi, (x,)), .detach() or "
                  "torch.no_grad() on phi). Even first-order MAML keeps phi = params - inner_lr * g; only g is a "
                  "constant", label=label, which=missing if len(missing) < len(theta) else tr("all of them"))
    expected = _meta_gradient(reference, theta)[0]
    if _compare(grad, expected, 1e-5, 1e-9) is None:
        return None
    other = maml.meta_loss(model, theta, batch, first_order=not first_order, **settings)
    other = _meta_gradient(other, theta)[0]
    if _compare(grad, other, 1e-5, 1e-9) is None and first_order:
        return tr("{label}: the meta-gradient is the SECOND-order one although first_order=True was asked: take "
                  "the inner gradients with create_graph=not first_order", label=label)
    if _compare(grad, other, 1e-5, 1e-9) is None:
        return tr("{label}: the meta-gradient is the FIRST-order one although second order was asked: the Hessian "
                  "term is missing. Take the inner gradients with torch.autograd.grad(..., create_graph=True) and "
                  "do not detach them", label=label)
    return tr("{label}: the value is right but {problem}", label=label,
              problem=_compare(grad, expected, 1e-5, 1e-9, tr("the meta-gradient")))


def check_meta_loss(fn) -> bool:
    """``fn(model, params, batch, loss_fn, inner_lr, inner_steps, first_order=False) -> scalar``.

    Compares the value and the meta-gradient w.r.t. ``params`` with :func:`maml.meta_loss` on
    :func:`meta_loss_cases`; names the typical mistakes. Returns True when both match everywhere.
    """
    name = tr("Exercise 2.6 (build it yourself): my_meta_loss")
    hint = tr("per task: phi = params; inner_steps times phi = {code}, g the gradients of the SUPPORT loss "
              "(create_graph=not first_order); then the QUERY loss of phi; the mean over tasks", code="{n: p - inner_lr * g}")
    if fn is None:
        return not_attempted(name, hint)
    for i, case in enumerate(meta_loss_cases()):
        label = (tr("test case {i} ({steps} inner step(s), first order)", i=i, steps=case[3]) if case[4]
                 else tr("test case {i} ({steps} inner step(s), second order)", i=i, steps=case[3]))
        try:
            problem = _check_meta_loss_case(fn, case, label)
        except NotImplementedError:
            return not_attempted(name, hint)
        except Exception as err:  # report the learner's error instead of raising it in the check cell
            return _wrong(name, tr("{label} raised {error}: {err}", label=label, error=type(err).__name__, err=err),
                          hint)
        if problem is not None:
            first_stub = i == 0 and problem == tr("it returned None (forgot a `return`?)")
            return not_attempted(name, hint) if first_stub else _wrong(name, problem, hint)
    return _correct(name, tr("value and meta-gradient match maml.meta_loss (second and first order, 1 and 2 inner "
                             "steps)"))
