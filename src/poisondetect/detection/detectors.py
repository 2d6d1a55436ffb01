"""Every detector of the package, registered with its own settings (see :mod:`.registry`).

=======================  ===========================================  ==================
name                     looks at                                      settings
=======================  ===========================================  ==================
``gw_kmeans``            heatmap spaces, GW k-means (HC, the thesis)   :class:`GWKMeansSettings`
``spray_euclidean``      heatmaps, Euclidean SpRAy                     :class:`SpraySettings`
``gw_outlier``           heatmap spaces, GW to the class barycenter    :class:`GWOutlierSettings`
``spray_gw``             heatmap spaces, SpRAy on GW distances         :class:`GWSpraySettings`
``ac_pca`` / ``ac_ica``  penultimate activations, 2-means              :class:`ClusteringSettings`
``ac_paper``             activations, ICA 2-means, size + silhouette   :class:`ACAnalysisSettings`
``spectral_signatures``  penultimate activations, top singular vector  :class:`SpectralSignaturesSettings`
``spectre``              activations, robust whitening + QUE scores    :class:`SpectreSettings`
``concentration_max``    raw heatmaps, largest relevance               :class:`MaxRelevanceSettings`
``concentration_topk``   raw heatmaps, share in the top-k pixels       :class:`TopkShareSettings`
``raw_pca`` / ``raw_ica``  raw pixels, 2-means (baseline)              :class:`ClusteringSettings`
=======================  ===========================================  ==================
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .. import transport
from ..transport.spaces import check_alpha
from . import representations
from .activation_clustering import activation_clustering, check_analysis
from .concentration import flag_concentrated_clusters, relevance_concentration
from .gw_kmeans import gw_kmeans, gw_outlier_scores, robust_z
from .registry import register
from .representations import SpaceSettings, candidate_pairs, euclidean_distances, heatmap_features, raw_pixels
from .result import DetectionResult, stopwatch
from .spectral import knn_affinity, spray, spray_graph
from .spectral_signatures import spectral_signatures
from .spectre import spectre

#: Heatmap spaces of the GW detectors: the maps sum-pooled 4x4 (an 8x8 grid of 32x32 maps), every cell that
#: holds part of the 99 % of positive relevance kept, no cap. Such a space keeps the frame of the image, so GW,
#: blind to where a point cloud lies, still sees where relevance lies relative to the whole sign. Measured by
#: ``make bench-thesis`` (real GTSRB, thesis setting, 10 % poisoned, seed 0, LRP-gamma maps of the training
#: split), HC's TPR / TNR / AUROC: 0.0 / 70.3 / 0.9 % on the 16 most relevant pixels (the previous choice: its
#: smaller cluster is clean maps whose top pixels form a compact stroke), 0.6 / 68.1 / 4.7 % on 64, and
#: 82.2 / 97.9 / 97.1 % on these grid spaces.
DETECTION_SPACE = SpaceSettings(mass=0.99, max_points=None, pool=4)
#: Weight of the structure term of the GW detectors (``alpha`` of their settings): fused GW with the cells'
#: positions as features, half structure, half place. GW alone cannot tell a map from its mirror image, and
#: a sticker at a fixed place is exactly what it then overlooks. Measured on real GTSRB (thesis setting, small
#: network, LRP-gamma maps of the training split, the 7 gated models of seeds 0-2; pure GW -> fused), HC's mean
#: TPR / TNR: 33 %: 87.3 / 98.2 -> 89.2 / 98.9; 15 %: 88.9 / 85.7 -> 91.8 / 85.9; 10 % (seed 0): 82.2 / 97.9 -> 89.0 / 96.7;
#: its AUROC rose on all 7 models, the GW outlier score's too. The 10-nearest-neighbour AUROC of the distances on 150
#: maps of the 10 % class: 0.995 (GW) -> 1.000 (fused, alpha 0.1, 0.5 and 0.9 alike).
FUSED_ALPHA = 0.5

#: The code the GW detectors run on besides their own: spaces from maps, and the transport package
#: (a different GW solver changes their results).
GW_CODE = (representations, transport)
#: Rules that call clusters poisoned: the smallest one (the thesis), the one closest to its centre (GW k-means
#: only), or every cluster whose mean heatmap concentrates relevance (:func:`flag_concentrated_clusters`).
FLAGS = ("smallest", "tightest", "concentrated")


def check_flag(flag: str, allowed: tuple[str, ...] = FLAGS) -> None:
    """Raise a clear error for a flag rule not in ``allowed``."""
    if flag not in allowed:
        raise ValueError(f"flag must be one of {', '.join(allowed)}, got {flag!r}")


def fused_options(settings, maps: np.ndarray) -> dict[str, float]:
    """``alpha`` and ``coord_unit`` of the GW solvers for ``settings.alpha`` (empty for pure GW).

    Fused GW measures positions in the unit of the spaces' distances, the heatmap's
    diagonal, which only ``scale="grid"`` spaces share.
    """
    if settings.alpha == 1:
        return {}
    if settings.space.scale != "grid":
        raise ValueError(f"fused GW (alpha={settings.alpha}) needs spaces with scale='grid', got scale={settings.space.scale!r}")
    return {"alpha": settings.alpha, "coord_unit": float(np.hypot(*np.shape(maps)[1:]))}


def flagged_by(found: DetectionResult, maps: np.ndarray, settings) -> DetectionResult:
    """``found`` with its clusters flagged by ``settings.flag`` (``"concentrated"``: the mean-map rule)."""
    if settings.flag != "concentrated":
        return found
    return flag_concentrated_clusters(found, maps, settings.flag_k, settings.flag_ratio)


@dataclass(frozen=True)
class GWKMeansSettings:
    """GW k-means on heatmap spaces (:func:`~poisondetect.detection.gw_kmeans.gw_kmeans`).

    ``explanation`` makes the maps; the default LRP-gamma keeps a small trigger
    sharp, where EpsilonPlusFlat spreads it over the first layer's 5x5 kernel
    (chapter 05). ``space`` turns maps into spaces; ``n_clusters`` and ``flag``
    (``"smallest"``, the thesis's rule, ``"tightest"``, or ``"concentrated"`` with
    ``flag_k`` and ``flag_ratio``, see :class:`SpraySettings`) choose the clusters and
    the ones called poisoned. The rest are the rounds, restarts, barycenter points, members and steps, and the seed.
    ``alpha`` weighs the structure term of fused GW (:data:`FUSED_ALPHA`; 1 is the thesis's pure GW).
    """

    explanation: str = "gamma"
    space: SpaceSettings = DETECTION_SPACE
    n_clusters: int = 2
    flag: str = "smallest"
    flag_k: int = 9
    flag_ratio: float = 2.0
    max_iter: int = 20
    n_init: int = 1
    barycenter_size: int = 32
    barycenter_samples: int | None = 10
    barycenter_steps: int = 5
    seed: int = 0
    alpha: float = FUSED_ALPHA

    def __post_init__(self) -> None:
        check_flag(self.flag)
        check_alpha(self.alpha)


@register("gw_kmeans", label="HC (GW k-means)", short="HC", settings=GWKMeansSettings, inputs=("maps",),
          description="GW k-means on heatmap spaces (HC, the thesis's method)", modules=GW_CODE)
def _gw_kmeans(settings: GWKMeansSettings, maps: np.ndarray, progress: bool = False) -> DetectionResult:
    found = gw_kmeans(settings.space.spaces(maps), settings.n_clusters, flag="smallest" if settings.flag == "concentrated" else settings.flag,
                      max_iter=settings.max_iter, barycenter_size=settings.barycenter_size, barycenter_samples=settings.barycenter_samples,
                      barycenter_steps=settings.barycenter_steps, seed=settings.seed, n_init=settings.n_init, progress=progress,
                      **fused_options(settings, maps))
    return flagged_by(found, maps, settings)


@dataclass(frozen=True)
class GWOutlierSettings:
    """GW outlier score: the GW distance of each heatmap space to one barycenter of the whole class.

    ``barycenter_samples`` members (a content-keyed subset; ``None``: all) make the
    barycenter, refined ``rounds`` times from the members nearest to it (the
    ``1 - trim`` closest), so that a few poisons pull it little. A space is flagged
    when its robust z-score (median and MAD of the distances) exceeds ``threshold``.
    """

    explanation: str = "gamma"
    space: SpaceSettings = DETECTION_SPACE
    barycenter_size: int = 32
    barycenter_samples: int | None = 200
    barycenter_steps: int = 5
    rounds: int = 2
    trim: float = 0.5
    threshold: float = 3.0
    seed: int = 0
    alpha: float = FUSED_ALPHA

    def __post_init__(self) -> None:
        check_alpha(self.alpha)


@register("gw_outlier", label="GW outlier", short="GW-out", settings=GWOutlierSettings, inputs=("maps",),
          description="GW distance of each heatmap space to the class's trimmed barycenter", modules=GW_CODE)
def _gw_outlier(settings: GWOutlierSettings, maps: np.ndarray, progress: bool = False) -> DetectionResult:
    spaces = settings.space.spaces(maps)
    with stopwatch() as clock:
        scores = gw_outlier_scores(spaces, settings.barycenter_size, settings.barycenter_samples, settings.barycenter_steps,
                                   settings.rounds, settings.trim, settings.seed, **fused_options(settings, maps))
        z = robust_z(scores)
    flagged = z > settings.threshold
    return DetectionResult(method="gw_outlier", flagged=flagged, scores=scores, labels=flagged.astype(np.int64),
                           extra={"robust_z": z, "split_score": float(np.mean(np.sort(z)[-max(1, len(z) // 20):]))},
                           runtime_s=clock["seconds"])


@dataclass(frozen=True)
class SpraySettings:
    """Euclidean SpRAy: the maps' ``explanation``, per-map ``normalization`` and ``pool``, the k-nearest-neighbour
    graph, the clusters and the rule that flags them.

    The defaults were measured on real GTSRB (thesis setting, small network, seed 0, training-split maps
    of the target class): LRP-gamma maps, each normalised to sum to one (a measure on the pixel grid) and
    sum-pooled 2x2, put every poison among poisons (10-nearest-neighbour AUROC 1.00, against 0.87 for GW on
    16-point spaces). ``n_clusters="eigengap"`` lets the spectrum choose, as Lapuschkin et al. (2019) do;
    the poisons then form several nearly pure clusters (six at 33 %), and ``flag="concentrated"``
    (:func:`~poisondetect.detection.concentration.flag_concentrated_clusters`) flags every cluster whose
    mean map holds ``flag_ratio`` times the top-``flag_k`` share of the largest cluster's. ``"smallest"``
    is the rule of two clusters, which at 33 % poisons split the poisons in half.
    """

    explanation: str = "gamma"
    normalization: str = "sum"
    pool: int = 2
    n_neighbors: int = 10
    n_clusters: int | str = "eigengap"
    flag: str = "concentrated"
    flag_k: int = 9
    flag_ratio: float = 2.0
    seed: int = 0

    def __post_init__(self) -> None:
        check_flag(self.flag, ("smallest", "concentrated"))


@register("spray_euclidean", label="SpRAy (L2)", short="SpRAy", settings=SpraySettings, inputs=("maps",),
          description="SpRAy, Euclidean distances of normalised heatmaps")
def _spray_euclidean(settings: SpraySettings, maps: np.ndarray) -> DetectionResult:
    distances = euclidean_distances(heatmap_features(maps, settings.normalization, settings.pool))
    found = spray(distances, n_clusters=settings.n_clusters, n_neighbors=min(settings.n_neighbors, len(maps) - 1), seed=settings.seed)
    return flagged_by(found, maps, settings)


@dataclass(frozen=True)
class GWSpraySettings:
    """SpRAy on the GW (``alpha`` = 1) or fused GW (``alpha`` < 1) discrepancies of heatmap spaces;
    the clusters and the flag rule as in :class:`SpraySettings`.

    The graph needs each map's nearest neighbours, not every pair: with ``candidates`` = c, GW is solved
    only on the pairs in which one map is among the other's c nearest by the Euclidean distance of the
    maps (sum-normalised, pooled like the spaces; :func:`~.representations.candidate_pairs`), and the
    ``n_neighbors`` graph takes each map's GW-nearest among them; ``None`` solves the full matrix.
    The graph then joins maps that are close both as images and as shapes in place.

    Measured on real GTSRB (thesis setting, small network, seed 0, the training split of the target class,
    TPR / TNR / AUROC in %; full matrix -> 20 candidates): 10 % poisoned 95.1 / 100.0 / 97.5 -> 96.9 / 100.0 / 99.3,
    15 % 98.0 / 100.0 / 99.0 -> 99.6 / 100.0 / 99.9, 33 % 99.9 / 100.0 / 100.0 -> 100.0 / 100.0 / 100.0, at 26-34
    thousand pairs instead of 1.4-2.5 million (20-31 s instead of 11-28 minutes on 2 cores). With 20 candidates
    on seeds 1 and 2: 100.0 / 100.0 at 33 % (both), 100.0 / 100.0 and 97.0 / 100.0 at 15 %; the 8 poisons missed
    there hold a median 0.15 of their positive relevance in their 9 most relevant pixels (found poisons 0.35, clean
    maps 0.12): the model's maps of them barely show the sticker. 40 candidates were no better (15 %, seed 2: 95.8).
    With the sticker anywhere in the central window (33 %, seed 0): 98.7 / 99.9, against 72.6 / 99.2 for Euclidean
    SpRAy. At 33 % the full matrix's eigengap finds six clusters, three of them poisoned: the concentration rule flags
    all three, the smallest-cluster rule one (24.7 % TPR).
    """

    explanation: str = "gamma"
    space: SpaceSettings = DETECTION_SPACE
    candidates: int | None = 20
    n_neighbors: int = 10
    n_clusters: int | str = "eigengap"
    flag: str = "concentrated"
    flag_k: int = 9
    flag_ratio: float = 2.0
    seed: int = 0
    alpha: float = FUSED_ALPHA

    def __post_init__(self) -> None:
        check_flag(self.flag, ("smallest", "concentrated"))
        check_alpha(self.alpha)
        if self.candidates is not None and self.candidates < self.n_neighbors:
            raise ValueError(f"candidates ({self.candidates}) must be at least n_neighbors ({self.n_neighbors}), or None for the full matrix")


@register("spray_gw", label="SpRAy (GW)", short="SpRAy-GW", settings=GWSpraySettings, inputs=("maps",),
          description="SpRAy, GW distances of heatmap spaces between Euclidean candidate neighbours", modules=GW_CODE)
def _spray_gw(settings: GWSpraySettings, maps: np.ndarray, progress: bool = False) -> DetectionResult:
    n = len(maps)
    spaces, fused = settings.space.spaces(maps), fused_options(settings, maps)
    full = settings.candidates is None or settings.candidates >= n - 1
    with stopwatch() as clock:
        if full:
            distances, pairs = transport.pairwise_gw(spaces, progress=progress, **fused), n * (n - 1) // 2
        else:
            I, J = candidate_pairs(heatmap_features(maps, "sum", settings.space.pool), settings.candidates)
            distances, pairs = np.full((n, n), np.inf), len(I)
            distances[I, J] = distances[J, I] = transport.gw_pairs(spaces, I, J, progress=progress, desc="GW candidate pairs", **fused)
        affinity = knn_affinity(distances, min(settings.n_neighbors, n - 1))
    found = spray_graph(affinity, settings.n_clusters, seed=settings.seed, distances=distances if full else None)
    found = flagged_by(found, maps, settings)
    return dataclasses.replace(found, runtime_s=found.runtime_s + clock["seconds"], extra={**found.extra, "gw_pairs": pairs})


@dataclass(frozen=True)
class ClusteringSettings:
    """2-means after reducing to ``n_components`` dimensions (PCA or FastICA by the detector's name)."""

    n_components: int = 10
    seed: int = 0


@register("ac_pca", label="AC (PCA)", short="AC", settings=ClusteringSettings, inputs=("activations",),
          description="Activation Clustering, penultimate layer, PCA")
def _ac_pca(settings: ClusteringSettings, activations: np.ndarray) -> DetectionResult:
    return activation_clustering(activations, settings.n_components, "pca", settings.seed)


@register("ac_ica", label="AC (ICA)", short="AC-ICA", settings=ClusteringSettings, inputs=("activations",),
          description="Activation Clustering, penultimate layer, FastICA")
def _ac_ica(settings: ClusteringSettings, activations: np.ndarray) -> DetectionResult:
    return activation_clustering(activations, settings.n_components, "ica", settings.seed)


@dataclass(frozen=True)
class ACAnalysisSettings:
    """Activation Clustering as its paper runs it (:cite:`chen2019ac`; ART's ``ActivationDefence``).

    ``n_components`` dimensions after the reduction ``method`` (``"ica"``, FastICA
    as in the paper, or ``"pca"``); ``n_clusters`` clusters of k-means (2 in the
    paper); ``analysis`` is the rule that flags clusters (``"smaller"``,
    ``"relative_size"`` or ``"silhouette"``,
    :func:`~poisondetect.detection.activation_clustering.activation_clustering`):
    clusters holding less than ``size_threshold`` of the class are poisoned, and
    with ``"silhouette"`` only when the partition's mean silhouette exceeds
    ``silhouette_threshold`` (ART's defaults 0.35 and 0.10); ``seed`` seeds the
    reduction, k-means and the silhouette's subsample.
    """

    n_components: int = 10
    method: str = "ica"
    n_clusters: int = 2
    analysis: str = "silhouette"
    size_threshold: float = 0.35
    silhouette_threshold: float = 0.10
    seed: int = 0

    def __post_init__(self) -> None:
        check_analysis(self.analysis, self.n_clusters, self.size_threshold, self.silhouette_threshold)


@register("ac_paper", label="AC (ICA, size + silhouette)", short="AC-paper", settings=ACAnalysisSettings, inputs=("activations",),
          description="Activation Clustering as its paper: FastICA, 2-means, relative size and silhouette decide")
def _ac_paper(settings: ACAnalysisSettings, activations: np.ndarray) -> DetectionResult:
    return activation_clustering(activations, settings.n_components, settings.method, settings.seed, settings.n_clusters,
                                 settings.analysis, settings.size_threshold, settings.silhouette_threshold)


@dataclass(frozen=True)
class SpectralSignaturesSettings:
    """What Spectral Signatures is told about the poison share (``None``: the experiment layer fills in the attack's)."""

    poison_share: float | None = None
    removal_factor: float = 1.5


@register("spectral_signatures", label="Spectral sig.", short="Spec. sig.", settings=SpectralSignaturesSettings,
          inputs=("activations",), description="Spectral Signatures, penultimate layer")
def _spectral_signatures(settings: SpectralSignaturesSettings, activations: np.ndarray) -> DetectionResult:
    if settings.poison_share is None:
        raise ValueError("Spectral Signatures needs SpectralSignaturesSettings.poison_share (the assumed share of poisons)")
    return spectral_signatures(activations, settings.poison_share, settings.removal_factor)


@dataclass(frozen=True)
class SpectreSettings:
    """SPECTRE: dimensions before the robust estimate, QUE's alpha, the removal factor and the assumed share."""

    poison_share: float | None = None
    n_components: int = 16
    alpha: float = 4.0
    removal_factor: float = 1.5
    seed: int = 0


@register("spectre", label="SPECTRE", short="SPECTRE", settings=SpectreSettings, inputs=("activations",),
          description="SPECTRE, robustly whitened penultimate layer, QUE scores")
def _spectre(settings: SpectreSettings, activations: np.ndarray) -> DetectionResult:
    if settings.poison_share is None:
        raise ValueError("SPECTRE needs SpectreSettings.poison_share (the assumed share of poisons)")
    return spectre(activations, settings.poison_share, settings.n_components, settings.alpha, settings.removal_factor, settings.seed)


@dataclass(frozen=True)
class MaxRelevanceSettings:
    """The largest pixel relevance of each raw map, thresholded by the best two-group split."""

    explanation: str = "epsilon_plus_flat"


@register("concentration_max", label="Max. relevance", short="Max. rel.", settings=MaxRelevanceSettings, inputs=("maps",),
          description="maximum pixel relevance of raw heatmaps")
def _concentration_max(settings: MaxRelevanceSettings, maps: np.ndarray) -> DetectionResult:
    return relevance_concentration(maps, "max")


@dataclass(frozen=True)
class TopkShareSettings:
    """The share of a map's relevance in its ``k`` most relevant pixels."""

    explanation: str = "epsilon_plus_flat"
    k: int = 9


@register("concentration_topk", label="Top-k share", short="Top-k", settings=TopkShareSettings, inputs=("maps",),
          description="share of relevance in the top-k pixels")
def _concentration_topk(settings: TopkShareSettings, maps: np.ndarray) -> DetectionResult:
    return relevance_concentration(maps, "topk_share", settings.k)


@register("raw_pca", label="Pixels (PCA)", short="Pixels", settings=ClusteringSettings, inputs=("images",),
          description="2-means on PCA of raw pixels (baseline)")
def _raw_pca(settings: ClusteringSettings, images: np.ndarray) -> DetectionResult:
    return activation_clustering(raw_pixels(images), settings.n_components, "pca", settings.seed)


@register("raw_ica", label="Pixels (ICA)", short="Pixels-ICA", settings=ClusteringSettings, inputs=("images",),
          description="2-means on FastICA of raw pixels (baseline)")
def _raw_ica(settings: ClusteringSettings, images: np.ndarray) -> DetectionResult:
    return activation_clustering(raw_pixels(images), settings.n_components, "ica", settings.seed)
