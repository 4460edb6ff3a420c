"""Checks for chapter 08 (case study: cold-start recommendation), in reading order.

Exercise 8.1 a leak-free split by user; 8.2 nDCG@10 by hand; 8.3 the fold-in of a new user in
closed form; 8.4 "Build it yourself", MeLU's meta-loss (in :mod:`course_lib.exercises.ch08_build`,
re-exported here). Each check recognises the typical wrong answers and names them.
"""

from __future__ import annotations

import numpy as np
import torch

from course_lib.exercises._core import _as_tensor, _wrong, check_function, check_true, not_attempted
from course_lib.exercises.ch08_build import check_melu_meta_loss
from course_lib.i18n import tr
from course_lib.recsys.evaluation import ndcg_at
from course_lib.recsys.mf import fold_in

__all__ = ["check_fold_in", "check_melu_meta_loss", "check_ndcg", "check_user_split"]


def _named_mistake(fn, args, mistakes) -> str | None:
    """The explanation of the first ``(value, why)`` that ``fn(*args)`` reproduces, else None."""
    try:
        got = _as_tensor(fn(*args))
    except Exception:  # noqa: BLE001 - a raising or stub function is reported by check_function
        return None
    for value, why in mistakes:
        value = _as_tensor(value)
        if got.shape == value.shape and bool(torch.allclose(got, value, rtol=1e-4, atol=1e-6, equal_nan=True)):
            return why
    return None


def check_user_split(split_fn) -> bool:
    """Exercise 8.1: ``split_fn(user [R], test_fraction, seed) -> is_test [R]`` (bool) must split whole users."""
    name = tr("Exercise 8.1")
    hint = tr("draw the TEST USERS (np.unique of user, a seeded permutation, the first round(test_fraction * n)), "
              "then mark every rating of those users: np.isin(user, test_users)")
    if split_fn is None:
        return not_attempted(name, hint)
    rng = np.random.default_rng(1)
    user = rng.choice(np.arange(100, 140), size=600)          # 40 users with ids 100..139, ratings shuffled
    try:
        is_test = split_fn(user, 0.25, 0)
    except NotImplementedError:
        return not_attempted(name, hint)
    if is_test is None:
        return not_attempted(name, hint)
    is_test = np.asarray(is_test)
    if is_test.shape != user.shape or is_test.dtype != bool:
        return check_true(name, False, hint, failure=tr("return one bool per rating, shape {want}; got "
                                                        "{dtype} of shape {got}", want=list(user.shape),
                                                        dtype=is_test.dtype, got=list(is_test.shape)))
    both = {u for u in np.unique(user) if 0 < is_test[user == u].mean() < 1}
    if both:
        return check_true(name, False, hint, failure=tr("{count} users have ratings on both sides: you split "
                          "ratings, not users, so the test users are not new (their other ratings trained the model)",
                          count=len(both)))
    n_test = len(np.unique(user[is_test]))
    if n_test != 10:
        return check_true(name, False, hint, failure=tr("{n_test} of the 40 users are test users; expected 10 (25 %)",
                                                        n_test=n_test))
    again, other = np.asarray(split_fn(user, 0.25, 0)), np.asarray(split_fn(user, 0.25, 1))
    if not np.array_equal(again, is_test):
        return check_true(name, False, hint, failure=tr("two calls with the same seed gave different splits: use a "
                          "seeded generator, e.g. np.random.default_rng(seed)"))
    if np.array_equal(other, is_test):
        return check_true(name, False, hint, failure=tr("seeds 0 and 1 give the same split: the seed is not used"))
    return check_true(name, True, hint, success=tr("whole users, the right number, reproducible from the seed"))


def _dcg_variants(scores, ratings, k):
    s, r = np.asarray(scores, float), np.asarray(ratings, float)
    order, ideal_order = np.argsort(-s), np.argsort(-r)
    disc = 1 / np.log2(np.arange(2, len(s) + 2))
    top = slice(0, k)
    dcg = (r[order] * disc)[top].sum()
    return {
        "no_norm": dcg,
        "ascending": (r[np.argsort(s)] * disc)[top].sum() / (r[ideal_order] * disc)[top].sum(),
        "exp_gain": ((2 ** r[order] - 1) * disc)[top].sum() / ((2 ** r[ideal_order] - 1) * disc)[top].sum(),
        "no_cut": (r[order] * disc).sum() / (r[ideal_order] * disc).sum(),
    }


def check_ndcg(fn) -> bool:
    """Exercise 8.2: ``fn(scores [Q], ratings [Q], k) -> float``, nDCG@k with linear gains and log2(rank + 1)."""
    name = tr("Exercise 8.2")
    hint = tr("sort the movies by score (highest first); DCG@k = sum over the first k ranks r = 1, 2, ... of "
              "rating / log2(r + 1); divide by the DCG@k of the movies sorted by their true rating")
    rng = np.random.default_rng(8)
    cases = [(rng.permutation(15).astype(float), rng.integers(1, 11, 15) / 2, 10),
             (np.array([0.3, 2.0, 1.1, -0.5]), np.array([4.0, 1.5, 5.0, 3.0]), 2),
             (rng.normal(size=30), rng.integers(1, 11, 30) / 2, 10)]
    if fn is not None:
        scores, ratings, k = cases[0]
        v = _dcg_variants(scores, ratings, k)
        why = _named_mistake(fn, cases[0], [
            (v["no_norm"], tr("this is DCG@k: divide by the DCG@k of the ideal order, so that a perfect ranking scores 1")),
            (v["ascending"], tr("you ranked the lowest scores first: recommend the highest scores first (sort by -score)")),
            (v["exp_gain"], tr("you used the gain 2^rating - 1; this chapter uses the rating itself as the gain")),
            (v["no_cut"], tr("you summed over every rank: nDCG@k counts only the first k ranks, in both DCGs")),
        ])
        if why is not None:
            return _wrong(name, why, hint)
    return check_function(name, fn, ndcg_at, cases, hint=hint, rtol=1e-6, atol=1e-9)


def _fold_in_one(item_vectors, residuals, reg):
    return fold_in(torch.as_tensor(item_vectors, dtype=torch.float64)[None],
                   torch.as_tensor(residuals, dtype=torch.float64)[None], reg)[0]


def check_fold_in(fn) -> bool:
    """Exercise 8.3: ``fn(item_vectors [k, d], residuals [k], reg) -> [1 + d]``, the ridge solution (b_u, p_u)."""
    name = tr("Exercise 8.3")
    hint = tr("X = [1, q_i] row by row ([k, 1 + d], a column of ones first, for the bias); solve "
              "(X^T X + reg * I) theta = X^T y with torch.linalg.solve")
    g = torch.Generator().manual_seed(84)
    cases = [(torch.randn(5, 3, generator=g, dtype=torch.float64), torch.randn(5, generator=g, dtype=torch.float64), 2.0),
             (torch.randn(2, 4, generator=g, dtype=torch.float64), torch.randn(2, generator=g, dtype=torch.float64), 0.5),
             (torch.randn(20, 3, generator=g, dtype=torch.float64), torch.randn(20, generator=g, dtype=torch.float64), 10.0)]
    if fn is not None:
        q, y, reg = cases[0]
        x = torch.cat([torch.ones(len(q), 1, dtype=q.dtype), q], 1)
        why = _named_mistake(fn, cases[0], [
            (torch.linalg.lstsq(x, y[:, None]).solution[:, 0], tr("no regularisation: with k < 1 + d ratings X^T X is "
             "singular and the unregularised solution overfits one or two ratings; add reg * I")),
            (torch.linalg.solve(x.T @ x + reg, x.T @ y), tr("reg was added to EVERY entry of X^T X; add it to the "
             "diagonal only: reg * torch.eye(1 + d)")),
            (torch.linalg.solve(x.T @ x + reg * torch.eye(x.shape[1], dtype=x.dtype), x.T @ (y - y.mean())),
             tr("you centred the residuals: the bias b_u is what absorbs their mean, leave y as it is")),
        ])
        if why is not None:
            return _wrong(name, why, hint)
    return check_function(name, fn, _fold_in_one, cases, hint=hint, rtol=1e-6, atol=1e-8)
