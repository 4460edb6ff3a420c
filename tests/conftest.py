"""Shared test set-up: one intra-op thread keeps the many tiny tensors of the unit tests fast."""

import torch

torch.set_num_threads(1)
