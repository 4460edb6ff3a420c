"""Turning student sequences into padded tensors for knowledge-tracing models.

A knowledge-tracing model reads one student's responses in order. To train on many students at
once, sequences are cut into chunks of at most ``max_len`` responses (the DKVMN protocol uses 200)
and padded to a rectangle; a boolean mask marks the real responses.

Skill ids are 1-based (as in the three-line files); id 0 is reserved for padding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch


@dataclass
class KTBatch:
    """A padded batch of response sequences.

    Attributes
    ----------
    skills:  LongTensor [B, T], 1-based skill ids, 0 where padded.
    correct: LongTensor [B, T], 0/1 correctness, 0 where padded.
    mask:    BoolTensor [B, T], True for real responses.
    student: LongTensor [B], the student id each row comes from (several rows may share one
             student when a long sequence was chunked).
    """

    skills: torch.Tensor
    correct: torch.Tensor
    mask: torch.Tensor
    student: torch.Tensor

    def to(self, device) -> "KTBatch":
        return KTBatch(self.skills.to(device), self.correct.to(device), self.mask.to(device),
                       self.student.to(device))

    def __len__(self) -> int:
        return self.skills.shape[0]


def _check_sequence(seq) -> None:
    if seq.skills.ndim != 1 or seq.correct.ndim != 1 or seq.skills.shape != seq.correct.shape:
        raise ValueError(
            f"student {seq.student_id}: skills and correct must be 1-D tensors of equal length, got "
            f"shapes {tuple(seq.skills.shape)} and {tuple(seq.correct.shape)}"
        )


def check_skill_range(sequences: Sequence, num_skills: int) -> None:
    """``ValueError`` naming the first student (with its file and line) whose skill ids exceed ``num_skills``."""
    for seq in sequences:
        largest = int(seq.skills.max()) if len(seq.skills) else 0
        if largest > num_skills:
            where = f" ({seq.origin})" if getattr(seq, "origin", "") else ""
            raise ValueError(
                f"student {seq.student_id}{where} has skill id {largest}, but the model knows skills 1..{num_skills}. "
                "Load train and test together with load_kt_splits (one skill space) and build the model with "
                "that dataset's num_skills.")


def chunk_sequences(sequences: Sequence, max_len: int = 200) -> list[tuple[int, torch.Tensor, torch.Tensor]]:
    """Cut every sequence into consecutive chunks of at most ``max_len`` responses.

    Returns a list of ``(student_id, skills [L], correct [L])`` with ``L <= max_len``; the order
    of responses inside a student is kept, and a chunk never mixes two students.
    """
    if not isinstance(max_len, int) or max_len < 1:
        raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
    chunks = []
    for seq in sequences:
        _check_sequence(seq)
        n = len(seq.skills)
        for start in range(0, n, max_len):
            chunks.append((int(seq.student_id), seq.skills[start:start + max_len],
                           seq.correct[start:start + max_len]))
    return chunks


def pad_chunks(chunks: Sequence[tuple[int, torch.Tensor, torch.Tensor]]) -> KTBatch:
    """Pad a list of ``(student_id, skills, correct)`` chunks to one :class:`KTBatch`."""
    if len(chunks) == 0:
        raise ValueError("cannot build a batch from zero sequences")
    length = max(len(s) for _, s, _ in chunks)
    length = max(length, 1)
    skills = torch.zeros(len(chunks), length, dtype=torch.long)
    correct = torch.zeros(len(chunks), length, dtype=torch.long)
    mask = torch.zeros(len(chunks), length, dtype=torch.bool)
    for row, (_, s, c) in enumerate(chunks):
        skills[row, :len(s)] = s
        correct[row, :len(c)] = c
        mask[row, :len(s)] = True
    student = torch.tensor([sid for sid, _, _ in chunks], dtype=torch.long)
    return KTBatch(skills, correct, mask, student)


def batches(chunks: Sequence, batch_size: int, *, shuffle: bool = False,
            generator: torch.Generator | None = None):
    """Yield :class:`KTBatch` objects of ``batch_size`` chunks (the last one may be smaller)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    order = torch.randperm(len(chunks), generator=generator).tolist() if shuffle else range(len(chunks))
    order = list(order)
    for start in range(0, len(order), batch_size):
        yield pad_chunks([chunks[i] for i in order[start:start + batch_size]])


class ChunkSampler:
    """Endless source of random training batches: ``sampler.sample()`` -> :class:`KTBatch`.

    Walks through shuffled epochs of the chunks, so every chunk is seen once per epoch.
    """

    def __init__(self, chunks: Sequence, batch_size: int, seed: int = 0):
        if len(chunks) == 0:
            raise ValueError("ChunkSampler needs at least one sequence")
        self.chunks = list(chunks)
        self.batch_size = int(batch_size)
        self.generator = torch.Generator().manual_seed(seed)
        self._order: list[int] = []
        self.epoch = 0

    def sample(self) -> KTBatch:
        if len(self._order) < self.batch_size:
            fresh = torch.randperm(len(self.chunks), generator=self.generator).tolist()
            self._order.extend(fresh)
            self.epoch += 1
        picked, self._order = self._order[:self.batch_size], self._order[self.batch_size:]
        return pad_chunks([self.chunks[i] for i in picked])

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "order": list(self._order), "epoch": self.epoch}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self._order = list(state["order"])
        self.epoch = int(state["epoch"])
