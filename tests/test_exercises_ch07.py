"""Chapter 07 exercise checks: None = not attempted, the reference passes, typical mistakes get specific hints."""

import pytest
import torch

from course_lib.edu.dkvmn import write_memory
from course_lib.edu.simulated import bkt_update
from course_lib.edu.student_model import masked_bce, student_logits
from course_lib.exercises import ch07


def adapt_abilities(shared, start_ability, support_skills, support_correct, inner_lr, steps, *, sign=1.0,
                    per_student=True, skills_too=False, create_graph=True, sum_answers=False):
    """The reference solution of Exercise 7.5, or one typical mistake."""
    ability = start_ability.expand(support_skills.shape[0], -1)
    shared = dict(shared)
    for _ in range(steps):
        loss = masked_bce(student_logits(shared, ability, support_skills), support_correct, per_student=per_student)
        loss = loss * support_skills.shape[1] if sum_answers else loss
        if skills_too:
            g_a, g_b, g_v = torch.autograd.grad(loss, [ability, shared["skill_bias"], shared["skill_embed"]],
                                                create_graph=create_graph)
            shared = {"skill_bias": shared["skill_bias"] - inner_lr * g_b,
                      "skill_embed": shared["skill_embed"] - inner_lr * g_v}
        else:
            (g_a,) = torch.autograd.grad(loss, ability, create_graph=create_graph)
        ability = ability - sign * inner_lr * g_a
    return ability


def meta_loss(shared, start_ability, tasks, inner_lr, steps, *, adapt=adapt_abilities, on="query", reduce="mean"):
    """The reference solution of Exercise 7.6, or one typical mistake."""
    ability = adapt(shared, start_ability, tasks.support_skills, tasks.support_correct, inner_lr, steps)
    if on == "support":
        return masked_bce(student_logits(shared, ability, tasks.support_skills), tasks.support_correct) / len(tasks)
    if on == "start":
        ability = start_ability.expand(len(tasks), -1)
    mask = None if on == "padding" else tasks.query_mask
    loss = masked_bce(student_logits(shared, ability, tasks.query_skills), tasks.query_correct, mask)
    return loss if reduce == "sum" else loss / len(tasks)


def test_student_adaptation_accepts_the_solution(capsys):
    assert ch07.check_student_adaptation(adapt_abilities)
    assert "Correct!" in capsys.readouterr().out


def test_student_adaptation_not_attempted(capsys):
    def stub(*args):
        raise NotImplementedError

    assert ch07.check_student_adaptation(stub) is False
    assert "not attempted" in capsys.readouterr().out
    assert ch07.check_student_adaptation(lambda *args: None) is False
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message", [
    ({"sign": -1.0}, "sign error"),
    ({"per_student": False}, "mean over all answers of the batch instead of per student"),
    ({"skills_too": True}, "adapted the skill parameters too"),
    ({"sum_answers": True}, "summed each student's answers instead of averaging"),
    ({"create_graph": False}, "first-order MAML"),
])
def test_student_adaptation_names_the_mistake(capsys, mistake, message):
    assert not ch07.check_student_adaptation(lambda *args: adapt_abilities(*args, **mistake))
    out = capsys.readouterr().out
    assert message in out and "Hint:" in out


def test_student_adaptation_rejects_a_detached_result_and_errors(capsys):
    assert not ch07.check_student_adaptation(lambda *args: adapt_abilities(*args).detach())
    assert "no autograd graph" in capsys.readouterr().out
    assert not ch07.check_student_adaptation(lambda s, a, sk, c, lr, n: adapt_abilities(s, a, sk, c, lr, n + 1))
    assert "values differ" in capsys.readouterr().out
    assert not ch07.check_student_adaptation(lambda *args: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out


def test_student_meta_loss_accepts_the_solution(capsys):
    assert ch07.check_student_meta_loss(meta_loss)
    assert "Correct!" in capsys.readouterr().out
    assert ch07.check_student_meta_loss(None) is False
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("mistake, message", [
    ({"on": "support"}, "you scored the SUPPORT answers"),
    ({"reduce": "sum"}, "you summed over students"),
    ({"on": "start"}, "starting ability"),
    ({"on": "padding"}, "scored the padding too"),
    ({"adapt": lambda *a: adapt_abilities(*a, create_graph=False)}, "first-order MAML"),
])
def test_student_meta_loss_names_the_mistake(capsys, mistake, message):
    assert not ch07.check_student_meta_loss(lambda *args: meta_loss(*args, **mistake))
    out = capsys.readouterr().out
    assert message in out and "Hint:" in out


def test_earlier_checks(capsys):
    assert ch07.check_bkt_update(bkt_update)
    assert not ch07.check_bkt_update(lambda p, c, g, s, learn: bkt_update(p, c, g, s, 0.0))
    assert "learning transition" in capsys.readouterr().out
    assert ch07.check_dkvmn_write(write_memory)
    assert ch07.check_information(lambda theta, d: torch.sigmoid(torch.as_tensor(theta) - d) * (1 - torch.sigmoid(
        torch.as_tensor(theta) - d)))
    assert ch07.check_leak_free_split(None) is False
