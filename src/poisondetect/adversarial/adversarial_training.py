"""Adversarial training: Goodfellow's mixed FGSM objective and Madry's PGD min-max.

Goodfellow et al. :cite:`goodfellow2015` train on

.. math::  \\tilde J(\\theta, x, y) = \\alpha J(\\theta, x, y) + (1 - \\alpha) J\\bigl(\\theta, x + \\varepsilon \\operatorname{sign} \\nabla_x J(\\theta, x, y), y\\bigr),

Madry et al. :cite:`madry2018` on the inner maximum alone,

.. math::  \\min_\\theta \\mathbb{E}_{(x, y)} \\Bigl[\\max_{\\|\\delta\\|_\\infty \\le \\varepsilon} J(\\theta, x + \\delta, y)\\Bigr],

approximated by PGD from a random start (:func:`poisondetect.attacks.pgd.projected_gradient_descent`).
Adversarial examples are made with the current weights in eval mode; the
weight update runs in train mode. :func:`poisondetect.experiments.adversarially_trained`
fine-tunes a cached clean model this way (a few epochs instead of training from
scratch, which keeps the chapter affordable on a CPU) and caches the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..attacks.pgd import projected_gradient_descent
from ..data import transforms
from .base import Preprocess, check_eps, check_positive_int, class_labels, pixels

#: The two objectives: ``"fgsm"`` (Goodfellow's mixture) and ``"pgd"`` (Madry's min-max).
METHODS = ("fgsm", "pgd")


@dataclass(frozen=True)
class AdversarialTraining:
    """Settings of one adversarial training run (part of the cache key).

    Parameters
    ----------
    method : {"fgsm", "pgd"}
    eps : float
        L-infinity radius of the training attack (pixel units).
    alpha : float
        Weight of the clean loss in Goodfellow's objective (unused by ``"pgd"``).
    pgd_steps : int
        PGD steps of Madry's inner maximisation (step :math:`2.5\\varepsilon/\\text{steps}`).
    epochs, batch_size, lr : int, int, float
        Adam fine-tuning schedule.
    max_images : int or None
        Train on a random subset of this many training images (None: all).
    seed : int
    """

    method: str = "fgsm"
    eps: float = 8 / 255
    alpha: float = 0.5
    pgd_steps: int = 5
    epochs: int = 2
    batch_size: int = 128
    lr: float = 1e-3
    max_images: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown adversarial training method {self.method!r}: choose one of {', '.join(METHODS)}")
        check_eps(self.eps)
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {self.alpha}")
        check_positive_int(self.pgd_steps, "pgd_steps")
        check_positive_int(self.epochs, "epochs")
        check_positive_int(self.batch_size, "batch_size")
        if self.max_images is not None:
            check_positive_int(self.max_images, "max_images")


def adversarial_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, config: AdversarialTraining,
                     preprocess: Preprocess = transforms.normalize, generator: torch.Generator | None = None) -> torch.Tensor:
    """:math:`\\tilde J` (``"fgsm"``) or :math:`J(\\mathrm{PGD}(x))` (``"pgd"``) of a batch in [0, 1], (n, C, H, W)."""
    if config.method == "fgsm":
        adv = projected_gradient_descent(model, x, y, config.eps, 1, config.eps, preprocess=preprocess)
        clean = F.cross_entropy(model(preprocess(x)), y)
        return config.alpha * clean + (1 - config.alpha) * F.cross_entropy(model(preprocess(adv)), y)
    adv = projected_gradient_descent(model, x, y, config.eps, config.pgd_steps, 2.5 * config.eps / config.pgd_steps,
                                     start=True, preprocess=preprocess, generator=generator)
    return F.cross_entropy(model(preprocess(adv)), y)


def adversarial_fit(model: nn.Module, images: np.ndarray | torch.Tensor, labels: np.ndarray, config: AdversarialTraining,
                    preprocess: Preprocess = transforms.normalize, progress: bool = True) -> list[float]:
    """Train ``model`` in place on :func:`adversarial_loss`; returns the mean loss of each epoch.

    ``images``: uint8 (N, H, W, C) or float (N, C, H, W) in [0, 1]; ``labels`` (N,).
    """
    x = pixels(images)
    y = class_labels(labels, len(x))
    generator = torch.Generator().manual_seed(config.seed)
    if config.max_images is not None and config.max_images < len(x):
        keep = torch.randperm(len(x), generator=generator)[:config.max_images]
        x, y = x[keep], y[keep]
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    losses = []
    for epoch in range(config.epochs):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        total = 0.0
        for s in tqdm(range(0, len(x), config.batch_size), desc=f"{config.method} training, epoch {epoch + 1}", disable=not progress, leave=False):
            idx = order[s:s + config.batch_size]
            loss = adversarial_loss(model, x[idx], y[idx], config, preprocess, generator)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / max(len(x), 1))
    model.eval()
    return losses
