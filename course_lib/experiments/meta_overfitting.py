"""Chapter 10's meta-overfitting measurement: a meta-learner trained on too few meta-training tasks.

Yin et al. (ICLR 2020, "Meta-Learning without Memorization") and Rajendran et al. (NeurIPS 2020,
"Meta-Learning Requires Meta-Augmentation"): with few distinct training tasks a meta-learner can fit
them instead of learning to adapt, and augmenting the tasks (here: each rotation of a character is a
new class, as in the course's other chapters) is the cure. :func:`meta_overfitting` trains chapter
05's ProtoNet on the first ``C`` training characters, with and without rotations, and measures the
accuracy on new episodes of its own training characters and on chapter 05's held-out test episodes:
the difference is the meta-generalisation gap.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from course_lib.algorithms.protonet import ProtoNet
from course_lib.data.episodes import EpisodeSampler
from course_lib.experiments.metric_training import to_training_device, train_episodic
from course_lib.experiments.one_shot_eval import EpisodeEvaluation, evaluate_episodes
from course_lib.nets import Conv4


@dataclass
class OverfittingRun:
    """One meta-training set: ``characters`` used, ``rotations`` as extra classes or not, ``classes``
    seen in training, accuracy on its own training characters (``train``) and on the held-out ones
    (``test``, chapter 05's episodes), and the training time in seconds."""

    characters: int
    rotations: bool
    classes: int
    train: EpisodeEvaluation
    test: EpisodeEvaluation
    seconds: float

    @property
    def gap(self) -> float:
        """Meta-generalisation gap: training-task accuracy minus held-out accuracy."""
        return self.train.mean - self.test.mean


def meta_overfitting(train_images: Tensor, test_images: Tensor, num_steps: int, *, characters=(10, None),
                     n_way: int = 5, k_shot: int = 1, q_query: int = 5, n_episodes: int = 600,
                     device="cpu", seed: int = 0, progress: bool = True) -> list[OverfittingRun]:
    """ProtoNet (Conv-4, Adam 1e-3, one ``n_way``-way ``k_shot``-shot episode per step) meta-trained for
    ``num_steps`` on the first ``C`` characters of ``train_images [C_all, M, H, W]`` for every ``C`` in
    ``characters`` (``None``: all of them), each without and with rotations.

    Both accuracies use ``n_episodes`` episodes of characters as drawn: the training characters' with
    seed 4321, the held-out ``test_images``' with chapter 05's seed 1234. Checkpointed under
    ``cache_dir()/ch05`` (re-running reloads).
    """
    runs = []
    for count in characters:
        images = train_images if count is None else train_images[:count]
        if len(images) < n_way:
            raise ValueError(f"{len(images)} characters cannot make {n_way}-way episodes: use at least {n_way}")
        for rotations in (False, True):
            torch.manual_seed(seed)
            model = to_training_device(ProtoNet(Conv4(None)), device)
            sampler = EpisodeSampler(images, n_way, k_shot, q_query, rotations=rotations, seed=seed)
            name = f"overfit_C{len(images)}_{'rot' if rotations else 'norot'}_{n_way}w{k_shot}s_seed{seed}"
            history = train_episodic(model, sampler, num_steps, lr=1e-3, device=device, name=name,
                                     desc=f"{len(images)} characters{', rotated' if rotations else ''}",
                                     progress=progress)
            evaluate = dict(n_way=n_way, k_shot=k_shot, q_query=q_query, n_episodes=n_episodes, device=device,
                            progress=progress)
            train = evaluate_episodes(model, images, seed=4321, **evaluate)
            test = evaluate_episodes(model, test_images, seed=1234, **evaluate)
            runs.append(OverfittingRun(len(images), rotations, len(images) * (4 if rotations else 1), train, test,
                                       history.wall_time))
    return runs
