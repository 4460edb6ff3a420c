"""Checks for chapter 11 (wrap-up): choosing a family, evaluation statistics, task splits, citations."""

from __future__ import annotations

import math

from course_lib.exercises._core import _correct, _plain, check_close, check_mapping, check_true, not_attempted

__all__ = ["METHODS", "SCENARIOS", "TITLES", "check_citations", "check_episodes_needed", "check_family_choice",
           "check_split_by_task"]

_FAMILY_OF = {  # scenario -> family (the answers; notebooks import only the SCENARIOS list)
    "phone app: recognise a user's new gesture classes from 3 examples each, no training on the device": "metric",
    "regression tasks; you want any architecture to adapt with a few gradient steps": "optimization",
    "a stream of labelled examples arrives one at a time and the model must use them at once": "memory/model",
    "you need a better update rule than SGD for a family of small problems, and can afford meta-training": "learned optimizer",
}
REASONS = {
    "metric": "a forward pass + comparison with the support embeddings, no gradient steps at test time",
    "optimization": "model-agnostic: any differentiable model, adapted by gradient descent",
    "memory/model": "the learner is a sequence model whose state absorbs each new example",
    "learned optimizer": "what is meta-learned is the update rule itself",
}
SCENARIOS = list(_FAMILY_OF)


def check_family_choice(answer) -> bool:
    """Exercise 11.1: scenario -> family ("metric", "optimization", "memory/model", "learned optimizer")."""
    name = "Exercise 11.1"
    hint = "ask what is allowed at test time (gradient steps? one forward pass?) and what must be learned"
    return check_mapping(name, answer, _FAMILY_OF, hint,
                         lambda scenario, given: f"for {scenario!r}, {given!r} is not the best fit; think of the "
                                                 f"family where {REASONS[_FAMILY_OF[scenario]]}",
                         success="all four scenarios matched")


def check_split_by_task(split_fn) -> bool:
    """Exercise 11.2: ``split_fn(class_of_example, test_fraction, seed) -> (train_idx, test_idx)`` by class."""
    import torch

    name = "Exercise 11.2"
    hint = "shuffle the *distinct classes*, take a fraction of them for testing, then select every example of those classes"
    if split_fn is None:
        return not_attempted(name, hint)
    labels = torch.arange(40).repeat_interleave(5)[torch.randperm(200, generator=torch.Generator().manual_seed(0))]
    try:
        result = split_fn(labels, 0.25, 0)
    except Exception as err:  # the learner's error becomes feedback
        return check_true(name, False, hint, failure=f"raised {type(err).__name__}: {err}")
    if result is None:
        return not_attempted(name, hint)
    train_idx, test_idx = (torch.as_tensor(r).long() for r in result)
    train_cls, test_cls = set(labels[train_idx].tolist()), set(labels[test_idx].tolist())
    if len(train_idx) + len(test_idx) != len(labels) or len(set(train_idx.tolist()) | set(test_idx.tolist())) != len(labels):
        return check_true(name, False, hint, failure="every example must be in exactly one of the two index sets")
    if train_cls & test_cls:
        return check_true(name, False, hint, failure=f"{len(train_cls & test_cls)} classes appear on both sides: "
                          "that is an example-level split, which leaks tasks into meta-testing")
    return check_true(name, len(test_cls) == 10, hint, success="disjoint classes, 10 of 40 held out",
                      failure=f"{len(test_cls)} test classes; a quarter of 40 is 10")


def check_episodes_needed(answer, std: float = 0.10, half_width: float = 0.005) -> bool:
    """Exercise 11.3: smallest n with 1.96 * std / sqrt(n) <= half_width.

    n is in the thousands, where Student's t quantile is 1.96 to two decimals; the exact t answer
    (smallest n with ``t_quantile(0.975, n - 1) * std / sqrt(n) <= half_width``) is accepted too.
    """
    from course_lib.metrics import t_quantile

    name = "Exercise 11.3"
    expected = math.ceil((1.96 * std / half_width) ** 2)
    exact = expected
    while t_quantile(0.975, exact - 1) * std / math.sqrt(exact) > half_width:
        exact += 1
    hint = "the half-width shrinks like 1/sqrt(n): solve the inequality for n, then round up"
    if answer is None:
        return not_attempted(name, hint)
    value = float(answer)
    if abs(value - 1.96 * std / half_width) < 1:
        return check_true(name, False, hint, failure="that is sqrt(n); square it")
    if value == expected - 1:
        return check_true(name, False, hint, failure=f"with n = {int(value)} the half-width is still a little above "
                          f"{half_width}: round UP")
    if abs(value - (std / half_width) ** 2) < 1:
        return check_true(name, False, hint, failure="you left out the quantile 1.96 (the interval is 1.96 "
                          "standard errors on each side for 95 %)")
    if value == exact and exact != expected:
        return _correct(name, f"{exact} episodes with the exact t quantile ({expected} with 1.96)")
    return check_close(name, value, expected, rtol=0, atol=0.5, hint=hint,
                       success=f"{expected} episodes for ±{half_width:.1%} when episodes vary by {std:.0%}")


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
_MIX_UPS = {  # (method, wrong letter) -> why that paper is not the one
    ("Reptile", "A"): "a mix-up common in blog posts: that paper (Ravi & Larochelle 2017) meta-learns an LSTM that "
                      "produces the updates of a few-shot learner; Reptile is a first-order method, "
                      "from a paper about first-order algorithms",
    ("Reptile", "D"): "Reptile is not in the MAML paper; it came a year later, from the paper that analyses "
                      "first-order meta-learning",
    ("first-order MAML (the first-order approximation itself)", "C"): "Nichol et al. (2018) analyse first-order MAML "
        "and call it FOMAML, but the approximation was introduced (and tested on MiniImagenet) in the MAML paper itself",
    ("LSTM meta-learner for few-shot learning (Ravi & Larochelle)", "B"): "that is the LSTM *optimizer* of "
        "Andrychowicz et al. (2016), which learns to train networks, not to learn from a few examples",
    ("LSTM optimizer that replaces SGD (Andrychowicz et al.)", "A"): "that is Ravi & Larochelle's few-shot "
        "meta-learner; the optimizer paper's title says what it replaces gradient descent with",
    ("MANN with least-recently-used writes", "G"): "the Neural Turing Machine (Graves et al. 2014) is the "
        "architecture MANN starts from; LRUA and the one-shot experiments are in Santoro et al. (2016)",
}


def _letter(given) -> str:
    """A letter, or a full title turned into its letter (case and spacing ignored)."""
    for letter, title in TITLES.items():
        if _plain(given) == _plain(title):
            return letter
    return str(given).strip().upper()


def check_citations(answer) -> bool:
    """Exercise 11.4: method -> letter of its paper in ``TITLES`` (blog posts often mix two of them up)."""
    name = "Exercise 11.4"
    hint = "match what each method does with what each title says; two titles describe two different LSTMs"

    def explain(method, given):
        letter = _letter(given)
        if letter not in TITLES:
            return f"{method!r}: {given!r} is not one of the letters {', '.join(TITLES)}"
        why = _MIX_UPS.get((method, letter), "that paper introduced something else")
        return f"{method!r} is not {letter} ({TITLES[letter]!r}): {why}"

    if isinstance(answer, dict):
        answer = {method: _letter(given) for method, given in answer.items() if given is not None}
    return check_mapping(name, answer, _CITATIONS, hint, explain, success="all five attributions right")
