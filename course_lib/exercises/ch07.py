"""Checks for chapter 07 (case study: personalised learning)."""

from __future__ import annotations

import torch

from course_lib.edu.dkvmn import write_memory
from course_lib.edu.simulated import bkt_update
from course_lib.exercises._core import check_function, check_true, not_attempted

__all__ = ["check_bkt_update", "check_dkvmn_write", "check_leak_free_split", "check_information"]


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
        except Exception:  # reported by check_function below
            got = None
        if got is not None:
            p, c, guess, slip, learn = cases[2]
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
        except Exception:
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
