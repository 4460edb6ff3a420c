"""Dynamic Key-Value Memory Network for knowledge tracing (Zhang et al., WWW 2017).

A *memory-augmented* meta-learner: a static key memory ``M^k`` [N, d_k] holds N latent concepts
(shared by all students); a per-student value memory ``M^v_t`` [N, d_v] holds this student's
mastery of each concept and is rewritten after every answer. For question q_t:

    k_t = A q_t                                    (question embedding, d_k)
    w_t(i) = softmax_i(k_t . M^k(i))               (correlation weight, sums to 1 over i)
    r_t = sum_i w_t(i) M^v_t(i)                    (read content, d_v)
    f_t = tanh(W_1 [r_t, k_t] + b_1)               (summary, d_f)
    p_t = sigmoid(W_2 f_t + b_2)                   (probability of a correct answer)

After the answer y_t, with v_t = B (q_t, y_t) (embedding of the pair, d_v):

    e_t = sigmoid(E v_t + b_e)                     (erase vector, in (0,1)^{d_v})
    a_t = tanh(D v_t + b_a)                        (add vector)
    M~^v(i) = M^v_t(i) * (1 - w_t(i) e_t)          (erase, element-wise)
    M^v_{t+1}(i) = M~^v(i) + w_t(i) a_t            (add)

Paper settings on ASSIST2009: N = 20, d_k = 50, d_v = 200, d_f = 50, sequences of 200.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.checks import check_responses


def correlation_weights(query_keys: torch.Tensor, key_memory: torch.Tensor) -> torch.Tensor:
    """w = softmax(k . M^k): query_keys [..., d_k], key_memory [N, d_k] -> weights [..., N]."""
    if query_keys.shape[-1] != key_memory.shape[-1]:
        raise ValueError(f"key size mismatch: queries have {query_keys.shape[-1]}, memory has {key_memory.shape[-1]}")
    return torch.softmax(query_keys @ key_memory.T, dim=-1)


def read_memory(value_memory: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """r = sum_i w(i) M^v(i): value_memory [B, N, d_v], weights [B, N] -> [B, d_v]."""
    if value_memory.shape[:2] != weights.shape:
        raise ValueError(f"weights {tuple(weights.shape)} do not match memory slots {tuple(value_memory.shape[:2])}")
    return torch.einsum("bn,bnd->bd", weights, value_memory)


def write_memory(value_memory: torch.Tensor, weights: torch.Tensor, erase: torch.Tensor,
                 add: torch.Tensor) -> torch.Tensor:
    """Erase then add: M(i) <- M(i) * (1 - w(i) e) + w(i) a.

    value_memory [B, N, d_v], weights [B, N], erase [B, d_v] in (0, 1), add [B, d_v] -> [B, N, d_v].
    """
    w = weights.unsqueeze(-1)                                   # [B, N, 1]
    erased = value_memory * (1 - w * erase.unsqueeze(1))
    return erased + w * add.unsqueeze(1)


class DKVMN(nn.Module):
    """DKVMN knowledge tracer; ``forward(skills, correct) -> logits [B, T]`` (1-based skills, 0 = pad)."""

    def __init__(self, num_skills: int, memory_size: int = 20, key_dim: int = 50, value_dim: int = 200,
                 summary_dim: int = 50, dropout: float = 0.0):
        super().__init__()
        if num_skills < 1:
            raise ValueError(f"num_skills must be >= 1 (read it from the data), got {num_skills}")
        if memory_size < 1 or key_dim < 1 or value_dim < 1:
            raise ValueError("memory_size, key_dim and value_dim must all be >= 1")
        self.num_skills = int(num_skills)
        self.key_memory = nn.Parameter(torch.randn(memory_size, key_dim) * key_dim ** -0.5)
        self.init_value_memory = nn.Parameter(torch.randn(memory_size, value_dim) * 0.1)
        self.question_embed = nn.Embedding(num_skills + 1, key_dim, padding_idx=0)
        self.answer_embed = nn.Embedding(2 * num_skills + 1, value_dim, padding_idx=0)
        self.erase = nn.Linear(value_dim, value_dim)
        self.add = nn.Linear(value_dim, value_dim)
        self.summary = nn.Linear(value_dim + key_dim, summary_dim)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(summary_dim, 1)


    def initial_memory(self, batch_size: int) -> torch.Tensor:
        """The value memory before any answer: [B, N, d_v] (learned, the same for every student)."""
        return self.init_value_memory.unsqueeze(0).expand(batch_size, -1, -1)

    def run_memory(self, skills: torch.Tensor, correct: torch.Tensor):
        """Read before and write after each response.

        Returns (reads [B, T, d_v] — the content read *before* answer t —, final memory [B, N, d_v]).
        Padded positions (skill 0) leave the memory unchanged.
        """
        check_responses(skills, correct, self.num_skills)
        batch, steps = skills.shape
        keys = self.question_embed(skills)                                   # [B, T, d_k]
        weights = correlation_weights(keys, self.key_memory)                 # [B, T, N]
        tokens = torch.where(skills > 0, skills + self.num_skills * correct, torch.zeros_like(skills))
        values = self.answer_embed(tokens)                                    # [B, T, d_v]
        erase = torch.sigmoid(self.erase(values))
        add = torch.tanh(self.add(values))
        real = (skills > 0).unsqueeze(-1).to(values.dtype)                    # [B, T, 1]
        # unbind once: indexing [:, t] inside the loop would make autograd build a full-size zero
        # gradient for every step (quadratic in T)
        read_w = weights.unbind(1)
        write_w = (weights * real).unbind(1)                                  # no write on padding
        erase_t, add_t = erase.unbind(1), add.unbind(1)
        memory = self.initial_memory(batch)
        reads = []
        for t in range(steps):
            reads.append(read_memory(memory, read_w[t]))
            memory = write_memory(memory, write_w[t], erase_t[t], add_t[t])
        reads = torch.stack(reads, dim=1) if reads else keys.new_zeros(batch, 0, memory.shape[-1])
        return reads, memory

    def predict_from_reads(self, reads: torch.Tensor, skills: torch.Tensor) -> torch.Tensor:
        """p-logit from read content and question key: reads [..., d_v], skills [...] -> [...]."""
        keys = self.question_embed(skills)
        summary = torch.tanh(self.summary(torch.cat([reads, keys], dim=-1)))
        return self.out(self.dropout(summary)).squeeze(-1)

    def forward(self, skills: torch.Tensor, correct: torch.Tensor) -> torch.Tensor:
        """Logit of answering each response correctly from the responses before it: [B, T]."""
        reads, _ = self.run_memory(skills, correct)
        return self.predict_from_reads(reads, skills)

    def predict_after(self, support_skills: torch.Tensor, support_correct: torch.Tensor,
                      query_skills: torch.Tensor, support_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Cold start: write the k support answers, then read (without writing) for each query. [B, Q]."""
        if support_mask is not None:
            support_skills = torch.where(support_mask, support_skills, torch.zeros_like(support_skills))
        _, memory = self.run_memory(support_skills, support_correct)
        keys = self.question_embed(query_skills)                              # [B, Q, d_k]
        weights = correlation_weights(keys, self.key_memory)                  # [B, Q, N]
        reads = torch.einsum("bqn,bnd->bqd", weights, memory)
        return self.predict_from_reads(reads, query_skills)
