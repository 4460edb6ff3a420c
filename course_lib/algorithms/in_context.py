"""In-context learning: a small transformer that learns a task from the (x, y) pairs in its input.

Garg, Tsipras, Liang & Valiant (NeurIPS 2022), "What Can Transformers Learn In-Context? A Case Study
of Simple Function Classes"; for classification in the spirit of SNAIL (Mishra et al., ICLR 2018).

The model is the black-box learner of chapter 06 with a transformer as its sequence model. Its input
is one task's *context* (the support pairs) followed by *queries* (inputs whose targets it must
predict). Nothing is fine-tuned at test time: learning happens in the forward pass::

    tokens   c_j = E [x_j, y_j, 1]   (context pair j)        q_i = E [x*_i, 0, 0]   (query i)
    h        = Transformer(tokens, mask)                        L pre-LayerNorm blocks
    y_hat_i  = R h(q_i)                                         one prediction per query token

The **mask** says who reads whom (``True`` = may attend, as in ``F.scaled_dot_product_attention``):

* context token ``j`` reads context tokens ``k <= j`` (causal: no pair sees a later one),
* query ``i`` reads itself and the context pairs that ``visible[i]`` allows; no query reads another.

Meta-training (Garg et al.'s objective) uses the *prefix* mask ``visible[i, j] = j < i`` with the
queries set to the context inputs themselves: query ``i`` predicts ``y_i`` from the ``i`` pairs before
it, so one forward pass trains every context size ``0 .. n-1`` at once (:func:`prefix_loss`).
Tokens carry no position: the prediction does not depend on the order of the context pairs.

Shapes: ``context_x [T, n, dx]``, ``context_y [T, n, dy]``, ``query_x [T, m, dx]`` -> ``[T, m, dy]``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.adaptation import LossFn

__all__ = ["InContextTransformer", "in_context_mask", "prefix_loss", "prefix_visibility"]


def in_context_mask(visible: Tensor) -> Tensor:
    """The attention mask ``[n + m, n + m]`` (True = may attend) for ``visible [m, n]`` (bool).

    Rows and columns: the ``n`` context tokens, then the ``m`` query tokens.
    """
    if visible.dim() != 2 or visible.dtype != torch.bool:
        raise ValueError(f"visible must be a bool matrix [queries, context], got {visible.dtype} {list(visible.shape)}")
    m, n = visible.shape
    mask = torch.zeros(n + m, n + m, dtype=torch.bool, device=visible.device)
    mask[:n, :n] = torch.ones(n, n, dtype=torch.bool, device=visible.device).tril()  # context: causal
    mask[n:, :n] = visible  # queries read the context they may see ...
    mask[n:, n:] = torch.eye(m, dtype=torch.bool, device=visible.device)  # ... and themselves, no other query
    return mask


def prefix_visibility(n: int, device: torch.device | str = "cpu") -> Tensor:
    """``visible [n, n]`` with ``visible[i, j] = j < i``: query ``i`` sees the ``i`` pairs before it."""
    return torch.ones(n, n, dtype=torch.bool, device=device).tril(diagonal=-1)


class Block(nn.Module):
    """One pre-LayerNorm transformer block: ``h + Attention(LN(h))``, then ``h + MLP(LN(h))``."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)  # queries, keys, values of every head at once
        self.out = nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, h: Tensor, mask: Tensor) -> Tensor:
        """``h [T, S, width]``, ``mask [S, S]`` -> ``[T, S, width]``."""
        t, s, width = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(t, s, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # [T, heads, S, width / heads]
        h = h + self.out(attended.transpose(1, 2).reshape(t, s, width))
        return h + self.mlp(self.norm2(h))


class InContextTransformer(nn.Module):
    """A transformer that predicts query targets from context pairs (regression or classification).

    Parameters
    ----------
    x_dim, y_dim : sizes of the inputs and of the targets (for classification ``y_dim = n_way``:
        context labels enter one-hot, and the predictions are logits over the ``n_way`` classes).
    width, depth, heads : model width, number of blocks, attention heads (``width % heads == 0``).
    """

    def __init__(self, x_dim: int, y_dim: int, width: int = 64, depth: int = 4, heads: int = 4) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width ({width}) must be a multiple of heads ({heads})")
        self.x_dim, self.y_dim = x_dim, y_dim
        self.embed = nn.Linear(x_dim + y_dim + 1, width)  # [x, y, is-context flag]
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(width)
        self.readout = nn.Linear(width, y_dim)

    def forward(self, context_x: Tensor, context_y: Tensor, query_x: Tensor, visible: Tensor | None = None) -> Tensor:
        """Predictions ``[T, m, y_dim]`` for ``query_x [T, m, x_dim]`` given ``context_x [T, n, x_dim]``,
        ``context_y [T, n, y_dim]``; ``visible [m, n]`` (bool, default all True) limits what each query reads."""
        t, n, m = context_x.shape[0], context_x.shape[1], query_x.shape[1]
        if context_x.shape[-1] != self.x_dim or query_x.shape[-1] != self.x_dim or context_y.shape[-1] != self.y_dim:
            raise ValueError(f"expected x [..., {self.x_dim}] and y [..., {self.y_dim}], got context_x "
                             f"{list(context_x.shape)}, context_y {list(context_y.shape)}, query_x {list(query_x.shape)}")
        if context_y.shape[:2] != (t, n) or query_x.shape[0] != t:
            raise ValueError("context_x, context_y and query_x must hold the same tasks (and context_x/y the same pairs)")
        if visible is None:
            visible = torch.ones(m, n, dtype=torch.bool, device=query_x.device)
        context = torch.cat([context_x, context_y, torch.ones_like(context_x[..., :1])], dim=-1)
        queries = torch.cat([query_x, query_x.new_zeros(t, m, self.y_dim + 1)], dim=-1)
        h = self.embed(torch.cat([context, queries], dim=1))  # [T, n + m, width]
        mask = in_context_mask(visible)
        for block in self.blocks:
            h = block(h, mask)
        return self.readout(self.norm(h[:, n:]))


def prefix_loss(model: InContextTransformer, x: Tensor, y: Tensor, loss_fn: LossFn = F.mse_loss,
                reduce: bool = True) -> Tensor:
    """Garg et al.'s training loss: predict each ``y_i`` from the ``i`` pairs before it, averaged over ``i``.

    ``x [T, n, dx]``, ``y [T, n, dy]`` -> a scalar, or (``reduce=False``) the loss per context size
    ``[n]`` (entry ``i``: predictions made from ``i`` examples). ``loss_fn(prediction, target)`` is
    applied to ``[T, dy]`` slices (MSE for regression, cross-entropy with class-index targets ``y``
    one-hot for classification: pass ``lambda p, t: F.cross_entropy(p, t.argmax(-1))``).
    """
    predictions = model(x, y, x, visible=prefix_visibility(x.shape[1], x.device))  # [T, n, dy]
    per_size = torch.stack([loss_fn(predictions[:, i], y[:, i]) for i in range(x.shape[1])])
    return per_size.mean() if reduce else per_size
