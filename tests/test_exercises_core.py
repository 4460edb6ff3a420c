"""Exercise checks: not attempted, specific hints for wrong answers, confirmation for right ones."""

import numpy as np
import pytest
import torch

from course_lib.exercises._core import check_close, check_function, check_shape, check_true, not_attempted


def test_none_is_not_attempted_and_does_not_raise(capsys):
    assert check_close("inner step", None, torch.ones(3), hint="theta - alpha * grad") is False
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "theta - alpha * grad" in out
    assert check_true("claim", None, hint="compare the two losses") is False
    assert check_shape("prototypes", None, (5, 64), hint="mean over the shots") is False
    assert check_function("f", None, abs, [(1.0,)]) is False
    assert check_function("f", lambda x: None, abs, [(1.0,)], hint="h") is False
    assert not_attempted("x") is False
    assert capsys.readouterr().out.count("not attempted yet") == 5


def test_correct_answers_print_confirmation(capsys):
    assert check_close("value", 3.00001, 3.0) is True
    assert check_close("tensor", [1.0, 2.0], torch.tensor([1.0, 2.0]), success="well done") is True
    assert check_close("array", np.eye(2), torch.eye(2)) is True
    assert check_close("pair", (torch.ones(2), 1.0), (torch.ones(2), 1.0)) is True
    assert check_shape("s", torch.zeros(5, 64), (5, 64)) is True
    assert check_true("t", True, hint="h", success="the loss went down") is True
    out = capsys.readouterr().out
    assert out.count("Correct!") == 6 and "well done" in out and "the loss went down" in out


@pytest.mark.parametrize(
    "value, expected, fragment",
    [
        (-torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0]), "opposite sign"),
        (torch.tensor([2.0, 4.0]), torch.tensor([1.0, 2.0]), "2 times the expected value"),
        (6.0, 3.0, "2 times the expected value"),
        (torch.ones(3, 1), torch.ones(3), "has shape [3, 1] but should have shape [3]"),
        (torch.ones(2, 3), torch.ones(3, 2), "(transposed?)"),
        (torch.tensor(3.0), torch.ones(3), "reduce with sum()/mean() too early"),
        (torch.tensor([1.0, float("nan")]), torch.ones(2), "contains NaN"),
        (torch.tensor([1.0, 5.0, 3.0]), torch.tensor([1.0, 2.0, 3.0]), "largest difference is 3 at index [1] (you have 5)"),
        (3.7, 3.0, "your answer is 3.7, which is not within the tolerance"),
        ("three", 3.0, "should be a number or a tensor"),
        ((torch.ones(2),), (torch.ones(2), 1.0), "sequence of 2 items"),
    ],
)
def test_wrong_answers_get_specific_messages(capsys, value, expected, fragment):
    assert check_close("ex", value, expected, hint="look at eq. (3)") is False
    out = capsys.readouterr().out
    assert fragment in out and "Hint: look at eq. (3)" in out
    assert "Correct" not in out


def test_tolerances_are_respected():
    assert check_close("ex", 1.1, 1.0, rtol=0.2)
    assert not check_close("ex", 1.1, 1.0, rtol=0.01)
    assert check_close("ex", 1e-7, 0.0, atol=1e-6)


def test_check_shape_and_true_messages(capsys):
    assert check_shape("s", torch.zeros(64, 5), (5, 64), hint="h") is False
    assert "shape is [64, 5] but should be [5, 64]" in capsys.readouterr().out
    assert check_shape("s", [1, 2], (2,)) is False
    assert "got a list" in capsys.readouterr().out
    assert check_true("t", False, hint="fix it", failure="the adapted loss is higher") is False
    out = capsys.readouterr().out
    assert "the adapted loss is higher" in out and "fix it" in out


def test_check_function_reports_the_failing_case(capsys):
    cases = [(torch.tensor([1.0, 2.0]),), (torch.tensor([-1.0, 3.0]),)]
    assert check_function("square", lambda x: x**2, lambda x: x**2, cases) is True
    assert "all 2 test cases pass" in capsys.readouterr().out
    assert check_function("square", lambda x: x * x.abs(), lambda x: x**2, cases) is False
    assert "on test case 1 of 2" in capsys.readouterr().out
    assert check_function("square", lambda x: x.nope, lambda x: x**2, cases) is False
    assert "raised AttributeError" in capsys.readouterr().out

    def forgets_return_sometimes(x):
        if x[0] < 0:
            return None
        return x**2

    assert check_function("square", forgets_return_sometimes, lambda x: x**2, cases) is False
    assert "returned None on test case 1" in capsys.readouterr().out

    def stub(x):
        raise NotImplementedError

    assert check_function("square", stub, lambda x: x**2, cases) is False
    assert "not attempted yet" in capsys.readouterr().out
