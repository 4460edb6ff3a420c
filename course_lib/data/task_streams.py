"""Task streams for continual learning: the alphabets of a character set, one task after another.

Tasks arrive one after another: ``task 0, task 1, ..., task T-1``. While it trains on task ``t`` a
learner sees only task ``t``'s data (plus, for some learners, a small *episodic memory* of earlier
tasks), and after each task it is tested on every task (:mod:`course_lib.experiments.lifelong`).

The stream used in the course: every Omniglot alphabet is one task, a classification problem over
its characters (17 to 47 classes). Each character's 20 drawings are split into training drawings
and held-out test drawings; the first ``memory_per_class`` training drawings of each character are
what an episodic memory may keep. Task identity is known at test time ("task-incremental" or
"multi-head" protocol): the learner is told which alphabet a test image comes from.

Shapes: images ``[B, 1, H, W]``, labels ``[B]`` in ``0..C_t-1`` (labels are per task).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

__all__ = ["Task", "TaskStream"]


@dataclass
class Task:
    """One task of the stream: classify the characters of one alphabet.

    Attributes
    ----------
    index : int              position in the stream (0 = first task)
    name : str               the alphabet, e.g. "Greek"
    class_ids : LongTensor [C_t]   indices of the task's characters in the source character set
    characters : list[str]   names of the C_t characters (label c is ``characters[c]``)
    train_x [C_t*M_tr, 1, H, W], train_y [C_t*M_tr]   training drawings, labels 0..C_t-1
    test_x  [C_t*M_te, 1, H, W], test_y  [C_t*M_te]   held-out drawings of the same characters
    memory_x [C_t*m, 1, H, W], memory_y [C_t*m]       the first m training drawings of each
        character: what an episodic memory keeps of this task (a subset of the training set)
    train_images [C_t, M_tr, H, W]   the training drawings grouped by class (for episode samplers)
    """

    index: int
    name: str
    class_ids: Tensor
    characters: list[str]
    train_x: Tensor
    train_y: Tensor
    test_x: Tensor
    test_y: Tensor
    memory_x: Tensor
    memory_y: Tensor
    train_images: Tensor

    @property
    def num_classes(self) -> int:
        """C_t, the number of characters (classes) of this task."""
        return int(self.class_ids.numel())

    def __repr__(self) -> str:
        return (
            f"Task({self.index}: {self.name!r}, {self.num_classes} classes, "
            f"train {self.train_x.shape[0]}, test {self.test_x.shape[0]}, memory {self.memory_x.shape[0]})"
        )


def _flatten(images: Tensor) -> tuple[Tensor, Tensor]:
    """``[C, M, H, W] -> (x [C*M, 1, H, W], y [C*M])`` with y = class index, grouped by class."""
    c, m = images.shape[:2]
    x = images.reshape(c * m, 1, *images.shape[2:])
    y = torch.arange(c).repeat_interleave(m)
    return x, y


class TaskStream(Sequence):
    """Tasks formed by the alphabets of a character set, in a fixed order.

    Parameters
    ----------
    images : Tensor [C, M, H, W]      all characters, M drawings each (Omniglot: M = 20)
    alphabets : list[str]             alphabet of each character (len C)
    characters : list[str] or None    name of each character (len C), for display
    order : None | "shuffle" | list[str]
        None: alphabets in order of first appearance; "shuffle": a random order drawn with
        ``seed``; a list: exactly these alphabets in this order (a subset is allowed).
    train_per_class : int   drawings per character used for training; the rest are test drawings
    test_per_class : int or None   use only this many of the remaining drawings as the test set
        (None: all of them). Fewer test drawings make testing cheaper and noisier.
    memory_per_class : int  drawings per character an episodic memory keeps (<= train_per_class)
    seed : int              which drawings go to train / test / memory (and the shuffled order)

    Iterating yields the :class:`Task` objects in stream order; ``stream[t]``, ``len(stream)``,
    ``stream.names`` work as expected. Every character belongs to exactly one task.
    """

    def __init__(
        self,
        images: Tensor,
        alphabets: Sequence[str],
        characters: Sequence[str] | None = None,
        *,
        order: None | str | Sequence[str] = None,
        train_per_class: int = 15,
        test_per_class: int | None = None,
        memory_per_class: int = 2,
        seed: int = 0,
    ) -> None:
        if not isinstance(images, Tensor) or images.dim() != 4:
            shape = list(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"images must be a tensor [characters, drawings, H, W], got {shape}")
        num_chars, per_class = images.shape[:2]
        if len(alphabets) != num_chars:
            raise ValueError(f"alphabets has {len(alphabets)} entries but images has {num_chars} characters")
        if characters is None:
            characters = [f"{a}/character{i:03d}" for i, a in enumerate(alphabets)]
        if len(characters) != num_chars:
            raise ValueError(f"characters has {len(characters)} entries but images has {num_chars} characters")
        if not (isinstance(train_per_class, int) and 1 <= train_per_class < per_class):
            raise ValueError(
                f"train_per_class={train_per_class!r} is not possible: each character has {per_class} drawings, "
                f"so choose 1..{per_class - 1} (the rest are the test drawings)"
            )
        left = per_class - train_per_class
        if test_per_class is None:
            test_per_class = left
        if not (isinstance(test_per_class, int) and 1 <= test_per_class <= left):
            raise ValueError(
                f"test_per_class={test_per_class!r} is not possible: with train_per_class={train_per_class} "
                f"there are {left} drawings left per character, so choose 1..{left} (or None for all)"
            )
        if not (isinstance(memory_per_class, int) and 1 <= memory_per_class <= train_per_class):
            raise ValueError(
                f"memory_per_class={memory_per_class!r} is not possible: choose 1..{train_per_class} "
                f"(the memory keeps some of the {train_per_class} training drawings of each character)"
            )
        available = list(dict.fromkeys(alphabets))  # first-appearance order, unique
        generator = torch.Generator().manual_seed(seed)
        if order is None:
            names = available
        elif isinstance(order, str):
            if order != "shuffle":
                raise ValueError(f"order must be None, 'shuffle' or a list of alphabet names, got {order!r}")
            names = [available[i] for i in torch.randperm(len(available), generator=generator).tolist()]
        else:
            names = list(order)
            unknown = [n for n in names if n not in available]
            if unknown:
                raise ValueError(f"unknown alphabet(s) {unknown}; available: {available}")
            if len(set(names)) != len(names):
                raise ValueError(f"order lists an alphabet twice: {names}")
            if not names:
                raise ValueError("order is empty: a stream needs at least one task")

        self.train_per_class = train_per_class
        self.test_per_class = test_per_class
        self.memory_per_class = memory_per_class
        self.seed = seed
        self.tasks: list[Task] = []
        alphabet_array = np.asarray(list(alphabets), dtype=object)
        for index, name in enumerate(names):
            class_ids = torch.as_tensor(np.flatnonzero(alphabet_array == name), dtype=torch.long)
            block = images[class_ids]  # [C_t, M, H, W]
            # a fresh random order of the drawings of every character
            perm = torch.argsort(torch.rand(block.shape[:2], generator=generator), dim=1)
            block = torch.gather(block, 1, perm[:, :, None, None].expand_as(block))
            train_images = block[:, :train_per_class].contiguous()
            train_x, train_y = _flatten(train_images)
            test_x, test_y = _flatten(block[:, train_per_class : train_per_class + test_per_class])
            memory_x, memory_y = _flatten(train_images[:, :memory_per_class])
            self.tasks.append(
                Task(
                    index=index,
                    name=str(name),
                    class_ids=class_ids,
                    characters=[characters[i] for i in class_ids.tolist()],
                    train_x=train_x,
                    train_y=train_y,
                    test_x=test_x,
                    test_y=test_y,
                    memory_x=memory_x,
                    memory_y=memory_y,
                    train_images=train_images,
                )
            )

    @classmethod
    def from_charset(cls, charset, **kwargs) -> TaskStream:
        """Build the stream from a ``CharacterSet`` (``.images [C, 20, 28, 28]``, ``.alphabets``, ``.characters``)."""
        return cls(charset.images, charset.alphabets, getattr(charset, "characters", None), **kwargs)

    @property
    def names(self) -> list[str]:
        """The task names (alphabets) in stream order."""
        return [t.name for t in self.tasks]

    @property
    def num_classes(self) -> list[int]:
        """C_t of every task, in stream order."""
        return [t.num_classes for t in self.tasks]

    def __len__(self) -> int:
        return len(self.tasks)

    def __getitem__(self, index):
        return self.tasks[index]

    def __iter__(self):
        return iter(self.tasks)

    def __repr__(self) -> str:
        parts = ", ".join(f"{t.name} ({t.num_classes})" for t in self.tasks)
        return (
            f"TaskStream({len(self)} tasks: {parts}; {self.train_per_class} train and {self.test_per_class} "
            f"test drawings per class, memory {self.memory_per_class} per class)"
        )
