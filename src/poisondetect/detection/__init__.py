"""Detection of poisoned training samples within one class, and the class that is poisoned.

Every detector takes a representation of one class's training samples and
returns a :class:`DetectionResult` (flagged mask, scores, cluster labels,
diagnostics, runtime):

=============================  ==============================================  ==========================
detector                       input                                           reference
=============================  ==============================================  ==========================
:func:`spray`                  (n, n) distances (Euclidean or GW)              :cite:`lapuschkin2019`
:func:`gw_kmeans`              n heatmap metric-measure spaces                 thesis (HC)
:func:`activation_clustering`  (n, d) penultimate activations                  :cite:`chen2019ac`
:func:`spectral_signatures`    (n, d) penultimate activations, poison share    :cite:`tran2018`
:func:`relevance_concentration` (n, H, W) raw heatmaps                         this project
=============================  ==============================================  ==========================

:func:`rank_classes` runs over all classes; :func:`detection_metrics` compares
with the truth.
"""

from .activation_clustering import activation_clustering, reduce_dimensions
from .class_ranking import anomaly_index, rank_classes, scan_classes
from .gw_kmeans import gw_kmeans
from .concentration import concentration_scores, relevance_concentration, two_group_threshold
from .metrics import METRIC_NAMES, auroc, confusion, detection_metrics, roc_curve
from .result import DetectionResult
from .spectral import affinity_graph, eigengap_clusters, laplacian_spectrum, normalized_laplacian, spectral_embedding, spray
from .spectral_signatures import spectral_signatures

__all__ = [
    "METRIC_NAMES", "DetectionResult", "activation_clustering", "affinity_graph", "anomaly_index", "auroc",
    "concentration_scores", "confusion", "detection_metrics", "eigengap_clusters", "gw_kmeans", "laplacian_spectrum",
    "normalized_laplacian", "rank_classes", "reduce_dimensions", "relevance_concentration", "roc_curve",
    "scan_classes", "spectral_embedding", "spectral_signatures", "spray", "two_group_threshold",
]
