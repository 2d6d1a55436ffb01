"""Detection of poisoned training samples within one class, and the class that is poisoned.

Every detector takes a representation of one class's training samples and
returns a :class:`DetectionResult` (flagged mask, scores, cluster labels,
diagnostics, runtime):

=============================  ==============================================  ==========================
detector                       input                                           reference
=============================  ==============================================  ==========================
:func:`spray`                  (n, n) distances (Euclidean or GW)              :cite:`lapuschkin2019`
:func:`spray_graph`            (n, n) affinity graph (e.g. k-NN of candidates) :cite:`lapuschkin2019`
:func:`gw_kmeans`              n heatmap metric-measure spaces                 thesis (HC)
:func:`activation_clustering`  (n, d) penultimate activations                  :cite:`chen2019ac`
:func:`spectral_signatures`    (n, d) penultimate activations, poison share    :cite:`tran2018`
:func:`spectre`                (n, d) penultimate activations, poison share    :cite:`hayase2021spectre`
:func:`relevance_concentration` (n, H, W) raw heatmaps                         this project
=============================  ==============================================  ==========================

The named detectors built from them, each with its own settings, are in the
registry :data:`DETECTORS` (:mod:`.registry`, filled by :mod:`.detectors`).
:func:`rank_classes` runs over all classes; :func:`detection_metrics` compares
with the truth.
"""

from . import detectors
from .activation_clustering import activation_clustering, reduce_dimensions
from .class_ranking import anomaly_index, rank_classes, scan_classes
from .concentration import (
    cluster_concentration, concentration_scores, flag_concentrated_clusters, relevance_concentration, relevance_measures,
    topk_share, two_group_threshold,
)
from .detectors import (
    DETECTION_SPACE, ACAnalysisSettings, ClusteringSettings, GWKMeansSettings, GWSpraySettings, MaxRelevanceSettings, SpectralSignaturesSettings,
    SpectreSettings, SpraySettings, TopkShareSettings,
)
from .gw_kmeans import gw_kmeans
from .metrics import METRIC_NAMES, auroc, confusion, detection_metrics, neighbour_auroc, probe_auroc, roc_curve
from .registry import DETECTORS, Detector, detector, labels, register
from .representations import SpaceSettings, candidate_pairs
from .result import DetectionResult
from .spectral import (
    affinity_graph, eigengap_clusters, knn_affinity, laplacian_spectrum, normalized_laplacian, spectral_embedding, spray, spray_graph,
)
from .spectral_signatures import spectral_signatures
from .spectre import que_scores, spectre

__all__ = [
    "ACAnalysisSettings", "DETECTORS", "METRIC_NAMES", "ClusteringSettings", "DetectionResult", "Detector", "GWKMeansSettings",
    "DETECTION_SPACE", "GWSpraySettings", "MaxRelevanceSettings", "SpaceSettings", "SpectralSignaturesSettings", "SpectreSettings",
    "SpraySettings", "que_scores", "spectre",
    "TopkShareSettings", "activation_clustering", "affinity_graph", "candidate_pairs", "knn_affinity", "anomaly_index", "auroc", "cluster_concentration", "concentration_scores",
    "confusion", "detection_metrics", "detector", "detectors", "eigengap_clusters", "gw_kmeans", "labels",
    "laplacian_spectrum", "neighbour_auroc", "normalized_laplacian", "probe_auroc", "rank_classes", "reduce_dimensions", "register",
    "flag_concentrated_clusters", "relevance_concentration", "relevance_measures", "topk_share",
    "roc_curve", "scan_classes", "spectral_embedding", "spectral_signatures", "spray", "spray_graph",
    "two_group_threshold",
]
