"""Chapter 06 exercise checks: None = not attempted, the reference passes, typical mistakes get specific hints."""

import math

import torch
import torch.nn.functional as F

from course_lib.algorithms.mann_addressing import content_read, least_used, lrua_write, lrua_write_weights
from course_lib.exercises import ch06


def _out(capsys) -> str:
    return capsys.readouterr().out


def test_first_instance_ceiling(capsys):
    assert ch06.check_first_instance_ceiling(None) is False
    assert "not attempted" in _out(capsys)
    assert ch06.check_first_instance_ceiling((1 / 5 + 1 / 4 + 1 / 3 + 1 / 2 + 1) / 5)
    assert not ch06.check_first_instance_ceiling(0.2)
    assert "chance level" in _out(capsys)
    assert not ch06.check_first_instance_ceiling((1 / 5 + 1 / 4 + 1 / 3 + 1 / 2) / 4)
    assert "left out the last class" in _out(capsys)


def test_least_used_check(capsys):
    def stub(usage, n):
        return None

    assert ch06.check_least_used(stub) is False
    assert "not attempted" in _out(capsys)
    assert ch06.check_least_used(least_used)
    assert "Correct" in _out(capsys)
    assert not ch06.check_least_used(lambda u, n: least_used(-u, n))
    assert "MOST used" in _out(capsys)
    assert not ch06.check_least_used(lambda u, n: least_used(u, 1))
    assert "two ones" in _out(capsys)
    # unstable tie-breaking: a plain argsort may pick the higher index among equal usages
    assert not ch06.check_least_used(
        lambda u, n: torch.zeros_like(u).scatter_(1, torch.sort(u, dim=1, descending=True).indices[:, -n:], 1.0))
    assert "test case" in _out(capsys)


def _raise(*args):
    raise NotImplementedError


def test_lrua_write_check(capsys):
    assert ch06.check_lrua_write(_raise) is False
    assert "not attempted" in _out(capsys)
    assert ch06.check_lrua_write(lrua_write)
    assert "Correct" in _out(capsys)
    r = lambda gate: gate.shape[1]  # noqa: E731
    mistakes = {
        "wrong way round": lambda gate, read, usage: lrua_write(-gate, read, usage),
        "squash it with torch.sigmoid": lambda gate, read, usage: (
            gate.unsqueeze(-1) * read + (1 - gate.unsqueeze(-1)) * least_used(usage, r(gate)).unsqueeze(1)),
        "MOST used slots": lambda gate, read, usage: lrua_write_weights(gate, read, least_used(-usage, r(gate))),
        "from the previous READ weights": lambda gate, read, usage: lrua_write_weights(
            gate, read, least_used(read.sum(1), r(gate))),
        "R ones": lambda gate, read, usage: lrua_write_weights(gate, read, least_used(usage, 1)),
        "usage itself": lambda gate, read, usage: (
            torch.sigmoid(gate)[..., None] * read + (1 - torch.sigmoid(gate)[..., None]) * usage[:, None]),
    }
    for text, wrong in mistakes.items():
        assert not ch06.check_lrua_write(wrong), text
        out = _out(capsys)
        assert text in out and "Hint:" in out, (text, out)
    # a crash is reported, not raised
    assert not ch06.check_lrua_write(lambda gate, read, usage: gate + read)
    assert "raised" in _out(capsys)


def _cos(keys, memory):
    return F.cosine_similarity(keys.unsqueeze(2), memory.unsqueeze(1), dim=-1)


def test_content_read_check_accepts_correct_reads(capsys):
    assert ch06.check_content_read(None) is False
    assert ch06.check_content_read(lambda k, m, s: None) is False
    assert "not attempted" in _out(capsys)
    assert ch06.check_content_read(content_read)

    def by_hand(keys, memory, strength):   # a different but correct way to write it
        weights = torch.softmax(strength.unsqueeze(-1) * _cos(keys, memory), dim=-1)
        return weights, (weights.unsqueeze(-1) * memory.unsqueeze(1)).sum(2)

    assert ch06.check_content_read(by_hand)
    assert "values and gradients match" in _out(capsys)


def _read_with(weights_fn, reads_fn=lambda w, m: w @ m):
    def read(keys, memory, strength):
        weights = weights_fn(keys, memory, strength.unsqueeze(-1))
        return weights, reads_fn(weights, memory)
    return read


def test_content_read_check_names_the_typical_mistakes(capsys):
    dots = lambda k, m: torch.einsum("brw,bsw->brs", k, m)  # noqa: E731
    mistakes = {
        "HEADS axis": lambda k, m, b: torch.softmax(b * _cos(k, m), dim=1),
        "dot product": lambda k, m, b: torch.softmax(b * dots(k, m), dim=-1),
        "only the key was normalised": lambda k, m, b: torch.softmax(b * dots(k, m) / k.norm(dim=-1, keepdim=True), -1),
        "only the memory rows": lambda k, m, b: torch.softmax(b * dots(k, m) / m.norm(dim=-1)[:, None], -1),
        "strength beta is missing": lambda k, m, b: torch.softmax(_cos(k, m), dim=-1),
        "after the softmax": lambda k, m, b: b * torch.softmax(_cos(k, m), dim=-1),
        "divided by beta": lambda k, m, b: torch.softmax(_cos(k, m) / b, dim=-1),
    }
    for text, weights_fn in mistakes.items():
        assert not ch06.check_content_read(_read_with(weights_fn)), text
        out = _out(capsys)
        assert text in out and "Hint:" in out, (text, out)
    right = lambda k, m, b: torch.softmax(b * _cos(k, m), dim=-1)  # noqa: E731
    # a mean over the slots instead of the weighted sum: 1/S times the right read vectors
    assert not ch06.check_content_read(_read_with(right, lambda w, m: (w.unsqueeze(-1) * m.unsqueeze(1)).mean(2)))
    out = _out(capsys)
    assert "read weights are right but the read vectors" in out and "times the expected value" in out
    assert not ch06.check_content_read(lambda k, m, s: right(k, m, s.unsqueeze(-1)))
    assert "return a pair" in _out(capsys)
    # the right values without a gradient path
    assert not ch06.check_content_read(lambda k, m, s: tuple(t.detach() for t in content_read(k, m, s)))
    assert "no gradient flows" in _out(capsys)

    def detached_memory(keys, memory, strength):
        weights = torch.softmax(strength.unsqueeze(-1) * _cos(keys, memory.detach()), dim=-1)
        return weights, weights @ memory

    assert not ch06.check_content_read(detached_memory)
    assert "gradient with respect to memory" in _out(capsys)


def test_meta_step_check(capsys):
    assert ch06.check_meta_step(None) is False
    assert "not attempted" in _out(capsys)
    assert not ch06.check_meta_step(ch06.buggy_meta_step)
    out = _out(capsys)
    assert "Exercise 6.6" in out and "raised TypeError" in out
    assert not ch06.check_meta_step(ch06._half_fixed_step)
    assert "not the gradient of the query MSE" in _out(capsys)
    assert ch06.check_meta_step(ch06._reference_step, steps=400)
    out = _out(capsys)
    assert "Correct" in out and math.isfinite(float(out.split("->")[1].split()[0]))


def test_family_claim_check(capsys):
    right = {"A": "optimization", "B": "model", "C": "optimization", "D": "metric", "statement": 2}
    assert ch06.check_family_claim(None) is False
    assert ch06.check_family_claim({"A": None, "B": None, "C": None, "D": None, "statement": None}) is False
    assert "not attempted" in _out(capsys)
    assert ch06.check_family_claim(right)
    out = _out(capsys)
    assert "Correct! Exercise 6.5" in out and "forward pass over the support set" in out
    # spellings of the same families are accepted
    assert ch06.check_family_claim({"A": "Optimisation-based", "B": "memory/model", "C": "optimization-based",
                                    "D": "metric-based", "statement": "2"})
    _out(capsys)
    mistakes = {
        # the source-article error: a gradient-step learner labelled model-based
        ("A", "model"): "learner A is not model-based: A's adaptation is the loop torch.autograd.grad",
        ("B", "optimization"): "B takes no gradient step at test time",
        ("C", "model"): "WHICH parameters adapt does not set the family",
        ("D", "model"): "the rule that uses it is fixed",
        ("A", "dunno"): "answer 'optimization', 'model' or 'metric'",
        ("statement", 1): "every family runs a neural network",
        ("statement", 3): "never measures a distance",
        ("statement", 4): "one gradient step is still a gradient step",
        ("statement", 7): "choose one statement",
    }
    for (key, value), text in mistakes.items():
        assert not ch06.check_family_claim({**right, key: value}), (key, value)
        out = _out(capsys)
        assert "Exercise 6.5" in out and text in out and "Hint:" in out, (key, value, out)
    assert set(ch06.CLAIM_STATEMENTS) == {1, 2, 3, 4}


def test_exercise_names_follow_the_notebook_numbering(capsys):
    for check, number in ((ch06.check_first_instance_ceiling, "6.1"), (ch06.check_least_used, "6.2"),
                          (ch06.check_lrua_write, "6.3"), (ch06.check_content_read, "6.4"),
                          (ch06.check_family_claim, "6.5"), (ch06.check_meta_step, "6.6")):
        check(None)
        assert f"Exercise {number}:" in _out(capsys)
