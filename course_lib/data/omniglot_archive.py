"""Reading Omniglot zips: PNG decoding, the few-shot preprocessing and the cache of decoded arrays.

An Omniglot zip holds ``<top>/<alphabet>/<characterNN>/<drawing>.png`` files of 105x105 pixels,
black ink on white. Preprocessing (the usual few-shot protocol, Vinyals et al. 2016 / Finn et al. 2017):

1. decode the PNG with Pillow and convert it to 8-bit grey (``"L"``) *before* resizing — Pillow
   silently falls back to nearest-neighbour when asked to resize a 1-bit image;
2. resize 105x105 -> 28x28 with the Lanczos filter;
3. invert so that ink is 1.0 and background 0.0, and scale to float32 in [0, 1].

Decoded arrays are cached as ``.npz`` files in :func:`course_lib.runtime.cache_dir` under a name
that contains the zip's md5 and the image size, so the second load takes well under a second and a
changed zip can never be served from a stale cache. The public loaders are in
:mod:`course_lib.data.omniglot` (character sets) and :mod:`course_lib.data.omniglot_runs` (Lake's runs).
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
import zipfile
from collections import defaultdict
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from course_lib import runtime
from course_lib.data.catalog import DataError

__all__ = [
    "cache_file",
    "decode_character_zip",
    "ink_to_float",
    "open_zip",
    "preprocess_png",
    "read_cache",
    "save_cache",
    "write_cache",
]

_CACHE_VERSION = 1  # bump when the preprocessing changes


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


def open_zip(path: Path) -> zipfile.ZipFile:
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
    with open_zip(path) as archive:
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


def cache_file(stem: str, md5: str, image_size: int) -> Path | None:
    """Cache path for a decoded archive, or None (with a warning) when no cache folder is writable."""
    try:
        folder = runtime.cache_dir() / "omniglot"
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        warnings.warn(f"no writable cache folder ({err}); decoding without a cache. Set COURSE_CACHE_DIR "
                      "to a writable folder to make the next load fast.", stacklevel=3)
        return None
    return folder / f"{stem}-{md5}-{image_size}px-v{_CACHE_VERSION}.npz"


def read_cache(file: Path):
    try:
        with np.load(file, allow_pickle=False) as saved:
            return saved["ink"], [str(s) for s in saved["alphabets"]], [str(s) for s in saved["characters"]]
    except Exception:  # noqa: BLE001 - a damaged cache is rebuilt, never trusted
        return None


def save_cache(writer, file: Path, *contents) -> None:
    """Write a cache file; a failure (full disk, permissions) only costs speed, so it only warns."""
    try:
        writer(file, *contents)
    except OSError as err:
        warnings.warn(f"could not write the cache file {file} ({err}); the next load will decode again.",
                      stacklevel=3)


def write_cache(file: Path, ink: np.ndarray, alphabets: list[str], characters: list[str]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{file.stem}.", suffix=".npz.part", dir=file.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.savez(handle, ink=ink, alphabets=np.array(alphabets), characters=np.array(characters))
        os.replace(tmp, file)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
