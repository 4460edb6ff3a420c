"""Matching Networks (Vinyals, Blundell, Lillicrap, Kavukcuoglu & Wierstra, NeurIPS 2016).

A query is labelled by *attention over the support set*: the predicted distribution is a
weighted vote of the support labels, the weights being a softmax over cosine similarities of
the embeddings::

    a(x, x_i) = softmax_i( s * cos(f(x), g(x_i)) )                  [Q, N*K]
    p(y = k | x) = sum_{i : y_i = k} a(x, x_i)                       [Q, N]

``s`` is an inverse temperature. The paper uses no scale (s = 1); then the probabilities
cannot get close to one (cosines are at most 1) and learning is slow, so we default to a
learnable ``s`` started at 10 and keep ``learn_scale=False, scale=1`` for the paper's version.

**Full context embeddings (FCE).** With ``fce=True`` the embeddings depend on the whole support set:

* ``g``: a bidirectional LSTM reads the support embeddings ``g'(x_i)`` in sequence and
  ``g(x_i) = g'(x_i) + h_fwd_i + h_bwd_i``;
* ``f``: an attention LSTM refines each query embedding ``f'(x)`` for ``processing_steps``
  steps, attending over ``g(S)`` at each step::

      h_hat_k, c_k = LSTM(f'(x), [h_{k-1}, r_{k-1}], c_{k-1})
      h_k = h_hat_k + f'(x)
      r_k = sum_i softmax_i(h_k . g(x_i)) g(x_i)
      f(x) = h_K

The support order fed to the bidirectional LSTM is arbitrary (the paper notes this weakness);
we use the order of the episode.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_lib.algorithms.protonet import cosine_similarity
from course_lib.checks import check_episode_labels
from course_lib.nets import Conv4, embed, register_log_scale

__all__ = ["AttentionLSTM", "MatchingNet", "SupportEncoderLSTM", "attention_log_probs"]


def attention_log_probs(similarity: Tensor, support_y: Tensor, n_way: int) -> Tensor:
    """Log of the attention-weighted label vote.

    similarity [Q, S] (pre-softmax attention logits), support_y [S] in 0..n_way-1
    -> log p [Q, n_way], where ``p_k = sum_{i: y_i = k} softmax(similarity)_i``.
    Computed with log-sum-exp per class, so it is exact even for very peaked attention.
    A class with no support example gets log p = -inf.
    """
    if similarity.dim() != 2 or similarity.shape[1] != support_y.shape[0]:
        raise ValueError(
            f"similarity must be [Q, S] with S = len(support_y) = {support_y.shape[0]}, got {list(similarity.shape)}"
        )
    mask = F.one_hot(support_y, n_way).t().bool()  # [N, S]
    per_class = similarity[:, None, :].masked_fill(~mask[None], float("-inf"))  # [Q, N, S]
    return torch.logsumexp(per_class, dim=-1) - torch.logsumexp(similarity, dim=-1, keepdim=True)


class SupportEncoderLSTM(nn.Module):
    """FCE ``g``: bidirectional LSTM over the support embeddings, with a skip connection.

    support_emb [S, D] -> [S, D]  (hidden size D per direction; the two directions are added).
    """

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.lstm = nn.LSTM(dim, dim, batch_first=True, bidirectional=True)
        self.dim = dim

    def forward(self, support_emb: Tensor) -> Tensor:
        out, _ = self.lstm(support_emb[None])  # [1, S, 2D]
        out = out[0]
        return support_emb + out[:, : self.dim] + out[:, self.dim:]


class AttentionLSTM(nn.Module):
    """FCE ``f``: an LSTM that re-reads the support set ``processing_steps`` times.

    query_emb [Q, D], support_g [S, D] -> [Q, D].
    """

    def __init__(self, dim: int, processing_steps: int = 5) -> None:
        super().__init__()
        if processing_steps < 1:
            raise ValueError(f"processing_steps must be >= 1, got {processing_steps}")
        self.cell = nn.LSTMCell(dim, 2 * dim)  # hidden state holds [h, r]
        self.dim = dim
        self.processing_steps = processing_steps

    def forward(self, query_emb: Tensor, support_g: Tensor) -> Tensor:
        q = query_emb.shape[0]
        h = query_emb
        r = query_emb.new_zeros(q, self.dim)
        c = query_emb.new_zeros(q, 2 * self.dim)
        for _ in range(self.processing_steps):
            h_hat, c = self.cell(query_emb, (torch.cat([h, r], dim=-1), c))
            h = h_hat[:, : self.dim] + query_emb
            attention = torch.softmax(h @ support_g.t(), dim=-1)  # [Q, S]
            r = attention @ support_g  # [Q, D]
        return h


class MatchingNet(nn.Module):
    """Matching network: embedding network, optional FCE, cosine attention over the support set.

    Parameters
    ----------
    encoder : nn.Module or None   images [B,1,H,W] -> [B, D] (``encoder.features`` if present);
                                  default ``Conv4(None)``, D = 64
    embed_dim : int               D (needed for the FCE LSTMs)
    fce : bool                    use full context embeddings
    processing_steps : int        steps of the attention LSTM (FCE only)
    scale : float                 initial inverse temperature of the attention softmax
    learn_scale : bool            make the scale trainable

    ``forward(support_x, support_y, query_x, n_way) -> log-probabilities [Q, N]`` (usable as logits:
    ``F.cross_entropy`` of them is the negative log-likelihood, since they are already normalised).
    """

    def __init__(
        self,
        encoder: nn.Module | None = None,
        embed_dim: int = 64,
        fce: bool = False,
        processing_steps: int = 5,
        scale: float = 10.0,
        learn_scale: bool = True,
    ) -> None:
        super().__init__()
        if scale <= 0:
            raise ValueError(f"scale must be positive, got {scale}")
        self.encoder = encoder if encoder is not None else Conv4(None)
        self.fce = fce
        if fce:
            self.g_lstm = SupportEncoderLSTM(embed_dim)
            self.f_lstm = AttentionLSTM(embed_dim, processing_steps)
        register_log_scale(self, scale, learn_scale)

    def embed(self, x: Tensor) -> Tensor:
        return embed(self.encoder, x)

    def forward(self, support_x: Tensor, support_y: Tensor, query_x: Tensor, n_way: int) -> Tensor:
        check_episode_labels(support_y, support_x.shape[0], n_way)
        emb = self.embed(torch.cat([support_x, query_x], dim=0))
        support_emb, query_emb = emb[: support_x.shape[0]], emb[support_x.shape[0]:]
        if self.fce:
            support_emb = self.g_lstm(support_emb)
            query_emb = self.f_lstm(query_emb, support_emb)
        similarity = self.log_scale.exp() * cosine_similarity(query_emb, support_emb)  # [Q, S]
        return attention_log_probs(similarity, support_y, n_way)

    @staticmethod
    def loss(scores: Tensor, query_y: Tensor) -> Tensor:
        """Negative log-likelihood of the query labels (scores are log-probabilities [Q, N])."""
        return F.nll_loss(scores, query_y)
