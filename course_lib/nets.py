"""The networks of the course, written so that they work with ``torch.func.functional_call``.

Gradient-based meta-learning adapts *copies of the parameters* (a dict ``name -> Tensor``) rather
than the module itself, so that the adapted parameters stay connected to the initial ones in the
autograd graph::

    params = params_of(model)                          # the model's own Parameters
    logits = functional_forward(model, params, x)      # same as model(x)
    grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
    fast = {name: p - inner_lr * g for (name, p), g in zip(params.items(), grads)}
    query_logits = functional_forward(model, fast, query_x)  # differentiable w.r.t. params

BatchNorm layers are built with ``track_running_stats=False``: they always normalise with the
statistics of the current batch and keep no buffers, so a functional call has no hidden state
to update and ``model.train()`` / ``model.eval()`` give the same outputs (as in MAML's code).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call

__all__ = ["MLP", "Conv4", "count_parameters", "functional_forward", "params_of", "reset_head"]


class ConvBlock(nn.Module):
    """3x3 convolution -> BatchNorm (no running statistics) -> ReLU -> downsampling.

    The code pools *before* the ReLU: max-pooling and ReLU commute
    (``max(relu(a), relu(b)) == relu(max(a, b))``), so the output is the same to the bit while the
    ReLU and its backward pass touch four times fewer values.

    ``pooling="max"``: stride-1 convolution then 2x2 max-pool (Vinyals et al. 2016, Snell et al. 2017).
    ``pooling="stride"``: stride-2 convolution, no pooling (MAML's and Reptile's Omniglot network).
    Both halve the spatial size (rounding down for max, up for stride).
    """

    def __init__(self, in_channels: int, out_channels: int, pooling: str = "max") -> None:
        super().__init__()
        stride = 2 if pooling == "stride" else 1
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1)
        self.bn = nn.BatchNorm2d(out_channels, track_running_stats=False)
        self.pool = nn.MaxPool2d(2) if pooling == "max" else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.pool(self.bn(self.conv(x))))


class Conv4(nn.Module):
    """The standard four-block convolutional network of few-shot learning.

    Parameters
    ----------
    num_classes : int or None
        Size of the linear head (N of N-way). ``None`` builds the embedding network only, whose
        forward returns the features (what metric-based methods such as ProtoNet use).
    in_channels : int   1 for Omniglot
    hidden : int        channels of every block (64 in the papers)
    pooling : "max" | "stride"   see :class:`ConvBlock`

    Shapes: input ``x [B, in_channels, H, W]`` (28x28 for Omniglot);
    ``features(x) -> [B, hidden]``; ``forward(x) -> logits [B, num_classes]``.

    For 28x28 inputs the max-pool variant ends at 1x1 spatial size; the stride variant ends at
    2x2 and is averaged over space (as in MAML's Omniglot model). In both cases the features are
    the spatial average of the last block, so any input size gives ``hidden`` features.
    """

    def __init__(
        self,
        num_classes: int | None,
        in_channels: int = 1,
        hidden: int = 64,
        pooling: str = "max",
    ) -> None:
        super().__init__()
        if pooling not in ("max", "stride"):
            raise ValueError(f"pooling must be 'max' or 'stride', got {pooling!r}")
        if num_classes is not None and num_classes < 1:
            raise ValueError(f"num_classes must be >= 1 (or None for features only), got {num_classes}")
        self.pooling = pooling
        self.feature_dim = hidden
        self.encoder = nn.Sequential(
            ConvBlock(in_channels, hidden, pooling),
            ConvBlock(hidden, hidden, pooling),
            ConvBlock(hidden, hidden, pooling),
            ConvBlock(hidden, hidden, pooling),
        )
        self.head = nn.Linear(hidden, num_classes) if num_classes is not None else None

    def features(self, x: Tensor) -> Tensor:
        """Embedding ``[B, hidden]`` of images ``x [B, C, H, W]``."""
        if x.dim() != 4:
            raise ValueError(
                f"Conv4 expects images [batch, channels, height, width], got shape {list(x.shape)}"
                + (" (add the channel dimension: x.unsqueeze(1))" if x.dim() == 3 else "")
            )
        return self.encoder(x).mean(dim=(-2, -1))

    def forward(self, x: Tensor) -> Tensor:
        """Logits ``[B, num_classes]`` (or the features ``[B, hidden]`` when built without a head)."""
        z = self.features(x)
        return z if self.head is None else self.head(z)


class MLP(nn.Module):
    """Fully connected network, e.g. the 1-40-40-1 ReLU regressor of the MAML sinusoid experiment.

    ``sizes = (in, hidden..., out)``; the activation follows every layer but the last (the
    ``head``). Shapes: ``x [B, sizes[0]] -> [B, sizes[-1]]`` (any leading dimensions work).
    """

    def __init__(self, sizes: Sequence[int] = (1, 40, 40, 1), activation: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        sizes = tuple(int(s) for s in sizes)
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"sizes must list at least an input and an output size, all >= 1; got {sizes}")
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-2], sizes[1:-1]):
            layers += [nn.Linear(a, b), activation()]
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(sizes[-2], sizes[-1])
        self.sizes = sizes

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] != self.sizes[0]:
            raise ValueError(
                f"MLP expects inputs with last dimension {self.sizes[0]}, got shape {list(x.shape)}"
                + (" (add a feature dimension: x.unsqueeze(-1))" if self.sizes[0] == 1 else "")
            )
        return self.head(self.body(x))


def params_of(model: nn.Module) -> dict[str, Tensor]:
    """The model's parameters as an ordered dict ``name -> Parameter`` (not detached, not copied).

    Gradients of anything computed from these flow into the model's parameters. Use
    ``{k: v.detach().clone().requires_grad_() for k, v in params_of(model).items()}`` for an
    independent copy.
    """
    return dict(model.named_parameters())


def functional_forward(model: nn.Module, params: dict[str, Tensor], x: Tensor, **kwargs) -> Tensor:
    """``model(x)`` computed with the tensors in ``params`` instead of the model's own parameters.

    ``params`` may hold only some of the parameters (e.g. the head); the others are the model's.
    Equivalent to ``torch.func.functional_call(model, params, (x,), kwargs)``.
    """
    return functional_call(model, params, (x,), kwargs)


@torch.no_grad()
def reset_head(
    model: nn.Module,
    num_classes: int | None = None,
    zero: bool = False,
    generator: torch.Generator | None = None,
) -> nn.Linear:
    """Re-initialise the model's linear ``head`` (optionally with a new number of outputs).

    ``zero=True`` sets weight and bias to zero (all classes start equal; a common choice before
    fine-tuning on a new N-way task). Otherwise uses PyTorch's default Linear initialisation
    (uniform in +-1/sqrt(in_features)), drawn from ``generator`` if given. With the same number of
    outputs the head is re-initialised in place; with a new ``num_classes`` it is replaced (create
    the optimizer after the call). Returns the head.
    """
    head = getattr(model, "head", None)
    if not isinstance(head, nn.Linear):
        raise ValueError(f"{type(model).__name__} has no linear `head` to reset")
    out = head.out_features if num_classes is None else int(num_classes)
    if out == head.out_features:
        new = head  # re-initialise in place: optimizers holding these Parameters stay valid
    else:
        new = nn.Linear(head.in_features, out, device=head.weight.device, dtype=head.weight.dtype)
        model.head = new  # new Parameters: build the optimizer after this call
    if zero:
        new.weight.zero_()
        new.bias.zero_()
    elif generator is None:
        new.reset_parameters()
    else:
        bound = 1.0 / head.in_features**0.5  # PyTorch's default bound for both weight and bias
        for p in (new.weight, new.bias):
            p.copy_((torch.rand(p.shape, generator=generator) * 2 - 1) * bound)
    return new


def count_parameters(model: nn.Module) -> int:
    """Number of trainable scalars in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def embed(encoder: nn.Module, x: Tensor) -> Tensor:
    """Embeddings ``[B, D]`` of images ``x [B, 1, H, W]``: ``encoder.features(x)`` if it has a head, else ``encoder(x)``."""
    features = getattr(encoder, "features", None)
    return features(x) if callable(features) else encoder(x)


def register_log_scale(module: nn.Module, scale: float, learn: bool) -> None:
    """``module.log_scale = log(scale)``: a learned parameter if ``learn``, else a fixed buffer (saved with the model)."""
    value = torch.tensor(float(scale)).log()
    if learn:
        module.log_scale = nn.Parameter(value)
    else:
        module.register_buffer("log_scale", value)
