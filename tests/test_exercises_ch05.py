"""Chapter 05 exercise checks: None = not attempted, the reference passes, typical mistakes get specific hints."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from course_lib.exercises import ch05
from course_lib.metrics import mean_ci, t_quantile


def proto_loss(*, separate=False, protos="by_label", distance="squared", sign=-1.0, on_support=False,
               reduction="mean", detach_protos=False):
    """A ProtoNet loss with one optional mistake: fn(encoder, sx, sy, qx, qy, n_way) -> (loss, logits)."""

    def fn(encoder, support_x, support_y, query_x, query_y, n_way):
        if separate:
            support_emb, query_emb = encoder(support_x), encoder(query_x)
        else:
            emb = encoder(torch.cat([support_x, query_x]))
            support_emb, query_emb = emb[: len(support_x)], emb[len(support_x):]
        if protos == "by_label":
            centres = torch.stack([support_emb[support_y == k].mean(0) for k in range(n_way)])
        elif protos == "sum":
            centres = torch.stack([support_emb[support_y == k].sum(0) for k in range(n_way)])
        elif protos == "reshape":  # assumes the support set is sorted by label
            centres = support_emb.reshape(n_way, -1, support_emb.shape[-1]).mean(1)
        else:  # "appearance": classes in the order their labels first appear
            seen = list(dict.fromkeys(support_y.tolist()))
            centres = torch.stack([support_emb[support_y == k].mean(0) for k in seen])
        if detach_protos:
            centres = centres.detach()
        x, y = (support_emb, support_y) if on_support else (query_emb, query_y)
        dist = torch.cdist(x, centres) ** 2
        if distance == "euclidean":
            dist = dist.sqrt()
        logits = sign * dist
        return F.cross_entropy(logits, y, reduction=reduction), logits

    return fn


def test_proto_loss_accepts_the_reference_and_the_library(capsys):
    assert ch05.check_proto_loss(proto_loss())
    assert "Correct" in capsys.readouterr().out

    from course_lib.algorithms.protonet import ProtoNet

    def with_library(encoder, support_x, support_y, query_x, query_y, n_way):
        logits = ProtoNet(encoder)(support_x, support_y, query_x, n_way)
        return F.cross_entropy(logits, query_y), logits

    assert ch05.check_proto_loss(with_library)


def test_proto_loss_not_attempted(capsys):
    def stub(encoder, support_x, support_y, query_x, query_y, n_way):
        raise NotImplementedError

    for answer in (None, stub, lambda *args: None, lambda *args: (None, None)):
        assert ch05.check_proto_loss(answer) is False
        assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ({"on_support": True}, "logits of the SUPPORT examples"),
        ({"sign": 1.0}, "the logits are +distance"),
        ({"distance": "euclidean"}, "SQUARED Euclidean"),
        ({"protos": "sum"}, "prototypes are SUMS"),
        ({"protos": "reshape"}, "assumes the support set is sorted by label"),
        ({"protos": "appearance"}, "right but in the wrong order"),
        ({"separate": True}, "two separate passes"),
        ({"reduction": "sum"}, "the loss is the SUM over the query examples"),
        ({"detach_protos": True}, "the gradient w.r.t. the encoder is not"),
    ],
)
def test_proto_loss_names_the_typical_mistakes(capsys, mistake, message):
    assert ch05.check_proto_loss(proto_loss(**mistake)) is False
    out = capsys.readouterr().out
    assert message in out
    assert "Correct" not in out


def test_proto_loss_names_both_mistakes_of_a_separate_pass_answer(capsys):
    assert ch05.check_proto_loss(proto_loss(separate=True, protos="reshape")) is False
    out = capsys.readouterr().out
    assert "assumes the support set is sorted by label" in out
    assert "two separate passes" in out


def test_proto_loss_support_loss_with_query_logits(capsys):
    def fn(*args):
        _, logits = proto_loss()(*args)
        support_loss, _ = proto_loss(on_support=True)(*args)
        return support_loss, logits

    assert ch05.check_proto_loss(fn) is False
    assert "the loss is the SUPPORT set's" in capsys.readouterr().out


def test_proto_loss_reports_detached_and_broken_answers(capsys):
    assert not ch05.check_proto_loss(lambda *args: tuple(t.detach() for t in proto_loss()(*args)))
    assert "no gradient" in capsys.readouterr().out
    assert not ch05.check_proto_loss(lambda *args: proto_loss()(*args)[0].item())
    assert "return a pair (loss, logits)" in capsys.readouterr().out
    assert not ch05.check_proto_loss(lambda *args: (proto_loss()(*args)[0].item(), proto_loss()(*args)[1]))
    assert "not Python numbers" in capsys.readouterr().out

    def crashes(encoder, support_x, support_y, query_x, query_y, n_way):
        return encoder(support_x.squeeze(1))

    assert not ch05.check_proto_loss(crashes)
    assert "raised ValueError" in capsys.readouterr().out


def test_proto_loss_check_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    ch05.check_proto_loss(proto_loss())
    assert torch.equal(torch.rand(3), expected)


def _out(capsys) -> str:
    return capsys.readouterr().out


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (lambda c: (c, -(c**2).sum(-1) / 2), "a different temperature"),
        (lambda c: (c, -(c**2).sum(-1)), "W = c_k is missing a factor"),
        (lambda c: (2 * c, (c**2).sum(-1)), "b has the wrong sign"),
        (lambda c: (2 * c.T, -(c**2).sum(-1)), "W should be [N, D]"),
        (lambda c: (2 * c, -(c**2).sum(-1).sqrt()), "differs from the softmax"),
    ],
)
def test_linear_head_names_the_typical_mistakes(capsys, head, message):
    assert not ch05.check_linear_head(head)
    out = _out(capsys)
    assert message in out and "Correct" not in out


def test_linear_head_accepts_the_answer_up_to_a_shared_shift(capsys):
    assert ch05.check_linear_head(lambda c: (2 * c, -(c**2).sum(-1)))
    assert ch05.check_linear_head(lambda c: (2 * c, 3.0 - (c**2).sum(-1)))  # the same softmax
    assert ch05.check_linear_head(lambda c: None) is False
    assert "not attempted" in _out(capsys)


def test_linear_head_hint_does_not_state_the_answer(capsys):
    ch05.check_linear_head(None)
    out = _out(capsys)
    assert "2 c_k" not in out and "2c_k" not in out and "||c_k||^2" not in out


def _minimise(objective, steps=2000):
    c = torch.ones(3, requires_grad=True)
    optimizer = torch.optim.Adam([c], lr=0.05)
    for _ in range(steps):
        loss = objective(c)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            c.clamp_(min=1e-3)
    return c.detach()


def _gen_kl(x, c):
    return (x * (x / c).log() - x + c).sum(-1)


def test_bregman_check_accepts_both_numerical_minimisers(capsys):
    z = ch05.bregman_problem()
    assert ch05.check_bregman_minimiser(_minimise(lambda c: _gen_kl(z, c).sum()), z)
    assert ch05.check_bregman_minimiser(_minimise(lambda c: _gen_kl(c, z).sum()), z, swapped=True)
    assert _out(capsys).count("Correct") == 2


def test_bregman_check_names_the_swapped_arguments(capsys):
    z = ch05.bregman_problem()
    mean, geometric = z.mean(0), z.log().mean(0).exp()
    assert not ch05.check_bregman_minimiser(geometric, z)
    assert "the prototype c must be the SECOND argument" in _out(capsys)
    assert not ch05.check_bregman_minimiser(mean, z, swapped=True)
    assert "the prototype c must be the FIRST argument" in _out(capsys)
    assert not ch05.check_bregman_minimiser(z.median(0).values, z)
    assert "is not the minimiser" in _out(capsys)
    assert not ch05.check_bregman_minimiser(mean[:2], z)
    assert "should have shape [3]" in _out(capsys)


def test_bregman_check_not_attempted_and_never_prints_the_answer(capsys):
    z = ch05.bregman_problem()
    for swapped in (False, True):
        assert ch05.check_bregman_minimiser(None, z, swapped=swapped) is False
        out = _out(capsys)
        assert "not attempted" in out and "geometric" not in out
    ch05.check_bregman_minimiser(torch.ones(3), z, swapped=True)
    out = _out(capsys)
    assert "geometric" not in out and f"{z.log().mean(0).exp()[0].item():.3f}"[:4] not in out


def test_prediction_check(capsys):
    assert ch05.check_prediction(None) is False
    assert "not attempted" in _out(capsys)
    assert not ch05.check_prediction("the 60-way one")
    assert "is not one of the three models" in _out(capsys)
    for choice in ch05.MISMATCH_CHOICES:
        assert ch05.check_prediction(choice)
        assert "recorded" in _out(capsys)


def paired(*, quantile=None, ddof=1, unpaired=False, root=True, flip=False):
    """A paired_difference with one optional mistake."""

    def fn(acc_a, acc_b):
        a, b = (np.asarray(x, dtype=float) for x in ((acc_b, acc_a) if flip else (acc_a, acc_b)))
        n, diff = len(a), a - b
        t = quantile(n) if quantile else t_quantile(0.975, n - 1)
        spread = np.sqrt(a.var(ddof=ddof) + b.var(ddof=ddof)) if unpaired else diff.std(ddof=ddof)
        return diff.mean(), t * spread / (np.sqrt(n) if root else 1.0)

    return fn


def test_paired_difference_accepts_the_reference_and_mean_ci(capsys):
    assert ch05.check_paired_difference(paired())
    assert "Correct" in _out(capsys)
    assert ch05.check_paired_difference(lambda a, b: mean_ci(np.asarray(a) - np.asarray(b)))


def test_paired_difference_not_attempted(capsys):
    def stub(acc_a, acc_b):
        raise NotImplementedError

    for answer in (None, stub, lambda a, b: None):
        assert ch05.check_paired_difference(answer) is False
        assert "not attempted" in _out(capsys)


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        ({"unpaired": True}, "combined the two models' own uncertainties (unpaired)"),
        ({"unpaired": True, "quantile": lambda n: 1.96}, "combined the two models' own uncertainties (unpaired)"),
        ({"quantile": lambda n: 1.96}, "normal quantile 1.96"),
        ({"quantile": lambda n: t_quantile(0.975, n)}, "n - 1 degrees of freedom, not n"),
        ({"ddof": 0}, "ddof=0"),
        ({"root": False}, "divide by sqrt(n)"),
        ({"flip": True}, "the mean has the wrong sign"),
    ],
)
def test_paired_difference_names_the_typical_mistakes(capsys, mistake, message):
    assert ch05.check_paired_difference(paired(**mistake)) is False
    out = _out(capsys)
    assert message in out and "Correct" not in out


def test_paired_difference_reports_other_answers_without_the_expected_value(capsys):
    assert not ch05.check_paired_difference(lambda a, b: (float(np.mean(a - b)), 0.5))
    out = _out(capsys)
    assert "the half-width is not (you have 0.5)" in out
    assert not ch05.check_paired_difference(lambda a, b: (np.mean(a) - np.mean(b), 0.1, 0.2))
    assert "return a pair" in _out(capsys)
    assert not ch05.check_paired_difference(lambda a, b: (a - b).mean() + "x")
    assert "raised" in _out(capsys)
