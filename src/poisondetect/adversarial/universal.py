"""One perturbation for many images: universal adversarial perturbations and masked patches.

A single :math:`\\delta \\in [-\\varepsilon, \\varepsilon]^{C \\times H \\times W}`, optionally
restricted to a binary mask :math:`m` (a sticker-sized patch), is applied to
every image as :math:`x' = \\operatorname{clip}_{[0,1]}(x + m \\odot \\delta)`. It is
found by projected sign-gradient steps on the mean loss over the images

.. math::  \\delta \\leftarrow \\Pi_{\\|\\delta\\|_\\infty \\le \\varepsilon}\\Bigl(\\delta \\pm \\alpha \\operatorname{sign}
           \\nabla_\\delta \\tfrac{1}{n} \\textstyle\\sum_i J(x_i + m \\odot \\delta, \\cdot)\\Bigr),

ascending the true-label loss (untargeted) or descending the target-class
loss (targeted), a stochastic-gradient variant of :cite:`moosavi2017universal`.
With a small mask and :math:`\\varepsilon = 1` it is a test-time trigger: the
evasion counterpart of the poisoning chapters' stickers, found without touching
the training data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..attacks.pgd import frozen
from ..data import transforms
from .base import Preprocess, check_eps, check_positive_int, class_labels, logits_of, pixels


@dataclass(frozen=True)
class UniversalPerturbation:
    """A perturbation shared by all images.

    Attributes
    ----------
    delta : Tensor (C, H, W)
        The perturbation, :math:`\\|\\delta\\|_\\infty \\le \\varepsilon`, zero outside the mask.
    mask : Tensor (1, H, W)
        1 where the perturbation may act.
    fooling_rate : float
        Share of the attacked images it fools (untargeted: leaves the true class;
        targeted: reaches the target).
    """

    delta: torch.Tensor
    mask: torch.Tensor
    fooling_rate: float

    def apply(self, images: np.ndarray | torch.Tensor) -> torch.Tensor:
        """:math:`\\operatorname{clip}(x + m \\odot \\delta)` for images (uint8 (N, H, W, C) or float (N, C, H, W))."""
        return (pixels(images) + self.mask * self.delta).clamp(0, 1)


def square_mask(size: int, position: tuple[int, int], shape: tuple[int, int] = (32, 32)) -> torch.Tensor:
    """Mask (1, H, W) of a ``size`` x ``size`` square with top-left corner ``position`` (row, column)."""
    row, col = position
    size = check_positive_int(size, "size")
    if not (0 <= row and 0 <= col and row + size <= shape[0] and col + size <= shape[1]):
        raise ValueError(f"a {size}x{size} square at position {position} does not fit into an image of shape {shape}")
    mask = torch.zeros(1, *shape)
    mask[:, row:row + size, col:col + size] = 1
    return mask


def universal_perturbation(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    eps: float,
    mask: torch.Tensor | None = None,
    target: int | None = None,
    epochs: int = 10,
    step_size: float | None = None,
    batch_size: int = 64,
    preprocess: Preprocess = transforms.normalize,
    seed: int = 0,
    progress: bool = False,
) -> UniversalPerturbation:
    """Fit one (masked) perturbation that fools most of ``images``.

    Parameters
    ----------
    model : nn.Module
        Classifier of ``preprocess(x)``; not changed.
    images : uint8 ndarray (N, H, W, C) or float (N, C, H, W) in [0, 1]
        For example all training images of one class.
    labels : int array (N,)
        Their true classes.
    eps : float
        L-infinity bound in pixel units (1 for an unconstrained patch).
    mask : Tensor (1, H, W), optional
        Where the perturbation acts (default everywhere); see :func:`square_mask`.
    target : int, optional
        Target class of a targeted perturbation.
    epochs, step_size, batch_size : int, float, int
        Passes over the images, sign-step size (default ``eps / 10``), mini-batch size.

    Returns
    -------
    UniversalPerturbation
    """
    eps = check_eps(eps)
    epochs = check_positive_int(epochs, "epochs")
    step_size = eps / 10 if step_size is None else check_eps(step_size, "step_size")
    x = pixels(images)
    y = class_labels(labels, len(x))
    mask = torch.ones(1, *x.shape[2:]) if mask is None else torch.as_tensor(mask, dtype=torch.float32)
    if mask.shape != (1, *x.shape[2:]):
        raise ValueError(f"mask must have shape (1, {x.shape[2]}, {x.shape[3]}), got {tuple(mask.shape)}")
    goal = y if target is None else class_labels(target, len(x), "target")
    sign = 1.0 if target is None else -1.0
    delta = torch.zeros(x.shape[1:])
    generator = torch.Generator().manual_seed(seed)
    with frozen(model):
        for _ in tqdm(range(epochs), desc="universal", disable=not progress, leave=False):
            order = torch.randperm(len(x), generator=generator)
            for s in range(0, len(x), batch_size):
                idx = order[s:s + batch_size]
                d = delta.clone().requires_grad_(True)
                loss = F.cross_entropy(model(preprocess((x[idx] + mask * d).clamp(0, 1))), goal[idx])
                (grad,) = torch.autograd.grad(loss, d)
                delta = (delta + sign * step_size * grad.sign()).clamp(-eps, eps) * mask
    predicted = logits_of(model, (x + mask * delta).clamp(0, 1), preprocess).argmax(1)
    fooled = predicted != y if target is None else predicted == goal
    return UniversalPerturbation(delta, mask, float(fooled.float().mean()) if len(x) else float("nan"))
