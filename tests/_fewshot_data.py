"""Synthetic few-shot problems shared by the metric-learning tests (built in memory, no files).

``blob_classes``: each class is a Gaussian blob whose centre differs only in the first
``informative`` coordinates; the other coordinates are loud noise shared by all classes. A
nearest-mean rule on the raw vectors is close to chance, while an embedding that learns to drop
the noise coordinates is close to perfect: a meta-learner has something real to learn.
"""

import torch


def blob_classes(num_classes=40, per_class=20, dim=16, informative=4, spread=3.0, within=0.25,
                 noise=4.0, seed=0):
    """Images [C, M, 4, 4] (dim=16 reshaped) of C blob classes."""
    g = torch.Generator().manual_seed(seed)
    centres = spread * torch.randn(num_classes, informative, generator=g)
    x = noise * torch.randn(num_classes, per_class, dim, generator=g)
    x[..., :informative] = centres[:, None, :] + within * torch.randn(num_classes, per_class, informative, generator=g)
    side = int(dim ** 0.5)
    return x.view(num_classes, per_class, side, side)


def pattern_classes(num_classes=30, per_class=10, size=16, flip=0.08, seed=0):
    """Images [C, M, size, size]: each class a random binary pattern, each drawing flips a few pixels."""
    g = torch.Generator().manual_seed(seed)
    base = (torch.rand(num_classes, 1, size, size, generator=g) < 0.3).float()
    flips = (torch.rand(num_classes, per_class, size, size, generator=g) < flip).float()
    return (base - flips).abs()


def mlp_encoder(dim=16, hidden=32, out=8):
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(dim, hidden), torch.nn.ReLU(),
                               torch.nn.Linear(hidden, out))
