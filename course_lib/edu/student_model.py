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
from torch import nn


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


class StudentModel(nn.Module):
    """The model as a module, so that :func:`course_lib.adaptation.adapt` can adapt any part of it.

    Parameters: ``skill_bias [S+1]``, ``skill_embed [S+1, r]`` and ``ability [1+r]`` (one starting
    ability for everybody). ``forward(skills [B, T]) -> logits [B, T]``. In a parameter dict the
    ability may carry a student dimension (``[B, 1+r]``: one per student), and so may the skill
    parameters (``[B, S+1]``, ``[B, S+1, r]``: Reptile adapts everything per student).
    """

    def __init__(self, shared: dict[str, torch.Tensor], ability: torch.Tensor | None = None):
        super().__init__()
        self.skill_bias = nn.Parameter(shared["skill_bias"].detach().clone())
        self.skill_embed = nn.Parameter(shared["skill_embed"].detach().clone())
        rank = self.skill_embed.shape[-1]
        start = torch.zeros(rank + 1, device=self.skill_bias.device) if ability is None else ability.detach().clone()
        self.ability = nn.Parameter(start)

    def shared(self) -> dict[str, torch.Tensor]:
        return {"skill_bias": self.skill_bias, "skill_embed": self.skill_embed}

    def forward(self, skills: torch.Tensor) -> torch.Tensor:
        ability = self.ability if self.ability.dim() == 2 else self.ability.expand(skills.shape[0], -1)
        return student_logits(self.shared(), ability, skills)

    def per_student(self, num_students: int, names=("ability",)) -> dict[str, torch.Tensor]:
        """``{name: [B, ...]}``: one copy of each named parameter per student (views, same graph)."""
        return {n: getattr(self, n).unsqueeze(0).expand(num_students, *getattr(self, n).shape) for n in names}


def answers_loss(mask: torch.Tensor | None = None):
    """``loss_fn(logits, correct)`` for :func:`~course_lib.adaptation.adapt`: :func:`masked_bce` with ``mask``."""
    return lambda logits, correct: masked_bce(logits, correct, mask)
