"""The MinMax attack :cite:`hsu2022adversarial`: the most similar (highest-MI) perturbation that meets an attack criterion.

With an attack criterion :math:`f` (:math:`f(x') \\le 0` exactly where :math:`x'` is
adversarial; :math:`f^+ = \\max(0, f)`) and the per-sample MI estimate
:math:`I_\\theta(x, x + \\delta)` of :mod:`.mine`, the attack solves

.. math::  \\min_{\\delta:\\; x + \\delta \\in [0, 1]^d,\\; \\delta \\in [-\\varepsilon, \\varepsilon]^d}
           \\;\\max_{c \\ge 0}\\; F(\\delta, c) = c\\, f^+(x + \\delta) - I_\\theta(x, x + \\delta)

by alternating projected steps, for :math:`t = 1, \\dots, T`:

.. math::  \\delta_{t+1} = \\Pi_{\\text{box}}\\Bigl(\\delta_t - \\alpha \\frac{g_t}{\\|g_t\\|_\\infty}\\Bigr), \\quad
           g_t = c_t \\nabla f^+(x + \\delta_t) - \\nabla I_\\theta(x, x + \\delta_t), \\qquad
           c_{t+1} = \\Bigl[\\bigl(1 - \\tfrac{\\beta}{t^{1/4}}\\bigr) c_t + \\beta f^+(x + \\delta_{t+1})\\Bigr]_+ ,

with one Adam step on :math:`\\theta` per iteration (the MINE update). :math:`\\Pi_{\\text{box}}`
clips :math:`\\delta` to :math:`[-\\varepsilon, \\varepsilon]` and then :math:`x + \\delta` to [0, 1].
The :math:`c` update is the paper's: an ascent step :math:`\\beta\\, \\partial F / \\partial c = \\beta f^+`
with a decaying pull :math:`\\beta / t^{1/4}` back to 0, so :math:`c` grows while the
criterion is unmet and relaxes once it is met, letting the MI term pull
:math:`\\delta` back towards the image. Among the iterates that meet the criterion the
one of highest running MI estimate is kept.

Two choices differ from the paper's Algorithm 1, for reasons stated in the chapter:
the :math:`\\delta` step is the gradient scaled so that its largest pixel moves by
:math:`\\alpha` (the paper's direction, with :math:`\\alpha` in pixel units whatever the
scale of the classifier's gradient; a sign step would move every pixel by :math:`\\alpha`
and fill the box), and the MINE update shares the forward and backward pass of
the :math:`\\delta` step (:math:`\\theta` is updated at :math:`\\delta_t`, not :math:`\\delta_{t+1}`).
All images of a batch are attacked at once, each with its own statistics network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..attacks.pgd import frozen
from ..data import transforms
from .base import AttackResult, Preprocess, check_eps, check_positive_int, class_labels, pixels, result
from .carlini_wagner import margin
from .mine import MineSettings, PerSampleMine

Criterion = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class MinMaxSettings:
    """Step sizes and length of the MinMax game (part of the cache keys of its results).

    Parameters
    ----------
    eps : float
        L-infinity bound of :math:`\\delta` in pixel units, in (0, 1].
    iterations : int
        Iterations :math:`T`.
    alpha : float
        Step of :math:`\\delta` per iteration: the largest pixel change (pixel units).
    beta : float
        Step of :math:`c`, in (0, 1] so that :math:`1 - \\beta / t^{1/4} \\ge 0`.
    mine : MineSettings
        The per-sample estimator; ``mine.steps`` warm-up steps on :math:`(x, x)` precede the game.
    """

    eps: float = 0.3
    iterations: int = 1000
    alpha: float = 0.005
    beta: float = 0.1
    mine: MineSettings = MineSettings()

    def __post_init__(self) -> None:
        eps = check_eps(self.eps, "MinMaxSettings.eps")
        if eps <= 0:
            raise ValueError(f"MinMaxSettings.eps must be positive (an empty box allows no perturbation), got {self.eps}")
        check_positive_int(self.iterations, "MinMaxSettings.iterations")
        if not self.alpha > 0:
            raise ValueError(f"MinMaxSettings.alpha must be positive, got {self.alpha}")
        if not 0 < self.beta <= 1:
            raise ValueError(f"MinMaxSettings.beta must lie in (0, 1], got {self.beta}")


@dataclass(frozen=True)
class MinMaxGame:
    """What one run of the game returns for ``n`` images.

    Attributes
    ----------
    images : Tensor, (n, C, H, W)
        The kept perturbed images (the clean image where the criterion was never met).
    success : ndarray, bool, (n,)
        The criterion was met (:math:`f \\le 0`) by some iterate.
    mi : ndarray, float, (n,)
        Running MI estimate of the kept iterate (NaN where none succeeded, and for images
        misclassified at the start, which are kept unchanged).
    c : ndarray, float, (T, n)
        :math:`c_t` after each iteration.
    criterion : ndarray, float, (T, n)
        :math:`f(x + \\delta_t)` at each iteration.
    snapshots : dict of int to Tensor (n, C, H, W)
        The kept images after the iterations named in ``checkpoints``.
    """

    images: torch.Tensor
    success: np.ndarray
    mi: np.ndarray
    c: np.ndarray
    criterion: np.ndarray
    snapshots: dict[int, torch.Tensor]


def minmax_game(x: torch.Tensor, criterion: Criterion, mine: PerSampleMine, settings: MinMaxSettings,
                checkpoints: Sequence[int] = (), progress: bool = False) -> MinMaxGame:
    """Run the MinMax game on a batch of clean images ``x`` (n, C, H, W) in [0, 1].

    ``criterion`` maps images (n, C, H, W) to :math:`f` (n,), differentiably; ``mine``
    was built on ``x``. Images with :math:`f(x) \\le 0` are returned unchanged and
    successful at once (:math:`\\delta = 0` has the highest MI); if all are, the game
    does not run.
    """
    n, iterations = len(x), settings.iterations
    with torch.no_grad():
        start = criterion(x)
    done = start <= 0
    best, best_mi = x.clone(), torch.where(done, torch.inf, -torch.inf)
    c, delta = torch.zeros(n), torch.zeros_like(x)
    c_history, f_history = np.zeros((iterations, n)), np.zeros((iterations, n))
    snapshots = {}
    if done.all():
        f_history[:] = start.numpy()  # nothing moves: c stays 0 and f stays f(x)
        return MinMaxGame(best, done.numpy(), np.full(n, np.nan), c_history, f_history, {t: best.clone() for t in checkpoints})
    movable = (~done).float().view(-1, *[1] * (x.ndim - 1))
    mine.update(x, settings.mine.steps)
    for t in tqdm(range(1, iterations + 1), desc="MinMax", disable=not progress, leave=False):
        adv = (x + delta).requires_grad_(True)
        f = criterion(adv)
        mi = mine.bound(adv)
        mine.optimizer.zero_grad()
        (c * f.clamp_min(0) - mi).sum().backward()  # gradients for delta (descent) and for theta (ascent on mi)
        mine.optimizer.step()
        with torch.no_grad():
            hit = (f <= 0) & (mi > best_mi) & ~done
            best[hit], best_mi[hit] = adv[hit], mi[hit]
            grad = adv.grad.flatten(1)
            step = grad / grad.abs().amax(1, keepdim=True).clamp_min(1e-12)  # the largest pixel moves by alpha
            delta = (delta - settings.alpha * movable * step.view_as(x)).clamp(-settings.eps, settings.eps)
            delta = (x + delta).clamp(0, 1) - x
            c = ((1 - settings.beta / t ** 0.25) * c + settings.beta * criterion(x + delta).clamp_min(0)).clamp_min(0)
        c_history[t - 1], f_history[t - 1] = c.numpy(), f.detach().numpy()
        if t in checkpoints:
            snapshots[t] = best.clone()
    success = done | torch.isfinite(best_mi)
    mi_kept = torch.where(success & ~done, best_mi, torch.nan).numpy()
    return MinMaxGame(best, success.numpy(), mi_kept, c_history, f_history, snapshots)


def minmax_attack(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    settings: MinMaxSettings = MinMaxSettings(),
    preprocess: Preprocess = transforms.normalize,
    batch_size: int = 100,
    checkpoints: Sequence[int] = (),
    progress: bool = False,
) -> tuple[AttackResult, MinMaxGame]:
    """Untargeted MinMax attack on a classifier: :math:`f` is the margin of the true class.

    .. math::  f(x') = Z_y(x') - \\max_{i \\ne y} Z_i(x')

    (logits :math:`Z`); MI is measured on the first convolution's feature maps of ``model``.

    Parameters
    ----------
    model : nn.Module
        Classifier of ``preprocess(x)``; not changed.
    images : uint8 ndarray (N, H, W, C) or float (N, C, H, W) in [0, 1]
    labels : int array (N,)
    settings : MinMaxSettings
    preprocess : callable
        The model's pixel preprocessing.
    batch_size : int
        Images attacked at once (each with its own statistics network).
    checkpoints : sequence of int
        Iterations after which the kept images are stored (for MI-against-iterations curves).

    Returns
    -------
    AttackResult
        The kept images (L2 norms), success and predictions.
    MinMaxGame
        The games of all batches joined along images (running MI, :math:`c` and :math:`f` histories, snapshots).
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    x = pixels(images)
    y = class_labels(labels, len(x))
    games = []
    with frozen(model):
        for s in tqdm(range(0, len(x), batch_size), desc="MinMax batches", disable=not progress, leave=False):
            xb, yb = x[s:s + batch_size], y[s:s + batch_size]
            mine = PerSampleMine(model, xb, settings.mine, preprocess)
            games.append(minmax_game(xb, lambda v, yb=yb: margin(model(preprocess(v)), yb, False, float("inf")),
                                     mine, settings, checkpoints, progress))
    game = join(games)
    return result(model, x, game.images, y, "2", None, preprocess), game


def join(games: Sequence[MinMaxGame]) -> MinMaxGame:
    """The games of consecutive batches as one game over all their images."""
    if not games:
        raise ValueError("join needs at least one game")
    return MinMaxGame(torch.cat([g.images for g in games]), np.concatenate([g.success for g in games]),
                      np.concatenate([g.mi for g in games]), np.concatenate([g.c for g in games], 1),
                      np.concatenate([g.criterion for g in games], 1),
                      {t: torch.cat([g.snapshots[t] for g in games]) for t in games[0].snapshots})
