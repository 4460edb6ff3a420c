"""Checks for chapter 07 (case study: personalised learning), in reading order.

Exercise 7.1 a leak-free split by student; 7.2-7.3 "Build it yourself" (per-student adaptation
and MAML's meta-loss; checks in :mod:`course_lib.exercises.ch07_build`, re-exported here); 7.4
DKVMN's erase-then-add write; 7.5 the BKT update; 7.6 the Fisher information of a Rasch item.
Each check recognises the typical wrong answers and names them.
"""

from __future__ import annotations

import torch

from course_lib.edu.dkvmn import write_memory
from course_lib.edu.simulated import bkt_update
from course_lib.exercises._core import _as_tensor, _wrong, check_function, check_true, not_attempted
from course_lib.exercises.ch07_build import check_student_adaptation, check_student_meta_loss
from course_lib.i18n import tr

__all__ = ["check_bkt_update", "check_dkvmn_write", "check_information", "check_leak_free_split",
           "check_student_adaptation", "check_student_meta_loss"]


def _named_mistake(fn, args, mistakes) -> str | None:
    """The explanation of the first ``(value, why)`` in ``mistakes`` that ``fn(*args)`` reproduces, else None."""
    try:
        got = fn(*args)
    except Exception:  # noqa: BLE001 - a raising function is reported by check_function
        return None
    if got is None:
        return None
    try:
        got = _as_tensor(got)
    except (TypeError, ValueError):
        return None
    for value, why in mistakes:
        value = _as_tensor(value)
        if got.shape == value.shape and torch.allclose(got, value, rtol=1e-4, atol=1e-6):
            return why
    return None


def _toy_dataset():
    """40 students with 2-29 answers on 5 skills, as a ``KTDataset``."""
    from course_lib.data.assistments import KTDataset, StudentSequence

    g = torch.Generator().manual_seed(0)
    seqs = []
    for i in range(40):
        length = int(torch.randint(2, 30, (1,), generator=g))
        seqs.append(StudentSequence(i, torch.randint(1, 6, (length,), generator=g),
                                    torch.randint(0, 2, (length,), generator=g)))
    return KTDataset(seqs, 5, {}, "toy")


def check_leak_free_split(split_fn, dataset=None) -> bool:
    """Exercise 7.1: ``split_fn(dataset, test_fraction, seed) -> (train, test)`` must split whole students."""
    name = tr("Exercise 7.1")
    hint = tr("shuffle the list of students, cut it at round(test_fraction * n), and keep every sequence whole")
    if split_fn is None:
        return not_attempted(name, hint)
    dataset = _toy_dataset() if dataset is None else dataset
    try:
        result = split_fn(dataset, 0.25, 0)
    except NotImplementedError:
        return not_attempted(name, hint)
    if result is None:
        return not_attempted(name, hint)
    try:
        train, test = result
        train_seqs = list(getattr(train, "sequences", train))
        test_seqs = list(getattr(test, "sequences", test))
    except (TypeError, ValueError):
        return check_true(name, False, hint, failure=tr("return a pair (train, test) of datasets or lists"))
    train_ids = {int(s.student_id) for s in train_seqs}
    test_ids = {int(s.student_id) for s in test_seqs}
    if train_ids & test_ids:
        return check_true(name, False, hint, failure=tr("{count} students appear in both sets: "
                          "their answers were split, so the test set no longer contains new students",
                          count=len(train_ids & test_ids)))
    original = {int(s.student_id): len(s.skills) for s in dataset.sequences}
    if train_ids | test_ids != set(original):
        return check_true(name, False, hint, failure=tr("some students were lost or invented"))
    if any(len(s.skills) != original[int(s.student_id)] for s in train_seqs + test_seqs):
        return check_true(name, False, hint, failure=tr("some students lost part of their answers"))
    n_test = len(test_ids)
    if abs(n_test - 0.25 * len(original)) > 1:
        return check_true(name, False, hint,
                          failure=tr("the test set has {n_test} of {n} students, expected about 25 %",
                                     n_test=n_test, n=len(original)))
    return check_true(name, True, hint, success=tr("whole students, disjoint sets, right size"))


def check_dkvmn_write(fn) -> bool:
    """Exercise 7.4: DKVMN's erase-then-add write of the value memory."""
    g = torch.Generator().manual_seed(3)
    cases = []
    for b, n, d in ((1, 2, 2), (3, 4, 5)):
        memory = torch.randn(b, n, d, generator=g)
        w = torch.softmax(torch.randn(b, n, generator=g), dim=1)
        cases.append((memory, w, torch.rand(b, d, generator=g), torch.randn(b, d, generator=g)))
    hint = tr("M~(i) = M(i) * (1 - w(i) e), then M'(i) = M~(i) + w(i) a; w is [B, N], e and a are [B, d_v]: "
              "use w.unsqueeze(-1) and e.unsqueeze(1) to broadcast to [B, N, d_v]")
    if fn is not None:
        memory, w, e, a = cases[1]
        w3, e3, a3 = w.unsqueeze(-1), e.unsqueeze(1), a.unsqueeze(1)
        why = _named_mistake(fn, cases[1], [
            ((memory + w3 * a3) * (1 - w3 * e3), tr("you add before erasing: DKVMN erases first, so the new content "
             "survives")),
            (memory * (1 - w3 * e3) + a3, tr("the add is not weighted by w: every slot receives the whole add vector, "
             "whatever the question; multiply it by w(i)")),
            (memory * (1 - e3) + w3 * a3, tr("the erase is not weighted by w: every slot is erased as much as the "
             "addressed one; erase w(i) e")),
            (memory * (w3 * e3) + w3 * a3, tr("you keep w(i) e of the old content: the erase vector says what to "
             "REMOVE, so keep (1 - w(i) e)")),
            (memory + w3 * a3, tr("nothing is erased: the old content is kept in full before adding")),
        ])
        if why is not None:
            return _wrong(tr("Exercise 7.4"), why, hint)
    return check_function(tr("Exercise 7.4"), fn, write_memory, cases, hint=hint)


def _bkt_transition_first(p, correct, guess, slip, learn):
    return bkt_update(p + (1 - p) * learn, correct, guess, slip, 0.0)


def check_bkt_update(fn) -> bool:
    """Exercise 7.5: the BKT posterior after one answer, then the learning transition."""
    g = torch.Generator().manual_seed(7)
    cases = []
    for correct in (1, 0):
        p = torch.rand(6, generator=g) * 0.9 + 0.05
        cases.append((p, torch.full((6,), correct), 0.2, 0.1, 0.15))
    cases.append((torch.tensor([0.5, 0.9, 0.2, 0.7]), torch.tensor([1, 0, 0, 1]), 0.25, 0.05, 0.3))
    hint = tr("Bayes' rule first: P(L | correct) = P(L)(1-s) / [P(L)(1-s) + (1-P(L)) g], and with s, 1-g for a "
              "wrong answer; then learning: P(L') = post + (1 - post) * learn")
    if fn is not None:
        p, c, guess, slip, learn = cases[2]
        why = _named_mistake(fn, cases[2], [
            (bkt_update(p, c, guess, slip, 0.0), tr("you return the posterior but forgot the learning transition")),
            (_bkt_transition_first(p, c, guess, slip, learn), tr("you applied the learning transition before Bayes' "
             "rule: the answer is evidence about the skill BEFORE this question's practice; update on it first")),
            (bkt_update(p, c, slip, guess, learn), tr("guess and slip are swapped: a student who knows the skill "
             "answers correctly with probability 1 - slip, one who does not with probability guess")),
            (bkt_update(p, torch.ones_like(c), guess, slip, learn), tr("the answer is ignored: a wrong answer needs "
             "its own likelihoods, slip if known and 1 - guess if not")),
        ])
        if why is not None:
            return _wrong(tr("Exercise 7.5"), why, hint)
    return check_function(tr("Exercise 7.5"), fn, bkt_update, cases, hint=hint, rtol=1e-4, atol=1e-6)


def _information(theta, difficulty):
    p = torch.sigmoid(torch.as_tensor(theta, dtype=torch.float64) - torch.as_tensor(difficulty, dtype=torch.float64))
    return p * (1 - p)


def check_information(fn) -> bool:
    """Exercise 7.6: Fisher information of a Rasch item, I(theta) = p (1 - p) with p = sigmoid(theta - d)."""
    cases = [(torch.tensor(0.0), torch.tensor([-2.0, -1.0, 0.0, 1.0, 2.0])),
             (torch.tensor([1.5, -0.5]), torch.tensor([1.0, 0.0])),
             (torch.tensor(0.8), torch.tensor([-1.0, 0.0, 0.5, 2.0]))]
    hint = tr("the information is minus the (expected) second derivative in theta of the log-likelihood of one "
              "answer, y log p + (1-y) log(1-p), with p = sigmoid(theta - d); use dp/dtheta = p(1 - p)")
    if fn is not None:
        theta, d = (x.double() for x in cases[2])
        p = torch.sigmoid(theta - d)
        why = _named_mistake(fn, cases[2], [
            (p, tr("you returned p, the probability of a correct answer; the information is its variance p(1 - p)")),
            (-p * (1 - p), tr("the sign: the information is MINUS the second derivative of the log-likelihood, "
             "so it is positive")),
            (torch.sigmoid(theta + d) * (1 - torch.sigmoid(theta + d)), tr("the sign of the difficulty: "
             "p = sigmoid(theta - d), a harder item (larger d) is answered correctly less often")),
        ])
        if why is not None:
            return _wrong(tr("Exercise 7.6"), why, hint)
    return check_function(tr("Exercise 7.6"), fn, _information, cases, hint=hint)
