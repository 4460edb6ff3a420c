"""The MANN's memory addressing (Santoro et al. 2016): content-based reads and LRUA writes.

The functions that :class:`course_lib.algorithms.mann.MANN` calls at every step, each on tensors of a
batch of ``B`` episodes, ``R`` heads and ``S`` slots of width ``W``: the cosine read
(:func:`content_read`), the least-recently-used write weights (:func:`lrua_write`) and the usage that
decides which slots are least used (:func:`update_usage`). Chapter 06's learners write their own
versions of the first two and run them inside the model (``read_fn``, ``write_fn``).
"""

from __future__ import annotations

import torch


def cosine_similarity(keys: torch.Tensor, memory: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Cosine similarity of every key with every memory slot.

    keys ``[B, R, W]``, memory ``[B, S, W]`` -> ``[B, R, S]``.
    """
    if keys.dim() != 3 or memory.dim() != 3 or keys.shape[-1] != memory.shape[-1]:
        raise ValueError(f"keys must be [B, R, W] and memory [B, S, W] with the same W; got "
                         f"{tuple(keys.shape)} and {tuple(memory.shape)}")
    dots = torch.einsum("brw,bsw->brs", keys, memory)
    norms = keys.norm(dim=-1).unsqueeze(-1) * memory.norm(dim=-1).unsqueeze(1)
    return dots / (norms + eps)


def content_read_weights(keys: torch.Tensor, memory: torch.Tensor,
                         strength: torch.Tensor | None = None) -> torch.Tensor:
    """Read weights ``softmax_i(beta * cos(k, M(i)))``: ``[B, R, W], [B, S, W] -> [B, R, S]``.

    ``strength`` (``[B, R]``, >= 0) sharpens the softmax; ``None`` means 1 (the paper). Every row
    sums to one.
    """
    similarity = cosine_similarity(keys, memory)
    if strength is not None:
        similarity = similarity * strength.unsqueeze(-1)
    return torch.softmax(similarity, dim=-1)


def least_used(usage: torch.Tensor, n: int) -> torch.Tensor:
    """``w^lu``: 1 on the ``n`` least used slots, 0 elsewhere. ``[B, S] -> [B, S]``.

    Ties are broken towards the lower slot index.
    """
    if usage.dim() != 2:
        raise ValueError(f"usage must be [B, S], got shape {tuple(usage.shape)}")
    if not 1 <= n <= usage.shape[1]:
        raise ValueError(f"n must be in 1..{usage.shape[1]} (number of slots), got {n}")
    # stable sort so that equal usages pick the lowest index first
    index = torch.sort(usage, dim=1, stable=True).indices[:, :n]
    return torch.zeros_like(usage).scatter_(1, index, 1.0)


def lrua_write_weights(gate_logit: torch.Tensor, prev_read: torch.Tensor,
                       prev_least_used: torch.Tensor) -> torch.Tensor:
    """LRUA write weights ``w^w = sigma(alpha) w^r_{t-1} + (1 - sigma(alpha)) w^lu_{t-1}``.

    gate_logit ``[B, R]``, prev_read ``[B, R, S]``, prev_least_used ``[B, S]`` -> ``[B, R, S]``.
    """
    gate = torch.sigmoid(gate_logit).unsqueeze(-1)
    return gate * prev_read + (1.0 - gate) * prev_least_used.unsqueeze(1)


def content_read(keys: torch.Tensor, memory: torch.Tensor,
                 strength: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The whole content-based read: keys ``[B, R, W]``, memory ``[B, S, W]``, strength ``[B, R]``
    -> (read weights ``w^r [B, R, S]``, read vectors ``r = sum_i w^r(i) M(i)``  ``[B, R, W]``)."""
    weights = content_read_weights(keys, memory, strength)
    return weights, torch.bmm(weights, memory)


def lrua_write(gate_logit: torch.Tensor, prev_read: torch.Tensor, prev_usage: torch.Tensor) -> torch.Tensor:
    """The whole LRUA write addressing: ``w^w`` from the previous step's read weights and usage.

    gate_logit ``[B, R]``, prev_read ``[B, R, S]``, prev_usage ``[B, S]`` -> ``[B, R, S]``; the
    least-used weights mark the ``R`` least used slots of ``prev_usage``.
    """
    return lrua_write_weights(gate_logit, prev_read, least_used(prev_usage, gate_logit.shape[1]))


def update_usage(prev_usage: torch.Tensor, read_weights: torch.Tensor,
                 write_weights: torch.Tensor, gamma: float) -> torch.Tensor:
    """``w^u_t = gamma w^u_{t-1} + sum_heads w^r_t + sum_heads w^w_t`` -> ``[B, S]``."""
    return gamma * prev_usage + read_weights.sum(1) + write_weights.sum(1)
