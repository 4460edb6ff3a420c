"""Personalisation by meta-learning: every student is a task.

The student model is the logistic model of :mod:`course_lib.edu.student_model`: shared skill
parameters (``skill_bias``, ``skill_embed``) and a personal ability vector ``a`` ([1 + r]).

**MAML** (Finn et al. 2017) meta-learns the *initial* ability ``a_0`` and the skill parameters so
that a few gradient steps on a new student's first k answers (support) predict their later answers
(query) well::

    a_s^(0) = a_0,    a_s^(i+1) = a_s^(i) - alpha * grad_a  L_support_s(a_s^(i))     (inner, per student)
    min over (a_0, b, v)   sum_s  L_query_s(a_s^(n))                                  (outer)

Only the personal parameters are adapted in the inner loop — the split of MAML into shared and
task-specific parameters that recommender systems use for new users (MeLU, Lee et al. 2019): the
shared :func:`course_lib.adaptation.adapt` with the partial parameter dict ``{"ability": [B, 1+r]}``
(one row per student) and Meta-SGD's rule ``PerParameterSGD`` (a learned step per ability
dimension). The support loss is a sum over students of per-student means, so the gradient with
respect to the ability matrix holds every student's own gradient at once.

**Reptile** (Nichol, Achiam & Schulman 2018) adapts *all* parameters of the student model to each
student with plain SGD on that student's answers and moves the initialisation towards the average
adapted parameters: ``theta <- theta + epsilon * mean_s (theta_s' - theta)``. It needs no
support/query split during meta-training and no second derivatives.
"""

from __future__ import annotations

import torch
from torch import nn

from course_lib.adaptation import SGD, PerParameterSGD, adapt
from course_lib.cold_start import EntityTaskSampler
from course_lib.edu.splits import ColdStartTasks
from course_lib.edu.student_model import StudentModel, answers_loss, masked_bce
from course_lib.training import train_loop


class PersonalizedStudentModel(StudentModel):
    """Shared skill parameters + a meta-learned initial ability, adapted per student by SGD.

    num_skills: S (read from the data); rank: r; inner_lr / inner_steps: the adaptation rule
    used at meta-training and at test time. ``learn_inner_lr=True`` also meta-learns one step
    size per ability dimension (Meta-SGD, Li et al. 2017).
    """

    def __init__(self, num_skills: int, rank: int = 4, inner_lr: float = 1.0, inner_steps: int = 5,
                 learn_inner_lr: bool = False):
        if num_skills < 1:
            raise ValueError(f"num_skills must be >= 1 (read it from the data), got {num_skills}")
        if inner_lr <= 0 or inner_steps < 0:
            raise ValueError(f"need inner_lr > 0 and inner_steps >= 0, got {inner_lr}, {inner_steps}")
        super().__init__({"skill_bias": torch.zeros(num_skills + 1),
                          "skill_embed": 0.1 * torch.randn(num_skills + 1, rank)})
        self.log_inner_lr = nn.Parameter(torch.full((rank + 1,), float(inner_lr)).log(),
                                         requires_grad=learn_inner_lr)
        self.inner_steps = int(inner_steps)
        self.num_skills = int(num_skills)

    @classmethod
    def from_global(cls, global_model, **kwargs) -> "PersonalizedStudentModel":
        """Start meta-training from a fitted :class:`~course_lib.edu.baselines.GlobalIRT`."""
        model = cls(global_model.shared["skill_bias"].shape[0] - 1, global_model.rank, **kwargs)
        with torch.no_grad():
            model.skill_bias.copy_(global_model.shared["skill_bias"])
            model.skill_embed.copy_(global_model.shared["skill_embed"])
        return model

    def adapt(self, support_skills: torch.Tensor, support_correct: torch.Tensor,
              support_mask: torch.Tensor | None = None, create_graph: bool = False,
              steps: int | None = None) -> torch.Tensor:
        """Inner loop: abilities [B, 1+r] after ``steps`` SGD steps on each student's support [B, k].

        ``create_graph=True`` (MAML) differentiates through every step, so the outer gradient
        contains the second-order terms; otherwise (first-order MAML) the inner gradients are
        constants. Call under ``torch.no_grad()`` with detached parameters for plain prediction.
        """
        steps = self.inner_steps if steps is None else steps
        start = self.per_student(support_skills.shape[0])
        if support_skills.shape[1] == 0 or steps == 0:
            return start["ability"]
        rule = PerParameterSGD({"ability": self.log_inner_lr.exp()})
        phi = adapt(self, start, support_skills, support_correct, loss_fn=answers_loss(support_mask),
                    steps=steps, update=rule, first_order=not create_graph)
        return phi["ability"]

    def query_logits(self, tasks: ColdStartTasks, create_graph: bool = False) -> torch.Tensor:
        """Query logits [B, Q] after adapting to each student's support set."""
        ability = self.adapt(tasks.support_skills, tasks.support_correct, create_graph=create_graph)
        return torch.func.functional_call(self, {"ability": ability}, (tasks.query_skills,))

    @torch.no_grad()
    def predict(self, tasks: ColdStartTasks) -> torch.Tensor:
        """Query logits [B, Q] (no autograd graph)."""
        return self.query_logits(tasks).detach()


#: random meta-batches of students (shared with chapter 08's users); ``pool``: a
#: :func:`~course_lib.edu.splits.cold_start_view` built with ``k = max(k_choices)``
ColdStartSampler = EntityTaskSampler



def maml_train(model: PersonalizedStudentModel, sampler: ColdStartSampler, num_steps: int, lr: float = 1e-2,
               first_order: bool = False, device=None, checkpoint_path=None, progress: bool = True):
    """Meta-train with (second-order by default) MAML; returns the training :class:`History`."""
    device = torch.device(device or "cpu")
    model.to(device)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)

    def step_fn(step):
        tasks = sampler.sample().to(device)
        logits = model.query_logits(tasks, create_graph=not first_order)
        loss = masked_bce(logits, tasks.query_correct, tasks.query_mask) / len(tasks)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return {"loss": loss.item(), "k": tasks.k}

    return train_loop(step_fn, num_steps, state={"model": model, "optimizer": opt, "sampler": sampler},
                      checkpoint_path=checkpoint_path, desc="MAML students", progress=progress,
                      log_every=max(1, num_steps // 50))


# ----------------------------------------------------------------------------------------------- Reptile
def reptile_adapt(model: PersonalizedStudentModel, skills: torch.Tensor, correct: torch.Tensor,
                  mask: torch.Tensor | None = None, steps: int | None = None, lr: float | None = None
                  ) -> dict[str, torch.Tensor]:
    """SGD on *all* parameters, one copy per student: ``{name: [B, ...]}`` (no autograd graph).

    skills/correct/mask: [B, T]; the adaptation is the shared :func:`~course_lib.adaptation.adapt`
    with every parameter of the student model given a leading student dimension.
    """
    steps = model.inner_steps if steps is None else steps
    lr = float(model.log_inner_lr.exp().mean()) if lr is None else lr
    start = {n: p.detach() for n, p in model.per_student(skills.shape[0], ("skill_bias", "skill_embed", "ability")).items()}
    if skills.shape[1] == 0 or steps == 0:
        return start
    return adapt(model, start, skills, correct, loss_fn=answers_loss(mask), steps=steps, update=SGD(lr))


@torch.no_grad()
def reptile_predict(model: PersonalizedStudentModel, tasks: ColdStartTasks, steps: int | None = None,
                    lr: float | None = None) -> torch.Tensor:
    """Adapt all parameters to each student's support answers, then predict the query: [B, Q]."""
    adapted = reptile_adapt(model, tasks.support_skills, tasks.support_correct, steps=steps, lr=lr)
    return torch.func.functional_call(model, adapted, (tasks.query_skills,))


def reptile_train(model: PersonalizedStudentModel, sampler: ColdStartSampler, num_steps: int,
                  outer_lr: float = 0.5, inner_lr: float | None = None, device=None, checkpoint_path=None,
                  progress: bool = True):
    """Meta-train with Reptile: each student's task data is its support *and* query answers."""
    if not 0 < outer_lr <= 1:
        raise ValueError(f"outer_lr (epsilon) must be in (0, 1], got {outer_lr}")
    device = torch.device(device or "cpu")
    model.to(device)

    def step_fn(step):
        tasks = sampler.sample().to(device)
        skills = torch.cat([tasks.support_skills, tasks.query_skills], 1)
        correct = torch.cat([tasks.support_correct, tasks.query_correct], 1)
        mask = torch.cat([torch.ones_like(tasks.support_skills, dtype=torch.bool), tasks.query_mask], 1)
        with torch.no_grad():   # loss before adaptation, for the record
            before = masked_bce(model(skills), correct, mask) / len(tasks)
        adapted = reptile_adapt(model, skills, correct, mask, lr=inner_lr)
        with torch.no_grad():
            for name, value in adapted.items():
                param = getattr(model, name)
                param.add_(outer_lr * (value.mean(0) - param))
        return {"loss": before.item(), "k": tasks.k}

    return train_loop(step_fn, num_steps, state={"model": model, "sampler": sampler},
                      checkpoint_path=checkpoint_path, desc="Reptile students", progress=progress,
                      log_every=max(1, num_steps // 50))
