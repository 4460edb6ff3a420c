"""Deep Knowledge Tracing (Piech et al., NeurIPS 2015): an LSTM reads a student's answers.

Seen as meta-learning, DKT is a *black-box* (model-based) learner: the LSTM's hidden state is
a learned adaptation rule. Nothing is fine-tuned per student; reading the student's answers
*is* the adaptation, and the update rule was meta-learned from thousands of other students.

At step t the network has read the responses ``(q_1, a_1), ..., (q_{t-1}, a_{t-1})`` and outputs,
for every skill j, the probability that the student answers a question on skill j correctly:

    x_t = embed(q_{t-1} + S * a_{t-1})        (a start token when t = 1)
    h_t = LSTM(x_t, h_{t-1})
    p_t = sigmoid(W h_t + b)  in (0, 1)^S ,   prediction for the actual next skill: p_t[q_t]

The one-hot input of the paper (size 2S) times the first LSTM weight matrix is exactly an
embedding lookup, so ``nn.Embedding`` is used. Skill ids are 1-based; 0 is padding.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.checks import check_responses


class DKT(nn.Module):
    """LSTM knowledge tracer.

    Parameters
    ----------
    num_skills: S, the number of skills (read from the data, ids 1..S).
    hidden_size: LSTM width (200 in the DKVMN paper's DKT baseline).
    embed_size: size of the (question, answer) embedding; defaults to ``hidden_size``.
    dropout: dropout on the LSTM output before the prediction layer.
    """

    def __init__(self, num_skills: int, hidden_size: int = 200, embed_size: int | None = None,
                 dropout: float = 0.2):
        super().__init__()
        if num_skills < 1:
            raise ValueError(f"num_skills must be >= 1 (read it from the data), got {num_skills}")
        if hidden_size < 1:
            raise ValueError(f"hidden_size must be >= 1, got {hidden_size}")
        self.num_skills = int(num_skills)
        embed_size = embed_size or hidden_size
        # token 0 = start of sequence, tokens 1..2S = (skill, answer) pairs
        self.embed = nn.Embedding(2 * num_skills + 1, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(hidden_size, num_skills)


    def input_tokens(self, skills: torch.Tensor, correct: torch.Tensor) -> torch.Tensor:
        """Token of each response: ``skill + S * correct`` (1..2S), 0 for padding. Shape [B, T]."""
        tokens = skills + self.num_skills * correct
        return torch.where(skills > 0, tokens, torch.zeros_like(tokens))

    def all_skill_logits(self, skills: torch.Tensor, correct: torch.Tensor) -> torch.Tensor:
        """Logits for every skill before each response: [B, T+1, S].

        Entry ``[:, t]`` has read responses ``0..t-1``; ``[:, 0]`` is the prior before any answer.
        """
        check_responses(skills, correct, self.num_skills)
        tokens = self.input_tokens(skills, correct)
        start = torch.zeros(tokens.shape[0], 1, dtype=torch.long, device=tokens.device)
        hidden, _ = self.lstm(self.embed(torch.cat([start, tokens], dim=1)))
        return self.out(self.dropout(hidden))

    def forward(self, skills: torch.Tensor, correct: torch.Tensor) -> torch.Tensor:
        """Logit of answering each response correctly from the responses before it: [B, T]."""
        logits = self.all_skill_logits(skills, correct)[:, :-1]               # [B, T, S]
        index = (skills - 1).clamp(min=0).unsqueeze(-1)
        return logits.gather(-1, index).squeeze(-1)

    def predict_after(self, support_skills: torch.Tensor, support_correct: torch.Tensor,
                      query_skills: torch.Tensor, support_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Cold-start prediction: read the support answers, then predict the query skills.

        support_*: [B, k] (k may be 0), query_skills: [B, Q]. The state after the last real
        support answer is used for every query; query answers are never read. Returns [B, Q].
        """
        check_responses(support_skills, support_correct, self.num_skills)
        logits = self.all_skill_logits(support_skills, support_correct)        # [B, k+1, S]
        if support_mask is None:
            lengths = torch.full((logits.shape[0],), support_skills.shape[1], device=logits.device)
        else:
            lengths = support_mask.long().sum(1)
        state = logits[torch.arange(logits.shape[0], device=logits.device), lengths]   # [B, S]
        return state.gather(-1, (query_skills - 1).clamp(min=0))
