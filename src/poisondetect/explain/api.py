"""``explain``: batched heatmaps of one method for many images; ``heatmaps_for`` takes uint8 images.

Caching is not done here: the experiment layer (:mod:`poisondetect.experiments`)
keys cached heatmaps by the model they explain.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from ..data.transforms import to_tensor
from . import attributions, lrp, postprocess
from .methods import EXPLANATION_METHODS, ExplainSettings, explanation_method

#: Every method :func:`explain` understands: the LRP variants of :mod:`.lrp`, then the attributions of :mod:`.attributions`.
METHODS = lrp.LRP_METHODS + attributions.ATTRIBUTION_METHODS


@dataclass(frozen=True)
class Explanation:
    """Heatmaps of ``n`` images.

    Attributes
    ----------
    relevance : ndarray (n, 3, H, W) float32
        Relevance per colour channel and pixel.
    logits_explained : ndarray (n,) float32
        The explained logit :math:`f_t(x)` of each image (where LRP relevance starts).
    targets : ndarray (n,) int64
        The explained class of each image.
    predicted : ndarray (n,) int64
        The class the model predicts for each image.
    method : str
        The method that made the heatmaps.
    """

    relevance: np.ndarray
    logits_explained: np.ndarray
    targets: np.ndarray
    predicted: np.ndarray
    method: str

    @property
    def maps(self) -> np.ndarray:
        """Channel-summed heatmaps (n, H, W) float32 (see :func:`postprocess.channel_sum`)."""
        return postprocess.channel_sum(self.relevance)

    def __len__(self) -> int:
        return len(self.relevance)


def _resolve_targets(target: Any, n: int, n_classes: int | None = None) -> np.ndarray | None:
    """``None`` for "predicted", else an int64 array (n,)."""
    if isinstance(target, str):
        if target != "predicted":
            raise ValueError(f"target must be a class index, an array of n class indices or 'predicted', got {target!r}")
        return None
    array = np.asarray(target)
    if not np.issubdtype(array.dtype, np.integer):
        raise TypeError(f"target must hold integer class indices, got dtype {array.dtype}")
    if array.ndim == 0:
        array = np.full(n, int(array))
    if array.shape != (n,):
        raise ValueError(f"target must be one class index or one per image (shape ({n},)), got shape {array.shape}")
    if array.size and (array.min() < 0 or (n_classes is not None and array.max() >= n_classes)):
        raise ValueError(f"target classes must lie in 0..{(n_classes or 0) - 1}, got {array.min()}..{array.max()}")
    return array.astype(np.int64)


def _check_images(images: Any) -> torch.Tensor:
    if isinstance(images, np.ndarray):
        raise TypeError(
            "images must be a normalised float tensor (n, 3, H, W); convert uint8 (n, H, W, 3) arrays with "
            "poisondetect.data.transforms.to_tensor, or call heatmaps_for"
        )
    if not isinstance(images, torch.Tensor) or not images.is_floating_point() or images.ndim != 4 or images.shape[1] != 3:
        shape = tuple(images.shape) if hasattr(images, "shape") else type(images).__name__
        raise ValueError(f"images must be a float tensor of shape (n, 3, H, W), got {shape}")
    return images


def explain(
    model: nn.Module,
    images: torch.Tensor,
    target: int | np.ndarray | str = "predicted",
    method: str = "epsilon_plus_flat",
    batch_size: int = 256,
    progress: bool = True,
    settings: ExplainSettings = ExplainSettings(),
) -> Explanation:
    """Heatmaps of ``images`` for the logit of ``target`` with ``method``, computed in batches.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits. It is left untouched: the explanation runs
        on a copy in eval mode (zennit's rules re-assign parameters and the
        canonizer rewrites layers while they run).
    images : Tensor (n, 3, H, W)
        Normalised images (:func:`poisondetect.data.transforms.to_tensor`).
    target : int, array (n,) of int, or "predicted"
        The class to explain: one for all images, one per image, or each image's predicted class.
    method : str
        One of :data:`METHODS`: the LRP variants of :data:`poisondetect.explain.lrp.LRP_METHODS`
        (relevance starts at the explained logit and sums to it up to what biases and
        :math:`\\epsilon` absorb) or the attributions of
        :data:`poisondetect.explain.attributions.ATTRIBUTION_METHODS`.
    batch_size : int
        Images per backward pass.
    progress : bool
        Show a tqdm bar over batches.
    settings : ExplainSettings
        Rule and method parameters.

    Returns
    -------
    Explanation
        ``relevance`` (n, 3, H, W) float32, ``logits_explained`` (n,), ``targets`` (n,),
        ``predicted`` (n,), and ``maps`` (n, H, W).
    """
    entry = explanation_method(method)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    images = _check_images(images)
    n = len(images)
    targets = _resolve_targets(target, n)
    model = copy.deepcopy(model).eval()
    composite = None
    if entry.kind == "lrp":
        composite = lrp.lrp_composite(model, method, settings)
        composite.register(model)
    relevance, logits_all, explained = [], [], []
    try:
        starts = range(0, n, batch_size)
        for start in tqdm(starts, desc=f"explain ({method})", disable=not progress or len(starts) < 2, leave=False):
            x = images[start:start + batch_size]
            batch_target = None if targets is None else torch.from_numpy(targets[start:start + batch_size]).to(x.device)
            if composite is not None:
                r, logits, t = lrp.lrp_batch(model, x, batch_target)
            else:
                with torch.no_grad():
                    logits = model(x)
                t = logits.argmax(dim=1) if batch_target is None else batch_target
                if (t < 0).any() or (t >= logits.shape[1]).any():
                    raise ValueError(f"target classes must lie in 0..{logits.shape[1] - 1}")
                r = entry.run(model, x, t, settings)
            relevance.append(r.float().cpu().numpy())
            logits_all.append(logits.float().cpu())
            explained.append(t.cpu())
    finally:
        if composite is not None:
            composite.remove()
    if n == 0:
        return Explanation(np.zeros((0, *images.shape[1:]), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64), np.zeros(0, np.int64), method)
    logits_all_t = torch.cat(logits_all)
    t_all = torch.cat(explained)
    return Explanation(
        relevance=np.concatenate(relevance).astype(np.float32, copy=False),
        logits_explained=logits_all_t.gather(1, t_all[:, None])[:, 0].numpy().astype(np.float32),
        targets=t_all.numpy().astype(np.int64),
        predicted=logits_all_t.argmax(dim=1).numpy().astype(np.int64),
        method=method,
    )


def heatmaps_for(
    model: nn.Module,
    images: np.ndarray,
    target: int | np.ndarray | str = "predicted",
    method: str = "epsilon_plus_flat",
    *,
    batch_size: int = 256,
    progress: bool = True,
    settings: ExplainSettings = ExplainSettings(),
) -> Explanation:
    """:func:`explain` for uint8 images (n, H, W, 3) as stored in the data sets (normalised here)."""
    return explain(model, to_tensor(np.asarray(images)), target, method, batch_size, progress, settings)
