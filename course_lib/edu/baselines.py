"""Non-meta-learning baselines for predicting a new student's answers.

* :class:`SkillRateBaseline` — the per-skill success rate on the training students (what a
  per-skill majority vote becomes when scored by AUC): the same prediction for every student.
* :func:`fit_global_irt` — the logistic student model of :mod:`course_lib.edu.student_model`
  fitted on all training students at once (each student has an ability vector, shrunk towards 0
  by a Gaussian prior: maximum a posteriori). For a *new* student the ability is the prior mean
  0, so the global model does not personalise at all.
* :func:`fine_tune_ability` — fine-tuning the global model: a few gradient steps on the new
  student's ability from their k observed answers (with the same Gaussian prior).
* :func:`fit_from_scratch` — a per-student model trained only on that student's k answers
  (overall bias + one offset per skill, L2-regularised): personalisation without any
  knowledge of other students.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.adaptation import SGD, adapt
from course_lib.edu.student_model import StudentModel, answers_loss, init_shared, student_logits
from course_lib.training import train_loop


def _flat(sequences):
    skills = torch.cat([s.skills for s in sequences]).long()
    correct = torch.cat([s.correct for s in sequences]).long()
    owner = torch.cat([torch.full((len(s.skills),), i, dtype=torch.long) for i, s in enumerate(sequences)])
    return skills, correct, owner


class SkillRateBaseline:
    """P(correct | skill j) = smoothed success rate of skill j over the training responses.

    ``smoothing`` pseudo-answers at the overall rate are added to every skill, so rare skills
    fall back to the overall rate instead of 0 or 1.
    """

    def __init__(self, num_skills: int, smoothing: float = 5.0):
        if num_skills < 1:
            raise ValueError(f"num_skills must be >= 1, got {num_skills}")
        self.num_skills = int(num_skills)
        self.smoothing = float(smoothing)
        self.rate = None

    def fit(self, sequences) -> "SkillRateBaseline":
        skills, correct, _ = _flat(list(sequences))
        if int(skills.max()) > self.num_skills:
            raise ValueError(f"the data has skill id {int(skills.max())} > num_skills={self.num_skills}")
        overall = correct.float().mean()
        right = torch.zeros(self.num_skills + 1).index_add_(0, skills, correct.float())
        seen = torch.zeros(self.num_skills + 1).index_add_(0, skills, torch.ones_like(correct, dtype=torch.float))
        self.rate = (right + self.smoothing * overall) / (seen + self.smoothing)
        return self

    def predict(self, skills: torch.Tensor) -> torch.Tensor:
        """Probabilities [same shape as skills]."""
        if self.rate is None:
            raise RuntimeError("call fit(train_sequences) before predict")
        return self.rate.to(skills.device)[skills]


class GlobalIRT:
    """The fitted global student model: ``shared`` skill parameters, ``abilities`` [n_train, 1+r],
    the prior precision ``l2`` of the abilities, and the training ``history``."""

    def __init__(self, shared, abilities, l2, history=None):
        self.shared, self.abilities, self.l2, self.history = shared, abilities, l2, history

    @property
    def rank(self) -> int:
        return self.shared["skill_embed"].shape[-1]

    def predict_new(self, query_skills: torch.Tensor) -> torch.Tensor:
        """Logits for students the model has never seen (ability = prior mean 0): [B, Q]."""
        ability = torch.zeros(query_skills.shape[0], self.rank + 1, device=query_skills.device)
        return student_logits(self.shared, ability, query_skills)


def fit_global_irt(sequences, num_skills: int, rank: int = 4, l2: float = 0.05, num_steps: int = 300,
                   lr: float = 0.05, device=None, checkpoint_path=None, seed: int = 0, progress: bool = True) -> GlobalIRT:
    """Fit skill parameters and one ability vector per training student (full-batch Adam, MAP).

    Loss = mean BCE over all responses + ``l2`` * mean over students of ||a_s||^2 (a Gaussian prior
    on abilities; the skill embeddings get a small L2 too, which fixes the rotation freedom).
    """
    sequences = list(sequences)
    if not sequences:
        raise ValueError("fit_global_irt needs at least one training student")
    device = torch.device(device or "cpu")
    skills, correct, owner = (t.to(device) for t in _flat(sequences))
    if int(skills.max()) > num_skills:
        raise ValueError(f"the data has skill id {int(skills.max())} > num_skills={num_skills}")
    gen = torch.Generator().manual_seed(seed)
    shared = {k: v.to(device) for k, v in init_shared(num_skills, rank, gen).items()}
    abilities = torch.zeros(len(sequences), rank + 1, device=device)

    class _Params(torch.nn.Module):  # so that train_loop can checkpoint the tensors
        def __init__(self):
            super().__init__()
            self.skill_bias = torch.nn.Parameter(shared["skill_bias"])
            self.skill_embed = torch.nn.Parameter(shared["skill_embed"])
            self.abilities = torch.nn.Parameter(abilities)

    holder = _Params()
    opt = torch.optim.Adam(holder.parameters(), lr=lr)

    def step_fn(step):
        params = {"skill_bias": holder.skill_bias, "skill_embed": holder.skill_embed}
        logits = student_logits(params, holder.abilities[owner], skills.unsqueeze(1)).squeeze(1)
        nll = torch.nn.functional.binary_cross_entropy_with_logits(logits, correct.float())
        prior = l2 * holder.abilities.pow(2).sum(1).mean() + 1e-3 * holder.skill_embed.pow(2).sum(1).mean()
        loss = nll + prior
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "nll": nll.item()}

    history = train_loop(step_fn, num_steps, state={"model": holder, "optimizer": opt},
                         checkpoint_path=checkpoint_path, desc="global IRT", progress=progress,
                         log_every=max(1, num_steps // 50))
    shared = {"skill_bias": holder.skill_bias.detach(), "skill_embed": holder.skill_embed.detach()}
    return GlobalIRT(shared, holder.abilities.detach(), l2, history)


class SGDTowardPrior:
    """SGD on ``loss + l2 ||p - anchor||^2``: ``p - lr (g + 2 l2 (p - anchor))`` (an update rule for ``adapt``).

    ``anchor``: ``{name: tensor}`` broadcastable to each adapted parameter (the prior's mean).
    """

    def __init__(self, lr: float, l2: float, anchor: dict[str, torch.Tensor]):
        self.sgd, self.l2, self.anchor = SGD(lr), float(l2), anchor

    def init(self, params):
        return None

    def __call__(self, params, grads, state=None):
        pulled = {n: g + 2 * self.l2 * (params[n] - self.anchor[n]) for n, g in grads.items()}
        return self.sgd(params, pulled, state)


class _PerStudentSkillModel(nn.Module):
    """``logit = bias_s + offset_{s, skill}``: one bias and one offset per skill for each student."""

    def __init__(self, num_students: int, num_skills: int, device=None):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(num_students, 1, device=device))
        self.offsets = nn.Parameter(torch.zeros(num_students, num_skills + 1, device=device))

    def forward(self, skills: torch.Tensor) -> torch.Tensor:
        return self.bias + torch.gather(self.offsets, 1, skills)


def fine_tune_ability(shared: dict, support_skills: torch.Tensor, support_correct: torch.Tensor,
                      init_ability: torch.Tensor | None = None, steps: int = 20, lr: float = 1.0,
                      l2: float = 0.05, support_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Gradient descent on each student's ability from their support answers (skills fixed).

    Minimises ``mean BCE(support) + l2 ||a - a_0||^2`` per student, starting at ``a_0 =
    init_ability`` (default 0), with the shared :func:`~course_lib.adaptation.adapt` on the partial
    parameter dict ``{"ability": [B, 1+r]}``. support_*: [B, k]; returns abilities [B, 1+r] (no
    autograd graph). With k = 0 nothing is observed and ``a_0`` is returned.
    """
    if steps < 0 or lr <= 0:
        raise ValueError(f"need steps >= 0 and lr > 0, got steps={steps}, lr={lr}")
    model = StudentModel(shared, init_ability)
    a0 = model.per_student(support_skills.shape[0])["ability"].detach()
    if support_skills.shape[1] == 0 or steps == 0:
        return a0.clone()
    return adapt(model, {"ability": a0}, support_skills, support_correct, loss_fn=answers_loss(support_mask),
                 steps=steps, update=SGDTowardPrior(lr, l2, {"ability": a0}))["ability"]


def fit_from_scratch(support_skills: torch.Tensor, support_correct: torch.Tensor, query_skills: torch.Tensor,
                     num_skills: int, steps: int = 50, lr: float = 0.5, l2: float = 0.1,
                     support_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Per-student logistic model (bias + per-skill offset) trained on that student's support only.

    Parameters start at 0 (probability 1/2) and are fitted by gradient descent on
    ``mean BCE(support) + l2 (bias^2 + ||offsets||^2)`` (the shared ``adapt`` with a prior at 0).
    Returns query logits [B, Q]; with k = 0 answers they are all 0 (probability 1/2 everywhere:
    a model of one student that has seen nothing of them knows nothing).
    """
    model = _PerStudentSkillModel(support_skills.shape[0], num_skills, query_skills.device)
    if support_skills.shape[1] == 0 or steps == 0:
        return model.bias.detach().expand_as(query_skills).clone()
    start = {n: p.detach() for n, p in model.named_parameters()}
    fitted = adapt(model, start, support_skills, support_correct, loss_fn=answers_loss(support_mask), steps=steps,
                   update=SGDTowardPrior(lr, l2, {n: torch.zeros_like(p) for n, p in start.items()}))
    with torch.no_grad():
        return torch.func.functional_call(model, fitted, (query_skills,))


def grid_edge(best, scores: dict) -> str | None:
    """``"low"`` or ``"high"`` when ``best`` is the smallest or largest value tried in ``scores``, else None."""
    return "low" if best == min(scores) else "high" if best == max(scores) else None


def select_on_validation(predict_with, candidates, val_tasks, extend: int = 2) -> tuple[object, dict]:
    """Pick the hyper-parameter whose predictions have the best AUC on validation students.

    ``predict_with(candidate, tasks) -> scores [B, Q]``; ``val_tasks``: a ColdStartTasks of
    students that are in neither the training nor the test set. ``candidates``: positive numbers
    on a geometric grid. While the best one is at an edge of the grid, the grid is extended by one
    more value past that edge (the grid's ratio), at most ``extend`` times; :func:`grid_edge` tells
    whether the final choice is still at an edge. Returns (best, {candidate: auc}) in sorted order.
    Baselines tuned this way are compared fairly with meta-learned methods, whose step sizes are
    tuned by the meta-training itself.
    """
    from course_lib.metrics import roc_auc

    labels = val_tasks.query_correct[val_tasks.query_mask]
    grid = sorted(float(c) for c in candidates)
    if not grid:
        raise ValueError("no candidates to choose from")
    scores: dict[float, float] = {}
    for _ in range(extend + 1):
        for candidate in grid:
            if candidate not in scores:
                with torch.no_grad():
                    scores[candidate] = roc_auc(predict_with(candidate, val_tasks)[val_tasks.query_mask], labels)
        best = max(scores, key=scores.get)
        edge = grid_edge(best, scores) if len(grid) > 1 else None
        if edge is None:
            break
        ratio = grid[1] / grid[0] if edge == "low" else grid[-1] / grid[-2]
        grid = [float(f"{grid[0] / ratio:.2g}")] + grid if edge == "low" else grid + [float(f"{grid[-1] * ratio:.2g}")]
    return best, dict(sorted(scores.items()))
