"""A logistic student model (multidimensional IRT): shared skill parameters + personal ability.

The probability that student s answers a question on skill j correctly is

    logit P(correct) = b_j + theta_s + u_s . v_j

* ``b_j`` (``skill_bias``, [S+1]) is the skill's easiness (minus the IRT difficulty);
* ``v_j`` (``skill_embed``, [S+1, r]) places the skill in an r-dimensional space of abilities;
* the **personal parameters** ``a_s = (theta_s, u_s)`` ([1 + r]) are the student's general
  ability and their profile over the r dimensions.

With r = 0 this is the Rasch (1PL) model of item response theory. Everything is a pure function
of tensors so the same code serves the global fit, fine-tuning, MAML and Reptile. Skill ids are
1-based; id 0 is padding (its parameters exist but are never used by a real response).

Shapes: ``shared`` is a dict whose tensors are either unbatched (``skill_bias [S+1]``,
``skill_embed [S+1, r]``) or carry a leading student dimension ``B`` (Reptile adapts them per
student); ``ability`` is [B, 1 + r]; ``skills`` is [B, T]; the logits are [B, T].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def init_shared(num_skills: int, rank: int = 4, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """Skill parameters for ``num_skills`` skills (ids 1..S): zero easiness, small random embeddings."""
    if num_skills < 1:
        raise ValueError(f"num_skills must be >= 1 (read it from the data), got {num_skills}")
    if rank < 0:
        raise ValueError(f"rank must be >= 0, got {rank}")
    return {
        "skill_bias": torch.zeros(num_skills + 1),
        "skill_embed": 0.1 * torch.randn(num_skills + 1, rank, generator=generator),
    }


def num_skills_of(shared: dict[str, torch.Tensor]) -> int:
    return shared["skill_bias"].shape[-1] - 1


def student_logits(shared: dict[str, torch.Tensor], ability: torch.Tensor, skills: torch.Tensor) -> torch.Tensor:
    """``b_j + theta_s + u_s . v_j`` for every response: ability [B, 1+r], skills [B, T] -> [B, T]."""
    bias, embed = shared["skill_bias"], shared["skill_embed"]
    if skills.ndim != 2 or ability.ndim != 2 or ability.shape[0] != skills.shape[0]:
        raise ValueError(f"expected ability [B, 1+r] and skills [B, T], got {tuple(ability.shape)} and {tuple(skills.shape)}")
    if ability.shape[1] != embed.shape[-1] + 1:
        raise ValueError(f"ability has {ability.shape[1]} entries but the model has rank {embed.shape[-1]} (needs 1 + rank)")
    if skills.numel() and int(skills.max()) > bias.shape[-1] - 1:
        raise ValueError(f"skill id {int(skills.max())} exceeds the model's {bias.shape[-1] - 1} skills")
    if bias.ndim == 1:
        b = bias[skills]                                                # [B, T]
        v = embed[skills]                                               # [B, T, r]
    else:
        b = torch.gather(bias, 1, skills)
        rows = torch.arange(skills.shape[0], device=skills.device).unsqueeze(1)
        v = embed[rows, skills]                                         # [B, T, r]
    theta, u = ability[:, :1], ability[:, 1:]
    return b + theta + (v * u.unsqueeze(1)).sum(-1)


def masked_bce(logits: torch.Tensor, correct: torch.Tensor, mask: torch.Tensor | None = None,
               per_student: bool = True) -> torch.Tensor:
    """Binary cross-entropy over real responses.

    ``per_student=True``: the mean over each student's responses, summed over students — the
    gradient for one student's personal parameters is then that student's own mean loss gradient,
    whatever the batch size. ``per_student=False``: the mean over all responses.
    """
    mask = torch.ones_like(correct, dtype=torch.bool) if mask is None else mask
    loss = F.binary_cross_entropy_with_logits(logits, correct.float(), reduction="none") * mask
    if per_student:
        return (loss.sum(1) / mask.sum(1).clamp(min=1)).sum()
    return loss.sum() / mask.sum().clamp(min=1)
