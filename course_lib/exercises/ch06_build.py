"""Checks for chapter 06, "Build it yourself: the memory read and the LRUA write".

Exercise 6.2 ``w^lu`` (the least-used weights), 6.3 the LRUA write weights from the previous
step's usage, 6.4 the content-based read. Each is compared with
:mod:`course_lib.algorithms.mann_addressing` on random inputs (values and, for the read, gradients);
the typical wrong answers are recognised and named. The chapter then runs a MANN with the learner's read and write inside.
"""

from __future__ import annotations

import torch

from course_lib.algorithms.mann_addressing import content_read, cosine_similarity, least_used, lrua_write, lrua_write_weights
from course_lib.exercises._core import _compare, _correct, _wrong, check_function, not_attempted
from course_lib.i18n import tr

__all__ = ["check_content_read", "check_least_used", "check_lrua_write"]


def _same(out, expected) -> bool:
    return isinstance(out, torch.Tensor) and out.shape == expected.shape and \
        torch.allclose(out.double(), expected.double(), atol=1e-5)


def _call(name: str, fn, args, hint: str):
    """``(result, message)``: the learner's result, or None and a printed verdict."""
    try:
        out = fn(*args)
    except NotImplementedError:
        return None, not_attempted(name, hint)
    except Exception as err:  # a wrong answer must print a hint, not crash the notebook
        return None, _wrong(name, tr("calling it raised {error_type}: {error}", error_type=type(err).__name__,
                                     error=err), hint)
    if out is None:
        return None, not_attempted(name, hint)
    return out, None


# ---------------------------------------------------------------------------------------------
# Exercise 6.2: least-used weights
# ---------------------------------------------------------------------------------------------
def _usage_cases():
    g = torch.Generator().manual_seed(6)
    return [
        (torch.tensor([[0.9, 0.1, 0.5, 0.3]]), 1),
        (torch.tensor([[0.9, 0.1, 0.5, 0.3]]), 2),
        (torch.tensor([[0.2, 0.2, 0.7, 0.2, 0.1]]), 2),     # tie: lower index wins
        (torch.rand(3, 8, generator=g), 3),
    ]


def check_least_used(fn) -> bool:
    """Exercise 6.2: ``fn(usage [B, S], n) -> w^lu [B, S]`` with ones on the n least used slots."""
    name = tr("Exercise 6.2")
    hint = tr("sort each row of usage in increasing order (torch.sort(..., stable=True) so that "
              "ties go to the lower index), take the first n indices and scatter ones there")
    if fn is None:
        return not_attempted(name, hint)
    usage = torch.tensor([[0.9, 0.1, 0.5, 0.3]])
    out, verdict = _call(name, fn, (usage, 2), hint)
    if out is None:
        return verdict
    if _same(out, least_used(-usage, 2)):
        return _wrong(name, tr("you marked the MOST used slots; w^lu points at the least used ones"), hint)
    if _same(out, least_used(usage, 1)):
        return _wrong(name, tr("with n = 2 there must be two ones (one per read head)"), hint)
    return check_function(name, fn, least_used, _usage_cases(), hint=hint,
                          success=tr("w^lu marks the slots LRUA may overwrite"))


# ---------------------------------------------------------------------------------------------
# Exercise 6.3: LRUA write weights
# ---------------------------------------------------------------------------------------------
def _write_cases():
    g = torch.Generator().manual_seed(7)
    cases = []
    for b, r, s in [(2, 2, 6), (1, 1, 4), (3, 4, 8)]:
        read = torch.softmax(torch.randn(b, r, s, generator=g) * 3, dim=-1)
        cases.append((torch.randn(b, r, generator=g) * 2, read, torch.rand(b, s, generator=g) * 3))
    return cases


def check_lrua_write(fn) -> bool:
    """Exercise 6.3: ``fn(gate_logit [B,R], prev_read [B,R,S], prev_usage [B,S]) -> w^w [B,R,S]``."""
    name = tr("Exercise 6.3")
    hint = tr("w^lu = my_least_used(prev_usage, R) with R = gate_logit.shape[1]; then "
              "w^w = sigmoid(alpha) * w^r_{t-1} + (1 - sigmoid(alpha)) * w^lu; alpha [B, R] needs a "
              "trailing dimension, w^lu [B, S] a head dimension")
    if fn is None:
        return not_attempted(name, hint)
    gate, read, usage = _write_cases()[0]
    out, verdict = _call(name, fn, (gate, read, usage), hint)
    if out is None:
        return verdict
    r = gate.shape[1]
    lu = least_used(usage, r)
    squash = torch.sigmoid(gate).unsqueeze(-1)
    mistakes = [
        (lrua_write(-gate, read, usage),
         tr("the gate is the wrong way round: sigmoid(alpha) multiplies the PREVIOUS READ weights "
            "(update the slot just used), 1 - sigmoid(alpha) the least-used weights")),
        (gate.unsqueeze(-1) * read + (1 - gate.unsqueeze(-1)) * lu.unsqueeze(1),
         tr("alpha is a logit: squash it with torch.sigmoid before mixing")),
        (lrua_write_weights(gate, read, least_used(-usage, r)),
         tr("the least-used weights sit on the MOST used slots: sort the usage in increasing order")),
        (lrua_write_weights(gate, read, least_used(read.sum(1), r)),
         tr("the least-used slots were computed from the previous READ weights; they come from the "
            "usage w^u_{t-1}, the decayed history of every read and write")),
        (lrua_write_weights(gate, read, least_used(usage, 1)),
         tr("w^lu has R ones (one per read head), not one: the single least-used slot is the one the "
            "model erases, the R least used are the write candidates")),
        (squash * read + (1 - squash) * usage.unsqueeze(1),
         tr("the usage itself went into the interpolation; mix with the least-used weights w^lu "
            "(ones on the R least used slots) instead")),
    ]
    for wrong, problem in mistakes:
        if _same(out, wrong):
            return _wrong(name, problem, hint)
    return check_function(name, fn, lrua_write, _write_cases(), hint=hint,
                          success=tr("a head puts sigma(alpha) on the slots it just read and 1 - sigma(alpha) "
                                     "on each of the R least-used slots"))


# ---------------------------------------------------------------------------------------------
# Exercise 6.4: content-based read
# ---------------------------------------------------------------------------------------------
def _read_cases():
    g = torch.Generator().manual_seed(8)
    return [(torch.randn(b, r, w, generator=g), torch.randn(b, s, w, generator=g),
             1.0 + 5.0 * torch.rand(b, r, generator=g))
            for b, r, s, w in [(2, 3, 5, 4), (1, 1, 6, 3), (3, 4, 8, 5)]]


def _read_mistakes(keys, memory, strength):
    beta = strength.unsqueeze(-1)
    cos = cosine_similarity(keys, memory)
    dots = torch.einsum("brw,bsw->brs", keys, memory)
    key_norm = keys.norm(dim=-1, keepdim=True)
    slot_norm = memory.norm(dim=-1).unsqueeze(1)
    return [
        (torch.softmax(beta * cos, dim=1), tr("the softmax runs over the HEADS axis (dim=1); each head's "
         "weights are a distribution over the memory SLOTS, the last axis")),
        (torch.softmax(beta * cos, dim=0), tr("the softmax runs over the BATCH axis (dim=0); it belongs on "
         "the slots axis (dim=-1)")),
        (torch.softmax(beta * dots, dim=-1), tr("you used the dot product k . M(i); divide by both norms "
         "(cosine similarity), otherwise slots with large entries win whatever their direction")),
        (torch.softmax(beta * dots / key_norm, dim=-1), tr("only the key was normalised: a cosine divides by "
         "the norm of the key AND of each memory row")),
        (torch.softmax(beta * dots / slot_norm, dim=-1), tr("only the memory rows were normalised: a cosine "
         "divides by the norm of the key AND of each memory row")),
        (torch.softmax(cos, dim=-1), tr("the key strength beta is missing: multiply the similarities by "
         "strength[..., None] before the softmax")),
        (beta * torch.softmax(cos, dim=-1), tr("beta was applied after the softmax; it sharpens by scaling "
         "the similarities inside it (then the weights still sum to one)")),
        (torch.softmax(cos / beta, dim=-1), tr("you divided by beta; multiply, so that a larger strength "
         "gives a sharper read")),
    ]


def check_content_read(fn) -> bool:
    """Exercise 6.4: ``fn(keys [B,R,W], memory [B,S,W], strength [B,R]) -> (w^r [B,R,S], r [B,R,W])``.

    Values on three random cases, then gradients with respect to keys, memory and strength.
    """
    name = tr("Exercise 6.4")
    hint = tr("cos = (k . M(i)) / (||k|| ||M(i)||) for every head and slot ([B, R, S], e.g. with "
              "torch.einsum('brw,bsw->brs', ...)); weights = softmax(strength[..., None] * cos, dim=-1); "
              "reads = weights @ memory ([B, R, S] x [B, S, W])")
    if fn is None:
        return not_attempted(name, hint)
    cases = _read_cases()
    for i, args in enumerate(cases):
        out, verdict = _call(name, fn, args, hint)
        if out is None:
            return verdict if i == 0 else _wrong(name, tr("it returned None on test case {i}", i=i), hint)
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            return _wrong(name, tr("return a pair (read_weights, reads), got "
                                   "{type_name}", type_name=type(out).__name__), hint)
        weights, reads = out
        want_w, want_r = content_read(*args)
        if not _same(weights, want_w):
            for wrong, problem in _read_mistakes(*args):
                if _same(weights, wrong):
                    return _wrong(name, tr("read weights: {problem}", problem=problem), hint)
            return _wrong(name, tr("read weights, test case {i}: {problem}", i=i,
                                   problem=_compare(weights, want_w, 1e-4, 1e-6)), hint)
        if not _same(reads, want_r):
            return _wrong(name, tr("the read weights are right but the read vectors are not "
                                   "r = sum_i w^r(i) M(i) (test case {i}): {problem}", i=i,
                                   problem=_compare(reads, want_r, 1e-4, 1e-6)), hint)
    # gradients: the controller learns its keys and strengths through this read
    keys, memory, strength = (t.clone().requires_grad_(True) for t in cases[0])
    g = torch.Generator().manual_seed(9)
    weights, reads = fn(keys, memory, strength)
    probe_w, probe_r = torch.randn(weights.shape, generator=g), torch.randn(reads.shape, generator=g)
    objective = (weights * probe_w).sum() + (reads * probe_r).sum()
    if not objective.requires_grad:
        return _wrong(name, tr("no gradient flows through your read (torch.no_grad(), .detach(), or a "
                               "NumPy round trip?): the controller learns its keys through it"), hint)
    got = torch.autograd.grad(objective, (keys, memory, strength), allow_unused=True)
    ref_inputs = [t.detach().clone().requires_grad_(True) for t in cases[0]]
    ref_w, ref_r = content_read(*ref_inputs)
    want = torch.autograd.grad((ref_w * probe_w).sum() + (ref_r * probe_r).sum(), ref_inputs)
    for label, a, b in zip(("keys", "memory", "strength"), got, want):
        if a is None or not torch.allclose(a, b, rtol=1e-4, atol=1e-6):
            return _wrong(name, tr("the values are right but the gradient with respect to {label} is not "
                                   "(a .detach() or an in-place edit inside the read?)", label=label), hint)
    return _correct(name, tr("cosine similarity, a softmax over the slots sharpened by beta, and a weighted "
                             "sum of the rows: values and gradients match the library"))
