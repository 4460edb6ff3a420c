"""The inner loop shared by every gradient-based method: adapt a parameter dict to one task.

MAML, first-order MAML, Reptile, Meta-SGD, ProtoMAML, ANIL and the per-student models of
chapter 07 all adapt the same way and differ only in *what* they adapt and *how* one step moves::

    phi_0 = params                                  (all of theta, or a part of it: ANIL's head)
    g_j   = grad_phi  loss_fn(f(support_x; phi_j), support_y)
    phi_{j+1}, s_{j+1} = update(phi_j, g_j, s_j)      j = 0 .. steps-1

``update`` is a swappable rule: :class:`SGD` (``phi - lr * g``, MAML and Reptile),
:class:`PerParameterSGD` (``phi - alpha * g`` with a learned ``alpha`` per entry, Meta-SGD),
:class:`Adam` (Nichol et al.'s inner loop for Reptile) or a learned network
(``course_lib.algorithms.learned_optimizer.LearnedUpdate``); ``s`` is the rule's state (``None`` for
the stateless ones). With ``minibatches=True`` step ``j`` uses its own minibatch ``support_x[j]``.

Everything is a pure function of a **parameter dict** ``{name: tensor}``: the model is only used as
an architecture through :func:`torch.func.functional_call`, so nothing is copied or mutated and the
adapted ``phi`` keeps its autograd path back to ``params``:

* ``first_order=False``: the inner gradients are differentiable, so a loss of ``phi`` has the full
  meta-gradient with its Hessian terms (MAML);
* ``first_order=True``: the inner gradients are constants, ``d phi / d params = I`` (FOMAML);
* ``params`` that do not require grad, or a call under ``torch.no_grad()`` (fine-tuning at test
  time): no graph is kept at all and the result is detached.

A partial dict adapts only those entries; every other parameter is the model's own tensor
(fixed during adaptation, still trained by the outer loop). The same function runs inside
:func:`torch.func.vmap` (one task per vmapped slice), where it differentiates with
:func:`torch.func.grad`.

Shapes: ``support_x [N, ...]``, ``support_y [N, ...]`` (one task); ``params`` as the model's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

import torch
from torch import Tensor, nn
from torch.func import functional_call

from course_lib.checks import check_count, check_params, check_step_size, check_task

__all__ = ["Adam", "LossFn", "Params", "PerParameterSGD", "SGD", "UpdateRule", "adapt", "as_update", "task_loss"]

Params = dict[str, Tensor]
LossFn = Callable[[Tensor, Tensor], Tensor]


class UpdateRule(Protocol):
    """One inner step: ``rule(params, grads, state) -> (new params, new state)``; ``rule.init(params)`` -> state."""

    def init(self, params: Params) -> Any: ...

    def __call__(self, params: Params, grads: Params, state: Any) -> tuple[Params, Any]: ...


class SGD:
    """Plain gradient descent with one step size: ``p - lr * g`` for every adapted entry."""

    def __init__(self, lr: float):
        self.lr = check_step_size("inner_lr (the SGD step size)", lr,
                                  "A negative step size would climb the support loss instead of descending it.")

    def init(self, params: Params) -> None:
        return None

    def __call__(self, params: Params, grads: Params, state: None = None) -> tuple[Params, None]:
        return {n: p - self.lr * grads[n] for n, p in params.items()}, state

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr:g})"


class PerParameterSGD:
    """Meta-SGD's rule: ``p - alpha_p * g`` with a step-size tensor ``alpha_p`` per adapted entry.

    ``step_sizes``: ``{name: alpha}``, each broadcastable to its parameter (usually the same shape);
    they may require grad, so that the query loss after adaptation trains them.
    """

    def __init__(self, step_sizes: Mapping[str, Tensor]):
        self.step_sizes = dict(step_sizes)

    def init(self, params: Params) -> None:
        missing = sorted(set(params) - set(self.step_sizes))
        if missing:
            raise ValueError(f"no step size for parameter(s) {missing[:3]}: give one per adapted parameter")
        return None

    def __call__(self, params: Params, grads: Params, state: None = None) -> tuple[Params, None]:
        return {n: p - self.step_sizes[n] * grads[n] for n, p in params.items()}, state

    def __repr__(self) -> str:
        return f"PerParameterSGD({len(self.step_sizes)} step-size tensors)"


class Adam:
    """Adam (Kingma & Ba 2015) as an inner update rule; Nichol et al.'s Reptile uses it with ``beta1 = 0``.

    State ``{"t": step count [], "m": {name: first moment}, "v": {name: second moment}}`` (tensors, so
    that it can be carried through ``vmap``); ``init`` starts every task from zero moments.
    """

    def __init__(self, lr: float, beta1: float = 0.0, beta2: float = 0.999, eps: float = 1e-8):
        self.lr = check_step_size("inner_lr (Adam's step size)", lr)
        self.beta1, self.beta2, self.eps = float(beta1), float(beta2), float(eps)

    def init(self, params: Params) -> dict:
        zeros = {n: torch.zeros_like(p) for n, p in params.items()}
        first = next(iter(params.values()))
        return {"t": torch.zeros((), dtype=first.dtype, device=first.device), "m": zeros, "v": dict(zeros)}

    def __call__(self, params: Params, grads: Params, state: dict) -> tuple[Params, dict]:
        b1, b2, t = self.beta1, self.beta2, state["t"] + 1
        m = {n: b1 * state["m"][n] + (1 - b1) * g for n, g in grads.items()}
        v = {n: b2 * state["v"][n] + (1 - b2) * g * g for n, g in grads.items()}
        new = {n: p - self.lr * (m[n] / (1 - b1**t)) / ((v[n] / (1 - b2**t)).sqrt() + self.eps)
               for n, p in params.items()}
        return new, {"t": t, "m": m, "v": v}

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr:g}, beta1={self.beta1:g}, beta2={self.beta2:g})"


def as_update(update: UpdateRule | float) -> UpdateRule:
    """A rule as given, or ``SGD(update)`` for a number (the common case ``update=inner_lr``)."""
    if isinstance(update, (int, float)) and not isinstance(update, bool):
        return SGD(update)
    if not callable(update) or not hasattr(update, "init"):
        raise ValueError(f"update must be an update rule (SGD(lr), PerParameterSGD(...), ...) or a step size, "
                         f"got {update!r}")
    return update


def task_loss(model: nn.Module, params: Mapping[str, Tensor], x: Tensor, y: Tensor, loss_fn: LossFn) -> Tensor:
    """``loss_fn(f(x; params), y)``: the loss of ``model`` evaluated with ``params`` (a scalar)."""
    return loss_fn(functional_call(model, dict(params), (x,)), y)


def _inside_function_transform() -> bool:
    """True inside ``torch.func.vmap``/``grad``, where ``torch.autograd.grad`` cannot be used."""
    return torch._C._functorch.maybe_current_level() is not None


def _gradients(model, params: Params, x, y, loss_fn, create_graph: bool) -> Params:
    """``grad_params loss_fn(f(x; params), y)`` as a dict (differentiable if ``create_graph``)."""
    if _inside_function_transform():
        return torch.func.grad(lambda p: task_loss(model, p, x, y, loss_fn))(params)
    with torch.enable_grad():
        loss = task_loss(model, params, x, y, loss_fn)
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=create_graph)
    return dict(zip(params, grads))


def adapt(
    model: nn.Module,
    params: Mapping[str, Tensor],
    support_x: Tensor,
    support_y: Tensor,
    *,
    loss_fn: LossFn,
    steps: int = 1,
    update: UpdateRule | float,
    first_order: bool = False,
    minibatches: bool = False,
) -> Params:
    """The inner loop: ``steps`` steps of ``update`` on one task's support loss.

    Args:
        model: the architecture (its own tensors are used for the parameters not in ``params``).
        params: the starting point ``{name: tensor}``: all of the model's parameters
            (``params_of(model)``) or some of them (e.g. only the head).
        support_x: ``[N, ...]`` inputs; support_y: ``[N, ...]`` targets of the same task.
        loss_fn: ``loss_fn(prediction, target) -> scalar``.
        steps: number of inner steps (>= 1).
        update: an update rule (:class:`SGD`, :class:`PerParameterSGD`, a learned rule) or a number,
            which means ``SGD(number)``.
        first_order: treat the inner gradients as constants (FOMAML) instead of differentiating
            through them (MAML).
        minibatches: ``support_x [steps, b, ...]``, ``support_y [steps, b, ...]``: step ``j`` on the
            minibatch ``j`` only (each inner step sees different examples, as in Reptile).

    Returns: the adapted parameters ``phi``, a new dict with the keys of ``params``.
    """
    check_count("steps", steps, 1, "With zero inner steps there is no adaptation: use params as they are.")
    check_task(support_x, support_y, batched=minibatches)
    if minibatches and support_x.shape[0] != steps:
        raise ValueError(f"minibatches=True needs one minibatch per step: {support_x.shape[0]} minibatches for "
                         f"{steps} steps")
    batches = list(zip(support_x.unbind(0), support_y.unbind(0))) if minibatches else [(support_x, support_y)] * steps
    check_params(model, params)
    rule = as_update(update)
    phi = dict(params)
    tracked = _inside_function_transform() or (torch.is_grad_enabled() and any(p.requires_grad for p in phi.values()))
    if not tracked:  # plain fine-tuning: new leaves that require grad, and no graph kept between steps
        phi = {n: p.detach().clone().requires_grad_(True) for n, p in phi.items()}
    state = rule.init(phi)
    for x, y in batches:
        grads = _gradients(model, phi, x, y, loss_fn, create_graph=tracked and not first_order)
        if first_order or not tracked:
            grads = {n: g.detach() for n, g in grads.items()}
        phi, state = rule(phi, grads, state)
        if not tracked:
            phi = {n: p.detach().requires_grad_(True) for n, p in phi.items()}
    return {n: p.detach() for n, p in phi.items()} if not tracked else phi
