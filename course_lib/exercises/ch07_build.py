"""Checks for chapter 07, "Build it yourself: adapting to one new student".

Exercise 7.2, the inner loop that moves each student's ability [1+r] on their support answers,
and 7.3, MAML's meta-loss on a batch of students (the query loss after adaptation). Both are
compared with :class:`course_lib.edu.personalized.PersonalizedStudentModel` on seeded random
students, on values and on the second-order meta-gradient; typical wrong answers are named.
"""

from __future__ import annotations

import torch

from course_lib.edu.personalized import PersonalizedStudentModel
from course_lib.edu.splits import ColdStartTasks
from course_lib.edu.student_model import masked_bce, student_logits
from course_lib.exercises._core import _compare, _correct, _wrong, not_attempted
from course_lib.i18n import tr

__all__ = ["check_student_adaptation", "check_student_meta_loss"]


def _student_cases():
    """Seeded models and students: ``(model, tasks, inner_lr, steps)``; support [B, k], query [B, Q] padded."""
    cases = []
    for seed, (skills, rank, b, k, q, lr, steps) in enumerate([(7, 2, 5, 4, 6, 0.8, 3), (5, 1, 3, 6, 4, 0.5, 2),
                                                                (9, 3, 6, 2, 5, 1.5, 1)]):
        g = torch.Generator().manual_seed(70 + seed)
        model = PersonalizedStudentModel(skills, rank, inner_lr=lr, inner_steps=steps)
        with torch.no_grad():
            for p in (model.skill_bias, model.skill_embed, model.ability):
                p.copy_(torch.randn(p.shape, generator=g))
        mask = torch.rand(b, q, generator=g) < 0.7
        mask[:, 0] = True
        support = torch.randint(1, skills + 1, (b, k), generator=g), torch.randint(0, 2, (b, k), generator=g)
        query = torch.randint(1, skills + 1, (b, q), generator=g) * mask, torch.randint(0, 2, (b, q), generator=g)
        cases.append((model, ColdStartTasks(*support, query[0], query[1] * mask, mask, torch.arange(b), k, k),
                      lr, steps))
    return cases


def _leaves(model):
    """Fresh copies of the starting ability [1+r] and the skill parameters, as leaves that require grad."""
    start = model.ability.detach().clone().requires_grad_(True)
    return start, {n: getattr(model, n).detach().clone().requires_grad_(True) for n in ("skill_bias", "skill_embed")}


def _variant(start, shared, tasks, lr, steps, *, per_student=True, sign=1.0, skills_too=False, sum_answers=False):
    """Abilities [B, 1+r] after the inner loop, written right or with one typical mistake."""
    ability, shared = start.expand(len(tasks), -1), dict(shared)
    names = ["skill_bias", "skill_embed"] if skills_too else []
    for _ in range(steps):
        logits = student_logits(shared, ability, tasks.support_skills)
        loss = masked_bce(logits, tasks.support_correct, per_student=per_student) * (tasks.k if sum_answers else 1)
        grads = torch.autograd.grad(loss, [ability] + [shared[n] for n in names], create_graph=True)
        ability = ability - sign * lr * grads[0]
        shared.update({n: shared[n] - lr * gr for n, gr in zip(names, grads[1:])})
    return ability


def _query_loss(ability, shared, tasks, support=False, per_student=True):
    """Mean over students of each student's BCE on the query (or, wrongly, on the support) answers."""
    if support:
        return masked_bce(student_logits(shared, ability, tasks.support_skills), tasks.support_correct) / len(tasks)
    loss = masked_bce(student_logits(shared, ability, tasks.query_skills), tasks.query_correct, tasks.query_mask,
                      per_student=per_student)
    return loss / len(tasks) if per_student else loss


def _grads(loss, start, shared):
    """d loss / d (start ability, skill_bias, skill_embed); None where no gradient path exists."""
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        return None
    wrt = [start, shared["skill_bias"], shared["skill_embed"]]
    return list(torch.autograd.grad(loss, wrt, allow_unused=True))


def _same(a, b, rtol=1e-4, atol=1e-6) -> bool:
    return a is not None and b is not None and all(
        x is not None and y is not None and x.shape == y.shape
        and torch.allclose(x.detach(), y.detach(), rtol=rtol, atol=atol) for x, y in zip(a, b))


def _call(name, hint, fn, args, i):
    """``(value, None)``, or ``(None, verdict)`` when the learner's function is a stub, raised or returned None."""
    if fn is None:
        return None, not_attempted(name, hint)
    try:
        value = fn(*args)
    except NotImplementedError:
        return None, not_attempted(name, hint)
    except Exception as err:  # noqa: BLE001 - report the learner's error instead of raising it
        return None, _wrong(name, tr("calling it on test case {i} raised {error_type}: {error}", i=i,
                                     error_type=type(err).__name__, error=err), hint)
    if value is None:
        return None, not_attempted(name, hint) if i == 0 else _wrong(name, tr("it returned None on test case {i}", i=i),
                                                                     hint)
    return value, None


def _gradient_verdict(name, hint, got, model, tasks, i) -> bool | None:
    """A verdict when the learner's meta-gradient ``got`` is wrong; None when it matches the library's MAML."""
    def library(create_graph):
        loss = masked_bce(model.query_logits(tasks, create_graph=create_graph), tasks.query_correct, tasks.query_mask)
        return _grads(loss / len(tasks), model.ability, model.shared())

    if got is None or got[0] is None:
        return _wrong(name, tr("the result has no autograd graph back to the starting ability: do not detach, call "
                               ".item() or wrap the loop in torch.no_grad(), or MAML cannot train where students start"),
                      hint)
    reference = library(True)
    if _same(got, reference):
        return None
    if _same(got, library(False)):
        return _wrong(name, tr("no gradient flows through the inner steps (first-order MAML): pass create_graph=True "
                               "to torch.autograd.grad so that the adapted abilities stay a differentiable function of "
                               "the starting ability and the skill parameters"), hint)
    bad = [w for w, g, r in zip((tr("the starting ability"), "skill_bias", "skill_embed"), got, reference)
           if not _same([g], [r])]
    return _wrong(name, tr("on test case {i} the values are right but the gradient with respect to "
                           "{names} differs from MAML's meta-gradient", i=i, names=tr(", ").join(bad)), hint)


def check_student_adaptation(fn) -> bool:
    """Exercise 7.2: ``fn(shared, start_ability [1+r], support_skills [B, k], support_correct, inner_lr, steps)``
    -> abilities [B, 1+r], compared with ``PersonalizedStudentModel.adapt(..., create_graph=True)``."""
    name = tr("Exercise 7.2")
    hint = tr("one row of abilities per student, all starting at start_ability; at each step the support loss "
              "(each student's mean, summed over students), its gradient with respect to the abilities only, "
              "keeping the graph for the meta-gradient, and a step of size inner_lr downhill")
    mistakes = [({"sign": -1.0}, tr("the abilities climb the support loss (sign error): step ability - inner_lr * grad")),
                ({"per_student": False}, tr("you took the mean over all answers of the batch instead of per student: "
                 "each student's gradient is divided by the number of students B, so the step size depends on the "
                 "batch size. Use the mean per student, summed over students (masked_bce's per_student=True)")),
                ({"sum_answers": True}, tr("you summed each student's answers instead of averaging them: the step "
                 "then grows with the number of answers k")),
                ({"skills_too": True}, tr("you adapted the skill parameters too: the inner loop moves only the "
                 "abilities; the skills are shared by every student and trained by the outer loop"))]
    for i, (model, tasks, lr, steps) in enumerate(_student_cases()):
        start, shared = _leaves(model)
        args = (shared, start, tasks.support_skills, tasks.support_correct, lr, steps)
        got, verdict = _call(name, hint, fn, args, i)
        if verdict is not None:
            return verdict
        problem = _compare(got, model.adapt(tasks.support_skills, tasks.support_correct, create_graph=True),
                           1e-4, 1e-6, tr("the result"))
        if problem is not None:
            for wrong, why in mistakes if isinstance(got, torch.Tensor) else []:
                if _same([got], [_variant(start, shared, tasks, lr, steps, **wrong)]):
                    return _wrong(name, why, hint)
            return _wrong(name, tr("on test case {i}: {problem}", i=i, problem=problem), hint)
        verdict = _gradient_verdict(name, hint, _grads(_query_loss(got, shared, tasks), start, shared),
                                    model, tasks, i)
        if verdict is not None:
            return verdict
    return _correct(name, tr("the same abilities and the same second-order meta-gradient as the library"))


def check_student_meta_loss(fn) -> bool:
    """Exercise 7.3: ``fn(shared, start_ability, tasks, inner_lr, steps) -> scalar``, MAML's loss on a batch
    of students, compared (value and meta-gradient) with ``PersonalizedStudentModel.query_logits``."""
    name = tr("Exercise 7.3")
    hint = tr("adapt on each student's support answers with your Exercise 7.2 function (pass it first), then "
              "score the other answers with the adapted abilities, leaving out the padding, and average over "
              "the students of the batch")
    for i, (model, tasks, lr, steps) in enumerate(_student_cases()):
        start, shared = _leaves(model)
        got, verdict = _call(name, hint, fn, (shared, start, tasks, lr, steps), i)
        if verdict is not None:
            return verdict
        logits = model.query_logits(tasks, create_graph=True)
        problem = _compare(got, masked_bce(logits, tasks.query_correct, tasks.query_mask) / len(tasks),
                           1e-4, 1e-6, tr("the meta-loss"))
        if problem is not None:
            right = _variant(start, shared, tasks, lr, steps)
            mistakes = [(_query_loss(right, shared, tasks, support=True), tr("you scored the SUPPORT answers: they "
                         "were used to adapt, so their loss measures memorising, not predicting; use the query")),
                        (_query_loss(right, shared, tasks) * len(tasks), tr("you summed over students: divide by "
                         "len(tasks), or the meta-gradient grows with the number of students in the batch")),
                        (_query_loss(right, shared, tasks, per_student=False), tr("you averaged over all query "
                         "answers: students with more query answers then weigh more; average per student first")),
                        (_query_loss(start.expand(len(tasks), -1), shared, tasks), tr("you scored the query with "
                         "the starting ability: adapt first, then score the query with the adapted abilities")),
                        (masked_bce(student_logits(shared, right, tasks.query_skills), tasks.query_correct)
                         / len(tasks), tr("you scored the padding too: pass tasks.query_mask to masked_bce"))]
            for value, why in mistakes if isinstance(got, torch.Tensor) and got.numel() == 1 else []:
                if _same([got.reshape(())], [value]):
                    return _wrong(name, why, hint)
            return _wrong(name, tr("on test case {i}: {problem}", i=i, problem=problem), hint)
        verdict = _gradient_verdict(name, hint, _grads(got, start, shared), model, tasks, i)
        if verdict is not None:
            return verdict
    return _correct(name, tr("the query loss after adaptation, with MAML's second-order meta-gradient"))
