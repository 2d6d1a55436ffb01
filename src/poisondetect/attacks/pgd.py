"""Projected gradient descent (PGD) in pixel space :cite:`madry2018`: the one PGD of the package.

For an image :math:`x \\in [0, 1]^{C \\times H \\times W}` with label :math:`y`,
PGD approximately solves

.. math::  \\max_{\\|\\delta\\|_p \\le \\varepsilon,\\; x + \\delta \\in [0, 1]} \\mathcal{L}(f(x + \\delta), y)

by iterating :math:`\\delta \\leftarrow \\Pi\\bigl(\\delta + \\alpha\\, s(\\nabla_\\delta \\mathcal{L})\\bigr)`,
with the step direction :math:`s(g) = \\operatorname{sign} g` for :math:`p = \\infty`
and :math:`s(g) = g / \\|g\\|_2` for :math:`p = 2`, where :math:`\\Pi` projects to the
:math:`\\varepsilon`-ball and clips to the valid pixel range. A targeted attack
descends the loss of the target class instead. FGSM, the fast gradient method
and BIM (:mod:`poisondetect.adversarial.gradient`) are special cases.
The model sees normalised inputs (:func:`poisondetect.data.transforms.normalize`).
The label-consistent attack :cite:`turner2019` uses it to make
target-class images hard to classify from their content, so that a model
trained on them leans on the trigger instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..data import transforms

#: Norms PGD projects to: ``"inf"`` (box) and ``"2"`` (Euclidean ball).
NORMS = ("inf", "2")


@contextlib.contextmanager
def frozen(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode and no parameter gradients for the duration; both restored afterwards."""
    was_training = model.training
    model.eval()
    requires_grad = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    try:
        yield model
    finally:
        for p, flag in zip(model.parameters(), requires_grad):
            p.requires_grad_(flag)
        model.train(was_training)


def _per_image_l2(x: torch.Tensor) -> torch.Tensor:
    """Euclidean norm of each image, shaped (N, 1, 1, 1) for broadcasting."""
    return x.flatten(1).norm(dim=1).view(-1, *([1] * (x.ndim - 1)))


def project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Project perturbations (N, C, H, W) onto the ball :math:`\\|\\delta\\|_p \\le \\varepsilon` of each image."""
    if norm == "inf":
        return delta.clamp(-eps, eps)
    return delta * torch.clamp(eps / _per_image_l2(delta).clamp_min(1e-12), max=1.0)


def random_start(x: torch.Tensor, eps: float, norm: str, generator: torch.Generator | None) -> torch.Tensor:
    """A uniform random point of the :math:`\\varepsilon`-ball around each image, clipped to [0, 1].

    For :math:`p = 2` the direction is Gaussian and the radius :math:`\\varepsilon u^{1/d}`
    with :math:`u \\sim U(0, 1)`, which is uniform in the ball of dimension :math:`d`.
    """
    if norm == "inf":
        delta = (torch.rand(x.shape, generator=generator) * 2 - 1) * eps
    else:
        direction = torch.randn(x.shape, generator=generator)
        radius = eps * torch.rand(len(x), generator=generator) ** (1.0 / x[0].numel())
        delta = direction / _per_image_l2(direction).clamp_min(1e-12) * radius.view(-1, *([1] * (x.ndim - 1)))
    return (x + delta).clamp(0, 1)


def projected_gradient_descent(
    model: nn.Module,
    x: torch.Tensor,
    labels: torch.Tensor,
    eps: float,
    steps: int,
    step_size: float,
    norm: str = "inf",
    targeted: bool = False,
    start: bool = False,
    preprocess: Callable[[torch.Tensor], torch.Tensor] = transforms.normalize,
    generator: torch.Generator | None = None,
    batch_size: int = 256,
    progress: bool = False,
) -> torch.Tensor:
    """PGD on images in [0, 1]; arguments are checked by the callers.

    Parameters
    ----------
    model : nn.Module
        Classifier of ``preprocess(x)``; used in eval mode, not changed.
    x : Tensor, float, (N, C, H, W)
        Images in [0, 1].
    labels : Tensor, int64, (N,)
        True classes (untargeted: increase their loss) or target classes
        (``targeted``: decrease their loss).
    eps, steps, step_size : float, int, float
        Radius of the ball, number of steps, step :math:`\\alpha` (pixel units).
    norm : {"inf", "2"}
    start : bool
        Begin at a uniform random point of the ball (:func:`random_start`) instead of ``x``.
    preprocess : callable
        Pixel images -> model input (default: the data sets' normalisation).
    generator : torch.Generator, optional
        Source of the random start.

    Returns
    -------
    Tensor, float32, (N, C, H, W)
        Perturbed images in [0, 1] with :math:`\\|x' - x\\|_p \\le \\varepsilon`.
    """
    sign = -1.0 if targeted else 1.0
    out = []
    with frozen(model):
        for s in tqdm(range(0, len(x), batch_size), desc="PGD", disable=not progress, leave=False):
            xb, yb = x[s:s + batch_size], labels[s:s + batch_size]
            adv = random_start(xb, eps, norm, generator) if start else xb.clone()
            for _ in range(steps):
                adv.requires_grad_(True)
                loss = F.cross_entropy(model(preprocess(adv)), yb)
                (grad,) = torch.autograd.grad(loss, adv)
                with torch.no_grad():
                    direction = grad.sign() if norm == "inf" else grad / _per_image_l2(grad).clamp_min(1e-12)
                    adv = adv + sign * step_size * direction
                    if norm == "inf":
                        adv = torch.minimum(torch.maximum(adv, xb - eps), xb + eps).clamp(0, 1)
                    else:
                        adv = (xb + project(adv - xb, eps, norm)).clamp(0, 1)
            out.append(adv.detach())
    return torch.cat(out) if out else x.clone()


def pgd_linf(
    model: nn.Module,
    images: np.ndarray,
    labels: np.ndarray,
    eps: float,
    steps: int,
    step_size: float,
    batch_size: int = 256,
    progress: bool = False,
) -> torch.Tensor:
    """Untargeted L-infinity PGD from the clean image that increases the loss of the true ``labels``.

    Parameters
    ----------
    model : nn.Module
        Surrogate classifier on normalised inputs; used in eval mode, not changed.
    images : ndarray, uint8, (N, 32, 32, 3)
    labels : ndarray, int, (N,)
    eps : float
        Radius of the L-infinity ball in [0, 1] pixel units (e.g. 16/255).
    steps : int
        Number of gradient-sign steps (0 returns the images unchanged).
    step_size : float
        Step :math:`\\alpha` in pixel units.

    Returns
    -------
    Tensor, float32, (N, 3, 32, 32)
        Perturbed images in [0, 1] with :math:`\\|x' - x\\|_\\infty \\le \\varepsilon`.
    """
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"eps must lie in [0, 1] (pixel units), got {eps}")
    if steps < 0 or step_size < 0:
        raise ValueError(f"steps and step_size must be non-negative, got {steps} and {step_size}")
    x_all = transforms.denormalize(transforms.to_tensor(images)).clamp(0, 1)
    y_all = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    return projected_gradient_descent(model, x_all, y_all, eps, steps, step_size, batch_size=batch_size, progress=progress)


def to_uint8_pixels(x: torch.Tensor) -> np.ndarray:
    """Images in [0, 1], (N, 3, H, W) -> uint8 (N, H, W, 3), rounding to the nearest level."""
    return x.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
