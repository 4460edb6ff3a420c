"""Checks for chapter 01 (what is meta-learning): a claim about multi-task learning, sinusoid task
family facts, and sorting method descriptions into the four families."""

from __future__ import annotations

import math

import torch

from course_lib.exercises._core import (
    _correct,
    _wrong,
    check_close,
    check_function,
    check_mapping,
    check_true,
    not_attempted,
)
from course_lib.i18n import tr

__all__ = [
    "check_family_quiz",
    "check_linear_form",
    "check_mean_function",
    "check_multitask_claim",
    "check_oracle_adaptation",
    "check_zero_predictor_mse",
]

# Exercise 1.1: statements about "one network with shared layers trained on several tasks is meta-learning".
CLAIM_TRUE = {"B", "C", "D"}


def claim_wrong_choice() -> dict[str, str]:
    """Why each false statement (letter) is false, in the learner's language."""
    return {
        "A": tr("sharing layers across a fixed set of tasks is multi-task learning (see the table above); "
                "meta-learning is defined by its objective, the loss AFTER adapting to a NEW task, not by shared "
                "weights"),
        "E": tr("more tasks do not change what is optimised: the loop still minimises the loss on its training "
                "tasks and never practises adapting to a task it has not seen"),
        "F": tr("too strong: shared features can transfer (section 6 fine-tunes exactly such a pooled network); the "
                "claim is wrong because the method neither optimises nor measures adaptation to new tasks, not "
                "because sharing is useless"),
    }


def claim_missed() -> dict[str, str]:
    """What to look at for each true statement (letter) left out, in the learner's language."""
    return {
        "B": tr("look at what the loss averages over: tasks a, b, c themselves, with no adaptation step in between"),
        "C": tr("find the support set the loop adapts on and the query set it is judged on: there are none"),
        "D": tr("ask on which tasks the reported number is computed, and whether any of them is new"),
    }


def _letters(answer) -> set[str] | None:
    if isinstance(answer, str):
        return {c for c in answer.upper() if c.isalpha()}
    if isinstance(answer, (set, frozenset, list, tuple)):
        return {str(c).strip().upper() for c in answer}
    return None


def check_multitask_claim(answer) -> bool:
    """Exercise 1.1: the set of true statements (letters) about the multi-task-sharing claim."""
    name = tr("Exercise {number}", number="1.1")
    hint = tr("meta-learning = an objective measured after adapting on a support set, on tasks the learner has not "
              "seen")
    if answer is None:
        return not_attempted(name, hint)
    chosen = _letters(answer)
    if chosen is None:
        return _wrong(name, tr("give a set of letters such as {{'A', 'B'}}, not a {kind}", kind=type(answer).__name__),
                      hint)
    unknown = sorted(chosen - set("ABCDEF"))
    if unknown:
        return _wrong(name, tr("there is no statement {letters} (the statements are A to F)",
                               letters=", ".join(unknown)), hint)
    for letter in sorted(chosen - CLAIM_TRUE):
        return _wrong(name, tr("statement {letter} is false", letter=letter), claim_wrong_choice()[letter])
    for letter in sorted(CLAIM_TRUE - chosen):
        return _wrong(name, tr("statement {letter} is true as well", letter=letter), claim_missed()[letter])
    return _correct(name, tr("shared parameters give multi-task learning; meta-learning needs episodes and new "
                             "tasks"))


AMPLITUDE = (0.1, 5.0)


def check_zero_predictor_mse(answer) -> bool:
    """Exercise 1.2: E[A^2 sin^2(x - phi)] = E[A^2] / 2 for A ~ U[0.1, 5], phi ~ U[0, pi]."""
    name = tr("Exercise {number}", number="1.2")
    a, b = AMPLITUDE
    second_moment = (b**3 - a**3) / (3 * (b - a))
    hint = tr("MSE of y_hat = 0 is E[y^2] = E[A^2] * E[sin^2(x - phi)]; E[A^2] = integral of A^2 over [a, b], "
              "divided by b - a")
    mistakes = {
        second_moment: tr("that is E[A^2]; you still need the average of sin^2 over the phase"),
        ((a + b) / 2) ** 2 / 2: tr("you used E[A]^2 instead of E[A^2] (they differ by the variance of A)"),
        ((a + b) / 2) ** 2: tr("you used E[A]^2 instead of E[A^2], and forgot the average of sin^2"),
    }
    for value, failure in mistakes.items():
        if answer is not None and math.isclose(float(answer), value, rel_tol=1e-3):
            return check_true(name, False, hint, failure=failure)
    return check_close(name, answer, second_moment / 2, rtol=1e-3, hint=hint)


def check_mean_function(answer, pretrained: torch.nn.Module | None = None, device=None) -> bool:
    """Exercise 1.3: m(x) = E[A sin(x - phi)] = c cos(x) with c = -(2/pi) E[A].

    If ``pretrained`` is given, also reports how close that network is to c cos(x).
    """
    name = tr("Exercise {number}", number="1.3")
    a, b = AMPLITUDE
    mean_amplitude = (a + b) / 2
    expected = -(2 / math.pi) * mean_amplitude
    hint = tr("m(x) = E[A] * (1/pi) * integral_0^pi sin(x - phi) dphi; an antiderivative in phi is cos(x - phi)")
    mistakes = {
        0.0: tr("phi ~ U[0, pi] covers half a period of sin, so its average over phi does not vanish"),
        -expected: tr("the sign is flipped: integral_0^pi sin(x - phi) dphi = [cos(x - phi)]_0^pi = cos(x - pi) - "
                      "cos x"),
        -2 * mean_amplitude: tr("you integrated over phi but did not divide by the length pi of its range"),
    }
    for value, failure in mistakes.items():
        if answer is not None and math.isclose(float(answer), value, rel_tol=1e-3, abs_tol=1e-6):
            return check_true(name, False, hint, failure=failure)
    ok = check_close(name, answer, expected, rtol=1e-3, hint=hint)
    if ok and pretrained is not None:
        x = torch.linspace(-5, 5, 201, device=device).view(-1, 1)
        with torch.no_grad():
            gap = (pretrained(x) - expected * torch.cos(x)).pow(2).mean().sqrt().item()
        print(tr("  The pre-trained network is {gap:.2f} (RMS) away from {c:.3f}·cos(x) on [-5, 5].", gap=gap,
                 c=expected))
    return ok


def _reference_linear(amplitude, phase):
    return amplitude * torch.cos(phase), -amplitude * torch.sin(phase)


def check_linear_form(to_linear) -> bool:
    """Exercise 1.4: ``to_linear(A, phi) -> (a, b)`` with A sin(x - phi) = a sin x + b cos x; A, phi of shape [5]."""
    name = tr("Exercise {number}", number="1.4")
    hint = tr("expand sin(x - phi) with the angle-difference formula, multiply by A, and read off the sin x and cos "
              "x terms")
    g = torch.Generator().manual_seed(1)
    cases = [(torch.rand(5, generator=g) * 4.9 + 0.1, torch.rand(5, generator=g) * math.pi) for _ in range(3)]
    try:
        given = to_linear(*cases[0]) if to_linear is not None else None
        a, b = (torch.as_tensor(v, dtype=torch.float32) for v in given)
    except Exception:  # noqa: BLE001 - anything unusual is reported by check_function below
        given = None
    if given is not None:
        ref_a, ref_b = _reference_linear(*cases[0])
        mistakes = [
            ((ref_b, ref_a), tr("you returned (b, a): a multiplies sin x, b multiplies cos x")),
            ((ref_a, -ref_b), tr("b has the wrong sign: sin(x - phi) = sin x cos phi - cos x sin phi")),
            ((-ref_b, ref_a), tr("a and b are swapped and b has the wrong sign")),
        ]
        for (wrong_a, wrong_b), failure in mistakes:
            if a.shape == wrong_a.shape and torch.allclose(a, wrong_a) and torch.allclose(b, wrong_b):
                return check_true(name, False, hint, failure=failure)
    return check_function(name, to_linear, _reference_linear, cases, hint=hint)


def check_oracle_adaptation(oracle_adapt, family, num_tasks: int = 20, k_shot: int = 5) -> bool:
    """Exercise 1.5: least squares on [sin x, cos x] must be exact on new tasks' query points."""
    name = tr("Exercise {number}", number="1.5")
    hint = tr("features(x) = [sin x, cos x] of shape [K, 2]; solve least squares for 2 coefficients; predict "
              "features(x) @ coef")
    if oracle_adapt is None:
        return not_attempted(name, hint)
    g = torch.Generator().manual_seed(2)
    batch = family.sample_batch(n_tasks=num_tasks, k_support=k_shot, k_query=50, generator=g)
    errors = []
    for task in batch:
        try:
            predictor = oracle_adapt(task.support_x, task.support_y)
            if predictor is None:
                return not_attempted(name, hint)
            if not callable(predictor):
                return check_true(name, False, hint, failure=tr(
                    "it returned a {kind}; return a function x -> y_hat (e.g. a lambda that uses the fitted "
                    "coefficients)", kind=type(predictor).__name__))
            prediction = predictor(task.query_x)
        except Exception as err:  # noqa: BLE001 - show the learner's error as feedback
            return check_true(name, False, hint, failure=tr("raised {error}: {err}", error=type(err).__name__,
                                                            err=err))
        if not isinstance(prediction, torch.Tensor) or prediction.shape != task.query_y.shape:
            shape = getattr(prediction, "shape", type(prediction).__name__)
            return check_true(name, False, hint, failure=tr("predictions have shape {got}, expected {want}",
                                                            got=shape, want=list(task.query_y.shape)))
        errors.append((prediction - task.query_y).pow(2).mean().item())
    worst = max(errors)
    return check_true(name, worst < 1e-6, hint,
                      success=tr("query MSE at most {worst:.1e} on {n} new tasks", worst=worst, n=num_tasks),
                      failure=tr("the worst query MSE is {worst:.3g}; an exact fit should give ~0 (features of x "
                                 "itself, or a polynomial, are not the sine family's model class)", worst=worst))


# Exercise 1.6: descriptions of methods (letters as in the notebook) -> family, and why.
FAMILIES = {
    "A": "optimization",
    "B": "optimization",
    "C": "learned optimizer",
    "D": "learned optimizer",
    "E": "metric",
    "F": "metric",
    "G": "memory/model",
    "H": "memory/model",
}


def why() -> dict[str, str]:
    """Why each method (letter) belongs to its family, in the learner's language."""
    return {
        "A": tr("it meta-learns starting weights and adapts with ordinary gradient steps"),
        "B": tr("it still adapts by ordinary gradient steps from meta-learned weights, only on the last layer"),
        "C": tr("each update is computed by a meta-learned network, so what is learned is the update rule"),
        "D": tr("the LSTM's learned gates turn gradients into weight changes: a learned update rule"),
        "E": tr("no gradient steps on a new task: it compares a query with class means in a learned embedding"),
        "F": tr("no gradient steps on a new task: it compares query and support embeddings with a learned "
                "comparison"),
        "G": tr("the support set is absorbed by a forward pass of the network, which is the learner"),
        "H": tr("one forward pass over the support set produces the predictor"),
    }


def check_family_quiz(answer) -> bool:
    """Exercise 1.6: assign each described method (A-H) to its family."""
    name = tr("Exercise {number}", number="1.6")
    hint = tr("ask what is meta-learned and what happens on a new task: gradient steps from learned weights "
              "(optimization), a learned update rule (learned optimizer), comparisons in a learned embedding "
              "(metric), a forward pass over the support set that yields the predictor (memory/model)")
    return check_mapping(name, answer, FAMILIES, hint,
                         lambda m, given: tr("{letter} is not {given!r}: {why}", letter=m, given=given, why=why()[m]),
                         success=tr("all eight placed. They were A MAML, B ANIL, C the LSTM optimizer, D Ravi & "
                                    "Larochelle's meta-learner, E Prototypical Networks, F Relation Network, G MANN, "
                                    "H a hypernetwork"))
