"""Prototype students: a metric-based view of personalisation.

Training students are summarised by C *prototype profiles* ``mu_c`` [S+1] — the probability that a
student of type c answers skill j correctly — learned with EM for a mixture of Bernoullis (missing
skills are simply not counted). A new student is placed among the prototypes by how well each one
explains their k observed answers, exactly like a prototypical network's softmax over negative
distances, with the log-likelihood as the (negative) distance::

    log w_c  =  log pi_c + sum_{observed (j, y)} [ y log mu_cj + (1 - y) log(1 - mu_cj) ]  (+ const)
    P(correct on skill j)  =  sum_c softmax(log w)_c  mu_cj

With k = 0 the weights are the prior pi and the prediction is the population's skill rate.
"""

from __future__ import annotations

import torch


def _counts(sequences, num_skills: int):
    n = len(sequences)
    right = torch.zeros(n, num_skills + 1, dtype=torch.float64)
    seen = torch.zeros(n, num_skills + 1, dtype=torch.float64)
    for i, s in enumerate(sequences):
        right[i].index_add_(0, s.skills.long(), s.correct.double())
        seen[i].index_add_(0, s.skills.long(), torch.ones(len(s.skills), dtype=torch.float64))
    return right, seen


class PrototypeStudents:
    """Mixture of C prototype profiles fitted by EM.

    num_prototypes: C; smoothing: pseudo-answers at the skill's overall rate added to every
    prototype-skill cell (keeps probabilities away from 0 and 1). After :meth:`fit`:
    ``profiles`` [C, S+1], ``weights`` [C] (the mixture prior pi), ``log_likelihood`` per EM step.
    """

    def __init__(self, num_skills: int, num_prototypes: int = 8, smoothing: float = 2.0, seed: int = 0):
        if num_skills < 1:
            raise ValueError(f"num_skills must be >= 1 (read it from the data), got {num_skills}")
        if num_prototypes < 1:
            raise ValueError(f"num_prototypes must be >= 1, got {num_prototypes}")
        self.num_skills, self.num_prototypes = int(num_skills), int(num_prototypes)
        self.smoothing, self.seed = float(smoothing), seed
        self.profiles = None
        self.weights = None
        self.log_likelihood: list[float] = []

    def _loglik(self, right, seen):
        """log P(answers of each student | prototype c): [n, C]."""
        log_mu = self.profiles.log()
        log_not = (1 - self.profiles).log()
        return right @ log_mu.T + (seen - right) @ log_not.T

    def fit(self, sequences, num_iters: int = 50) -> "PrototypeStudents":
        sequences = list(sequences)
        if len(sequences) < self.num_prototypes:
            raise ValueError(f"need at least {self.num_prototypes} students to fit {self.num_prototypes} prototypes")
        right, seen = _counts(sequences, self.num_skills)
        skill_rate = (right.sum(0) + 1) / (seen.sum(0) + 2)
        gen = torch.Generator().manual_seed(self.seed)
        # start from a random soft assignment
        resp = torch.rand(len(sequences), self.num_prototypes, generator=gen, dtype=torch.float64)
        resp = resp / resp.sum(1, keepdim=True)
        self.log_likelihood = []
        for _ in range(num_iters):
            # M step
            self.weights = (resp.sum(0) + 1) / (resp.sum() + self.num_prototypes)
            self.profiles = ((resp.T @ right + self.smoothing * skill_rate)
                             / (resp.T @ seen + self.smoothing)).clamp(1e-4, 1 - 1e-4)
            # E step
            joint = self._loglik(right, seen) + self.weights.log()
            norm = torch.logsumexp(joint, dim=1, keepdim=True)
            resp = (joint - norm).exp()
            self.log_likelihood.append(float(norm.sum()))
        self.assignments = resp.argmax(1)
        return self

    def posterior(self, support_skills: torch.Tensor, support_correct: torch.Tensor) -> torch.Tensor:
        """Weights of each prototype given k observed answers: [B, k] -> [B, C] (rows sum to 1)."""
        if self.profiles is None:
            raise RuntimeError("call fit(train_sequences) first")
        b = support_skills.shape[0]
        right = torch.zeros(b, self.num_skills + 1, dtype=torch.float64)
        seen = torch.zeros(b, self.num_skills + 1, dtype=torch.float64)
        if support_skills.shape[1]:
            right.scatter_add_(1, support_skills.cpu().long(), support_correct.cpu().double())
            seen.scatter_add_(1, support_skills.cpu().long(), torch.ones_like(support_skills, dtype=torch.float64).cpu())
        return torch.softmax(self._loglik(right, seen) + self.weights.log(), dim=1)

    def predict(self, support_skills: torch.Tensor, support_correct: torch.Tensor,
                query_skills: torch.Tensor) -> torch.Tensor:
        """P(correct) for the query skills [B, Q] from the nearest prototypes (soft)."""
        post = self.posterior(support_skills, support_correct)                       # [B, C]
        mu = self.profiles.T[query_skills.cpu()]                                       # [B, Q, C]
        return (mu * post.unsqueeze(1)).sum(-1).float().to(query_skills.device)
