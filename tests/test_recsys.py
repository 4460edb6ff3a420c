"""Cold-start recommendation: user splits and views, baselines, MF fold-in, MeLU adaptation, prototypes, metrics."""

import numpy as np
import pytest
import torch

from course_lib.data.movielens import MovieLens
from course_lib.recsys.baselines import GlobalMean, ItemMean, Popularity
from course_lib.recsys.evaluation import evaluate_methods, ndcg_at, paired_difference
from course_lib.recsys.melu import (
    MeLU,
    adapt_users,
    maml_train,
    pretrain_user_table,
    rating_loss,
)
from course_lib.recsys.mf import BiasedMF, fold_in
from course_lib.recsys.prototypes import PrototypeUsers, kmeans
from course_lib.recsys.tasks import UserTaskSampler, item_features, ratings_of, split_users, user_tasks


def toy_data(users=30, items=50, seed=0) -> MovieLens:
    """Users with 25-45 ratings each: a user taste (+-1) times an item sign, plus noise, clipped to 0.5..5."""
    rng = np.random.default_rng(seed)
    taste, sign = rng.choice([-1.0, 1.0], users), rng.choice([-1.0, 1.0], items)
    rows = []
    for u in range(users):
        for t, i in enumerate(rng.choice(items, rng.integers(25, 46), replace=False)):
            rows.append((u, i, np.clip(3 + taste[u] * sign[i] + 0.3 * rng.normal(), 0.5, 5), 1000 - t))
    u, i, r, ts = (np.array(c) for c in zip(*rows))
    genres = (rng.random((items, 3)) < 0.4).astype(np.float32)
    genres[:, 0] = sign > 0                                      # genre 0 = the item's sign: features predict ratings
    return MovieLens(u.astype(np.int64), i.astype(np.int64), r.astype(np.float32), ts.astype(np.int64),
                     np.arange(users) + 1, np.arange(items) + 1, [f"movie {j}" for j in range(items)],
                     ["A", "B", "C"], genres, np.full(items, 2000.0, np.float32))


def test_split_users_is_a_seeded_partition():
    parts = split_users(50, {"train": 0.6, "val": 0.1, "test": 0.3}, seed=3)
    assert [len(p) for p in parts.values()] == [30, 5, 15]
    assert sorted(np.concatenate(list(parts.values()))) == list(range(50))
    assert all(np.array_equal(a, b) for a, b in zip(parts.values(), split_users(50, {"train": 0.6, "val": 0.1,
                                                                                      "test": 0.3}, seed=3).values()))
    with pytest.raises(ValueError, match="sum to 1"):
        split_users(10, {"train": 0.5, "test": 0.3})


def test_user_tasks_follow_time_and_keep_the_query_fixed():
    data = toy_data()
    tasks = user_tasks(data, np.arange(30), k_max=20, query_len=10, min_query=5)
    assert tasks.k == 20 and tasks.query_item.shape[1] == 10 and (tasks.query_mask.sum(1) >= 5).all()
    u = int(tasks.user[0])
    rows = np.where(data.user == u)[0]
    in_time = data.item[rows[np.argsort(data.timestamp[rows], kind="stable")]]
    assert tasks.support_item[0].tolist() == in_time[:20].tolist()
    assert tasks.query_item[0].tolist() == in_time[20:30].tolist()       # later than every support rating
    five = tasks.first(5)
    assert five.k == 5 and torch.equal(five.query_item, tasks.query_item)
    with pytest.raises(ValueError, match="k must lie"):
        tasks.first(21)
    short = user_tasks(data, np.arange(30), k_max=20, query_len=50, min_query=24)
    assert len(short) < len(tasks) and (short.query_mask.sum(1) >= 24).all()


def test_item_features_ignore_ratings_of_users_outside_training():
    data = toy_data()
    train = np.arange(20)
    before = item_features(data, train)
    data.rating[data.user >= 20] = 5.0                          # change only the other users' ratings
    assert np.array_equal(before, item_features(data, train))
    assert before.shape == (50, 3 + 3)


def test_baselines():
    data = toy_data()
    _, item, rating = ratings_of(data, np.arange(30))
    tasks = user_tasks(data, np.arange(30), k_max=20, query_len=10)
    assert torch.allclose(GlobalMean(rating).predict(tasks), torch.tensor(float(rating.mean())))
    raw, shrunk = ItemMean(item, rating, 51, shrinkage=0.0), ItemMean(item, rating, 51, shrinkage=1e6)
    assert abs(float(raw.means[3]) - rating[item == 3].mean()) < 1e-5
    assert torch.allclose(shrunk.means, torch.tensor(float(rating.mean())), atol=1e-3)
    assert float(raw.means[50]) == pytest.approx(rating.mean())       # an item nobody rated: the global mean
    assert Popularity(item, 51).predict(tasks).max() <= 30


def test_fold_in_is_the_ridge_solution_and_its_gradient_vanishes():
    g = torch.Generator().manual_seed(0)
    q, y = torch.randn(3, 4, 2, generator=g, dtype=torch.float64), torch.randn(3, 4, generator=g, dtype=torch.float64)
    theta = fold_in(q, y, reg=0.7).requires_grad_(True)
    x = torch.cat([torch.ones(3, 4, 1, dtype=q.dtype), q], -1)
    objective = ((x @ theta[..., None]).squeeze(-1) - y).pow(2).sum() + 0.7 * theta.pow(2).sum()
    assert torch.autograd.grad(objective, theta)[0].abs().max() < 1e-10
    assert fold_in(q[:, :0], y[:, :0], 1.0).abs().max() == 0          # no rating: b_u = 0, p_u = 0
    with pytest.raises(ValueError, match="reg must be > 0"):
        fold_in(q, y, 0.0)


def test_mf_learns_and_fold_in_beats_the_item_bias_on_new_users():
    data = toy_data(users=60)
    user, item, rating = ratings_of(data, np.arange(40))
    mf = BiasedMF(40, 50, dim=2, mu=float(rating.mean()))
    losses = mf.fit(user, item, rating, reg=0.01, steps=200, lr=0.05)
    assert losses[-1] < 0.5 * losses[0]
    new = user_tasks(data, np.arange(40, 60), k_max=20, query_len=10)
    err = lambda pred: float(((pred - new.query_rating) ** 2)[new.query_mask].mean())  # noqa: E731
    assert err(mf.predict(new, reg=1.0)) < 0.5 * err(mf.predict(new.first(0), reg=1.0))
    protos = PrototypeUsers(mf, user, item, rating, num_prototypes=2)
    w = protos.weights(new)
    assert torch.allclose(w.sum(1), torch.ones(len(new)))
    assert torch.allclose(protos.weights(new.first(0)), protos.log_prior.exp().expand_as(w))
    assert err(protos.predict(new)) < err(protos.predict(new.first(0)))


def test_kmeans_finds_two_obvious_clusters():
    points = torch.cat([torch.randn(20, 2) * 0.1, torch.randn(20, 2) * 0.1 + 5])
    _, assignment = kmeans(points, 2)
    assert len(set(assignment[:20].tolist())) == 1 and set(assignment[:20].tolist()) != set(assignment[20:].tolist())


def test_melu_adapts_each_user_on_their_own_support_and_meta_trains():
    data = toy_data()
    x = torch.as_tensor(item_features(data, np.arange(20)))
    tasks = user_tasks(data, np.arange(30), k_max=20, query_len=10)
    model = MeLU(x.shape[1], embed_dim=8, user_dim=4, hidden=8, mu=3.0)
    support = lambda phi: rating_loss()(torch.func.functional_call(model, phi, (x[tasks.support_item],)),  # noqa: E731
                                        tasks.support_rating)
    with torch.no_grad():
        phi = adapt_users(model, x, tasks, inner_lr=0.003, steps=5)
        before, after = support(model.personal(len(tasks))), support(phi)
        alone = adapt_users(model, x, tasks.subset([2]), inner_lr=0.003, steps=5)
    assert after < before and phi["hidden_w"].shape == (len(tasks), 8, 12)
    assert all(torch.allclose(alone[n][0], phi[n][2], atol=1e-6) for n in phi)    # users do not interact
    assert adapt_users(model, x, tasks.first(0))["user"].shape == (len(tasks), 4)  # k = 0: no step
    history = maml_train(model, x, UserTaskSampler(tasks, [5, 10, 20], 16), 60, lr=1e-2, progress=False)
    losses = history.records["loss"]
    assert np.mean(losses[-10:]) < np.mean(losses[:10])
    table = pretrain_user_table(MeLU(x.shape[1], user_dim=4), x, tasks, 20, progress=False)
    assert table.shape == (len(tasks), 4)


def test_ndcg_perfect_reversed_and_ties():
    r = np.array([5.0, 4.0, 3.0, 1.0])
    assert ndcg_at(r, r) == pytest.approx(1.0)
    assert ndcg_at(-r, r) < 0.8
    # a constant score is the expected DCG of a random order, whatever order the data came in
    assert ndcg_at(np.zeros(4), r) == pytest.approx(ndcg_at(np.zeros(4), r[::-1]))
    assert ndcg_at(np.zeros(4), r) == pytest.approx(r.mean() * (1 / np.log2(np.arange(2, 6))).sum()
                                                    / (r * (1 / np.log2(np.arange(2, 6)))).sum())


def test_evaluate_methods_and_paired_difference():
    data = toy_data()
    _, item, rating = ratings_of(data, np.arange(20))
    tasks = user_tasks(data, np.arange(20, 30), k_max=20, query_len=10)
    gm, pop = GlobalMean(rating), Popularity(item, 50)
    result = evaluate_methods({"mean": gm.predict, "pop": pop.predict}, tasks, ranking_only=("pop",), n_boot=50)
    assert set(result["mean"]) == {"RMSE", "MAE", "nDCG@10"} and set(result["pop"]) == {"nDCG@10"}
    r = result["mean"]["RMSE"]
    assert r["low"] <= r["value"] <= r["high"]
    oracle = lambda t: t.query_rating                                            # noqa: E731
    diff = paired_difference(oracle(tasks), gm.predict(tasks), tasks, "RMSE", n_boot=50)
    assert diff["diff"] < 0 and diff["high"] < 0 and diff["p_a_better"] == 0.0
