"""An interactive adaptive tutor: you answer, the personalised model updates, the tutor chooses.

``TutorWidget().widget`` is an ipywidgets box for JupyterLab: a question, an answer box, and one
bar per skill showing the tutor's current estimate that you know the skill (individualised
Bayesian Knowledge Tracing, :class:`~course_lib.edu.tutor.IndividualizedBKT`). The next question
comes from :class:`~course_lib.edu.tutor.MasteryPolicy`: the first skill not yet estimated as
mastered. Answer a few questions right (or wrong on purpose) and watch both the bar of that skill
and — through the aptitude estimate — the bars of the *other* skills move.

Everything is also callable from code (``submit("42")``), which is how the tests drive it.
"""

from __future__ import annotations

import random

import torch

from course_lib.edu.simulated import BKTPopulation
from course_lib.edu.tutor import IndividualizedBKT, MasteryPolicy


def _addition(rng):
    a, b = rng.randint(12, 89), rng.randint(12, 89)
    return f"{a} + {b} = ?", a + b


def _multiplication(rng):
    a, b = rng.randint(3, 12), rng.randint(3, 12)
    return f"{a} × {b} = ?", a * b


def _negatives(rng):
    a, b = rng.randint(-15, 15), rng.randint(1, 15)
    return f"{a} − ({-b}) = ?", a + b


def _percent(rng):
    p, n = rng.choice([10, 20, 25, 50, 75]), rng.choice([20, 40, 60, 80, 120, 200])
    return f"{p}% of {n} = ?", p * n // 100


SKILLS = [("addition", _addition), ("multiplication table", _multiplication),
          ("subtracting negatives", _negatives), ("percent of a number", _percent)]


class TutorWidget:
    """One learner, four arithmetic skills, an individualised BKT model and a mastery policy."""

    def __init__(self, seed: int = 0, threshold: float = 0.95):
        self.rng = random.Random(seed)
        n = len(SKILLS)
        self.population = BKTPopulation(init=torch.full((n,), 0.3), learn=torch.full((n,), 0.2),
                                        guess=torch.full((n,), 0.1), slip=torch.full((n,), 0.1), spread=1.0)
        self.tracker = IndividualizedBKT(self.population, 1)
        self.policy = MasteryPolicy(self.tracker, threshold)
        self.step = 0
        self.log: list[tuple[str, str, bool]] = []
        self._next_question()
        self._build()

    # ------------------------------------------------------------------ state
    @property
    def estimates(self) -> list[float]:
        """Current P(known) for each skill."""
        return self.tracker.p_known[0].tolist()

    @property
    def aptitude(self) -> float:
        """Posterior mean of the learner's aptitude z (0 = typical)."""
        return float((self.tracker.posterior_z[0] * self.tracker.z).sum())

    def _next_question(self) -> None:
        self.skill = int(self.policy.choose(self.step, 1)[0])
        self.question, self.expected = SKILLS[self.skill][1](self.rng)
        if hasattr(self, "question_label"):
            self._refresh()

    def submit(self, text: str) -> bool:
        """Grade an answer to the current question, update the model, move on. Returns correctness."""
        try:
            correct = int(str(text).strip().replace("−", "-")) == self.expected
        except ValueError:
            self.feedback.value = f"<span style='color:#b35900'>Please type a whole number (got {text!r}).</span>"
            return False
        self.log.append((self.question, str(text), correct))
        self.policy.observe(torch.tensor([self.skill]), torch.tensor([int(correct)]))
        self.step += 1
        mark = "✓ correct" if correct else f"✗ the answer was {self.expected}"
        self.feedback.value = f"<b>{mark}</b> — {SKILLS[self.skill][0]}"
        self._next_question()
        return correct

    # ------------------------------------------------------------------ widgets
    def _build(self) -> None:
        import ipywidgets as w

        self.question_label = w.HTML()
        self.answer_box = w.Text(placeholder="type your answer", layout=w.Layout(width="220px"))
        self.button = w.Button(description="Submit", button_style="primary")
        self.feedback = w.HTML()
        self.bars = [w.FloatProgress(min=0.0, max=1.0, description=name[:20], style={"description_width": "150px"},
                                     layout=w.Layout(width="420px")) for name, _ in SKILLS]
        self.bar_values = [w.Label() for _ in SKILLS]
        self.status = w.HTML()

        def on_submit(_):
            self.submit(self.answer_box.value)
            self.answer_box.value = ""

        self.button.on_click(on_submit)
        rows = [w.HBox([bar, value]) for bar, value in zip(self.bars, self.bar_values)]
        self.widget = w.VBox([
            w.HTML("<b>Adaptive tutor</b> — estimated P(you know the skill); mastery at "
                   f"{self.policy.threshold:.2f}"),
            *rows, self.status, self.question_label, w.HBox([self.answer_box, self.button]), self.feedback,
        ])
        self._refresh()

    def _refresh(self) -> None:
        for bar, value, p in zip(self.bars, self.bar_values, self.estimates):
            bar.value = p
            bar.bar_style = "success" if p >= self.policy.threshold else "info"
            value.value = f"{p:.2f}"
        done = all(p >= self.policy.threshold for p in self.estimates)
        self.status.value = (f"questions so far: {self.step} · aptitude estimate z = {self.aptitude:+.2f}"
                             + (" · <b>all skills mastered</b> (the tutor keeps reviewing the weakest)" if done else ""))
        self.question_label.value = (f"<p style='font-size:1.3em'>Question {self.step + 1} "
                                     f"(<i>{SKILLS[self.skill][0]}</i>): <b>{self.question}</b></p>")

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)
