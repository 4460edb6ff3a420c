"""Non-personalised baselines: they ignore the support ratings, so their cold-start curve is flat.

* global mean: every rating is predicted as the meta-training users' mean ``mu``;
* item mean with shrinkage: ``(sum_i + lambda mu) / (n_i + lambda)`` over meta-training users'
  ratings of item i (an item nobody rated gets ``mu``);
* popularity: the score of an item is how many meta-training users rated it. It is a *ranking*,
  not a rating prediction, so it has an nDCG and no RMSE.

All are fitted on meta-training users only; ``predict(tasks) -> [U, Q]`` scores each query movie.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["GlobalMean", "ItemMean", "Popularity"]


class GlobalMean:
    """``mu``, the mean rating of the meta-training ratings ``rating [R]``."""

    def __init__(self, rating):
        self.mu = float(np.mean(rating))

    def predict(self, tasks) -> torch.Tensor:
        return torch.full(tasks.query_item.shape, self.mu)


class ItemMean:
    """The shrunk mean rating of each item: ``item [R]``, ``rating [R]`` of meta-training users."""

    def __init__(self, item, rating, num_items: int, shrinkage: float = 10.0):
        if shrinkage < 0:
            raise ValueError(f"shrinkage must be >= 0, got {shrinkage}")
        self.mu = float(np.mean(rating))
        n = np.bincount(item, minlength=num_items)
        sums = np.bincount(item, weights=rating, minlength=num_items)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = (sums + shrinkage * self.mu) / (n + shrinkage)
        self.means = torch.as_tensor(np.where(n + shrinkage > 0, means, self.mu), dtype=torch.float32)  # [I]

    def predict(self, tasks) -> torch.Tensor:
        return self.means[tasks.query_item]


class Popularity:
    """The number of meta-training ratings of each item (``item [R]``), as a ranking score."""

    def __init__(self, item, num_items: int):
        self.counts = torch.as_tensor(np.bincount(item, minlength=num_items), dtype=torch.float32)  # [I]

    def predict(self, tasks) -> torch.Tensor:
        return self.counts[tasks.query_item]
