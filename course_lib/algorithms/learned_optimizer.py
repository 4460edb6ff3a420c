"""A learned optimizer: the coordinate-wise LSTM of Andrychowicz et al. (2016).

"Learning to learn by gradient descent by gradient descent" (NeurIPS 2016) replaces a hand-written
update rule such as SGD or Adam by a recurrent network ``m`` with parameters ``φ``::

    g_t, h_{t+1} = m(∇_t, h_t; φ)          ∇_t = ∇_θ f(θ_t)
    θ_{t+1}      = θ_t + g_t

The network is *coordinate-wise*: the same small 2-layer LSTM (20 hidden units) is applied to every
coordinate of ``θ`` independently, each coordinate with its own hidden state. It therefore has a
fixed number of parameters whatever the size of ``θ``, and it sees one gradient entry at a time.

Meta-training minimises the sum of the optimizee's losses along the trajectory,

    L(φ) = E_f [ Σ_{t=1}^{T} w_t f(θ_t) ]      (w_t = 1),

by backpropagating through the unrolled optimisation, cut into truncated windows of ``unroll``
steps (truncated BPTT): each window gives one meta-gradient step, and the optimizee state and the
LSTM state are carried over (detached) to the next window. As in the paper, the optimizee's
gradients ``∇_t`` are treated as inputs (no second derivatives of ``f``) unless
``second_order=True``.

Optimizee problems are *batches* of independent problems sharing one flat parameter vector per
problem: ``theta`` has shape ``[B, n]`` and ``problem.loss(theta)`` returns ``[B]`` losses. Two
families are provided: random quadratics ``f(θ) = ||Wθ − y||²`` (the paper's first experiment)
and small MLPs regressing sinusoids (a different problem, to test generalisation).

Hand-written rules (:class:`SGDRule`, :class:`AdamRule`) expose the same interface as the LSTM, so
one :func:`optimize` function runs all of them and comparisons use identical code.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

__all__ = [
    "AdamRule",
    "LSTMOptimizer",
    "LSTMOptimizerTrainer",
    "QuadraticProblems",
    "SGDRule",
    "SinusoidMLPProblems",
    "Trajectory",
    "optimize",
    "preprocess_gradients",
    "tune_learning_rate",
]


# --------------------------------------------------------------------------------------------
# The learned update rule
# --------------------------------------------------------------------------------------------

def preprocess_gradients(grad: Tensor, p: float = 10.0) -> Tensor:
    """Andrychowicz et al.'s log/sign gradient preprocessing (their Appendix A).

    Gradients span many orders of magnitude, which a neural network input does not like. Each
    entry ``∇`` becomes two numbers::

        (log|∇| / p,  sign(∇))   if |∇| >= e^{-p}
        (-1,          e^{p} ∇)   otherwise

    Args:
        grad: ``[N]`` gradient entries (any shape works; a trailing axis of size 2 is added).
        p: the scale ``p > 0`` (10 in the paper).

    Returns:
        ``[N, 2]`` preprocessed inputs, each channel roughly in ``[-1, 1]`` for typical gradients.
    """
    if p <= 0:
        raise ValueError(f"preprocessing scale p must be positive, got {p}")
    magnitude = grad.abs()
    big = magnitude >= math.exp(-p)
    log_part = torch.where(big, torch.log(magnitude.clamp_min(math.exp(-p))) / p,
                           torch.full_like(grad, -1.0))
    sign_part = torch.where(big, torch.sign(grad), math.exp(p) * grad)
    return torch.stack([log_part, sign_part], dim=-1)


LSTMState = tuple[tuple[Tensor, ...], tuple[Tensor, ...]]


class LSTMOptimizer(nn.Module):
    """Coordinate-wise 2-layer LSTM optimizer ``(∇_t, h_t) -> (g_t, h_{t+1})``.

    Args:
        hidden_size: units per LSTM layer (20 in the paper).
        num_layers: stacked LSTM layers (2 in the paper).
        preprocess: use :func:`preprocess_gradients` (input size 2) instead of the raw gradient
            (input size 1).
        p: preprocessing scale.
        output_scale: the update is ``output_scale * Linear(h)``; a small value makes the untrained
            optimizer take small, safe steps (0.1 here).

    Shapes: ``forward(grad [N], state) -> (update [N], state)`` where ``N`` is the number of
    coordinates (all coordinates of all problems in a batch, flattened) and every state tensor is
    ``[N, hidden_size]``.
    """

    def __init__(self, hidden_size: int = 20, num_layers: int = 2, *, preprocess: bool = True,
                 p: float = 10.0, output_scale: float = 0.1):
        super().__init__()
        if hidden_size < 1 or num_layers < 1:
            raise ValueError(f"hidden_size and num_layers must be >= 1, got {hidden_size}, {num_layers}")
        if output_scale <= 0:
            raise ValueError(f"output_scale must be positive, got {output_scale}")
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.preprocess, self.p, self.output_scale = preprocess, p, output_scale
        in_size = 2 if preprocess else 1
        self.cells = nn.ModuleList(
            [nn.LSTMCell(in_size if i == 0 else hidden_size, hidden_size) for i in range(num_layers)])
        self.head = nn.Linear(hidden_size, 1)

    def initial_state(self, num_coords: int, device=None, dtype=None) -> LSTMState:
        """Zero hidden and cell states for ``num_coords`` coordinates."""
        ref = self.head.weight
        zeros = [torch.zeros(num_coords, self.hidden_size, device=device or ref.device,
                             dtype=dtype or ref.dtype) for _ in range(self.num_layers)]
        return tuple(zeros), tuple(z.clone() for z in zeros)

    def forward(self, grad: Tensor, state: LSTMState) -> tuple[Tensor, LSTMState]:
        x = preprocess_gradients(grad, self.p) if self.preprocess else grad.unsqueeze(-1)
        hs, cs = [], []
        for cell, h, c in zip(self.cells, *state):
            h, c = cell(x, (h, c))
            hs.append(h)
            cs.append(c)
            x = h
        update = self.output_scale * self.head(x).squeeze(-1)
        return update, (tuple(hs), tuple(cs))


# --------------------------------------------------------------------------------------------
# Hand-written rules with the same interface
# --------------------------------------------------------------------------------------------

class SGDRule:
    """Plain gradient descent, ``g_t = −lr ∇_t``. Stateless."""

    def __init__(self, lr: float):
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.lr = lr

    def initial_state(self, num_coords: int, device=None, dtype=None):
        return ()

    def __call__(self, grad: Tensor, state):
        return -self.lr * grad, state

    def __repr__(self) -> str:
        return f"SGD(lr={self.lr:g})"


class AdamRule:
    """Adam (Kingma & Ba 2015) written out, with bias correction. State ``(t, m, v)``."""

    def __init__(self, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.lr, self.betas, self.eps = lr, betas, eps

    def initial_state(self, num_coords: int, device=None, dtype=None):
        zeros = torch.zeros(num_coords, device=device, dtype=dtype)
        return 0, zeros, zeros.clone()

    def __call__(self, grad: Tensor, state):
        t, m, v = state
        b1, b2 = self.betas
        t = t + 1
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * grad * grad
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        return -self.lr * m_hat / (v_hat.sqrt() + self.eps), (t, m, v)

    def __repr__(self) -> str:
        return f"Adam(lr={self.lr:g})"


# --------------------------------------------------------------------------------------------
# Optimizee problems
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Running any rule on a batch of problems
# --------------------------------------------------------------------------------------------

@dataclass
class Trajectory:
    """Result of :func:`optimize`.

    Attributes:
        losses: ``[steps + 1, B]`` losses ``f(θ_0), ..., f(θ_T)`` (detached unless ``keep_graph``).
        theta: final parameters ``[B, n]``.
        state: the rule's final state (to continue an optimisation).
    """

    losses: Tensor
    theta: Tensor
    state: object

    def mean_curve(self) -> Tensor:
        """``[steps + 1]`` loss averaged over problems."""
        return self.losses.mean(dim=1)


def optimize(rule: Callable, problems, theta: Tensor, steps: int, *, state=None,
             keep_graph: bool = False, second_order: bool = False) -> Trajectory:
    """Run ``steps`` updates ``θ_{t+1} = θ_t + rule(∇f(θ_t), state)`` on a batch of problems.

    Args:
        rule: an :class:`LSTMOptimizer` or a hand-written rule; called on the flattened gradient
            ``[B·n]`` and returns the update ``[B·n]`` and the new state.
        problems: object with ``loss(theta [B, n]) -> [B]``.
        theta: ``θ_0`` ``[B, n]``.
        steps: number of updates (>= 1).
        state: the rule's state to start from (default: ``rule.initial_state``).
        keep_graph: keep the autograd graph through the trajectory (for meta-training). Otherwise
            ``θ`` is detached after each step and the run uses no extra memory.
        second_order: also differentiate through the optimizee's gradients ``∇_t`` (needs
            ``keep_graph``); the paper drops these terms.

    Returns:
        a :class:`Trajectory` with ``losses [steps + 1, B]``.
    """
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an integer >= 1, got {steps!r}")
    if second_order and not keep_graph:
        raise ValueError("second_order=True needs keep_graph=True")
    B, n = theta.shape
    if state is None:
        state = rule.initial_state(B * n, device=theta.device, dtype=theta.dtype)
    if not theta.requires_grad:
        theta = theta.detach().requires_grad_(True)
    losses = []
    with torch.set_grad_enabled(True):
        for _ in range(steps):
            loss = problems.loss(theta)
            losses.append(loss if keep_graph else loss.detach())
            (gradient,) = torch.autograd.grad(loss.sum(), theta, create_graph=second_order,
                                              retain_graph=keep_graph)
            if not second_order:
                gradient = gradient.detach()
            with torch.set_grad_enabled(keep_graph):
                update, state = rule(gradient.reshape(-1), state)
            theta = theta + update.reshape(B, n)
            if not keep_graph:
                theta = theta.detach().requires_grad_(True)
                state = _detach(state)
        final = problems.loss(theta)
        losses.append(final if keep_graph else final.detach())
    return Trajectory(torch.stack(losses), theta if keep_graph else theta.detach(), state)


def _detach(state):
    """Detach every tensor in a nested tuple state (ints and the like pass through)."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple):
        return tuple(_detach(s) for s in state)
    return state


def tune_learning_rate(make_rule: Callable[[float], Callable], grid: Sequence[float], problems,
                       theta0: Tensor, steps: int) -> tuple[float, dict[float, float]]:
    """Pick the learning rate of a hand-written rule on *training* problems.

    The score of a learning rate is the mean loss along the trajectory (the same objective the
    LSTM optimizer is meta-trained on); a run that diverges (a non-finite loss, or a final loss
    above the starting loss) scores ``inf``.

    Returns:
        ``(best_lr, {lr: score})``.
    """
    if len(grid) == 0:
        raise ValueError("the learning-rate grid is empty")
    scores = {}
    for lr in grid:
        traj = optimize(make_rule(lr), problems, theta0, steps)
        score = traj.losses.mean().item()
        diverged = not math.isfinite(score) or traj.losses[-1].mean() > traj.losses[0].mean()
        scores[lr] = math.inf if diverged else score
    best = min(scores, key=scores.get)
    return best, scores


# --------------------------------------------------------------------------------------------
# Meta-training with truncated backpropagation through time
# --------------------------------------------------------------------------------------------

class LSTMOptimizerTrainer:
    """Meta-trains an :class:`LSTMOptimizer` with truncated BPTT; ``.step`` plugs into ``train_loop``.

    Every ``horizon`` optimizee steps a fresh batch of problems is drawn. The horizon is cut into
    windows of ``unroll`` steps; each call to :meth:`step` runs one window with the graph kept,
    takes the meta-loss ``mean_b Σ_{t in window} f_b(θ_t)`` (divided by ``unroll``), does one Adam
    step on ``φ``, and carries ``θ`` and the LSTM state over, detached.

    Args:
        optimizer_net: the :class:`LSTMOptimizer` being trained.
        sample_problems: ``generator -> problems`` (e.g. ``lambda g: QuadraticProblems.sample(128, 10, g)``).
        horizon: optimizee steps per problem batch (100 in the paper).
        unroll: truncation length (20 in the paper); must divide ``horizon``.
        meta_lr: Adam learning rate on ``φ``.
        grad_clip: clip the meta-gradient norm (``None`` for no clipping).
        second_order: differentiate through the optimizee's gradients (off in the paper).
        generator: CPU generator for problem sampling.
    """

    def __init__(self, optimizer_net: LSTMOptimizer, sample_problems: Callable, *, horizon: int = 100,
                 unroll: int = 20, meta_lr: float = 1e-3, grad_clip: float | None = 1.0,
                 second_order: bool = False, generator: torch.Generator | None = None):
        if not isinstance(unroll, int) or unroll < 1:
            raise ValueError(f"unroll length must be an integer >= 1, got {unroll!r}")
        if not isinstance(horizon, int) or horizon < unroll:
            raise ValueError(f"horizon must be an integer >= unroll ({unroll}), got {horizon!r}")
        if horizon % unroll:
            raise ValueError(f"unroll ({unroll}) must divide horizon ({horizon}), e.g. horizon=100, unroll=20")
        if not meta_lr > 0:
            raise ValueError(f"meta_lr must be positive, got {meta_lr}")
        self.net, self.sample_problems = optimizer_net, sample_problems
        self.horizon, self.unroll, self.second_order, self.grad_clip = horizon, unroll, second_order, grad_clip
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.meta_optimizer = torch.optim.Adam(optimizer_net.parameters(), lr=meta_lr)
        self._problems = self._theta = self._state = None
        self._t = 0

    def _new_problems(self) -> None:
        self._problems = self.sample_problems(self.generator)
        self._theta = self._problems.initial_params(self.generator)
        self._state = None
        self._t = 0

    def step(self, step: int = 0) -> dict[str, float]:
        """One truncated window = one meta-gradient step.

        Returns ``{"loss": meta-loss of the window, "final_loss": mean f(θ) at the window's end,
        "window": index of the window within its run (0, 1, ...)}``; ``final_loss`` of the last
        window of a run is the loss that run ended with.
        """
        if self._problems is None or self._t >= self.horizon:
            self._new_problems()
        traj = optimize(self.net, self._problems, self._theta, self.unroll, state=self._state,
                        keep_graph=True, second_order=self.second_order)
        meta_loss = traj.losses[1:].sum(0).mean() / self.unroll
        self.meta_optimizer.zero_grad()
        meta_loss.backward()
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.grad_clip)
        self.meta_optimizer.step()
        self._theta, self._state = traj.theta.detach(), _detach(traj.state)
        window = self._t // self.unroll
        self._t += self.unroll
        return {"loss": meta_loss.item(), "final_loss": traj.losses[-1].mean().item(), "window": float(window)}
