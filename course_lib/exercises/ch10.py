"""Checks for the exercises of chapter 10 (beyond the classics): representation similarity, the in-context
prediction loss, least squares in context."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from course_lib.algorithms.in_context import InContextTransformer, prefix_loss
from course_lib.analysis.representation_change import mean_cca
from course_lib.exercises._core import _compare, _correct, _wrong, not_attempted
from course_lib.i18n import tr

__all__ = ["check_in_context_loss", "check_least_squares", "check_mean_cca"]


def _call(name: str, hint: str, fn, args: tuple, case: str):
    """``(value, None)`` or ``(None, result of the check)`` when the learner's function did not give a value."""
    try:
        value = fn(*args)
    except NotImplementedError:
        return None, not_attempted(name, hint)
    except Exception as err:  # noqa: BLE001 - the learner's error becomes feedback
        return None, _wrong(name, tr("calling it {case} raised {error_type}: {error}", case=case,
                                     error_type=type(err).__name__, error=err), hint)
    if value is None:
        return None, not_attempted(name, hint)
    return value, None


# -- Exercise 10.1: mean canonical correlation -------------------------------------------------------
def _cca_cases() -> list[tuple[Tensor, Tensor, str]]:
    g = torch.Generator().manual_seed(3)
    a = torch.randn(200, 6, generator=g) + 5.0  # far from zero mean: centring matters
    mixed = a @ torch.randn(6, 6, generator=g) + 2.0  # an invertible linear map of a: CCA = 1, cosine is not
    partial = torch.cat([a[:, :3], torch.randn(200, 3, generator=g)], dim=1)  # half shared, half noise
    return [(a, mixed, tr("b = a @ M + 2 for an invertible M")), (a, partial, tr("b = 3 columns of a and 3 noise columns")),
            (torch.randn(150, 4, generator=g), torch.randn(150, 5, generator=g), tr("independent a [150, 4], b [150, 5]"))]


def check_mean_cca(fn) -> bool:
    """Exercise 10.1: ``fn(a [n, p], b [n, q]) -> float``, the mean canonical correlation."""
    name = tr("Exercise 10.1 (mean CCA)")
    hint = tr("centre each matrix (subtract the column means), take an orthonormal basis of each one's columns "
              "(torch.linalg.qr(a)[0] or the U of an SVD), then the canonical correlations are the singular values "
              "of Qa.T @ Qb: return their mean")
    if fn is None:
        return not_attempted(name, hint)
    for i, (a, b, what) in enumerate(_cca_cases()):
        value, failed = _call(name, hint, fn, (a.clone(), b.clone()), tr("on test case {i} ({what})", i=i, what=what))
        if value is None:
            return failed
        value, expected = float(value), mean_cca(a, b)
        if abs(value - expected) <= 1e-4:
            continue
        a0, b0 = a.double() - a.double().mean(0), b.double() - b.double().mean(0)
        raw = float(torch.linalg.svdvals(torch.linalg.qr(a.double())[0].t() @ torch.linalg.qr(b.double())[0]).mean())
        sv = torch.linalg.svdvals(torch.linalg.qr(a0)[0].t() @ torch.linalg.qr(b0)[0])
        if abs(value - raw) <= 1e-4:
            problem = tr("the columns were not centred: CCA compares variations around the mean, so subtract a.mean(0)")
        elif abs(value - float(sv.max())) <= 1e-4:
            problem = tr("that is the LARGEST canonical correlation; the measure is their MEAN")
        elif abs(value - float(sv.sum())) <= 1e-4:
            problem = tr("that is the SUM of the canonical correlations; divide by their number (the mean)")
        else:
            problem = f"{_compare(value, expected, 1e-4, 1e-4)}"
        return _wrong(name, tr("on test case {i} ({what}): {problem}", i=i, what=what, problem=problem), hint)
    return _correct(name, tr("invariant to invertible linear maps, 1 for shared directions, small for independent noise"))


# -- Exercise 10.2: the masked in-context prediction loss ---------------------------------------------
def _loss_cases() -> list[tuple]:
    cases = []
    for seed, (n, d) in enumerate([(6, 2), (9, 3)]):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            model = InContextTransformer(d, 1, width=16, depth=2, heads=2)
            x, w = torch.randn(4, n, d), torch.randn(4, d, 1)
        cases.append((model, x, x @ w))
    return cases


def _wrong_visibility(n: int) -> list[tuple[Tensor, str]]:
    ones = torch.ones(n, n, dtype=torch.bool)
    return [
        (ones.tril(), tr("query i may see pair i itself, i.e. its own answer y_i: the loss can go to zero by copying "
                         "it. Use visible[i, j] = j < i (torch.ones(n, n).tril(diagonal=-1))")),
        (ones, tr("every query sees every pair, its own answer included: nothing is predicted, only copied")),
        (ones.triu(diagonal=1), tr("query i sees the pairs AFTER it instead of before it: the lower triangle is the past")),
        (~ones.tril(diagonal=-1), tr("the mask is inverted: in F.scaled_dot_product_attention (and here) True means "
                                     "'may attend', not 'blocked'")),
    ]


def check_in_context_loss(fn) -> bool:
    """Exercise 10.2: ``fn(model, x [T, n, d], y [T, n, 1]) -> scalar``, Garg et al.'s prefix loss."""
    name = tr("Exercise 10.2 (build the in-context loss)")
    hint = tr("visible = torch.ones(n, n, dtype=torch.bool).tril(diagonal=-1) (query i sees the pairs j < i); "
              "predictions = model(x, y, x, visible=visible), shape [T, n, 1]; the loss is the mean squared error "
              "over every task and every position i = 0 .. n-1")
    if fn is None:
        return not_attempted(name, hint)
    for i, (model, x, y) in enumerate(_loss_cases()):
        case = tr("on test case {i} ({tasks} tasks of {pairs} pairs in {dims} dimensions)", i=i, tasks=x.shape[0],
                  pairs=x.shape[1], dims=x.shape[2])
        loss, failed = _call(name, hint, fn, (model, x, y), case)
        if loss is None:
            return failed
        if not isinstance(loss, Tensor) or loss.numel() != 1:
            got = (tr("shape {shape}", shape=list(loss.shape)) if isinstance(loss, Tensor) else type(loss).__name__)
            return _wrong(name, tr("{case}: return the loss as a one-element tensor (no .item(): training needs its "
                                   "graph), got {got}", case=case, got=got), hint)
        expected = prefix_loss(model, x, y)
        value = float(loss.detach())
        if abs(value - float(expected.detach())) > 1e-5 * max(1.0, float(expected.detach())):
            n = x.shape[1]
            with torch.no_grad():
                for visible, problem in _wrong_visibility(n):
                    if abs(value - float(F.mse_loss(model(x, y, x, visible=visible), y))) <= 1e-5:
                        return _wrong(name, tr("{case}: {problem}", case=case, problem=problem), hint)
                per_size = prefix_loss(model, x, y, reduce=False)
                if abs(value - float(per_size.sum())) <= 1e-4:
                    return _wrong(name, tr("{case}: the loss is the SUM over the {n} positions; take the mean",
                                           case=case, n=n), hint)
                if abs(value - float(per_size[1:].mean())) <= 1e-5:
                    return _wrong(name, tr("{case}: position 0 (a prediction from no example at all) was left out; "
                                           "Garg et al. average over every prefix, the empty one included", case=case),
                                  hint)
                if abs(value - float(per_size[-1])) <= 1e-5:
                    return _wrong(name, tr("{case}: only the last position is scored; every position i is a training "
                                           "example (a prediction from i pairs)", case=case), hint)
            return _wrong(name, tr("{case}: {problem}", case=case,
                                   problem=_compare(loss, expected, 1e-5, 1e-5, tr("the loss"))), hint)
        if not loss.requires_grad:
            return _wrong(name, tr("{case}: the loss has no gradient (computed under torch.no_grad() or detached?)",
                                   case=case), hint)
    return _correct(name, tr("the same loss as course_lib's prefix_loss on two random transformers"))


# -- Exercise 10.3: least squares from the pairs in context -------------------------------------------
def _lstsq_reference(context_x: Tensor, context_y: Tensor, query_x: Tensor) -> Tensor:
    return query_x @ (torch.linalg.pinv(context_x) @ context_y)


def check_least_squares(fn) -> bool:
    """Exercise 10.3: ``fn(context_x [T, i, d], context_y [T, i, 1], query_x [T, m, d]) -> [T, m, 1]``, minimum norm."""
    name = tr("Exercise 10.3 (least squares in context)")
    hint = tr("w = torch.linalg.pinv(context_x) @ context_y gives the least-squares weights [T, d, 1] for every number "
              "of pairs (the minimum-norm one when i < d); the prediction is query_x @ w")
    if fn is None:
        return not_attempted(name, hint)
    g = torch.Generator().manual_seed(11)
    for i, (pairs, d) in enumerate([(6, 3), (3, 3), (2, 5)]):
        cx, w, qx = torch.randn(4, pairs, d, generator=g), torch.randn(4, d, 1, generator=g), torch.randn(4, 2, d, generator=g)
        case = tr("on test case {i} ({pairs} pairs in {dims} dimensions)", i=i, pairs=pairs, dims=d)
        value, failed = _call(name, hint, fn, (cx, cx @ w, qx), case)
        if value is None:
            return failed
        expected = _lstsq_reference(cx, cx @ w, qx)
        if not isinstance(value, Tensor) or value.shape != expected.shape:
            shape = list(value.shape) if isinstance(value, Tensor) else type(value).__name__
            return _wrong(name, tr("{case}: expected predictions of shape {want}, got {got}", case=case,
                                   want=list(expected.shape), got=shape), hint)
        if not torch.isfinite(value).all():
            return _wrong(name, tr("{case}: non-finite predictions. With fewer pairs than dimensions X^T X is singular, "
                                   "so (X^T X)^-1 X^T y does not exist; the pseudo-inverse gives the minimum-norm "
                                   "solution", case=case), hint)
        if not torch.allclose(value.double(), expected.double(), rtol=1e-3, atol=1e-4):
            if pairs < d and torch.allclose(value, torch.zeros_like(value)):
                problem = tr("predicting 0 when there are fewer pairs than dimensions wastes them: the minimum-norm "
                             "solution already uses every pair")
            elif pairs < d:
                problem = tr("with fewer pairs than dimensions many w fit the pairs exactly; least squares as Garg et al. "
                             "use it picks the one of minimum norm (torch.linalg.pinv), not another one")
            else:
                problem = _compare(value, expected, 1e-3, 1e-4, tr("the predictions"))
            return _wrong(name, tr("{case}: {problem}", case=case, problem=problem), hint)
    return _correct(name, tr("exact with more pairs than dimensions, minimum-norm with fewer"))
