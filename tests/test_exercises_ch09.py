"""Chapter 09 exercise checks: None = not attempted, the reference passes, typical mistakes get specific hints."""

import numpy as np
import torch

from course_lib.exercises import ch09


def backward_transfer(R, mistake=None):
    """The reference solution of Exercise 8.1, or one typical mistake."""
    T = R.shape[0]
    if mistake == "all tasks":
        return float(np.mean(R[-1] - np.diag(R)))
    if mistake == "first row":
        return float(np.mean(R[-1, : T - 1] - R[0, : T - 1]))
    return float(np.mean(R[-1, : T - 1] - np.diag(R)[: T - 1]))


def forgetting(R, mistake=None):
    """The reference solution of Exercise 8.2, or one typical mistake."""
    T = R.shape[0]
    if mistake == "diagonal":
        return float(np.mean([R[j, j] - R[-1, j] for j in range(T - 1)]))
    start = (lambda j: 0) if mistake == "from row 0" else (lambda j: j)
    return float(np.mean([R[start(j) : T - 1, j].max() - R[-1, j] for j in range(T - 1)]))


def prototype_logits(support_z, support_y, query_z, mistake=None):
    """The reference solution of Exercise 8.3, or one typical mistake."""
    n = int(support_y.max()) + 1
    if mistake == "sorted":
        c = support_z.reshape(n, -1, support_z.shape[1]).mean(1)
    else:
        c = torch.stack([support_z[support_y == k].mean(0) for k in range(n)])
    squared = ((query_z[:, None, :] - c[None, :, :]) ** 2).sum(-1)
    if mistake == "distance":
        return -squared.sqrt()
    if mistake == "sign":
        return squared
    return -squared


def test_not_attempted_prints_and_returns_false(capsys):
    assert not ch09.check_backward_transfer(lambda R: None)
    assert not ch09.check_forgetting(None)
    assert not ch09.check_prototype_logits(lambda *a: None)
    assert not ch09.check_first_task_drop(None, np.eye(3))
    assert capsys.readouterr().out.count("not attempted") == 4


def test_reference_solutions_pass(capsys):
    assert ch09.check_backward_transfer(backward_transfer)
    assert ch09.check_forgetting(forgetting)
    assert ch09.check_prototype_logits(prototype_logits)
    R = np.array([[0.9, 0.1, 0.1], [0.7, 0.8, 0.1], [0.5, 0.6, 0.9]])
    assert ch09.check_first_task_drop(40.0, R)
    assert capsys.readouterr().out.count("Correct!") == 4


def test_hints_do_not_give_the_code_away(capsys):
    ch09.check_backward_transfer(None)
    ch09.check_prototype_logits(None)
    ch09.check_first_task_drop(None, np.eye(3))
    out = capsys.readouterr().out
    assert "R[-1" not in out and "R[0, 0]" not in out and "sum(-1)" not in out


def test_backward_transfer_mistakes(capsys):
    assert not ch09.check_backward_transfer(lambda R: backward_transfer(R, "all tasks"))
    assert "averaged over all T tasks" in capsys.readouterr().out
    assert not ch09.check_backward_transfer(lambda R: backward_transfer(R, "first row"))
    assert "compare with R[j, j]" in capsys.readouterr().out


def test_forgetting_mistakes(capsys):
    assert not ch09.check_forgetting(lambda R: forgetting(R, "diagonal"))
    assert "that is -BWT" in capsys.readouterr().out
    assert not ch09.check_forgetting(lambda R: forgetting(R, "from row 0"))
    assert "before task j was learned" in capsys.readouterr().out


def test_prototype_mistakes(capsys):
    assert not ch09.check_prototype_logits(lambda *a: prototype_logits(*a, mistake="sorted"))
    assert "sorted by label" in capsys.readouterr().out
    assert not ch09.check_prototype_logits(lambda *a: prototype_logits(*a, mistake="distance"))
    assert "SQUARED distance" in capsys.readouterr().out
    assert not ch09.check_prototype_logits(lambda *a: prototype_logits(*a, mistake="sign"))
    assert "opposite sign" in capsys.readouterr().out


def test_first_task_drop_mistakes(capsys):
    R = np.array([[0.9, 0.1, 0.1], [0.7, 0.8, 0.1], [0.5, 0.6, 0.9]])
    assert not ch09.check_first_task_drop(0.4, R)
    assert "that is a fraction" in capsys.readouterr().out
    assert not ch09.check_first_task_drop(80.0, R)  # R[0, 0] - R[0, -1]: along a row
    assert "read a row instead of a column" in capsys.readouterr().out
