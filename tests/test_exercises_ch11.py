"""Chapter 11 exercise checks: None = not attempted, the reference passes, typical mistakes get specific hints."""

import math

import torch

from course_lib.exercises import ch11


def split_by_class(class_of_example, test_fraction, seed, by_example=False):
    """The reference solution of Exercise 9.2, or the leaking example-level split."""
    g = torch.Generator().manual_seed(seed)
    if by_example:
        order = torch.randperm(len(class_of_example), generator=g)
        cut = round(test_fraction * len(order))
        return order[cut:], order[:cut]
    classes = class_of_example.unique()
    test_classes = classes[torch.randperm(len(classes), generator=g)][: round(test_fraction * len(classes))]
    is_test = torch.isin(class_of_example, test_classes)
    return torch.nonzero(~is_test).flatten(), torch.nonzero(is_test).flatten()


def test_not_attempted(capsys):
    assert not ch11.check_family_choice(None)
    assert not ch11.check_split_by_task(lambda *a: None)
    assert not ch11.check_episodes_needed(None)
    assert not ch11.check_citations(None)
    assert capsys.readouterr().out.count("not attempted") == 4


def test_exercises_are_named_in_reading_order(capsys):
    ch11.check_family_choice(None)
    ch11.check_split_by_task(None)
    ch11.check_episodes_needed(None)
    ch11.check_citations(None)
    names = [line.split(":")[0].split()[-1] for line in capsys.readouterr().out.splitlines() if "Exercise" in line]
    assert names == ["11.1", "11.2", "11.3", "11.4"]


def test_answers_are_not_exported():
    assert isinstance(ch11.SCENARIOS, list) and isinstance(ch11.METHODS, list)  # questions only, no answers
    assert set(ch11.METHODS) == set(ch11._CITATIONS) and set(ch11.SCENARIOS) == set(ch11._FAMILY_OF)


def test_family_choice(capsys):
    assert ch11.check_family_choice(dict(ch11._FAMILY_OF))
    wrong = dict(ch11._FAMILY_OF)
    first = next(iter(wrong))
    wrong[first] = "optimization"
    assert not ch11.check_family_choice(wrong)
    assert "forward pass + comparison" in capsys.readouterr().out


def test_split_by_class(capsys):
    assert ch11.check_split_by_task(split_by_class)
    assert "Correct!" in capsys.readouterr().out
    assert not ch11.check_split_by_task(lambda *a: split_by_class(*a, by_example=True))
    assert "example-level split, which leaks" in capsys.readouterr().out


def test_episodes_needed(capsys):
    expected = math.ceil((1.96 * 0.10 / 0.005) ** 2)
    assert ch11.check_episodes_needed(expected)
    assert ch11.check_episodes_needed(1540)  # the exact Student-t answer is accepted too
    capsys.readouterr()
    assert not ch11.check_episodes_needed(1.96 * 0.10 / 0.005)
    assert "that is sqrt(n)" in capsys.readouterr().out
    assert not ch11.check_episodes_needed(expected - 1)
    assert "round UP" in capsys.readouterr().out
    assert not ch11.check_episodes_needed(400)
    assert "left out the quantile" in capsys.readouterr().out


def test_citations(capsys):
    right = dict(ch11._CITATIONS)
    assert ch11.check_citations(right)
    assert ch11.check_citations({method: ch11.TITLES[letter].lower() for method, letter in right.items()})
    capsys.readouterr()
    mix_ups = {
        "Reptile": ("A", "a mix-up common in blog posts"),
        "first-order MAML (the first-order approximation itself)": ("C", "in the MAML paper itself"),
        "LSTM meta-learner for few-shot learning (Ravi & Larochelle)": ("B", "LSTM *optimizer*"),
        "MANN with least-recently-used writes": ("G", "Neural Turing Machine"),
    }
    for method, (letter, message) in mix_ups.items():
        assert not ch11.check_citations({**right, method: letter})
        assert message in capsys.readouterr().out
    assert not ch11.check_citations({**right, "Reptile": "Z"})
    assert "not one of the letters" in capsys.readouterr().out
