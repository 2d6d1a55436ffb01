"""Per-sample mutual-information neural estimation (MINE) with the Donsker-Varadhan bound.

The mutual information of two random variables is the Kullback-Leibler
divergence of their joint law from the product of the marginals, and the
Donsker-Varadhan representation :cite:`donsker1975` turns it into a supremum
over statistics functions :math:`T` :cite:`belghazi2018mine`:

.. math::  I(A; B) = D_{KL}(P_{AB} \\,\\|\\, P_A \\otimes P_B)
           \\ge \\mathbb{E}_{P_{AB}}[T] - \\log \\mathbb{E}_{P_A \\otimes P_B}\\bigl[e^{T}\\bigr],

with equality for :math:`T = \\log \\frac{dP_{AB}}{d(P_A \\otimes P_B)} + \\text{const}`. MINE
takes :math:`T = T_\\theta`, a neural network, and raises the bound by gradient ascent on
:math:`\\theta`, with joint samples :math:`(a_k, b_k)` and marginal samples :math:`(a_k, b_{\\pi(k)})`
for a random permutation :math:`\\pi`:

.. math::  \\hat I_\\theta = \\frac1K \\sum_k T_\\theta(a_k, b_k)
           - \\log \\frac1K \\sum_k e^{T_\\theta(a_k, b_{\\pi(k)})}.

Per-sample MINE :cite:`hsu2022adversarial` measures the similarity of one image :math:`x`
and its perturbed copy :math:`x + \\delta`: the :math:`K` samples are the :math:`K` feature
maps of the classifier's first convolution, :math:`a_k = \\phi_k(x)`,
:math:`b_k = \\phi_k(x + \\delta)`.

Everything here is batched over independent estimation problems (images, or the
correlated Gaussians of the numerical check): :class:`StatisticsNetwork` holds one
network per problem in parameters with a leading problem axis, every problem's
network starts from the same initial weights, and the marginal permutation is shared,
so the estimate of a problem depends on that problem alone and permuting the batch
permutes the estimates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..data import transforms
from .base import Preprocess, check_positive_int, pixels


def dv_bound(t_joint: torch.Tensor, t_marginal: torch.Tensor) -> torch.Tensor:
    """The Donsker-Varadhan bound of each problem from its statistics values.

    .. math::  \\frac1K \\sum_k t^{joint}_k - \\log \\frac1K \\sum_k e^{t^{marginal}_k}

    Parameters
    ----------
    t_joint, t_marginal : Tensor, (B, K)
        :math:`T` on the joint and on the marginal samples of ``B`` problems.

    Returns
    -------
    Tensor, (B,)
    """
    return t_joint.mean(1) - (torch.logsumexp(t_marginal, 1) - math.log(t_marginal.shape[1]))


class BatchedLinear(nn.Module):
    """``n_problems`` independent dense layers applied at once: (B, K, in) -> (B, K, out).

    All problems start from the same weights (one draw, repeated), initialised like ``nn.Linear``.
    """

    def __init__(self, n_problems: int, in_features: int, out_features: int, generator: torch.Generator) -> None:
        super().__init__()
        bound = 1 / math.sqrt(in_features)
        weight = (torch.rand(in_features, out_features, generator=generator) * 2 - 1) * bound
        bias = (torch.rand(1, out_features, generator=generator) * 2 - 1) * bound
        self.weight = nn.Parameter(weight.expand(n_problems, -1, -1).clone())
        self.bias = nn.Parameter(bias.expand(n_problems, -1, -1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, K, in) -> (B, K, out)."""
        return torch.baddbmm(self.bias, x, self.weight)


class _MapBranch(nn.Module):
    """One branch for single-channel maps: a strided convolution per problem, ReLU, a dense layer, ReLU."""

    def __init__(self, n_problems: int, shape: tuple[int, int], channels: int, kernel: int, hidden: int,
                 generator: torch.Generator) -> None:
        super().__init__()
        bound = 1 / math.sqrt(kernel * kernel)
        weight = (torch.rand(channels, 1, kernel, kernel, generator=generator) * 2 - 1) * bound
        bias = (torch.rand(channels, generator=generator) * 2 - 1) * bound
        self.weight = nn.Parameter(weight.repeat(n_problems, 1, 1, 1))
        self.bias = nn.Parameter(bias.repeat(n_problems))
        self.n_problems, self.kernel = n_problems, kernel
        out = [(side - kernel) // 2 + 1 for side in shape]
        if min(out) < 1:
            raise ValueError(f"feature maps of shape {shape} are smaller than the statistics kernel {kernel}")
        self.dense = BatchedLinear(n_problems, channels * out[0] * out[1], hidden, generator)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        """(B, K, H, W) -> (B, K, hidden); the convolution of problem b sees only problem b's maps."""
        b, k = maps.shape[:2]
        z = F.conv2d(maps.transpose(0, 1), self.weight, self.bias, stride=2, groups=self.n_problems)  # (K, B*c, h, w)
        z = F.relu(z).reshape(k, b, -1).transpose(0, 1)
        return F.relu(self.dense(z))


class _VectorBranch(nn.Sequential):
    """One branch for vector samples: a dense layer and ReLU."""

    def __init__(self, n_problems: int, dim: int, hidden: int, generator: torch.Generator) -> None:
        super().__init__(BatchedLinear(n_problems, dim, hidden, generator), nn.ReLU())


class StatisticsNetwork(nn.Module):
    """:math:`T_\\theta(a, b)` of ``n_problems`` independent problems, one network each.

    Each branch embeds its argument (maps of shape (H, W): a 5x5 stride-2 convolution
    with ``channels`` filters, ReLU, a dense layer; vectors of shape (d,): a dense
    layer), then a joint head maps the concatenated embeddings through a hidden dense
    layer to one number.

    Parameters
    ----------
    n_problems : int
        Number of independent estimation problems ``B``.
    sample_shape : tuple
        Shape of one sample: ``(H, W)`` (feature maps) or ``(d,)`` (vectors).
    hidden : int
        Width of the embeddings and of the head.
    channels, kernel : int
        Filters and kernel size of the branch convolution (maps only).
    seed : int
        Seeds the initial weights, the same for every problem.
    """

    def __init__(self, n_problems: int, sample_shape: tuple[int, ...], hidden: int = 32, channels: int = 4,
                 kernel: int = 5, seed: int = 0) -> None:
        super().__init__()
        check_positive_int(n_problems, "n_problems")
        generator = torch.Generator().manual_seed(seed)
        if len(sample_shape) == 2:
            self.branch_a, self.branch_b = (_MapBranch(n_problems, tuple(sample_shape), channels, kernel, hidden, generator)
                                            for _ in range(2))
        elif len(sample_shape) == 1:
            self.branch_a, self.branch_b = (_VectorBranch(n_problems, sample_shape[0], hidden, generator) for _ in range(2))
        else:
            raise ValueError(f"sample_shape must be (H, W) or (d,), got {sample_shape}")
        self.head_hidden = BatchedLinear(n_problems, 2 * hidden, hidden, generator)
        self.head_out = BatchedLinear(n_problems, hidden, 1, generator)

    def embed(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Branch embeddings (B, K, hidden) of samples ``a`` and ``b`` (B, K, *sample_shape)."""
        return self.branch_a(a), self.branch_b(b)

    def head(self, ha: torch.Tensor, hb: torch.Tensor) -> torch.Tensor:
        """:math:`T` (B, K) of the embedded pairs (B, K, hidden) x 2."""
        return self.head_out(F.relu(self.head_hidden(torch.cat([ha, hb], 2))))[..., 0]

    def bound(self, a: torch.Tensor, b: torch.Tensor, permutation: torch.Tensor) -> torch.Tensor:
        """DV bound (B,) with joint pairs :math:`(a_k, b_k)` and marginal pairs :math:`(a_k, b_{\\pi(k)})`."""
        ha, hb = self.embed(a, b)
        return dv_bound(self.head(ha, hb), self.head(ha, hb[:, permutation]))


def fit_statistics(
    statistics: StatisticsNetwork,
    pairs: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    steps: int,
    lr: float = 1e-3,
    generator: torch.Generator | None = None,
    progress: bool = False,
) -> torch.Tensor:
    """Raise the DV bound of every problem by ``steps`` Adam steps on :math:`\\theta`.

    Parameters
    ----------
    statistics : StatisticsNetwork
        Trained in place.
    pairs : callable
        Returns the samples ``(a, b)``, each (B, K, ...), of one step: fixed tensors
        (per-sample MINE) or a fresh draw (the Gaussian check).
    steps : int
    lr : float
        Adam learning rate.
    generator : torch.Generator, optional
        Draws the marginal permutations.

    Returns
    -------
    Tensor, (steps, B)
        The bound of each problem at each step (before the step's update).
    """
    steps = check_positive_int(steps, "steps")
    optimizer = torch.optim.Adam(statistics.parameters(), lr=lr)
    history = []
    for _ in tqdm(range(steps), desc="MINE", disable=not progress, leave=False):
        a, b = pairs()
        bound = statistics.bound(a, b, torch.randperm(a.shape[1], generator=generator))
        optimizer.zero_grad()
        (-bound.sum()).backward()
        optimizer.step()
        history.append(bound.detach())
    return torch.stack(history)


@dataclass(frozen=True)
class MineSettings:
    """Settings of the per-sample estimator (part of every cache key that uses it).

    Parameters
    ----------
    k : int
        Feature maps used as samples (the first ``k`` of the first convolution).
    steps : int
        Adam steps of a fresh estimate (:func:`estimate_mi`) and of the warm-up in MinMax.
    lr : float
        Adam learning rate of :math:`\\theta`.
    hidden, channels, kernel : int
        Sizes of the :class:`StatisticsNetwork`.
    evaluations : int
        Marginal permutations averaged in the final estimate.
    seed : int
        Initial weights and permutations.
    """

    k: int = 32
    steps: int = 200
    lr: float = 1e-3
    hidden: int = 32
    channels: int = 4
    kernel: int = 5
    evaluations: int = 16
    seed: int = 0

    def __post_init__(self) -> None:
        check_positive_int(self.k, "MineSettings.k", minimum=2)
        check_positive_int(self.steps, "MineSettings.steps")
        check_positive_int(self.evaluations, "MineSettings.evaluations")
        if not self.lr > 0:
            raise ValueError(f"MineSettings.lr must be positive, got {self.lr}")


def first_convolution(model: nn.Module) -> nn.Conv2d:
    """The first ``nn.Conv2d`` of ``model`` in registration order (the layer applied to the input)."""
    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            return module
    raise ValueError(f"{type(model).__name__} has no nn.Conv2d: per-sample MINE needs the first convolution's feature maps")


class PerSampleMine:
    """Per-sample MINE of clean images ``x`` against perturbed copies, one statistics network per image.

    Parameters
    ----------
    model : nn.Module
        Classifier whose first convolution gives the feature maps :math:`\\phi(\\cdot)`.
    images : float Tensor (N, C, H, W) in [0, 1]
        The clean images :math:`x`.
    settings : MineSettings
    preprocess : callable
        What the model applies to pixels before its first convolution.
    """

    def __init__(self, model: nn.Module, images: torch.Tensor, settings: MineSettings = MineSettings(),
                 preprocess: Preprocess = transforms.normalize) -> None:
        self.conv, self.settings, self.preprocess = first_convolution(model), settings, preprocess
        if settings.k > self.conv.out_channels:
            raise ValueError(f"MineSettings.k = {settings.k} is larger than the {self.conv.out_channels} feature maps "
                             f"of the first convolution of {type(model).__name__}")
        self.clean = self.maps(pixels(images)).detach()
        self.statistics = StatisticsNetwork(len(self.clean), tuple(self.clean.shape[2:]), settings.hidden,
                                            settings.channels, settings.kernel, settings.seed)
        self.optimizer = torch.optim.Adam(self.statistics.parameters(), lr=settings.lr)
        self.generator = torch.Generator().manual_seed(settings.seed)

    def maps(self, x: torch.Tensor) -> torch.Tensor:
        """The first ``k`` feature maps (N, k, H', W') of pixel images ``x`` (N, C, H, W); differentiable in ``x``."""
        return self.conv(self.preprocess(x))[:, :self.settings.k]

    def bound(self, perturbed: torch.Tensor, permutation: torch.Tensor | None = None) -> torch.Tensor:
        """DV bound (N,) of :math:`(x, x + \\delta)` under the current :math:`\\theta`; differentiable in ``perturbed``."""
        if permutation is None:
            permutation = torch.randperm(self.settings.k, generator=self.generator)
        return self.statistics.bound(self.clean, self.maps(perturbed), permutation)

    def update(self, perturbed: torch.Tensor, steps: int = 1) -> torch.Tensor:
        """``steps`` Adam steps on :math:`\\theta` at fixed ``perturbed`` images; returns the bounds (steps, N)."""
        target = self.maps(perturbed).detach()
        history = []
        for _ in range(steps):
            bound = self.statistics.bound(self.clean, target, torch.randperm(self.settings.k, generator=self.generator))
            self.optimizer.zero_grad()
            (-bound.sum()).backward()
            self.optimizer.step()
            history.append(bound.detach())
        return torch.stack(history)

    @torch.no_grad()
    def estimate(self, perturbed: torch.Tensor) -> torch.Tensor:
        """The bound (N,) averaged over ``settings.evaluations`` marginal permutations."""
        target = self.maps(perturbed)
        ha, hb = self.statistics.embed(self.clean, target)
        joint = self.statistics.head(ha, hb)
        generator = torch.Generator().manual_seed(self.settings.seed + 1)
        bounds = [dv_bound(joint, self.statistics.head(ha, hb[:, torch.randperm(self.settings.k, generator=generator)]))
                  for _ in range(self.settings.evaluations)]
        return torch.stack(bounds).mean(0)


def estimate_mi(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    perturbed: np.ndarray | torch.Tensor,
    settings: MineSettings = MineSettings(),
    preprocess: Preprocess = transforms.normalize,
    batch_size: int = 256,
    progress: bool = False,
) -> np.ndarray:
    """Per-sample MI estimate of each pair :math:`(x_i, x'_i)` by a freshly trained MINE.

    Every image gets its own statistics network, trained for ``settings.steps`` Adam
    steps from the same initial weights, so the estimate is the same whichever
    attack made :math:`x'` and whatever else is in the batch.

    Parameters
    ----------
    model : nn.Module
        Classifier whose first convolution gives the feature maps.
    images, perturbed : float (N, C, H, W) in [0, 1] or uint8 (N, H, W, C)
    settings : MineSettings
    preprocess : callable
        The model's own pixel preprocessing.

    Returns
    -------
    ndarray, float, (N,)
        :math:`\\hat I_\\theta(x_i, x'_i)` in nats.
    """
    x, x_adv = pixels(images), pixels(perturbed)
    if x.shape != x_adv.shape:
        raise ValueError(f"images {tuple(x.shape)} and perturbed {tuple(x_adv.shape)} must have the same shape")
    out = []
    for s in tqdm(range(0, len(x), batch_size), desc="MINE estimate", disable=not progress, leave=False):
        mine = PerSampleMine(model, x[s:s + batch_size], settings, preprocess)
        mine.update(x_adv[s:s + batch_size], settings.steps)
        out.append(mine.estimate(x_adv[s:s + batch_size]))
    return torch.cat(out).numpy() if out else np.zeros(0)


def gaussian_mi(rho: np.ndarray | float, dim: int) -> np.ndarray:
    """Closed-form MI of :math:`(A, B)`, ``dim`` independent coordinate pairs of correlation ``rho``.

    .. math::  I(A; B) = -\\tfrac{d}{2} \\log(1 - \\rho^2)
    """
    rho = np.asarray(rho, dtype=float)
    if np.any(np.abs(rho) >= 1):
        raise ValueError(f"rho must lie in (-1, 1), got {rho}")
    return -0.5 * dim * np.log1p(-rho ** 2)


def correlated_gaussians(rho: torch.Tensor, n: int, dim: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Samples ``(a, b)``, each (B, n, dim), with :math:`b = \\rho a + \\sqrt{1 - \\rho^2}\\, \\varepsilon`, one ``rho`` per problem."""
    rho = torch.as_tensor(rho, dtype=torch.float32).view(-1, 1, 1)
    a = torch.randn(len(rho), n, dim, generator=generator)
    noise = torch.randn(len(rho), n, dim, generator=generator)
    return a, rho * a + (1 - rho ** 2).sqrt() * noise
