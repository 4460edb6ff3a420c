"""Lake et al.'s 20 within-alphabet 20-way one-shot classification runs (``all_runs.zip``).

Each ``runNN/`` folder holds 20 ``training/classNN.png`` drawings (one per class), 20
``test/itemNN.png`` drawings of the same characters by other people, and ``class_labels.txt``
pairing every test item with its correct training class. Images get the preprocessing of
:mod:`course_lib.data.omniglot_archive` (28x28 Lanczos, ink 1.0) and are cached the same way.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import UnidentifiedImageError

from course_lib.data.catalog import DataError, md5sum
from course_lib.data.fetch import ensure_file
from course_lib.data.omniglot_archive import cache_file, ink_to_float, open_zip, preprocess_png, save_cache

__all__ = ["LAKE_RUNS_KEY", "OneShotRun", "load_lake_runs"]

LAKE_RUNS_KEY = "omniglot/all_runs.zip"  # key of course_lib.data.catalog.FILES


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
    except Exception:  # noqa: BLE001 - a damaged cache is rebuilt, never trusted
        return None


def _runs_to_cache(file: Path, runs: list[OneShotRun]) -> None:
    shapes = {(tuple(r.train_images.shape), tuple(r.test_images.shape)) for r in runs}
    if len(shapes) != 1:
        return  # runs of different sizes: not worth a cache format
    to_ink = lambda images: np.round(images.numpy() * 255).astype(np.uint8)  # lossless
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
    cache = cache_file(zip_path.stem, md5sum(zip_path), image_size) if use_cache else None
    if cache is not None and cache.is_file():
        runs = _runs_from_cache(cache)
        if runs is not None:
            return runs
    with open_zip(zip_path) as archive:
        members = {info.filename.replace("\\", "/"): info.filename for info in archive.infolist()
                   if not info.is_dir()}
        label_files = sorted(m for m in members if PurePosixPath(m).name == "class_labels.txt"
                             and not any(p.startswith(("__MACOSX", ".")) for p in PurePosixPath(m).parts))
        if not label_files:
            raise DataError(f"{zip_path} holds no runNN/class_labels.txt; it is not Lake's all_runs.zip.")
        runs = [_parse_run(archive, member, members, zip_path, image_size) for member in label_files]
    if cache is not None:
        save_cache(_runs_to_cache, cache, runs)
    return runs
