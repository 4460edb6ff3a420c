"""Episode sampler invariants (property-based) and the error messages for impossible requests."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from course_lib.data.episodes import Episode, EpisodeSampler, TaskBatch

SIDE = 6  # small square images keep the tests fast


def identity_images(num_classes: int, per_class: int) -> torch.Tensor:
    """Images [C, M, SIDE, SIDE] whose value is a unique id c*M + m + 1, with a marker (-1) in the
    top-left corner so that rotations can be recognised from where the marker ends up."""
    ids = torch.arange(num_classes * per_class, dtype=torch.float32).view(num_classes, per_class) + 1
    images = ids[:, :, None, None].expand(num_classes, per_class, SIDE, SIDE).clone()
    images[:, :, 0, 0] = -1.0
    return images


def decode(x: torch.Tensor, per_class: int):
    """[B, 1, H, W] -> (base class [B], example index [B], quarter turns [B])."""
    ids = x.amax(dim=(-3, -2, -1)).long() - 1
    corners = torch.stack([x[:, 0, 0, 0], x[:, 0, -1, 0], x[:, 0, -1, -1], x[:, 0, 0, -1]], dim=1)
    turns = (corners == -1).float().argmax(dim=1)  # rot90 (counter-clockwise) moves top-left to bottom-left
    return ids // per_class, ids % per_class, turns


@st.composite
def sampler_args(draw):
    num_classes = draw(st.integers(1, 12))
    per_class = draw(st.integers(2, 8))
    rotations = draw(st.booleans())
    total = num_classes * (4 if rotations else 1)
    n_way = draw(st.integers(1, total))
    k_shot = draw(st.integers(1, per_class - 1))
    q_query = draw(st.integers(1, per_class - k_shot))
    seed = draw(st.integers(0, 2**31 - 1))
    return num_classes, per_class, n_way, k_shot, q_query, rotations, seed


@settings(max_examples=60, deadline=None)
@given(sampler_args())
def test_episode_invariants(args):
    num_classes, per_class, n, k, q, rotations, seed = args
    sampler = EpisodeSampler(identity_images(num_classes, per_class), n, k, q, rotations=rotations, seed=seed)
    ep = sampler.sample()
    # sizes
    assert ep.support_x.shape == (n * k, 1, SIDE, SIDE)
    assert ep.query_x.shape == (n * q, 1, SIDE, SIDE)
    assert ep.support_y.shape == (n * k,) and ep.query_y.shape == (n * q,)
    assert ep.support_y.dtype == torch.long and ep.query_y.dtype == torch.long
    # label ranges and counts: every label 0..N-1 has exactly K support and Q query examples
    assert torch.equal(torch.bincount(ep.support_y, minlength=n), torch.full((n,), k))
    assert torch.equal(torch.bincount(ep.query_y, minlength=n), torch.full((n,), q))
    # every class of the episode is distinct
    assert ep.classes.shape == (n,)
    assert len(set(ep.classes.tolist())) == n
    assert int(ep.classes.max()) < sampler.num_classes
    # images of label i really come from class classes[i] (with its rotation)
    for x, y in ((ep.support_x, ep.support_y), (ep.query_x, ep.query_y)):
        base, _, turns = decode(x, per_class)
        cls = ep.classes[y]
        assert torch.equal(base, cls % num_classes)
        assert torch.equal(turns, cls // num_classes)
    # support and query are disjoint, and no example appears twice
    sb, se, st_ = decode(ep.support_x, per_class)
    qb, qe, qt = decode(ep.query_x, per_class)
    support_ids = set(zip(sb.tolist(), se.tolist(), st_.tolist()))
    query_ids = set(zip(qb.tolist(), qe.tolist(), qt.tolist()))
    assert len(support_ids) == n * k and len(query_ids) == n * q
    assert not support_ids & query_ids


@settings(max_examples=25, deadline=None)
@given(sampler_args())
def test_same_seed_same_episodes(args):
    num_classes, per_class, n, k, q, rotations, seed = args
    images = identity_images(num_classes, per_class)
    a = EpisodeSampler(images, n, k, q, rotations=rotations, seed=seed)
    b = EpisodeSampler(images, n, k, q, rotations=rotations, seed=seed)
    for _ in range(3):
        torch.manual_seed(seed + 1)  # the global random state must not matter
        ea = a.sample()
        torch.rand(5)
        eb = b.sample()
        for name in ("support_x", "support_y", "query_x", "query_y", "classes"):
            assert torch.equal(getattr(ea, name), getattr(eb, name))


def test_different_seeds_differ_and_reseed_restarts():
    images = identity_images(20, 5)
    a, b = EpisodeSampler(images, 5, 1, 2, seed=0), EpisodeSampler(images, 5, 1, 2, seed=1)
    first = [a.sample().classes for _ in range(3)]
    assert any(not torch.equal(x, b.sample().classes) for x in first)
    a.reseed(0)
    assert all(torch.equal(x, a.sample().classes) for x in first)


def test_labels_are_reassigned_randomly():
    """With N = C every episode uses all classes, so only the label assignment can change."""
    sampler = EpisodeSampler(identity_images(5, 4), 5, 1, 1, seed=0)
    label_of_class0 = {int((sampler.sample().classes == 0).nonzero()) for _ in range(40)}
    assert label_of_class0 == {0, 1, 2, 3, 4}


def test_rotations_multiply_classes_and_rotate():
    images = identity_images(3, 4)
    sampler = EpisodeSampler(images, 12, 1, 1, rotations=True, seed=3)
    assert sampler.num_classes == 12
    ep = sampler.sample()
    assert sorted(ep.classes.tolist()) == list(range(12))
    label = int((ep.classes == 1 * 3 + 2).nonzero())  # class 2 rotated by 90 degrees
    x = ep.support_x[ep.support_y == label]  # [1, 1, H, W]
    base, example, turns = decode(x, 4)
    assert int(base) == 2 and int(turns) == 1
    assert x[0, 0, -1, 0] == -1 and x[0, 0, 0, 0] != -1  # the marker moved to the bottom-left corner
    assert torch.equal(x[0, 0], torch.rot90(images[2, int(example)], 1, dims=(0, 1)))


def test_state_dict_round_trip():
    sampler = EpisodeSampler(identity_images(10, 5), 3, 2, 2, seed=7)
    sampler.sample()
    saved = sampler.state_dict()
    expected = sampler.sample()
    sampler.sample()
    sampler.load_state_dict(saved)
    assert torch.equal(sampler.sample().support_x, expected.support_x)


def test_task_batch_stack_index_iterate():
    sampler = EpisodeSampler(identity_images(10, 6), 4, 2, 3, seed=0)
    batch = sampler.sample_batch(5)
    assert isinstance(batch, TaskBatch) and len(batch) == 5
    assert batch.support_x.shape == (5, 8, 1, SIDE, SIDE)
    assert batch.query_y.shape == (5, 12) and batch.classes.shape == (5, 4)
    episodes = list(batch)
    assert len(episodes) == 5 and isinstance(episodes[2], Episode)
    assert torch.equal(batch[2].query_x, batch.query_x[2])
    assert torch.equal(batch[-1].support_y, batch.support_y[4])
    restacked = TaskBatch.stack(episodes)
    assert torch.equal(restacked.support_x, batch.support_x)
    moved = batch.to("cpu")
    assert moved.support_x.device.type == "cpu" and batch[0].to("cpu").n_way == 4
    with pytest.raises(IndexError):
        batch[5]


def test_stack_rejects_mismatched_episodes():
    images = identity_images(10, 6)
    a = EpisodeSampler(images, 4, 1, 1).sample()
    b = EpisodeSampler(images, 5, 1, 1).sample()
    with pytest.raises(ValueError, match="same N-way"):
        TaskBatch.stack([a, b])
    with pytest.raises(ValueError, match="at least one"):
        TaskBatch.stack([])


def test_generic_episode_without_classes():
    x = torch.randn(3, 5, 1)
    episodes = [Episode(x[i], x[i, :, 0], x[i], x[i, :, 0]) for i in range(3)]
    batch = TaskBatch.stack(episodes)
    assert batch.classes is None and batch.support_x.shape == (3, 5, 1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_way=30), r"n_way=30 but only 20 classes; choose n_way <= 20"),
        (dict(n_way=81, rotations=True), r"n_way=81 but only 80 classes .*choose n_way <= 80"),
        (dict(k_shot=3, q_query=3), r"each class has only 5 examples; choose k_shot \+ q_query <= 5"),
        (dict(k_shot=0), r"k_shot=0 is not possible; choose k_shot >= 1"),
        (dict(q_query=-1), r"q_query=-1 is not possible; choose q_query >= 1"),
        (dict(n_way=0), r"n_way=0 is not possible"),
        (dict(n_way=2.5), r"n_way must be a positive integer"),
    ],
)
def test_impossible_requests_say_what_is_possible(kwargs, message):
    args = dict(n_way=5, k_shot=1, q_query=1)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        EpisodeSampler(identity_images(20, 5), **args)


def test_wrong_image_rank_and_shape():
    with pytest.raises(ValueError, match=r"4 dimensions .*got shape \[5, 6, 6\]"):
        EpisodeSampler(torch.zeros(5, 6, 6), 2, 1, 1)
    with pytest.raises(ValueError, match=r"squeeze\(2\)"):
        EpisodeSampler(torch.zeros(5, 4, 1, 6, 6), 2, 1, 1)
    with pytest.raises(ValueError, match="square"):
        EpisodeSampler(torch.zeros(5, 4, 6, 8), 2, 1, 1, rotations=True)
    with pytest.raises(ValueError, match="meta_batch_size"):
        EpisodeSampler(torch.zeros(5, 4, 6, 6), 2, 1, 1).sample_batch(0)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_sampler_on_cuda_matches_cpu():
    images = identity_images(10, 6)
    cpu = EpisodeSampler(images, 5, 1, 2, rotations=True, seed=4).sample_batch(3)
    gpu = EpisodeSampler(images.cuda(), 5, 1, 2, rotations=True, seed=4).sample_batch(3)
    assert gpu.support_x.is_cuda and gpu.support_y.is_cuda
    assert torch.equal(gpu.support_x.cpu(), cpu.support_x) and torch.equal(gpu.query_y.cpu(), cpu.query_y)
