"""MeLU-style meta-learning (Lee et al., KDD 2019): an MLP over item features and a user vector whose
decision layers are adapted to each new user by the course's shared :func:`~course_lib.adaptation.adapt`.

    e_i = relu(E x_i + c)                               item embedding (shared, never adapted)
    h   = relu(W [e_i ; u] + b)                          decision layer
    r_hat(u, i) = w . h + b_out                          output

``x_i`` [F] are the item's features, ``u`` [du] the user vector. The *personal* parameters
``phi = (u, W, b, w, b_out)`` start from meta-learned values and take a few SGD steps on a new
user's support ratings (the inner loop); the outer loop trains everything so that the adapted
model predicts the user's **query** ratings (MAML, Finn et al. 2017; ``first_order=True``: FOMAML).
A batch of B users carries one copy of ``phi`` per user (``[B, ...]``), so each copy gets its own
user's gradient. The support loss **sums** a user's squared errors: one rating then moves the user
a twentieth of what twenty ratings do (a mean would take the same step after one rating as after
twenty, and overshoot in the coldest start). The query loss is each user's mean, averaged over users.

The fine-tuned baseline uses the same network, trained *without* episodes: every training user
gets their own vector in a table, and a new user starts from the table's mean.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.adaptation import adapt
from course_lib.training import train_loop

__all__ = ["MeLU", "PERSONAL", "adapt_users", "maml_train", "pretrain_user_table", "query_predictions", "rating_loss",
           "support_loss"]

#: the parameters adapted per user: the user vector and the decision layers.
PERSONAL = ("user", "hidden_w", "hidden_b", "out_w", "out_b")


def support_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The inner loss: squared errors ``[B, k]`` summed over each user's support ratings and over users."""
    return ((pred - target) ** 2).sum()


def rating_loss(mask: torch.Tensor | None = None):
    """``loss_fn(pred [B, n], target [B, n])``: each user's mean squared error over ``mask``, summed over users."""
    def loss_fn(pred, target):
        m = torch.ones_like(target, dtype=torch.bool) if mask is None else mask
        return (((pred - target) ** 2 * m).sum(1) / m.sum(1).clamp(min=1)).sum()
    return loss_fn


class MeLU(nn.Module):
    """Item features ``[B, n, F]`` -> ratings ``[B, n]``; personal parameters may carry a user dimension B."""

    def __init__(self, num_features: int, embed_dim: int = 16, user_dim: int = 8, hidden: int = 32,
                 mu: float = 3.5, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.embed_w = nn.Parameter(torch.randn(embed_dim, num_features, generator=g) / num_features ** 0.5)
        self.embed_b = nn.Parameter(torch.zeros(embed_dim))
        self.user = nn.Parameter(torch.zeros(user_dim))
        fan_in = embed_dim + user_dim
        self.hidden_w = nn.Parameter(torch.randn(hidden, fan_in, generator=g) / fan_in ** 0.5)
        self.hidden_b = nn.Parameter(torch.zeros(hidden))
        self.out_w = nn.Parameter(torch.randn(hidden, generator=g) / hidden ** 0.5)
        self.out_b = nn.Parameter(torch.tensor(float(mu)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, n = x.shape[:2]
        per_user = lambda p, dims: p if p.dim() == dims + 1 else p.expand(batch, *p.shape)  # noqa: E731
        e = torch.relu(x @ self.embed_w.T + self.embed_b)                                  # [B, n, d]
        u = per_user(self.user, 1)[:, None, :].expand(batch, n, -1)                        # [B, n, du]
        z = torch.cat([e, u], -1)                                                          # [B, n, d+du]
        h = torch.relu(torch.einsum("bnd,bhd->bnh", z, per_user(self.hidden_w, 2))
                       + per_user(self.hidden_b, 1)[:, None, :])                           # [B, n, h]
        return torch.einsum("bnh,bh->bn", h, per_user(self.out_w, 1)) + per_user(self.out_b, 0)[:, None]

    def personal(self, batch: int) -> dict[str, torch.Tensor]:
        """``{name: [B, ...]}``: one copy of each personal parameter per user (views, same graph)."""
        return {n: getattr(self, n).unsqueeze(0).expand(batch, *getattr(self, n).shape) for n in PERSONAL}


def adapt_users(model: MeLU, item_x: torch.Tensor, tasks, inner_lr: float = 0.003, steps: int = 5,
                first_order: bool = False, start: dict | None = None) -> dict[str, torch.Tensor]:
    """Personal parameters ``{name: [B, ...]}`` after ``steps`` SGD steps on each user's support ratings.

    item_x: ``[I, F]`` features of every item; tasks: :class:`~course_lib.recsys.tasks.UserTasks`.
    With ``k = 0`` or ``steps = 0`` the starting values are returned (no rating, no adaptation).
    """
    start = model.personal(len(tasks)) if start is None else start
    if tasks.k == 0 or steps == 0:
        return start
    return adapt(model, start, item_x[tasks.support_item], tasks.support_rating, loss_fn=support_loss,
                 steps=steps, update=inner_lr, first_order=first_order)


def query_predictions(model: MeLU, item_x: torch.Tensor, tasks, phi: dict) -> torch.Tensor:
    """Ratings ``[B, Q]`` of each user's query movies with their personal parameters ``phi``."""
    return torch.func.functional_call(model, phi, (item_x[tasks.query_item],))


def maml_train(model: MeLU, item_x: torch.Tensor, sampler, num_steps: int, inner_lr: float = 0.003,
               steps: int = 5, lr: float = 1e-3, first_order: bool = False, checkpoint_path=None,
               eval_fn=None, eval_every: int | None = None, progress: bool = True):
    """Meta-train on batches of users: the query loss after adapting to each user's support set.

    ``eval_fn() -> {name: float}`` (e.g. the RMSE of validation users), run every ``eval_every``
    steps, is recorded in the returned :class:`~course_lib.history.History` (``eval_records``).
    """
    opt = torch.optim.Adam(model.parameters(), lr=lr)

    def step_fn(step):
        tasks = sampler.sample()
        phi = adapt_users(model, item_x, tasks, inner_lr, steps, first_order=first_order)
        loss = rating_loss(tasks.query_mask)(query_predictions(model, item_x, tasks, phi), tasks.query_rating)
        loss = loss / len(tasks)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "k": tasks.k}

    return train_loop(step_fn, num_steps, state={"model": model, "optimizer": opt, "sampler": sampler},
                      checkpoint_path=checkpoint_path, desc="FOMAML users" if first_order else "MAML users",
                      eval_fn=eval_fn, eval_every=eval_every, progress=progress, log_every=max(1, num_steps // 50))


def pretrain_user_table(model: MeLU, item_x: torch.Tensor, pool, num_steps: int, batch_size: int = 32,
                        lr: float = 1e-3, seed: int = 0, progress: bool = True) -> torch.Tensor:
    """Plain supervised training with one user vector per training user (no episodes, no inner loop).

    pool: :class:`UserTasks` of the training users (support and query ratings are all training data).
    Afterwards ``model.user`` holds the mean of the table, the starting point for fine-tuning a new
    user. Returns the table ``[U, du]``.
    """
    table = nn.Parameter(model.user.detach().expand(len(pool), -1).clone()
                         + 0.01 * torch.randn(len(pool), model.user.shape[0], generator=torch.Generator().manual_seed(seed)))
    opt = torch.optim.Adam(list(model.parameters()) + [table], lr=lr)
    g = torch.Generator().manual_seed(seed)
    items = torch.cat([pool.support_item, pool.query_item], 1)
    ratings = torch.cat([pool.support_rating, pool.query_rating], 1)
    mask = torch.cat([torch.ones_like(pool.support_item, dtype=torch.bool), pool.query_mask], 1)

    def step_fn(step):
        index = torch.randperm(len(pool), generator=g)[:batch_size]
        pred = torch.func.functional_call(model, {"user": table[index]}, (item_x[items[index]],))
        loss = rating_loss(mask[index])(pred, ratings[index]) / len(index)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item()}

    train_loop(step_fn, num_steps, desc="pre-train user table", progress=progress, log_every=max(1, num_steps // 50))
    with torch.no_grad():
        model.user.copy_(table.mean(0))
    return table.detach()
