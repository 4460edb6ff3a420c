"""Conditional neural process (CNP): a model-based meta-learner that adapts in one forward pass.

Garnelo, Rosenbaum, Maddison, Ramalho, Saxton, Shanahan, Teh, Rezende & Eslami (2018),
"Conditional Neural Processes", ICML.

A CNP splits the work of "learn from the support set, then predict" into two networks that are
trained together across many tasks:

* the **encoder** ``h`` (the *learner*) turns each support pair into a vector,
  ``r_i = h([x_i, y_i])``, and the pairs are aggregated by a mean, ``r = (1/K) sum_i r_i``.
  The mean makes the task representation invariant to the order of the support set and defined
  for any number of points ``K``.
* the **decoder** ``g`` (the *predictor*) maps a query input and the task representation to a
  predictive Gaussian, ``(mu, sigma) = g([r, x_*])``.

Training minimises the negative log-likelihood of the query targets,
``-log N(y_* | mu, sigma^2)``, averaged over query points and tasks, by ordinary back-propagation
through both networks. "Adapting" to a new task is then just computing ``r``: no gradient step,
a cost linear in ``K + M`` (support + query points). Compare MAML (Finn et al. 2017), which adapts by
gradient steps on the support loss.

Following the authors' reference implementation, ``sigma = 0.1 + 0.9 * softplus(raw)``: a floor on
the standard deviation keeps the likelihood from collapsing onto single training points.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def _mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class CNP(nn.Module):
    """Conditional neural process for regression.

    Parameters
    ----------
    x_dim, y_dim: input and target sizes (1 and 1 for sinusoids).
    hidden: width of the hidden layers; representation_dim: size of ``r``.
    encoder_layers, decoder_layers: number of hidden layers of ``h`` and ``g``.
    min_std: floor of the predicted standard deviation.
    """

    def __init__(self, x_dim: int = 1, y_dim: int = 1, hidden: int = 128, representation_dim: int = 128,
                 encoder_layers: int = 3, decoder_layers: int = 2, min_std: float = 0.1):
        super().__init__()
        if min_std < 0:
            raise ValueError(f"min_std must be >= 0, got {min_std}")
        self.x_dim, self.y_dim, self.min_std = x_dim, y_dim, min_std
        self.encoder = _mlp([x_dim + y_dim] + [hidden] * encoder_layers + [representation_dim])
        self.decoder = _mlp([representation_dim + x_dim] + [hidden] * decoder_layers + [2 * y_dim])

    def _check(self, name: str, t: torch.Tensor, dim: int) -> None:
        if t.dim() != 3 or t.shape[-1] != dim:
            raise ValueError(f"{name} must be [tasks, points, {dim}], got shape {tuple(t.shape)}")

    def encode(self, support_x: torch.Tensor, support_y: torch.Tensor) -> torch.Tensor:
        """Task representation: support_x ``[T, K, dx]``, support_y ``[T, K, dy]`` -> ``r [T, R]``."""
        self._check("support_x", support_x, self.x_dim)
        self._check("support_y", support_y, self.y_dim)
        if support_x.shape[:2] != support_y.shape[:2]:
            raise ValueError(f"support_x {tuple(support_x.shape)} and support_y "
                             f"{tuple(support_y.shape)} must have the same tasks and points")
        if support_x.shape[1] == 0:
            raise ValueError("a CNP needs at least one support point per task (the mean of zero "
                             "representations is undefined)")
        return self.encoder(torch.cat([support_x, support_y], dim=-1)).mean(dim=1)

    def decode(self, representation: torch.Tensor, query_x: torch.Tensor):
        """``r [T, R]``, query_x ``[T, M, dx]`` -> (mean ``[T, M, dy]``, std ``[T, M, dy]``)."""
        self._check("query_x", query_x, self.x_dim)
        if representation.shape[0] != query_x.shape[0]:
            raise ValueError(f"{representation.shape[0]} task representations but query_x has "
                             f"{query_x.shape[0]} tasks")
        r = representation.unsqueeze(1).expand(-1, query_x.shape[1], -1)
        out = self.decoder(torch.cat([r, query_x], dim=-1))
        mean, raw_std = out.split(self.y_dim, dim=-1)
        std = self.min_std + (1.0 - self.min_std) * F.softplus(raw_std)
        return mean, std

    def forward(self, support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor):
        """Predict the query targets of each task from its support set, in one pass.

        Returns (mean ``[T, M, dy]``, std ``[T, M, dy]``).
        """
        return self.decode(self.encode(support_x, support_y), query_x)


def gaussian_nll(mean: torch.Tensor, std: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood of ``target`` under ``N(mean, std^2)`` (all the same shape)."""
    if not (mean.shape == std.shape == target.shape):
        raise ValueError(f"mean {tuple(mean.shape)}, std {tuple(std.shape)} and target "
                         f"{tuple(target.shape)} must have the same shape")
    return (torch.log(std) + 0.5 * ((target - mean) / std) ** 2).mean() + 0.5 * math.log(2 * math.pi)


def cnp_loss(model: CNP, batch, include_support: bool = True) -> torch.Tensor:
    """NLL of the query targets (and, as in the paper, of the support targets) of a task batch.

    batch: object with ``support_x/support_y [T, K, d]`` and ``query_x/query_y [T, M, d]``.
    """
    target_x, target_y = batch.query_x, batch.query_y
    if include_support:
        target_x = torch.cat([batch.support_x, target_x], dim=1)
        target_y = torch.cat([batch.support_y, target_y], dim=1)
    mean, std = model(batch.support_x, batch.support_y, target_x)
    return gaussian_nll(mean, std, target_y)


def cnp_step(model: CNP, optimizer: torch.optim.Optimizer, batch) -> dict[str, float]:
    """One training step on a task batch. Returns ``{"loss": NLL, "mse": query MSE of the mean}``."""
    optimizer.zero_grad(set_to_none=True)
    loss = cnp_loss(model, batch)
    loss.backward()
    optimizer.step()
    with torch.no_grad():
        mean, _ = model(batch.support_x, batch.support_y, batch.query_x)
        mse = F.mse_loss(mean, batch.query_y)
    return {"loss": float(loss.detach()), "mse": float(mse)}


@torch.no_grad()
def predict(model: CNP, support_x: torch.Tensor, support_y: torch.Tensor, query_x: torch.Tensor):
    """Evaluation-mode prediction (no graph): (mean, std) as in :meth:`CNP.forward`."""
    return model(support_x, support_y, query_x)
