"""Student-level splits and the cold-start view of a knowledge-tracing dataset.

Two rules keep the evaluation honest:

1. **Split by student, never by response.** If some of a student's answers are in the training set
   and others in the test set, the model has already met that student: a test AUC measured this
   way says nothing about *new* students. :func:`split_students` assigns whole students.
2. **Cold start = each student is a task.** For a new student, the first ``k`` responses are the
   support set (what the system has observed) and later responses are the query set (what it must
   predict). :func:`cold_start_view` builds these tensors for a whole cohort at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from course_lib.data.assistments import KTDataset


def _sequences(data) -> list:
    return list(data.sequences) if isinstance(data, KTDataset) else list(data)


def split_students(dataset: KTDataset, fractions: dict[str, float] | None = None,
                   seed: int = 0) -> dict[str, KTDataset]:
    """Randomly assign whole students to named splits, e.g. ``{"train": 0.8, "val": 0.2}``.

    Returns ``{name: KTDataset}``; every split keeps the dataset's ``num_skills`` and skill names.
    Fractions must be positive and sum to 1; every split gets at least one student.
    """
    fractions = fractions or {"train": 0.8, "val": 0.2}
    if any(f <= 0 for f in fractions.values()):
        raise ValueError(f"every fraction must be positive, got {fractions}")
    if abs(sum(fractions.values()) - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {sum(fractions.values()):.4f} from {fractions}")
    n = len(dataset)
    if n < len(fractions):
        raise ValueError(f"cannot split {n} students into {len(fractions)} non-empty splits")
    ids = [int(s.student_id) for s in dataset.sequences]
    if len(set(ids)) != len(ids):
        raise ValueError("student ids are not unique: a student would be split across sets")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()
    names = list(fractions)
    sizes = [max(1, round(fractions[name] * n)) for name in names[:-1]]
    sizes.append(n - sum(sizes))
    if sizes[-1] < 1:
        raise ValueError(f"the split {names[-1]!r} would be empty with {n} students; use fewer splits")
    out, start = {}, 0
    for name, size in zip(names, sizes):
        out[name] = dataset.subset(sorted(order[start:start + size]), name=f"{dataset.name}:{name}")
        start += size
    assert_disjoint(out)
    return out


def assert_disjoint(splits: dict[str, KTDataset | Sequence]) -> None:
    """Raise ValueError naming the student and the two splits if any student is in two splits."""
    seen: dict[int, str] = {}
    for name, data in splits.items():
        for seq in _sequences(data):
            sid = int(seq.student_id)
            if sid in seen and seen[sid] != name:
                raise ValueError(f"student {sid} is in both {seen[sid]!r} and {name!r}: split by student")
            seen[sid] = name


@dataclass
class ColdStartTasks:
    """One task per student: first ``k`` answers = support, a later window = query.

    support_skills, support_correct: LongTensor [B, k] (k may be 0)
    query_skills, query_correct:     LongTensor [B, Q] (padded with 0)
    query_mask:                      BoolTensor [B, Q]
    student:                         LongTensor [B], student ids
    k, query_start:                  the support size and the index of the first query response
    """

    support_skills: torch.Tensor
    support_correct: torch.Tensor
    query_skills: torch.Tensor
    query_correct: torch.Tensor
    query_mask: torch.Tensor
    student: torch.Tensor
    k: int
    query_start: int

    def __len__(self) -> int:
        return self.student.shape[0]

    def to(self, device) -> "ColdStartTasks":
        return ColdStartTasks(self.support_skills.to(device), self.support_correct.to(device),
                              self.query_skills.to(device), self.query_correct.to(device),
                              self.query_mask.to(device), self.student.to(device), self.k, self.query_start)

    def subset(self, index) -> "ColdStartTasks":
        index = torch.as_tensor(index, dtype=torch.long)
        return ColdStartTasks(self.support_skills[index], self.support_correct[index], self.query_skills[index],
                              self.query_correct[index], self.query_mask[index], self.student[index],
                              self.k, self.query_start)

    def first(self, k: int) -> "ColdStartTasks":
        """The same students and query with only the first ``k`` support answers."""
        if not 0 <= k <= self.k:
            raise ValueError(f"k must lie in 0..{self.k} (the support answers available), got {k}")
        return ColdStartTasks(self.support_skills[:, :k], self.support_correct[:, :k], self.query_skills,
                              self.query_correct, self.query_mask, self.student, k, self.query_start)

    @property
    def support_mask(self) -> torch.Tensor:
        return torch.ones_like(self.support_skills, dtype=torch.bool)

    def flat_query(self):
        """Query labels and the student of each query response, flattened over real responses."""
        return self.query_correct[self.query_mask], self.student.unsqueeze(1).expand_as(self.query_mask)[self.query_mask]


def cold_start_view(data, k: int, query_start: int | None = None, query_len: int | None = 50,
                    min_query: int = 1) -> ColdStartTasks:
    """Support = the first ``k`` responses of each student, query = ``query_len`` responses from ``query_start``.

    ``query_start`` defaults to ``k`` (query = the responses right after the support). To compare
    several ``k`` on the *same* targets, pass the largest k as ``query_start`` for all of them.
    Students with fewer than ``query_start + min_query`` responses are left out (they have no
    query). ``query_len=None`` keeps every response after ``query_start``.
    """
    if not isinstance(k, int) or k < 0:
        raise ValueError(f"k (number of observed answers) must be a non-negative integer, got {k!r}")
    query_start = k if query_start is None else query_start
    if query_start < k:
        raise ValueError(f"query_start={query_start} < k={k}: the query would overlap the support set")
    if query_len is not None and query_len < 1:
        raise ValueError(f"query_len must be >= 1 or None, got {query_len}")
    if min_query < 1:
        raise ValueError(f"min_query must be >= 1, got {min_query}")
    seqs = [s for s in _sequences(data) if len(s.skills) >= query_start + min_query]
    if not seqs:
        raise ValueError(
            f"no student has at least {query_start + min_query} responses; lower k/query_start or use more data"
        )
    stop = (lambda n: n) if query_len is None else (lambda n: min(n, query_start + query_len))
    q_max = max(stop(len(s.skills)) - query_start for s in seqs)
    b = len(seqs)
    qs = torch.zeros(b, q_max, dtype=torch.long)
    qc = torch.zeros(b, q_max, dtype=torch.long)
    qm = torch.zeros(b, q_max, dtype=torch.bool)
    for i, s in enumerate(seqs):
        end = stop(len(s.skills))
        qs[i, :end - query_start] = s.skills[query_start:end]
        qc[i, :end - query_start] = s.correct[query_start:end]
        qm[i, :end - query_start] = True
    support_skills = torch.stack([s.skills[:k] for s in seqs]) if k else torch.zeros(b, 0, dtype=torch.long)
    support_correct = torch.stack([s.correct[:k] for s in seqs]) if k else torch.zeros(b, 0, dtype=torch.long)
    student = torch.tensor([int(s.student_id) for s in seqs], dtype=torch.long)
    return ColdStartTasks(support_skills.long(), support_correct.long(), qs, qc, qm, student, k, query_start)
