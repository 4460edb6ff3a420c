"""Tests of the task streams, the continual learners, the stream runner (lifelong) and the accuracy-matrix metrics."""

import numpy as np
import pytest
import torch

from course_lib.algorithms.continual import (
    ExperienceReplay,
    NaiveFineTuning,
    SequentialProtoNet,
    prototype_logits,
)
from course_lib.analysis.continual_metrics import (
    average_accuracy,
    backward_transfer,
    first_task_drop,
    forgetting,
    forward_transfer,
    plot_accuracy_matrices,
)
from course_lib.data.task_streams import TaskStream
from course_lib.experiments.lifelong import compare_learners, run_stream, summarize


def synthetic_charset(num_alphabets=3, classes=(4, 5, 3), drawings=10, size=16, seed=0):
    """Characters = fixed random binary patterns; drawings = pattern + pixel noise. Returns images, alphabets, names."""
    g = torch.Generator().manual_seed(seed)
    sizes = list(classes)[:num_alphabets]
    total = sum(sizes)
    patterns = (torch.rand(total, size, size, generator=g) < 0.3).float()
    noise = 0.35 * torch.randn(total, drawings, size, size, generator=g)
    images = (patterns[:, None] + noise).clamp(0, 1)
    alphabets = [f"alpha{a}" for a, n in enumerate(sizes) for _ in range(n)]
    # interleave characters of different alphabets so that grouping is really tested
    perm = torch.randperm(total, generator=g)
    images = images[perm]
    alphabets = [alphabets[i] for i in perm.tolist()]
    characters = [f"{a}/char{i}" for i, a in enumerate(alphabets)]
    return images, alphabets, characters


@pytest.fixture(scope="module")
def stream():
    torch.manual_seed(0)
    images, alphabets, characters = synthetic_charset()
    return TaskStream(images, alphabets, characters, train_per_class=7, memory_per_class=2, seed=0)


# ------------------------------------------------------------------ stream


def test_stream_order_and_no_class_overlap(stream):
    images, alphabets, _ = synthetic_charset()
    # default order: first appearance in the character set
    assert stream.names == list(dict.fromkeys(alphabets))
    assert [t.index for t in stream] == [0, 1, 2]
    seen = set()
    for task in stream:
        ids = set(task.class_ids.tolist())
        assert not ids & seen, "a character appears in two tasks"
        seen |= ids
        assert all(alphabets[i] == task.name for i in ids)
        C = task.num_classes
        assert task.train_x.shape == (C * 7, 1, 16, 16) and task.test_x.shape == (C * 3, 1, 16, 16)
        assert task.memory_x.shape == (C * 2, 1, 16, 16)
        assert task.train_y.max() == C - 1 and task.test_y.min() == 0
        # memory is a subset of the training drawings, test drawings are disjoint from training ones
        train_rows = {tuple(r.flatten().tolist()) for r in task.train_x}
        assert all(tuple(r.flatten().tolist()) in train_rows for r in task.memory_x)
        assert not any(tuple(r.flatten().tolist()) in train_rows for r in task.test_x)
        # labels point at the right source characters
        for label in range(C):
            source = images[task.class_ids[label]]
            drawn = task.test_x[task.test_y == label][:, 0]
            assert all(any(torch.equal(d, s) for s in source) for d in drawn)
    assert seen == set(range(len(alphabets)))


def test_stream_explicit_and_shuffled_order():
    images, alphabets, _ = synthetic_charset()
    s = TaskStream(images, alphabets, order=["alpha2", "alpha0"], train_per_class=7)
    assert s.names == ["alpha2", "alpha0"] and len(s) == 2
    a = TaskStream(images, alphabets, order="shuffle", seed=3, train_per_class=7).names
    b = TaskStream(images, alphabets, order="shuffle", seed=3, train_per_class=7).names
    assert a == b and sorted(a) == ["alpha0", "alpha1", "alpha2"]


def test_stream_bad_arguments():
    images, alphabets, _ = synthetic_charset()
    with pytest.raises(ValueError, match="unknown alphabet"):
        TaskStream(images, alphabets, order=["alpha0", "Klingon"], train_per_class=7)
    with pytest.raises(ValueError, match="twice"):
        TaskStream(images, alphabets, order=["alpha0", "alpha0"], train_per_class=7)
    with pytest.raises(ValueError, match="train_per_class"):
        TaskStream(images, alphabets, train_per_class=10)
    with pytest.raises(ValueError, match="test_per_class"):
        TaskStream(images, alphabets, train_per_class=7, test_per_class=4)
    short = TaskStream(images, alphabets, train_per_class=7, test_per_class=2)
    assert all(t.test_x.shape[0] == 2 * t.num_classes for t in short)
    with pytest.raises(ValueError, match="memory_per_class"):
        TaskStream(images, alphabets, train_per_class=5, memory_per_class=6)
    with pytest.raises(ValueError, match="alphabets has"):
        TaskStream(images, alphabets[:-1], train_per_class=7)
    with pytest.raises(ValueError, match=r"\[characters, drawings, H, W\]"):
        TaskStream(images[0], alphabets, train_per_class=7)
    with pytest.raises(ValueError, match="order must be"):
        TaskStream(images, alphabets, order="random", train_per_class=7)


# ------------------------------------------------------------------ metrics on hand-made matrices

R3 = np.array(
    [
        [0.90, 0.10, 0.20],
        [0.60, 0.80, 0.30],
        [0.50, 0.70, 0.95],
    ]
)


def test_metrics_hand_made():
    assert average_accuracy(R3) == pytest.approx((0.50 + 0.70 + 0.95) / 3)
    assert backward_transfer(R3) == pytest.approx(((0.50 - 0.90) + (0.70 - 0.80)) / 2)
    assert forward_transfer(R3, [0.1, 0.05, 0.25]) == pytest.approx(((0.10 - 0.05) + (0.30 - 0.25)) / 2)
    assert forgetting(R3) == pytest.approx(((0.90 - 0.50) + (0.80 - 0.70)) / 2)
    assert first_task_drop(R3) == pytest.approx(0.40)


def test_forgetting_uses_best_earlier_accuracy_not_diagonal():
    # task 0 improves after task 1 (positive transfer) then drops: BWT sees +0.0, forgetting sees 0.2
    R = np.array([[0.5, 0.0, 0.0], [0.7, 0.8, 0.0], [0.5, 0.8, 0.9]])
    assert backward_transfer(R) == pytest.approx(0.0)
    assert forgetting(R) == pytest.approx(0.1)  # ((0.7-0.5) + (0.8-0.8)) / 2
    # no forgetting at all: perfect memory
    perfect = np.triu(np.ones((4, 4))).T
    assert backward_transfer(perfect) == 0 and forgetting(perfect) == 0 and average_accuracy(perfect) == 1


def test_metrics_bad_input():
    with pytest.raises(ValueError, match="square"):
        backward_transfer(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="at least 2 tasks"):
        backward_transfer(np.ones((1, 1)))
    with pytest.raises(ValueError, match="NaN"):
        average_accuracy(np.array([[np.nan, 0], [0, 1.0]]))
    with pytest.raises(ValueError, match="one accuracy per task"):
        forward_transfer(R3, [0.1, 0.2])


def test_prototype_logits():
    support = torch.tensor([[0.0, 0.0], [2.0, 0.0], [10.0, 10.0], [10.0, 12.0]])
    labels = torch.tensor([0, 0, 1, 1])
    query = torch.tensor([[1.0, 1.0], [9.0, 11.0]])
    logits = prototype_logits(support, labels, query)
    expected = -torch.tensor([[0.0 + 1.0, 81.0 + 100.0], [64.0 + 121.0, 1.0 + 0.0]])
    torch.testing.assert_close(logits, expected)
    with pytest.raises(ValueError, match="no support example"):
        prototype_logits(support, torch.tensor([0, 0, 2, 2]), query)
    with pytest.raises(ValueError, match="same D"):
        prototype_logits(support, labels, torch.zeros(2, 3))


# ------------------------------------------------------------------ learners on a tiny stream


@pytest.mark.parametrize("cls", [NaiveFineTuning, ExperienceReplay, SequentialProtoNet])
def test_each_learner_learns_the_tiny_stream(stream, cls):
    torch.set_num_threads(1)
    extra = {"n_way": 3, "q_query": 3} if cls is SequentialProtoNet else {"batch_size": 16}
    learner = cls(stream, hidden=16, lr=3e-3, seed=0, **extra)
    result = run_stream(learner, steps_per_task=40, progress=False)
    R = result.matrix
    chance = np.array([1 / c for c in stream.num_classes])
    assert R.shape == (3, 3) and result.initial.shape == (3,)
    # every task is learned well above chance right after training on it
    assert np.all(np.diag(R) > chance + 0.3), (cls.name, np.diag(R), chance)
    assert result.metrics()["average_accuracy"] > chance.mean() + 0.2
    assert learner.seen == [0, 1, 2]
    assert len(result.losses) == 3 and all(len(l) == 40 for l in result.losses)
    assert np.mean(result.losses[0][-10:]) < np.mean(result.losses[0][:5])


def test_replay_memory_grows_with_seen_tasks(stream):
    learner = ExperienceReplay(stream, hidden=8, seed=0, batch_size=8)
    x, y, ids = learner.memory()
    assert x.shape[0] == 0
    learner.learn_task(0, 1)
    learner.learn_task(1, 1)
    x, y, ids = learner.memory()
    assert x.shape[0] == 2 * (stream[0].num_classes + stream[1].num_classes)
    assert set(ids.tolist()) == {0, 1}
    assert y[ids == 1].max() == stream[1].num_classes - 1


def test_only_current_head_and_body_move_without_replay(stream):
    """Naive fine-tuning never touches an old head (forgetting comes from the shared body);
    experience replay does update old heads through the replayed items."""
    naive = NaiveFineTuning(stream, hidden=8, seed=0, batch_size=8)
    replay = ExperienceReplay(stream, hidden=8, seed=0, batch_size=8)
    for learner in (naive, replay):
        learner.learn_task(0, 3)
        head0 = learner.heads[0].weight.detach().clone()
        body = learner.body.encoder[0].conv.weight.detach().clone()
        learner.learn_task(1, 3)
        assert not torch.equal(body, learner.body.encoder[0].conv.weight)
        moved = not torch.equal(head0, learner.heads[0].weight)
        assert moved == (learner is replay), learner.name


def test_learner_bad_arguments(stream):
    with pytest.raises(TypeError, match="TaskStream"):
        NaiveFineTuning([1, 2, 3])
    with pytest.raises(ValueError, match="batch_size"):
        NaiveFineTuning(stream, batch_size=0)
    with pytest.raises(ValueError, match="lr"):
        NaiveFineTuning(stream, lr=-1.0)
    with pytest.raises(ValueError, match="n_way"):
        SequentialProtoNet(stream, n_way=1)
    with pytest.raises(ValueError, match="lower q_query"):
        SequentialProtoNet(stream, q_query=6)
    learner = NaiveFineTuning(stream, hidden=8)
    with pytest.raises(IndexError, match="out of range"):
        learner.learn_task(3, 1)
    with pytest.raises(ValueError, match="steps"):
        learner.learn_task(0, -1)
    with pytest.raises(ValueError, match="factories is empty"):
        compare_learners({}, [0], 1)
    with pytest.raises(ValueError, match="seeds is empty"):
        compare_learners({"n": lambda s: NaiveFineTuning(stream, hidden=8, seed=s)}, [], 1)


def test_compare_summarize_and_plot(stream):
    import matplotlib

    matplotlib.use("Agg")
    factories = {"naive": lambda seed: NaiveFineTuning(stream, hidden=8, seed=seed, batch_size=8)}
    results = compare_learners(factories, seeds=[0, 1], steps_per_task=2, probe=True, progress=False)
    assert [r.seed for r in results["naive"]] == [0, 1]
    assert results["naive"][0].probe.shape == (3, 3)
    table = summarize(results)
    mean, half = table["naive"]["average_accuracy"]
    values = [r.metrics()["average_accuracy"] for r in results["naive"]]
    assert mean == pytest.approx(np.mean(values)) and half >= 0
    fig = plot_accuracy_matrices({"naive": results["naive"][0].matrix}, stream.names)
    assert len(fig.axes) == 2  # one heatmap + colorbar
    with pytest.raises(ValueError, match="task names"):
        plot_accuracy_matrices({"naive": results["naive"][0].matrix}, stream.names[:2])
