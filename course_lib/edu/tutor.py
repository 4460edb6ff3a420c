"""Adaptive tutoring: which question should a student get next?

Policies see only the answers, never the true knowledge state. Three kinds are compared:

* :class:`RandomPolicy` — a random skill every question.
* :class:`FixedCurriculum` — the same plan for everyone: skills in order, ``block`` questions each,
  repeated until the end.
* :class:`MasteryPolicy` — a *personalised model* decides: the tutor tracks each student's
  probability of knowing each skill, keeps practising the first skill (in curriculum order) that is
  not yet estimated as mastered (P(known) >= ``threshold``, 0.95 by convention), and declares the
  student done when every skill is. With :class:`IndividualizedBKT` as its model, what it learns
  from one skill (a fast learner, a strong prior) carries over to the next: the per-student
  adaptation of a meta-learned prior, done in closed form by Bayes' rule.

:func:`run_tutor` simulates a policy on :class:`~course_lib.edu.simulated.BKTStudents` and counts
the questions each student needs to *truly* master every skill (known only in a simulation).
"""

from __future__ import annotations

import math

import torch
from tqdm.auto import tqdm

from course_lib.edu.simulated import BKTPopulation, BKTStudents, bkt_update


class PopulationBKT:
    """Standard BKT tracking with the population's typical parameters (aptitude z = 0) for everyone.

    ``p_known`` [n, S] is the current estimate of P(skill known) for each student.
    """

    def __init__(self, population: BKTPopulation, num_students: int):
        self.population = population
        p_init, self.p_learn = population.student_params(torch.zeros(1))
        self.p_known = p_init.expand(num_students, -1).clone()

    def update(self, skills: torch.Tensor, correct: torch.Tensor) -> None:
        rows = torch.arange(self.p_known.shape[0])
        pop = self.population
        self.p_known[rows, skills] = bkt_update(self.p_known[rows, skills], correct, pop.guess[skills],
                                                pop.slip[skills], self.p_learn[0, skills])


class IndividualizedBKT:
    """BKT whose student parameters are inferred per student from all their answers so far.

    The aptitude z is unknown; the tracker keeps a posterior over a grid of ``grid`` values of z
    (prior N(0, 1)) and, for each grid value, the BKT state of every skill. Skills are independent
    given z, so this is the exact posterior; answers on one skill sharpen the estimate of z and
    therefore the prior for every other skill.
    Shapes: ``log_weight`` [n, G], ``p_known_given_z`` [n, G, S]; ``p_known`` [n, S] (marginal).
    """

    def __init__(self, population: BKTPopulation, num_students: int, grid: int = 21, z_max: float = 3.0):
        self.population = population
        self.z = torch.linspace(-z_max, z_max, grid)
        p_init, self.p_learn = population.student_params(self.z)                 # [G, S]
        self.log_weight = (-0.5 * self.z ** 2).expand(num_students, -1).clone()
        self.p_known_given_z = p_init.expand(num_students, -1, -1).clone()

    @property
    def posterior_z(self) -> torch.Tensor:
        return torch.softmax(self.log_weight, dim=1)

    @property
    def p_known(self) -> torch.Tensor:
        return (self.posterior_z.unsqueeze(-1) * self.p_known_given_z).sum(1)

    def update(self, skills: torch.Tensor, correct: torch.Tensor) -> None:
        rows = torch.arange(self.log_weight.shape[0])
        pop = self.population
        p = self.p_known_given_z[rows, :, skills]                                # [n, G]
        g, s = pop.guess[skills].unsqueeze(1), pop.slip[skills].unsqueeze(1)
        y = correct.unsqueeze(1).to(p.dtype)
        likelihood = y * (p * (1 - s) + (1 - p) * g) + (1 - y) * (p * s + (1 - p) * (1 - g))
        self.log_weight = self.log_weight + likelihood.log()
        self.p_known_given_z[rows, :, skills] = bkt_update(p, y, g, s, self.p_learn[:, skills].T)


class RandomPolicy:
    name = "random order"

    def __init__(self, num_skills: int, generator: torch.Generator | None = None):
        self.num_skills, self.generator = num_skills, generator

    def choose(self, step: int, num_students: int) -> torch.Tensor:
        return torch.randint(0, self.num_skills, (num_students,), generator=self.generator)

    def observe(self, skills, correct) -> None:
        pass

    def done(self, num_students: int) -> torch.Tensor:
        return torch.zeros(num_students, dtype=torch.bool)


class FixedCurriculum:
    """Skills 0, 1, ..., S-1 in order, ``block`` questions each, then from the start again."""

    def __init__(self, num_skills: int, block: int = 8):
        if block < 1:
            raise ValueError(f"block must be >= 1, got {block}")
        self.num_skills, self.block = num_skills, block
        self.name = f"fixed curriculum ({block} per skill)"

    def choose(self, step: int, num_students: int) -> torch.Tensor:
        return torch.full((num_students,), (step // self.block) % self.num_skills, dtype=torch.long)

    def observe(self, skills, correct) -> None:
        pass

    def done(self, num_students: int) -> torch.Tensor:
        return torch.zeros(num_students, dtype=torch.bool)


class MasteryPolicy:
    """Practise the first skill whose estimated P(known) < threshold; done when all are above it."""

    def __init__(self, tracker, threshold: float = 0.95, name: str | None = None):
        if not 0 < threshold < 1:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        self.tracker, self.threshold = tracker, threshold
        self.name = name or f"mastery ({type(tracker).__name__})"

    def choose(self, step: int, num_students: int) -> torch.Tensor:
        p = self.tracker.p_known
        below = p < self.threshold
        first = torch.where(below.any(1), below.float().argmax(1), p.argmin(1))
        return first

    def observe(self, skills, correct) -> None:
        self.tracker.update(skills, correct)

    def done(self, num_students: int) -> torch.Tensor:
        return (self.tracker.p_known >= self.threshold).all(1)


def run_tutor(policy, students: BKTStudents, max_questions: int = 300, progress: bool = False) -> dict:
    """Tutor every student with ``policy`` for ``max_questions`` questions.

    Returns ``{"questions_to_mastery": [n] float (inf if never reached), "declared_at": [n] float
    (when the policy first said "done"; inf if never), "mastered_when_declared": [n] bool,
    "fraction_correct": float}``.
    """
    n = len(students)
    to_mastery = torch.full((n,), math.inf)
    to_mastery[students.all_mastered()] = 0
    declared = torch.full((n,), math.inf)
    mastered_at_declaration = torch.zeros(n, dtype=torch.bool)
    total_correct = 0
    for step in tqdm(range(max_questions), desc=getattr(policy, "name", "tutor"), disable=not progress, leave=False):
        skills = policy.choose(step, n)
        correct = students.answer(skills)
        total_correct += int(correct.sum())
        policy.observe(skills, correct)
        newly = students.all_mastered() & torch.isinf(to_mastery)
        to_mastery[newly] = step + 1
        said = policy.done(n) & torch.isinf(declared)
        declared[said] = step + 1
        mastered_at_declaration[said] = students.all_mastered()[said]
    return {"questions_to_mastery": to_mastery, "declared_at": declared,
            "mastered_when_declared": mastered_at_declaration,
            "fraction_correct": total_correct / (n * max_questions)}


def compare_policies(population: BKTPopulation, num_students: int = 500, max_questions: int = 300, seed: int = 0,
                     block: int = 8, threshold: float = 0.95) -> dict[str, dict]:
    """Run random, fixed-curriculum, population-BKT mastery and individualized-BKT mastery policies
    on the *same* simulated students (same seed), returning ``{name: run_tutor result}``."""
    def cohort():
        return BKTStudents(num_students, population, torch.Generator().manual_seed(seed))

    s = population.num_skills
    policies = [
        RandomPolicy(s, torch.Generator().manual_seed(seed + 1)),
        FixedCurriculum(s, block),
        MasteryPolicy(PopulationBKT(population, num_students), threshold, name="mastery, population BKT"),
        MasteryPolicy(IndividualizedBKT(population, num_students), threshold, name="mastery, personalised BKT"),
    ]
    return {p.name: run_tutor(p, cohort(), max_questions) for p in policies}
