"""Checks for the exercises of chapter 05 (metric-based meta-learning)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from course_lib.exercises._core import _correct, _wrong, not_attempted
from course_lib.exercises.ch05_build import check_proto_loss
from course_lib.i18n import tr
from course_lib.metrics import t_quantile

__all__ = ["MISMATCH_CHOICES", "MISMATCH_PROTOCOL", "bregman_problem", "check_bregman_minimiser", "check_linear_head",
           "check_paired_difference", "check_prediction", "check_proto_loss"]


# -- Exercise 5.2: the Bregman-optimal prototype ---------------------------------------------------
def bregman_problem(seed: int = 0) -> torch.Tensor:
    """Points z [12, 3] with positive coordinates (for the generalised KL divergence)."""
    return torch.rand(12, 3, generator=torch.Generator().manual_seed(seed)) * 4 + 0.1


def check_bregman_minimiser(c_star, z: torch.Tensor, swapped: bool = False) -> bool:
    """``c_star`` [3]: the point you found that minimises sum_i d(z_i, c) (or sum_i d(c, z_i) if ``swapped``),
    d the generalised KL divergence. The expected point is never printed."""
    name = tr("Exercise 5.2 (Bregman prototype, arguments swapped)") if swapped else tr("Exercise 5.2 (Bregman prototype)")
    hint = tr("minimise the sum with gradient descent (or Adam) on a tensor c that requires grad, where d(x, c) = "
              "sum_j x_j log(x_j / c_j) - x_j + c_j; start from a positive c, keep it positive, run until c stops moving")
    if c_star is None:
        return not_attempted(name, hint)
    c, z = torch.as_tensor(c_star, dtype=torch.float64).detach().flatten(), z.double()
    mean, geo = z.mean(0), z.log().mean(0).exp()  # the minimisers in the second / in the first argument
    if c.shape != mean.shape:
        return _wrong(name, tr("the answer should have shape {want} (one point in R^3), got {got}",
                               want=list(mean.shape), got=list(c.shape)), hint)
    near = lambda a, b: bool(torch.allclose(a, b, rtol=1e-2, atol=1e-3))
    if near(c, geo if swapped else mean):
        return _correct(name, tr("with the prototype in the first argument the optimum is no longer the mean: the mean "
                                 "is optimal only in the second argument") if swapped else tr("the optimiser found the "
                                 "arithmetic mean, as the Bregman theorem says (Banerjee et al. 2005)"))
    if near(c, mean if swapped else geo):
        return _wrong(name, tr("this point minimises the sum with the arguments the other way round: the prototype c "
                               "must be the FIRST argument of d here") if swapped else
                      tr("this point minimises the sum with the arguments the other way round: the prototype c "
                         "must be the SECOND argument of d here"), hint)
    return _wrong(name, tr("{point} is not the minimiser: check the divergence (the x log(x / c) term and the "
                           "- x + c terms) and that the optimiser has converged (c no longer moves)", point=c.tolist()), hint)


# -- Exercise 5.3: ProtoNet as a linear classifier -------------------------------------------------
def check_linear_head(fn) -> bool:
    """``fn(protos [N, D]) -> (W [N, D], b [N])`` such that z @ W.T + b has the same softmax as -||z - c_k||^2."""
    name = tr("Exercise 5.3 (ProtoNet as a linear layer)")
    hint = tr("expand the square ||z - c_k||^2 into three terms; one of them is the same for every class k, so the "
              "softmax ignores it; what is left is linear in z")
    if fn is None:
        return not_attempted(name, hint)
    g = torch.Generator().manual_seed(5)
    for protos in (torch.randn(5, 7, generator=g), torch.randn(3, 2, generator=g)):
        (n, d), c = protos.shape, protos.double()
        sq = (c**2).sum(-1)
        try:
            out = fn(protos)
        except Exception as err:  # noqa: BLE001 - report the learner's error instead of raising it
            return _wrong(name, tr("calling it raised {error_type}: {error}", error_type=type(err).__name__, error=err), hint)
        if out is None or not (isinstance(out, tuple) and len(out) == 2):
            return not_attempted(name, hint) if out is None else _wrong(name, tr("return a pair (W, b)"), hint)
        weight, bias = (torch.as_tensor(t).detach().to(torch.float64) for t in out)
        if weight.shape != (n, d) or bias.shape != (n,):
            return _wrong(name, tr("W should be [N, D] = {want_w} (so that logits = z @ W.T + b) and b [N] = {want_b}, got "
                                   "{got_w} and {got_b}", want_w=[n, d], want_b=[n], got_w=list(weight.shape),
                                   got_b=list(bias.shape)), hint)
        if torch.allclose(weight, c):
            return _wrong(name, tr("W = c_k, b = -||c_k||^2 / 2 picks the same class but halves ProtoNet's logits, which "
                                   "changes the softmax probabilities (a different temperature). Count how often the "
                                   "cross term z . c_k appears in the expanded square") if
                          torch.allclose(bias, -sq / 2) else
                          tr("W = c_k is missing a factor: count how often the cross term z . c_k appears in the "
                             "expanded square"), hint)
        if torch.allclose(bias, sq):
            return _wrong(name, tr("b has the wrong sign: the distance enters the logit with a minus"), hint)
        z = torch.randn(9, d, generator=g, dtype=torch.float64)
        dist = -((z[:, None] - c[None]) ** 2).sum(-1)
        if not torch.allclose((z @ weight.t() + bias).softmax(-1), dist.softmax(-1), atol=1e-6):
            return _wrong(name, tr("the softmax of your linear logits differs from the softmax of -||z - c_k||^2"), hint)
    return _correct(name, tr("a squared-Euclidean ProtoNet is a linear classifier whose weights come from the prototypes"))


# -- Exercise 5.4: training way / shot mismatch ----------------------------------------------------
#: Test protocol of the mismatch experiment: held-out characters, same episodes for every model.
MISMATCH_PROTOCOL = {"n_way": 5, "k_shot": 1, "q_query": 5, "seed": 2024}
MISMATCH_CHOICES = ("train 5-way 1-shot", "train 20-way 1-shot", "train 5-way 5-shot")


def check_prediction(prediction) -> bool:
    """``prediction``: the name (one of :data:`MISMATCH_CHOICES`) of the model you expect to win."""
    name = tr("Exercise 5.4 (your prediction)")
    hint = tr("set my_prediction to one of {choices} BEFORE the models are trained", choices=list(MISMATCH_CHOICES))
    if prediction is None:
        return not_attempted(name, hint)
    if prediction not in MISMATCH_CHOICES:
        return _wrong(name, tr("{prediction!r} is not one of the three models", prediction=prediction), hint)
    return _correct(name, tr("recorded: {prediction!r}. The measurement below will say whether it holds",
                             prediction=prediction))


def _paired_cases() -> list[tuple[np.ndarray, np.ndarray]]:
    """Per-episode accuracies [n] of two models on the same episodes (shared episode difficulty), n = 12 and 7."""
    rng, cases = np.random.default_rng(5), []
    for n, gain in ((12, 0.04), (7, -0.03)):
        difficulty = rng.uniform(0.3, 0.9, n)
        cases.append(tuple((difficulty + g + rng.normal(0, 0.03, n)).clip(0, 1) for g in (gain, 0.0)))
    return cases


def _half_width_mistakes(a: np.ndarray, b: np.ndarray) -> list[tuple[float, str]]:
    """Typical wrong 95 % half-widths for the mean of a - b, with what is wrong."""
    n, d = len(a), a - b
    t, sd, unpaired = t_quantile(0.975, n - 1), d.std(ddof=1), np.sqrt((a.var(ddof=1) + b.var(ddof=1)) / n)
    combined = tr("you combined the two models' own uncertainties (unpaired). Both models saw the SAME episodes: take "
                  "the difference episode by episode first, so that the episode difficulty cancels")
    return [
        (t * unpaired, combined), (1.96 * unpaired, combined),
        (1.96 * sd / np.sqrt(n), tr("you used the normal quantile 1.96; with n = {n} differences use Student's t "
         "with n - 1 degrees of freedom (t_quantile(0.975, n - 1))", n=n)),
        (t_quantile(0.975, n) * sd / np.sqrt(n), tr("the t quantile has n - 1 degrees of freedom, not n")),
        (t * d.std(ddof=0) / np.sqrt(n), tr("np.std defaults to ddof=0 (the population std); the sample std needs ddof=1")),
        (t * sd / n, tr("the standard error of a mean is std / sqrt(n), not std / n")),
        (t * sd, tr("this is the spread of one difference, not the uncertainty of their mean: divide by sqrt(n)")),
    ]


def check_paired_difference(fn) -> bool:
    """``fn(acc_a [n], acc_b [n]) -> (mean, half_width)``: mean of the per-episode differences a - b and the
    half-width of its 95 % Student-t interval. Checked on synthetic paired accuracies; no expected value is printed."""
    name = tr("Exercise 5.4 (paired difference)")
    hint = tr("both models saw the same episodes: compute one difference per episode, then a 95 % Student-t interval "
              "for the mean of those differences (course_lib.metrics.t_quantile gives the t quantile)")
    if fn is None:
        return not_attempted(name, hint)
    for i, (a, b) in enumerate(_paired_cases()):
        case = tr("on test case {i} ({episodes} episodes)", i=i, episodes=len(a))
        try:
            out = fn(a.copy(), b.copy())
        except NotImplementedError:
            return not_attempted(name, hint)
        except Exception as err:  # noqa: BLE001 - report the learner's error instead of raising it
            return _wrong(name, tr("calling it {case} raised {error_type}: {error}",
                                   case=case, error_type=type(err).__name__, error=err), hint)
        if out is None or not (isinstance(out, tuple) and len(out) == 2):
            return not_attempted(name, hint) if out is None else _wrong(name, tr("return a pair (mean, half_width)"), hint)
        mean, half = (float(np.asarray(v, dtype=float)) for v in out)
        ref_mean = float((a - b).mean())
        if not np.isclose(mean, ref_mean, rtol=1e-6, atol=1e-9):
            return _wrong(name, tr("{case}: the mean has the wrong sign: it is acc_a - acc_b (positive when the "
                                   "first model is better)", case=case) if np.isclose(mean, -ref_mean) else
                          tr("{case}: the mean is not the mean of the per-episode differences (use fractions, like "
                             "the accuracies)", case=case), hint)
        if not np.isclose(half, t_quantile(0.975, len(a) - 1) * (a - b).std(ddof=1) / np.sqrt(len(a)), rtol=1e-4):
            for value, problem in _half_width_mistakes(a, b):
                if np.isclose(half, value, rtol=1e-4):
                    return _wrong(name, tr("{case}: {problem}", case=case, problem=problem), hint)
            return _wrong(name, tr("{case}: the mean is right, the half-width is not (you have {half:.4g})",
                                   case=case, half=half), hint)
    return _correct(name, tr("mean and 95 % t-interval of the paired differences on both test cases"))
