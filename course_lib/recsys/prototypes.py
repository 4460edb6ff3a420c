"""Prototype users: a metric-based cold start (the recommender's Prototypical network).

The meta-training users' matrix-factorisation coordinates ``(b_u, p_u)`` [1 + d] are clustered
(k-means) into C prototypes ``c`` with prior weights ``pi_c`` (cluster sizes). A new user is
compared with every prototype through their support ratings — how well each prototype's
predictions ``r_hat_c(i) = mu + b_i + c_0 + q_i . c_{1:}`` fit them:

    log w_c = log pi_c - sum_{i in support} (r_i - r_hat_c(i))^2 / (2 sigma^2)

(a squared distance between user and prototype, measured through the support items), and the
prediction is the posterior mixture ``sum_c softmax(log w)_c r_hat_c(i)``. With k = 0 it is the
prior mixture; every rating moves the weight towards prototypes that agree with it. Nothing is
trained per user, and no prediction leaves the span of what meta-training users did.
"""

from __future__ import annotations

import torch

__all__ = ["PrototypeUsers", "kmeans"]


def kmeans(points: torch.Tensor, num_clusters: int, iters: int = 25, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Lloyd's k-means on ``points [N, D]``: ``(centroids [C, D], assignment [N])`` from a seeded random start."""
    if not 1 <= num_clusters <= len(points):
        raise ValueError(f"num_clusters must lie in 1..{len(points)} (the number of points), got {num_clusters}")
    g = torch.Generator().manual_seed(seed)
    centroids = points[torch.randperm(len(points), generator=g)[:num_clusters]].clone()
    for _ in range(iters):
        assignment = torch.cdist(points, centroids).argmin(1)
        for c in range(num_clusters):
            members = points[assignment == c]
            if len(members):
                centroids[c] = members.mean(0)
    return centroids, torch.cdist(points, centroids).argmin(1)


class PrototypeUsers:
    """C prototypes of a fitted :class:`~course_lib.recsys.mf.BiasedMF`'s training users."""

    def __init__(self, mf, train_user, train_item, train_rating, num_prototypes: int = 8, seed: int = 0):
        self.mf = mf
        table = mf.user_table()                                                   # [U, 1+d]
        self.centroids, assignment = kmeans(table, num_prototypes, seed=seed)      # [C, 1+d]
        self.log_prior = torch.bincount(assignment, minlength=num_prototypes).clamp(min=1).float()
        self.log_prior = (self.log_prior / self.log_prior.sum()).log()           # [C]
        with torch.no_grad():
            residual = torch.as_tensor(train_rating) - mf(torch.as_tensor(train_user), torch.as_tensor(train_item))
        self.noise_var = float(residual.pow(2).mean())                            # sigma^2

    @torch.no_grad()
    def _ratings(self, item: torch.Tensor) -> torch.Tensor:
        """Each prototype's ratings ``[U, n, C]`` of ``item [U, n]``."""
        q = self.mf.item_vec[item]                                                # [U, n, d]
        return (self.mf.mu + self.mf.item_bias[item])[..., None] + self.centroids[:, 0] + q @ self.centroids[:, 1:].T

    @torch.no_grad()
    def weights(self, tasks) -> torch.Tensor:
        """Posterior weight ``[U, C]`` of each prototype given each user's support ratings."""
        sq = (tasks.support_rating[..., None] - self._ratings(tasks.support_item)).pow(2).sum(1)   # [U, C]
        return torch.softmax(self.log_prior - sq / (2 * self.noise_var), dim=1)

    @torch.no_grad()
    def predict(self, tasks) -> torch.Tensor:
        """Query predictions ``[U, Q]``: the prototypes' ratings mixed by their posterior weights."""
        return (self._ratings(tasks.query_item) * self.weights(tasks)[:, None, :]).sum(-1)
