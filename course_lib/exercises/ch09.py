"""Checks for chapter 09 (wrap-up): choosing a family, evaluation statistics, task splits, citations."""

from __future__ import annotations

import math

from course_lib.exercises._core import _plain, check_close, check_mapping, check_true, not_attempted

__all__ = ["check_family_choice", "check_episodes_needed", "check_split_by_task", "check_citations"]

SCENARIOS = {
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


def check_family_choice(answer) -> bool:
    """Exercise 9.1: scenario -> family ("metric", "optimization", "memory/model", "learned optimizer")."""
    name = "Exercise 9.1"
    hint = "ask what is allowed at test time (gradient steps? one forward pass?) and what must be learned"
    return check_mapping(name, answer, SCENARIOS, hint,
                         lambda scenario, given: f"for {scenario!r}, {given!r} is not the best fit; think of the "
                                                 f"family where {REASONS[SCENARIOS[scenario]]}",
                         success="all four scenarios matched")


def check_episodes_needed(answer, std: float = 0.10, half_width: float = 0.005) -> bool:
    """Exercise 9.2: smallest n with 1.96 * std / sqrt(n) <= half_width."""
    expected = math.ceil((1.96 * std / half_width) ** 2)
    hint = "solve 1.96 * std / sqrt(n) <= half_width for n and round up"
    if answer is not None and abs(answer - (1.96 * std / half_width)) < 1:
        return check_true("Exercise 9.2", False, hint, failure="that is sqrt(n); square it")
    return check_close("Exercise 9.2", answer, expected, rtol=0, atol=0.5, hint=hint,
                       success=f"{expected} episodes for ±{half_width:.1%} when episodes vary by {std:.0%}")


def check_split_by_task(split_fn) -> bool:
    """Exercise 9.3: ``split_fn(class_of_example, test_fraction, seed) -> (train_idx, test_idx)`` by class."""
    import torch

    name = "Exercise 9.3"
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


CITATIONS = {
    "Reptile": "On First-Order Meta-Learning Algorithms",
    "MAML": "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks",
    "LSTM meta-learner (Ravi & Larochelle)": "Optimization as a Model for Few-Shot Learning",
    "Prototypical Networks": "Prototypical Networks for Few-shot Learning",
    "MANN": "Meta-Learning with Memory-Augmented Neural Networks",
}


def check_citations(answer) -> bool:
    """Exercise 9.4: method -> paper title (the seed articles mixed two of them up)."""
    name = "Exercise 9.4"
    hint = "Reptile is Nichol, Achiam & Schulman (2018); Ravi & Larochelle (2017) is the LSTM meta-learner"

    def explain(method, given):
        if method == "Reptile" and _plain(given) == _plain(CITATIONS["LSTM meta-learner (Ravi & Larochelle)"]):
            return (f"{method!r}: 'Optimization as a Model for Few-Shot Learning' is Ravi & Larochelle's LSTM "
                    "meta-learner, a classic mix-up")
        return f"{method!r} is matched with the wrong title"

    return check_mapping(name, answer, CITATIONS, hint, explain, success="all five citations right")
