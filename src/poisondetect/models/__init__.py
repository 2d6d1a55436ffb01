"""The three classifiers of the thesis, built by name.

>>> from poisondetect.models import build_model, penultimate_activations
>>> model = build_model("net")                 # or "inception", "vgg16"
>>> feats = penultimate_activations(model, x)  # (N, 128)

Every model takes normalised images (N, 3, 32, 32) (see
:func:`poisondetect.data.transforms.to_tensor`), returns logits only, uses
separate non-in-place ``nn.ReLU`` modules and ``nn.Flatten``, and names its
penultimate layer in the class attribute ``penultimate`` (a dotted module
name for ``model.get_submodule``), so activation-based detectors and zennit
work on all of them alike.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .inception import BasicConv, InceptionA, SimplifiedInception
from .net import Net
from .vgg import VGG16

#: Model name -> constructor taking ``n_classes``.
MODELS: dict[str, Callable[..., nn.Module]] = {"net": Net, "inception": SimplifiedInception, "vgg16": VGG16}

__all__ = [
    "MODELS", "VGG16", "BasicConv", "InceptionA", "Net", "SimplifiedInception",
    "build_model", "penultimate_activations", "penultimate_layer",
]


def build_model(name: str, n_classes: int = 43) -> nn.Module:
    """A freshly initialised model (train mode) for ``name`` in ``MODELS``.

    The initial weights come from torch's global generator: call
    ``torch.manual_seed`` first for reproducible weights.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}: choose one of {', '.join(MODELS)}")
    if not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2, got {n_classes!r}")
    return MODELS[name](n_classes=n_classes)


def penultimate_layer(model: nn.Module) -> nn.Module:
    """The module named by ``model.penultimate``."""
    name = getattr(model, "penultimate", None)
    if name is None:
        raise TypeError(f"{type(model).__name__} has no attribute 'penultimate' naming its penultimate layer")
    return model.get_submodule(name)


@torch.no_grad()
def penultimate_activations(model: nn.Module, x: torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Outputs of the penultimate layer for normalised images ``x`` (N, 3, 32, 32) -> (N, D).

    Runs the model in eval mode (BatchNorm running statistics, no dropout) in
    batches and collects the layer's output with a forward hook; the model's
    previous train/eval mode is restored afterwards.
    """
    layer = penultimate_layer(model)
    collected: list[torch.Tensor] = []
    handle = layer.register_forward_hook(lambda _m, _i, out: collected.append(out.detach().flatten(1)))
    was_training = model.training
    model.eval()
    try:
        for start in range(0, len(x), batch_size):
            model(x[start:start + batch_size])
    finally:
        handle.remove()
        model.train(was_training)
    if not collected:
        return torch.empty(0, 0)
    return torch.cat(collected)
