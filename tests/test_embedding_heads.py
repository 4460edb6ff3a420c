"""Pre-trained embedding + simple heads, and the chapter 10 training harnesses on tiny settings."""

import torch

from functools import partial

import numpy as np

from course_lib.algorithms.protonet import ProtoNet
from course_lib.baselines.embedding_heads import (
    class_batch,
    embedding_network,
    evaluate_heads,
    finetune_head,
    fit_linear_probe,
    head_scorer,
    logistic_regression_head,
    prototype_head,
)
from course_lib.data.episodes import EpisodeSampler
from course_lib.experiments import beyond
from course_lib.experiments.one_shot_eval import evaluate_episodes
from course_lib.nets import Conv4


def _images(classes=8, seed=0):
    """Each class a fixed random pattern plus noise: easy to tell apart after a little training."""
    g = torch.Generator().manual_seed(seed)
    patterns = (torch.rand(classes, 1, 28, 28, generator=g) > 0.7).float()
    return (patterns + 0.3 * torch.randn(classes, 6, 28, 28, generator=g)).clamp(0, 1)


def test_class_batch_uses_global_labels():
    sampler = EpisodeSampler(_images(), 4, 1, 1, rotations=True, seed=0)
    episode = sampler.sample()
    batch = class_batch(episode)
    assert batch.support_x.shape == (1, 8, 1, 28, 28)
    assert set(batch.support_y[0].tolist()) == set(episode.classes.tolist())


def test_linear_probe_fits_separable_support_points():
    g = torch.Generator().manual_seed(0)
    centres = 3 * torch.randn(4, 6, generator=g)
    emb = centres.repeat_interleave(3, 0) + 0.1 * torch.randn(12, 6, generator=g)
    labels = torch.arange(4).repeat_interleave(3)
    weight, bias = fit_linear_probe(emb, labels, 4, steps=100, lr=0.5)
    assert weight.shape == (4, 6) and bias.shape == (4,)
    assert torch.equal((emb @ weight.t() + bias).argmax(1), labels)


HEADS = {"prototype": prototype_head, "logistic regression": partial(logistic_regression_head, steps=5),
         "fine-tuning": partial(finetune_head, steps=3)}


def test_heads_score_episodes_and_leave_the_network_unchanged():
    torch.manual_seed(0)
    network = embedding_network(Conv4(12, hidden=8))
    assert network.head is None
    before = [p.clone() for p in network.parameters()]
    episode = EpisodeSampler(_images(), 3, 2, 2, seed=1).sample()
    for head in HEADS.values():
        scores = head_scorer(network, head)(episode.support_x, episode.support_y, episode.query_x, 3)
        assert scores.shape == (6, 3) and torch.isfinite(scores).all()
    assert all(torch.equal(a, b) for a, b in zip(before, network.parameters()))


def test_prototype_head_is_protonet_on_the_frozen_network():
    torch.manual_seed(0)
    network = embedding_network(Conv4(12, hidden=8))
    episode = EpisodeSampler(_images(), 3, 2, 2, seed=1).sample()
    ours = head_scorer(network, prototype_head)(episode.support_x, episode.support_y, episode.query_x, 3)
    with torch.no_grad():
        reference = ProtoNet(network)(episode.support_x, episode.support_y, episode.query_x, 3)
    assert torch.allclose(ours, reference, atol=1e-4)


def test_evaluate_heads_matches_evaluate_episodes_on_the_same_episodes():
    torch.manual_seed(0)
    network = embedding_network(Conv4(12, hidden=8))
    images = _images()
    together, seconds = evaluate_heads(network, HEADS, images, 3, 1, n_episodes=6)
    assert set(seconds) == {"shared embedding", *HEADS} and all(v >= 0 for v in seconds.values())
    for name, head in HEADS.items():
        alone = evaluate_episodes(head_scorer(network, head), images, n_way=3, k_shot=1, n_episodes=6, progress=False)
        assert np.allclose(together[name].accuracies, alone.accuracies)


def test_pretraining_learns_and_its_embedding_beats_chance(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    images = _images()
    run = beyond.pretrain_classifier(images[:6], 60, classes_per_batch=12, progress=False)
    assert run.history.last("loss", 5) < run.history["loss"][0]
    network = embedding_network(run.model)
    acc = evaluate_episodes(head_scorer(network, prototype_head), images[6:], n_way=2, k_shot=1, n_episodes=20,
                            progress=False)
    assert acc.mean > 0.6
    again = beyond.pretrain_classifier(images[:6], 60, classes_per_batch=12, progress=False)  # reloaded from the checkpoint
    assert torch.equal(again.model.head.weight, run.model.head.weight)


def test_gbml_training_records_step_times(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    for method in beyond.GBML_METHODS:
        run = beyond.train_gbml(method, 3, _images(), meta_batch_size=2, n_way=3, progress=False)
        assert len(run.history["step_seconds"]) == 3 and run.seconds_per_step > 0


def test_in_context_classifier_trains_and_scores(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    torch.manual_seed(0)
    network = embedding_network(Conv4(4, hidden=8))
    run = beyond.train_in_context_classifier(network, _images(), 4, n_way=3, shots=(1, 2), q_query=2, meta_batch_size=2,
                                             width=16, depth=1, progress=False)
    assert len(run.history["loss"]) == 4
    episode = EpisodeSampler(_images(), 3, 1, 2, seed=0).sample()
    scores = beyond.in_context_scorer(run.model, network)(episode.support_x, episode.support_y, episode.query_x, 3)
    assert scores.shape == (6, 3)


def test_train_in_context_lowers_the_prefix_loss(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    from course_lib.algorithms.in_context import InContextTransformer

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    model = InContextTransformer(2, 1, width=16, depth=2, heads=2)
    run = beyond.train_in_context("tiny_linear", model, lambda step: beyond.linear_tasks(32, 6, 2, g), 200, lr=3e-3,
                                  progress=False)
    assert run.history.last("loss", 20) < 0.7 * sum(run.history["loss"][:20]) / 20
