"""Knowledge-tracing data in the three-line format of the DKT/DKVMN papers (ASSISTments 2009).

Each student takes three lines::

    5                 number of responses L
    12,12,7,31,31,    skill id of each response (positive integers; a trailing comma is allowed)
    0,1,1,0,1,        correctness of each response (0 or 1; a trailing comma is allowed)

The course uses the ASSISTments 2009-2010 skill-builder data as preprocessed by the DKVMN authors
(Zhang et al. 2017), split by student: train 2921 students / 224,218 responses, test 1230 students /
101,419 responses, 65.8 % correct overall. Nothing here is specific to that dataset: any file in
this format loads with one call, ``load_kt_splits("mine_train.csv", "mine_test.csv")`` (one skill
space for both files, the number of skills read from the data or declared with ``num_skills=``),
and malformed input raises :class:`DataFormatError` naming the file, the line, what is wrong and
what to do. Every student remembers where it was read (:attr:`StudentSequence.origin`), so later
errors (a skill id outside a model's range) can point at the file and line too.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from course_lib.data.fetch import DataError, ensure_file

ASSISTMENTS_FILES: dict[str, str] = {
    "train": "assistments/assist2009_updated_train.csv",
    "test": "assistments/assist2009_updated_test.csv",
    "skill_mapping": "assistments/assist2009_updated_skill_mapping.txt",
}


_PARSED: dict[tuple, tuple] = {}  # verified default files -> (train, test), parsed once per process


class DataFormatError(DataError, ValueError):
    """A data file does not follow its format; the message names the file, the line and the problem."""


@dataclass
class StudentSequence:
    """One student's responses in time order.

    Attributes:
        student_id: position of the student in the file (0-based); the format has no real ids.
        skills: LongTensor ``[L]`` of skill ids, 1-based (0 is free for padding).
        correct: LongTensor ``[L]`` of 0/1 answers.
        origin: where the student was read, e.g. ``"mine_train.csv, line 4"`` (its count line).
    """

    student_id: int
    skills: torch.Tensor
    correct: torch.Tensor
    origin: str = ""

    def __len__(self) -> int:
        return int(self.skills.shape[0])


@dataclass
class KTDataset:
    """A knowledge-tracing dataset: one :class:`StudentSequence` per student.

    Attributes:
        sequences: the students, in file order.
        num_skills: the largest skill id (ids run 1..num_skills); read from the data.
        skill_names: skill id -> name, from the mapping file when there is one.
        name: where it came from, e.g. ``"assist2009/train"``.
    """

    sequences: list[StudentSequence]
    num_skills: int
    skill_names: dict[int, str] = field(default_factory=dict)
    name: str = "kt"

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> StudentSequence:
        return self.sequences[index]

    def __repr__(self) -> str:
        return (f"KTDataset({self.name!r}: {len(self)} students, {self.num_responses:,} responses, "
                f"{self.num_skills} skills, {100 * self.fraction_correct:.1f}% correct)")

    @property
    def num_responses(self) -> int:
        return sum(len(s) for s in self.sequences)

    @property
    def fraction_correct(self) -> float:
        total = self.num_responses
        return sum(int(s.correct.sum()) for s in self.sequences) / total if total else float("nan")

    def skill_name(self, skill: int) -> str:
        """Human-readable name of ``skill`` (``"skill <id>"`` when the mapping has none)."""
        return self.skill_names.get(int(skill), f"skill {int(skill)}")

    def subset(self, indices, name: str | None = None) -> KTDataset:
        """The students at ``indices``; ``num_skills`` and names are kept (the id space does not shrink)."""
        return KTDataset([self.sequences[i] for i in indices], self.num_skills, self.skill_names,
                         name or self.name)


_INTS = re.compile(r"\s*[0-9]+\s*(?:,\s*[0-9]+\s*)*,?\s*")
_BITS = re.compile(r"\s*[01]\s*(?:,\s*[01]\s*)*,?\s*")


def _tokens(line: str, number: int, source: str, what: str) -> list[str]:
    """Comma-separated values of a line (one trailing comma allowed); empty values raise."""
    text = line.strip()
    if text.endswith(","):
        text = text[:-1]
    if not text:
        return []
    tokens = [t.strip() for t in text.split(",")]
    for position, token in enumerate(tokens, start=1):
        if not token:
            raise DataFormatError(f"{source}, line {number}: value {position} of the {what} is empty "
                                  f"(two commas in a row?)")
    return tokens


def _diagnose(line: str, number: int, source: str, what: str, valid) -> None:
    """Slow path for a line that failed the fast check: raise an error naming the bad value."""
    for position, token in enumerate(_tokens(line, number, source, what), start=1):
        if not valid(token):
            rule = "positive integers (1, 2, ...)" if what == "skill ids" else "0 or 1"
            raise DataFormatError(f"{source}, line {number}: value {position} of the {what} is {token!r}; "
                                  f"{what} must be {rule}")
    raise DataFormatError(f"{source}, line {number}: cannot read the {what} from {line[:60]!r}")


def _is_skill(token: str) -> bool:
    return token.isascii() and token.isdigit() and int(token) >= 1


def _check_length(values: list[int], count: int, number: int, count_line: int, source: str, what: str):
    if len(values) != count:
        raise DataFormatError(f"{source}, line {number}: {len(values)} {what} but line {count_line} "
                              f"says {count} responses")


def parse_three_line(text: str, source: str = "<text>", num_skills: int | None = None) -> list[StudentSequence]:
    """Parse the three-line format into :class:`StudentSequence` objects (see the module docstring).

    Blank lines between students are ignored. Raises :class:`DataFormatError` with ``source`` and
    the 1-based line number when a count is not a positive integer, a skill id is not a positive
    integer or exceeds a declared ``num_skills``, a correctness value is not 0/1, a line's length
    disagrees with its count, the text ends inside a student, or it holds no student at all.
    """
    lines = text.splitlines()
    count_lines, lengths, all_skills, all_answers = [], [], [], []
    number = 0
    while number < len(lines):
        if not lines[number].strip():
            number += 1
            continue
        count_line = number + 1  # 1-based line numbers from here on
        raw = lines[number].strip().rstrip(",").strip()
        if not (raw.isascii() and raw.isdigit()):
            raise DataFormatError(f"{source}, line {count_line}: expected the number of responses of a "
                                  f"student (a positive integer), got {raw[:40]!r}")
        count = int(raw)
        if count < 1:
            raise DataFormatError(f"{source}, line {count_line}: the number of responses must be at "
                                  f"least 1, got {count}")
        if number + 2 >= len(lines):
            missing = "skill ids and correctness" if number + 1 >= len(lines) else "correctness"
            raise DataFormatError(f"{source}, line {count_line}: the file ends inside a student record "
                                  f"(the {missing} line is missing; each student takes three lines)")
        skill_line, answer_line = lines[number + 1], lines[number + 2]
        if not _INTS.fullmatch(skill_line):
            _diagnose(skill_line, count_line + 1, source, "skill ids", _is_skill)
        skills = [int(t) for t in skill_line.strip().rstrip(",").split(",")]
        _check_length(skills, count, count_line + 1, count_line, source, "skill ids")
        if min(skills) < 1:
            _diagnose(skill_line, count_line + 1, source, "skill ids", _is_skill)
        if num_skills is not None and max(skills) > num_skills:
            at = next(i for i, v in enumerate(skills) if v > num_skills)
            raise DataFormatError(f"{source}, line {count_line + 1} (student {len(lengths)}): skill id {skills[at]} "
                                  f"(value {at + 1}) is above the declared num_skills={num_skills}. Declare more "
                                  "skills (or none: it is read from the data), or fix the skill ids.")
        if not _BITS.fullmatch(answer_line):
            _diagnose(answer_line, count_line + 2, source, "correctness values", lambda t: t in ("0", "1"))
        answers = [int(t) for t in answer_line.strip().rstrip(",").split(",")]
        _check_length(answers, count, count_line + 2, count_line, source, "correctness values")
        count_lines.append(count_line)
        lengths.append(count)
        all_skills.extend(skills)
        all_answers.extend(answers)
        number += 3
    if not lengths:
        raise DataFormatError(f"{source}: the file holds no student (it is empty or blank). Check the path and the "
                              "export: each student takes three lines (count, skill ids, 0/1 answers).")
    skill_chunks = torch.from_numpy(np.array(all_skills, dtype=np.int64)).split(lengths)
    answer_chunks = torch.from_numpy(np.array(all_answers, dtype=np.int64)).split(lengths)
    origin = Path(source).name if source != "<text>" else source
    return [StudentSequence(i, s.clone(), a.clone(), f"{origin}, line {line}")
            for i, (s, a, line) in enumerate(zip(skill_chunks, answer_chunks, count_lines, strict=True))]


def parse_skill_mapping(text: str, source: str = "<text>") -> dict[int, str]:
    """Parse ``id<TAB>name`` lines into a dict; blank lines are skipped, bad lines raise DataFormatError."""
    names: dict[int, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        skill, sep, name = line.rstrip("\r\n").partition("\t")
        skill = skill.strip()
        if not sep or not name.strip():
            raise DataFormatError(f"{source}, line {number}: expected '<skill id><TAB><name>', "
                                  f"got {line[:60]!r}")
        if not (skill.isascii() and skill.isdigit()) or int(skill) < 1:
            raise DataFormatError(f"{source}, line {number}: skill id {skill!r} is not a positive integer")
        if int(skill) in names:
            raise DataFormatError(f"{source}, line {number}: skill id {skill} appears twice")
        names[int(skill)] = name.strip()
    return names


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataError(f"knowledge-tracing file {path} does not exist") from None
    except UnicodeDecodeError as err:
        raise DataFormatError(f"{path}: not a UTF-8 text file ({err})") from err


def _max_skill(sequences: list[StudentSequence]) -> int:
    return max((int(s.skills.max()) for s in sequences), default=0)


def _default_name(*paths: Path) -> str:
    """The stem the files share (``mine_train.csv`` + ``mine_test.csv`` -> ``mine``), else the first stem."""
    words = [re.split(r"([_\-. ])", p.stem) for p in paths]             # words and the separators between them
    return "".join(os.path.commonprefix(words)).rstrip("_-. ") or paths[0].stem


def load_kt_splits(train_path: str | os.PathLike, test_path: str | os.PathLike | None = None,
                   mapping_path: str | os.PathLike | None = None, name: str | None = None,
                   num_skills: int | None = None) -> tuple[KTDataset, KTDataset | None]:
    """Load a train file (and optionally a test file) in the three-line format with one skill space.

    ``num_skills`` is the largest skill id over both files, so a model sized on it accepts every
    student of either split; declare it (``num_skills=``) to have any larger id rejected at load
    time with its file and line. ``name`` defaults to the stem the files share. Returns
    ``(train, test)`` named ``"<name>/train"``, ``"<name>/test"``; ``test`` is None without a test path.
    """
    if num_skills is not None and num_skills < 1:
        raise ValueError(f"num_skills must be a positive integer (or None to read it from the data), got {num_skills}")
    paths = [Path(train_path)] + ([Path(test_path)] if test_path is not None else [])
    parsed = [parse_three_line(_read(p), source=str(p), num_skills=num_skills) for p in paths]
    names = parse_skill_mapping(_read(Path(mapping_path)), str(mapping_path)) if mapping_path else {}
    num_skills = num_skills or max(_max_skill(students) for students in parsed)
    name = name or _default_name(*paths)
    train_set = KTDataset(parsed[0], num_skills, names, f"{name}/train")
    test_set = KTDataset(parsed[1], num_skills, names, f"{name}/test") if test_path is not None else None
    return train_set, test_set


def load_assistments(split: str = "train", path: str | os.PathLike | None = None, *,
                     mapping_path: str | os.PathLike | None = None,
                     num_skills: int | None = None) -> KTDataset:
    """Load ASSISTments 2009 (DKVMN split) or any file in the three-line format.

    For your own train/test files use :func:`load_kt_splits`, which gives both one skill space.

    Args:
        split: ``"train"`` or ``"test"``.
        path: a three-line file to read instead of the course's verified copy of ``split``.
        mapping_path: an ``id<TAB>name`` file for :attr:`KTDataset.skill_names` (the course's
            ASSISTments mapping is used when ``path`` is None).
        num_skills: size of the skill space; default: the largest id in the data (over train *and*
            test for the course's files). Must not be smaller than the largest id present.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if path is not None:
        dataset, _ = load_kt_splits(path, None, mapping_path, name=f"{Path(path).stem}", num_skills=num_skills)
        dataset.name = f"{Path(path).stem}/{split}"
        return dataset
    paths = tuple(ensure_file(ASSISTMENTS_FILES[k]) for k in ("train", "test", "skill_mapping"))
    stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths)
    if stamp not in _PARSED:  # both splits are parsed together (one skill space); keep them
        _PARSED.clear()
        _PARSED[stamp] = load_kt_splits(*paths, name="assist2009")
    parsed = _PARSED[stamp][0 if split == "train" else 1]
    if num_skills is not None and num_skills < parsed.num_skills:
        raise ValueError(f"num_skills={num_skills} but the data uses skill ids up to {parsed.num_skills}")
    return KTDataset(list(parsed.sequences), num_skills or parsed.num_skills, dict(parsed.skill_names), parsed.name)
