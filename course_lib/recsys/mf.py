"""Biased matrix factorisation, and the closed-form fold-in of a new user.

The model (Koren, Bell & Volinsky 2009) predicts user u's rating of item i as

    r_hat(u, i) = mu + b_u + b_i + p_u . q_i          p_u, q_i in R^d

and is fitted on the meta-training users' ratings by full-batch Adam on the squared error plus an
L2 penalty on every row it uses. A **new** user is not retrained into the model: with the items'
``b_i, q_i`` fixed, their ``(b_u, p_u)`` minimise a ridge regression on their k support ratings,

    x_i = (1, q_i),   y_i = r_i - mu - b_i,   (b_u, p_u) = (X^T X + lambda I)^{-1} X^T y,

the *fold-in*. With k = 0 it gives ``(0, 0)``, the item-bias prediction ``mu + b_i``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BiasedMF", "fold_in"]


def fold_in(item_vectors: torch.Tensor, residuals: torch.Tensor, reg: float) -> torch.Tensor:
    """Ridge solution ``[U, 1 + d]`` = (b_u, p_u) of each user, from their support items.

    item_vectors: ``[U, k, d]`` the q_i of each user's k support items; residuals: ``[U, k]`` the
    ``r - mu - b_i``; reg: lambda > 0 (also keeps the system solvable when k < 1 + d).
    """
    if reg <= 0:
        raise ValueError(f"reg must be > 0 (with k < 1 + d ratings X^T X is singular), got {reg}")
    x = torch.cat([torch.ones_like(item_vectors[..., :1]), item_vectors], -1)       # [U, k, 1+d]
    gram = x.transpose(1, 2) @ x + reg * torch.eye(x.shape[-1], dtype=x.dtype, device=x.device)
    return torch.linalg.solve(gram, (x.transpose(1, 2) @ residuals.unsqueeze(-1))).squeeze(-1)


class BiasedMF(nn.Module):
    """``mu + b_u + b_i + p_u . q_i`` for ``num_users`` training users and ``num_items`` items, rank ``dim``."""

    def __init__(self, num_users: int, num_items: int, dim: int = 16, mu: float = 3.5, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.mu = float(mu)
        self.user_bias = nn.Parameter(torch.zeros(num_users))
        self.item_bias = nn.Parameter(torch.zeros(num_items))
        self.user_vec = nn.Parameter(0.1 * torch.randn(num_users, dim, generator=g))
        self.item_vec = nn.Parameter(0.1 * torch.randn(num_items, dim, generator=g))

    def forward(self, user: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        """Predicted ratings ``[R]`` of ``user [R]`` for ``item [R]``."""
        return (self.mu + self.user_bias[user] + self.item_bias[item]
                + (self.user_vec[user] * self.item_vec[item]).sum(-1))

    def fit(self, user, item, rating, reg: float = 0.05, steps: int = 300, lr: float = 0.05,
            progress: bool = False) -> list[float]:
        """Full-batch Adam on ``mean (r - r_hat)^2 + reg * mean(|p_u|^2 + |q_i|^2 + b_u^2 + b_i^2)``.

        ``user, item, rating``: ``[R]`` arrays of training ratings (user indices 0..num_users-1).
        Returns the training loss per step.
        """
        from tqdm.auto import tqdm

        user, item = torch.as_tensor(user), torch.as_tensor(item)
        rating = torch.as_tensor(rating, dtype=torch.float32)
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        losses = []
        for _ in tqdm(range(steps), desc="matrix factorisation", disable=not progress):
            penalty = (self.user_vec[user].pow(2).sum(-1) + self.item_vec[item].pow(2).sum(-1)
                       + self.user_bias[user].pow(2) + self.item_bias[item].pow(2)).mean()
            loss = (rating - self(user, item)).pow(2).mean() + reg * penalty
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        return losses

    @torch.no_grad()
    def fold_in_users(self, tasks, reg: float) -> torch.Tensor:
        """``[U, 1 + d]``: (b_u, p_u) of each new user of ``tasks`` from their support ratings."""
        q = self.item_vec[tasks.support_item]                                         # [U, k, d]
        residual = tasks.support_rating - self.mu - self.item_bias[tasks.support_item]  # [U, k]
        return fold_in(q, residual, reg)

    @torch.no_grad()
    def predict(self, tasks, reg: float) -> torch.Tensor:
        """Query predictions ``[U, Q]`` after folding each new user in from their support ratings."""
        user = self.fold_in_users(tasks, reg)                                         # [U, 1+d]
        q = self.item_vec[tasks.query_item]                                           # [U, Q, d]
        return (self.mu + self.item_bias[tasks.query_item] + user[:, :1]
                + (q * user[:, None, 1:]).sum(-1))

    @torch.no_grad()
    def user_table(self) -> torch.Tensor:
        """``[num_users, 1 + d]``: (b_u, p_u) of every training user, the fold-in's coordinates."""
        return torch.cat([self.user_bias[:, None], self.user_vec], 1)
