"""Checks for the exercises of chapter 05 (metric-based meta-learning)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from course_lib.exercises._core import _correct, _wrong, check_close, check_function, not_attempted

__all__ = [
    "MISMATCH_PROTOCOL",
    "bregman_problem",
    "check_bregman_minimiser",
    "check_linear_head",
    "check_mismatch_measurement",
    "check_query_loss",
]


# -- Exercise 1: the Bregman-optimal prototype -----------------------------------------------------
def bregman_problem(seed: int = 0) -> torch.Tensor:
    """Points z [12, 3] with positive coordinates (for the generalised KL divergence)."""
    g = torch.Generator().manual_seed(seed)
    return torch.rand(12, 3, generator=g) * 4 + 0.1


def check_bregman_minimiser(c_star, z: torch.Tensor) -> bool:
    """``c_star`` [3]: the point you found that minimises sum_i KL_gen(z_i || c)."""
    name = "Exercise 1 (Bregman prototype)"
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


# -- Exercise 2: ProtoNet as a linear classifier ---------------------------------------------------
def _reference_head(protos: torch.Tensor):
    return 2 * protos, -(protos**2).sum(-1)


def check_linear_head(fn) -> bool:
    """``fn(protos [N, D]) -> (W [N, D], b [N])`` such that z @ W.T + b has the same softmax as -||z - c_k||^2."""
    name = "Exercise 2 (ProtoNet as a linear layer)"
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


# -- Exercise 3: the loss belongs on the query set -------------------------------------------------
def _tiny_problem():
    g = torch.Generator().manual_seed(11)
    encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 6))
    with torch.no_grad():
        for p in encoder.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    from course_lib.algorithms.protonet import ProtoNet
    from course_lib.data.episodes import EpisodeSampler

    model = ProtoNet(encoder)
    images = torch.randn(8, 6, 4, 4, generator=g)
    episode = EpisodeSampler(images, n_way=4, k_shot=2, q_query=3, seed=3).sample()
    return model, episode


def _reference_query_loss(model, episode, n_way):
    emb_s = model.embed(episode.support_x)
    emb_q = model.embed(episode.query_x)
    protos = F.one_hot(episode.support_y, n_way).t().double() @ emb_s.double()
    protos = protos / F.one_hot(episode.support_y, n_way).sum(0)[:, None]
    return F.cross_entropy(-((emb_q.double()[:, None] - protos[None]) ** 2).sum(-1), episode.query_y)


def _support_loss(model, episode, n_way):
    emb_s = model.embed(episode.support_x).double()
    protos = F.one_hot(episode.support_y, n_way).t().double() @ emb_s / F.one_hot(episode.support_y, n_way).sum(0)[:, None]
    return F.cross_entropy(-((emb_s[:, None] - protos[None]) ** 2).sum(-1), episode.support_y)


def check_query_loss(fn) -> bool:
    """``fn(model: ProtoNet, episode, n_way) -> scalar loss``: prototypes from the support set, loss on the query set."""
    name = "Exercise 3 (fix the support-set loss)"
    hint = ("prototypes = class means of model.embed(episode.support_x); scores = -squared distances of "
            "model.embed(episode.query_x) to them; loss = F.cross_entropy(scores, episode.query_y)")
    if fn is None:
        return not_attempted(name, hint)
    model, episode = _tiny_problem()
    try:
        value = fn(model, episode, 4)
    except Exception as err:  # noqa: BLE001 - report the learner's error instead of raising it
        return _wrong(name, f"calling it raised {type(err).__name__}: {err}", hint)
    if value is None:
        return not_attempted(name, hint)
    value = torch.as_tensor(value).double()
    if value.numel() != 1:
        return _wrong(name, f"return one number (the mean loss), got shape {list(value.shape)}", hint)
    with torch.no_grad():
        expected = _reference_query_loss(model, episode, 4)
        support = _support_loss(model, episode, 4)
    if torch.allclose(value, support, rtol=1e-4) and not torch.allclose(value, expected, rtol=1e-4):
        return _wrong(name, "this is the loss on the support set - exactly the bug of the original article. "
                      "The support examples built the prototypes, so classifying them measures nothing", hint)
    return check_close(name, value.item(), expected.item(), rtol=1e-4, hint=hint,
                       success="the prototypes come from the support set and the loss from the query set")


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
