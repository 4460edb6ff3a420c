"""What MAML, first-order MAML and Reptile follow, to second order in the step size (Nichol et al. 2018, §5).

Take one task and two mini-batches ``A`` and ``B`` of it, with losses ``L_A``, ``L_B``, gradients
``g_A, g_B`` and Hessians ``H_A, H_B`` at ``theta``. With ``k = 2`` SGD steps of size ``alpha``
(first on one batch, then on the other) and averaging over the two orders::

    AvgGrad      = (g_A + g_B) / 2
    AvgGradInner = (H_B g_A + H_A g_B) / 2   (= 1/2 d/dtheta (g_A . g_B): increases the inner product
                                              of the two batches' gradients, i.e. generalisation
                                              within the task)

    g_MAML    = AvgGrad - 2 alpha AvgGradInner + O(alpha^2)
    g_FOMAML  = AvgGrad -   alpha AvgGradInner + O(alpha^2)
    g_Reptile = 2 AvgGrad - alpha AvgGradInner + O(alpha^2)     (g_Reptile = (theta - phi) / alpha)

This module computes both sides exactly (with autograd) so the chapter can show that the gap
shrinks like ``alpha^2``. Vectors are flattened ``[P]`` tensors (P = number of parameters).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from course_lib.adaptation import SGD, LossFn, Params, task_loss
from course_lib.checks import check_step_size

# coefficients (of AvgGrad, of alpha * AvgGradInner) for k = 2 steps
TAYLOR_COEFFICIENTS = {"maml": (1.0, -2.0), "fomaml": (1.0, -1.0), "reptile": (2.0, -1.0)}


def _flat(tensors) -> Tensor:
    return torch.cat([t.reshape(-1) for t in tensors])


def _loss(model, params, batch, loss_fn):
    x, y = batch
    return task_loss(model, params, x, y, loss_fn)


def taylor_terms(model: nn.Module, params: Params, batch_a, batch_b, loss_fn: LossFn) -> dict[str, Tensor]:
    """``{"avg_grad": [P], "avg_grad_inner": [P]}`` at ``params`` for mini-batches ``(x, y)`` A and B."""
    theta = {n: p.detach().requires_grad_(True) for n, p in params.items()}
    names = list(theta)
    g_a = torch.autograd.grad(_loss(model, theta, batch_a, loss_fn), [theta[n] for n in names], create_graph=True)
    g_b = torch.autograd.grad(_loss(model, theta, batch_b, loss_fn), [theta[n] for n in names], create_graph=True)
    # H_B g_A = d/dtheta (g_B . stop(g_A)), H_A g_B likewise
    hb_ga = torch.autograd.grad(sum((gb * ga.detach()).sum() for gb, ga in zip(g_b, g_a)),
                                [theta[n] for n in names], retain_graph=True)
    ha_gb = torch.autograd.grad(sum((ga * gb.detach()).sum() for ga, gb in zip(g_a, g_b)),
                                [theta[n] for n in names])
    return {
        "avg_grad": (_flat(g_a) + _flat(g_b)).detach() / 2,
        "avg_grad_inner": (_flat(hb_ga) + _flat(ha_gb)) / 2,
    }


def _two_step_updates(model, params, first, second, loss_fn, inner_lr):
    """Exact MAML / FOMAML / Reptile update vectors for one order (step on ``first``, then ``second``)."""
    theta = {n: p.detach().requires_grad_(True) for n, p in params.items()}
    names = list(theta)
    g1 = torch.autograd.grad(_loss(model, theta, first, loss_fn), [theta[n] for n in names], create_graph=True)
    phi1, _ = SGD(inner_lr)(theta, dict(zip(names, g1)))  # the inner step of adapt(), kept differentiable
    loss2 = _loss(model, phi1, second, loss_fn)
    g2_at_phi1 = torch.autograd.grad(loss2, [phi1[n] for n in names], retain_graph=True)
    maml = torch.autograd.grad(loss2, [theta[n] for n in names])
    fomaml = _flat(g2_at_phi1)
    reptile = _flat(g1).detach() + fomaml  # (theta - phi2) / alpha with phi2 = phi1 - alpha g2(phi1)
    return {"maml": _flat(maml), "fomaml": fomaml, "reptile": reptile}


def exact_updates(model: nn.Module, params: Params, batch_a, batch_b, loss_fn: LossFn,
                  inner_lr: float) -> dict[str, Tensor]:
    """The three algorithms' update vectors ``[P]`` for k = 2, averaged over the orders (A,B), (B,A)."""
    check_step_size("inner_lr", inner_lr)
    ab = _two_step_updates(model, params, batch_a, batch_b, loss_fn, inner_lr)
    ba = _two_step_updates(model, params, batch_b, batch_a, loss_fn, inner_lr)
    return {k: (ab[k] + ba[k]) / 2 for k in ab}


def taylor_predictions(terms: dict[str, Tensor], inner_lr: float,
                       coefficients: dict[str, tuple[float, float]] = TAYLOR_COEFFICIENTS) -> dict[str, Tensor]:
    """``c1 * AvgGrad + c2 * alpha * AvgGradInner`` for each algorithm (second-order Taylor prediction)."""
    return {k: c1 * terms["avg_grad"] + c2 * inner_lr * terms["avg_grad_inner"] for k, (c1, c2) in coefficients.items()}


def taylor_errors(model: nn.Module, params: Params, batch_a, batch_b, loss_fn: LossFn,
                  inner_lrs) -> dict[str, list[float]]:
    """Relative error ``||exact - prediction|| / ||exact||`` per algorithm for each step size."""
    terms = taylor_terms(model, params, batch_a, batch_b, loss_fn)
    out: dict[str, list[float]] = {k: [] for k in TAYLOR_COEFFICIENTS}
    for lr in inner_lrs:
        exact = exact_updates(model, params, batch_a, batch_b, loss_fn, lr)
        pred = taylor_predictions(terms, lr)
        for k in out:
            out[k].append(float((exact[k] - pred[k]).norm() / exact[k].norm()))
    return out
