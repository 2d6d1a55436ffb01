"""DeepFool :cite:`moosavi2016deepfool`: the smallest L2 step to the nearest linearised decision boundary, repeated.

At the current point :math:`x_i` with original class :math:`k_0`, for each
candidate class :math:`k \\ne k_0` let :math:`f'_k = f_k(x_i) - f_{k_0}(x_i)` and
:math:`w'_k = \\nabla f_k(x_i) - \\nabla f_{k_0}(x_i)`. The nearest boundary of the
linearised model is at class

.. math::  \\hat l = \\arg\\min_{k \\ne k_0} \\frac{|f'_k|}{\\|w'_k\\|_2},
           \\qquad r_i = \\frac{|f'_{\\hat l}|}{\\|w'_{\\hat l}\\|_2^2}\\, w'_{\\hat l},

and :math:`x_{i+1} = x_i + r_i`. The iteration stops when the label changes;
the returned image is :math:`\\operatorname{clip}_{[0,1]}\\bigl(x + (1 + \\eta) \\sum_i r_i\\bigr)`
with the overshoot :math:`\\eta` (0.02 in the paper). For an affine binary
classifier one step lands exactly on the boundary, with the minimal perturbation
:math:`r = -f(x)\\, w / \\|w\\|_2^2`. DeepFool is untargeted only.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..attacks.pgd import frozen
from ..data import transforms
from .base import AttackResult, Preprocess, check_eps, check_positive_int, class_labels, logits_of, pixels, result


def _candidates(model: nn.Module, x: torch.Tensor, preprocess: Preprocess, n_candidates: int) -> torch.Tensor:
    """The ``n_candidates`` highest-scoring classes of each clean image (N, n_candidates); column 0 is the prediction."""
    logits = logits_of(model, x, preprocess)
    return logits.topk(min(n_candidates, logits.shape[1]), dim=1).indices


def deepfool(
    model: nn.Module,
    images: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    max_iter: int = 50,
    overshoot: float = 0.02,
    n_candidates: int = 10,
    preprocess: Preprocess = transforms.normalize,
    batch_size: int = 128,
    progress: bool = False,
) -> AttackResult:
    """Multi-class DeepFool in L2.

    Parameters
    ----------
    model : nn.Module
        Classifier of ``preprocess(x)``; not changed.
    images : uint8 ndarray (N, H, W, C) or float (N, C, H, W) in [0, 1]
    labels : int array (N,)
        True classes; success means the prediction differs from them.
    max_iter : int
        Most linearisation steps per image.
    overshoot : float
        :math:`\\eta`: the summed step is scaled by :math:`1 + \\eta` to cross the boundary.
    n_candidates : int
        Classes considered (the top-scoring ones of the clean image, as in the paper's implementation).

    Returns
    -------
    AttackResult
        ``perturbation_norm`` is the L2 norm of the final perturbation.
    """
    max_iter = check_positive_int(max_iter, "max_iter")
    overshoot = check_eps(overshoot, "overshoot", "2")
    n_candidates = check_positive_int(n_candidates, "n_candidates", 2)
    x = pixels(images)
    y = class_labels(labels, len(x))
    out = []
    with frozen(model):
        for s in tqdm(range(0, len(x), batch_size), desc="DeepFool", disable=not progress, leave=False):
            xb = x[s:s + batch_size]
            classes = _candidates(model, xb, preprocess, n_candidates)
            total = torch.zeros_like(xb)
            active = torch.ones(len(xb), dtype=torch.bool)
            for _ in range(max_iter):
                idx = torch.nonzero(active).flatten()
                if len(idx) == 0:
                    break
                point = (xb[idx] + total[idx]).requires_grad_(True)
                logits = model(preprocess(point))
                moving = logits.argmax(1) == classes[idx, 0]  # still the clean prediction: take a step
                active[idx[~moving]] = False
                if not moving.any():
                    break
                picked = logits.gather(1, classes[idx])
                grads = torch.stack([torch.autograd.grad(picked[:, k].sum(), point, retain_graph=True)[0]
                                     for k in range(picked.shape[1])], 1)  # (n, K, C, H, W)
                with torch.no_grad():
                    f_diff = picked[:, 1:] - picked[:, :1]
                    w_diff = grads[:, 1:] - grads[:, :1]
                    w_norm = w_diff.flatten(2).norm(dim=2).clamp_min(1e-8)
                    distance = (f_diff.abs() + 1e-4) / w_norm  # 1e-4 steps just past the linearised boundary
                    best = distance.argmin(1)
                    rows = torch.arange(len(idx))
                    r = (distance[rows, best] / w_norm[rows, best]).view(-1, 1, 1, 1) * w_diff[rows, best]
                    stepped = (point + r).clamp(0, 1) - xb[idx]  # stay a valid image
                    total[idx[moving]] = stepped[moving]
            out.append((xb + (1 + overshoot) * total).clamp(0, 1))
    adv = torch.cat(out) if out else x.clone()
    return result(model, x, adv, y, "2", preprocess=preprocess)
