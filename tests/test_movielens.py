"""The MovieLens loader: member checksums (not the zip's), parsing, and errors naming the file and the fix."""

import hashlib
import os
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from course_lib.data import fetch
from course_lib.data.catalog import DataError, fix_command
from course_lib.data.movielens import MEMBERS, MOVIELENS_KEY, load_movielens, verify_members

MOVIES = ('movieId,title,genres\n'
          '1,Toy Story (1995),Adventure|Animation|Children|Comedy|Fantasy\n'
          '2,"American President, The (1995)",Comedy|Drama|Romance\n'
          '5,Some Film Without Year,(no genres listed)\n')
RATINGS = ('userId,movieId,rating,timestamp\n'
           '7,1,4.0,964982703\n7,2,3.5,964981247\n3,5,0.5,964982224\n3,1,5.0,964983815\n')


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _zip(path: Path, files: dict[str, str], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as archive:
        for name, text in files.items():
            archive.writestr(f"ml-latest-small/{name}", text)
    return path


def _fixture(tmp_path, movies=MOVIES, ratings=RATINGS):
    members = {"ratings.csv": _md5(ratings), "movies.csv": _md5(movies)}
    return _zip(tmp_path / "ml.zip", {"movies.csv": movies, "ratings.csv": ratings}), members


def test_loads_ratings_titles_genres_and_years(tmp_path):
    path, members = _fixture(tmp_path)
    data = load_movielens(path, members)
    assert data.num_users == 2 and data.num_items == 3 and len(data.rating) == 4
    assert list(data.user_ids) == [3, 7] and list(data.movie_ids) == [1, 2, 5]
    assert data.titles[1] == "American President, The (1995)"          # the quoted comma is kept
    assert data.genre_names == sorted(["Adventure", "Animation", "Children", "Comedy", "Fantasy", "Drama", "Romance"])
    assert data.genres.shape == (3, 7) and data.genres[2].sum() == 0    # "(no genres listed)" is no genre
    assert data.year[0] == 1995 and np.isnan(data.year[2])
    # user 7 -> index 1, movie 2 -> index 1; ratings keep their file order
    np.testing.assert_array_equal(data.user, [1, 1, 0, 0])
    np.testing.assert_array_equal(data.item, [0, 1, 2, 0])
    np.testing.assert_allclose(data.rating, [4.0, 3.5, 0.5, 5.0])
    assert "Comedy|Drama|Romance" in data.describe(1)


def test_members_are_verified_not_the_zip_bytes(tmp_path):
    files = {"movies.csv": MOVIES, "ratings.csv": RATINGS}
    members = {name: _md5(text) for name, text in files.items()}
    stored = _zip(tmp_path / "stored.zip", files, zipfile.ZIP_STORED)
    deflated = _zip(tmp_path / "deflated.zip", files, zipfile.ZIP_DEFLATED)
    assert fetch.md5sum(stored) != fetch.md5sum(deflated)
    for path in (stored, deflated):
        assert verify_members(path, members)["ratings.csv"] == RATINGS.encode()


@pytest.mark.parametrize("tamper", ["edit", "truncate"])
def test_a_tampered_ratings_csv_names_the_file_the_checksum_and_the_fix(tmp_path, tamper):
    _, members = _fixture(tmp_path)
    bad = RATINGS.replace("4.0", "5.0") if tamper == "edit" else RATINGS[: len(RATINGS) // 2]
    path = _zip(tmp_path / "tampered.zip", {"movies.csv": MOVIES, "ratings.csv": bad})
    with pytest.raises(DataError) as err:
        load_movielens(path, members)
    message = str(err.value)
    assert "ratings.csv" in message and members["ratings.csv"] in message
    assert fix_command(MOVIELENS_KEY) in message and _md5(bad) in message


def test_a_truncated_zip_and_a_missing_member_are_reported(tmp_path):
    path, members = _fixture(tmp_path)
    cut = tmp_path / "cut.zip"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError, match=r"(?s)cannot be read.*" + fix_command(MOVIELENS_KEY).replace(" ", r"\s")):
        load_movielens(cut, members)
    only_movies = _zip(tmp_path / "movies_only.zip", {"movies.csv": MOVIES})
    with pytest.raises(DataError, match=r"ratings.csv inside movies_only.zip is missing"):
        load_movielens(only_movies, members)


@pytest.mark.parametrize("ratings, fragment", [
    ("userId,movieId,rating,timestamp\n7,9,4.0,1\n", "line 2: movieId 9 is not in movies.csv"),
    ("userId,movieId,rating,timestamp\n7,1,four,1\n", "line 2: cannot read"),
    ("userId,movieId,rating,timestamp\n7,1,4.0,1\n7,1,6.0,2\n", "line 3: rating 6.0 is outside"),
    ("userId,movieId,rating,timestamp\n7,1,4.0\n", "line 2: 3 fields, expected 4"),
    ("user,movie,rating,timestamp\n7,1,4.0,1\n", "the header is"),
    ("userId,movieId,rating,timestamp\n", "holds no ratings"),
])
def test_malformed_ratings_name_the_file_and_line(tmp_path, ratings, fragment):
    path, members = _fixture(tmp_path, ratings=ratings)
    with pytest.raises(DataError, match="ratings.csv") as err:
        load_movielens(path, members)
    assert fragment in str(err.value)


def test_the_default_zip_comes_from_the_data_folder_and_is_judged_by_its_members(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "movielens").mkdir(parents=True)
    path, members = _fixture(data / "movielens")
    path.rename(data / MOVIELENS_KEY)
    monkeypatch.setenv("COURSE_DATA_DIR", str(data))
    monkeypatch.setattr("course_lib.data.movielens.MEMBERS", members)
    spec = fetch.FILES[MOVIELENS_KEY]
    monkeypatch.setitem(fetch.FILES, MOVIELENS_KEY, replace(spec, members=tuple(members.items())))
    assert load_movielens().num_users == 2        # the zip's own md5 differs from the catalogue's: fine
    (data / MOVIELENS_KEY).unlink()
    (data / "movielens").chmod(0o555)         # a read-only mirror: nothing is downloaded into it
    try:
        with pytest.raises(DataError, match=r"(?s)movielens/ml-latest-small.zip is missing.*read-only"):
            load_movielens()
    finally:
        (data / "movielens").chmod(0o755)


def test_catalogue_lists_movielens_with_its_canonical_url():
    spec = fetch.FILES[MOVIELENS_KEY]
    assert spec.url == "https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
    assert set(MEMBERS) == {"ratings.csv", "movies.csv", "tags.csv", "links.csv"}


def _mirror_has_movielens() -> bool:
    folder = os.environ.get("COURSE_DATA_DIR")
    return bool(folder) and (Path(folder) / MOVIELENS_KEY).is_file()


@pytest.mark.skipif(not _mirror_has_movielens(), reason="set COURSE_DATA_DIR to a folder holding the MovieLens zip")
def test_real_movielens_latest_small_counts():
    data = load_movielens()
    assert (len(data.rating), data.num_users, data.num_items) == (100_836, 610, 9_742)
    assert np.bincount(data.user).min() >= 20
    assert data.rating.min() == 0.5 and data.rating.max() == 5.0
