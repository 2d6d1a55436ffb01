"""Black-box (zeroth-order) evasion: gradients estimated from the model's output scores alone.

The attacker sees only the class probabilities :math:`p(x)` of its queries and
minimises the margin on log-probabilities of ZOO :cite:`chen2017zoo`,

.. math::  \\ell(x) = \\log p_y(x) - \\max_{i \\ne y} \\log p_i(x)

(targeted at :math:`t`: :math:`\\max_{i \\ne t} \\log p_i - \\log p_t`), which is
negative exactly when the attack succeeds (ZOO's confidence floor :math:`-\\kappa` only
matters after success, where these attacks stop). Three estimates of :math:`\\nabla \\ell`:

- coordinate-wise symmetric differences (ZOO): :math:`\\hat g_i = \\frac{\\ell(x + h e_i) - \\ell(x - h e_i)}{2h}`
  on a random batch of coordinates per step, 2 queries per coordinate;
- all coordinates at once (FD-FGSM): :math:`x' = x - \\varepsilon \\operatorname{sign} \\hat g` with
  :math:`2d` queries for :math:`d` pixels (the lecture's
  :math:`x + \\varepsilon \\operatorname{sign}(\\mathrm{FD}_x(\\ell_f(x, y), \\delta))` for the loss it ascends);
- random directions (AutoZOOM :cite:`tu2019autozoom`):
  :math:`\\hat g = \\frac{d}{q} \\sum_{j=1}^{q} \\frac{\\ell(x + \\beta u_j) - \\ell(x)}{\\beta}\\, u_j`
  with :math:`u_j` uniform on the unit sphere, :math:`q + 1` queries per estimate.

The attacks step along :math:`-\\operatorname{sign} \\hat g` inside the L-infinity
:math:`\\varepsilon`-ball and [0, 1], count every image they evaluate as a query
(the first query is the clean image), and stop for each image at success or
when the next step would exceed the query budget.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..attacks.pgd import frozen
from ..data import transforms
from .base import AttackResult, Preprocess, check_eps, check_positive_int, class_labels, pixels, result
from .carlini_wagner import margin

Loss = Callable[[torch.Tensor], torch.Tensor]


def coordinate_gradient(loss: Loss, x: torch.Tensor, coordinates: torch.Tensor, h: float) -> torch.Tensor:
    """Symmetric finite differences of ``loss`` along chosen coordinates.

    Parameters
    ----------
    loss : callable
        (m, C, H, W) -> (m,): one value per image.
    x : Tensor (n, C, H, W)
    coordinates : Tensor, int64, (n, k)
        Flat pixel indices (into ``C*H*W``) per image.
    h : float
        Step of the difference.

    Returns
    -------
    Tensor (n, k)
        :math:`(\\ell(x + h e_i) - \\ell(x - h e_i)) / 2h` for each chosen :math:`i`.
    """
    n, k = coordinates.shape
    basis = torch.zeros(n, k, x[0].numel(), dtype=x.dtype)
    basis.scatter_(2, coordinates[:, :, None], h)
    shifted = x.flatten(1)[:, None, :] + torch.cat([basis, -basis], 1)  # (n, 2k, d)
    values = loss(shifted.view(-1, *x.shape[1:])).view(n, 2 * k)
    return (values[:, :k] - values[:, k:]) / (2 * h)


def random_direction_gradient(loss: Loss, x: torch.Tensor, base: torch.Tensor, q: int, beta: float,
                              generator: torch.Generator | None = None) -> torch.Tensor:
    """AutoZOOM's estimate :math:`\\frac{d}{q}\\sum_j \\frac{\\ell(x + \\beta u_j) - \\ell(x)}{\\beta} u_j` (n, C, H, W).

    ``base`` is :math:`\\ell(x)` (n,), already known to the caller; ``q`` new queries per image.
    """
    n, d = len(x), x[0].numel()
    u = torch.randn(n, q, d, generator=generator, dtype=x.dtype)
    u = u / u.norm(dim=2, keepdim=True)
    values = loss((x.flatten(1)[:, None, :] + beta * u).view(-1, *x.shape[1:])).view(n, q)
    slopes = (values - base[:, None]) / beta
    return (d / q * (slopes[:, :, None] * u).sum(1)).view_as(x)


class _Oracle:
    """Black-box access to the model: the margin of each queried image, counting queries per attacked image."""

    def __init__(self, model: nn.Module, preprocess: Preprocess, goal: torch.Tensor, targeted: bool, chunk: int = 4096) -> None:
        self.model, self.preprocess, self.goal, self.targeted, self.chunk = model, preprocess, goal, targeted, chunk
        self.queries = np.zeros(len(goal), dtype=np.int64)

    def loss_for(self, owners: torch.Tensor) -> Loss:
        """The loss of the images of ``owners`` (n,), for batches of ``n * m`` images grouped by owner."""
        @torch.no_grad()
        def loss(batch: torch.Tensor) -> torch.Tensor:
            per_owner = len(batch) // len(owners)
            goal = self.goal[owners].repeat_interleave(per_owner)
            np.add.at(self.queries, owners.numpy(), per_owner)
            parts = [self.model(self.preprocess(batch[s:s + self.chunk].float())).log_softmax(1) for s in range(0, len(batch), self.chunk)]
            return margin(torch.cat(parts), goal, self.targeted, float("inf")).to(batch.dtype)  # unclamped
        return loss


def _attack(model, images, labels, target, eps, budget, step_size, preprocess, cost, estimate, desc, progress):
    """Shared loop: estimate, sign step in the ball, re-query; per image until success or budget."""
    eps = check_eps(eps)
    budget = check_positive_int(budget, "budget")
    step_size = eps if step_size is None else check_eps(step_size, "step_size")
    x = pixels(images)
    y = class_labels(labels, len(x))
    t = None if target is None else class_labels(target, len(x), "target")
    oracle = _Oracle(model, preprocess, y if t is None else t, t is not None)
    adv = x.clone()
    with frozen(model):
        everyone = torch.arange(len(x))
        loss = oracle.loss_for(everyone)(adv) if len(x) else torch.zeros(0)
        bar = tqdm(total=budget, desc=desc, disable=not progress, leave=False)
        while True:
            idx = torch.from_numpy(np.flatnonzero((loss.numpy() >= 0) & (oracle.queries + cost <= budget)))  # not yet fooled
            if len(idx) == 0:
                break
            g = estimate(oracle.loss_for(idx), adv[idx], loss[idx])
            with torch.no_grad():
                stepped = adv[idx] - step_size * g.sign()
                adv[idx] = torch.minimum(torch.maximum(stepped, x[idx] - eps), x[idx] + eps).clamp(0, 1)
                loss[idx] = oracle.loss_for(idx)(adv[idx])
            bar.update(int(oracle.queries[idx].min()) - bar.n)
        bar.close()
    return result(model, x, adv, y, "inf", t, preprocess, queries=oracle.queries.copy())


def zoo(model: nn.Module, images, labels, eps: float, budget: int = 2000, coordinates: int = 128,
        h: float = 1e-3, step_size: float | None = None, target=None,
        preprocess: Preprocess = transforms.normalize, seed: int = 0, progress: bool = False) -> AttackResult:
    """ZOO-style attack: symmetric differences on ``coordinates`` random pixels per step, sign step on those.

    Parameters
    ----------
    model : nn.Module
        Queried for its softmax output only.
    images : uint8 ndarray (N, H, W, C) or float (N, C, H, W) in [0, 1]
    labels : int array (N,)
    eps : float
        L-infinity radius in pixel units.
    budget : int
        Most queries per image (>= 1); each step costs ``2 * coordinates + 1``.
    coordinates : int
        Coordinates estimated per step.
    h : float
        Finite-difference step.
    step_size : float, optional
        Sign step per coordinate (default ``eps``: the estimated coordinates jump to the ball's face).
    target : int or int array (N,), optional

    Returns
    -------
    AttackResult
        With ``queries`` (N,).
    """
    coordinates = check_positive_int(coordinates, "coordinates")
    generator = torch.Generator().manual_seed(seed)

    def estimate(loss, x, _base):
        d = x[0].numel()
        if coordinates > d:
            raise ValueError(f"coordinates must be at most the {d} values of an image, got {coordinates}")
        chosen = torch.stack([torch.randperm(d, generator=generator)[:coordinates] for _ in range(len(x))])
        g = torch.zeros(len(x), d)
        g.scatter_(1, chosen, coordinate_gradient(loss, x, chosen, h))
        return g.view_as(x)

    return _attack(model, images, labels, target, eps, budget, step_size, preprocess,
                   2 * coordinates + 1, estimate, "ZOO", progress)


def fd_fgsm(model: nn.Module, images, labels, eps: float, budget: int | None = None, h: float = 1e-3,
            target=None, preprocess: Preprocess = transforms.normalize,
            progress: bool = False) -> AttackResult:
    """FGSM with the gradient of every pixel from symmetric finite differences: one step, :math:`2d + 2` queries.

    ``budget`` defaults to the :math:`2d + 2` queries the attack needs (clean query, differences,
    check); a smaller one raises ``ValueError``.
    """
    x = pixels(images)
    needed = 2 * x[0].numel() + 2
    budget = needed if budget is None else check_positive_int(budget, "budget")
    if budget < needed:
        raise ValueError(f"budget must be at least 2d + 2 = {needed} queries for FD-FGSM on images of {x[0].numel()} values, got {budget}")

    def estimate(loss, xb, _base):
        d = xb[0].numel()
        g = torch.cat([coordinate_gradient(loss, xb, torch.arange(s, min(s + 128, d)).expand(len(xb), -1), h)
                       for s in range(0, d, 128)], 1)
        return g.view_as(xb)

    return _attack(model, x, labels, target, eps, budget, eps, preprocess, needed - 1, estimate, "FD-FGSM", progress)


def autozoom(model: nn.Module, images, labels, eps: float, budget: int = 2000, directions: int = 20,
             beta: float = 1e-3, step_size: float | None = None, target=None,
             preprocess: Preprocess = transforms.normalize, seed: int = 0, progress: bool = False) -> AttackResult:
    """AutoZOOM-style attack: gradient from ``directions`` random unit directions, L-infinity sign steps.

    Each step costs ``directions + 1`` queries; ``step_size`` defaults to ``eps / 4``.
    """
    directions = check_positive_int(directions, "directions")
    step_size = check_eps(eps) / 4 if step_size is None else step_size
    generator = torch.Generator().manual_seed(seed)

    def estimate(loss, x, base):
        return random_direction_gradient(loss, x, base, directions, beta, generator)

    return _attack(model, images, labels, target, eps, budget, step_size, preprocess,
                   directions + 1, estimate, "AutoZOOM", progress)
