"""Building blocks of the exercise checks.

In a notebook the learner's cell starts as ``answer = None`` (or a function stub that returns
``None``) and the next cell calls a chapter check such as ``check_inner_step(answer)``. Every
check follows the same rules:

* ``None`` means *not attempted yet*: it prints the hint and returns False without raising, so
  "Run All" still works before any exercise is done;
* a wrong answer prints what exactly is wrong (shape, sign, factor, which element, which test
  case) plus the hint;
* a right answer prints a one-line confirmation starting with "Correct!";
* the return value is a bool, so a solution cell can ``assert check_...(solution)``.

Chapter checks (``course_lib/exercises/ch02.py``, ...) are thin wrappers around
:func:`check_close`, :func:`check_shape`, :func:`check_true` and :func:`check_function`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import torch

from course_lib.i18n import tr

__all__ = ["check_close", "check_function", "check_mapping", "check_shape", "check_true", "not_attempted"]


def _say(symbol: str, name: str, text: str, hint: str | None = None) -> None:
    message = tr("{symbol} {name}: {text}", symbol=symbol, name=name, text=text)
    if hint:
        message += tr("\n  Hint: {hint}", hint=hint)
    print(message)


def not_attempted(name: str, hint: str | None = None) -> bool:
    """Print the "not attempted yet" message for exercise ``name`` and return False."""
    _say("…", name, tr("not attempted yet (the answer is still None or the function still a stub). "
                       "Fill in the cell above and run it again."), hint)
    return False


def _correct(name: str, success: str | None) -> bool:
    print(tr("✓ Correct! {name} — {success}", name=name, success=success) if success
          else tr("✓ Correct! {name}", name=name))
    return True


def _wrong(name: str, problem: str, hint: str | None) -> bool:
    _say("✗", name, problem, hint)
    return False


def _as_tensor(value) -> torch.Tensor:
    """Numbers, lists, NumPy arrays and tensors (any device) -> float64 CPU tensor."""
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", torch.float64)
    return torch.as_tensor(np.asarray(value, dtype=np.float64))


def _fmt(t: torch.Tensor) -> str:
    if t.numel() == 1:
        return f"{t.item():.6g}"
    if t.numel() <= 6:
        return "[" + ", ".join(f"{v:.4g}" for v in t.flatten().tolist()) + "]"
    return tr("a tensor of shape {shape}", shape=list(t.shape))


def _compare(value, expected, rtol: float, atol: float, what: str | None = None) -> str | None:
    """Describe how ``value`` differs from ``expected``; None when they match."""
    what = tr("your answer") if what is None else what
    if isinstance(expected, (tuple, list)) and expected and not isinstance(expected[0], (int, float)):
        if not isinstance(value, (tuple, list)) or len(value) != len(expected):
            kind = type(value).__name__
            got = (tr("a {kind} of length {n}", kind=kind, n=len(value)) if isinstance(value, (tuple, list))
                   else tr("a {kind}", kind=kind))
            return tr("{what} should be a sequence of {n} items, got {got}", what=what, n=len(expected), got=got)
        for i, (v, e) in enumerate(zip(value, expected)):
            problem = _compare(v, e, rtol, atol, tr("item {i} of {what}", i=i, what=what))
            if problem:
                return problem
        return None
    if value is None:
        return tr("{what} is None", what=what)
    try:
        v = _as_tensor(value)
    except (TypeError, ValueError) as err:
        return tr("{what} should be a number or a tensor, got a {kind} ({err})", what=what,
                  kind=type(value).__name__, err=err)
    e = _as_tensor(expected)
    if v.shape != e.shape:
        if v.numel() == e.numel() == 1:
            v = v.reshape(e.shape)
        else:
            problem = tr("{what} has shape {got} but should have shape {want}", what=what, got=list(v.shape),
                         want=list(e.shape))
            if v.numel() == e.numel():
                if v.dim() == 2 and e.dim() == 2 and v.shape == e.shape[::-1]:
                    problem += tr(" (transposed?)")
                else:
                    problem += tr(" (same number of elements: a missing reshape/squeeze/unsqueeze?)")
            elif v.numel() == 1:
                problem += tr(" (a single number: did you reduce with sum()/mean() too early?)")
            return problem
    if torch.isnan(v).any() and not torch.isnan(e).any():
        return tr("{what} contains NaN ({k} of {n} values)", what=what, k=int(torch.isnan(v).sum()), n=v.numel())
    if torch.isinf(v).any() and not torch.isinf(e).any():
        return tr("{what} contains inf ({k} of {n} values)", what=what, k=int(torch.isinf(v).sum()), n=v.numel())
    close = torch.isclose(v, e, rtol=rtol, atol=atol, equal_nan=True)
    if bool(close.all()):
        return None
    if bool(torch.isclose(v, -e, rtol=rtol, atol=atol).all()):
        return tr("{what} has the opposite sign of the expected value (check a sign or the direction of a step)",
                  what=what)
    nonzero = e.abs() > atol
    if bool(nonzero.any()):
        ratios = v[nonzero] / e[nonzero]
        r = ratios.mean().item()
        # Any two numbers have a ratio: for a single number only report simple factors (k or 1/k).
        simple = any(abs(r - k) < 1e-6 * k or abs(r - 1 / k) < 1e-6 / k for k in range(2, 11))
        if (
            math.isfinite(r)
            and abs(r) > 1e-12
            and (v.numel() > 1 or simple)
            and bool(torch.isclose(v, r * e, rtol=rtol, atol=atol).all())
        ):
            return tr("{what} is {r:.4g} times the expected value (a missing or extra factor, e.g. a mean vs. a "
                      "sum or a 1/2?)", what=what, r=r)
    if v.numel() == 1:
        return tr("{what} is {value}, which is not within the tolerance (rtol={rtol:g}, atol={atol:g}) of the "
                  "expected value", what=what, value=_fmt(v), rtol=rtol, atol=atol)
    diff = (v - e).abs()
    worst = int(diff.flatten().argmax())
    index = tuple(int(i) for i in np.unravel_index(worst, tuple(v.shape)))
    return tr("{k} of {n} values differ; the largest difference is {diff:.3g} at index {index} (you have "
              "{got:.4g})", k=int((~close).sum()), n=v.numel(), diff=diff.max().item(), index=list(index),
              got=v.flatten()[worst].item())


def check_close(
    name: str,
    value,
    expected,
    rtol: float = 1e-4,
    atol: float = 1e-6,
    hint: str | None = None,
    success: str | None = None,
) -> bool:
    """Check that ``value`` equals ``expected`` up to ``|value - expected| <= atol + rtol*|expected|``.

    ``value`` / ``expected``: numbers, lists, arrays or tensors (any device), or tuples of them.
    Prints a confirmation, or what differs (shape, sign, constant factor, worst element) and the
    ``hint``. ``value is None`` counts as not attempted. Returns True when correct.
    """
    if value is None:
        return not_attempted(name, hint)
    problem = _compare(value, expected, rtol, atol)
    return _correct(name, success) if problem is None else _wrong(name, problem, hint)


def check_shape(name: str, value, expected_shape: Sequence[int], hint: str | None = None, success: str | None = None) -> bool:
    """Check that the tensor/array ``value`` has shape ``expected_shape``."""
    if value is None:
        return not_attempted(name, hint)
    shape = getattr(value, "shape", None)
    if shape is None:
        return _wrong(name, tr("expected a tensor of shape {want}, got a {kind}", want=list(expected_shape),
                               kind=type(value).__name__), hint)
    if tuple(shape) != tuple(expected_shape):
        problem = tr("shape is {got} but should be {want}", got=list(shape), want=list(expected_shape))
        if math.prod(shape) == math.prod(expected_shape):
            problem += tr(" (same number of elements: a missing reshape/squeeze/unsqueeze?)")
        return _wrong(name, problem, hint)
    return _correct(name, success or tr("shape {shape}", shape=list(shape)))


def check_true(
    name: str,
    condition: bool | None,
    hint: str,
    success: str | None = None,
    failure: str | None = None,
) -> bool:
    """Check a condition the chapter computed from the learner's answer.

    ``condition=None`` means not attempted. ``failure`` says what is wrong when the condition is
    False (the chapter knows best, e.g. "the adapted loss is higher than before adaptation"); the
    ``hint`` says how to fix it.
    """
    if condition is None:
        return not_attempted(name, hint)
    if bool(condition):
        return _correct(name, success)
    return _wrong(name, failure or tr("the condition that a correct answer satisfies does not hold"), hint)


def check_function(
    name: str,
    fn: Callable | None,
    reference: Callable,
    cases: Iterable[tuple],
    rtol: float = 1e-4,
    atol: float = 1e-6,
    hint: str | None = None,
    success: str | None = None,
) -> bool:
    """Check a function the learner wrote against the reference implementation on test cases.

    ``cases``: argument tuples; case ``i`` calls ``fn(*cases[i])`` and ``reference(*cases[i])``.
    A stub that still returns None (or ``fn=None``) counts as not attempted; an exception is
    reported with the case that raised it.
    """
    if fn is None:
        return not_attempted(name, hint)
    cases = list(cases)
    for i, args in enumerate(cases):
        args = args if isinstance(args, tuple) else (args,)
        try:
            value = fn(*args)
        except NotImplementedError:
            return not_attempted(name, hint)
        except Exception as err:  # report the learner's error instead of raising it in the check cell
            return _wrong(name, tr("calling it on test case {i} raised {error}: {err}", i=i,
                                   error=type(err).__name__, err=err), hint)
        if value is None:
            if i == 0:
                return not_attempted(name, hint)
            return _wrong(name, tr("it returned None on test case {i} (forgot a `return`?)", i=i), hint)
        expected = reference(*args)
        problem = _compare(value, expected, rtol, atol, what=tr("the result"))
        if problem is not None:
            return _wrong(name, tr("on test case {i} of {n}: {problem}", i=i, n=len(cases), problem=problem), hint)
    return _correct(name, success or tr("all {n} test cases pass", n=len(cases)))


def _plain(text) -> str:
    """Lower case, hyphens as spaces, single spaces: how free-text answers are compared."""
    return " ".join(str(text).lower().replace("-", " ").split())


def check_mapping(
    name: str,
    answer: dict | None,
    expected: dict,
    hint: str,
    explain: Callable[[object, object], str],
    success: str,
) -> bool:
    """Check a dict answer (question -> choice) against ``expected``, key by key.

    Choices are compared case- and spacing-insensitively. The first missing key is named; the first
    wrong one is reported with ``explain(key, given)``, which says why it is not right.
    """
    if answer is None:
        return not_attempted(name, hint)
    for key, right in expected.items():
        given = answer.get(key)
        if given is None:
            return _wrong(name, tr("no answer given for {key!r}", key=key), hint)
        if _plain(given) != _plain(right):
            return _wrong(name, explain(key, given), hint)
    return _correct(name, success)
