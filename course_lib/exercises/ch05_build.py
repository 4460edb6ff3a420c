"""Checks for chapter 05, "Build it yourself: the prototypical loss" (Exercise 5.1).

The learner's ``proto_loss(encoder, support_x, support_y, query_x, n_way) -> (loss, logits)`` is
compared with :class:`course_lib.algorithms.protonet.ProtoNet` on seeded episodes with shuffled
support sets (values and the gradient w.r.t. the encoder); the typical wrong answers (support
logits, +distance, Euclidean instead of squared, sums, mixed classes, separate BatchNorm passes,
summed loss) are recognised and named.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from course_lib.algorithms.protonet import ProtoNet, proto_scores, prototypes, squared_euclidean
from course_lib.exercises._core import _compare, _correct, _wrong, not_attempted
from course_lib.i18n import tr
from course_lib.nets import Conv4

__all__ = ["check_proto_loss"]

# -- Exercise 5.1: build the prototypical loss -----------------------------------------------------
def _proto_cases() -> list[tuple]:
    """Seeded episodes (random images, a small Conv-4): (encoder, support_x [N*K,1,28,28], support_y [N*K],
    query_x [Q,1,28,28], query_y [Q], n_way). Support labels interleaved (case 0), then grouped in a permuted
    order (case 1), so an answer that assumes "support sorted by label 0..N-1" fails."""
    g, cases = torch.Generator().manual_seed(5), []
    for seed, n_way, k_shot, q_query, grouped in [(0, 3, 2, 3, False), (1, 4, 3, 2, True)]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            encoder = Conv4(None, hidden=8)
        order = torch.randperm(n_way, generator=g)
        support_y = order.repeat_interleave(k_shot) if grouped else order.repeat(k_shot)
        query_y = torch.randperm(n_way * q_query, generator=g) % n_way
        support_x, query_x = (torch.randn(n, 1, 28, 28, generator=g) for n in (n_way * k_shot, n_way * q_query))
        cases.append((encoder, support_x, support_y, query_x, query_y, n_way))
    return cases


def _support_bug() -> str:
    return tr("the support examples built the prototypes, so classifying them measures nothing (with 1 shot "
              "each one sits exactly on its prototype): the bug of the original article (section 8)")


def _separate() -> str:
    return tr("support and query were embedded in two separate passes. The Conv-4's BatchNorm normalises with the "
              "statistics of the batch it sees, so the two halves are normalised differently: embed "
              "torch.cat([support_x, query_x]) in ONE pass and split the result")


def _wrong_answers(s_emb: Tensor, q_emb: Tensor, support_y: Tensor, n_way: int) -> list[tuple[Tensor, str]]:
    """Logits of typical wrong answers built from support [N*K, D] and query [Q, D] embeddings."""
    protos = prototypes(s_emb, support_y, n_way)
    dist = squared_euclidean(q_emb, protos)
    sums = F.one_hot(support_y, n_way).t().to(s_emb.dtype) @ s_emb
    grouped = s_emb.reshape(n_way, len(s_emb) // n_way, -1).mean(1)
    return [
        (proto_scores(s_emb, protos), tr("these are the logits of the SUPPORT examples; {support_bug}. Score and "
         "label the QUERY set", support_bug=_support_bug())),
        (dist, tr("the logits are +distance: a closer prototype must get a HIGHER score, so logits = -distance")),
        (-dist.sqrt(), tr("the logits are minus the Euclidean distance; ProtoNet uses the SQUARED Euclidean distance "
         "(a Bregman divergence: the mean is then the best prototype, the classifier linear)")),
        (proto_scores(q_emb, sums), tr("the prototypes are SUMS of the support embeddings (K times too long); a "
         "prototype is the MEAN of its class's support embeddings")),
        (proto_scores(q_emb, grouped), tr("the prototypes mix classes: reshaping the support embeddings to [n_way, K, D] "
         "assumes the support set is sorted by label 0, 1, ..., N-1, which it is not here. Select by label: "
         "support_emb[support_y == k]")),
    ]


def _proto_variants(encoder, support_x, support_y, query_x, n_way) -> tuple[Tensor, Tensor, list]:
    """Reference query logits [Q, N], support logits [N*K, N], typical wrong answers [(logits, problem)]
    (alone, and combined with embedding support and query separately)."""
    with torch.no_grad():
        emb = encoder(torch.cat([support_x, query_x]))
        s_emb, q_emb = emb[: len(support_x)], emb[len(support_x):]
        s_sep, q_sep = encoder(support_x), encoder(query_x)
        expected = proto_scores(q_emb, prototypes(s_emb, support_y, n_way))
        wrong = _wrong_answers(s_emb, q_emb, support_y, n_way)
        wrong.append((proto_scores(q_sep, prototypes(s_sep, support_y, n_way)), _separate()))
        wrong += [(logits, tr("{problem}. And {separate}", problem=problem, separate=_separate()))
                  for logits, problem in _wrong_answers(s_sep, q_sep, support_y, n_way)]
    return expected, wrong[0][0], wrong


def _close(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a.detach().double(), b.double(), rtol=1e-4, atol=1e-4))


def _permuted_columns(logits: Tensor, expected: Tensor) -> bool:
    """True if the columns of ``logits`` [Q, N] are those of ``expected`` [Q, N] in another order."""
    n, expected = expected.shape[1], expected.double()
    match = [[_close(logits[:, j], expected[:, i]) for i in range(n)] for j in range(n)]
    return all(any(row) for row in match) and not all(row[j] for j, row in enumerate(match))


def _encoder_grad(loss: Tensor, encoder: torch.nn.Module) -> Tensor:
    """Gradient of ``loss`` w.r.t. all encoder parameters, flattened (zeros where it does not flow)."""
    params = list(encoder.parameters())
    grads = torch.autograd.grad(loss.reshape(()), params, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for p, g in zip(params, grads)])


def check_proto_loss(fn) -> bool:
    """``fn(encoder, support_x [N*K,1,H,W], support_y [N*K], query_x [Q,1,H,W], query_y [Q], n_way)
    -> (loss, logits [Q, N])``: values and gradient w.r.t. the encoder against the library's ProtoNet."""
    name = tr("Exercise 5.1 (build ProtoNet)")
    hint = tr("emb = encoder(torch.cat([support_x, query_x])), then split it; prototype k = mean of the support "
              "embeddings with label k; logits = -squared distances from the query embeddings to the prototypes "
              "[Q, N]; loss = F.cross_entropy(logits, query_y)")
    if fn is None:
        return not_attempted(name, hint)
    for i, (encoder, sx, sy, qx, qy, n_way) in enumerate(_proto_cases()):
        case = tr("on test case {i} ({n_way}-way {k_shot}-shot, support labels {labels})",
                  i=i, n_way=n_way, k_shot=len(sx) // n_way, labels=sy.tolist())
        try:
            out = fn(encoder, sx, sy, qx, qy, n_way)
        except NotImplementedError:
            return not_attempted(name, hint)
        except Exception as err:  # noqa: BLE001 - report the learner's error instead of raising it
            return _wrong(name, tr("calling it {case} raised {error_type}: {error}",
                                   case=case, error_type=type(err).__name__, error=err), hint)
        if out is None or (isinstance(out, tuple) and all(o is None for o in out)):
            return not_attempted(name, hint) if i == 0 else _wrong(name, tr("it returned None {case}", case=case), hint)
        if not (isinstance(out, tuple) and len(out) == 2):
            return _wrong(name, tr("return a pair (loss, logits), got a {type_name}", type_name=type(out).__name__), hint)
        loss, logits = out
        if not isinstance(loss, Tensor) or not isinstance(logits, Tensor):
            return _wrong(name, tr("return tensors, not Python numbers (no .item() on the loss: training needs its "
                                   "graph)"), hint)
        if loss.numel() != 1:
            return _wrong(name, tr("the loss should be one number (the mean over the query set), got shape "
                                   "{shape}", shape=list(loss.shape)), hint)
        loss = loss.reshape(())
        expected, support_logits, wrong = _proto_variants(encoder, sx, sy, qx, n_way)
        if not _close(logits, expected):
            for variant, problem in wrong:
                if _close(logits, variant):
                    return _wrong(name, tr("{case}: {problem}", case=case, problem=problem), hint)
            if logits.shape == expected.shape and _permuted_columns(logits.detach().double(), expected):
                return _wrong(name, tr("{case}: the prototypes are right but in the wrong order: column k of the "
                                       "logits must belong to label k. Build prototype k from support_emb[support_y == k] "
                                       "for k = 0..n_way-1 (not in the order the labels appear)", case=case), hint)
            return _wrong(name, tr("{case}, the logits: {problem}", case=case,
                                   problem=_compare(logits, expected, 1e-4, 1e-4)), hint)
        ref_loss = F.cross_entropy(expected, qy)
        if not _close(loss, ref_loss):
            if _close(loss, ref_loss * len(qy)):
                return _wrong(name, tr("{case}: the loss is the SUM over the query examples; take the mean "
                                       "(F.cross_entropy's default reduction)", case=case), hint)
            if _close(loss, F.cross_entropy(support_logits, sy)):
                return _wrong(name, tr("{case}: the logits are right but the loss is the SUPPORT set's; {support_bug}",
                                       case=case, support_bug=_support_bug()), hint)
            return _wrong(name, tr("{case}, the loss: {problem}", case=case,
                                   problem=_compare(loss, ref_loss, 1e-4, 1e-4)), hint)
        if not loss.requires_grad:
            return _wrong(name, tr("{case}: the loss has no gradient (computed under torch.no_grad(), or detached?), so "
                                   "training could not change the encoder", case=case), hint)
        got = _encoder_grad(loss, encoder)
        ref = _encoder_grad(ProtoNet.loss(ProtoNet(encoder)(sx, sy, qx, n_way), qy), encoder)
        if not torch.allclose(got, ref, rtol=1e-3, atol=1e-5):
            return _wrong(name, tr("{case}: the values are right but the gradient w.r.t. the encoder is not ("
                                   "{problem}). Did you detach the prototypes or the "
                                   "support embeddings? The gradient must flow through both", case=case,
                                   problem=_compare(got, ref, 1e-3, 1e-5, tr("the gradient"))), hint)
    return _correct(name, tr("values and encoder gradients match course_lib's ProtoNet on shuffled support sets"))
