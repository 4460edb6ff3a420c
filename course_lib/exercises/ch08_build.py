"""Checks for chapter 08, "Build it yourself: MeLU's meta-loss for a batch of new users".

Exercise 8.4: ``fn(model, item_x, tasks, inner_lr, steps) -> scalar``, the query loss after each
user's personal parameters took ``steps`` SGD steps on their summed support loss — compared, in
value and in its second-order meta-gradient, with :mod:`course_lib.recsys.melu` on seeded random
users; the typical wrong answers are named.
"""

from __future__ import annotations

import torch

from course_lib.exercises._core import _compare, _correct, _wrong, not_attempted
from course_lib.i18n import tr
from course_lib.recsys.melu import MeLU, adapt_users, query_predictions, rating_loss
from course_lib.recsys.tasks import UserTasks

__all__ = ["check_melu_meta_loss", "random_users"]


def random_users(seed: int, users: int = 4, k: int = 3, q: int = 5, items: int = 12, features: int = 5):
    """``(model, item_x [I, F], tasks)``: a small random MeLU and random users with padded queries."""
    g = torch.Generator().manual_seed(seed)
    model = MeLU(features, embed_dim=4, user_dim=3, hidden=6, seed=seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    mask = torch.rand(users, q, generator=g) < 0.7
    mask[:, 0] = True
    tasks = UserTasks(torch.randint(items, (users, k), generator=g), torch.randint(1, 11, (users, k), generator=g) / 2,
                      torch.randint(items, (users, q), generator=g), torch.randint(1, 11, (users, q), generator=g) / 2,
                      mask, torch.arange(users))
    return model, torch.rand(items, features, generator=g), tasks


def _variant(model, item_x, tasks, lr, steps, *, first_order=False, support=False, adapt=True, sign=1.0,
             mean_support=False, per_user=True, divide=True):
    """The meta-loss written right, or with one typical mistake."""
    phi = model.personal(len(tasks))
    x, y = item_x[tasks.support_item], tasks.support_rating
    for _ in range(steps if adapt else 0):
        err = (torch.func.functional_call(model, phi, (x,)) - y) ** 2
        loss = err.mean(1).sum() if mean_support else err.sum()
        grads = torch.autograd.grad(loss, list(phi.values()), create_graph=not first_order)
        phi = {n: p - sign * lr * g for (n, p), g in zip(phi.items(), grads)}
    if support:
        return rating_loss()(torch.func.functional_call(model, phi, (x,)), y) / len(tasks)
    pred = query_predictions(model, item_x, tasks, phi)
    if not per_user:
        m = tasks.query_mask
        return ((pred - tasks.query_rating) ** 2 * m).sum() / m.sum()
    return rating_loss(tasks.query_mask)(pred, tasks.query_rating) / (len(tasks) if divide else 1)


def _grads(loss, model):
    if not isinstance(loss, torch.Tensor) or not loss.requires_grad:
        return None
    return torch.autograd.grad(loss, list(model.parameters()), allow_unused=True, retain_graph=True)


def _same(a, b, rtol=1e-4, atol=1e-6) -> bool:
    return a is not None and b is not None and all(
        x is not None and y is not None and x.shape == y.shape and torch.allclose(x, y, rtol=rtol, atol=atol)
        for x, y in zip(a, b))


def _mistakes() -> list[tuple[dict, str]]:
    """``(_variant keyword arguments, what is wrong)`` for the typical wrong meta-losses."""
    return [
        ({"support": True}, tr("you scored the SUPPORT ratings after adapting to them: that measures memorising, not "
                               "predicting. MAML's meta-loss is the loss on each user's QUERY ratings")),
        ({"adapt": False}, tr("the query is scored with the starting parameters: adapt to the support ratings first")),
        ({"sign": -1.0}, tr("the inner step climbs the support loss (sign error): step phi - inner_lr * grad")),
        ({"mean_support": True}, tr("the inner loss averages each user's support errors; this chapter SUMS them, so "
                                    "that one rating moves a user less than twenty ratings do")),
        ({"per_user": False}, tr("you averaged over all query ratings of the batch: users with more query ratings "
                                 "weigh more. Take each user's mean over their real (mask) query ratings, then "
                                 "average over users")),
        ({"divide": False}, tr("you summed over users: divide by the number of users in the batch, len(tasks)")),
    ]


def check_melu_meta_loss(fn) -> bool:
    """Exercise 8.4: ``fn(model, item_x, tasks, inner_lr, steps)`` -> MAML's meta-loss on a batch of users."""
    name = tr("Exercise 8.4")
    hint = tr("phi = model.personal(len(tasks)); for each step: predictions with functional_call(model, phi, "
              "(item_x[tasks.support_item],)), the summed squared error on the support ratings, its gradient with "
              "respect to phi with create_graph=True, phi - inner_lr * grad; then each user's mean squared error on "
              "the masked query ratings, averaged over users")
    if fn is None:
        return not_attempted(name, hint)
    for i, (lr, steps) in enumerate([(0.05, 2), (0.1, 1), (0.02, 3)]):
        model, item_x, tasks = random_users(80 + i, users=3 + i, k=2 + i)
        try:
            got = fn(model, item_x, tasks, lr, steps)
        except NotImplementedError:
            return not_attempted(name, hint)
        except Exception as err:  # noqa: BLE001 - report the learner's error instead of raising it
            return _wrong(name, tr("calling it on test case {i} raised {error_type}: {error}", i=i,
                                   error_type=type(err).__name__, error=err), hint)
        if got is None:
            return not_attempted(name, hint) if i == 0 else _wrong(name, tr("it returned None on test case {i}", i=i),
                                                                   hint)
        phi = adapt_users(model, item_x, tasks, lr, steps)
        reference = rating_loss(tasks.query_mask)(query_predictions(model, item_x, tasks, phi), tasks.query_rating)
        reference = reference / len(tasks)
        problem = _compare(got, reference, 1e-4, 1e-6, tr("the meta-loss"))
        if problem is not None:
            for wrong, why in _mistakes() if isinstance(got, torch.Tensor) and got.numel() == 1 else []:
                if torch.allclose(got.detach().reshape(()), _variant(model, item_x, tasks, lr, steps, **wrong).detach(),
                                  rtol=1e-4, atol=1e-6):
                    return _wrong(name, why, hint)
            return _wrong(name, tr("on test case {i}: {problem}", i=i, problem=problem), hint)
        mine = _grads(got, model)
        if mine is None:
            return _wrong(name, tr("the loss has no autograd graph back to the model's parameters: do not detach, "
                                   "call .item() or wrap the loop in torch.no_grad()"), hint)
        if not _same(mine, _grads(reference, model)):
            if _same(mine, _grads(_variant(model, item_x, tasks, lr, steps, first_order=True), model)):
                return _wrong(name, tr("the value is right but the meta-gradient is first-order: pass create_graph=True "
                                       "to torch.autograd.grad so that the adapted parameters stay a differentiable "
                                       "function of the starting ones (second-order MAML)"), hint)
            return _wrong(name, tr("on test case {i} the value is right but the meta-gradient differs from MAML's", i=i),
                          hint)
    return _correct(name, tr("the query loss after adaptation, with MAML's second-order meta-gradient"))
