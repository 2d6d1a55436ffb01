"""Explanations of the classifiers: LRP through zennit, other attributions, heatmap post-processing.

>>> from poisondetect.explain import explain, heatmaps_for, normalize_maps, sum_pool
>>> e = explain(model, x, target=5, method="epsilon_plus_flat")   # x: normalised (n, 3, 32, 32)
>>> e.relevance.shape, e.maps.shape                              # (n, 3, 32, 32), (n, 32, 32) float32
>>> e.maps.sum(axis=(1, 2)) - e.logits_explained                 # what biases/epsilon absorbed
>>> h = normalize_maps(sum_pool(positive_part(e.maps), 2), "sum")  # (n, 16, 16), each sums to one

Modules: :mod:`.methods` (the registry of methods and their settings), :mod:`.lrp` (rules and composites), :mod:`.canonizers` (BatchNorm
merging), :mod:`.attributions` (gradient, SmoothGrad, Integrated Gradients,
occlusion, Grad-CAM), :mod:`.postprocess` (channel sum, positive part,
normalisations, sum-pooling), :mod:`.api` (:func:`explain`, :func:`heatmaps_for`).
"""

from .api import METHODS, Explanation, explain, heatmaps_for
from .attributions import ATTRIBUTION_METHODS
from .canonizers import GraphMergeBatchNorm, canonized_logits, canonizers_for
from .lrp import LRP_METHODS, FrozenNormRule, check_lrp_compatible, lrp_composite
from .methods import EXPLANATION_METHODS, ExplainSettings, ExplanationMethod, explanation_method
from .postprocess import NORMALIZATIONS, channel_sum, normalize_maps, positive_part, relevance_magnitude, sum_pool

__all__ = [
    "ATTRIBUTION_METHODS", "EXPLANATION_METHODS", "LRP_METHODS", "METHODS", "NORMALIZATIONS",
    "ExplainSettings", "Explanation", "ExplanationMethod", "FrozenNormRule", "GraphMergeBatchNorm",
    "canonized_logits", "canonizers_for", "channel_sum", "check_lrp_compatible", "explain", "explanation_method",
    "heatmaps_for", "lrp_composite", "normalize_maps", "positive_part", "relevance_magnitude", "sum_pool",
]
