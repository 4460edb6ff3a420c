"""Omniglot characters (Lake, Salakhutdinov & Tenenbaum 2015), decoded straight from the zips.

Each Omniglot character was drawn once by each of 20 people. A zip holds
``<top>/<alphabet>/<characterNN>/<drawing>.png`` files of 105x105 pixels, black ink on white.

Preprocessing (the usual few-shot protocol, Vinyals et al. 2016 / Finn et al. 2017):

1. decode the PNG with Pillow and convert it to 8-bit grey (``"L"``) *before* resizing — Pillow
   silently falls back to nearest-neighbour when asked to resize a 1-bit image;
2. resize 105x105 -> 28x28 with the Lanczos filter;
3. invert so that ink is 1.0 and background 0.0, and scale to float32 in [0, 1].

Decoded arrays are cached as ``.npz`` files in :func:`course_lib.runtime.cache_dir` under a name
that contains the zip's md5 and the image size, so the second load takes well under a second and a
changed zip can never be served from a stale cache.

The two minimal "background small" sets each hold five alphabets; Greek and Latin are in both,
and their drawings are byte-for-byte the same files. :func:`load_background_small` therefore keeps
each character once (242 distinct characters instead of 136 + 156 = 292), so a held-out split never
has the same character on both sides.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from course_lib import runtime
from course_lib.data import fetch
from course_lib.data.fetch import DataError, ensure_file, md5sum

#: subset name -> key of :data:`course_lib.data.fetch.FILES`
SUBSETS: dict[str, str] = {
    "background_small1": "omniglot/images_background_small1.zip",
    "background_small2": "omniglot/images_background_small2.zip",
    "background": "omniglot/images_background.zip",
    "evaluation": "omniglot/images_evaluation.zip",
}
LAKE_RUNS_KEY = "omniglot/all_runs.zip"
_CACHE_VERSION = 1  # bump when the preprocessing changes


# ---------------------------------------------------------------------------------------------
# Character sets
# ---------------------------------------------------------------------------------------------
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


def preprocess_png(data: bytes, image_size: int = 28) -> np.ndarray:
    """Decode one Omniglot PNG into a uint8 ink map ``[image_size, image_size]`` (ink 255, paper 0).

    The image is converted to 8-bit grey first so that the Lanczos filter really is used.
    """
    with Image.open(io.BytesIO(data)) as img:
        grey = img.convert("L")
    if grey.size != (image_size, image_size):
        grey = grey.resize((image_size, image_size), Image.Resampling.LANCZOS)
    return 255 - np.asarray(grey, dtype=np.uint8)


def ink_to_float(ink: np.ndarray) -> torch.Tensor:
    """uint8 ink map(s) ``[..., H, W]`` -> float32 tensor in [0, 1] of the same shape."""
    return torch.from_numpy(np.ascontiguousarray(ink)).to(torch.float32).div_(255.0)


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DataError(
            f"{path} is not a readable zip archive ({err}). Delete it and fetch it again "
            "(`python -m course_lib data` lists the download command for each file)."
        ) from err


def _png_members(archive: zipfile.ZipFile) -> list[PurePosixPath]:
    members = []
    for info in archive.infolist():
        name = PurePosixPath(info.filename.replace("\\", "/"))
        if info.is_dir() or name.suffix.lower() != ".png":
            continue
        if any(part.startswith((".", "__MACOSX")) for part in name.parts):
            continue
        members.append(name)
    return members


def decode_character_zip(path: str | os.PathLike, image_size: int = 28, progress: bool = True):
    """Decode every drawing in an Omniglot zip.

    Returns ``(ink, alphabets, characters)``: ``ink`` uint8 ``[C, M, image_size, image_size]`` (ink
    255), with characters sorted by alphabet then character folder and drawings by file name.
    Raises :class:`DataError` for an unreadable archive, an undecodable PNG, a zip without
    ``<alphabet>/<character>/<drawing>.png`` entries, or characters with unequal drawing counts.
    """
    path = Path(path)
    with _open_zip(path) as archive:
        groups: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
        for member in _png_members(archive):
            if len(member.parts) < 3:
                raise DataError(
                    f"{path}: entry {member} is not inside an <alphabet>/<character>/ folder; "
                    "this does not look like an Omniglot archive."
                )
            alphabet, character = member.parts[-3], member.parts[-2]
            groups[(alphabet, character)].append((member.name, str(member)))
        if not groups:
            raise DataError(f"{path} holds no PNG drawings; this does not look like an Omniglot archive.")
        keys = sorted(groups)
        counts = {len(groups[k]) for k in keys}
        if len(counts) != 1:
            smallest = min(keys, key=lambda k: len(groups[k]))
            raise DataError(
                f"{path}: characters have different numbers of drawings {sorted(counts)}; e.g. "
                f"{'/'.join(smallest)} has {len(groups[smallest])}. The archive is probably incomplete."
            )
        drawings = counts.pop()
        ink = np.empty((len(keys), drawings, image_size, image_size), dtype=np.uint8)
        names = {info.filename.replace("\\", "/"): info.filename for info in archive.infolist()}
        from tqdm.auto import tqdm

        for c, key in enumerate(tqdm(keys, desc=f"decode {path.name}", disable=not progress, leave=False)):
            for m, (_, member) in enumerate(sorted(groups[key])):
                try:
                    ink[c, m] = preprocess_png(archive.read(names[member]), image_size)
                except (UnidentifiedImageError, OSError, zipfile.BadZipFile, ValueError) as err:
                    raise DataError(
                        f"{path}: cannot decode {member} ({err}). The archive is corrupt; fetch it again."
                    ) from err
    alphabets = [a for a, _ in keys]
    characters = [f"{a}/{ch}" for a, ch in keys]
    return ink, alphabets, characters


def _cache_file(stem: str, md5: str, image_size: int) -> Path | None:
    """Cache path for a decoded archive, or None (with a warning) when no cache folder is writable."""
    try:
        folder = runtime.cache_dir() / "omniglot"
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        warnings.warn(f"no writable cache folder ({err}); decoding without a cache. Set COURSE_CACHE_DIR "
                      "to a writable folder to make the next load fast.", stacklevel=3)
        return None
    return folder / f"{stem}-{md5}-{image_size}px-v{_CACHE_VERSION}.npz"


def _read_cache(file: Path):
    try:
        with np.load(file, allow_pickle=False) as saved:
            return saved["ink"], [str(s) for s in saved["alphabets"]], [str(s) for s in saved["characters"]]
    except Exception:  # a damaged cache is rebuilt, never trusted
        return None


def _save_cache(writer, file: Path, *contents) -> None:
    """Write a cache file; a failure (full disk, permissions) only costs speed, so it only warns."""
    try:
        writer(file, *contents)
    except OSError as err:
        warnings.warn(f"could not write the cache file {file} ({err}); the next load will decode again.",
                      stacklevel=3)


def _write_cache(file: Path, ink: np.ndarray, alphabets: list[str], characters: list[str]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{file.stem}.", suffix=".npz.part", dir=file.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, ink=ink, alphabets=np.array(alphabets), characters=np.array(characters))
        os.replace(tmp, file)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
        digest = fetch.FILES[SUBSETS[subset]].md5
    else:
        zip_path = Path(path)
        if not zip_path.is_file():
            raise DataError(f"Omniglot archive {zip_path} does not exist.")
        digest = md5sum(zip_path)
    cache = _cache_file(zip_path.stem, digest, image_size) if use_cache else None
    loaded = _read_cache(cache) if cache is not None and cache.is_file() else None
    if loaded is None:
        loaded = decode_character_zip(zip_path, image_size=image_size, progress=progress)
        if cache is not None:
            _save_cache(_write_cache, cache, *loaded)
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


# ---------------------------------------------------------------------------------------------
# Lake et al.'s 20 one-shot classification runs
# ---------------------------------------------------------------------------------------------
@dataclass
class OneShotRun:
    """One of Lake et al.'s 20-way one-shot runs: 20 training drawings (one per class), 20 test drawings.

    Attributes:
        name: run folder, e.g. ``"run01"``.
        train_images: float32 ``[20, 28, 28]``, one drawing of each of the 20 classes.
        test_images: float32 ``[20, 28, 28]``, drawings by other people of the same 20 characters.
        answers: LongTensor ``[20]``; ``answers[i]`` is the index in ``train_images`` of the class of
            ``test_images[i]``.
        train_files, test_files: the archive members the images came from (same order).
    """

    name: str
    train_images: torch.Tensor
    test_images: torch.Tensor
    answers: torch.Tensor
    train_files: list[str]
    test_files: list[str]

    def error_rate(self, predictions: torch.Tensor) -> float:
        """Share of test items whose predicted training index (LongTensor ``[20]``) is wrong."""
        predictions = torch.as_tensor(predictions).to("cpu").long()
        if predictions.shape != self.answers.shape:
            raise ValueError(f"predictions must have shape {tuple(self.answers.shape)}, "
                             f"got {tuple(predictions.shape)}")
        return float((predictions != self.answers).float().mean())


def _resolve(token: str, run_dir: PurePosixPath, expected_folder: str, members: dict[str, str]) -> str | None:
    """Find the archive member a class_labels.txt path refers to.

    Accepts paths relative to the archive root (``run01/test/item01.png``, Lake's files), relative
    to the run folder (``test/item01.png``) or bare file names; backslashes and ``./`` are tolerated.
    """
    text = token.replace("\\", "/")
    while text.startswith(("./", "/")):
        text = text[1:] if text.startswith("/") else text[2:]
    clean = PurePosixPath(text)
    candidates = [
        str(clean),
        str(run_dir / clean),
        str(run_dir / expected_folder / clean.name),
    ]
    for candidate in candidates:
        if candidate in members:
            return candidate
    return None


def _parse_run(archive: zipfile.ZipFile, labels_member: str, members: dict[str, str], path: Path,
               image_size: int) -> OneShotRun:
    run_dir = PurePosixPath(labels_member.replace("\\", "/")).parent
    text = archive.read(members[labels_member.replace("\\", "/")]).decode("utf-8-sig", errors="replace")
    where = f"{path.name}:{labels_member}"

    def images_in(folder: str) -> list[str]:
        prefix = f"{run_dir / folder}/" if str(run_dir) != "." else f"{folder}/"
        return sorted(m for m in members if m.startswith(prefix) and m.lower().endswith(".png")
                      and "/" not in m[len(prefix):])

    train_files, test_files = images_in("training"), images_in("test")
    if not train_files or not test_files:
        raise DataError(f"{where}: the run folder needs training/ and test/ PNGs "
                        f"(found {len(train_files)} and {len(test_files)}).")
    answer_of: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        tokens = line.split()
        if len(tokens) != 2:
            raise DataError(f"{where} line {number}: expected '<test image> <training image>', got {line!r}")
        first, second = tokens
        # Lake's files list the test item first; accept the reverse order when the folders say so.
        if "training" in first.replace("\\", "/").split("/")[:-1] and \
                "test" in second.replace("\\", "/").split("/")[:-1]:
            first, second = second, first
        test_member = _resolve(first, run_dir, "test", members)
        train_member = _resolve(second, run_dir, "training", members)
        if test_member not in test_files:
            raise DataError(f"{where} line {number}: test image {first!r} is not in {run_dir}/test/.")
        if train_member not in train_files:
            raise DataError(f"{where} line {number}: training image {second!r} is not in "
                            f"{run_dir}/training/.")
        if test_member in answer_of:
            raise DataError(f"{where} line {number}: test image {first!r} is labelled twice.")
        answer_of[test_member] = train_files.index(train_member)
    unlabeled = [m for m in test_files if m not in answer_of]
    if unlabeled:
        raise DataError(f"{where}: no label for {len(unlabeled)} test image(s), e.g. {unlabeled[0]}.")

    def decode(files: list[str]) -> torch.Tensor:
        try:
            ink = np.stack([preprocess_png(archive.read(members[m]), image_size) for m in files])
        except (UnidentifiedImageError, OSError, ValueError) as err:
            raise DataError(f"{where}: cannot decode an image ({err}); the archive is corrupt.") from err
        return ink_to_float(ink)

    return OneShotRun(
        name=run_dir.name or path.stem,
        train_images=decode(train_files),
        test_images=decode(test_files),
        answers=torch.tensor([answer_of[m] for m in test_files], dtype=torch.long),
        train_files=train_files,
        test_files=test_files,
    )


def _runs_from_cache(file: Path) -> list[OneShotRun] | None:
    try:
        with np.load(file, allow_pickle=False) as saved:
            train, test, answers = saved["train"], saved["test"], saved["answers"]
            names = [str(n) for n in saved["names"]]
            train_files, test_files = saved["train_files"], saved["test_files"]
            return [OneShotRun(name, ink_to_float(train[r]), ink_to_float(test[r]),
                               torch.from_numpy(answers[r].astype(np.int64)),
                               [str(f) for f in train_files[r]], [str(f) for f in test_files[r]])
                    for r, name in enumerate(names)]
    except Exception:  # a damaged cache is rebuilt, never trusted
        return None


def _runs_to_cache(file: Path, runs: list[OneShotRun]) -> None:
    shapes = {(tuple(r.train_images.shape), tuple(r.test_images.shape)) for r in runs}
    if len(shapes) != 1:
        return  # runs of different sizes: not worth a cache format
    to_ink = lambda images: np.round(images.numpy() * 255).astype(np.uint8)  # noqa: E731  (lossless)
    fd, tmp = tempfile.mkstemp(prefix=f".{file.stem}.", suffix=".npz.part", dir=file.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, names=np.array([r.name for r in runs]),
                     train=np.stack([to_ink(r.train_images) for r in runs]),
                     test=np.stack([to_ink(r.test_images) for r in runs]),
                     answers=np.stack([r.answers.numpy() for r in runs]),
                     train_files=np.array([r.train_files for r in runs]),
                     test_files=np.array([r.test_files for r in runs]))
        os.replace(tmp, file)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def load_lake_runs(path: str | os.PathLike | None = None, image_size: int = 28,
                   use_cache: bool = True) -> list[OneShotRun]:
    """Load Lake et al.'s 20 within-alphabet 20-way one-shot runs (``all_runs.zip``).

    Each ``runNN/class_labels.txt`` line pairs a ``test/itemNN.png`` with its correct
    ``training/classNN.png``. Images get the same preprocessing as :func:`load_omniglot`
    (28x28 Lanczos, ink 1.0) and are cached like the character sets. Returns the runs sorted by
    name. Published error rates on these runs: people 4.5 %, Bayesian Program Learning 3.3 %, a deep
    ConvNet 13.5 % (Lake et al. 2015).
    """
    zip_path = ensure_file(LAKE_RUNS_KEY) if path is None else Path(path)
    if not zip_path.is_file():
        raise DataError(f"one-shot runs archive {zip_path} does not exist.")
    cache = _cache_file(zip_path.stem, md5sum(zip_path), image_size) if use_cache else None
    if cache is not None and cache.is_file():
        runs = _runs_from_cache(cache)
        if runs is not None:
            return runs
    with _open_zip(zip_path) as archive:
        members = {info.filename.replace("\\", "/"): info.filename for info in archive.infolist()
                   if not info.is_dir()}
        label_files = sorted(m for m in members if PurePosixPath(m).name == "class_labels.txt"
                             and not any(p.startswith(("__MACOSX", ".")) for p in PurePosixPath(m).parts))
        if not label_files:
            raise DataError(f"{zip_path} holds no runNN/class_labels.txt; it is not Lake's all_runs.zip.")
        runs = [_parse_run(archive, member, members, zip_path, image_size) for member in label_files]
    if cache is not None:
        _save_cache(_runs_to_cache, cache, runs)
    return runs
