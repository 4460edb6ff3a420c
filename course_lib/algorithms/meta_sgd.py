"""Meta-SGD: learn the initialisation *and* a step size for every single parameter.

Li, Zhou, Chen & Li (2017), "Meta-SGD: Learning to Learn Quickly for Few-Shot Learning".

MAML adapts a shared initialisation ``θ`` with plain gradient descent and one scalar step size::

    θ' = θ − α ∇_θ L_support(θ)                      (MAML, α fixed by hand)

Meta-SGD replaces the scalar by a tensor ``α`` of the same shape as ``θ`` and learns it together
with ``θ`` by minimising the query loss after adaptation::

    θ' = θ − α ∘ ∇_θ L_support(θ)                   (∘ = element-wise product)
    min_{θ, α}  E_tasks [ L_query(θ') ]

``α`` sets both the direction and the size of the update (its entries may become negative or
zero), so the learned rule is a per-coordinate, preconditioned gradient step. The price is twice
the meta-parameters of MAML.

Everything here is functional: parameters live in ``dict[str, Tensor]`` (as returned by
``dict(model.named_parameters())``), the model is called with ``torch.func.functional_call``,
inner gradients come from ``torch.func.grad`` and tasks are batched with ``torch.func.vmap``.
Because the inner gradient is computed by ``torch.func.grad`` on tensors that require grad, the
query loss stays differentiable with respect to both ``θ`` and ``α`` (second order by default).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

Params = dict[str, Tensor]
LossFn = Callable[[Tensor, Tensor], Tensor]


def _check_init(init: float | tuple[float, float]) -> tuple[float, float]:
    """Validate an initial step size (a positive float or a ``(low, high)`` range)."""
    if isinstance(init, (tuple, list)):
        if len(init) != 2:
            raise ValueError(f"init_step_size range must be (low, high), got {init!r}")
        low, high = float(init[0]), float(init[1])
    else:
        low = high = float(init)
    if not (low > 0 and high > 0):
        raise ValueError(
            f"initial step sizes must be positive, got {init!r}; Meta-SGD starts from a descent "
            "step (e.g. 0.01, or the range (0.005, 0.1) used by Li et al. 2017) and may learn "
            "other signs later."
        )
    if high < low:
        raise ValueError(f"init_step_size range must have low <= high, got {init!r}")
    return low, high


def _check_steps(steps: int) -> int:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"the number of inner steps must be an integer >= 1, got {steps!r}")
    return steps


def init_step_sizes(
    params: Mapping[str, Tensor],
    init: float | tuple[float, float] = 0.01,
    generator: torch.Generator | None = None,
) -> Params:
    """One step-size tensor per parameter, same shape/device/dtype as the parameter.

    Args:
        params: ``{name: θ_name}``.
        init: a positive constant, or ``(low, high)`` to draw each entry uniformly from that range
            (Li et al. 2017 use ``(0.005, 0.1)`` for sinusoid regression).
        generator: CPU generator for the random range (reproducibility).

    Returns:
        ``{name: α_name}`` with ``α_name.shape == θ_name.shape``; plain tensors (no grad).
    """
    low, high = _check_init(init)
    out = {}
    for name, p in params.items():
        if low == high:
            out[name] = torch.full_like(p, low).detach()
        else:
            u = torch.rand(p.shape, generator=generator, dtype=p.dtype)
            out[name] = (low + (high - low) * u).to(p.device)
    return out


def meta_sgd_update(params: Mapping[str, Tensor], grads: Mapping[str, Tensor],
                    step_sizes: Mapping[str, Tensor]) -> Params:
    """The Meta-SGD step ``θ' = θ − α ∘ g`` applied to every entry of a parameter dict."""
    missing = set(params) - set(step_sizes)
    if missing:
        raise KeyError(f"no step size for parameter(s) {sorted(missing)}")
    return {name: params[name] - step_sizes[name] * grads[name] for name in params}


def adapt(
    model: nn.Module,
    params: Mapping[str, Tensor],
    step_sizes: Mapping[str, Tensor],
    support_x: Tensor,
    support_y: Tensor,
    *,
    steps: int = 1,
    loss_fn: LossFn = F.mse_loss,
    first_order: bool = False,
) -> Params:
    """Adapt ``params`` to one task with ``steps`` Meta-SGD steps on the support set.

    Args:
        model: the network; only its architecture is used (its own parameters are ignored).
        params, step_sizes: ``{name: tensor}`` with matching shapes.
        support_x: ``[K, ...]`` inputs, support_y: ``[K, ...]`` targets of one task.
        steps: number of inner steps (>= 1).
        loss_fn: ``loss_fn(prediction, target) -> scalar``.
        first_order: treat the inner gradients as constants (no second derivatives). ``α`` still
            receives a meta-gradient, because ``θ'`` depends on ``α`` directly.

    Returns:
        The adapted parameters ``θ'`` (differentiable w.r.t. ``params`` and ``step_sizes``).
    """
    _check_steps(steps)

    def support_loss(p: Params) -> Tensor:
        return loss_fn(functional_call(model, p, (support_x,)), support_y)

    params = dict(params)
    for _ in range(steps):
        grads = grad(support_loss)(params)
        if first_order:
            grads = {k: g.detach() for k, g in grads.items()}
        params = meta_sgd_update(params, grads, step_sizes)
    return params


def query_loss_after_adaptation(
    model: nn.Module,
    params: Mapping[str, Tensor],
    step_sizes: Mapping[str, Tensor],
    support_x: Tensor,
    support_y: Tensor,
    query_x: Tensor,
    query_y: Tensor,
    *,
    steps: int = 1,
    loss_fn: LossFn = F.mse_loss,
    first_order: bool = False,
) -> Tensor:
    """``L_query(θ')`` for one task (scalar), where ``θ'`` = :func:`adapt` on the support set."""
    adapted = adapt(model, params, step_sizes, support_x, support_y, steps=steps, loss_fn=loss_fn,
                    first_order=first_order)
    return loss_fn(functional_call(model, adapted, (query_x,)), query_y)


def meta_loss(
    model: nn.Module,
    params: Mapping[str, Tensor],
    step_sizes: Mapping[str, Tensor],
    batch,
    *,
    steps: int = 1,
    loss_fn: LossFn = F.mse_loss,
    first_order: bool = False,
    per_task: bool = False,
) -> Tensor:
    """Mean query loss after adaptation over a batch of tasks (vectorised with ``vmap``).

    Args:
        batch: anything with ``support_x [T, K, ...]``, ``support_y [T, K, ...]``,
            ``query_x [T, Q, ...]``, ``query_y [T, Q, ...]`` (e.g. ``course_lib.episodes.TaskBatch``).
        per_task: return the ``[T]`` vector of per-task losses instead of their mean.

    Returns:
        Scalar meta-loss (or ``[T]``), differentiable w.r.t. ``params`` and ``step_sizes``.
    """
    _check_steps(steps)

    def one_task(sx, sy, qx, qy):
        return query_loss_after_adaptation(model, params, step_sizes, sx, sy, qx, qy, steps=steps,
                                           loss_fn=loss_fn, first_order=first_order)

    losses = vmap(one_task, randomness="different")(batch.support_x, batch.support_y,
                                                    batch.query_x, batch.query_y)
    return losses if per_task else losses.mean()


class MetaSGD(nn.Module):
    """A model plus one learnable step size per parameter entry, trained with Meta-SGD.

    ``MetaSGD(model, init_step_size=(0.005, 0.1))`` keeps ``model``'s parameters as the learned
    initialisation ``θ`` and registers ``α`` (same shapes) as extra parameters, so that
    ``torch.optim.Adam(metasgd.parameters())`` meta-learns both and ``state_dict()`` saves both.

    Args:
        model: network whose ``named_parameters()`` are adapted.
        init_step_size: positive float or ``(low, high)`` range (see :func:`init_step_sizes`).
        inner_steps: number of adaptation steps (>= 1); Li et al. use 1.
        loss_fn: task loss ``loss_fn(pred, target) -> scalar`` (MSE for regression).
        first_order: drop second derivatives in the meta-gradient.
        learn_step_sizes: ``False`` freezes ``α`` (then this is MAML with a fixed per-entry step).
        generator: CPU generator for a random ``init_step_size`` range.
    """

    def __init__(self, model: nn.Module, init_step_size: float | tuple[float, float] = 0.01,
                 *, inner_steps: int = 1, loss_fn: LossFn = F.mse_loss, first_order: bool = False,
                 learn_step_sizes: bool = True, generator: torch.Generator | None = None):
        super().__init__()
        self.model = model
        self.inner_steps = _check_steps(inner_steps)
        self.loss_fn = loss_fn
        self.first_order = first_order
        self._names = [name for name, _ in model.named_parameters()]
        alphas = init_step_sizes(dict(model.named_parameters()), init_step_size, generator)
        # nn.ParameterDict keys may not contain '.', hence a list aligned with self._names.
        self.alphas = nn.ParameterList(
            [nn.Parameter(alphas[n], requires_grad=learn_step_sizes) for n in self._names])

    def params(self) -> Params:
        """The learned initialisation ``{name: θ}`` (live parameters, gradients flow)."""
        return dict(self.model.named_parameters())

    def step_sizes(self) -> Params:
        """The learned step sizes ``{name: α}`` (live parameters, gradients flow)."""
        return dict(zip(self._names, self.alphas))

    def adapt(self, support_x: Tensor, support_y: Tensor, steps: int | None = None) -> Params:
        """Adapted parameters ``θ'`` for one task (support ``[K, ...]``)."""
        return adapt(self.model, self.params(), self.step_sizes(), support_x, support_y,
                     steps=self.inner_steps if steps is None else steps, loss_fn=self.loss_fn,
                     first_order=self.first_order)

    def forward(self, x: Tensor, params: Mapping[str, Tensor] | None = None) -> Tensor:
        """Predictions of the network with ``params`` (default: the initialisation ``θ``)."""
        return functional_call(self.model, dict(params) if params is not None else self.params(), (x,))

    def meta_loss(self, batch, steps: int | None = None, per_task: bool = False) -> Tensor:
        """Mean query loss after adaptation over a task batch (see :func:`meta_loss`)."""
        return meta_loss(self.model, self.params(), self.step_sizes(), batch,
                         steps=self.inner_steps if steps is None else steps, loss_fn=self.loss_fn,
                         first_order=self.first_order, per_task=per_task)

    @torch.no_grad()
    def step_size_table(self) -> dict[str, Tensor]:
        """``{parameter name: flattened α}`` detached on the CPU, for histograms and summaries."""
        return {n: a.detach().flatten().cpu() for n, a in zip(self._names, self.alphas)}


def evaluate_adaptation(
    model: nn.Module,
    params: Mapping[str, Tensor],
    step_sizes: Mapping[str, Tensor],
    tasks,
    *,
    steps=(0, 1, 5, 10),
    loss_fn: LossFn = F.mse_loss,
) -> dict[int, list[float]]:
    """Adapt with the (learned) step sizes on each task's support set; score its query set.

    Args:
        tasks: iterable of tasks with ``support_x [K, ...]``, ``support_y``, ``query_x``, ``query_y``
            (e.g. the episodes of a ``TaskBatch``).
        steps: numbers of Meta-SGD steps after which to score (0 = before adaptation).

    Returns:
        ``{steps: [query loss per task]}`` (plain floats, ready for ``metrics.mean_ci``).
    """
    steps = sorted({int(s) for s in steps})
    if not steps or steps[0] < 0:
        raise ValueError(f"steps must be non-negative integers, got {steps}")
    theta = {n: p.detach() for n, p in params.items()}
    alpha = {n: a.detach() for n, a in step_sizes.items()}
    scores: dict[int, list[float]] = {s: [] for s in steps}
    for task in tasks:
        phi, done = theta, 0
        for s in steps:
            if s > done:
                phi = {n: p.detach() for n, p in adapt(model, phi, alpha, task.support_x, task.support_y,
                                                        steps=s - done, loss_fn=loss_fn).items()}
                done = s
            with torch.no_grad():
                scores[s].append(float(loss_fn(functional_call(model, phi, (task.query_x,)), task.query_y)))
    return scores


def evaluate_torch_optimizer(
    model: nn.Module,
    params: Mapping[str, Tensor],
    tasks,
    make_optimizer: Callable[[list[Tensor]], torch.optim.Optimizer],
    *,
    steps=(0, 1, 5, 10),
    loss_fn: LossFn = F.mse_loss,
) -> dict[int, list[float]]:
    """The baseline of :func:`evaluate_adaptation`: fine-tune with a hand-written optimizer.

    Each task starts from a fresh copy of ``params`` and a fresh optimizer
    ``make_optimizer(list_of_tensors)`` (e.g. ``lambda p: torch.optim.Adam(p, lr=0.01)``), takes
    full-batch steps on the support set and is scored on the query set.

    Returns:
        ``{steps: [query loss per task]}``.
    """
    steps = sorted({int(s) for s in steps})
    if not steps or steps[0] < 0:
        raise ValueError(f"steps must be non-negative integers, got {steps}")
    scores: dict[int, list[float]] = {s: [] for s in steps}
    for task in tasks:
        phi = {n: p.detach().clone().requires_grad_(True) for n, p in params.items()}
        optimizer = make_optimizer(list(phi.values()))
        done = 0
        for s in steps:
            for _ in range(s - done):
                optimizer.zero_grad()
                loss_fn(functional_call(model, phi, (task.support_x,)), task.support_y).backward()
                optimizer.step()
            done = s
            with torch.no_grad():
                scores[s].append(float(loss_fn(functional_call(model, phi, (task.query_x,)), task.query_y)))
    return scores
