"""Three-line knowledge-tracing files: parsing, validation errors, and the real ASSISTments 2009 counts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from course_lib.data import fetch
from course_lib.data.assistments import (
    ASSISTMENTS_FILES,
    DataFormatError,
    KTDataset,
    load_assistments,
    load_kt_splits,
    parse_skill_mapping,
    parse_three_line,
)
from course_lib.data.fetch import DataError, RemoteFile

TRAIN = "3\n1,2,2,\n1,0,1,\n2\n5,1\n0,0\n"
TEST = "1\n7,\n1,\n"
MAPPING = "1\tAddition\n2\tSubtraction\n7\tFractions\n"


def test_parse_three_line_with_and_without_trailing_commas():
    students = parse_three_line(TRAIN, source="train.csv")
    assert len(students) == 2
    assert students[0].student_id == 0 and students[1].student_id == 1
    assert students[0].skills.tolist() == [1, 2, 2] and students[0].correct.tolist() == [1, 0, 1]
    assert students[1].skills.tolist() == [5, 1] and students[1].correct.tolist() == [0, 0]
    assert students[0].skills.dtype == torch.long and students[0].correct.dtype == torch.long
    assert len(students[0]) == 3


def test_windows_line_endings_blank_lines_and_spaces_are_accepted():
    text = "\r\n3\r\n1, 2 ,2\r\n1,0,1\r\n\r\n\r\n1\r\n4\r\n0\r\n\r\n"
    students = parse_three_line(text)
    assert [s.skills.tolist() for s in students] == [[1, 2, 2], [4]]


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("three\n1,2,3\n1,0,1\n", 1, "number of responses"),
        ("0\n\n\n", 1, "at least 1"),
        ("-2\n1,2\n1,0\n", 1, "number of responses"),
        ("3\n1,2\n1,0,1\n", 2, "2 skill ids but line 1 says 3"),
        ("2\n1,2\n1,0,1\n", 3, "3 correctness values but line 1 says 2"),
        ("2\n1,0\n1,0\n", 2, "value 2 of the skill ids is '0'"),
        ("2\n1,x\n1,0\n", 2, "value 2 of the skill ids is 'x'"),
        ("2\n1,2.5\n1,0\n", 2, "'2.5'"),
        ("2\n1,,2\n1,0\n", 2, "value 2 of the skill ids is empty"),
        ("2\n1,2\n1,2\n", 3, "value 2 of the correctness values is '2'"),
        ("2\n1,2\n1,yes\n", 3, "'yes'"),
        ("2\n1,2\n1,0\n3\n1,2,3\n", 4, "ends inside a student record"),
        ("2\n1,2\n1,0\n3\n", 4, "skill ids and correctness line is missing"),
    ],
)
def test_malformed_input_names_file_line_and_problem(text, line, fragment):
    with pytest.raises(DataFormatError) as info:
        parse_three_line(text, source="students.csv")
    message = str(info.value)
    assert f"students.csv, line {line}:" in message
    assert fragment in message


def test_format_errors_are_data_errors_and_value_errors():
    assert issubclass(DataFormatError, DataError) and issubclass(DataFormatError, ValueError)


def test_skill_mapping_parsing_and_errors():
    assert parse_skill_mapping(MAPPING + "\n") == {1: "Addition", 2: "Subtraction", 7: "Fractions"}
    assert parse_skill_mapping("3\tRounding \r\n") == {3: "Rounding"}
    for bad, fragment in [("1 Addition\n", "line 1: expected"), ("a\tX\n", "not a positive integer"),
                          ("1\tA\n1\tB\n", "line 2: skill id 1 appears twice"), ("2\t\n", "line 1")]:
        with pytest.raises(DataFormatError, match=fragment):
            parse_skill_mapping(bad, "map.txt")


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_num_skills_is_read_from_both_splits(tmp_path):
    train, test = load_kt_splits(write(tmp_path, "tr.csv", TRAIN), write(tmp_path, "te.csv", TEST),
                                 write(tmp_path, "map.txt", MAPPING), name="toy")
    assert train.num_skills == test.num_skills == 7  # the largest id appears only in the test file
    assert isinstance(train, KTDataset) and train.name == "toy/train" and test.name == "toy/test"
    assert train.num_responses == 5 and len(train) == 2
    assert train.fraction_correct == pytest.approx(2 / 5)
    assert train.skill_name(2) == "Subtraction" and train.skill_name(5) == "skill 5"
    assert train.subset([1]).sequences[0].skills.tolist() == [5, 1]


def test_one_call_loads_a_dataset_given_as_files(tmp_path):
    train, test = load_kt_splits(write(tmp_path, "mine_train.csv", TRAIN), write(tmp_path, "mine_test.csv", TEST))
    assert (train.name, test.name) == ("mine/train", "mine/test")                  # the stem the files share
    assert train.num_skills == test.num_skills == 7
    assert train.sequences[1].origin == "mine_train.csv, line 4" and test.sequences[0].origin == "mine_test.csv, line 1"
    alone, none = load_kt_splits(tmp_path / "mine_train.csv")
    assert alone.name == "mine_train/train" and alone.num_skills == 5 and none is None
    declared, _ = load_kt_splits(tmp_path / "mine_train.csv", tmp_path / "mine_test.csv", num_skills=9)
    assert declared.num_skills == 9


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "mine_test.csv: the file holds no student"),
    ("\n\n  \n", "mine_test.csv: the file holds no student"),
    ("2\n1,2\n1,0\n1\n9\n1\n", r"mine_test.csv, line 5 \(student 1\): skill id 9 \(value 1\) is above the declared "
                                  r"num_skills=7"),
])
def test_bad_files_are_caught_at_load_time_with_file_line_and_fix(tmp_path, text, fragment):
    train = write(tmp_path, "mine_train.csv", TRAIN.replace("5,1", "7,1"))
    with pytest.raises(DataFormatError, match=fragment) as info:
        load_kt_splits(train, write(tmp_path, "mine_test.csv", text), num_skills=7)
    assert "Check the path" in str(info.value) or "Declare more skills" in str(info.value)


def test_load_assistments_on_any_file(tmp_path):
    data = load_assistments("test", path=write(tmp_path, "other.csv", TRAIN))
    assert data.num_skills == 5 and data.skill_names == {} and data.name == "other/test"
    assert load_assistments("train", path=tmp_path / "other.csv", num_skills=9).num_skills == 9
    with pytest.raises(DataFormatError, match=r"other.csv, line 5 \(student 1\): skill id 5 .* num_skills=4"):
        load_assistments("train", path=tmp_path / "other.csv", num_skills=4)
    with pytest.raises(ValueError, match="split must be"):
        load_assistments("valid")
    with pytest.raises(DataError, match="does not exist"):
        load_assistments("train", path=tmp_path / "missing.csv")
    (tmp_path / "latin1.csv").write_bytes(b"1\n1\n\xff\n")
    with pytest.raises(DataFormatError, match="UTF-8"):
        load_assistments("train", path=tmp_path / "latin1.csv")


def test_default_files_come_from_the_verified_data_folder(tmp_path, monkeypatch):
    data = tmp_path / "data"
    (data / "assistments").mkdir(parents=True)
    for split, text in (("train", TRAIN), ("test", TEST), ("skill_mapping", MAPPING)):
        key = ASSISTMENTS_FILES[split]
        (data / key).write_text(text)
        monkeypatch.setitem(fetch.FILES, key, RemoteFile(key, "https://example.org/" + split,
                                                         fetch.md5sum(data / key)))
    monkeypatch.setenv("COURSE_DATA_DIR", str(data))
    train = load_assistments("train")
    assert train.num_skills == 7 and train.skill_names[7] == "Fractions" and len(train) == 2
    (data / ASSISTMENTS_FILES["test"]).write_text("1\n7,\n0,\n")  # tampered
    with pytest.raises(DataError, match="assist2009_updated_test.csv .*corrupt"):
        load_assistments("train")


def _mirror_has_assistments() -> bool:
    folder = os.environ.get("COURSE_DATA_DIR")
    return bool(folder) and all((Path(folder) / key).is_file() for key in ASSISTMENTS_FILES.values())


@pytest.mark.skipif(not _mirror_has_assistments(),
                    reason="set COURSE_DATA_DIR to a folder holding the ASSISTments files "
                           "to check the real data")
def test_real_assistments_2009_counts():
    train, test = load_assistments("train"), load_assistments("test")
    assert (len(train), train.num_responses) == (2921, 224_218)
    assert (len(test), test.num_responses) == (1230, 101_419)
    correct = sum(int(s.correct.sum()) for d in (train, test) for s in d.sequences)
    assert round(100 * correct / (train.num_responses + test.num_responses), 1) == 65.8
    assert train.num_skills == test.num_skills == max(int(s.skills.max()) for s in train.sequences)
    assert len(train.skill_names) == train.num_skills
