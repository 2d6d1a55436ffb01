"""Unsupervised adversarial examples (UAE) of autoencoders, and their use as data augmentation :cite:`hsu2022adversarial`.

The attack criterion of the supervised MinMax attack (:mod:`.minmax`) asks the
class margin to fall below zero; for an autoencoder :math:`g` the sign is flipped
on its reconstruction error :math:`L(x') = \\tfrac1d \\|g(x') - x'\\|_2^2`: the
perturbed image must be reconstructed *worse* than the original,

.. math::  f(x + \\delta) = 100 \\Bigl(1 + \\kappa - \\frac{L(x + \\delta)}{L(x)}\\Bigr) \\le 0,

with a relative margin :math:`\\kappa > 0` (for :math:`\\kappa = 0`, :math:`\\delta = 0` would
already meet it). :math:`f` is in percent of :math:`L(x)`, so that at :math:`\\delta = 0` it is
:math:`100 \\kappa` (10 for :math:`\\kappa = 0.1`), the size of a logit margin: the :math:`c` update
of :mod:`.minmax` settles near :math:`c \\approx t^{1/4} f^+`, so the scale of :math:`f`
decides how strongly the criterion can outweigh the MI term. Meanwhile the MinMax game keeps the per-sample MI of :math:`x` and
:math:`x + \\delta` as high as it can (MINE-UAE). Baselines: the L2-UAE, projected gradient ascent on
:math:`L(x + \\delta)` in an L2 ball, and Gaussian noise. Retraining the autoencoder on
the training images together with their perturbed copies is the augmentation whose
effect on the clean test reconstruction error the chapter measures.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from tqdm.auto import tqdm

from ..attacks.pgd import frozen, project
from .base import check_positive_int, pixels
from .mine import PerSampleMine
from .minmax import MinMaxGame, MinMaxSettings, join, minmax_game


class DenseAutoencoder(nn.Module):
    """28x28 images -> 784 -> 128 -> 32 -> 128 -> 784 -> sigmoid, reshaped back to (N, 1, 28, 28)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 32), nn.ReLU(),
                                 nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 784), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 28, 28) -> (N, 1, 28, 28)."""
        return self.net(x).view_as(x)


class ConvAutoencoder(nn.Sequential):
    """28x28 images -> two stride-2 convolutions (16, 32 filters) -> two transposed convolutions -> sigmoid."""

    def __init__(self) -> None:
        super().__init__(
            nn.Conv2d(1, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 16, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid(),
        )


def reconstruction_error(autoencoder: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """:math:`L(x) = \\tfrac1d \\|g(x) - x\\|_2^2` of each image (N,); differentiable in ``x``."""
    return (autoencoder(x) - x).flatten(1).pow(2).mean(1)


def fit_autoencoder(autoencoder: nn.Module, x: torch.Tensor, epochs: int, lr: float = 1e-3, batch_size: int = 64,
                    seed: int = 0, progress: bool = False) -> nn.Module:
    """Train ``autoencoder`` in place on images ``x`` (N, 1, 28, 28) in [0, 1] by Adam on the mean squared error.

    Gradients are enabled inside, so it can be called from a ``torch.no_grad()`` block.
    """
    epochs = check_positive_int(epochs, "epochs")
    x = pixels(x)
    optimizer = torch.optim.Adam(autoencoder.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    autoencoder.train()
    with torch.enable_grad():
        _train_epochs(autoencoder, x, epochs, batch_size, optimizer, generator, progress)
    return autoencoder.eval()


def _train_epochs(autoencoder, x, epochs, batch_size, optimizer, generator, progress) -> None:
    for _ in tqdm(range(epochs), desc="autoencoder", disable=not progress, leave=False):
        order = torch.randperm(len(x), generator=generator)
        for s in range(0, len(x), batch_size):
            loss = reconstruction_error(autoencoder, x[order[s:s + batch_size]]).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()


def retrained(autoencoder: nn.Module, clean: torch.Tensor, extra: torch.Tensor | None, epochs: int,
              seed: int = 0) -> nn.Module:
    """A copy of ``autoencoder`` trained ``epochs`` more on ``clean`` plus the augmentation ``extra`` (if any)."""
    data = clean if extra is None else torch.cat([clean, pixels(extra)])
    return fit_autoencoder(copy.deepcopy(autoencoder), data, epochs, seed=seed)


def mine_uae(autoencoder: nn.Module, features: nn.Module, images: torch.Tensor, settings: MinMaxSettings,
             kappa: float = 0.1, batch_size: int = 100, progress: bool = False) -> MinMaxGame:
    """MINE-UAE: the MinMax game with :math:`f(x') = 100 (1 + \\kappa - L(x') / L(x))`, MI from ``features``' first convolution.

    Returns the games of all batches joined (images, success, running MI).
    """
    if not kappa > 0:
        raise ValueError(f"kappa must be positive (with kappa = 0 the clean image already meets the criterion), got {kappa}")
    x = pixels(images)
    games = []
    with frozen(autoencoder), frozen(features):
        for s in tqdm(range(0, len(x), batch_size), desc="MINE-UAE", disable=not progress, leave=False):
            xb = x[s:s + batch_size]
            clean_error = reconstruction_error(autoencoder, xb).detach().clamp_min(1e-12)
            mine = PerSampleMine(features, xb, settings.mine, preprocess=lambda v: v)
            games.append(minmax_game(xb, lambda v, e=clean_error: 100 * (1 + kappa - reconstruction_error(autoencoder, v) / e),
                                     mine, settings))
    return join(games)


def l2_uae(autoencoder: nn.Module, images: torch.Tensor, radius: float, steps: int = 50) -> torch.Tensor:
    """L2-UAE: gradient ascent on :math:`L(x + \\delta)` with :math:`\\|\\delta\\|_2 \\le` ``radius``, x + delta in [0, 1].

    Normalised gradient steps of length :math:`2.5\\, r / \\text{steps}`, each projected to the ball and to [0, 1].
    """
    if not radius > 0:
        raise ValueError(f"radius must be positive, got {radius}")
    steps = check_positive_int(steps, "steps")
    x = pixels(images)
    delta = torch.zeros_like(x)
    with frozen(autoencoder):
        for _ in range(steps):
            adv = (x + delta).requires_grad_(True)
            (grad,) = torch.autograd.grad(reconstruction_error(autoencoder, adv).sum(), adv)
            step = grad / grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
            delta = project(delta + 2.5 * radius / steps * step, radius, "2")
            delta = (x + delta).clamp(0, 1) - x
    return x + delta


def gaussian_augmentation(images: torch.Tensor, sigma: float, seed: int = 0) -> torch.Tensor:
    """:math:`\\operatorname{clip}_{[0,1]}(x + \\sigma \\varepsilon)`, :math:`\\varepsilon \\sim N(0, I)`."""
    if not sigma > 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    x = pixels(images)
    return (x + sigma * torch.randn(x.shape, generator=torch.Generator().manual_seed(seed))).clamp(0, 1)
