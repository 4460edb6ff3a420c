"""One-step MAML for linear regression with squared loss, in closed form.

Model ``f(x) = x^T w`` with features ``x in R^d`` (append a constant 1 for a bias) and loss
``L(w) = (1/n) ||X w - y||^2`` on a set ``(X [n, d], y [n])``. Write ``A = (2/n) X^T X`` and
``b = (2/n) X^T y``; then ``grad L(w) = A w - b`` and the Hessian is the constant ``A``.

One inner step on the support set ``(X_s, y_s)`` gives::

    w' = w - alpha (A_s w - b_s) = (I - alpha A_s) w + alpha b_s

and the exact meta-gradient of the query loss ``L_q(w')`` with respect to ``w`` is::

    d L_q(w') / d w = (I - alpha A_s) (A_q w' - b_q)
                    = (A_q w' - b_q)  -  alpha A_s (A_q w' - b_q)
                      `-- FOMAML --'     `-- Hessian-vector term --'

Every function accepts one task (``X [n, d]``, ``y [n]``, ``w [d]``) or a batch of tasks
(``X [T, n, d]``, ``y [T, n]``, ``w [d]``); batched results carry the leading ``T`` and the
meta-gradient of the *mean* query loss is ``meta_gradient(...).mean(0)``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _check(w: Tensor, x: Tensor, y: Tensor, inner_lr: float | None = None) -> None:
    if w.dim() != 1:
        raise ValueError(f"w must be a vector [d], got shape {tuple(w.shape)}")
    if x.dim() not in (2, 3) or x.shape[-1] != w.shape[0]:
        raise ValueError(f"x must be [n, d] or [T, n, d] with d = {w.shape[0]}, got {tuple(x.shape)}")
    if y.shape != x.shape[:-1]:
        raise ValueError(f"y must have shape {tuple(x.shape[:-1])} to match x {tuple(x.shape)}, got {tuple(y.shape)}")
    if inner_lr is not None and not float(inner_lr) >= 0:
        raise ValueError(f"inner_lr must be >= 0, got {inner_lr!r}")


def gram_terms(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """``A = (2/n) X^T X`` ``[.., d, d]`` and ``b = (2/n) X^T y`` ``[.., d]`` of the squared loss."""
    n = x.shape[-2]
    a = 2.0 / n * x.transpose(-1, -2) @ x
    b = 2.0 / n * (x.transpose(-1, -2) @ y.unsqueeze(-1)).squeeze(-1)
    return a, b


def loss_gradient(w: Tensor, x: Tensor, y: Tensor) -> Tensor:
    """``grad_w L = A w - b`` (shape of ``w``, or ``[T, d]``)."""
    _check(w, x, y)
    a, b = gram_terms(x, y)
    return a @ w - b


def adapted_weights(w: Tensor, support_x: Tensor, support_y: Tensor, inner_lr: float) -> Tensor:
    """One inner step: ``w' = w - alpha (A_s w - b_s)``, shape ``[d]`` or ``[T, d]``."""
    _check(w, support_x, support_y, inner_lr)
    return w - inner_lr * loss_gradient(w, support_x, support_y)


def meta_loss(w, support_x, support_y, query_x, query_y, inner_lr: float) -> Tensor:
    """Query loss after one inner step, ``L_q(w')`` (scalar or ``[T]``)."""
    _check(w, query_x, query_y)
    w_adapted = adapted_weights(w, support_x, support_y, inner_lr)
    return ((query_x @ w_adapted.unsqueeze(-1)).squeeze(-1) - query_y).pow(2).mean(-1)


def meta_gradient(w, support_x, support_y, query_x, query_y, inner_lr: float, first_order: bool = False) -> Tensor:
    """Exact ``d L_q(w') / d w`` = ``(I - alpha A_s)(A_q w' - b_q)``; FOMAML drops ``-alpha A_s (...)``.

    Returns ``[d]`` for one task or ``[T, d]`` for a batch (average over ``T`` for the batch mean).
    """
    _check(w, query_x, query_y)
    w_adapted = adapted_weights(w, support_x, support_y, inner_lr)
    a_q, b_q = gram_terms(query_x, query_y)
    query_grad = (a_q @ w_adapted.unsqueeze(-1)).squeeze(-1) - b_q  # grad of L_q at w'
    if first_order:
        return query_grad
    a_s, _ = gram_terms(support_x, support_y)
    return query_grad - inner_lr * (a_s @ query_grad.unsqueeze(-1)).squeeze(-1)


def hessian_term(w, support_x, support_y, query_x, query_y, inner_lr: float) -> Tensor:
    """The part of the meta-gradient that first-order MAML drops: ``-alpha A_s (A_q w' - b_q)``."""
    return meta_gradient(w, support_x, support_y, query_x, query_y, inner_lr) - meta_gradient(
        w, support_x, support_y, query_x, query_y, inner_lr, first_order=True
    )


def random_linear_tasks(num_tasks: int, n_support: int, n_query: int, dim: int, *,
                        noise: float = 0.1, generator: torch.Generator | None = None,
                        dtype: torch.dtype = torch.float64):
    """Tasks ``y = x^T w_i + noise`` with ``w_i ~ N(mu, 0.5^2 I)`` around a shared mean ``mu``.

    Returns ``(support_x [T, ns, d], support_y [T, ns], query_x [T, nq, d], query_y [T, nq], mu [d])``.
    """
    g = generator
    mu = torch.randn(dim, generator=g, dtype=dtype)
    w = mu + 0.5 * torch.randn(num_tasks, dim, generator=g, dtype=dtype)
    xs = torch.randn(num_tasks, n_support, dim, generator=g, dtype=dtype)
    xq = torch.randn(num_tasks, n_query, dim, generator=g, dtype=dtype)
    ys = (xs @ w.unsqueeze(-1)).squeeze(-1) + noise * torch.randn(num_tasks, n_support, generator=g, dtype=dtype)
    yq = (xq @ w.unsqueeze(-1)).squeeze(-1) + noise * torch.randn(num_tasks, n_query, generator=g, dtype=dtype)
    return xs, ys, xq, yq, mu
