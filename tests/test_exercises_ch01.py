"""Chapter 01 exercise checks: None = not attempted, the reference passes, typical mistakes get specific hints."""

import math

import pytest
import torch

from course_lib.data.sinusoid import SinusoidTaskFamily
from course_lib.exercises import ch01

E_A = (0.1 + 5.0) / 2
E_A2 = (5.0**3 - 0.1**3) / (3 * 4.9)
FAMILY_SOLUTION = {"A": "optimization", "B": "optimization", "C": "learned optimizer", "D": "learned optimizer",
                   "E": "metric", "F": "metric", "G": "memory/model", "H": "memory/model"}


def _features(x):
    return torch.cat([torch.sin(x), torch.cos(x)], dim=-1)


def oracle(support_x, support_y):
    coef = torch.linalg.lstsq(_features(support_x), support_y).solution
    return lambda x: _features(x) @ coef


def test_every_check_reports_not_attempted_for_none(capsys):
    assert not ch01.check_multitask_claim(None)
    assert not ch01.check_zero_predictor_mse(None)
    assert not ch01.check_mean_function(None)
    assert not ch01.check_linear_form(lambda amplitude, phase: None)
    assert not ch01.check_oracle_adaptation(lambda x, y: None, SinusoidTaskFamily())
    assert not ch01.check_family_quiz(None)
    out = capsys.readouterr().out
    assert out.count("not attempted yet") == 6
    for n in range(1, 7):
        assert f"Exercise 1.{n}" in out


# Exercise 1.1: multi-task parameter sharing presented as meta-learning.
@pytest.mark.parametrize("answer", [{"B", "C", "D"}, ["d", "c", "b"], "BCD", ("B", "C", "D")])
def test_multitask_claim_accepts_the_true_statements_in_any_form(answer, capsys):
    assert ch01.check_multitask_claim(answer)
    assert "Correct!" in capsys.readouterr().out


@pytest.mark.parametrize("answer, expected", [
    ({"A", "B", "C", "D"}, "statement A is false"),  # the seed article's claim: sharing = meta-learning
    ({"A", "B", "C", "D"}, "multi-task learning"),
    ({"B", "C", "D", "E"}, "more tasks do not change what is optimised"),
    ({"B", "C", "D", "F"}, "shared features can transfer"),
    ({"C", "D"}, "statement B is true as well"),
    ({"B", "D"}, "find the support set"),
    ({"B", "C"}, "whether any of them is new"),
    ({"B", "C", "Z"}, "there is no statement Z"),
])
def test_multitask_claim_names_what_is_wrong_with_each_choice(answer, expected, capsys):
    assert not ch01.check_multitask_claim(answer)
    assert expected in capsys.readouterr().out


def test_multitask_claim_rejects_a_non_collection(capsys):
    assert not ch01.check_multitask_claim(3)
    assert "give a set of letters" in capsys.readouterr().out


# Exercise 1.2: MSE of predicting zero.
def test_zero_predictor_accepts_half_the_second_moment(capsys):
    assert ch01.check_zero_predictor_mse(E_A2 / 2)
    assert "Correct!" in capsys.readouterr().out


@pytest.mark.parametrize("answer, expected", [
    (E_A2, "you still need the average of sin^2"),
    (E_A**2 / 2, "E[A]^2 instead of E[A^2]"),
    (E_A**2, "and forgot the average of sin^2"),
    (1.0, "not within the tolerance"),
])
def test_zero_predictor_names_the_typical_mistakes(answer, expected, capsys):
    assert not ch01.check_zero_predictor_mse(answer)
    assert expected in capsys.readouterr().out


# Exercise 1.3: the mean function of the task family.
def test_mean_function_accepts_c_and_reports_the_network_gap(capsys):
    net = torch.nn.Linear(1, 1)
    assert ch01.check_mean_function(-2 / math.pi * E_A, net)
    out = capsys.readouterr().out
    assert "Correct!" in out and "(RMS) away from" in out


@pytest.mark.parametrize("answer, expected", [
    (0.0, "half a period"),
    (2 / math.pi * E_A, "the sign is flipped"),
    (-2 * E_A, "did not divide by the length pi"),
])
def test_mean_function_names_the_typical_mistakes(answer, expected, capsys):
    assert not ch01.check_mean_function(answer)
    assert expected in capsys.readouterr().out


# Exercise 1.4: the linear form of a sine task.
def test_linear_form_accepts_the_expansion(capsys):
    assert ch01.check_linear_form(lambda A, phi: (A * torch.cos(phi), -A * torch.sin(phi)))
    assert "Correct!" in capsys.readouterr().out


@pytest.mark.parametrize("to_linear, expected", [
    (lambda A, phi: (-A * torch.sin(phi), A * torch.cos(phi)), "you returned (b, a)"),
    (lambda A, phi: (A * torch.cos(phi), A * torch.sin(phi)), "b has the wrong sign"),
    (lambda A, phi: (A * torch.sin(phi), A * torch.cos(phi)), "a and b are swapped and b has the wrong sign"),
    (lambda A, phi: (A * torch.cos(phi), -torch.sin(phi)), "on test case 0"),
    (lambda A, phi: A * torch.cos(phi), "angle-difference formula"),
])
def test_linear_form_names_the_typical_mistakes(to_linear, expected, capsys):
    assert not ch01.check_linear_form(to_linear)
    assert expected in capsys.readouterr().out


# Exercise 1.5: the oracle learner.
def test_oracle_adaptation_accepts_least_squares_on_sin_cos(capsys):
    assert ch01.check_oracle_adaptation(oracle, SinusoidTaskFamily())
    assert "Correct!" in capsys.readouterr().out


def test_oracle_adaptation_rejects_returning_the_coefficients(capsys):
    def coefficients(x, y):
        return torch.linalg.lstsq(_features(x), y).solution

    assert not ch01.check_oracle_adaptation(coefficients, SinusoidTaskFamily())
    assert "return a function x -> y_hat" in capsys.readouterr().out


def test_oracle_adaptation_rejects_the_wrong_model_class(capsys):
    def linear_in_x(x, y):
        features = lambda z: torch.cat([z, torch.ones_like(z)], dim=-1)
        coef = torch.linalg.lstsq(features(x), y).solution
        return lambda z: features(z) @ coef

    assert not ch01.check_oracle_adaptation(linear_in_x, SinusoidTaskFamily())
    assert "not the sine family's model class" in capsys.readouterr().out


# Exercise 1.6: methods described by mechanism, sorted into families.
def test_family_quiz_accepts_the_families_and_names_the_methods(capsys):
    assert ch01.check_family_quiz({k: v.upper() for k, v in FAMILY_SOLUTION.items()})
    out = capsys.readouterr().out
    assert "Correct!" in out and "B ANIL" in out


@pytest.mark.parametrize("letter, wrong, expected", [
    ("B", "metric", "only on the last layer"),
    ("C", "optimization", "what is learned is the update rule"),
    ("E", "memory/model", "class means in a learned embedding"),
    ("H", "optimization", "one forward pass over the support set"),
])
def test_family_quiz_explains_a_wrong_family(letter, wrong, expected, capsys):
    answer = dict(FAMILY_SOLUTION, **{letter: wrong})
    assert not ch01.check_family_quiz(answer)
    out = capsys.readouterr().out
    assert f"{letter} is not {wrong!r}" in out and expected in out


def test_family_quiz_names_a_missing_answer(capsys):
    answer = {k: v for k, v in FAMILY_SOLUTION.items() if k != "G"}
    assert not ch01.check_family_quiz(answer)
    assert "no answer given for 'G'" in capsys.readouterr().out
