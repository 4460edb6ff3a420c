import pytest
import torch
from _fewshot_data import blob_classes, mlp_encoder

from course_lib.experiments.metric_training import train_siamese
from course_lib.experiments.one_shot_eval import evaluate_episodes
from course_lib.algorithms.siamese import PairSampler, SiameseNet, sample_pairs


def test_pairs_are_balanced_and_correct():
    # class c is filled with the value c, so a pair is "same" iff both images have the same value
    images = torch.arange(6.0)[:, None, None, None].expand(6, 5, 4, 4).clone()
    images += 0.01 * torch.arange(5.0)[None, :, None, None]  # drawing index in the decimals
    x1, x2, same = sample_pairs(images, 40, torch.Generator().manual_seed(0))
    assert x1.shape == (40, 1, 4, 4) and same.sum() == 20
    c1, c2 = x1[:, 0, 0, 0].floor(), x2[:, 0, 0, 0].floor()
    assert torch.equal((c1 == c2).float(), same)
    # same pairs use two different drawings
    assert (x1[:20, 0, 0, 0] != x2[:20, 0, 0, 0]).all()


def test_rotated_pairs_rotate_both_images_of_a_same_pair():
    g = torch.Generator().manual_seed(0)
    images = (torch.rand(5, 3, 6, 6, generator=g) < 0.5).float()
    images[:, :] = images[:, :1]  # all drawings of a class identical
    x1, x2, _ = sample_pairs(images, 20, torch.Generator().manual_seed(1), rotations=True)
    assert torch.equal(x1[:10], x2[:10])


def test_bad_pair_requests():
    with pytest.raises(ValueError, match="even"):
        sample_pairs(torch.rand(3, 4, 4, 4), 3)
    with pytest.raises(ValueError, match="at least 2 classes"):
        sample_pairs(torch.rand(1, 4, 4, 4), 4)
    with pytest.raises(ValueError, match=r"\[classes, drawings, H, W\]"):
        sample_pairs(torch.rand(3, 4, 4), 4)
    with pytest.raises(ValueError, match="same shape"):
        SiameseNet(mlp_encoder(), embed_dim=8).pair_logits(torch.rand(2, 1, 4, 4), torch.rand(3, 1, 4, 4))


def test_one_shot_scores_are_the_nearest_support_logit():
    torch.manual_seed(0)
    model = SiameseNet(mlp_encoder(), embed_dim=8)
    sx, qx = torch.randn(4, 1, 4, 4), torch.randn(3, 1, 4, 4)
    sy = torch.tensor([0, 1, 1, 0])
    scores = model(sx, sy, qx, 2)
    # the pair logits of the one-shot forward equal pair_logits for each (query, support) pair
    # when BatchNorm is absent (the MLP encoder has none)
    pair = torch.stack([model.pair_logits(qx[i : i + 1].expand(4, -1, -1, -1), sx) for i in range(3)])
    assert torch.allclose(scores[:, 0], pair[:, [0, 3]].max(1).values, atol=1e-5)
    assert torch.allclose(scores[:, 1], pair[:, [1, 2]].max(1).values, atol=1e-5)


def test_verification_training_gives_one_shot_classification():
    torch.manual_seed(0)
    images = blob_classes(num_classes=40, seed=0)
    train, test = images[:30], images[30:]
    model = SiameseNet(mlp_encoder(), embed_dim=8)
    before = evaluate_episodes(model, test, 5, 1, n_episodes=50, progress=False).mean
    history = train_siamese(model, PairSampler(train, 32, seed=0), 200, lr=5e-3, progress=False)
    after = evaluate_episodes(model, test, 5, 1, n_episodes=50, progress=False).mean
    assert history.last("acc", 20) > 0.85
    assert after > 0.7 and after > before + 0.3, (before, after)
