import math

import pytest
import torch
from _fewshot_data import blob_classes, mlp_encoder

from course_lib.algorithms.matching import MatchingNet, attention_log_probs
from course_lib.experiments.metric_training import train_episodic
from course_lib.experiments.one_shot_eval import evaluate_episodes
from course_lib.data.episodes import EpisodeSampler


def test_attention_vote_by_hand():
    sim = torch.tensor([[0.0, math.log(2.0), math.log(3.0)]])  # softmax = 1/6, 2/6, 3/6
    labels = torch.tensor([0, 1, 0])
    logp = attention_log_probs(sim, labels, 2)
    assert torch.allclose(logp.exp(), torch.tensor([[4 / 6, 2 / 6]]), atol=1e-6)
    # a class without support examples gets probability zero
    assert attention_log_probs(sim, labels, 3).exp()[0, 2] == 0
    with pytest.raises(ValueError, match="S = len"):
        attention_log_probs(sim, torch.tensor([0, 1]), 2)


def test_outputs_are_normalised_log_probabilities():
    torch.manual_seed(0)
    ep = EpisodeSampler(blob_classes(), 4, 2, 3, seed=0).sample()
    for fce in (False, True):
        model = MatchingNet(mlp_encoder(), embed_dim=8, fce=fce)
        logp = model(ep.support_x, ep.support_y, ep.query_x, 4)
        assert logp.shape == (12, 4)
        assert torch.allclose(logp.exp().sum(1), torch.ones(12), atol=1e-5)


def test_fce_support_embedding_depends_on_the_whole_set():
    torch.manual_seed(0)
    model = MatchingNet(mlp_encoder(), embed_dim=8, fce=True)
    s = torch.randn(4, 8)
    g1 = model.g_lstm(s)
    s2 = s.clone()
    s2[3] += 5.0
    g2 = model.g_lstm(s2)
    assert not torch.allclose(g1[0], g2[0])  # changing the last example changes the first one's embedding


@pytest.mark.parametrize("fce", [False, True])
def test_matching_net_learns_blob_classes(fce):
    torch.manual_seed(0)
    images = blob_classes(num_classes=40, seed=0)
    train, test = images[:30], images[30:]
    model = MatchingNet(mlp_encoder(), embed_dim=8, fce=fce, processing_steps=2)
    before = evaluate_episodes(model, test, 5, 1, n_episodes=50, progress=False).mean
    train_episodic(model, EpisodeSampler(train, 5, 1, 5, seed=0), 150, lr=5e-3, progress=False)
    after = evaluate_episodes(model, test, 5, 1, n_episodes=50, progress=False).mean
    assert after > 0.85 and after > before + 0.2, (before, after)


def test_matching_net_rejects_bad_inputs():
    model = MatchingNet(mlp_encoder(), embed_dim=8)
    with pytest.raises(ValueError, match="labels"):
        model(torch.randn(3, 1, 4, 4), torch.tensor([0, 1, 5]), torch.randn(2, 1, 4, 4), 3)
    with pytest.raises(ValueError, match="support_y"):
        model(torch.randn(3, 1, 4, 4), torch.tensor([0, 1]), torch.randn(2, 1, 4, 4), 3)
    with pytest.raises(ValueError, match="scale"):
        MatchingNet(mlp_encoder(), scale=-1.0)
    with pytest.raises(ValueError, match="processing_steps"):
        MatchingNet(mlp_encoder(), fce=True, processing_steps=0)
