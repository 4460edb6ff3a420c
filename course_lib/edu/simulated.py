"""Simulated learners whose true parameters are known.

Real logs never tell us what a student *knows*, only how they answered. Simulated students do, so
they let us check that a model recovers the truth and compare tutoring policies by the quantity
we care about (questions until the student has really mastered every skill).

* :func:`simulate_irt` — static learners of item response theory (Rasch model):
  ``P(correct) = sigmoid(theta_s - d_j)`` with known ability theta and skill difficulty d.
* :class:`BKTStudents` — learners of Bayesian Knowledge Tracing (Corbett & Anderson 1995). Each
  skill j is either *known* or not; a known skill is answered correctly unless the student slips
  (probability ``slip_j``), an unknown one only by guessing (``guess_j``); after each practice
  question an unknown skill becomes known with the student's learning probability. Students
  differ by an *aptitude* z ~ N(0, 1) that raises both their prior knowledge and their learning
  rate:  ``p_init[s, j] = sigmoid(logit(init_j) + spread * z_s)``, likewise ``p_learn``.
* :func:`bkt_update` — the BKT posterior after one answer, followed by the learning transition.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from course_lib.data.assistments import StudentSequence


def _logit(p: torch.Tensor) -> torch.Tensor:
    return torch.log(p) - torch.log1p(-p)


def simulate_irt(num_students: int, num_skills: int, length: int, generator: torch.Generator | None = None,
                 ability_std: float = 1.0, difficulty_std: float = 1.0):
    """Rasch learners answering ``length`` random skills each.

    Returns ``(sequences, ability [n], difficulty [S+1])`` (difficulty[0] is unused padding);
    sequences are :class:`StudentSequence` with 1-based skills.
    """
    if num_students < 1 or num_skills < 1 or length < 1:
        raise ValueError(f"need num_students, num_skills, length >= 1, got {num_students}, {num_skills}, {length}")
    ability = ability_std * torch.randn(num_students, generator=generator)
    difficulty = difficulty_std * torch.randn(num_skills + 1, generator=generator)
    difficulty[0] = 0.0
    skills = torch.randint(1, num_skills + 1, (num_students, length), generator=generator)
    p = torch.sigmoid(ability.unsqueeze(1) - difficulty[skills])
    correct = (torch.rand(num_students, length, generator=generator) < p).long()
    seqs = [StudentSequence(i, skills[i].clone(), correct[i].clone()) for i in range(num_students)]
    return seqs, ability, difficulty


def simulate_bkt_logs(population: "BKTPopulation", num_students: int, length: int, block: int = 8,
                      generator: torch.Generator | None = None) -> list[StudentSequence]:
    """Logs of simulated BKT learners practising like the skill-builder data: blocks of one skill.

    Each student works through the skills in a random order, ``block`` questions per skill,
    starting over when done, for ``length`` answers. Returns :class:`StudentSequence` objects with
    1-based skill ids (ready for :func:`to_three_line`).
    """
    students = BKTStudents(num_students, population, generator)
    order = torch.stack([torch.randperm(population.num_skills, generator=students.generator)
                         for _ in range(num_students)])                                  # [n, S]
    skills = torch.stack([order[:, (t // block) % population.num_skills] for t in range(length)], dim=1)  # [n, L]
    correct = torch.stack([students.answer(skills[:, t]) for t in range(length)], dim=1)
    return [StudentSequence(i, skills[i] + 1, correct[i]) for i in range(num_students)]


def to_three_line(sequences) -> str:
    """Write sequences in the three-line format of the DKT/DKVMN data files."""
    lines = []
    for s in sequences:
        lines.append(str(len(s.skills)))
        lines.append(",".join(str(int(v)) for v in s.skills))
        lines.append(",".join(str(int(v)) for v in s.correct))
    return "\n".join(lines) + "\n"


def bkt_update(p_known: torch.Tensor, correct: torch.Tensor, guess, slip, learn) -> torch.Tensor:
    """P(known after this question | answer) in BKT. All arguments broadcast together.

    posterior:   P(L | correct) = P(L)(1 - s) / [P(L)(1 - s) + (1 - P(L)) g]
                 P(L | wrong)   = P(L) s / [P(L) s + (1 - P(L))(1 - g)]
    transition:  P(L') = P(L | answer) + (1 - P(L | answer)) * learn
    """
    correct = torch.as_tensor(correct, dtype=p_known.dtype)
    right = p_known * (1 - slip) / (p_known * (1 - slip) + (1 - p_known) * guess)
    wrong = p_known * slip / (p_known * slip + (1 - p_known) * (1 - guess))
    post = correct * right + (1 - correct) * wrong
    return post + (1 - post) * learn


@dataclass
class BKTPopulation:
    """Population parameters of simulated BKT learners (one entry per skill, [S])."""

    init: torch.Tensor
    learn: torch.Tensor
    guess: torch.Tensor
    slip: torch.Tensor
    spread: float = 1.0

    @classmethod
    def default(cls, num_skills: int = 5, generator: torch.Generator | None = None, spread: float = 1.0):
        """Skills with prior knowledge 0.1..0.35, learning rate 0.1..0.3, guess 0.2, slip 0.1."""
        if num_skills < 1:
            raise ValueError(f"num_skills must be >= 1, got {num_skills}")
        u = torch.rand(2, num_skills, generator=generator)
        return cls(init=0.1 + 0.25 * u[0], learn=0.1 + 0.2 * u[1], guess=torch.full((num_skills,), 0.2),
                   slip=torch.full((num_skills,), 0.1), spread=spread)

    @property
    def num_skills(self) -> int:
        return self.init.shape[0]

    def student_params(self, aptitude: torch.Tensor):
        """(p_init, p_learn), each [n, S], for aptitudes [n]."""
        shift = self.spread * aptitude.unsqueeze(-1)
        return torch.sigmoid(_logit(self.init) + shift), torch.sigmoid(_logit(self.learn) + shift)


class BKTStudents:
    """A cohort of simulated BKT learners with known aptitude, parameters and knowledge state.

    ``answer(skills [n]) -> correct [n]`` makes every student answer one question on the given
    skill (one per student), then applies the learning transition to that skill.
    Attributes: ``aptitude`` [n], ``p_init``, ``p_learn`` [n, S], ``known`` [n, S] (bool, the
    true state), ``population``.
    """

    def __init__(self, num_students: int, population: BKTPopulation, generator: torch.Generator | None = None):
        if num_students < 1:
            raise ValueError(f"num_students must be >= 1, got {num_students}")
        self.population = population
        self.generator = generator if generator is not None else torch.Generator().manual_seed(0)
        self.aptitude = torch.randn(num_students, generator=self.generator)
        self.p_init, self.p_learn = population.student_params(self.aptitude)
        self.known = torch.rand(self.p_init.shape, generator=self.generator) < self.p_init

    def __len__(self) -> int:
        return self.known.shape[0]

    @property
    def num_skills(self) -> int:
        return self.known.shape[1]

    def answer(self, skills: torch.Tensor) -> torch.Tensor:
        skills = torch.as_tensor(skills, dtype=torch.long)
        if skills.shape != (len(self),):
            raise ValueError(f"answer() needs one skill per student: shape [{len(self)}], got {tuple(skills.shape)}")
        if int(skills.min()) < 0 or int(skills.max()) >= self.num_skills:
            raise ValueError(f"skills are 0-based indices 0..{self.num_skills - 1} here, got {skills.tolist()[:5]}...")
        rows = torch.arange(len(self))
        known = self.known[rows, skills]
        pop = self.population
        p_correct = torch.where(known, 1 - pop.slip[skills], pop.guess[skills])
        correct = (torch.rand(len(self), generator=self.generator) < p_correct).long()
        learns = torch.rand(len(self), generator=self.generator) < self.p_learn[rows, skills]
        self.known[rows, skills] = known | learns
        return correct

    def all_mastered(self) -> torch.Tensor:
        """[n] bool: every skill truly known."""
        return self.known.all(1)
