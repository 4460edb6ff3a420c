"""Tests of the LSTM black-box learner and of the label-delayed sequence sampler."""

import pytest
import torch

from course_lib.algorithms.sequence_learner import LSTMLearner
from course_lib.data.label_delay import (
    LabelDelaySampler,
    PrototypeSequenceSampler,
    delayed_one_hot,
    instance_counts,
)
from course_lib.experiments.label_delay import DownsampleFlatten, per_instance_accuracy
from test_mann import train_tiny


def _bank(chars=8, drawings=6, size=28):
    # each character's drawings share a distinctive value so classes can be told apart in tests
    base = torch.arange(chars, dtype=torch.float32).view(chars, 1, 1, 1) + 1
    noise = torch.rand(chars, drawings, size, size, generator=torch.Generator().manual_seed(0)) * 0.01
    return base.expand(chars, drawings, size, size) + noise


def test_sampler_shapes_and_label_delay():
    sampler = LabelDelaySampler(_bank(), n_way=3, instances_per_class=4, seed=0)
    batch = sampler.sample_batch(5)
    assert batch.inputs.shape == (5, 12, 1, 28, 28)
    assert batch.labels.shape == (5, 12) and batch.prev_labels.shape == (5, 12, 3)
    assert torch.equal(batch.prev_labels[:, 0], torch.zeros(5, 3))
    assert torch.equal(batch.prev_labels[:, 1:].argmax(-1), batch.labels[:, :-1])
    for b in range(5):
        assert sorted(batch.labels[b].tolist()) == sorted([0, 1, 2] * 4)
        # one character per label within an episode, a different one for each label
        chars = {}
        for t in range(12):
            char = int(batch.inputs[b, t].mean().round())
            assert chars.setdefault(int(batch.labels[b, t]), char) == char
        assert len(set(chars.values())) == 3
        # presentation counts go 1, 2, 3, 4 for every class
        for label in range(3):
            assert batch.instance[b][batch.labels[b] == label].tolist() == [1, 2, 3, 4]


def test_labels_and_characters_are_reshuffled_every_episode():
    batch = LabelDelaySampler(_bank(), n_way=3, instances_per_class=2, seed=1).sample_batch(40)
    label_of_char = set()
    for b in range(40):
        for t in range(6):
            label_of_char.add((int(batch.inputs[b, t].mean().round()), int(batch.labels[b, t])))
    # every character has been given more than one label across episodes
    chars = {c for c, _ in label_of_char}
    assert len(chars) == 8
    assert all(len({lab for c2, lab in label_of_char if c2 == c}) > 1 for c in chars)


def test_sampler_is_reproducible_and_drawings_are_distinct():
    a = LabelDelaySampler(_bank(), 3, 6, seed=3).sample_batch(2)
    b = LabelDelaySampler(_bank(), 3, 6, seed=3).sample_batch(2)
    assert torch.equal(a.inputs, b.inputs) and torch.equal(a.labels, b.labels)
    for label in range(3):   # 6 instances drawn without replacement from 6 drawings
        imgs = a.inputs[0][a.labels[0] == label].flatten(1)
        assert torch.unique(imgs, dim=0).shape[0] == 6


@pytest.mark.parametrize("kwargs, message", [
    (dict(n_way=9), "has only 8"),
    (dict(n_way=1), "at least 2"),
    (dict(instances_per_class=7), "6 drawings"),
])
def test_sampler_rejects_impossible_requests(kwargs, message):
    args = dict(n_way=3, instances_per_class=2)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        LabelDelaySampler(_bank(), **args)
    with pytest.raises(ValueError, match="characters, drawings"):
        LabelDelaySampler(torch.zeros(3, 28, 28))


def test_helpers():
    labels = torch.tensor([[2, 0, 2, 2, 1]])
    assert instance_counts(labels).tolist() == [[1, 1, 2, 3, 1]]
    onehot = delayed_one_hot(labels, 3)
    assert onehot[0, 0].tolist() == [0, 0, 0] and onehot[0, 1].tolist() == [0, 0, 1]
    logits = torch.nn.functional.one_hot(torch.tensor([[2, 1, 2, 0, 1]]), 3).float()
    acc = per_instance_accuracy(logits, labels, instance_counts(labels), 4)
    assert torch.allclose(acc[:3], torch.tensor([2 / 3, 1.0, 0.0])) and torch.isnan(acc[3])
    with pytest.raises(ValueError, match="shapes do not match"):
        per_instance_accuracy(logits[:, :4], labels, instance_counts(labels))
    assert DownsampleFlatten(20)(torch.rand(3, 1, 28, 28)).shape == (3, 400)


def test_lstm_shapes_and_errors():
    model = LSTMLearner(6, 3, hidden_size=8)
    assert model(torch.randn(2, 7, 6), torch.zeros(2, 7, 3)).shape == (2, 7, 3)
    with pytest.raises(ValueError, match="features"):
        model(torch.randn(2, 7, 5), torch.zeros(2, 7, 3))
    with pytest.raises(ValueError, match="prev_labels"):
        model(torch.randn(2, 7, 6), torch.zeros(2, 7, 4))
    images = LSTMLearner(16, 2, 8, encoder=DownsampleFlatten(4))
    assert images(torch.rand(2, 5, 1, 28, 28), torch.zeros(2, 5, 2)).shape == (2, 5, 2)


def test_lstm_learns_a_tiny_binding_task():
    torch.manual_seed(0)
    model = LSTMLearner(8, 2, hidden_size=24)
    untrained = train_tiny(model, steps=0)
    acc = train_tiny(model, steps=250)
    assert untrained[1] < 0.7
    assert acc[1] > 0.8


def test_prototype_sequences():
    sampler = PrototypeSequenceSampler(n_way=3, instances_per_class=4, dim=5, noise=0.0, seed=0)
    batch = sampler.sample_batch(6)
    assert batch.inputs.shape == (6, 12, 5) and batch.labels.shape == (6, 12) and batch.n_way == 3
    assert torch.equal(batch.prev_labels[:, 1:].argmax(-1), batch.labels[:, :-1])
    for b in range(6):
        assert sorted(batch.labels[b].tolist()) == sorted([0, 1, 2] * 4)
        for label in range(3):   # without noise every presentation of a class is the same vector
            rows = batch.inputs[b][batch.labels[b] == label]
            assert torch.equal(rows, rows[:1].expand_as(rows))
            assert batch.instance[b][batch.labels[b] == label].tolist() == [1, 2, 3, 4]
    # a fresh prototype in every episode: nothing to learn across episodes
    first = sampler.sample_batch(1).inputs[0, 0]
    assert not torch.equal(first, batch.inputs[0, 0])
    again = PrototypeSequenceSampler(3, 4, 5, 0.0, seed=0).sample_batch(6)
    assert torch.equal(again.inputs, batch.inputs)
    with pytest.raises(ValueError, match="at least 2"):
        PrototypeSequenceSampler(n_way=1)
    with pytest.raises(ValueError, match="dim >= 1"):
        PrototypeSequenceSampler(dim=0)
