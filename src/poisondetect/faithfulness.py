r"""How faithful is an attribution? Pixel-flipping and region perturbation, summarised by the AOPC.

Region perturbation :cite:`samek2017evaluating` removes the image regions an
attribution calls most relevant first ("most relevant first", MoRF) and tracks
the explained logit. The image is cut into non-overlapping ``patch`` x ``patch``
regions, ranked by the sum of their relevance; after step :math:`k` the top
:math:`m_k` regions are replaced (by a constant mean, or by uniform noise). A
faithful attribution makes the logit drop fast. The *area over the
perturbation curve*

.. math:: \mathrm{AOPC} = \frac{1}{K + 1} \sum_{k=0}^{K} \big( f_t(x^{(0)}) - f_t(x^{(k)}) \big)

is larger for the better attribution, and is compared with a random order of the
regions (:func:`random_maps`). ``patch = 1`` is pixel-flipping.

Nothing here is LRP-specific: any (n, H, W) map ranks the regions.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["REPLACEMENTS", "aopc", "perturbation_curves", "random_maps", "region_order"]

#: How removed regions are filled: the per-channel mean of the images, or uniform noise between their bounds.
REPLACEMENTS = ("mean", "noise")


def region_order(maps: np.ndarray, patch: int) -> np.ndarray:
    """Regions of each map from the most to the least relevant (summed relevance, stable ties).

    Parameters
    ----------
    maps : ndarray, shape (n, H, W)
        Signed relevance; ``H`` and ``W`` must be multiples of ``patch``.
    patch : int

    Returns
    -------
    ndarray of int, shape (n, (H // patch) * (W // patch))
        Row-major region indices, most relevant first.
    """
    maps = np.asarray(maps, float)
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (n, H, W), got {maps.shape}")
    n, height, width = maps.shape
    if not isinstance(patch, (int, np.integer)) or patch < 1 or height % patch or width % patch:
        raise ValueError(f"patch must be a positive integer dividing the map size {height}x{width}, got {patch!r}")
    pooled = maps.reshape(n, height // patch, patch, width // patch, patch).sum(axis=(2, 4)).reshape(n, -1)
    return np.argsort(-pooled, axis=1, kind="stable")


def random_maps(shape: tuple[int, int, int], seed: int = 0) -> np.ndarray:
    """Maps of independent uniform noise, shape (n, H, W): the random-order baseline."""
    return np.random.default_rng(seed).random(shape)


@torch.no_grad()
def perturbation_curves(model: nn.Module, images: torch.Tensor, target, maps: np.ndarray, patch: int = 1,
                        steps: int = 16, fraction: float = 0.25, replace: str = "mean", seed: int = 0,
                        batch_size: int = 512) -> np.ndarray:
    """The explained logit as the most relevant regions are removed, step by step (MoRF).

    Parameters
    ----------
    model : nn.Module
        Classifier returning logits (put in eval mode here).
    images : Tensor, shape (n, C, H, W)
        Normalised images.
    target : int or array of int, shape (n,)
        The explained class of each image.
    maps : ndarray, shape (n, H, W)
        Attributions that rank the regions (larger: removed earlier).
    patch : int
        Side of the square regions (1: single pixels).
    steps : int
        Number of perturbation steps :math:`K`; after step :math:`k` the first
        :math:`\\mathrm{round}(k\\,\\text{fraction}\\,P / K)` of the :math:`P` regions are replaced.
    fraction : float
        Share of the image area replaced after the last step, in (0, 1].
    replace : {"mean", "noise"}
        Fill removed pixels with the per-channel mean of ``images``, or with uniform noise
        between the per-channel minimum and maximum of ``images`` (one draw per image and step).
    seed : int
        Seed of the noise.
    batch_size : int
        Perturbed images per forward pass.

    Returns
    -------
    ndarray, shape (n, steps + 1)
        Column ``k`` holds :math:`f_t(x^{(k)})`; column 0 is the unperturbed logit.
    """
    if replace not in REPLACEMENTS:
        raise ValueError(f"replace must be one of {REPLACEMENTS}, got {replace!r}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction!r}")
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    n, channels, height, width = images.shape
    if np.shape(maps) != (n, height, width):
        raise ValueError(f"maps must have shape {(n, height, width)} to match the images, got {np.shape(maps)}")
    order = torch.from_numpy(region_order(maps, patch))
    side_h, side_w = height // patch, width // patch
    counts = np.rint(np.arange(steps + 1) * fraction * side_h * side_w / steps).astype(int)
    # rank[i, r]: position of region r in image i's order; region r is removed at step k when rank < counts[k]
    rank = torch.empty_like(order)
    rank.scatter_(1, order, torch.arange(order.shape[1]).expand_as(order).contiguous())
    removed = rank[:, None, :] < torch.from_numpy(counts)[None, :, None]                 # (n, K+1, P)
    removed = removed.view(n, steps + 1, side_h, 1, side_w, 1).expand(-1, -1, -1, patch, -1, patch)
    removed = removed.reshape(n, steps + 1, 1, height, width)
    x = images.detach().to(torch.float64 if images.dtype == torch.float64 else torch.float32)
    if replace == "mean":
        fill = x.mean(dim=(0, 2, 3)).view(1, 1, channels, 1, 1).expand(n, steps + 1, channels, height, width)
    else:
        low, high = x.amin(dim=(0, 2, 3)).view(1, 1, -1, 1, 1), x.amax(dim=(0, 2, 3)).view(1, 1, -1, 1, 1)
        generator = torch.Generator().manual_seed(seed)
        fill = low + (high - low) * torch.rand((n, steps + 1, channels, height, width), generator=generator, dtype=x.dtype)
    perturbed = torch.where(removed, fill, x[:, None]).reshape(n * (steps + 1), channels, height, width)
    targets = torch.as_tensor(np.broadcast_to(np.asarray(target), (n,)).copy(), dtype=torch.long).repeat_interleave(steps + 1)
    was_training = model.training
    model.eval()
    try:
        logits = torch.cat([model(perturbed[s:s + batch_size].to(next(model.parameters()).dtype))
                            .gather(1, targets[s:s + batch_size, None])[:, 0] for s in range(0, len(perturbed), batch_size)])
    finally:
        model.train(was_training)
    return logits.view(n, steps + 1).double().numpy()


def aopc(curves: np.ndarray) -> np.ndarray:
    """Area over the perturbation curve of each row of ``curves`` (n, K + 1): the mean drop from column 0."""
    curves = np.asarray(curves, float)
    return (curves[:, :1] - curves).mean(axis=1)
