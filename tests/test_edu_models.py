"""DKT and DKVMN: memory equations by hand, consistency of cold-start prediction, learning a toy problem."""

import math

import pytest
import torch

from course_lib.data.assistments import StudentSequence
from course_lib.edu.batching import pad_chunks, chunk_sequences
from course_lib.edu.dkt import DKT
from course_lib.edu.dkvmn import DKVMN, correlation_weights, read_memory, write_memory
from course_lib.edu.evaluation import kt_metrics, predict_sequences
from course_lib.edu.kt_training import fit_kt


def test_dkvmn_memory_equations_on_a_hand_computed_example():
    key_memory = torch.eye(2)
    query = torch.tensor([[math.log(3.0), 0.0]])
    w = correlation_weights(query, key_memory)
    assert torch.allclose(w, torch.tensor([[0.75, 0.25]]))
    memory = torch.tensor([[[1.0, 2.0], [3.0, 4.0]]])
    assert torch.allclose(read_memory(memory, w), torch.tensor([[1.5, 2.5]]))
    new = write_memory(memory, w, erase=torch.tensor([[0.5, 1.0]]), add=torch.tensor([[1.0, -1.0]]))
    # slot 1: [1, 2] * (1 - 0.75 [0.5, 1]) + 0.75 [1, -1] = [0.625 + 0.75, 0.5 - 0.75]
    # slot 2: [3, 4] * (1 - 0.25 [0.5, 1]) + 0.25 [1, -1] = [2.625 + 0.25, 3 - 0.25]
    assert torch.allclose(new, torch.tensor([[[1.375, -0.25], [2.875, 2.75]]]))
    # full erase with full weight forgets the slot; zero weight leaves it untouched
    gone = write_memory(memory, torch.tensor([[1.0, 0.0]]), torch.ones(1, 2), torch.zeros(1, 2))
    assert torch.allclose(gone, torch.tensor([[[0.0, 0.0], [3.0, 4.0]]]))


def _toy(num_students=120, length=30, num_skills=4, seed=0):
    """Each student is 'strong' (90 % correct) or 'weak' (10 %); skills carry no information."""
    g = torch.Generator().manual_seed(seed)
    seqs = []
    for i in range(num_students):
        p = 0.9 if i % 2 else 0.1
        seqs.append(StudentSequence(i, torch.randint(1, num_skills + 1, (length,), generator=g),
                                    (torch.rand(length, generator=g) < p).long()))
    return seqs


@pytest.mark.parametrize("make", [lambda s: DKT(s, hidden_size=16), lambda s: DKVMN(s, 4, 8, 16, 8)])
def test_forward_and_cold_start_prediction_agree(make):
    torch.manual_seed(0)
    model = make(4).eval()
    seqs = _toy(6, 9)
    batch = pad_chunks(chunk_sequences(seqs, 9))
    logits = model(batch.skills, batch.correct)
    assert logits.shape == (6, 9)
    k = 5   # prediction of response k from the first k responses, two ways
    after = model.predict_after(batch.skills[:, :k], batch.correct[:, :k], batch.skills[:, k:k + 1])
    assert torch.allclose(after[:, 0], logits[:, k], atol=1e-5)
    # k = 0: the prior before any answer
    prior = model.predict_after(batch.skills[:, :0], batch.correct[:, :0], batch.skills[:, :1])
    assert torch.allclose(prior[:, 0], logits[:, 0], atol=1e-5)


@pytest.mark.parametrize("make", [lambda s: DKT(s, hidden_size=16), lambda s: DKVMN(s, 4, 8, 16, 8)])
def test_padding_does_not_change_predictions(make):
    torch.manual_seed(0)
    model = make(4).eval()
    seq = _toy(1, 7)[0]
    alone = model(seq.skills.unsqueeze(0), seq.correct.unsqueeze(0))
    padded = pad_chunks([(0, seq.skills, seq.correct), (1, torch.ones(12, dtype=torch.long), torch.ones(12, dtype=torch.long))])
    together = model(padded.skills, padded.correct)
    assert torch.allclose(alone[0], together[0, :7], atol=1e-5)


@pytest.mark.parametrize("name, make, lr", [("dkt", lambda s: DKT(s, hidden_size=16, dropout=0.0), 1e-2),
                                            ("dkvmn", lambda s: DKVMN(s, 4, 8, 16, 8), 1e-2)])
def test_model_learns_to_use_the_students_history(name, make, lr):
    torch.manual_seed(0)
    train, test = _toy(160, 30, seed=1), _toy(60, 30, seed=2)
    model = make(4)
    before = kt_metrics(*predict_sequences(model, test)[:2])["auc"]
    history = fit_kt(model, train, num_steps=120, batch_size=32, lr=lr, progress=False)
    after = kt_metrics(*predict_sequences(model, test)[:2])
    assert history.last("loss", 10) < history.records["loss"][0]
    assert after["auc"] > 0.85 > before + 0.1
    assert after["acc"] > 0.8


@pytest.mark.parametrize("cls", [DKT, DKVMN])
def test_bad_inputs_raise_clear_errors(cls):
    with pytest.raises(ValueError, match="num_skills"):
        cls(0)
    model = cls(3)
    with pytest.raises(ValueError, match="skill ids must lie in 1..3"):
        model(torch.tensor([[1, 4]]), torch.tensor([[0, 1]]))
    with pytest.raises(ValueError, match=r"\[B, T\]"):
        model(torch.tensor([1, 2]), torch.tensor([0, 1]))


def test_dkvmn_run_memory_equals_step_by_step_equations():
    torch.manual_seed(1)
    model = DKVMN(4, 3, 5, 6, 4)
    skills = torch.tensor([[1, 3, 2, 0], [4, 4, 1, 2]])
    correct = torch.tensor([[1, 0, 1, 0], [0, 1, 1, 0]])
    reads, final = model.run_memory(skills, correct)
    memory = model.initial_memory(2)
    for t in range(4):
        w = correlation_weights(model.question_embed(skills[:, t]), model.key_memory)
        assert torch.allclose(reads[:, t], read_memory(memory, w), atol=1e-6)
        v = model.answer_embed(torch.where(skills[:, t] > 0, skills[:, t] + 4 * correct[:, t], 0))
        real = (skills[:, t] > 0).float().unsqueeze(1)
        memory = write_memory(memory, w * real, torch.sigmoid(model.erase(v)), torch.tanh(model.add(v)))
    assert torch.allclose(final, memory, atol=1e-6)
