"""A learned optimizer: the coordinate-wise LSTM of Andrychowicz et al. (2016).

"Learning to learn by gradient descent by gradient descent" (NeurIPS 2016) replaces a hand-written
update rule such as SGD or Adam by a recurrent network ``m`` with parameters ``φ``::

    g_t, h_{t+1} = m(∇_t, h_t; φ)          ∇_t = ∇_θ f(θ_t)
    θ_{t+1}      = θ_t + g_t

One small LSTM is applied to every coordinate of ``θ`` independently (*coordinate-wise*, each with
its own hidden state). Meta-training minimises ``E_f[Σ_t f(θ_t)]`` by backpropagating through the
unrolled optimisation cut into windows (truncated BPTT).

Every rule here (:class:`LSTMOptimizer`, :class:`SGDRule`, :class:`AdamRule`) maps a flat gradient
``[N]`` and a state to an update ``[N]`` and a new state. :func:`optimize` runs one on a batch of
problems from :mod:`course_lib.data.optimizee_problems` (``theta [B, n]``, ``loss(theta) -> [B]``);
:class:`LearnedUpdate` turns one into an update rule of the shared inner loop
:func:`course_lib.adaptation.adapt`, which works on a model's parameter dict.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from course_lib.checks import check_count

__all__ = ["AdamRule", "LSTMOptimizer", "LSTMOptimizerTrainer", "LearnedUpdate", "SGDRule", "Trajectory",
           "optimize", "preprocess_gradients", "tune_learning_rate"]


# The learned update rule
def preprocess_gradients(grad: Tensor, p: float = 10.0) -> Tensor:
    """Andrychowicz et al.'s log/sign preprocessing (their Appendix A): gradients span many orders of
    magnitude, so each entry ``∇`` becomes ``(log|∇| / p, sign ∇)`` if ``|∇| >= e^{-p}``, else ``(-1, e^p ∇)``.

    ``grad [N]`` (any shape; a trailing axis of size 2 is added), ``p > 0`` (10 in the paper) ->
    ``[N, 2]``, each channel roughly in ``[-1, 1]``.
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

    ``hidden_size`` units in each of ``num_layers`` layers (20 and 2 in the paper); inputs are
    :func:`preprocess_gradients` (scale ``p``) or, with ``preprocess=False``, the raw gradient; the
    update is ``output_scale * Linear(h)`` (small, so that the untrained optimizer takes safe steps).

    Shapes: ``forward(grad [N], state) -> (update [N], state)``, ``N`` coordinates (all coordinates
    of all problems, flattened); every state tensor is ``[N, hidden_size]``.
    """

    def __init__(self, hidden_size: int = 20, num_layers: int = 2, *, preprocess: bool = True,
                 p: float = 10.0, output_scale: float = 0.1):
        super().__init__()
        check_count("hidden_size", hidden_size)
        check_count("num_layers", num_layers)
        if output_scale <= 0:
            raise ValueError(f"output_scale must be positive, got {output_scale}")
        self.hidden_size, self.num_layers = hidden_size, num_layers
        self.preprocess, self.p, self.output_scale = preprocess, p, output_scale
        in_size = 2 if preprocess else 1
        self.cells = nn.ModuleList([nn.LSTMCell(in_size if i == 0 else hidden_size, hidden_size)
                                    for i in range(num_layers)])
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


class LearnedUpdate:
    """A coordinate-wise rule (:class:`LSTMOptimizer`, :class:`SGDRule`, :class:`AdamRule`) as an update
    rule of :func:`course_lib.adaptation.adapt`: ``adapt(..., update=LearnedUpdate(net))``.

    A step flattens the gradients of all adapted entries into one vector ``[n]`` (dict order), applies
    the rule and adds the update back entry by entry: ``θ_{t+1} = θ_t + m(∇_t, h_t)``.
    """

    def __init__(self, rule: Callable):
        if not callable(rule) or not hasattr(rule, "initial_state"):
            raise ValueError(f"expected an LSTMOptimizer, SGDRule or AdamRule, got {rule!r}")
        self.rule = rule

    def init(self, params: Mapping[str, Tensor]):
        """The rule's initial state for all ``n = Σ numel`` coordinates of ``params``."""
        ref = next(iter(params.values()))
        return self.rule.initial_state(sum(p.numel() for p in params.values()), device=ref.device, dtype=ref.dtype)

    def __call__(self, params: Mapping[str, Tensor], grads: Mapping[str, Tensor], state):
        flat = torch.cat([grads[name].reshape(-1) for name in params])                  # [n]
        update, state = self.rule(flat, state)
        pieces = torch.split(update, [p.numel() for p in params.values()])
        return {name: p + u.view_as(p) for (name, p), u in zip(params.items(), pieces)}, state

    def __repr__(self) -> str:
        return f"LearnedUpdate({type(self.rule).__name__})"


# Hand-written rules with the same interface
class _HandWrittenRule:
    """A rule with one learning rate ``lr > 0``; printed as e.g. ``SGD(lr=0.01)``."""

    def __init__(self, lr: float):
        if not lr > 0:
            raise ValueError(f"learning rate must be positive, got {lr}")
        self.lr = lr

    def __repr__(self) -> str:
        return f"{type(self).__name__.removesuffix('Rule')}(lr={self.lr:g})"


class SGDRule(_HandWrittenRule):
    """Plain gradient descent, ``g_t = −lr ∇_t``. Stateless."""

    def initial_state(self, num_coords: int, device=None, dtype=None):
        return ()

    def __call__(self, grad: Tensor, state):
        return -self.lr * grad, state


class AdamRule(_HandWrittenRule):
    """Adam (Kingma & Ba 2015) written out, with bias correction. State ``(t, m, v)``."""

    def __init__(self, lr: float, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        super().__init__(lr)
        self.betas, self.eps = betas, eps

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


# Running any rule on a batch of problems
@dataclass
class Trajectory:
    """Result of :func:`optimize`: ``losses [steps + 1, B]`` (``f(θ_0) ... f(θ_T)``, detached unless
    ``keep_graph``), the final ``theta [B, n]`` and the rule's final ``state`` (to continue)."""

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
        rule: maps the flattened gradient ``[B·n]`` and its state to an update ``[B·n]`` and a new state.
        problems: has ``loss(theta [B, n]) -> [B]`` (:mod:`course_lib.data.optimizee_problems`).
        theta: ``θ_0 [B, n]``; state: the rule's state to start from (default ``rule.initial_state``).
        keep_graph: keep the graph through the trajectory (meta-training); otherwise ``θ`` is
            detached after each step. second_order: also differentiate through ``∇_t`` (needs
            ``keep_graph``; the paper drops these terms).
    """
    check_count("steps", steps)
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
            (gradient,) = torch.autograd.grad(loss.sum(), theta, create_graph=second_order, retain_graph=keep_graph)
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
    """Detach every tensor in a nested tuple state."""
    if isinstance(state, Tensor):
        return state.detach()
    if isinstance(state, tuple):
        return tuple(_detach(s) for s in state)
    return state


def tune_learning_rate(make_rule: Callable[[float], Callable], grid: Sequence[float], problems,
                       theta0: Tensor, steps: int) -> tuple[float, dict[float, float]]:
    """Pick the learning rate of a hand-written rule on *training* problems: ``(best_lr, {lr: score})``.

    The score is the mean loss along the trajectory (the LSTM's meta-training objective); a run that
    diverges (a non-finite loss, or a final loss above the starting loss) scores ``inf``.
    """
    if len(grid) == 0:
        raise ValueError("the learning-rate grid is empty")
    scores = {}
    for lr in grid:
        traj = optimize(make_rule(lr), problems, theta0, steps)
        score = traj.losses.mean().item()
        diverged = not math.isfinite(score) or traj.losses[-1].mean() > traj.losses[0].mean()
        scores[lr] = math.inf if diverged else score
    return min(scores, key=scores.get), scores


# Meta-training with truncated backpropagation through time
class LSTMOptimizerTrainer:
    """Meta-trains an :class:`LSTMOptimizer` with truncated BPTT; ``.step`` plugs into ``train_loop``.

    ``sample_problems(generator)`` draws a fresh batch of problems every ``horizon`` optimizee steps
    (100 in the paper); the horizon is cut into windows of ``unroll`` steps (20; must divide it).
    Each :meth:`step` runs one window with the graph kept, takes the meta-loss
    ``mean_b Σ_{t in window} f_b(θ_t) / unroll``, does one Adam step (``meta_lr``) on ``φ`` with the
    meta-gradient norm clipped at ``grad_clip`` (``None``: no clipping), and carries ``θ`` and the
    LSTM state over, detached. ``second_order``: differentiate through ``∇_t`` (off in the paper).
    """

    def __init__(self, optimizer_net: LSTMOptimizer, sample_problems: Callable, *, horizon: int = 100,
                 unroll: int = 20, meta_lr: float = 1e-3, grad_clip: float | None = 1.0,
                 second_order: bool = False, generator: torch.Generator | None = None):
        check_count("unroll length", unroll)
        check_count("horizon", horizon, unroll, "a run must hold at least one window")
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

    def step(self, step: int = 0) -> dict[str, float]:
        """One truncated window = one meta-gradient step: ``{"loss": the window's meta-loss,
        "final_loss": mean f(θ) at its end, "window": its index within the run (0, 1, ...)}``."""
        if self._problems is None or self._t >= self.horizon:  # a new run on fresh problems
            self._problems = self.sample_problems(self.generator)
            self._theta, self._state, self._t = self._problems.initial_params(self.generator), None, 0
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
