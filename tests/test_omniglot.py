"""Omniglot loaders on tiny archives built here (plus the real files when COURSE_DATA_DIR has them)."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from course_lib.data import catalog, omniglot, omniglot_runs
from course_lib.data.catalog import DataError, RemoteFile
from course_lib.data.omniglot import (
    CharacterSet,
    load_omniglot,
    merge_character_sets,
    split_characters,
)
from course_lib.data.omniglot_archive import preprocess_png
from course_lib.data.omniglot_runs import LAKE_RUNS_KEY, load_lake_runs


def drawing(box: tuple[int, int, int, int]) -> bytes:
    """A 105x105 1-bit PNG, white paper with a black filled rectangle at ``box`` (like Omniglot)."""
    img = Image.new("1", (105, 105), 1)
    ImageDraw.Draw(img).rectangle(box, fill=0)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def box_for(index: int) -> tuple[int, int, int, int]:
    """Distinct stroke position per character index, always in the top half, left of centre."""
    return (4 + 3 * index, 4 + 2 * index, 30 + 3 * index, 40 + 2 * index)


def make_character_zip(path: Path, alphabets: dict[str, int], drawings: int = 3, top: str | None = "images_x",
                       offset: int = 0) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        index = offset
        for alphabet, count in alphabets.items():
            for c in range(1, count + 1):
                for d in range(1, drawings + 1):
                    member = f"{alphabet}/character{c:02d}/{index:04d}_{d:02d}.png"
                    archive.writestr(f"{top}/{member}" if top else member, drawing(box_for(index)))
                index += 1
    return path


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("COURSE_CACHE_DIR", str(folder))
    return folder


def test_loader_shapes_ink_orientation_and_metadata(tmp_path, cache):
    archive = make_character_zip(tmp_path / "set.zip", {"Beta": 2, "Alpha": 1})
    charset = load_omniglot("background_small1", path=archive, progress=False)
    assert charset.images.shape == (3, 3, 28, 28) and charset.images.dtype == torch.float32
    assert charset.alphabets == ["Alpha", "Beta", "Beta"]  # sorted by alphabet, then character
    assert charset.characters == ["Alpha/character01", "Beta/character01", "Beta/character02"]
    assert charset.by_alphabet() == {"Alpha": [0], "Beta": [1, 2]}
    assert charset.num_drawings == 3 and len(charset) == 3
    image = charset.images[1, 0]
    assert 0.0 <= float(image.min()) and float(image.max()) <= 1.0
    # ink = 1: the black rectangle sits in the top-left, the bottom-right is blank paper
    assert float(image[3:8, 3:6].mean()) > 0.9
    assert float(image[20:, 20:].max()) == 0.0
    # Lanczos, not nearest neighbour: the edges of a rectangle get intermediate grey values
    values = charset.images.unique()
    assert ((values > 0.05) & (values < 0.95)).any()


def test_archives_with_or_without_a_top_folder_load_alike(tmp_path):
    nested = load_omniglot("a", path=make_character_zip(tmp_path / "a.zip", {"Alpha": 2}), progress=False)
    flat = load_omniglot("b", path=make_character_zip(tmp_path / "b.zip", {"Alpha": 2}, top=None),
                         progress=False)
    deep = load_omniglot("c", path=make_character_zip(tmp_path / "c.zip", {"Alpha": 2}, top="x/y"),
                         progress=False)
    assert nested.characters == flat.characters == deep.characters
    assert torch.equal(nested.images, flat.images) and torch.equal(nested.images, deep.images)


def test_lanczos_is_used_on_one_bit_pngs():
    data = drawing((10, 10, 60, 60))
    expected = Image.open(io.BytesIO(data)).convert("L").resize((28, 28), Image.Resampling.LANCZOS)
    assert np.array_equal(preprocess_png(data), 255 - np.asarray(expected))


def test_second_load_comes_from_the_cache(tmp_path, cache, monkeypatch):
    archive = make_character_zip(tmp_path / "set.zip", {"Alpha": 2})
    first = load_omniglot("background_small1", path=archive, progress=False)
    digest = hashlib.md5(archive.read_bytes()).hexdigest()
    assert any(digest in p.name for p in (cache / "omniglot").iterdir())

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although a cache exists")

    monkeypatch.setattr(omniglot, "decode_character_zip", no_decoding)
    second = load_omniglot("background_small1", path=archive, progress=False)
    assert torch.equal(first.images, second.images) and first.characters == second.characters


def test_cache_is_keyed_by_the_zip_md5(tmp_path, cache):
    archive = make_character_zip(tmp_path / "set.zip", {"Alpha": 2})
    first = load_omniglot("background_small1", path=archive, progress=False)
    make_character_zip(archive, {"Alpha": 2}, offset=5)  # same name, different drawings
    second = load_omniglot("background_small1", path=archive, progress=False)
    assert not torch.equal(first.images, second.images)


def test_unwritable_cache_folder_only_warns(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("COURSE_CACHE_DIR", str(blocker / "cache"))
    archive = make_character_zip(tmp_path / "set.zip", {"Alpha": 1})
    with pytest.warns(UserWarning, match="COURSE_CACHE_DIR"):
        charset = load_omniglot("x", path=archive, progress=False)
    assert charset.images.shape == (1, 3, 28, 28)


def test_damaged_cache_is_rebuilt(tmp_path, cache):
    archive = make_character_zip(tmp_path / "set.zip", {"Alpha": 2})
    first = load_omniglot("background_small1", path=archive, progress=False)
    for file in (cache / "omniglot").iterdir():
        file.write_bytes(b"not an npz")
    again = load_omniglot("background_small1", path=archive, progress=False)
    assert torch.equal(first.images, again.images)


def test_known_subset_goes_through_the_verified_download(tmp_path, cache, monkeypatch):
    data = tmp_path / "data"
    archive = make_character_zip(tmp_path / "small.zip", {"Alpha": 2})
    key = omniglot.SUBSETS["background_small1"]
    (data / "omniglot").mkdir(parents=True)
    (data / key).write_bytes(archive.read_bytes())
    monkeypatch.setenv("COURSE_DATA_DIR", str(data))
    monkeypatch.setitem(catalog.FILES, key, RemoteFile(key, "https://example.org/s.zip",
                                                       catalog.md5sum(archive)))
    assert load_omniglot("background_small1", progress=False).images.shape == (2, 3, 28, 28)
    (data / key).write_bytes(archive.read_bytes()[:-10])  # truncated
    with pytest.raises(DataError, match="corrupt"):
        load_omniglot("background_small1", progress=False)


def test_bad_archives_raise_data_errors(tmp_path, cache):
    not_zip = tmp_path / "a.zip"
    not_zip.write_bytes(b"PK but not really")
    with pytest.raises(DataError, match="not a readable zip"):
        load_omniglot("x", path=not_zip)

    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as archive:
        archive.writestr("readme.txt", "hi")
    with pytest.raises(DataError, match="no PNG"):
        load_omniglot("x", path=empty)

    uneven = make_character_zip(tmp_path / "uneven.zip", {"Alpha": 2})
    with zipfile.ZipFile(uneven, "a") as archive:
        archive.writestr("images_x/Alpha/character02/extra_04.png", drawing((1, 1, 5, 5)))
    with pytest.raises(DataError, match="different numbers of drawings"):
        load_omniglot("x", path=uneven)

    broken = make_character_zip(tmp_path / "broken.zip", {"Alpha": 1}, drawings=1)
    with zipfile.ZipFile(broken, "a") as archive:
        archive.writestr("images_x/Alpha/character02/bad_01.png", b"\x89PNG garbage")
    with pytest.raises(DataError, match="cannot decode .*bad_01.png"):
        load_omniglot("x", path=broken, use_cache=False)

    with pytest.raises(DataError, match="does not exist"):
        load_omniglot("x", path=tmp_path / "nothing.zip")
    with pytest.raises(ValueError, match="unknown Omniglot subset"):
        load_omniglot("background_small3")


def test_merge_keeps_identical_characters_once(tmp_path, cache):
    first = load_omniglot("s1", path=make_character_zip(tmp_path / "1.zip", {"Greek": 2, "Korean": 1}),
                          progress=False)
    second = load_omniglot("s2", path=make_character_zip(tmp_path / "2.zip", {"Greek": 2, "Tagalog": 1}),
                           progress=False)
    merged = merge_character_sets(first, second)
    assert merged.characters == ["Greek/character01", "Greek/character02", "Korean/character01",
                                 "Tagalog/character01"]
    assert len(set(merged.characters)) == len(merged)
    assert torch.equal(merged.images[3], second.images[2])


def test_merge_renames_same_name_different_images(tmp_path, cache):
    first = load_omniglot("s1", path=make_character_zip(tmp_path / "1.zip", {"Greek": 1}), progress=False)
    second = load_omniglot("s2", path=make_character_zip(tmp_path / "2.zip", {"Greek": 1}, offset=4),
                           progress=False)
    merged = merge_character_sets(first, second)
    assert len(merged) == 2 and merged.characters[1] == "Greek (s2)/character01"


def synthetic_set(alphabet_sizes: list[int]) -> CharacterSet:
    alphabets = [f"A{a}" for a, n in enumerate(alphabet_sizes) for _ in range(n)]
    characters = [f"{name}/character{i:02d}" for i, name in enumerate(alphabets)]
    images = torch.arange(len(alphabets), dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 2, 4, 4).clone()
    return CharacterSet(images, alphabets, characters, name="synthetic")


def test_split_by_character_is_disjoint_complete_and_seeded():
    charset = synthetic_set([4, 3, 3])
    train, test = split_characters(charset, test_fraction=0.3, seed=1)
    assert len(test) == 3 and len(train) == 7
    assert set(train.characters).isdisjoint(test.characters)
    assert set(train.characters) | set(test.characters) == set(charset.characters)
    for part in (train, test):  # images travel with their names
        for i, name in enumerate(part.characters):
            assert float(part.images[i, 0, 0, 0]) == charset.characters.index(name)
    again = split_characters(charset, test_fraction=0.3, seed=1)[1]
    assert again.characters == test.characters
    others = {tuple(split_characters(charset, 0.3, seed=s)[1].characters) for s in range(5)}
    assert len(others) > 1


def test_split_by_alphabet_keeps_alphabets_whole():
    charset = synthetic_set([4, 3, 3, 2])
    train, test = split_characters(charset, test_fraction=0.5, seed=0, by="alphabet")
    assert len(test.alphabet_names) == 2
    assert set(train.alphabets).isdisjoint(test.alphabets)
    assert len(train) + len(test) == len(charset)


def test_split_rejects_bad_requests():
    charset = synthetic_set([3])
    for fraction in (0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="test_fraction"):
            split_characters(charset, fraction)
    with pytest.raises(ValueError, match="by must be"):
        split_characters(charset, by="drawer")
    with pytest.raises(ValueError, match="cannot split 1 alphabet"):
        split_characters(charset, by="alphabet")
    with pytest.raises(IndexError):
        charset.subset([5])
    with pytest.raises(ValueError, match="alphabet names"):
        CharacterSet(charset.images, charset.alphabets[:-1], charset.characters)


# --- Lake's one-shot runs ----------------------------------------------------------------------
ANSWERS = [2, 0, 1]  # test item i belongs to training class ANSWERS[i]


def make_runs_zip(path: Path, labels: dict[str, str] | None = None, runs: int = 2) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for r in range(1, runs + 1):
            run = f"run{r:02d}"
            for c in range(3):
                archive.writestr(f"{run}/training/class{c + 1:02d}.png", drawing(box_for(c)))
            lines = []
            for t, answer in enumerate(ANSWERS):
                archive.writestr(f"{run}/test/item{t + 1:02d}.png", drawing(box_for(answer)))
                lines.append(f"{run}/test/item{t + 1:02d}.png {run}/training/class{answer + 1:02d}.png")
            text = (labels or {}).get(run, "\n".join(lines) + "\n")
            archive.writestr(f"{run}/class_labels.txt", text.replace("RUN", run))
    return path


def test_lake_runs_images_and_answers(tmp_path):
    runs = load_lake_runs(make_runs_zip(tmp_path / "all_runs.zip"))
    assert [run.name for run in runs] == ["run01", "run02"]
    run = runs[0]
    assert run.train_images.shape == (3, 28, 28) and run.test_images.shape == (3, 28, 28)
    assert run.answers.dtype == torch.long and run.answers.tolist() == ANSWERS
    for t, answer in enumerate(run.answers.tolist()):  # the test drawing matches its answer's drawing
        assert torch.equal(run.test_images[t], run.train_images[answer])
    assert run.error_rate(run.answers) == 0.0
    assert run.error_rate(torch.tensor([0, 0, 0])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="shape"):
        run.error_rate(torch.tensor([0, 0]))


def test_lake_runs_second_load_comes_from_the_cache(tmp_path, monkeypatch):
    archive = make_runs_zip(tmp_path / "all_runs.zip")
    first = load_lake_runs(archive)

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed again although a cache exists")

    monkeypatch.setattr(omniglot_runs, "_parse_run", no_parsing)
    second = load_lake_runs(archive)
    for a, b in zip(first, second, strict=True):
        assert a.name == b.name and a.train_files == b.train_files and a.test_files == b.test_files
        assert torch.equal(a.train_images, b.train_images) and torch.equal(a.test_images, b.test_images)
        assert torch.equal(a.answers, b.answers) and b.answers.dtype == torch.long


def test_lake_labels_are_parsed_robustly(tmp_path):
    variants = {
        # paths relative to the run folder, Windows line endings, blank lines, extra spaces
        "run01": "\r\n".join(["test/item01.png   training/class03.png", "",
                              "test/item02.png\ttraining/class01.png",
                              "test/item03.png training/class02.png", ""]),
        # backslashes, bare names and a reversed pair
        "run02": "RUN\\test\\item01.png RUN\\training\\class03.png\nitem02.png class01.png\n"
                 "RUN/training/class02.png RUN/test/item03.png\n",
    }
    runs = load_lake_runs(make_runs_zip(tmp_path / "all_runs.zip", labels=variants))
    assert [run.answers.tolist() for run in runs] == [ANSWERS, ANSWERS]


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("RUN/test/item01.png\n", "line 1: expected"),
        ("RUN/test/item01.png RUN/training/class03.png\nRUN/test/item09.png RUN/training/class01.png\n",
         "line 2: test image"),
        ("RUN/test/item01.png RUN/training/class07.png\n", "line 1: training image"),
        ("RUN/test/item01.png RUN/training/class03.png\nRUN/test/item01.png RUN/training/class03.png\n",
         "line 2: .* labelled twice"),
        ("RUN/test/item01.png RUN/training/class03.png\n", "no label for 2 test image"),
    ],
)
def test_lake_bad_labels_name_the_line(tmp_path, labels, message):
    archive = make_runs_zip(tmp_path / "all_runs.zip", labels={"run01": labels}, runs=1)
    with pytest.raises(DataError, match=message):
        load_lake_runs(archive)


def test_lake_archive_without_labels(tmp_path):
    archive = tmp_path / "x.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("run01/test/item01.png", drawing((1, 1, 9, 9)))
    with pytest.raises(DataError, match="class_labels.txt"):
        load_lake_runs(archive)


# --- the real files, when a mirror is configured -------------------------------------------------
_USER_CACHE = os.environ.get("COURSE_CACHE_DIR")


def _mirror_has(*keys: str) -> bool:
    folder = os.environ.get("COURSE_DATA_DIR")
    return bool(folder) and all((Path(folder) / key).is_file() for key in keys)


@pytest.mark.skipif(not _mirror_has(omniglot.SUBSETS["background_small1"],
                                    omniglot.SUBSETS["background_small2"], LAKE_RUNS_KEY),
                    reason="set COURSE_DATA_DIR to a folder holding the Omniglot zips to check the real data")
def test_real_omniglot_counts(monkeypatch):
    # the real sets use the user's cache folder (decoding is slow the first time only)
    if _USER_CACHE:
        monkeypatch.setenv("COURSE_CACHE_DIR", _USER_CACHE)
    else:
        monkeypatch.delenv("COURSE_CACHE_DIR")
    small1 = load_omniglot("background_small1", progress=False)
    small2 = load_omniglot("background_small2", progress=False)
    assert (len(small1), len(small2)) == (136, 156)
    assert small1.images.shape[1:] == (20, 28, 28)
    merged = omniglot.load_background_small(progress=False)
    assert len(merged) == 242 and len(merged.alphabet_names) == 8  # Greek (24) + Latin (26) kept once
    assert 0.03 < float(merged.images.mean()) < 0.2  # mostly paper (0), some ink (1)
    runs = load_lake_runs()
    assert len(runs) == 20 and all(sorted(run.answers.tolist()) == list(range(20)) for run in runs)
