"""The catalogue of the course's raw data files: where each comes from and how to check it.

:data:`FILES` lists every dataset file with its canonical URL and md5; :func:`md5sum` computes the
digest a local copy is checked against. :class:`DataError` is what every loader raises when
a file is missing, incomplete or corrupt. Finding, checking and downloading the files on disk is
:mod:`course_lib.data.fetch`.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from dataclasses import dataclass

__all__ = ["FILES", "DataError", "RemoteFile", "fix_command", "md5sum", "mismatch"]

_OMNIGLOT = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python"
_DKVMN = "https://raw.githubusercontent.com/jennyzhang0215/DKVMN/master/data/assist2009_updated"
_MOVIELENS = "https://files.grouplens.org/datasets/movielens"


class DataError(RuntimeError):
    """A data file is missing, incomplete, corrupt or cannot be fetched; the message says how to fix it."""


@dataclass(frozen=True)
class RemoteFile:
    """One downloadable file.

    Attributes:
        relpath: path below the data folder, also the key in :data:`FILES`.
        url: canonical download URL.
        md5: expected md5 hex digest of the file's bytes.
        size_hint: size in bytes when known (progress bar only; the md5 is what is checked).
        optional: True for large files that offline mirrors may leave out (the full Omniglot zips).
        members: for a zip whose copies differ in their bytes but not in their contents, ``(name, md5)``
            of each member (below the zip's top folder): then the members are checked, not ``md5``
            (which is that of one known copy).
    """

    relpath: str
    url: str
    md5: str
    size_hint: int | None = None
    optional: bool = False
    members: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        return self.relpath


def _entries() -> dict[str, RemoteFile]:
    files = [
        RemoteFile("omniglot/images_background_small1.zip", f"{_OMNIGLOT}/images_background_small1.zip",
                   "e704a628b5459e08445c13499850abc4", 1_319_022),
        RemoteFile("omniglot/images_background_small2.zip", f"{_OMNIGLOT}/images_background_small2.zip",
                   "b75a71a51d3b13f821f212756fe481fd", 1_580_917),
        RemoteFile("omniglot/all_runs.zip", f"{_OMNIGLOT}/one-shot-classification/all_runs.zip",
                   "e8996daecdf12afeeb4a53a179f06b19", 352_787),
        RemoteFile("omniglot/images_background.zip", f"{_OMNIGLOT}/images_background.zip",
                   "68d2efa1b9178cc56df9314c21c6e718", None, optional=True),
        RemoteFile("omniglot/images_evaluation.zip", f"{_OMNIGLOT}/images_evaluation.zip",
                   "6b91aef0f799c5bb55b94e3f2daec811", None, optional=True),
        RemoteFile("assistments/assist2009_updated_train.csv", f"{_DKVMN}/assist2009_updated_train.csv",
                   "d1bb1cf38daca5efd0ea551d04291a62", 1_103_738),
        RemoteFile("assistments/assist2009_updated_test.csv", f"{_DKVMN}/assist2009_updated_test.csv",
                   "9f2cb6456cb4809a738028235f4bf878", 499_387),
        RemoteFile("assistments/assist2009_updated_skill_mapping.txt",
                   f"{_DKVMN}/assist2009_updated_skill_mapping.txt",
                   "09174e1d40d29fd5af2a8c762c84dc90", 2_928),
        # copies differ in their zip bytes, not in their members: the members are checked
        RemoteFile("movielens/ml-latest-small.zip", f"{_MOVIELENS}/ml-latest-small.zip",
                   "bd8ff21f704c18b59b4a8765b038ac0e", 972_354,
                   members=(("ratings.csv", "325a6f09399d1c45671f187505e1a100"),
                            ("movies.csv", "ed94fab72b62442ef8150d9446e000d6"),
                            ("tags.csv", "1b2d21a7be1cc23d327b11155a4a6aea"),
                            ("links.csv", "316913f95cdad64c745ca22f3630e230"))),
    ]
    return {f.key: f for f in files}


#: Every file the course knows how to fetch, keyed by its path below the data folder.
FILES: dict[str, RemoteFile] = _entries()


def fix_command(key: str) -> str:
    """The shell command that downloads (or re-downloads) ``key``."""
    return f"python -m course_lib data --download {key}"


def md5sum(path: str | os.PathLike) -> str:
    """md5 hex digest of a file, read in chunks."""
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def mismatch(spec: RemoteFile, path: str | os.PathLike) -> str | None:
    """None when the file at ``path`` is ``spec``'s file, else what differs (an md5, or a member and its md5)."""
    if not spec.members:
        actual = md5sum(path)
        return None if actual == spec.md5 else actual
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            for member, expected in spec.members:
                found = [n for n in names if n == member or n.endswith("/" + member)]
                if not found:
                    return f"{member} is missing from the zip (expected md5 {expected})"
                actual = hashlib.md5(archive.read(found[0])).hexdigest()
                if actual != expected:
                    return f"{member} has md5 {actual}, expected {expected}"
    except (zipfile.BadZipFile, EOFError, OSError) as err:
        return f"not a readable zip ({err})"
    return None
