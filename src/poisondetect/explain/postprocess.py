"""Post-processing of relevance maps: channel sum, positive part, normalisation, sum-pooling.

All functions take numpy arrays with the images on the first axis and never
change their input. Their names say exactly what they do, so that a pipeline
such as ``normalize_maps(sum_pool(positive_part(channel_sum(r)), 2), "sum")`` reads
as the recipe it is.

The raw magnitude of relevance is information: a conservative LRP heatmap sums
to the explained logit (minus what biases absorb), so a poisoned image that the
trigger pushes to a confident output carries more total relevance than a clean
image of the same class. Min-max normalisation maps every heatmap to [0, 1] and
throws this away; keep ``"none"`` (or ``"max_abs"``, which keeps signs and
relative scale within one map) where magnitude matters, and record
:func:`relevance_magnitude` beside any normalised maps.
"""

from __future__ import annotations

import numpy as np

from ..maps import sum_pool

__all__ = ["NORMALIZATIONS", "channel_sum", "normalize_maps", "positive_part", "relevance_magnitude", "sum_pool"]

#: Normalisations understood by :func:`normalize_maps`.
NORMALIZATIONS = ("none", "max_abs", "sum", "min_max")


def _check_batch(h: np.ndarray, name: str, ndim: tuple[int, ...]) -> np.ndarray:
    h = np.asarray(h)
    if h.ndim not in ndim:
        raise ValueError(f"{name} must have {' or '.join(map(str, ndim))} dimensions (images first), got shape {h.shape}")
    if not np.issubdtype(h.dtype, np.floating):
        h = h.astype(np.float32)
    return h


def channel_sum(relevance: np.ndarray) -> np.ndarray:
    r"""Sum relevance over the colour channels: (n, C, H, W) -> (n, H, W).

    .. math:: R_{hw} = \sum_c R_{chw}

    Summing keeps conservation: the map still adds up to the explained output.
    """
    relevance = _check_batch(relevance, "relevance", (4,))
    return relevance.sum(axis=1)


def positive_part(h: np.ndarray) -> np.ndarray:
    r"""Keep the evidence for the class and drop the evidence against it: :math:`\max(h, 0)`."""
    return np.maximum(np.asarray(h), 0)


def relevance_magnitude(h: np.ndarray) -> np.ndarray:
    r"""Total absolute relevance of each map: :math:`\sum_p |h_p|`, shape (n,).

    The quantity that min-max normalisation destroys; a one-number summary of
    how strongly the model responds.
    """
    h = _check_batch(h, "h", (3, 4))
    return np.abs(h).reshape(len(h), -1).sum(axis=1)


def normalize_maps(h: np.ndarray, how: str = "none") -> np.ndarray:
    r"""Normalise each map of a batch (n, ...) separately.

    Parameters
    ----------
    h : ndarray, shape (n, ...)
        Maps, images on the first axis.
    how : {"none", "max_abs", "sum", "min_max"}
        - ``"none"``: unchanged copy (keeps the magnitude);
        - ``"max_abs"``: :math:`h / \max_p |h_p|`, values in [-1, 1], signs kept;
        - ``"sum"``: :math:`h / \sum_p h_p`, a map summing to one (meant for
          non-negative maps, e.g. after :func:`positive_part`, to use as a
          probability measure in optimal transport);
        - ``"min_max"``: :math:`(h - \min h) / (\max h - \min h)`, values in [0, 1]
          (what the original thesis used; destroys magnitude and moves zero).

    Maps that are constant (or zero, for ``"max_abs"``/``"sum"``) cannot be
    scaled and are returned as zeros for ``"max_abs"`` and ``"min_max"`` and as
    uniform maps for ``"sum"``.

    Returns
    -------
    ndarray, same shape as ``h``, float.
    """
    if how not in NORMALIZATIONS:
        raise ValueError(f"unknown normalisation how={how!r}: choose one of {', '.join(NORMALIZATIONS)}")
    h = _check_batch(h, "h", (2, 3, 4))
    flat = h.reshape(len(h), -1)
    if how == "none":
        return h.copy()
    if how == "max_abs":
        scale = np.abs(flat).max(axis=1, keepdims=True)
        out = np.divide(flat, scale, out=np.zeros_like(flat), where=scale > 0)
    elif how == "sum":
        total = flat.sum(axis=1, keepdims=True)
        uniform = np.full_like(flat, 1.0 / flat.shape[1])
        out = np.divide(flat, total, out=uniform, where=total != 0)
    else:
        low = flat.min(axis=1, keepdims=True)
        span = flat.max(axis=1, keepdims=True) - low
        out = np.divide(flat - low, span, out=np.zeros_like(flat), where=span > 0)
    return out.reshape(h.shape)
