"""Memory-augmented neural network (MANN) with least-recently-used access (LRUA).

Santoro, Bartunov, Botvinick, Wierstra & Lillicrap (2016), "Meta-Learning with Memory-Augmented
Neural Networks", ICML (arXiv:1605.06065, "One-shot Learning with Memory-Augmented Neural Networks"). The memory design descends from the Neural Turing Machine (Graves, Wayne &
Danihelka 2014, arXiv:1410.5401); the Differentiable Neural Computer (Graves et al. 2016, Nature
538) later replaced LRUA by learned allocation and temporal links.

One step of the model, for a batch of ``B`` episodes, ``R`` read heads, ``S`` memory slots of width
``W``:

    controller:   h_t, c_t = LSTM([x_t, y_{t-1}, r_{t-1}], (h_{t-1}, c_{t-1}))
    key, gate:    k_t = tanh(W_k h_t + U_k x_t)  [B,R,W],   alpha_t = W_a h_t + U_a x_t  [B,R]
                  (U x_t: input_to_heads, default; the paper has W h_t alone)
    content read: K(k, M(i)) = k . M(i) / (||k|| ||M(i)||)                          (cosine)
                  w^r_t(i) = softmax_i( beta * K(k_t, M_{t-1}(i)) )    ([k_t, 0] with store_labels)
                  r_t = sum_i w^r_t(i) M_{t-1}(i)
    LRUA write:   w^w_t = sigma(alpha_t) w^r_{t-1} + (1 - sigma(alpha_t)) w^lu_{t-1}
                  M_t(i) = M_{t-1}(i) + w^w_t(i) k_t                     (the paper)
                  M_t(i) = M_{t-1}(i) + w^w_t(i) [k_{t-1}, y_{t-1}]      (store_labels, default)
                  (the single least-used slot is zeroed just before the write)
    usage:        w^u_t = gamma w^u_{t-1} + w^r_t + w^w_t
                  w^lu_t(i) = 1 if w^u_t(i) is among the R smallest usages, else 0
                  (so, as in the paper, a head's write weights sum to sigma + (1 - sigma) R)
    output:       logits_t = W_o [h_t, r_t]

The interpolation gate ``sigma(alpha)`` chooses between *updating the slot that was just read*
(refreshing a memory about the same class) and *writing to a fresh, rarely used slot* (a new class).

Deviation from the paper, stated openly: the paper's softmax is over raw cosine similarities, which
live in [-1, 1], so read weights over 128 slots can never become sharp. Like the NTM, we multiply
the similarity by a learned key strength ``beta_t = 1 + softplus(W_b h_t)``; ``key_strength=False``
with ``read_first=False``, ``store_labels=False`` and ``input_to_heads=False`` (below) recovers the
paper's equations. Sharp reads make training far faster on a CPU budget.

Order within a step: we read the memory *before* this step's write (``M_{t-1}`` above). The paper's
equations index the read with ``M_t``; its patent application (Santoro et al., US 2017/0228637 A1)
lists the read before the write. With the paper's write the same key ``k_t`` is written and read, so
a read after the write finds ``k_t`` itself in the slots just written (cosine close to 1) and returns
mostly what the controller already knows. ``read_first=False`` reads after the write.

What a slot holds, ours too (``store_labels=True``, the default). In the paper a head writes its key
``k_t`` and nothing else: to answer a later presentation from memory, the controller must itself fold
the label ``y_{t-1}``, which arrives one step after its image, into a key that also describes that
image, which it has to carry over one step. At our CPU budget many runs never find that binding and
stay on a plateau no better than an LSTM (README, "Chapter 06's MANN over seeds and threads"). With
``store_labels`` a slot is ``W + N`` wide and a head writes the key it read with at the previous step
next to the label that has just arrived, ``[k_{t-1}, y_{t-1}]``; it reads with ``[k_t, 0]``, so the
similarity compares keys and the read vector carries a weighted vote of the stored labels. The binding is then built in and the controller learns what to key an image by, like a
key-value memory whose values are labels (Kaiser, Nachum, Roy & Bengio 2017, "Learning to Remember
Rare Events", ICLR). ``store_labels=False`` writes ``k_t``, as in the paper.

The heads see the image, ours as well (``input_to_heads=True``, the default). The paper computes
the head parameters from the controller's state ``h_t`` alone; we add a linear map of the current
input ``x_t``, a skip connection past the controller. With ``store_labels`` a key only has to
describe the current image, and this path gives it one from the first step, before the controller
has learned anything: runs that start with label bookkeeping leave it early instead of staying on
it, as some did without this path (README). ``input_to_heads=False`` computes them from ``h_t`` alone.

Initialisation, also ours. The key strength starts at ``initial_strength`` (10) rather than at
``1 + softplus(0) = 1.7``, with which a softmax over 128 slots is near uniform whatever the keys: at
10, a cosine difference of 0.1 already changes two slots' read weights by a factor ``e``. The write
gate starts at ``sigma(alpha) = initial_gate`` (0.1) rather than 0.5, so writes go mostly to fresh
slots and different images start in different slots; from 0.5, half of every write is smeared over
the slots read last (with soft reads, most of the memory) and the slots grow alike. Both shorten
the label-bookkeeping plateau (README, "Chapter 06's MANN over seeds and threads").
"""

from __future__ import annotations

import math

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib.algorithms.mann_addressing import content_read, least_used, lrua_write, update_usage


@dataclass
class MemoryTrace:
    """What the memory did during one forward pass (for plots). All on the CPU, detached.

    read_weights ``[B, T, R, S]``, write_weights ``[B, T, R, S]``, usage ``[B, T, S]``,
    gate ``[B, T, R]`` (sigma(alpha): 1 = update the last-read slot, 0 = write a fresh slot),
    reads ``[B, T, R, slot_width]``: each head's read vector (with ``store_labels``, its last ``N``
    entries are the head's vote over the stored labels).
    """

    read_weights: torch.Tensor
    write_weights: torch.Tensor
    usage: torch.Tensor
    gate: torch.Tensor
    reads: torch.Tensor


class MANN(nn.Module):
    """LSTM controller + external memory with content reads and LRUA writes.

    Parameters
    ----------
    input_size: size of one image feature vector (after ``encoder``).
    n_way: number of labels per episode (size of the one-hot label input and of the output).
    controller_size: LSTM hidden size (200 in the paper).
    memory_slots, memory_width: ``S`` slots, keys of width ``W`` (128 x 40 in the paper); with
        ``store_labels`` a slot is ``W + n_way`` wide (``slot_width``).
    num_reads: number of read heads ``R`` (4 in the paper); also the ``n`` of ``w^lu``.
    gamma: usage decay (0.95 in the paper).
    encoder: optional module applied to ``[B*T, 1, H, W]`` images, returning ``[B*T, input_size]``;
        ``None`` means the forward receives feature vectors ``[B, T, input_size]`` directly.
    key_strength: learn a softmax sharpness ``beta`` per head (see module docstring); without it
        the read receives ``beta = 1``.
    initial_strength: the value of ``beta`` at initialisation (> 1; see module docstring); ignored
        without ``key_strength``.
    read_first: read ``M_{t-1}`` before this step's write (default), or, with False, ``M_t`` after it
        as in the paper (see module docstring).
    initial_gate: the write gate ``sigma(alpha)`` at initialisation, in (0, 1) (see module docstring).
    input_to_heads: the head parameters (keys, gates, strengths) are a linear map of ``[h_t, x_t]``
        (default) instead of ``h_t`` alone (see module docstring).
    store_labels: a slot holds the previous step's key next to the label that arrived after it,
        ``[k_{t-1}, y_{t-1}]`` (width ``memory_width + n_way``), read with ``[k_t, 0]`` (default); with
        False, the paper's write of ``k_t`` (see module docstring).
    read_fn, write_fn: the memory addressing, swappable (to run your own version inside the model):
        ``read_fn(keys, memory, strength) -> (w^r, r)`` as :func:`content_read` (the default) and
        ``write_fn(gate_logit, prev_read, prev_usage) -> w^w`` as :func:`lrua_write` (the default).
    """

    def __init__(self, input_size: int, n_way: int, controller_size: int = 200,
                 memory_slots: int = 128, memory_width: int = 40, num_reads: int = 4,
                 gamma: float = 0.95, encoder: nn.Module | None = None, key_strength: bool = True,
                 initial_strength: float = 10.0, read_first: bool = True, initial_gate: float = 0.1,
                 store_labels: bool = True, input_to_heads: bool = True, read_fn=None, write_fn=None):
        super().__init__()
        if num_reads > memory_slots:
            raise ValueError(f"num_reads={num_reads} cannot exceed memory_slots={memory_slots}")
        if not 0.0 <= gamma <= 1.0:
            raise ValueError(f"gamma is a decay factor in [0, 1], got {gamma}")
        if not 0.0 < initial_gate < 1.0:
            raise ValueError(f"initial_gate is a sigmoid's value, in (0, 1) exclusive, got {initial_gate}")
        if key_strength and not initial_strength > 1.0:
            raise ValueError(f"initial_strength must be > 1 (beta = 1 + softplus(...)), got {initial_strength}")
        self.input_size, self.n_way = input_size, n_way
        self.controller_size = controller_size
        self.memory_slots, self.memory_width, self.num_reads = memory_slots, memory_width, num_reads
        self.gamma = gamma
        self.encoder = encoder
        self.key_strength = key_strength
        self.read_first = read_first
        self.store_labels = store_labels
        self.slot_width = memory_width + (n_way if store_labels else 0)   # a slot: [key, label] or key
        self.read_fn = read_fn or content_read
        self.write_fn = write_fn or lrua_write
        # The LSTM controller, written out: the part of the gates that depends on the inputs
        # (x_t, y_{t-1}) is computed for all steps in one matrix product before the loop; the part
        # that depends on (h_{t-1}, r_{t-1}) is computed step by step.
        self.controller_in = nn.Linear(input_size + n_way, 4 * controller_size)
        self.controller_rec = nn.Linear(controller_size + num_reads * self.slot_width,
                                        4 * controller_size, bias=False)
        # one linear layer emits every head parameter: keys [R*W], gate logits [R], strengths [R]
        self.heads = nn.Linear(controller_size, num_reads * memory_width + 2 * num_reads)
        self.output = nn.Linear(controller_size + num_reads * self.slot_width, n_way)
        with torch.no_grad():  # forget-gate bias 1 (Gers et al. 2000): remember by default
            self.controller_in.bias[controller_size:2 * controller_size].fill_(1.0)
            gates = slice(num_reads * memory_width, num_reads * memory_width + num_reads)
            self.heads.bias[gates].fill_(math.log(initial_gate / (1.0 - initial_gate)))  # sigmoid(b) = initial_gate
            if key_strength:  # 1 + softplus(b) = initial_strength
                self.heads.bias[num_reads * memory_width + num_reads:].fill_(math.log(math.expm1(initial_strength - 1.0)))
        # the input's share of the head parameters, computed for all steps before the loop (like controller_in)
        self.heads_input = nn.Linear(input_size, self.heads.out_features, bias=False) if input_to_heads else None

    def _features(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.encoder is None:
            if inputs.dim() != 3 or inputs.shape[-1] != self.input_size:
                raise ValueError(f"expected features [B, T, {self.input_size}], got "
                                 f"{tuple(inputs.shape)} (pass encoder=... to feed images)")
            return inputs
        if inputs.dim() != 5:
            raise ValueError(f"expected images [B, T, C, H, W], got {tuple(inputs.shape)}")
        b, t = inputs.shape[:2]
        feats = self.encoder(inputs.reshape(b * t, *inputs.shape[2:]))
        return feats.reshape(b, t, -1)

    def initial_state(self, batch_size: int, device) -> dict[str, torch.Tensor]:
        """Zero controller state, a memory filled with a tiny constant (cosine needs a norm),
        zero read weights, usage and previous keys."""
        s, w, r = self.memory_slots, self.slot_width, self.num_reads
        zeros = torch.zeros
        return {
            "h": zeros(batch_size, self.controller_size, device=device),
            "c": zeros(batch_size, self.controller_size, device=device),
            "memory": torch.full((batch_size, s, w), 1e-6, device=device),
            "read_weights": zeros(batch_size, r, s, device=device),
            "usage": zeros(batch_size, s, device=device),
            "reads": zeros(batch_size, r * w, device=device),
            "keys": zeros(batch_size, r, self.memory_width, device=device),
        }

    def step(self, gates_in: torch.Tensor, prev_label: torch.Tensor, state: dict[str, torch.Tensor],
             heads_in: torch.Tensor | None = None):
        """One time step.

        gates_in ``[B, 4H]``: the controller's input projection of ``(x_t, y_{t-1})``; prev_label
        ``[B, N]``: ``y_{t-1}`` one-hot (written into memory with ``store_labels``); heads_in
        ``[B, R*W + 2R]``: ``heads_input(x_t)`` with ``input_to_heads`` (else None).
        Returns (logits ``[B, N]``, new state, info dict for :class:`MemoryTrace`).
        """
        if (heads_in is None) != (self.heads_input is None):
            raise ValueError("heads_in must be heads_input(x_t) for a MANN with input_to_heads, and None without"
                             f" (input_to_heads={self.heads_input is not None}, heads_in given: {heads_in is not None})")
        b = gates_in.shape[0]
        r, w = self.num_reads, self.slot_width
        # controller: LSTM over [x_t, y_{t-1}, r_{t-1}]
        gates = gates_in + self.controller_rec(torch.cat([state["h"], state["reads"]], dim=-1))
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * state["c"] + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        # head parameters
        head = self.heads(h) if heads_in is None else self.heads(h) + heads_in
        kw = self.memory_width
        keys = torch.tanh(head[:, : r * kw]).view(b, r, kw)               # k_t      [B, R, W]
        gate_logit = head[:, r * kw: r * kw + r]                          # alpha_t  [B, R]
        beta = head[:, r * kw + r:]
        strength = 1.0 + F.softplus(beta) if self.key_strength else torch.ones_like(beta)  # [B, R]
        if self.store_labels:  # read with [k_t, 0], write [k_{t-1}, y_{t-1}]   [B, R, W + N]
            read_keys = torch.cat([keys, keys.new_zeros(b, r, self.n_way)], dim=-1)
            content = torch.cat([state["keys"], prev_label.unsqueeze(1).expand(b, r, self.n_way)], dim=-1)
        else:                  # the paper: read with k_t, write k_t
            read_keys = content = keys
        if self.read_first:  # content-based read from the memory before this step's write
            read_w, reads = self.read_fn(read_keys, state["memory"], strength)  # [B, R, S], [B, R, slot]
        # LRUA write, using the read weights and usage of the previous step
        prev_usage = state["usage"]
        write_w = self.write_fn(gate_logit, state["read_weights"], prev_usage)  # w^w_t    [B, R, S]
        erase = 1.0 - least_used(prev_usage, 1)                           # zero the LU slot
        memory = state["memory"] * erase.unsqueeze(-1) + torch.einsum("brs,brw->bsw", write_w, content)
        if not self.read_first:  # the paper's order: read the memory this step has just written
            read_w, reads = self.read_fn(read_keys, memory, strength)
        reads = reads.reshape(b, r * w)                                   # r_t      [B, R*slot]
        usage = update_usage(prev_usage, read_w, write_w, self.gamma)     # usage (no gradient)
        logits = self.output(torch.cat([h, reads], dim=-1))
        new_state = {"h": h, "c": c, "memory": memory, "read_weights": read_w,
                     "usage": usage.detach(), "reads": reads, "keys": keys}
        info = {"read_weights": read_w, "write_weights": write_w, "usage": usage,
                "gate": torch.sigmoid(gate_logit), "reads": reads.view(b, r, w)}
        return logits, new_state, info

    def forward(self, inputs: torch.Tensor, prev_labels: torch.Tensor, return_trace: bool = False):
        """Run whole episodes.

        inputs: features ``[B, T, D]`` (or images ``[B, T, 1, H, W]`` if an encoder is set);
        prev_labels: ``[B, T, N]`` one-hot labels of the previous step.
        Returns logits ``[B, T, N]`` (and a :class:`MemoryTrace` if ``return_trace``).
        """
        feats = self._features(inputs)
        if prev_labels.dim() != 3 or prev_labels.shape[:2] != feats.shape[:2] \
                or prev_labels.shape[-1] != self.n_way:
            raise ValueError(f"prev_labels must be [B, T, {self.n_way}] matching the inputs "
                             f"{tuple(feats.shape[:2])}, got {tuple(prev_labels.shape)}")
        state = self.initial_state(feats.shape[0], feats.device)
        gates_in = self.controller_in(torch.cat([feats, prev_labels], dim=-1))   # [B, T, 4H]
        steps = feats.shape[1]
        heads_in = self.heads_input(feats).unbind(1) if self.heads_input is not None else [None] * steps
        outputs, infos = [], []
        # unbind once: indexing gates_in[:, step] in the loop would make the backward pass build
        # a zero-filled [B, T, 4H] gradient for every step
        for gates_step, label_step, heads_step in zip(gates_in.unbind(1), prev_labels.unbind(1), heads_in):
            logits, state, info = self.step(gates_step, label_step, state, heads_step)
            outputs.append(logits)
            if return_trace:
                infos.append({k: v.detach().cpu() for k, v in info.items()})
        logits = torch.stack(outputs, dim=1)
        if not return_trace:
            return logits
        trace = MemoryTrace(**{k: torch.stack([i[k] for i in infos], dim=1)
                               for k in ("read_weights", "write_weights", "usage", "gate", "reads")})
        return logits, trace
