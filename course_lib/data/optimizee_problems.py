"""Optimizee problems for learned optimizers: batches of small problems with one flat parameter vector each.

A problem family holds ``B`` independent problems; ``theta`` has shape ``[B, n]`` (one flat parameter
vector per problem) and ``problems.loss(theta)`` returns the ``[B]`` losses, so one call to
:func:`course_lib.algorithms.learned_optimizer.optimize` runs ``B`` optimisations in parallel. Every
family also draws its starting points (``initial_params``) and reports ``num_problems`` and ``dim``.

* :class:`QuadraticProblems`: ``f(θ) = ||Wθ − y||²``, the first experiment of Andrychowicz et al. (2016);
* :class:`SinusoidMLPProblems`: train a small tanh MLP on points of a sinusoid (a different,
  non-convex family, to test whether a learned optimizer generalises).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = ["QuadraticProblems", "SinusoidMLPProblems"]


class QuadraticProblems:
    """``B`` random quadratics ``f_b(θ) = ||W_b θ − y_b||²`` with ``W_b [d, d]``, ``y_b [d]``.

    Entries of ``W`` and ``y`` are i.i.d. standard normal, as in Andrychowicz et al. (2016);
    ``θ_0`` is drawn as ``init_std * N(0, 1)``.
    """

    def __init__(self, W: Tensor, y: Tensor, init_std: float = 0.01):
        if W.dim() != 3 or y.dim() != 2 or W.shape[0] != y.shape[0] or W.shape[1] != y.shape[1]:
            raise ValueError(f"expected W [B, m, d] and y [B, m], got {tuple(W.shape)} and {tuple(y.shape)}")
        self.W, self.y, self.init_std = W, y, init_std

    @classmethod
    def sample(cls, num_problems: int, dim: int = 10, generator: torch.Generator | None = None,
               device=None, dtype=torch.float32, init_std: float = 0.01) -> QuadraticProblems:
        """Draw ``num_problems`` quadratics in ``dim`` dimensions."""
        if num_problems < 1 or dim < 1:
            raise ValueError(f"need num_problems >= 1 and dim >= 1, got {num_problems}, {dim}")
        W = torch.randn(num_problems, dim, dim, generator=generator, dtype=dtype)
        y = torch.randn(num_problems, dim, generator=generator, dtype=dtype)
        return cls(W.to(device), y.to(device), init_std)

    @property
    def num_problems(self) -> int:
        return self.W.shape[0]

    @property
    def dim(self) -> int:
        return self.W.shape[2]

    def initial_params(self, generator: torch.Generator | None = None) -> Tensor:
        """``θ_0`` of shape ``[B, d]``."""
        theta = torch.randn(self.num_problems, self.dim, generator=generator, dtype=self.W.dtype)
        return (self.init_std * theta).to(self.W.device)

    def loss(self, theta: Tensor) -> Tensor:
        """``[B, d] -> [B]`` losses."""
        residual = torch.einsum("bmd,bd->bm", self.W, theta) - self.y
        return residual.pow(2).sum(-1)

    def hessian_max_eigenvalue(self) -> Tensor:
        """Largest eigenvalue of the Hessian ``2 WᵀW`` of each problem, ``[B]``."""
        return 2 * torch.linalg.eigvalsh(self.W.transpose(1, 2) @ self.W)[:, -1]

    def minimum(self) -> Tensor:
        """The optimal loss of each problem, ``[B]`` (0 when ``W`` is invertible)."""
        solution = torch.linalg.lstsq(self.W, self.y.unsqueeze(-1)).solution.squeeze(-1)
        return self.loss(solution)


class SinusoidMLPProblems:
    """``B`` small regression problems: fit a 1-``hidden``-1 tanh MLP to ``K`` points of a sinusoid.

    The MLP weights of problem ``b`` are the flat vector ``theta[b]`` (``n = 3·hidden + 1``
    entries: ``w1 [hidden]``, ``b1 [hidden]``, ``w2 [hidden]``, ``b2 [1]``). The loss is the full-batch
    mean squared error on the ``K`` points. Tasks follow Finn et al.: ``y = A sin(x − φ)``,
    ``A ~ U[0.1, 5]``, ``φ ~ U[0, π]``, ``x ~ U[−5, 5]``.
    """

    def __init__(self, x: Tensor, y: Tensor, hidden: int = 20):
        if x.shape != y.shape or x.dim() != 2:
            raise ValueError(f"expected x and y of shape [B, K], got {tuple(x.shape)} and {tuple(y.shape)}")
        self.x, self.y, self.hidden = x, y, hidden

    @classmethod
    def sample(cls, num_problems: int, num_points: int = 20, hidden: int = 20,
               generator: torch.Generator | None = None, device=None,
               dtype=torch.float32) -> SinusoidMLPProblems:
        amplitude = 0.1 + 4.9 * torch.rand(num_problems, 1, generator=generator, dtype=dtype)
        phase = math.pi * torch.rand(num_problems, 1, generator=generator, dtype=dtype)
        x = -5 + 10 * torch.rand(num_problems, num_points, generator=generator, dtype=dtype)
        y = amplitude * torch.sin(x - phase)
        return cls(x.to(device), y.to(device), hidden)

    @property
    def num_problems(self) -> int:
        return self.x.shape[0]

    @property
    def dim(self) -> int:
        return 3 * self.hidden + 1

    def initial_params(self, generator: torch.Generator | None = None) -> Tensor:
        """PyTorch-style default init (uniform ±1/√fan_in) for each problem, ``[B, n]``."""
        h, B = self.hidden, self.num_problems
        w1 = 2 * torch.rand(B, h, generator=generator, dtype=self.x.dtype) - 1          # fan_in 1
        b1 = 2 * torch.rand(B, h, generator=generator, dtype=self.x.dtype) - 1
        bound = 1 / math.sqrt(h)
        w2 = bound * (2 * torch.rand(B, h, generator=generator, dtype=self.x.dtype) - 1)
        b2 = bound * (2 * torch.rand(B, 1, generator=generator, dtype=self.x.dtype) - 1)
        return torch.cat([w1, b1, w2, b2], dim=1).to(self.x.device)

    def predict(self, theta: Tensor, x: Tensor | None = None) -> Tensor:
        """``theta [B, n]``, ``x [B, K]`` -> predictions ``[B, K]``."""
        x = self.x if x is None else x
        h = self.hidden
        w1, b1, w2, b2 = theta[:, :h], theta[:, h:2 * h], theta[:, 2 * h:3 * h], theta[:, 3 * h:]
        hidden = torch.tanh(x.unsqueeze(-1) * w1.unsqueeze(1) + b1.unsqueeze(1))      # [B, K, h]
        return (hidden * w2.unsqueeze(1)).sum(-1) + b2

    def loss(self, theta: Tensor) -> Tensor:
        """``[B, n] -> [B]`` mean squared errors."""
        return (self.predict(theta) - self.y).pow(2).mean(-1)

