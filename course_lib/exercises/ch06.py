"""Checks for chapter 06 (memory- and model-based meta-learning).

Exercises: 6.1 the best possible accuracy on a class's first presentation; 6.2-6.4 "Build it
yourself" (the least-used weights, the LRUA write, the content-based read; checks in
:mod:`course_lib.exercises.ch06_build`, re-exported here); 6.5 "what is wrong with this claim": a
gradient-step learner labelled model-based; 6.6 a "find the bug" on a model-based meta-learner that
emits the weights of a learner.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import functional_call

from course_lib.exercises._core import check_close, check_true, not_attempted
from course_lib.exercises.ch06_build import check_content_read, check_least_used, check_lrua_write
from course_lib.i18n import tr

__all__ = ["check_first_instance_ceiling", "check_least_used", "check_lrua_write", "check_content_read",
           "CLAIM_STATEMENTS", "check_family_claim", "LinearLearner", "WeightGenerator", "sample_linear_task",
           "buggy_meta_step", "show_bug_symptoms", "check_meta_step"]


# Exercise 6.1: how well can the first presentation of a class be answered? ------------------------
def first_instance_ceiling(n_way: int) -> float:
    """Expected accuracy on first presentations for a learner that knows which labels are used:
    the j-th new class (j = 1..N) is one of the N - j + 1 unused labels."""
    return sum(1.0 / (n_way - j) for j in range(n_way)) / n_way


def check_first_instance_ceiling(answer, n_way: int = 5) -> bool:
    """Exercise 6.1: the best expected 1st-instance accuracy in an ``n_way`` episode."""
    name = tr("Exercise 6.1")
    hint = tr("the first new class can be any of the N labels, the second any of the N-1 labels not "
              "used yet, ..., the last new class has only one label left; average the N chances")
    if answer is None:
        return not_attempted(name, hint)
    value = float(answer)
    if math.isclose(value, 1.0 / n_way, rel_tol=1e-3):
        return check_true(name, False, hint, failure=tr(
            "1/{n_way} is the chance level of a learner that ignores the labels it has already "
            "seen; a good learner also knows which labels are already taken", n_way=n_way))
    if math.isclose(value, sum(1.0 / (n_way - j) for j in range(n_way - 1)) / (n_way - 1),
                    rel_tol=1e-3):
        return check_true(name, False, hint, failure=tr("you left out the last class (which is certain)"))
    return check_close(name, value, first_instance_ceiling(n_way), rtol=1e-3, hint=hint,
                       success=tr("so ~46 % (not 20 %) is the ceiling for 1st presentations in 5-way "
                                  "episodes; a network near it has learned label bookkeeping, not "
                                  "character recognition"))


# Exercise 6.5: what is wrong with the claim "learner A (gradient steps) is model-based"? ----------
# The statements are printed by the notebook, in the learner's language (COURSE_LANG when the module is imported).
CLAIM_STATEMENTS = {
    1: tr("Nothing is wrong: A contains a neural network, and any learner built on one is model-based."),
    2: tr("A adapts by gradient steps on the support-set loss, so it is optimization-based; a model-based "
          "learner adapts by a forward pass that reads the support set."),
    3: tr("A is metric-based: it compares the query examples with the support set."),
    4: tr("A would be model-based if it took a single gradient step instead of five."),
}
_FAMILY = {"A": "optimization", "B": "model", "C": "optimization", "D": "metric"}


def _why(learner: str) -> str:
    """Why ``learner`` (A..D) belongs to its family."""
    return {
        "A": tr("A's adaptation is the loop torch.autograd.grad(support loss) -> params - lr * grad, "
                "gradient descent on the support set: optimization-based. Every family computes its "
                "predictions with a network, so 'it has a model' decides nothing"),
        "B": tr("B takes no gradient step at test time: one forward pass reads the support set "
                "(encoder, then a mean) and emits the task's weights. Emitting weights is not "
                "optimising them: B is model-based (a hypernetwork)"),
        "C": tr("C adapts only the head, but by gradient steps on the support loss (autograd.grad in its "
                "loop), like ANIL: optimization-based. WHICH parameters adapt does not set the family, "
                "HOW they adapt does"),
        "D": tr("D reads the support set in a forward pass, but the rule that uses it is fixed: squared "
                "distance to the class means in a learned embedding. Only the embedding is meta-learned: "
                "metric-based"),
    }[learner]


def _wrong_statement() -> dict[int, str]:
    """Wrong statement -> why it is wrong."""
    return {
        1: tr("every family runs a neural network (MAML adapts one too); the family is decided by how the learner "
              "adapts to the support set"),
        3: tr("A never measures a distance between query and support examples; it minimises the support loss"),
        4: tr("one gradient step is still a gradient step (MAML often takes one); the number of steps does not "
              "change the family"),
    }


def _family(value) -> str | None:
    text = str(value).lower().replace("optimisation", "optimization").replace("memory", "model")
    found = [f for f in ("optimization", "metric", "model") if f in text]
    return found[0] if len(found) == 1 else None


def check_family_claim(answer) -> bool:
    """Exercise 6.5: ``{"A".."D": "optimization" | "model" | "metric", "statement": 1..4}``."""
    name = tr("Exercise 6.5")
    hint = tr("ask what happens at test time when a new support set arrives: gradient steps on its loss "
              "(optimization), a fixed distance rule in a learned embedding (metric), or a network's forward "
              "pass that reads it and produces the predictor (model)")
    if answer is None or all(answer.get(k) is None for k in (*_FAMILY, "statement")):
        return not_attempted(name, hint)
    for learner, right in _FAMILY.items():
        given = _family(answer.get(learner))
        if given is None:
            return check_true(name, False, hint, failure=tr("learner {learner}: answer 'optimization', 'model' "
                                                            "or 'metric', got {given!r}", learner=learner,
                                                            given=answer.get(learner)))
        if given != right:
            return check_true(name, False, hint,
                              failure=tr("learner {learner} is not {family}-based: {why}", learner=learner,
                                         family=given, why=_why(learner)))
    statement = answer.get("statement")
    statement = int(statement) if str(statement).strip() in {"1", "2", "3", "4"} else statement
    wrong_statement = _wrong_statement()
    if statement in wrong_statement:
        return check_true(name, False, hint, failure=tr("statement {number}: {why}", number=statement,
                                                        why=wrong_statement[statement]))
    return check_true(name, statement == 2, hint,
                      failure=tr("choose one statement, 1 to 4, got {statement!r}", statement=statement),
                      success=tr("a gradient-step learner is optimization-based, whatever network it adapts; "
                                 "model-based learners adapt by a forward pass over the support set"))


# Exercise 6.6: find the bug in a model-based meta-learner -----------------------------------------
class LinearLearner(nn.Module):
    """The learner: a single linear unit ``y = w x + b`` (its weights come from outside)."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:   # x [M, 1] -> [M, 1]
        return self.layer(x)


class WeightGenerator(nn.Module):
    """The meta-learner: reads a support set ``(x [K,1], y [K,1])`` and emits the learner's weights.

    Pairs are embedded by an MLP and averaged (like a CNP encoder); a linear head maps the mean to
    ``{"layer.weight": [1, 1], "layer.bias": [1]}`` — a tiny hypernetwork.
    """

    def __init__(self, hidden: int = 32):
        super().__init__()
        self.embed = nn.Sequential(nn.Linear(2, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.head = nn.Linear(hidden, 2)

    def forward(self, support_x: torch.Tensor, support_y: torch.Tensor) -> dict[str, torch.Tensor]:
        summary = self.embed(torch.cat([support_x, support_y], dim=-1)).mean(dim=0)
        w, b = self.head(summary)
        return {"layer.weight": w.view(1, 1), "layer.bias": b.view(1)}


def sample_linear_task(generator: torch.Generator, k_support: int = 5, k_query: int = 10):
    """A task ``y = a x + c`` with ``a ~ U[-2, 2]``, ``c ~ U[-1, 1]``, ``x ~ U[-1, 1]``.

    Returns ``(support_x [K,1], support_y [K,1], query_x [M,1], query_y [M,1])``.
    """
    a = torch.rand((), generator=generator) * 4 - 2
    c = torch.rand((), generator=generator) * 2 - 1
    x = torch.rand(k_support + k_query, 1, generator=generator) * 2 - 1
    y = a * x + c
    return x[:k_support], y[:k_support], x[k_support:], y[k_support:]


def buggy_meta_step(learner, generator_net, optimizer, task) -> float:
    """One meta-training step of the weight generator. It contains two bugs."""
    support_x, support_y, query_x, query_y = task
    weights = generator_net(support_x, support_y)
    prediction = learner(query_x, list(weights.values()))
    optimizer.zero_grad()
    prediction.sum().backward()
    optimizer.step()
    return float(F.mse_loss(prediction.detach(), query_y))


def _half_fixed_step(learner, generator_net, optimizer, task) -> float:
    """The call is repaired but the objective is still the sum of the outputs."""
    support_x, support_y, query_x, query_y = task
    weights = generator_net(support_x, support_y)
    prediction = functional_call(learner, weights, (query_x,))
    optimizer.zero_grad()
    prediction.sum().backward()
    optimizer.step()
    return float(F.mse_loss(prediction.detach(), query_y))


def _reference_step(learner, generator_net, optimizer, task) -> float:
    support_x, support_y, query_x, query_y = task
    weights = generator_net(support_x, support_y)
    prediction = functional_call(learner, weights, (query_x,))
    loss = F.mse_loss(prediction, query_y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def _train(step_fn, steps: int, seed: int = 0, lr: float = 1e-2):
    torch.manual_seed(seed)
    learner, net = LinearLearner(), WeightGenerator()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    losses = [step_fn(learner, net, optimizer, sample_linear_task(g)) for _ in range(steps)]
    return learner, net, losses


def _query_mse(learner, net, tasks) -> float:
    with torch.no_grad():
        return sum(float(F.mse_loss(functional_call(learner, net(sx, sy), (qx,)), qy))
                   for sx, sy, qx, qy in tasks) / len(tasks)


def show_bug_symptoms(steps: int = 100) -> dict[str, object]:
    """Run the buggy step and a half-repaired version; print and return what goes wrong."""
    symptoms: dict[str, object] = {}
    try:
        _train(buggy_meta_step, 1)
        symptoms["call_error"] = None
    except TypeError as err:
        symptoms["call_error"] = str(err)
        print(tr("1) buggy_meta_step raises TypeError: {error}", error=err))
    # with the call repaired, the "objective" ignores the targets entirely
    torch.manual_seed(0)
    learner, net = LinearLearner(), WeightGenerator()
    sx, sy, qx, qy = sample_linear_task(torch.Generator().manual_seed(1))
    grads = []
    for targets in (qy, 5.0 - qy):   # two different tasks' answers for the same inputs
        net.zero_grad()
        prediction = functional_call(learner, net(sx, sy), (qx,))
        objective = prediction.sum()   # what buggy_meta_step differentiates: `targets` is unused
        objective.backward()
        grads.append(torch.cat([p.grad.flatten() for p in net.parameters()]))
    symptoms["gradient_ignores_targets"] = bool(torch.equal(grads[0], grads[1]))
    print(tr("2) with the call repaired, the gradient of prediction.sum() is identical for two different "
             "sets of query targets: {identical}", identical=symptoms["gradient_ignores_targets"]))
    *_, losses = _train(_half_fixed_step, steps)
    symptoms["half_fixed_first_last_mse"] = (losses[0], sum(losses[-20:]) / 20)
    print(tr("3) training on the sum of outputs: query MSE {first:.3g} at the start, "
             "{last:.3g} after {steps} steps (it pushes the outputs down, "
             "whatever the data say)", first=losses[0], last=sum(losses[-20:]) / 20, steps=steps))
    return symptoms


def check_meta_step(fn, steps: int = 400) -> bool:
    """Exercise 6.6: ``fn(learner, generator_net, optimizer, task) -> float`` (the query loss)."""
    name = tr("Exercise 6.6")
    hint = tr("call the learner through torch.func.functional_call(learner, weights, (query_x,)), "
              "compute loss = F.mse_loss(prediction, query_y) and call loss.backward()")
    if fn is None:
        return not_attempted(name, hint)
    # 1) the gradient must equal the gradient of the query MSE
    torch.manual_seed(3)
    learner, net = LinearLearner(), WeightGenerator()
    reference_net = WeightGenerator()
    reference_net.load_state_dict(net.state_dict())
    task = sample_linear_task(torch.Generator().manual_seed(3))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.0)   # lr 0: keep the weights, read .grad
    try:
        value = fn(learner, net, optimizer, task)
    except Exception as err:
        return check_true(name, False, hint, failure=tr("calling it raised {error_type}: {error}",
                                                        error_type=type(err).__name__, error=err))
    if value is None:
        return not_attempted(name, hint)
    ref_opt = torch.optim.SGD(reference_net.parameters(), lr=0.0)
    ref_value = _reference_step(learner, reference_net, ref_opt, task)
    if any(p.grad is None for p in net.parameters()):
        return check_true(name, False, hint, failure=tr("no gradient reached the weight generator's parameters"))
    got = torch.cat([p.grad.flatten() for p in net.parameters()])
    want = torch.cat([p.grad.flatten() for p in reference_net.parameters()])
    if not torch.allclose(got, want, rtol=1e-4, atol=1e-6):
        return check_true(name, False, hint, failure=tr(
            "the gradient is not the gradient of the query MSE (is the loss the mean squared error "
            "between the prediction on query_x and query_y, and did you call zero_grad first?)"))
    if not math.isclose(float(value), ref_value, rel_tol=1e-4, abs_tol=1e-6):
        return check_true(name, False, hint, failure=tr("return the query loss ({want:.4g}), got {got}",
                                                        want=ref_value, got=value))
    # 2) training with it must work
    learner, net, losses = _train(fn, steps)
    held_out = [sample_linear_task(torch.Generator().manual_seed(100 + i)) for i in range(50)]
    before = _query_mse(LinearLearner(), WeightGenerator(), held_out)
    after = _query_mse(learner, net, held_out)
    return check_true(name, after < 0.3 * before, hint,
                      success=tr("held-out query MSE {before:.3f} -> {after:.3f} after {steps} tasks, "
                                 "with no gradient step at test time", before=before, after=after, steps=steps),
                      failure=tr("training did not reduce the held-out MSE enough ({before:.3f} -> {after:.3f})",
                                 before=before, after=after))
