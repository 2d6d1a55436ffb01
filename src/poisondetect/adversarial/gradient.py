"""White-box gradient attacks: FGSM, the fast gradient method, BIM and PGD, all through the package's one PGD.

With the loss :math:`J(x, y)` of the model on pixel images:

- FGSM :cite:`goodfellow2015`: :math:`x' = \\operatorname{clip}_{[0,1]}\\bigl(x + \\varepsilon \\operatorname{sign} \\nabla_x J(x, y)\\bigr)`
  (one PGD step of size :math:`\\varepsilon` from :math:`x`);
- fast gradient method (L2): :math:`x' = \\operatorname{clip}_{[0,1]}\\bigl(x + \\varepsilon \\nabla_x J / \\|\\nabla_x J\\|_2\\bigr)`;
- BIM :cite:`kurakin2017`: ``steps`` sign steps of size :math:`\\alpha` from :math:`x`, each projected
  to the :math:`\\varepsilon`-ball and to [0, 1];
- PGD :cite:`madry2018`: the same from a uniform random point of the ball.

Targeted versions descend :math:`J(x, t)` of the target class :math:`t`
(:math:`x' = x - \\varepsilon \\operatorname{sign} \\nabla_x J(x, t)` for FGSM).
Every function returns an :class:`~poisondetect.adversarial.base.AttackResult`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..attacks.pgd import projected_gradient_descent
from ..data import transforms
from .base import AttackResult, Preprocess, check_eps, check_norm, check_positive_int, class_labels, pixels, result


def pgd(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    eps: float,
    steps: int = 20,
    step_size: float | None = None,
    norm: str = "inf",
    target: np.ndarray | int | None = None,
    random_start: bool = True,
    preprocess: Preprocess = transforms.normalize,
    seed: int = 0,
    batch_size: int = 256,
    progress: bool = False,
) -> AttackResult:
    """Projected gradient descent in the L-infinity or L2 ball, untargeted or targeted.

    Parameters
    ----------
    model : nn.Module
        Classifier of ``preprocess(x)``; not changed.
    images : uint8 ndarray (N, H, W, C) or float (N, C, H, W) in [0, 1]
    labels : int array (N,)
        True classes (success: the prediction leaves them).
    eps : float
        Radius of the ball in pixel units (L-infinity: at most 1).
    steps : int
        Number of steps (>= 1).
    step_size : float, optional
        Step :math:`\\alpha`; default :math:`2.5\\,\\varepsilon / \\text{steps}` :cite:`madry2018`.
    norm : {"inf", "2"}
    target : int or int array (N,), optional
        Target classes of a targeted attack (success: the prediction equals them).
    random_start : bool
        Start from a uniform random point of the ball (PGD) or from ``x`` (BIM).
    seed : int
        Seed of the random start.

    Returns
    -------
    AttackResult
    """
    norm = check_norm(norm)
    eps = check_eps(eps, "eps", norm)
    steps = check_positive_int(steps, "steps")
    step_size = 2.5 * eps / steps if step_size is None else check_eps(step_size, "step_size", "2")
    x = pixels(images)
    y = class_labels(labels, len(x))
    t = None if target is None else class_labels(target, len(x), "target")
    generator = torch.Generator().manual_seed(seed)
    adv = projected_gradient_descent(model, x, y if t is None else t, eps, steps, step_size, norm=norm,
                                     targeted=t is not None, start=random_start, preprocess=preprocess,
                                     generator=generator, batch_size=batch_size, progress=progress)
    return result(model, x, adv, y, norm, t, preprocess)


def bim(model: nn.Module, images, labels, eps: float, steps: int = 10, step_size: float | None = None,
        target=None, preprocess: Preprocess = transforms.normalize, batch_size: int = 256) -> AttackResult:
    """Basic iterative method :cite:`kurakin2017`: L-infinity PGD from the clean image, step :math:`\\varepsilon / \\text{steps}` by default."""
    step_size = check_eps(eps) / check_positive_int(steps, "steps") if step_size is None else step_size
    return pgd(model, images, labels, eps, steps, step_size, "inf", target, False, preprocess, batch_size=batch_size)


def fgsm(model: nn.Module, images, labels, eps: float, target=None,
         preprocess: Preprocess = transforms.normalize, batch_size: int = 256) -> AttackResult:
    """Fast gradient sign method :cite:`goodfellow2015`: one L-infinity step of size :math:`\\varepsilon`."""
    return pgd(model, images, labels, eps, 1, check_eps(eps), "inf", target, False, preprocess, batch_size=batch_size)


def fgm(model: nn.Module, images, labels, eps: float, target=None,
        preprocess: Preprocess = transforms.normalize, batch_size: int = 256) -> AttackResult:
    """Fast gradient method in L2: one step of Euclidean length :math:`\\varepsilon` along the normalised gradient."""
    return pgd(model, images, labels, eps, 1, check_eps(eps, norm="2"), "2", target, False, preprocess, batch_size=batch_size)
