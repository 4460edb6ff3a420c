"""Omniglot characters (Lake, Salakhutdinov & Tenenbaum 2015) as character sets, and their splits.

Each Omniglot character was drawn once by each of 20 people; a :class:`CharacterSet` holds every
drawing of every character as ``[C, 20, 28, 28]`` (ink 1.0, background 0.0), decoded straight from
the zips by :mod:`course_lib.data.omniglot_archive`. Lake's one-shot runs are in
:mod:`course_lib.data.omniglot_runs` (:func:`load_lake_runs` is importable from here too).

The two minimal "background small" sets each hold five alphabets; Greek and Latin are in both,
and their drawings are byte-for-byte the same files. :func:`load_background_small` therefore keeps
each character once (242 distinct characters instead of 136 + 156 = 292), so a held-out split never
has the same character on both sides.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch

from course_lib.data.catalog import FILES, DataError, md5sum
from course_lib.data.fetch import ensure_file
from course_lib.data.omniglot_archive import (
    cache_file,
    decode_character_zip,
    ink_to_float,
    read_cache,
    save_cache,
    write_cache,
)
from course_lib.data.omniglot_runs import load_lake_runs

__all__ = [
    "CharacterSet",
    "SUBSETS",
    "load_background_small",
    "load_lake_runs",
    "load_omniglot",
    "load_paper_split",
    "merge_character_sets",
    "omniglot_split",
    "split_characters",
]

#: subset name -> key of :data:`course_lib.data.catalog.FILES`
SUBSETS: dict[str, str] = {
    "background_small1": "omniglot/images_background_small1.zip",
    "background_small2": "omniglot/images_background_small2.zip",
    "background": "omniglot/images_background.zip",
    "evaluation": "omniglot/images_evaluation.zip",
}


@dataclass
class CharacterSet:
    """A set of Omniglot characters, each with all of its drawings.

    Attributes:
        images: float32 tensor ``[C, M, H, W]`` (C characters, M drawings each, usually M = 20 and
            H = W = 28); ink 1.0, background 0.0.
        alphabets: ``C`` alphabet names, e.g. ``"Greek"``.
        characters: ``C`` unique character names, e.g. ``"Greek/character03"``.
        name: where the set came from, e.g. ``"background_small1"``.
    """

    images: torch.Tensor
    alphabets: list[str]
    characters: list[str]
    name: str = "omniglot"

    def __post_init__(self) -> None:
        if self.images.dim() != 4:
            raise ValueError(f"images must have shape [C, M, H, W], got {tuple(self.images.shape)}")
        count = self.images.shape[0]
        if len(self.alphabets) != count or len(self.characters) != count:
            raise ValueError(
                f"{count} characters in images but {len(self.alphabets)} alphabet names and "
                f"{len(self.characters)} character names"
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        c, m, h, w = self.images.shape
        return (f"CharacterSet({self.name!r}: {c} characters x {m} drawings of {h}x{w}, "
                f"{len(self.alphabet_names)} alphabets)")

    @property
    def num_drawings(self) -> int:
        """Drawings per character (M)."""
        return self.images.shape[1]

    @property
    def alphabet_names(self) -> list[str]:
        """Distinct alphabets, in order of first appearance."""
        return list(dict.fromkeys(self.alphabets))

    def by_alphabet(self) -> dict[str, list[int]]:
        """Alphabet name -> indices of its characters."""
        groups: dict[str, list[int]] = defaultdict(list)
        for index, alphabet in enumerate(self.alphabets):
            groups[alphabet].append(index)
        return dict(groups)

    def subset(self, indices, name: str | None = None) -> CharacterSet:
        """The characters at ``indices`` (a sequence of ints or a LongTensor), in that order."""
        index = torch.as_tensor(list(indices) if not torch.is_tensor(indices) else indices, dtype=torch.long)
        if index.dim() != 1:
            raise ValueError("indices must be one-dimensional")
        if len(index) and (int(index.min()) < -len(self) or int(index.max()) >= len(self)):
            raise IndexError(f"character index out of range for a set of {len(self)} characters")
        picked = index.tolist()
        return CharacterSet(
            images=self.images[index],
            alphabets=[self.alphabets[i] for i in picked],
            characters=[self.characters[i] for i in picked],
            name=name or self.name,
        )


def load_omniglot(subset: str = "background_small1", *, path: str | os.PathLike | None = None,
                  image_size: int = 28, use_cache: bool = True, progress: bool = True) -> CharacterSet:
    """Load an Omniglot split as a :class:`CharacterSet` with images ``[C, 20, 28, 28]``.

    Args:
        subset: ``"background_small1"`` (136 characters), ``"background_small2"`` (156),
            ``"background"`` (964, the standard meta-training alphabets) or ``"evaluation"`` (659).
        path: read this zip instead of the course's verified copy (the cache is then keyed by its md5).
        image_size: side of the resized square images (28 in the few-shot literature).
        use_cache: read/write the decoded arrays in ``cache_dir()/omniglot``.
        progress: show a progress bar while decoding.
    """
    if subset not in SUBSETS and path is None:
        raise ValueError(f"unknown Omniglot subset {subset!r}; choose one of {', '.join(SUBSETS)}")
    if not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
    if path is None:
        zip_path = ensure_file(SUBSETS[subset])  # verified against the known md5
        digest = FILES[SUBSETS[subset]].md5
    else:
        zip_path = Path(path)
        if not zip_path.is_file():
            raise DataError(f"Omniglot archive {zip_path} does not exist.")
        digest = md5sum(zip_path)
    cache = cache_file(zip_path.stem, digest, image_size) if use_cache else None
    loaded = read_cache(cache) if cache is not None and cache.is_file() else None
    if loaded is None:
        loaded = decode_character_zip(zip_path, image_size=image_size, progress=progress)
        if cache is not None:
            save_cache(write_cache, cache, *loaded)
    ink, alphabets, characters = loaded
    return CharacterSet(images=ink_to_float(ink), alphabets=alphabets, characters=characters, name=subset)


def merge_character_sets(first: CharacterSet, second: CharacterSet, name: str = "merged") -> CharacterSet:
    """Concatenate two sets, keeping a character present in both (same name, same images) once.

    A character whose name appears in both sets with *different* images is kept twice, the second
    copy renamed ``"<alphabet> (<second.name>)/<character>"`` so names stay unique.
    """
    if first.images.shape[1:] != second.images.shape[1:]:
        raise ValueError(f"cannot merge sets of shapes {tuple(first.images.shape[1:])} and "
                         f"{tuple(second.images.shape[1:])} (drawings x height x width)")
    position = {name_: i for i, name_ in enumerate(first.characters)}
    keep, alphabets, characters = [], list(first.alphabets), list(first.characters)
    for j, character in enumerate(second.characters):
        i = position.get(character)
        if i is not None and torch.equal(first.images[i], second.images[j]):
            continue  # the very same character: keep one copy
        keep.append(j)
        if i is None:
            alphabets.append(second.alphabets[j])
            characters.append(character)
        else:
            alphabet = f"{second.alphabets[j]} ({second.name})"
            alphabets.append(alphabet)
            characters.append(f"{alphabet}/{character.split('/', 1)[-1]}")
    images = torch.cat([first.images, second.images[keep]], dim=0)
    return CharacterSet(images=images, alphabets=alphabets, characters=characters, name=name)


def load_background_small(*, image_size: int = 28, progress: bool = True) -> CharacterSet:
    """Both minimal background sets merged: 8 alphabets, 242 characters ``[242, 20, 28, 28]``.

    Greek and Latin appear in both small sets with identical drawings; they are kept once.
    """
    first = load_omniglot("background_small1", image_size=image_size, progress=progress)
    second = load_omniglot("background_small2", image_size=image_size, progress=progress)
    return merge_character_sets(first, second, name="background_small")


def load_paper_split(num_train: int = 1200, *, seed: int = 1, image_size: int = 28,
                     progress: bool = True) -> tuple[CharacterSet, CharacterSet]:
    """The papers' Omniglot protocol: all 1623 characters, ``num_train`` for meta-training, the rest for test.

    Vinyals et al. (2016), Finn et al. (2017) and Snell et al. (2017) pool the background (964) and
    evaluation (659) sets and meta-train on 1200 characters (x4 rotations), testing on the other 423.
    The characters are chosen by a seeded shuffle (``torch.Generator(seed)``), not the papers' own
    lists. Needs the two full zips (not in the offline mirror): ``python -m course_lib data --download
    omniglot/images_background.zip omniglot/images_evaluation.zip`` (md5-verified like every file).
    """
    pooled = merge_character_sets(load_omniglot("background", image_size=image_size, progress=progress),
                                  load_omniglot("evaluation", image_size=image_size, progress=progress), name="omniglot")
    if not 0 < num_train < len(pooled):
        raise ValueError(f"num_train must be between 1 and {len(pooled) - 1}, got {num_train}")
    order = torch.randperm(len(pooled), generator=torch.Generator().manual_seed(seed)).tolist()
    return (pooled.subset(sorted(order[:num_train]), name=f"omniglot-train{num_train}"),
            pooled.subset(sorted(order[num_train:]), name=f"omniglot-test{len(pooled) - num_train}"))


def split_characters(charset: CharacterSet, test_fraction: float = 0.3, seed: int = 0,
                     by: str = "character") -> tuple[CharacterSet, CharacterSet]:
    """Split characters into disjoint (train, test) sets for held-out-character evaluation.

    Args:
        charset: the set to split.
        test_fraction: share of characters (``by="character"``) or alphabets (``by="alphabet"``)
            that goes to the test side; rounded, with at least one item on each side.
        seed: seed of the ``torch.Generator`` that shuffles.
        by: ``"character"`` shuffles characters; ``"alphabet"`` keeps alphabets whole, so test
            characters come from alphabets never seen in training (the harder protocol).
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be strictly between 0 and 1, got {test_fraction}")
    generator = torch.Generator().manual_seed(seed)
    if by == "character":
        units = [[i] for i in range(len(charset))]
    elif by == "alphabet":
        units = list(charset.by_alphabet().values())
    else:
        raise ValueError(f"by must be 'character' or 'alphabet', got {by!r}")
    if len(units) < 2:
        raise ValueError(f"cannot split {len(units)} {by}(s) into two non-empty parts")
    n_test = min(max(round(test_fraction * len(units)), 1), len(units) - 1)
    order = torch.randperm(len(units), generator=generator).tolist()
    test = sorted(i for u in order[:n_test] for i in units[u])
    train = sorted(i for u in order[n_test:] for i in units[u])
    return (charset.subset(train, name=f"{charset.name}-train"),
            charset.subset(test, name=f"{charset.name}-test"))


def omniglot_split(budget: str, *, progress: bool = True) -> tuple[CharacterSet, CharacterSet]:
    """The (meta-train, test) characters of chapters 02 and 03 and of ``python -m course_lib run`` at ``budget``.

    ``full``: the papers' 1200 training characters and the rest for test (:func:`load_paper_split`, the full
    zips, downloaded on first use); ``smoke``/``standard``: a seeded 70/30 split of the background-small sets.
    """
    if budget == "full":
        return load_paper_split(progress=progress)
    return split_characters(load_background_small(progress=progress), test_fraction=0.3, seed=0)

