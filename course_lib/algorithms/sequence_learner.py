"""A plain LSTM as a black-box learner on label-delayed sequences (the MANN paper's baseline).

The LSTM sees ``[x_t, y_{t-1}]`` at each step and predicts ``y_t``, exactly like the MANN, but its
only memory is its hidden state: binding "this image <-> that label" for 5 classes x several
drawings must be squeezed into ``hidden_size`` numbers that are rewritten at every step. Santoro et
al. (2016, Table 1) report that it learns much more slowly and stays well below the MANN on the
2nd-10th presentations.
"""

from __future__ import annotations

import torch
import torch.nn as nn


class LSTMLearner(nn.Module):
    """LSTM over ``[features_t, onehot(y_{t-1})]`` with a linear read-out.

    input_size: size of one feature vector; n_way: number of labels; hidden_size: LSTM units;
    encoder: optional module mapping ``[B*T, 1, H, W]`` images to ``[B*T, input_size]``.
    forward(inputs ``[B, T, D]`` or images ``[B, T, 1, H, W]``, prev_labels ``[B, T, N]``)
    -> logits ``[B, T, N]``.
    """

    def __init__(self, input_size: int, n_way: int, hidden_size: int = 200, num_layers: int = 1,
                 encoder: nn.Module | None = None):
        super().__init__()
        self.input_size, self.n_way, self.hidden_size = input_size, n_way, hidden_size
        self.encoder = encoder
        self.lstm = nn.LSTM(input_size + n_way, hidden_size, num_layers=num_layers, batch_first=True)
        self.output = nn.Linear(hidden_size, n_way)

    def forward(self, inputs: torch.Tensor, prev_labels: torch.Tensor) -> torch.Tensor:
        if self.encoder is not None:
            if inputs.dim() != 5:
                raise ValueError(f"expected images [B, T, C, H, W], got {tuple(inputs.shape)}")
            b, t = inputs.shape[:2]
            inputs = self.encoder(inputs.reshape(b * t, *inputs.shape[2:])).reshape(b, t, -1)
        if inputs.dim() != 3 or inputs.shape[-1] != self.input_size:
            raise ValueError(f"expected features [B, T, {self.input_size}], got {tuple(inputs.shape)}")
        if prev_labels.shape != (*inputs.shape[:2], self.n_way):
            raise ValueError(f"prev_labels must be [B, T, {self.n_way}] matching the inputs "
                             f"{tuple(inputs.shape[:2])}, got {tuple(prev_labels.shape)}")
        hidden, _ = self.lstm(torch.cat([inputs, prev_labels], dim=-1))
        return self.output(hidden)
