"""Rapid learning or feature reuse? How much MAML's inner loop changes each layer's representation.

Raghu, Raghu, Bengio & Vinyals (ICLR 2020), "Rapid Learning or Feature Reuse? Towards Understanding
the Effectiveness of MAML", compare the activations of every layer on the same images **before** the
inner loop (parameters ``theta``) and **after** it (``phi``). If a layer's representation barely moves,
the inner loop only reuses its features; their answer for the convolutional body was "reuse", which
motivated ANIL (adapt the head alone).

Two similarity measures between activations ``A, B [samples, features]`` of one layer:

* :func:`mean_cca`: mean canonical correlation (CCA; Raghu et al. use its SVD-denoised form). The
  canonical correlations are the singular values of ``Q_A^T Q_B``, where ``Q`` is an orthonormal basis
  of the centred columns. 1 = the same features up to an invertible linear map.
* :func:`mean_cosine`: the mean over samples of the cosine between the two activation vectors of
  the same sample (no invariance at all: the simplest check).

For a convolutional layer every (image, position) is a sample and the channels are the features,
so the number of samples comfortably exceeds the number of features (CCA of ``n <= p`` samples is 1
for any pair of layers).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn
from torch.func import functional_call

__all__ = ["layer_activations", "mean_cca", "mean_cosine", "representation_change"]


def _check_pair(a: Tensor, b: Tensor) -> None:
    if a.dim() != 2 or b.dim() != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"expected activations [samples, features] with the same samples, got {list(a.shape)} "
                         f"and {list(b.shape)}")


def mean_cca(a: Tensor, b: Tensor, eps: float = 1e-10) -> float:
    """Mean canonical correlation of ``a [n, p]`` and ``b [n, q]`` (in [0, 1]).

    Columns with no variance are dropped (their directions carry nothing); needs ``n > max(p, q)``.
    """
    _check_pair(a, b)
    bases = []
    for m in (a, b):
        m = m.double() - m.double().mean(0)
        if m.shape[0] <= m.shape[1]:
            raise ValueError(f"CCA needs more samples than features, got {m.shape[0]} samples of {m.shape[1]}")
        u, s, _ = torch.linalg.svd(m, full_matrices=False)  # an orthonormal basis of the column space
        bases.append(u[:, s > eps * max(float(s.max()), eps)])
    if min(q.shape[1] for q in bases) == 0:
        raise ValueError("one of the activations is constant: no canonical correlation is defined")
    correlations = torch.linalg.svdvals(bases[0].t() @ bases[1])
    return float(correlations.clamp(max=1.0).mean())


def mean_cosine(a: Tensor, b: Tensor, eps: float = 1e-12) -> float:
    """Mean over the ``n`` samples of ``cos(a_i, b_i)`` for ``a, b [n, p]`` (in [-1, 1]; two zero vectors count as 1)."""
    _check_pair(a, b)
    if a.shape != b.shape:
        raise ValueError(f"cosine similarity needs activations of the same shape, got {list(a.shape)} and {list(b.shape)}")
    a, b = a.double(), b.double()
    cosines = torch.nn.functional.cosine_similarity(a, b, dim=1, eps=eps)
    both_zero = (a.abs().sum(1) == 0) & (b.abs().sum(1) == 0)  # e.g. a position where every ReLU is off, twice
    return float(torch.where(both_zero, torch.ones_like(cosines), cosines).mean())


def layer_activations(model: nn.Module, params: Mapping[str, Tensor], x: Tensor,
                      layers: Mapping[str, nn.Module]) -> dict[str, Tensor]:
    """Outputs of the named sub-modules when ``model`` runs on ``x`` with ``params``, as ``[samples, features]``.

    A 4-D output ``[B, C, H, W]`` becomes ``[B * H * W, C]`` (positions are samples); a 2-D one stays.
    """
    captured: dict[str, Tensor] = {}

    def hook_for(name):
        def hook(module, inputs, output):
            out = output.detach()
            captured[name] = out.permute(0, 2, 3, 1).reshape(-1, out.shape[1]) if out.dim() == 4 else out
        return hook

    handles = [module.register_forward_hook(hook_for(name)) for name, module in layers.items()]
    try:
        with torch.no_grad():
            functional_call(model, dict(params), (x,))
    finally:
        for handle in handles:
            handle.remove()
    return captured


def representation_change(model: nn.Module, before: Mapping[str, Tensor], after: Mapping[str, Tensor], x: Tensor,
                          layers: Mapping[str, nn.Module]) -> dict[str, dict[str, float]]:
    """``{layer: {"cca": ..., "cosine": ...}}``: similarity of each layer's activations on ``x`` under
    the parameters ``before`` and ``after`` adaptation (1 = unchanged)."""
    a = layer_activations(model, before, x, layers)
    b = layer_activations(model, after, x, layers)
    return {name: {"cca": mean_cca(a[name], b[name]), "cosine": mean_cosine(a[name], b[name])} for name in layers}
