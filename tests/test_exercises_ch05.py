"""Chapter 05 exercise checks: None = not attempted, the reference passes, typical mistakes get specific hints."""

import pytest
import torch
import torch.nn.functional as F

from course_lib.exercises import ch05


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
        (dict(on_support=True), "logits of the SUPPORT examples"),
        (dict(sign=1.0), "the logits are +distance"),
        (dict(distance="euclidean"), "SQUARED Euclidean"),
        (dict(protos="sum"), "prototypes are SUMS"),
        (dict(protos="reshape"), "assumes the support set is sorted by label"),
        (dict(protos="appearance"), "right but in the wrong order"),
        (dict(separate=True), "two separate passes"),
        (dict(reduction="sum"), "the loss is the SUM over the query examples"),
        (dict(detach_protos=True), "the gradient w.r.t. the encoder is not"),
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


def test_linear_head_check(capsys):
    assert ch05.check_linear_head(lambda c: (2 * c, -(c**2).sum(-1)))
    assert not ch05.check_linear_head(lambda c: (c, -(c**2).sum(-1)))
    assert "missing a factor 2" in capsys.readouterr().out
    assert not ch05.check_linear_head(lambda c: (2 * c, (c**2).sum(-1)))
    assert "wrong sign" in capsys.readouterr().out
    assert ch05.check_linear_head(lambda c: None) is False


def test_bregman_check(capsys):
    z = ch05.bregman_problem()
    assert ch05.check_bregman_minimiser(z.mean(0), z)
    assert not ch05.check_bregman_minimiser(z.median(0).values, z)
    assert not ch05.check_bregman_minimiser(z.log().mean(0).exp(), z)
    assert "geometric mean" in capsys.readouterr().out
    assert ch05.check_bregman_minimiser(None, z) is False
