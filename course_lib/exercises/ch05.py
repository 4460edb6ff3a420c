"""Checks for the exercises of chapter 05 (metric-based meta-learning)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from course_lib.algorithms.protonet import ProtoNet, proto_scores, prototypes, squared_euclidean
from course_lib.exercises._core import _compare, _correct, _wrong, check_close, check_function, not_attempted
from course_lib.nets import Conv4

__all__ = [
    "MISMATCH_PROTOCOL",
    "bregman_problem",
    "check_bregman_minimiser",
    "check_linear_head",
    "check_mismatch_measurement",
    "check_proto_loss",
]


# -- Exercise 1: build the prototypical loss -------------------------------------------------------
def _proto_cases() -> list[tuple]:
    """Seeded episodes (random images, a small Conv-4):
    (encoder, support_x [N*K,1,28,28], support_y [N*K], query_x [Q,1,28,28], query_y [Q], n_way).

    The support labels are interleaved in the first case and grouped in a permuted label order in
    the second, so an answer that assumes "support sorted by label 0..N-1" fails.
    """
    g = torch.Generator().manual_seed(5)
    cases = []
    for seed, n_way, k_shot, q_query, grouped in [(0, 3, 2, 3, False), (1, 4, 3, 2, True)]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            encoder = Conv4(None, hidden=8)
        order = torch.randperm(n_way, generator=g)
        support_y = order.repeat_interleave(k_shot) if grouped else order.repeat(k_shot)
        query_y = torch.randperm(n_way * q_query, generator=g) % n_way
        support_x = torch.randn(n_way * k_shot, 1, 28, 28, generator=g)
        query_x = torch.randn(n_way * q_query, 1, 28, 28, generator=g)
        cases.append((encoder, support_x, support_y, query_x, query_y, n_way))
    return cases


_SUPPORT_BUG = ("the support examples built the prototypes, so classifying them measures nothing "
                "(with 1 shot each one sits exactly on its prototype): the bug of the original article "
                "(section 8)")


_SEPARATE = ("support and query were embedded in two separate passes. The Conv-4's BatchNorm normalises "
             "with the statistics of the batch it sees, so the two halves are normalised differently: embed "
             "torch.cat([support_x, query_x]) in ONE pass and split the result")


def _wrong_answers(s_emb: Tensor, q_emb: Tensor, support_y: Tensor, n_way: int) -> list[tuple[Tensor, str]]:
    """Logits of typical wrong answers built from support [N*K, D] and query [Q, D] embeddings."""
    protos = prototypes(s_emb, support_y, n_way)
    dist = squared_euclidean(q_emb, protos)
    sums = F.one_hot(support_y, n_way).t().to(s_emb.dtype) @ s_emb
    grouped = s_emb.reshape(n_way, len(s_emb) // n_way, -1).mean(1)
    return [
        (proto_scores(s_emb, protos), f"these are the logits of the SUPPORT examples; {_SUPPORT_BUG}. "
         "Score and label the QUERY set"),
        (dist, "the logits are +distance: a closer prototype must get a HIGHER score, so logits = -distance"),
        (-dist.sqrt(), "the logits are minus the Euclidean distance; ProtoNet uses the SQUARED Euclidean "
         "distance (a Bregman divergence: the mean is then the best prototype, the classifier linear)"),
        (proto_scores(q_emb, sums), "the prototypes are SUMS of the support embeddings (K times too "
         "long); a prototype is the MEAN of its class's support embeddings"),
        (proto_scores(q_emb, grouped), "the prototypes mix classes: reshaping the support embeddings to "
         "[n_way, K, D] assumes the support set is sorted by label 0, 1, ..., N-1, which it is not here. "
         "Select by label: support_emb[support_y == k]"),
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
        wrong.append((proto_scores(q_sep, prototypes(s_sep, support_y, n_way)), _SEPARATE))
        wrong += [(logits, f"{problem}. And {_SEPARATE}") for logits, problem in
                  _wrong_answers(s_sep, q_sep, support_y, n_way)]
    return expected, wrong[0][0], wrong


def _permuted_columns(logits: Tensor, expected: Tensor) -> bool:
    """True if the columns of ``logits`` [Q, N] are those of ``expected`` [Q, N] in another order."""
    n = expected.shape[1]
    expected = expected.double()
    match = [[bool(torch.allclose(logits[:, j], expected[:, i], rtol=1e-4, atol=1e-4)) for i in range(n)]
             for j in range(n)]
    return all(any(row) for row in match) and not all(row[j] for j, row in enumerate(match))


def _close(a: Tensor, b: Tensor) -> bool:
    return a.shape == b.shape and bool(torch.allclose(a.detach().double(), b.double(), rtol=1e-4, atol=1e-4))


def _encoder_grad(loss: Tensor, encoder: torch.nn.Module) -> Tensor:
    """Gradient of ``loss`` w.r.t. all encoder parameters, flattened (zeros where it does not flow)."""
    params = list(encoder.parameters())
    grads = torch.autograd.grad(loss.reshape(()), params, allow_unused=True)
    return torch.cat([(torch.zeros_like(p) if g is None else g).flatten() for p, g in zip(params, grads)])


def check_proto_loss(fn) -> bool:
    """``fn(encoder, support_x [N*K,1,H,W], support_y [N*K], query_x [Q,1,H,W], query_y [Q], n_way)
    -> (loss, logits [Q, N])``: values and gradient w.r.t. the encoder against the library's ProtoNet."""
    name = "Exercise 1 (build ProtoNet)"
    hint = ("emb = encoder(torch.cat([support_x, query_x])), then split it; prototype k = mean of the "
            "support embeddings with label k; logits = -squared distances from the query embeddings to the "
            "prototypes [Q, N]; loss = F.cross_entropy(logits, query_y)")
    if fn is None:
        return not_attempted(name, hint)
    for i, (encoder, sx, sy, qx, qy, n_way) in enumerate(_proto_cases()):
        case = f"on test case {i} ({n_way}-way {len(sx) // n_way}-shot, support labels {sy.tolist()})"
        try:
            out = fn(encoder, sx, sy, qx, qy, n_way)
        except NotImplementedError:
            return not_attempted(name, hint)
        except Exception as err:  # noqa: BLE001 - report the learner's error instead of raising it
            return _wrong(name, f"calling it {case} raised {type(err).__name__}: {err}", hint)
        if out is None or (isinstance(out, tuple) and all(o is None for o in out)):
            return not_attempted(name, hint) if i == 0 else _wrong(name, f"it returned None {case}", hint)
        if not (isinstance(out, tuple) and len(out) == 2):
            return _wrong(name, f"return a pair (loss, logits), got a {type(out).__name__}", hint)
        loss, logits = out
        if not isinstance(loss, Tensor) or not isinstance(logits, Tensor):
            return _wrong(name, "return tensors, not Python numbers (no .item() on the loss: training needs "
                          "its graph)", hint)
        if loss.numel() != 1:
            return _wrong(name, f"the loss should be one number (the mean over the query set), got shape "
                          f"{list(loss.shape)}", hint)
        loss = loss.reshape(())
        expected, support_logits, wrong = _proto_variants(encoder, sx, sy, qx, n_way)
        if not _close(logits, expected):
            for variant, problem in wrong:
                if _close(logits, variant):
                    return _wrong(name, f"{case}: {problem}", hint)
            if logits.shape == expected.shape and _permuted_columns(logits.detach().double(), expected):
                return _wrong(name, f"{case}: the prototypes are right but in the wrong order: column k of "
                              "the logits must belong to label k. Build prototype k from "
                              "support_emb[support_y == k] for k = 0..n_way-1 (not in the order the labels "
                              "appear)", hint)
            return _wrong(name, f"{case}, the logits: {_compare(logits, expected, 1e-4, 1e-4)}", hint)
        ref_loss = F.cross_entropy(expected, qy)
        if not _close(loss, ref_loss):
            if _close(loss, ref_loss * len(qy)):
                return _wrong(name, f"{case}: the loss is the SUM over the query examples; take the mean "
                              "(F.cross_entropy's default reduction)", hint)
            if _close(loss, F.cross_entropy(support_logits, sy)):
                return _wrong(name, f"{case}: the logits are right but the loss is the SUPPORT set's; "
                              f"{_SUPPORT_BUG}", hint)
            return _wrong(name, f"{case}, the loss: {_compare(loss, ref_loss, 1e-4, 1e-4)}", hint)
        if not loss.requires_grad:
            return _wrong(name, f"{case}: the loss has no gradient (computed under torch.no_grad(), or "
                          "detached?), so training could not change the encoder", hint)
        got = _encoder_grad(loss, encoder)
        ref = _encoder_grad(ProtoNet.loss(ProtoNet(encoder)(sx, sy, qx, n_way), qy), encoder)
        if not torch.allclose(got, ref, rtol=1e-3, atol=1e-5):
            return _wrong(name, f"{case}: the values are right but the gradient w.r.t. the encoder is not "
                          f"({_compare(got, ref, 1e-3, 1e-5, 'the gradient')}). Did you detach the "
                          "prototypes or the support embeddings? The gradient must flow through both", hint)
    return _correct(name, "values and encoder gradients match course_lib's ProtoNet on shuffled support sets")


# -- Exercise 2: the Bregman-optimal prototype -----------------------------------------------------
def bregman_problem(seed: int = 0) -> torch.Tensor:
    """Points z [12, 3] with positive coordinates (for the generalised KL divergence)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(12, 3, generator=g) * 4 + 0.1


def check_bregman_minimiser(c_star, z: torch.Tensor) -> bool:
    """``c_star`` [3]: the point you found that minimises sum_i KL_gen(z_i || c)."""
    name = "Exercise 2 (Bregman prototype)"
    hint = ("minimise sum_i d(z_i, c) over c with gradient descent (or Adam) on a tensor c that requires grad, "
            "where d(x, c) = sum_j x_j log(x_j / c_j) - x_j + c_j; start from any positive c. Then compare with "
            "z.mean(0) and z.median(0): which one did the optimiser find?")
    if c_star is None:
        return not_attempted(name, hint)
    c = torch.as_tensor(c_star, dtype=torch.float64).flatten()
    mean = z.double().mean(0)
    if c.shape != mean.shape:
        return _wrong(name, f"the answer should have shape {list(mean.shape)} (one point in R^3), got {list(c.shape)}", hint)
    if torch.allclose(c, z.double().median(0).values, rtol=1e-2) and not torch.allclose(c, mean, rtol=1e-2):
        return _wrong(name, "this is the coordinate-wise median, the minimiser of the L1 distance, not of a Bregman divergence", hint)
    geo = z.double().log().mean(0).exp()
    if torch.allclose(c, geo, rtol=1e-2) and not torch.allclose(c, mean, rtol=1e-2):
        return _wrong(name, "this is the geometric mean: it minimises sum_i KL(c || z_i), with the arguments swapped. "
                      "For Bregman divergences the mean is optimal in the *second* argument", hint)
    return check_close(name, c, mean, rtol=1e-2, atol=1e-3, hint=hint,
                       success="the optimiser found the arithmetic mean, as the Bregman theorem says "
                       "(Banerjee et al. 2005): the same holds for the squared Euclidean distance of ProtoNet")


# -- Exercise 3: ProtoNet as a linear classifier ---------------------------------------------------
def _reference_head(protos: torch.Tensor):
    return 2 * protos, -(protos**2).sum(-1)


def check_linear_head(fn) -> bool:
    """``fn(protos [N, D]) -> (W [N, D], b [N])`` such that z @ W.T + b has the same softmax as -||z - c_k||^2."""
    name = "Exercise 3 (ProtoNet as a linear layer)"
    hint = "expand -||z - c_k||^2 = -||z||^2 + 2 c_k . z - ||c_k||^2 and drop the term that is the same for every class"
    if fn is None:
        return not_attempted(name, hint)
    g = torch.Generator().manual_seed(5)
    protos = torch.randn(5, 7, generator=g)
    try:
        out = fn(protos)
    except Exception as err:  # noqa: BLE001 - report the learner's error instead of raising it
        return _wrong(name, f"calling it raised {type(err).__name__}: {err}", hint)
    if out is None:
        return not_attempted(name, hint)
    if not isinstance(out, tuple) or len(out) != 2:
        return _wrong(name, "return a pair (W, b)", hint)
    weight, bias = (torch.as_tensor(t, dtype=torch.float64) for t in out)
    if weight.shape == (7, 5):
        return _wrong(name, "W has shape [D, N]; use [N, D] so that logits = z @ W.T + b", hint)
    if torch.allclose(weight, protos.double(), atol=1e-6):
        return _wrong(name, "W = c_k is missing a factor 2 (the cross term of the square is 2 c_k . z)", hint)
    if bias.shape == (5,) and torch.allclose(bias, (protos.double() ** 2).sum(-1), atol=1e-6):
        return _wrong(name, "b has the wrong sign: the distance enters the logit with a minus", hint)
    z = torch.randn(9, 7, generator=g, dtype=torch.float64)
    try:
        logits = z @ weight.t() + bias
    except RuntimeError as err:
        return _wrong(name, f"z @ W.T + b fails ({err}); W should be [N, D] and b [N]", hint)
    dist = -((z[:, None] - protos.double()[None]) ** 2).sum(-1)
    if not torch.allclose(logits.softmax(-1), dist.softmax(-1), atol=1e-6):
        return _wrong(name, "the softmax of your linear logits differs from the softmax of -||z - c_k||^2", hint)
    return check_function(name, fn, _reference_head, [(protos,), (torch.randn(3, 2, generator=g),)], hint=hint,
                          success="W_k = 2 c_k, b_k = -||c_k||^2: a squared-Euclidean ProtoNet is a linear classifier")


# -- Exercise 4: training way / shot mismatch --------------------------------------------------
#: Test protocol of the mismatch exercise: held-out characters, same episodes for every model.
MISMATCH_PROTOCOL = {"n_way": 5, "k_shot": 1, "q_query": 5, "seed": 2024}


def check_mismatch_measurement(answer, models: dict, test_images: torch.Tensor, n_episodes: int,
                               device="cpu") -> bool:
    """``answer``: dict model-name -> mean 5-way 1-shot accuracy on ``test_images`` under
    :data:`MISMATCH_PROTOCOL` with ``n_episodes`` episodes. Re-measures and compares."""
    from course_lib.experiments.one_shot_eval import evaluate_episodes

    name = "Exercise 4 (training way/shot mismatch)"
    hint = ("for each trained model call evaluate_episodes(model, test_images, n_episodes=..., device=..., "
            "**MISMATCH_PROTOCOL) and store .mean under the model's name; the same seed gives every model the "
            "same test episodes, so the comparison is paired")
    if answer is None:
        return not_attempted(name, hint)
    if not isinstance(answer, dict) or set(answer) != set(models):
        return _wrong(name, f"answer must be a dict with the keys {sorted(models)}", hint)
    for key, model in models.items():
        expected = evaluate_episodes(model, test_images, n_episodes=n_episodes, device=device, progress=False,
                                     **MISMATCH_PROTOCOL).mean
        if answer[key] is None or abs(float(answer[key]) - expected) > 1e-6:
            if answer[key] is not None and abs(float(answer[key]) - 100 * expected) < 1e-3:
                return _wrong(name, f"{key}: give accuracies as fractions in [0, 1], not percent", hint)
            return _wrong(name, f"{key}: you have {answer[key]}, the protocol gives {expected:.4f}", hint)
    return _correct(name, "measured on identical test episodes for every model")
