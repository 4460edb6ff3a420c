"""Every user is a task: a leak-free split by user, cold-start views and item features.

A user's ratings are put in **time order** (ties broken by movie). For a cold-start evaluation the
support set is the first ``k`` ratings (``k <= k_max``) and the query set the ratings
``k_max + 1 .. k_max + query_len``: the query is the same for every ``k``, always *later* than any
support rating, so a curve over ``k`` measures what ``k`` ratings are worth and nothing else.

Item features describe a movie without any user: its genres (multi-hot), its release year, and its
rating statistics (shrunk mean, log count) **computed on meta-training users only** — statistics
that include test users' ratings would leak their query ratings into every method.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from course_lib.cold_start import EntityTaskSampler

__all__ = ["UserTaskSampler", "UserTasks", "item_features", "ratings_of", "split_users", "user_tasks"]


def split_users(num_users: int, fractions: dict[str, float], seed: int = 0) -> dict[str, np.ndarray]:
    """Shuffle user indices 0..num_users-1 (seeded) and cut them into named, disjoint parts.

    ``fractions``: e.g. ``{"train": 0.6, "val": 0.1, "test": 0.3}`` (summing to 1). Returns
    ``{name: sorted int64 array of user indices}``; every user lands in exactly one part.
    """
    total = sum(fractions.values())
    if abs(total - 1) > 1e-6 or min(fractions.values()) < 0:
        raise ValueError(f"fractions must be >= 0 and sum to 1, got {fractions} (sum {total:g})")
    order = np.random.default_rng(seed).permutation(num_users)
    cuts = np.round(np.cumsum(list(fractions.values())) * num_users).astype(int)
    parts = np.split(order, cuts[:-1])
    return {name: np.sort(part) for name, part in zip(fractions, parts)}


def ratings_of(data, users) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(user [R'], item [R'], rating [R'])``: every rating of the given users (e.g. meta-training users)."""
    keep = np.isin(data.user, np.asarray(users))
    return data.user[keep], data.item[keep], data.rating[keep]


def item_features(data, train_users, shrinkage: float = 10.0) -> np.ndarray:
    """float32 ``[I, G + 3]``: genres, standardised year, shrunk mean rating (centred), log count.

    The last two use the ratings of ``train_users`` only. The shrunk mean of item i is
    ``(sum_i + shrinkage * mu) / (n_i + shrinkage)``: items with few ratings stay near the global mean mu.
    """
    _, item, rating = ratings_of(data, train_users)
    mu = float(rating.mean())
    n = np.bincount(item, minlength=data.num_items)
    sums = np.bincount(item, weights=rating, minlength=data.num_items)
    shrunk = (sums + shrinkage * mu) / (n + shrinkage)
    year = np.nan_to_num(data.year, nan=np.nanmedian(data.year))
    year = (year - year.mean()) / (year.std() or 1.0)
    log_count = np.log1p(n) / np.log1p(n).max()
    return np.column_stack([data.genres, year, shrunk - mu, log_count]).astype(np.float32)


@dataclass
class UserTasks:
    """Cold-start tasks of U users, ``k`` support ratings each and a padded query window.

    support_item: long ``[U, k]``; support_rating: float ``[U, k]``; query_item: long ``[U, Q]``;
    query_rating: float ``[U, Q]``; query_mask: bool ``[U, Q]`` (False = padding); user: long ``[U]``.
    """

    support_item: torch.Tensor
    support_rating: torch.Tensor
    query_item: torch.Tensor
    query_rating: torch.Tensor
    query_mask: torch.Tensor
    user: torch.Tensor

    @property
    def k(self) -> int:
        return int(self.support_item.shape[1])

    def __len__(self) -> int:
        return int(self.user.shape[0])

    def first(self, k: int) -> UserTasks:
        """The same users and query with only the first ``k`` support ratings."""
        if not 0 <= k <= self.k:
            raise ValueError(f"k must lie in 0..{self.k} (the support ratings available), got {k}")
        return UserTasks(self.support_item[:, :k], self.support_rating[:, :k], self.query_item, self.query_rating,
                         self.query_mask, self.user)

    def subset(self, index) -> UserTasks:
        """The users at positions ``index``."""
        return UserTasks(*(getattr(self, f.name)[index] for f in fields(self)))

    def to(self, device) -> UserTasks:
        return UserTasks(*(getattr(self, f.name).to(device) for f in fields(self)))


def user_tasks(data, users, k_max: int = 20, query_len: int = 50, min_query: int = 10) -> UserTasks:
    """Support = each user's first ``k_max`` ratings in time order, query = the next ``query_len`` at most.

    Users with fewer than ``k_max + min_query`` ratings are left out (their query would be too short
    to rank ten movies). Returns :class:`UserTasks` with ``k = k_max``.
    """
    order = np.lexsort((data.item, data.timestamp, data.user))      # by user, then time, then movie
    user, item, rating = data.user[order], data.item[order], data.rating[order]
    starts = np.searchsorted(user, np.arange(data.num_users + 1))
    rows = []
    for u in np.asarray(users):
        lo, hi = starts[u], starts[u + 1]
        if hi - lo >= k_max + min_query:
            rows.append((u, item[lo:hi], rating[lo:hi]))
    if not rows:
        raise ValueError(f"no user has {k_max + min_query} ratings: lower k_max or min_query")
    q = min(query_len, max(len(r) - k_max for _, _, r in rows))
    qi, qr, qm = np.zeros((len(rows), q), np.int64), np.zeros((len(rows), q), np.float32), np.zeros((len(rows), q), bool)
    for j, (_, items, ratings) in enumerate(rows):
        n = min(q, len(items) - k_max)
        qi[j, :n], qr[j, :n], qm[j, :n] = items[k_max:k_max + n], ratings[k_max:k_max + n], True
    return UserTasks(torch.as_tensor(np.stack([r[1][:k_max] for r in rows])),
                     torch.as_tensor(np.stack([r[2][:k_max] for r in rows])),
                     torch.as_tensor(qi), torch.as_tensor(qr), torch.as_tensor(qm),
                     torch.as_tensor(np.array([r[0] for r in rows], dtype=np.int64)))


#: random meta-batches of users (shared with chapter 07's students)
UserTaskSampler = EntityTaskSampler
