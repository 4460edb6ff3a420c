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

The inner loop is the shared :func:`course_lib.adaptation.adapt` with the update rule
``PerParameterSGD(α)``; tasks are batched with ``torch.func.vmap``. The query loss stays
differentiable with respect to both ``θ`` and ``α`` (second order by default). Evaluation is the
shared :func:`course_lib.evaluation.evaluate_adaptation` with ``update=PerParameterSGD(α)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, vmap

from course_lib.adaptation import LossFn, Params, PerParameterSGD, adapt, task_loss
from course_lib.checks import check_count, check_task

__all__ = ["MetaSGD", "init_step_sizes", "meta_loss", "meta_sgd_step"]


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
            ``query_x [T, Q, ...]``, ``query_y [T, Q, ...]`` (e.g. ``course_lib.data.episodes.TaskBatch``).
        per_task: return the ``[T]`` vector of per-task losses instead of their mean.

    Returns:
        Scalar meta-loss (or ``[T]``), differentiable w.r.t. ``params`` and ``step_sizes``.
    """
    check_count("steps", steps, 1)
    check_task(batch.support_x, batch.support_y, batch.query_x, batch.query_y, batched=True)
    update = PerParameterSGD(step_sizes)

    def one_task(sx, sy, qx, qy):
        phi = adapt(model, params, sx, sy, loss_fn=loss_fn, steps=steps, update=update, first_order=first_order)
        return task_loss(model, phi, qx, qy, loss_fn)

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
        self.inner_steps = check_count("inner_steps", inner_steps, 1)
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

    def update_rule(self) -> PerParameterSGD:
        """The inner update ``θ − α ∘ g`` with the live step sizes (for :func:`~course_lib.adaptation.adapt`)."""
        return PerParameterSGD(self.step_sizes())

    def adapt(self, support_x: Tensor, support_y: Tensor, steps: int | None = None) -> Params:
        """Adapted parameters ``θ'`` for one task (support ``[K, ...]``)."""
        return adapt(self.model, self.params(), support_x, support_y, loss_fn=self.loss_fn,
                     steps=self.inner_steps if steps is None else steps, update=self.update_rule(),
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


def meta_sgd_step(model: MetaSGD, optimizer: torch.optim.Optimizer, batch, *, steps: int | None = None
                  ) -> dict[str, float]:
    """One meta-training step of a :class:`MetaSGD` (θ and α together). Returns ``{"loss": ...}``."""
    optimizer.zero_grad(set_to_none=True)
    loss = model.meta_loss(batch, steps=steps)
    loss.backward()
    optimizer.step()
    return {"loss": float(loss.detach())}
