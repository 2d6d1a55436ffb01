"""Projected gradient descent (PGD) in pixel space :cite:`madry2018`.

For an image :math:`x \\in [0, 1]^{3 \\times 32 \\times 32}` with label :math:`y`,
PGD approximately solves

.. math::  \\max_{\\|\\delta\\|_\\infty \\le \\varepsilon,\\; x + \\delta \\in [0, 1]} \\mathcal{L}(f(x + \\delta), y)

by iterating :math:`\\delta \\leftarrow \\Pi\\bigl(\\delta + \\alpha\\,\\operatorname{sign}\\nabla_\\delta \\mathcal{L}\\bigr)`,
where :math:`\\Pi` clips to the :math:`\\varepsilon`-box and to the valid pixel range.
The model sees normalised inputs (:func:`poisondetect.data.transforms.normalize`).
The label-consistent attack :cite:`turner2019` uses it to make
target-class images hard to classify from their content, so that a model
trained on them leans on the trigger instead.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..data import transforms


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
    """Untargeted L-infinity PGD that increases the loss of the true ``labels``.

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
    was_training = model.training
    model.eval()
    requires_grad = [p.requires_grad for p in model.parameters()]
    for p in model.parameters():
        p.requires_grad_(False)
    out = []
    try:
        for s in tqdm(range(0, len(x_all), batch_size), desc="PGD", disable=not progress, leave=False):
            x, y = x_all[s:s + batch_size], y_all[s:s + batch_size]
            adv = x.clone()
            for _ in range(steps):
                adv.requires_grad_(True)
                loss = F.cross_entropy(model(transforms.normalize(adv)), y)
                (grad,) = torch.autograd.grad(loss, adv)
                with torch.no_grad():
                    adv = adv + step_size * grad.sign()
                    adv = torch.minimum(torch.maximum(adv, x - eps), x + eps).clamp(0, 1)
            out.append(adv.detach())
    finally:
        for p, flag in zip(model.parameters(), requires_grad):
            p.requires_grad_(flag)
        model.train(was_training)
    return torch.cat(out) if out else x_all


def to_uint8_pixels(x: torch.Tensor) -> np.ndarray:
    """Images in [0, 1], (N, 3, H, W) -> uint8 (N, H, W, 3), rounding to the nearest level."""
    return x.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
