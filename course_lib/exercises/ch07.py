"""Checks for chapter 07 (case study: personalised learning)."""

from __future__ import annotations

import torch

from course_lib.edu.dkvmn import write_memory
from course_lib.edu.personalized import PersonalizedStudentModel
from course_lib.edu.simulated import bkt_update
from course_lib.edu.splits import ColdStartTasks
from course_lib.edu.student_model import masked_bce, student_logits
from course_lib.exercises._core import _compare, _correct, _wrong, check_function, check_true, not_attempted

__all__ = ["check_bkt_update", "check_dkvmn_write", "check_information", "check_leak_free_split",
           "check_student_adaptation", "check_student_meta_loss"]


def _bkt_reference(p_known, correct, guess, slip, learn):
    return bkt_update(p_known, correct, guess, slip, learn)


def check_bkt_update(fn) -> bool:
    """Exercise 7.1: the BKT posterior after one answer, then the learning transition."""
    g = torch.Generator().manual_seed(7)
    cases = []
    for correct in (1, 0):
        p = torch.rand(6, generator=g) * 0.9 + 0.05
        cases.append((p, torch.full((6,), correct), 0.2, 0.1, 0.15))
    cases.append((torch.tensor([0.5, 0.9]), torch.tensor([1, 0]), 0.25, 0.05, 0.3))
    hint = ("Bayes' rule first: P(L | correct) = P(L)(1-s) / [P(L)(1-s) + (1-P(L)) g], and with s, 1-g for a "
            "wrong answer; then learning: P(L') = post + (1 - post) * learn")
    if fn is not None:
        try:
            got = fn(*cases[2])
        except Exception:  # noqa: BLE001 - reported by check_function below
            got = None
        if got is not None:
            p, c, guess, slip, _ = cases[2]
            no_transition = bkt_update(p, c, guess, slip, 0.0)
            if torch.allclose(torch.as_tensor(got, dtype=torch.float32), no_transition.float(), atol=1e-5):
                return check_true("Exercise 7.1", False, hint,
                                  failure="you return the posterior but forgot the learning transition")
    return check_function("Exercise 7.1", fn, _bkt_reference, cases, hint=hint, rtol=1e-4, atol=1e-6)


def check_dkvmn_write(fn) -> bool:
    """Exercise 7.2: DKVMN's erase-then-add write of the value memory."""
    g = torch.Generator().manual_seed(3)
    cases = []
    for b, n, d in ((1, 2, 2), (3, 4, 5)):
        memory = torch.randn(b, n, d, generator=g)
        w = torch.softmax(torch.randn(b, n, generator=g), dim=1)
        cases.append((memory, w, torch.rand(b, d, generator=g), torch.randn(b, d, generator=g)))
    hint = ("M~(i) = M(i) * (1 - w(i) e), then M'(i) = M~(i) + w(i) a; w is [B, N], e and a are [B, d_v]: "
            "use w.unsqueeze(-1) and e.unsqueeze(1) to broadcast to [B, N, d_v]")
    if fn is not None:
        try:
            got = fn(*cases[1])
        except Exception:  # noqa: BLE001 - reported by check_function below
            got = None
        if got is not None:
            memory, w, e, a = cases[1]
            add_first = (memory + w.unsqueeze(-1) * a.unsqueeze(1)) * (1 - w.unsqueeze(-1) * e.unsqueeze(1))
            if torch.allclose(torch.as_tensor(got), add_first, atol=1e-5):
                return check_true("Exercise 7.2", False, hint,
                                  failure="you add before erasing: DKVMN erases first, so the new content survives")
    return check_function("Exercise 7.2", fn, write_memory, cases, hint=hint)


def check_leak_free_split(split_fn, dataset=None) -> bool:
    """Exercise 7.3: ``split_fn(dataset, test_fraction, seed) -> (train, test)`` must split whole students."""
    if split_fn is None:
        return not_attempted("Exercise 7.3", "assign each *student* (not each response) to train or test")
    from course_lib.data.assistments import KTDataset, StudentSequence

    if dataset is None:
        g = torch.Generator().manual_seed(0)
        seqs = [StudentSequence(i, torch.randint(1, 6, (int(torch.randint(2, 30, (1,), generator=g)),), generator=g),
                                torch.randint(0, 2, (30,), generator=g)[:0]) for i in range(40)]
        seqs = [StudentSequence(s.student_id, s.skills, torch.randint(0, 2, s.skills.shape, generator=g)) for s in seqs]
        dataset = KTDataset(seqs, 5, {}, "toy")
    hint = "shuffle the list of students, cut it at round(test_fraction * n), and keep every sequence whole"
    try:
        result = split_fn(dataset, 0.25, 0)
    except NotImplementedError:
        return not_attempted("Exercise 7.3", hint)
    if result is None:
        return not_attempted("Exercise 7.3", hint)
    try:
        train, test = result
        train_seqs = list(getattr(train, "sequences", train))
        test_seqs = list(getattr(test, "sequences", test))
    except (TypeError, ValueError):
        return check_true("Exercise 7.3", False, hint, failure="return a pair (train, test) of datasets or lists")
    train_ids = {int(s.student_id) for s in train_seqs}
    test_ids = {int(s.student_id) for s in test_seqs}
    if train_ids & test_ids:
        return check_true("Exercise 7.3", False, hint,
                          failure=f"{len(train_ids & test_ids)} students appear in both sets: their answers were split")
    original = {int(s.student_id): len(s.skills) for s in dataset.sequences}
    if train_ids | test_ids != set(original):
        return check_true("Exercise 7.3", False, hint, failure="some students were lost or invented")
    if any(len(s.skills) != original[int(s.student_id)] for s in train_seqs + test_seqs):
        return check_true("Exercise 7.3", False, hint, failure="some students lost part of their answers")
    n_test = len(test_ids)
    if abs(n_test - 0.25 * len(original)) > 1:
        return check_true("Exercise 7.3", False, hint,
                          failure=f"the test set has {n_test} of {len(original)} students, expected about 25 %")
    return check_true("Exercise 7.3", True, hint, success="whole students, disjoint sets, right size")


def _information(theta, difficulty):
    p = torch.sigmoid(torch.as_tensor(theta, dtype=torch.float64) - torch.as_tensor(difficulty, dtype=torch.float64))
    return p * (1 - p)


def check_information(fn) -> bool:
    """Exercise 7.4: Fisher information of a Rasch item, I(theta) = p (1 - p) with p = sigmoid(theta - d)."""
    cases = [(torch.tensor(0.0), torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])),
             (torch.tensor([1.5, -0.5]), torch.tensor([1.0, 0.0]))]
    hint = ("the log-likelihood of one answer is y log p + (1-y) log(1-p); its second derivative in theta is "
            "-p(1-p), so I(theta) = p(1-p) with p = sigmoid(theta - d)")
    return check_function("Exercise 7.4", fn, _information, cases, hint=hint)


# ---------------------------------------------------------------- Exercises 7.5 and 7.6 (build it yourself)
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
        return None, _wrong(name, f"calling it on test case {i} raised {type(err).__name__}: {err}", hint)
    if value is None:
        return None, not_attempted(name, hint) if i == 0 else _wrong(name, f"it returned None on test case {i}", hint)
    return value, None


def _gradient_verdict(name, hint, got, model, tasks, i) -> bool | None:
    """A verdict when the learner's meta-gradient ``got`` is wrong; None when it matches the library's MAML."""
    def library(create_graph):
        loss = masked_bce(model.query_logits(tasks, create_graph=create_graph), tasks.query_correct, tasks.query_mask)
        return _grads(loss / len(tasks), model.ability, model.shared())

    if got is None or got[0] is None:
        return _wrong(name, "the result has no autograd graph back to the starting ability: do not detach, call "
                      ".item() or wrap the loop in torch.no_grad(), or MAML cannot train where students start", hint)
    reference = library(True)
    if _same(got, reference):
        return None
    if _same(got, library(False)):
        return _wrong(name, "no gradient flows through the inner steps (first-order MAML): pass create_graph=True "
                      "to torch.autograd.grad so that the adapted abilities stay a differentiable function of "
                      "the starting ability and the skill parameters", hint)
    bad = [w for w, g, r in zip(("the starting ability", "skill_bias", "skill_embed"), got, reference)
           if not _same([g], [r])]
    return _wrong(name, f"on test case {i} the values are right but the gradient with respect to "
                  f"{', '.join(bad)} differs from MAML's meta-gradient", hint)


def check_student_adaptation(fn) -> bool:
    """Exercise 7.5: ``fn(shared, start_ability [1+r], support_skills [B, k], support_correct, inner_lr, steps)``
    -> abilities [B, 1+r], compared with ``PersonalizedStudentModel.adapt(..., create_graph=True)``."""
    name = "Exercise 7.5"
    hint = ("start every student at start_ability.expand(B, -1); at each step take the support loss "
            "masked_bce(student_logits(shared, ability, support_skills), support_correct), its gradient "
            "torch.autograd.grad(loss, ability, create_graph=True), and step: ability - inner_lr * grad")
    mistakes = [({"sign": -1.0}, "the abilities climb the support loss (sign error): step ability - inner_lr * grad"),
                ({"per_student": False}, ("you took the mean over all answers of the batch instead of per student: "
                 "each student's gradient is divided by the number of students B, so the step size depends on the "
                 "batch size. Use the mean per student, summed over students (masked_bce's per_student=True)")),
                ({"sum_answers": True}, ("you summed each student's answers instead of averaging them: the step "
                 "then grows with the number of answers k")),
                ({"skills_too": True}, ("you adapted the skill parameters too: the inner loop moves only the "
                 "abilities; the skills are shared by every student and trained by the outer loop"))]
    for i, (model, tasks, lr, steps) in enumerate(_student_cases()):
        start, shared = _leaves(model)
        args = (shared, start, tasks.support_skills, tasks.support_correct, lr, steps)
        got, verdict = _call(name, hint, fn, args, i)
        if verdict is not None:
            return verdict
        problem = _compare(got, model.adapt(tasks.support_skills, tasks.support_correct, create_graph=True),
                           1e-4, 1e-6, "the result")
        if problem is not None:
            for wrong, why in mistakes if isinstance(got, torch.Tensor) else []:
                if _same([got], [_variant(start, shared, tasks, lr, steps, **wrong)]):
                    return _wrong(name, why, hint)
            return _wrong(name, f"on test case {i}: {problem}", hint)
        verdict = _gradient_verdict(name, hint, _grads(_query_loss(got, shared, tasks), start, shared),
                                    model, tasks, i)
        if verdict is not None:
            return verdict
    return _correct(name, "the same abilities and the same second-order meta-gradient as the library")


def check_student_meta_loss(fn) -> bool:
    """Exercise 7.6: ``fn(shared, start_ability, tasks, inner_lr, steps) -> scalar``, MAML's loss on a batch
    of students, compared (value and meta-gradient) with ``PersonalizedStudentModel.query_logits``."""
    name = "Exercise 7.6"
    hint = ("adapt with my_adapt_abilities(shared, start_ability, tasks.support_skills, tasks.support_correct, "
            "inner_lr, steps), then masked_bce(student_logits(shared, ability, tasks.query_skills), "
            "tasks.query_correct, tasks.query_mask) / len(tasks) (pass Exercise 7.5 first)")
    for i, (model, tasks, lr, steps) in enumerate(_student_cases()):
        start, shared = _leaves(model)
        got, verdict = _call(name, hint, fn, (shared, start, tasks, lr, steps), i)
        if verdict is not None:
            return verdict
        logits = model.query_logits(tasks, create_graph=True)
        problem = _compare(got, masked_bce(logits, tasks.query_correct, tasks.query_mask) / len(tasks),
                           1e-4, 1e-6, "the meta-loss")
        if problem is not None:
            right = _variant(start, shared, tasks, lr, steps)
            mistakes = [(_query_loss(right, shared, tasks, support=True), ("you scored the SUPPORT answers: they "
                         "were used to adapt, so their loss measures memorising, not predicting; use the query")),
                        (_query_loss(right, shared, tasks) * len(tasks), ("you summed over students: divide by "
                         "len(tasks), or the meta-gradient grows with the number of students in the batch")),
                        (_query_loss(right, shared, tasks, per_student=False), ("you averaged over all query "
                         "answers: students with more query answers then weigh more; average per student first")),
                        (_query_loss(start.expand(len(tasks), -1), shared, tasks), ("you scored the query with "
                         "the starting ability: adapt first, then score the query with the adapted abilities")),
                        (masked_bce(student_logits(shared, right, tasks.query_skills), tasks.query_correct)
                         / len(tasks), "you scored the padding too: pass tasks.query_mask to masked_bce")]
            for value, why in mistakes if isinstance(got, torch.Tensor) and got.numel() == 1 else []:
                if _same([got.reshape(())], [value]):
                    return _wrong(name, why, hint)
            return _wrong(name, f"on test case {i}: {problem}", hint)
        verdict = _gradient_verdict(name, hint, _grads(got, start, shared), model, tasks, i)
        if verdict is not None:
            return verdict
    return _correct(name, "the query loss after adaptation, with MAML's second-order meta-gradient")
