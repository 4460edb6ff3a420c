import pytest
import torch
from _fewshot_data import pattern_classes

from course_lib.experiments.metric_training import train_episodic
from course_lib.experiments.one_shot_eval import evaluate_episodes
from course_lib.algorithms.relation import RelationNet
from course_lib.data.episodes import EpisodeSampler


def test_shapes_and_shot_summation():
    torch.manual_seed(0)
    model = RelationNet(hidden=8, image_size=16)
    sx = torch.rand(6, 1, 16, 16)
    sy = torch.tensor([0, 0, 1, 1, 2, 2])
    qx = torch.rand(4, 1, 16, 16)
    scores = model(sx, sy, qx, 3)
    assert scores.shape == (4, 3)
    # the class feature map is a sum over shots, so the order of the support set does not matter
    perm = torch.tensor([5, 2, 0, 3, 1, 4])
    # BatchNorm uses batch statistics, which a permutation does not change
    assert torch.allclose(model(sx[perm], sy[perm], qx, 3), scores, atol=1e-5)
    loss = model.loss(scores, torch.tensor([0, 1, 2, 0]))
    assert loss.ndim == 0 and 0 <= loss.item() <= 1  # MSE of sigmoid scores vs one-hot


def test_relation_net_learns_pattern_classes():
    torch.manual_seed(0)
    images = pattern_classes(num_classes=30, flip=0.04, seed=0)
    train, test = images[:20], images[20:]
    model = RelationNet(hidden=8, image_size=16)
    before = evaluate_episodes(model, test, 5, 1, q_query=2, n_episodes=30, progress=False).mean
    train_episodic(model, EpisodeSampler(train, 5, 1, 2, seed=0), 150, lr=5e-3, progress=False)
    after = evaluate_episodes(model, test, 5, 1, q_query=2, n_episodes=30, progress=False).mean
    assert after > 0.7 and after > before + 0.3, (before, after)


def test_relation_net_rejects_bad_inputs():
    with pytest.raises(ValueError, match="loss"):
        RelationNet(loss="hinge")
    model = RelationNet(hidden=8, image_size=16)
    with pytest.raises(ValueError, match="labels"):
        model(torch.rand(2, 1, 16, 16), torch.tensor([0, 2]), torch.rand(1, 1, 16, 16), 2)
    with pytest.raises(ValueError, match="support example"):
        model(torch.rand(2, 1, 16, 16), torch.tensor([0, 0]), torch.rand(1, 1, 16, 16), 2)
    with pytest.raises(ValueError, match=r"\[B, C, H, W\]"):
        model.encoder(torch.rand(2, 16, 16))
