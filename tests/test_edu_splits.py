"""Student-level splits, the cold-start view and sequence batching."""

import pytest
import torch

from course_lib.data.assistments import KTDataset, StudentSequence
from course_lib.edu.batching import ChunkSampler, chunk_sequences, pad_chunks
from course_lib.edu.splits import assert_disjoint, cold_start_view, split_students


def _dataset(n=30, num_skills=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    seqs = []
    for i in range(n):
        length = int(torch.randint(1, 40, (1,), generator=g))
        seqs.append(StudentSequence(i, torch.randint(1, num_skills + 1, (length,), generator=g),
                                    torch.randint(0, 2, (length,), generator=g)))
    return KTDataset(seqs, num_skills, {}, "toy")


def test_split_students_is_a_partition_of_whole_students():
    data = _dataset()
    splits = split_students(data, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=3)
    ids = [[s.student_id for s in part.sequences] for part in splits.values()]
    assert sum(len(i) for i in ids) == len(data)
    assert set().union(*map(set, ids)) == set(range(len(data)))
    for a in range(3):
        for b in range(a + 1, 3):
            assert not set(ids[a]) & set(ids[b])
    # every response of a student stays with that student
    by_id = {s.student_id: s for s in data.sequences}
    for part in splits.values():
        assert part.num_skills == data.num_skills
        for s in part.sequences:
            assert torch.equal(s.skills, by_id[s.student_id].skills)


def test_split_is_reproducible_and_seed_dependent():
    data = _dataset()
    a = split_students(data, seed=1)["val"]
    b = split_students(data, seed=1)["val"]
    c = split_students(data, seed=2)["val"]
    ids = lambda d: [s.student_id for s in d.sequences]  # noqa: E731
    assert ids(a) == ids(b) and ids(a) != ids(c)


def test_assert_disjoint_names_the_leaking_student():
    data = _dataset()
    with pytest.raises(ValueError, match="student 3 is in both"):
        assert_disjoint({"train": data.sequences[:5], "test": data.sequences[3:8]})


@pytest.mark.parametrize("fractions", [{"a": 0.5, "b": 0.6}, {"a": 1.2, "b": -0.2}])
def test_bad_fractions_raise(fractions):
    with pytest.raises(ValueError, match="fraction"):
        split_students(_dataset(), fractions)


def test_cold_start_view_support_is_the_first_k_and_query_follows():
    seq = StudentSequence(7, torch.arange(1, 13), torch.tensor([1, 0] * 6))
    short = StudentSequence(8, torch.tensor([1, 2]), torch.tensor([1, 1]))
    tasks = cold_start_view([seq, short], k=3, query_len=4)
    assert tasks.student.tolist() == [7]          # the short student has no query after 3 answers
    assert tasks.support_skills.tolist() == [[1, 2, 3]]
    assert tasks.support_correct.tolist() == [[1, 0, 1]]
    assert tasks.query_skills.tolist() == [[4, 5, 6, 7]]
    # fixed query window for several k: same targets, support shrinks
    t0 = cold_start_view([seq], k=0, query_start=5, query_len=None)
    t5 = cold_start_view([seq], k=5, query_start=5, query_len=None)
    assert t0.support_skills.shape == (1, 0)
    assert torch.equal(t0.query_skills, t5.query_skills)
    assert t5.query_skills.tolist() == [[6, 7, 8, 9, 10, 11, 12]]
    labels, groups = t5.flat_query()
    assert labels.tolist() == [0, 1, 0, 1, 0, 1, 0] and groups.tolist() == [7] * 7


def test_cold_start_view_pads_ragged_queries():
    a = StudentSequence(0, torch.arange(1, 9), torch.ones(8, dtype=torch.long))
    b = StudentSequence(1, torch.arange(1, 6), torch.zeros(5, dtype=torch.long))
    tasks = cold_start_view([a, b], k=2, query_len=10)
    assert tasks.query_mask.sum(1).tolist() == [6, 3]
    assert tasks.query_skills[1, 3:].tolist() == [0, 0, 0]


@pytest.mark.parametrize("kwargs, match", [
    ({"k": -1}, "non-negative"), ({"k": 3, "query_start": 2}, "overlap"), ({"k": 2, "query_len": 0}, "query_len"),
    ({"k": 500}, "no student"),
])
def test_cold_start_view_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cold_start_view(_dataset(), **kwargs)


def test_chunks_never_mix_students_and_keep_order():
    data = _dataset(n=5)
    chunks = chunk_sequences(data.sequences, max_len=7)
    for sid, skills, correct in chunks:
        assert len(skills) <= 7
    rebuilt = {}
    for sid, skills, _ in chunks:
        rebuilt.setdefault(sid, []).append(skills)
    for s in data.sequences:
        assert torch.equal(torch.cat(rebuilt[s.student_id]), s.skills)
    batch = pad_chunks(chunks[:4])
    assert batch.mask.sum() == sum(len(c[1]) for c in chunks[:4])
    assert (batch.skills[~batch.mask] == 0).all()
    with pytest.raises(ValueError, match="max_len"):
        chunk_sequences(data.sequences, max_len=0)


def test_chunk_sampler_visits_every_chunk_once_per_epoch_and_resumes():
    chunks = chunk_sequences(_dataset(n=10).sequences, 5)
    sampler = ChunkSampler(chunks, batch_size=len(chunks))
    batch = sampler.sample()
    assert sorted(batch.student.tolist()) == sorted(c[0] for c in chunks)
    state = sampler.state_dict()
    a = sampler.sample().skills
    sampler.load_state_dict(state)
    assert torch.equal(sampler.sample().skills, a)
