"""Chapter 10 exercise checks: None = not attempted, the reference passes, typical mistakes get specific hints."""

import torch
import torch.nn.functional as F

from course_lib.exercises import ch10


def test_not_attempted(capsys):
    def stub(*args):
        raise NotImplementedError

    assert not ch10.check_mean_cca(None)
    assert not ch10.check_in_context_loss(stub)
    assert not ch10.check_least_squares(lambda *a: None)
    assert capsys.readouterr().out.count("not attempted") == 3


def test_exercises_are_named_in_reading_order(capsys):
    ch10.check_mean_cca(None)
    ch10.check_in_context_loss(None)
    ch10.check_least_squares(None)
    names = [line.split("(")[0].split()[-1] for line in capsys.readouterr().out.splitlines() if "Exercise" in line]
    assert names == ["10.1", "10.2", "10.3"]


# -- 10.1 ------------------------------------------------------------------------------------------
def _cca(a, b, centre=True, reduce="mean"):
    a, b = a.double(), b.double()
    if centre:
        a, b = a - a.mean(0), b - b.mean(0)
    sv = torch.linalg.svdvals(torch.linalg.qr(a)[0].t() @ torch.linalg.qr(b)[0])
    return float(getattr(sv, reduce)())


def test_cca_reference_passes_and_mistakes_are_named(capsys):
    assert ch10.check_mean_cca(_cca)
    for wrong, words in [(lambda a, b: _cca(a, b, centre=False), "not centred"),
                         (lambda a, b: _cca(a, b, reduce="max"), "LARGEST"),
                         (lambda a, b: _cca(a, b, reduce="sum"), "SUM"),
                         (lambda a, b: float(F.cosine_similarity(a, b[:, : a.shape[1]], dim=1).mean()), "test case")]:
        capsys.readouterr()
        assert not ch10.check_mean_cca(wrong)
        assert words in capsys.readouterr().out


def test_cca_answer_that_raises_is_reported(capsys):
    assert not ch10.check_mean_cca(lambda a, b: a @ b)
    assert "raised RuntimeError" in capsys.readouterr().out


# -- 10.2 ------------------------------------------------------------------------------------------
def _loss(model, x, y, visible=None, reduce="mean", skip_first=False):
    n = x.shape[1]
    if visible is None:
        visible = torch.ones(n, n, dtype=torch.bool).tril(diagonal=-1)
    errors = (model(x, y, x, visible=visible) - y).pow(2).mean(dim=(0, 2))  # [n]
    errors = errors[1:] if skip_first else errors
    return getattr(errors, reduce)()


def test_in_context_loss_reference_passes_and_mistakes_are_named(capsys):
    assert ch10.check_in_context_loss(_loss)
    ones = lambda n: torch.ones(n, n, dtype=torch.bool)  # noqa: E731
    mistakes = [
        (lambda m, x, y: _loss(m, x, y, visible=ones(x.shape[1]).tril()), "its own answer"),
        (lambda m, x, y: _loss(m, x, y, visible=ones(x.shape[1])), "every query sees every pair"),
        (lambda m, x, y: _loss(m, x, y, visible=ones(x.shape[1]).triu(diagonal=1)), "AFTER"),
        (lambda m, x, y: _loss(m, x, y, visible=~ones(x.shape[1]).tril(diagonal=-1)), "inverted"),
        (lambda m, x, y: _loss(m, x, y, reduce="sum"), "SUM"),
        (lambda m, x, y: _loss(m, x, y, skip_first=True), "position 0"),
        (lambda m, x, y: _loss(m, x, y).item(), "one-element tensor"),
    ]
    for wrong, words in mistakes:
        capsys.readouterr()
        assert not ch10.check_in_context_loss(wrong)
        assert words in capsys.readouterr().out, words


def test_in_context_loss_without_graph_is_rejected(capsys):
    assert not ch10.check_in_context_loss(lambda m, x, y: _loss(m, x, y).detach())
    assert "no gradient" in capsys.readouterr().out


# -- 10.3 ------------------------------------------------------------------------------------------
def _lstsq(cx, cy, qx):
    return qx @ (torch.linalg.pinv(cx) @ cy)


def test_least_squares_reference_passes_and_mistakes_are_named(capsys):
    assert ch10.check_least_squares(_lstsq)

    def normal_equations(cx, cy, qx):
        return qx @ torch.linalg.solve(cx.transpose(1, 2) @ cx, cx.transpose(1, 2) @ cy)

    def zero_below_d(cx, cy, qx):
        return _lstsq(cx, cy, qx) if cx.shape[1] >= cx.shape[2] else torch.zeros(qx.shape[0], qx.shape[1], 1)

    def ridge(cx, cy, qx):
        eye = torch.eye(cx.shape[2])
        return qx @ torch.linalg.solve(cx.transpose(1, 2) @ cx + eye, cx.transpose(1, 2) @ cy)

    for wrong, words in [(zero_below_d, "wastes"), (ridge, "test case 0"), (lambda cx, cy, qx: _lstsq(cx, cy, qx)[..., 0], "shape")]:
        capsys.readouterr()
        assert not ch10.check_least_squares(wrong)
        assert words in capsys.readouterr().out, words
    capsys.readouterr()
    assert not ch10.check_least_squares(normal_equations)
    out = capsys.readouterr().out
    assert "singular" in out or "raised" in out or "minimum" in out


def test_answers_are_not_exported():
    assert set(ch10.__all__) == {"check_in_context_loss", "check_least_squares", "check_mean_cca"}
