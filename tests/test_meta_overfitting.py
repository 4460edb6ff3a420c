"""Chapter 10's meta-overfitting runs (course_lib.experiments.meta_overfitting) on tiny random data."""

from __future__ import annotations

import pytest
import torch

from course_lib.experiments.meta_overfitting import meta_overfitting


@pytest.fixture()
def images():
    g = torch.Generator().manual_seed(0)
    return torch.rand(12, 4, 28, 28, generator=g), torch.rand(6, 4, 28, 28, generator=g)


def test_every_setting_is_trained_and_measured_on_its_own_and_held_out_characters(images, tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_CACHE_DIR", str(tmp_path))
    torch.set_num_threads(1)
    train, test = images
    runs = meta_overfitting(train, test, 3, characters=(6, None), n_way=3, k_shot=1, q_query=2, n_episodes=4,
                            progress=False)
    assert [(r.characters, r.rotations, r.classes) for r in runs] == \
        [(6, False, 6), (6, True, 24), (12, False, 12), (12, True, 48)]
    for run in runs:
        assert len(run.train.accuracies) == len(run.test.accuracies) == 4
        assert run.gap == pytest.approx(run.train.mean - run.test.mean)
    assert len(list((tmp_path / "ch05").glob("overfit_*"))) == 4  # checkpointed: a second call reloads
    again = meta_overfitting(train, test, 3, characters=(6, None), n_way=3, k_shot=1, q_query=2, n_episodes=4,
                             progress=False)
    assert [r.test.mean for r in again] == [r.test.mean for r in runs]


def test_too_few_characters_for_the_episodes_is_an_error(images):
    train, test = images
    with pytest.raises(ValueError, match="2 characters cannot make 3-way episodes"):
        meta_overfitting(train, test, 1, characters=(2,), n_way=3, progress=False)
