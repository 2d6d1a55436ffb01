"""The model-randomisation sanity check of explanations :cite:`adebayo2018sanity`.

Cascading randomisation re-initialises the weights of the network layer by
layer, from the output layer down to the input. An explanation that depends on
what the model learned must change as more layers lose their training; one
that stays similar reflects the input or the architecture more than the model.
Similarity is the Spearman rank correlation of the absolute heatmaps, per image.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn
from tqdm.auto import tqdm

from ..explain import ExplainSettings, explain


def weight_layers(model: nn.Module) -> list[str]:
    """Names of the convolutions and dense layers, from the output down to the input."""
    names = [name for name, module in model.named_modules() if isinstance(module, (nn.Conv2d, nn.Linear))]
    return names[::-1]


def rank_correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of :math:`|a_i|` and :math:`|b_i|` for each pair of maps (N, H, W) -> (N,)."""
    a, b = np.abs(np.asarray(a)).reshape(len(a), -1), np.abs(np.asarray(b)).reshape(len(b), -1)
    return np.array([spearmanr(u, v).statistic if u.std() > 0 and v.std() > 0 else 0.0 for u, v in zip(a, b)])


def cascading_randomization(model: nn.Module, x: torch.Tensor, target: np.ndarray, method: str,
                            seed: int = 0, settings: ExplainSettings = ExplainSettings(),
                            progress: bool = False) -> tuple[list[str], np.ndarray]:
    """Rank correlation of the heatmaps of ``method`` with the trained model's, as layers are randomised.

    Parameters
    ----------
    model : nn.Module
        Trained classifier (not changed; a copy is randomised).
    x : Tensor (N, 3, H, W)
        Normalised images.
    target : int array (N,)
        The explained class of each image (kept fixed while the model degrades).
    method : str
        A method of :func:`poisondetect.explain.explain`.

    Returns
    -------
    layers : list of str
        ``weight_layers(model)``: the k-th entry is the last layer randomised at step k.
    correlation : ndarray (len(layers), N)
        Rank correlation with the trained model's heatmaps after randomising layers ``0..k``.
    """
    reference = explain(model, x, target, method, progress=False, settings=settings).maps
    randomised = copy.deepcopy(model)
    torch.manual_seed(seed)
    layers = weight_layers(model)
    rows = []
    for name in tqdm(layers, desc=f"randomising ({method})", disable=not progress, leave=False):
        randomised.get_submodule(name).reset_parameters()
        rows.append(rank_correlation(reference, explain(randomised, x, target, method, progress=False, settings=settings).maps))
    return layers, np.stack(rows)
