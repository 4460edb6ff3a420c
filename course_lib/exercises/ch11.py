"""Checks for chapter 11 (wrap-up): choosing a family, evaluation statistics, task splits, citations."""

from __future__ import annotations

import math

from course_lib.exercises._core import _correct, _plain, check_close, check_mapping, check_true, not_attempted
from course_lib.i18n import tr

__all__ = ["METHODS", "SCENARIOS", "TITLES", "check_citations", "check_episodes_needed", "check_family_choice",
           "check_split_by_task"]

_FAMILY_OF = {  # scenario -> family (the answers; notebooks import only the SCENARIOS list)
    "phone app: recognise a user's new gesture classes from 3 examples each, no training on the device": "metric",
    "regression tasks; you want any architecture to adapt with a few gradient steps": "optimization",
    "a stream of labelled examples arrives one at a time and the model must use them at once": "memory/model",
    "you need a better update rule than SGD for a family of small problems, and can afford meta-training": "learned optimizer",
}
REASONS = {  # in the learner's language (COURSE_LANG when the module is imported)
    "metric": tr("a forward pass + comparison with the support embeddings, no gradient steps at test time"),
    "optimization": tr("model-agnostic: any differentiable model, adapted by gradient descent"),
    "memory/model": tr("the learner is a sequence model whose state absorbs each new example"),
    "learned optimizer": tr("what is meta-learned is the update rule itself"),
}
SCENARIOS = list(_FAMILY_OF)


def check_family_choice(answer) -> bool:
    """Exercise 11.1: scenario -> family ("metric", "optimization", "memory/model", "learned optimizer")."""
    name = tr("Exercise 11.1")
    hint = tr("ask what is allowed at test time (gradient steps? one forward pass?) and what must be learned")
    return check_mapping(name, answer, _FAMILY_OF, hint,
                         lambda scenario, given: tr("for {scenario!r}, {given!r} is not the best fit; think of the "
                                                    "family where {reason}", scenario=scenario, given=given,
                                                    reason=REASONS[_FAMILY_OF[scenario]]),
                         success=tr("all four scenarios matched"))


def check_split_by_task(split_fn) -> bool:
    """Exercise 11.2: ``split_fn(class_of_example, test_fraction, seed) -> (train_idx, test_idx)`` by class."""
    import torch

    name = tr("Exercise 11.2")
    hint = tr("shuffle the *distinct classes*, take a fraction of them for testing, then select every example of those "
              "classes")
    if split_fn is None:
        return not_attempted(name, hint)
    labels = torch.arange(40).repeat_interleave(5)[torch.randperm(200, generator=torch.Generator().manual_seed(0))]
    try:
        result = split_fn(labels, 0.25, 0)
    except Exception as err:  # the learner's error becomes feedback
        return check_true(name, False, hint, failure=tr("raised {error_type}: {error}", error_type=type(err).__name__,
                                                        error=err))
    if result is None:
        return not_attempted(name, hint)
    train_idx, test_idx = (torch.as_tensor(r).long() for r in result)
    train_cls, test_cls = set(labels[train_idx].tolist()), set(labels[test_idx].tolist())
    if len(train_idx) + len(test_idx) != len(labels) or len(set(train_idx.tolist()) | set(test_idx.tolist())) != len(labels):
        return check_true(name, False, hint, failure=tr("every example must be in exactly one of the two index sets"))
    if train_cls & test_cls:
        return check_true(name, False, hint, failure=tr("{count} classes appear on both sides: "
                          "that is an example-level split, which leaks tasks into meta-testing",
                          count=len(train_cls & test_cls)))
    return check_true(name, len(test_cls) == 10, hint, success=tr("disjoint classes, 10 of 40 held out"),
                      failure=tr("{count} test classes; a quarter of 40 is 10", count=len(test_cls)))


def check_episodes_needed(answer, std: float = 0.10, half_width: float = 0.005) -> bool:
    """Exercise 11.3: smallest n with 1.96 * std / sqrt(n) <= half_width.

    n is in the thousands, where Student's t quantile is 1.96 to two decimals; the exact t answer
    (smallest n with ``t_quantile(0.975, n - 1) * std / sqrt(n) <= half_width``) is accepted too.
    """
    from course_lib.metrics import t_quantile

    name = tr("Exercise 11.3")
    expected = math.ceil((1.96 * std / half_width) ** 2)
    exact = expected
    while t_quantile(0.975, exact - 1) * std / math.sqrt(exact) > half_width:
        exact += 1
    hint = tr("the half-width shrinks like 1/sqrt(n): solve the inequality for n, then round up")
    if answer is None:
        return not_attempted(name, hint)
    value = float(answer)
    if abs(value - 1.96 * std / half_width) < 1:
        return check_true(name, False, hint, failure=tr("that is sqrt(n); square it"))
    if value == expected - 1:
        return check_true(name, False, hint, failure=tr("with n = {n} the half-width is still a little above "
                          "{half_width}: round UP", n=int(value), half_width=half_width))
    if abs(value - (std / half_width) ** 2) < 1:
        return check_true(name, False, hint, failure=tr("you left out the quantile 1.96 (the interval is 1.96 "
                          "standard errors on each side for 95 %)"))
    if value == exact and exact != expected:
        return _correct(name, tr("{exact} episodes with the exact t quantile ({expected} with 1.96)", exact=exact,
                                 expected=expected))
    return check_close(name, value, expected, rtol=0, atol=0.5, hint=hint,
                       success=tr("{expected} episodes for ±{half_width:.1%} when episodes vary by {std:.0%}",
                                  expected=expected, half_width=half_width, std=std))


TITLES = {
    "A": "Optimization as a Model for Few-Shot Learning",
    "B": "Learning to learn by gradient descent by gradient descent",
    "C": "On First-Order Meta-Learning Algorithms",
    "D": "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
    "E": "Matching Networks for One Shot Learning",
    "F": "Meta-Learning with Memory-Augmented Neural Networks",
    "G": "Neural Turing Machines",
    "H": "Siamese Neural Networks for One-shot Image Recognition",
}
_CITATIONS = {  # method -> letter in TITLES (the answers; notebooks import only METHODS)
    "Reptile": "C",
    "first-order MAML (the first-order approximation itself)": "D",
    "LSTM meta-learner for few-shot learning (Ravi & Larochelle)": "A",
    "LSTM optimizer that replaces SGD (Andrychowicz et al.)": "B",
    "MANN with least-recently-used writes": "F",
}
METHODS = list(_CITATIONS)
def _mix_ups() -> dict[tuple[str, str], str]:
    """(method, wrong letter) -> why that paper is not the one."""
    return {
        ("Reptile", "A"): tr("a mix-up common in blog posts: that paper (Ravi & Larochelle 2017) meta-learns an LSTM "
                             "that produces the updates of a few-shot learner; Reptile is a first-order method, "
                             "from a paper about first-order algorithms"),
        ("Reptile", "D"): tr("Reptile is not in the MAML paper; it came a year later, from the paper that analyses "
                             "first-order meta-learning"),
        ("first-order MAML (the first-order approximation itself)", "C"): tr("Nichol et al. (2018) analyse first-order "
            "MAML and call it FOMAML, but the approximation was introduced (and tested on MiniImagenet) in the MAML "
            "paper itself"),
        ("LSTM meta-learner for few-shot learning (Ravi & Larochelle)", "B"): tr("that is the LSTM *optimizer* of "
            "Andrychowicz et al. (2016), which learns to train networks, not to learn from a few examples"),
        ("LSTM optimizer that replaces SGD (Andrychowicz et al.)", "A"): tr("that is Ravi & Larochelle's few-shot "
            "meta-learner; the optimizer paper's title says what it replaces gradient descent with"),
        ("MANN with least-recently-used writes", "G"): tr("the Neural Turing Machine (Graves et al. 2014) is the "
            "architecture MANN starts from; LRUA and the one-shot experiments are in Santoro et al. (2016)"),
    }


def _letter(given) -> str:
    """A letter, or a full title turned into its letter (case and spacing ignored)."""
    for letter, title in TITLES.items():
        if _plain(given) == _plain(title):
            return letter
    return str(given).strip().upper()


def check_citations(answer) -> bool:
    """Exercise 11.4: method -> letter of its paper in ``TITLES`` (blog posts often mix two of them up)."""
    name = tr("Exercise 11.4")
    hint = tr("match what each method does with what each title says; two titles describe two different LSTMs")

    def explain(method, given):
        letter = _letter(given)
        if letter not in TITLES:
            return tr("{method!r}: {given!r} is not one of the letters {letters}", method=method, given=given,
                      letters=", ".join(TITLES))
        why = _mix_ups().get((method, letter)) or tr("that paper introduced something else")
        return tr("{method!r} is not {letter} ({title!r}): {why}", method=method, letter=letter, title=TITLES[letter],
                  why=why)

    if isinstance(answer, dict):
        answer = {method: _letter(given) for method, given in answer.items() if given is not None}
    return check_mapping(name, answer, _CITATIONS, hint, explain, success=tr("all five attributions right"))
