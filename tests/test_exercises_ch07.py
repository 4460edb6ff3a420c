"""Chapter 07 exercise checks: None = not attempted, the reference passes, typical mistakes get specific hints."""

import pytest
import torch

from course_lib.edu.simulated import bkt_update
from course_lib.edu.student_model import masked_bce, student_logits
from course_lib.exercises import ch07


def adapt_abilities(shared, start_ability, support_skills, support_correct, inner_lr, steps, *, sign=1.0,
                    per_student=True, skills_too=False, create_graph=True, sum_answers=False):
    """The reference solution of Exercise 7.2, or one typical mistake."""
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
    """The reference solution of Exercise 7.3, or one typical mistake."""
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


def test_names_follow_the_reading_order(capsys):
    ch07.check_leak_free_split(None)
    ch07.check_student_adaptation(None)
    ch07.check_student_meta_loss(None)
    ch07.check_dkvmn_write(None)
    ch07.check_bkt_update(None)
    ch07.check_information(None)
    out = capsys.readouterr().out
    assert [line.split(":")[0][2:] for line in out.splitlines() if line.startswith("…")] == [
        f"Exercise 7.{i}" for i in range(1, 7)]


def split_by_student(dataset, test_fraction, seed):
    order = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed)).tolist()
    n_test = round(test_fraction * len(dataset))
    return dataset.subset(order[n_test:]), dataset.subset(order[:n_test])


def split_responses(dataset, test_fraction, seed):
    """The leaky split: the first answers of every student for training, the rest for testing."""
    from course_lib.data.assistments import StudentSequence

    train, test = [], []
    for s in dataset.sequences:
        cut = max(1, round((1 - test_fraction) * len(s.skills)))
        train.append(StudentSequence(s.student_id, s.skills[:cut], s.correct[:cut]))
        test.append(StudentSequence(s.student_id, s.skills[cut:], s.correct[cut:]))
    return train, test


def test_leak_free_split(capsys):
    assert ch07.check_leak_free_split(split_by_student)
    assert "Correct!" in capsys.readouterr().out
    assert not ch07.check_leak_free_split(split_responses)
    out = capsys.readouterr().out
    assert "appear in both sets" in out and "Hint:" in out
    assert not ch07.check_leak_free_split(lambda d, f, s: (d.subset(range(10, len(d))), d.subset(range(20))))
    assert "appear in both sets" in capsys.readouterr().out
    assert not ch07.check_leak_free_split(lambda d, f, s: (d.subset(range(20, len(d))), d.subset(range(20))))
    assert "expected about 25 %" in capsys.readouterr().out
    assert ch07.check_leak_free_split(None) is False
    assert "not attempted" in capsys.readouterr().out


def dkvmn_write(memory, w, erase, add, mistake=None):
    w, e, a = w.unsqueeze(-1), erase.unsqueeze(1), add.unsqueeze(1)
    return {None: memory * (1 - w * e) + w * a, "add first": (memory + w * a) * (1 - w * e),
            "unweighted add": memory * (1 - w * e) + a, "unweighted erase": memory * (1 - e) + w * a,
            "keep w e": memory * (w * e) + w * a, "no erase": memory + w * a}[mistake]


@pytest.mark.parametrize("mistake, message", [
    ("add first", "you add before erasing"),
    ("unweighted add", "the add is not weighted by w"),
    ("unweighted erase", "the erase is not weighted by w"),
    ("keep w e", "keep (1 - w(i) e)"),
    ("no erase", "nothing is erased"),
])
def test_dkvmn_write(capsys, mistake, message):
    assert ch07.check_dkvmn_write(dkvmn_write)
    assert "Correct!" in capsys.readouterr().out
    assert not ch07.check_dkvmn_write(lambda *args: dkvmn_write(*args, mistake=mistake))
    out = capsys.readouterr().out
    assert message in out and "Hint:" in out


@pytest.mark.parametrize("wrong, message", [
    (lambda p, c, g, s, learn: bkt_update(p, c, g, s, 0.0), "forgot the learning transition"),
    (lambda p, c, g, s, learn: bkt_update(p + (1 - p) * learn, c, g, s, 0.0), "transition before Bayes' rule"),
    (lambda p, c, g, s, learn: bkt_update(p, c, s, g, learn), "guess and slip are swapped"),
    (lambda p, c, g, s, learn: bkt_update(p, torch.ones_like(c), g, s, learn), "the answer is ignored"),
])
def test_bkt_update(capsys, wrong, message):
    assert ch07.check_bkt_update(bkt_update)
    assert "Correct!" in capsys.readouterr().out
    assert not ch07.check_bkt_update(wrong)
    out = capsys.readouterr().out
    assert message in out and "Hint:" in out


def information(theta, d, mistake=None):
    p = torch.sigmoid(torch.as_tensor(theta, dtype=torch.float64) + (1 if mistake == "d sign" else -1) * d)
    return {None: p * (1 - p), "p": p, "negative": -p * (1 - p), "d sign": p * (1 - p)}[mistake]


@pytest.mark.parametrize("mistake, message", [
    ("p", "you returned p"),
    ("negative", "the information is MINUS the second derivative"),
    ("d sign", "the sign of the difficulty"),
])
def test_information(capsys, mistake, message):
    assert ch07.check_information(information)
    assert "Correct!" in capsys.readouterr().out
    assert not ch07.check_information(lambda theta, d: information(theta, d, mistake))
    out = capsys.readouterr().out
    assert message in out and "Hint:" in out
