"""Chapter 08's checks accept the right answers, reject the typical wrong ones by name, and treat stubs as not attempted."""

import numpy as np
import torch

from course_lib.exercises.ch08 import check_fold_in, check_melu_meta_loss, check_ndcg, check_user_split


def split_right(user, test_fraction, seed):
    users = np.unique(user)
    test = np.random.default_rng(seed).permutation(users)[: round(test_fraction * len(users))]
    return np.isin(user, test)


def test_user_split(capsys):
    assert check_user_split(split_right)
    assert not check_user_split(lambda user, f, seed: np.random.default_rng(seed).random(len(user)) < f)
    assert "ratings, not users" in capsys.readouterr().out
    assert not check_user_split(lambda user, f, seed: split_right(user, f, 0))
    assert "seed is not used" in capsys.readouterr().out
    assert not check_user_split(lambda user, f, seed: None)
    assert "not attempted" in capsys.readouterr().out


def ndcg_right(scores, ratings, k):
    order = np.argsort(-np.asarray(scores))
    disc = 1 / np.log2(np.arange(2, len(scores) + 2))
    return float((np.asarray(ratings)[order] * disc)[:k].sum() / (np.sort(ratings)[::-1] * disc)[:k].sum())


def test_ndcg(capsys):
    assert check_ndcg(ndcg_right)
    assert not check_ndcg(lambda s, r, k: ndcg_right(-np.asarray(s), r, k))
    assert "lowest scores first" in capsys.readouterr().out
    assert not check_ndcg(lambda s, r, k: ndcg_right(s, 2.0 ** np.asarray(r) - 1, k))
    assert "2^rating - 1" in capsys.readouterr().out
    assert not check_ndcg(lambda s, r, k: ndcg_right(s, r, len(s)))
    assert "every rank" in capsys.readouterr().out
    assert not check_ndcg(None)


def fold_in_right(q, y, reg):
    x = torch.cat([torch.ones(len(q), 1, dtype=q.dtype), q], 1)
    return torch.linalg.solve(x.T @ x + reg * torch.eye(x.shape[1], dtype=q.dtype), x.T @ y)


def test_fold_in(capsys):
    assert check_fold_in(fold_in_right)
    assert not check_fold_in(lambda q, y, reg: fold_in_right(q, y, 0.0) if len(q) >= q.shape[1] + 1 else
                             torch.linalg.lstsq(torch.cat([torch.ones(len(q), 1, dtype=q.dtype), q], 1), y[:, None]).solution[:, 0])
    assert "no regularisation" in capsys.readouterr().out
    assert not check_fold_in(lambda q, y, reg: torch.linalg.solve(q.T @ q + reg * torch.eye(q.shape[1], dtype=q.dtype), q.T @ y))
    assert "shape" in capsys.readouterr().out            # the bias column is missing
    assert not check_fold_in(lambda q, y, reg: fold_in_right(q, y - y.mean(), reg))
    assert "centred" in capsys.readouterr().out


def meta_loss(model, item_x, tasks, inner_lr, steps, *, first_order=False, on_support=False):
    phi = model.personal(len(tasks))
    x, y = item_x[tasks.support_item], tasks.support_rating
    for _ in range(steps):
        loss = ((torch.func.functional_call(model, phi, (x,)) - y) ** 2).sum()
        grads = torch.autograd.grad(loss, list(phi.values()), create_graph=not first_order)
        phi = {n: p - inner_lr * g for (n, p), g in zip(phi.items(), grads)}
    if on_support:
        pred, target, mask = torch.func.functional_call(model, phi, (x,)), y, torch.ones_like(y, dtype=torch.bool)
    else:
        pred, target, mask = torch.func.functional_call(model, phi, (item_x[tasks.query_item],)), tasks.query_rating, tasks.query_mask
    return (((pred - target) ** 2 * mask).sum(1) / mask.sum(1)).mean()


def test_melu_meta_loss(capsys):
    assert check_melu_meta_loss(meta_loss)
    assert not check_melu_meta_loss(lambda *a: meta_loss(*a, first_order=True))
    assert "first-order" in capsys.readouterr().out
    assert not check_melu_meta_loss(lambda *a: meta_loss(*a, on_support=True))
    assert "SUPPORT" in capsys.readouterr().out
    assert not check_melu_meta_loss(lambda m, x, t, lr, steps: meta_loss(m, x, t, -lr, steps))
    assert "sign" in capsys.readouterr().out
    assert not check_melu_meta_loss(lambda *a: None)
    assert "not attempted" in capsys.readouterr().out
