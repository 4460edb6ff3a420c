"""MovieLens "latest-small" (Harper & Konstan 2015): 100,836 ratings by 610 users of 9,742 movies.

The zip from https://files.grouplens.org/datasets/movielens/ml-latest-small.zip holds
``ml-latest-small/{ratings,movies,tags,links}.csv`` and a README with the licence: research use,
redistribution under the same terms, and a citation of

    F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context.
    ACM Transactions on Interactive Intelligent Systems 5, 4, Article 19.

Copies of the zip in circulation differ in their zip bytes but not in their members, so the
loader verifies the md5 of each **member** (:data:`MEMBERS`) rather than the zip's. The zip itself is
found, downloaded (atomically) or reported missing by :mod:`course_lib.data.fetch` like every
other file. A truncated, tampered or unreadable member raises :class:`DataError` naming the
member, the expected md5 and the command that replaces the zip.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from course_lib.data.catalog import FILES, DataError, fix_command
from course_lib.data.fetch import ensure_file

__all__ = ["MEMBERS", "MOVIELENS_KEY", "MovieLens", "load_movielens", "verify_members"]

MOVIELENS_KEY = "movielens/ml-latest-small.zip"
#: md5 of each member of the zip (below its top folder ``ml-latest-small/``), from the catalog.
MEMBERS: dict[str, str] = dict(FILES[MOVIELENS_KEY].members)
_YEAR = re.compile(r"\((\d{4})\)\s*$")


@dataclass
class MovieLens:
    """The ratings as flat arrays (one row per rating) and the movies' titles, genres and years.

    Attributes:
        user: int64 ``[R]``, dense user index 0..U-1 (in order of ``userId``).
        item: int64 ``[R]``, dense movie index 0..I-1 (in the order of ``movies.csv``).
        rating: float32 ``[R]``, 0.5 .. 5 stars.
        timestamp: int64 ``[R]``, seconds since 1970.
        user_ids, movie_ids: int64 ``[U]``, ``[I]``: the original ids of each index.
        titles: ``I`` titles; genre_names: ``G`` genre names (``"(no genres listed)"`` is none of them).
        genres: float32 ``[I, G]`` multi-hot; year: float32 ``[I]`` release year from the title (nan if none).
    """

    user: np.ndarray
    item: np.ndarray
    rating: np.ndarray
    timestamp: np.ndarray
    user_ids: np.ndarray
    movie_ids: np.ndarray
    titles: list[str]
    genre_names: list[str]
    genres: np.ndarray
    year: np.ndarray

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    @property
    def num_items(self) -> int:
        return len(self.movie_ids)

    def __repr__(self) -> str:
        return (f"MovieLens({len(self.rating):,} ratings by {self.num_users} users of {self.num_items:,} movies, "
                f"{len(self.genre_names)} genres, mean rating {self.rating.mean():.2f})")

    def describe(self, item: int) -> str:
        """``"Title (year) — Genre|Genre"`` of movie index ``item``."""
        names = [g for g, on in zip(self.genre_names, self.genres[item]) if on]
        return f"{self.titles[item]} — {'|'.join(names) or 'no genre'}"


def _member_name(archive: zipfile.ZipFile, member: str) -> str | None:
    names = [n for n in archive.namelist() if n == member or n.endswith("/" + member)]
    return names[0] if names else None


def _bad_member(source: str, member: str, expected: str, problem: str) -> DataError:
    return DataError(f"{member} inside {source} {problem}.\n"
                     f"  expected md5 of {member}: {expected}\n"
                     f"  fix: run `{fix_command(MOVIELENS_KEY)}` to replace the zip with a fresh copy "
                     f"(or set COURSE_DATA_DIR to a folder that holds a good one).")


def verify_members(path: str | Path, members: dict[str, str] | None = None) -> dict[str, bytes]:
    """Check the md5 of each member of the zip at ``path``; return ``{member: its bytes}``.

    ``members``: ``{name: md5}`` (default :data:`MEMBERS`). Raises :class:`DataError` naming the
    member, the expected md5 and the fix when the zip is unreadable or a member is missing or differs.
    """
    members = MEMBERS if members is None else members
    source = Path(path).name
    contents: dict[str, bytes] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member, expected in members.items():
                name = _member_name(archive, member)
                if name is None:
                    raise _bad_member(source, member, expected, "is missing")
                contents[member] = archive.read(name)
    except (zipfile.BadZipFile, EOFError, OSError) as err:  # truncated zip, bad CRC of a member, ...
        member = next((m for m in members if m not in contents), next(iter(members)))
        raise _bad_member(source, member, members[member], f"cannot be read ({err})") from err
    for member, expected in members.items():
        actual = hashlib.md5(contents[member]).hexdigest()
        if actual != expected:
            raise _bad_member(source, member, expected,
                              f"is corrupt or a different version (md5 {actual}, {len(contents[member]):,} bytes)")
    return contents


def _rows(data: bytes, member: str, header: list[str]):
    reader = csv.reader(io.StringIO(data.decode("utf-8")))
    first = next(reader, None)
    if first != header:
        raise DataError(f"{member}: the header is {first}, expected {header}")
    for number, row in enumerate(reader, start=2):
        if len(row) != len(header):
            raise DataError(f"{member}, line {number}: {len(row)} fields, expected {len(header)} ({','.join(header)})")
        yield number, row


def _parse_movies(data: bytes):
    movie_ids, titles, genre_lists, years = [], [], [], []
    for number, (movie_id, title, genres) in _rows(data, "movies.csv", ["movieId", "title", "genres"]):
        if not movie_id.isdigit():
            raise DataError(f"movies.csv, line {number}: movieId {movie_id!r} is not a whole number")
        movie_ids.append(int(movie_id))
        titles.append(title.strip())
        genre_lists.append([] if genres == "(no genres listed)" else genres.split("|"))
        match = _YEAR.search(title.strip())
        years.append(float(match.group(1)) if match else np.nan)
    names = sorted({g for gs in genre_lists for g in gs})
    column = {g: j for j, g in enumerate(names)}
    multi_hot = np.zeros((len(titles), len(names)), dtype=np.float32)
    for i, gs in enumerate(genre_lists):
        multi_hot[i, [column[g] for g in gs]] = 1.0
    return np.array(movie_ids, dtype=np.int64), titles, names, multi_hot, np.array(years, dtype=np.float32)


def _parse_ratings(data: bytes, movie_index: dict[int, int]):
    table = []
    for number, (user, movie, rating, stamp) in _rows(data, "ratings.csv", ["userId", "movieId", "rating", "timestamp"]):
        try:
            row = (int(user), movie_index[int(movie)], float(rating), int(stamp))
        except KeyError:
            raise DataError(f"ratings.csv, line {number}: movieId {movie} is not in movies.csv") from None
        except ValueError:
            raise DataError(f"ratings.csv, line {number}: cannot read {','.join([user, movie, rating, stamp])!r} "
                            "as userId,movieId,rating,timestamp") from None
        if not 0.5 <= row[2] <= 5.0:
            raise DataError(f"ratings.csv, line {number}: rating {rating} is outside 0.5..5 stars")
        table.append(row)
    if not table:
        raise DataError("ratings.csv holds no ratings")
    return np.array(table, dtype=np.float64).T


def load_movielens(path: str | Path | None = None, members: dict[str, str] | None = None) -> MovieLens:
    """Load ratings and movies from the verified zip (default: the course's copy, fetched if missing).

    ``path``/``members``: another zip and its member md5s (tests use tiny fixture zips).
    """
    if path is None:
        path = ensure_file(MOVIELENS_KEY)  # a present zip is judged by its members, whatever its own bytes
    contents = verify_members(path, members)
    movie_ids, titles, names, multi_hot, years = _parse_movies(contents["movies.csv"])
    index = {int(m): i for i, m in enumerate(movie_ids)}
    users, items, ratings, stamps = _parse_ratings(contents["ratings.csv"], index)
    user_ids, user = np.unique(users.astype(np.int64), return_inverse=True)
    return MovieLens(user.astype(np.int64), items.astype(np.int64), ratings.astype(np.float32),
                     stamps.astype(np.int64), user_ids, movie_ids, titles, names, multi_hot, years)
