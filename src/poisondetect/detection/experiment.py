"""Detection experiments end to end: poisoned model -> one class's representations -> detectors -> cached results.

Chapters 05 and 06 share this code::

    from poisondetect.attacks import AttackExperiment, BadNets
    from poisondetect.detection.experiment import DetectionConfig, class_data, evaluate

    exp = AttackExperiment(dataset="synth", profile="quick", attack=BadNets(poison_share=0.15))
    data = class_data(exp)                      # target class: images, truth, activations, LRP maps
    results = evaluate(exp, ("gw_kmeans", "ac_pca"), DetectionConfig())   # cached per experiment
    metrics = detection_metrics(data.is_poison, results["gw_kmeans"])

:func:`evaluate` stores each detector's flagged mask, scores and runtime in
the artifact cache, keyed by the experiment, the detection config, the method
and the source code of the detection modules, so a results table over many
seeds reruns only what changed.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import artifacts, transport
from . import representations as rep
from .activation_clustering import activation_clustering
from .concentration import relevance_concentration
from .gw_kmeans import gw_kmeans
from .result import stopwatch
from .spectral import spray
from .spectral_signatures import spectral_signatures
from .result import DetectionResult

#: Detector names understood by :func:`run_detector`, with what they look at.
DETECTORS: dict[str, str] = {
    "gw_kmeans": "GW k-means on heatmap spaces (HC, the thesis's method)",
    "spray_euclidean": "SpRAy, Euclidean distances of normalised heatmaps",
    "spray_gw": "SpRAy, pairwise GW distances of heatmap spaces",
    "ac_pca": "Activation Clustering, penultimate layer, PCA",
    "ac_ica": "Activation Clustering, penultimate layer, FastICA",
    "spectral_signatures": "Spectral Signatures, penultimate layer",
    "concentration_max": "maximum pixel relevance of raw heatmaps",
    "concentration_topk": "share of relevance in the top-k pixels",
    "raw_pca": "2-means on PCA of raw pixels (baseline)",
    "raw_ica": "2-means on FastICA of raw pixels (baseline)",
}

#: Short labels for tables and legends.
DETECTOR_LABELS: dict[str, str] = {
    "gw_kmeans": "HC (GW k-means)", "spray_euclidean": "SpRAy (L2)", "spray_gw": "SpRAy (GW)",
    "ac_pca": "AC (PCA)", "ac_ica": "AC (ICA)", "spectral_signatures": "Spectral sig.",
    "concentration_max": "Max. relevance", "concentration_topk": "Top-k share",
    "raw_pca": "Pixels (PCA)", "raw_ica": "Pixels (ICA)",
}


@dataclass(frozen=True)
class DetectionConfig:
    """Settings of the representations and detectors (part of the cache key).

    Parameters
    ----------
    lrp_method : str
        Explanation method of :func:`poisondetect.explain.heatmaps_for` for the
        pixel-grid detectors (Euclidean SpRAy, relevance concentration).
    space_lrp_method : str
        Explanation method of the maps that become metric-measure spaces (GW
        k-means, GW SpRAy). The default LRP-gamma keeps a small trigger sharp;
        EpsilonPlusFlat spreads it over the first layer's 5x5 kernel, and the
        few points a space keeps then no longer single it out (chapter 05).
    max_samples : int or None
        Random subset of the class to inspect (None: all its images).
    heatmap_normalization : str
        Per-map normalisation before Euclidean SpRAy (``"max_abs"`` keeps signs and the relative scale).
    pool : int
        Sum-pooling of heatmaps before Euclidean SpRAy and before building spaces.
    space_mass, space_max_points, space_scale
        :func:`poisondetect.transport.heatmap_to_space`: share of positive relevance kept,
        cap on points, distance unit.
    n_neighbors : int
        Neighbours of the SpRAy graph.
    spray_clusters : int or "eigengap"
        Clusters of SpRAy's spectral k-means. ``"eigengap"`` (default) lets the
        spectrum choose, as Lapuschkin et al. (2019) do: a class whose heatmaps
        vary in more than one way (e.g. where the digits sit) then does not
        force the poison into one of two halves.
    gw_max_iter, gw_n_init, barycenter_size, barycenter_samples, barycenter_steps : int
        GW k-means: rounds, restarts (the lowest GW inertia wins), points of a barycenter,
        members per barycenter, block-coordinate steps per barycenter.
    n_components : int
        Dimensions of Activation Clustering.
    topk : int
        Pixels of the top-k concentration score.
    assumed_poison_share : float or None
        What Spectral Signatures is told about the poison share; None: the attack's true share
        (0.1 for a clean model).
    seed : int
        Seed of subsampling and of every detector.
    """

    lrp_method: str = "epsilon_plus_flat"
    space_lrp_method: str = "gamma"
    max_samples: int | None = None
    heatmap_normalization: str = "max_abs"
    pool: int = 1
    space_mass: float = 0.99
    space_max_points: int = 64
    space_scale: str = "grid"
    n_neighbors: int = 10
    spray_clusters: int | str = "eigengap"
    gw_max_iter: int = 20
    gw_n_init: int = 1
    barycenter_size: int = 32
    barycenter_samples: int = 10
    barycenter_steps: int = 5
    n_components: int = 10
    topk: int = 9
    assumed_poison_share: float | None = None
    seed: int = 0


@dataclass(frozen=True)
class ClassData:
    """The training samples labelled with one class, and their representations.

    Attributes
    ----------
    label : int
        The class inspected.
    indices : ndarray (n,)
        Positions in the poisoned training set.
    images : ndarray uint8 (n, 32, 32, 3)
    is_poison : ndarray bool (n,)
        Ground truth (only for evaluation, never shown to a detector).
    activations : ndarray (n, D)
        Penultimate-layer activations.
    maps : ndarray (n, 32, 32)
        Channel-summed relevance maps for the class's logit (``config.lrp_method``).
    logits : ndarray (n,)
        The explained logits.
    space_maps : ndarray (n, 32, 32)
        The maps that become metric-measure spaces (``config.space_lrp_method``).
    """

    label: int
    indices: np.ndarray
    images: np.ndarray
    is_poison: np.ndarray
    activations: np.ndarray
    maps: np.ndarray
    logits: np.ndarray
    space_maps: np.ndarray

    @property
    def n(self) -> int:
        return len(self.indices)


def target_class(exp: Any) -> int:
    """The class a detector should inspect: the attack's target (5 = 80 km/h for a clean model)."""
    return int(exp.attack.target) if exp.attack is not None else 5


def class_data(exp: Any, label: int | None = None, config: DetectionConfig = DetectionConfig(), progress: bool = True) -> ClassData:
    """Representations of the training images labelled ``label`` (default the target) under the model of ``exp``.

    Trains or loads the model with :func:`poisondetect.attacks.poisoned_model` and
    computes (or loads) heatmaps with :func:`poisondetect.explain.heatmaps_for`.
    """
    from ..attacks import poisoned_model
    from ..explain import heatmaps_for

    label = target_class(exp) if label is None else int(label)
    model, poisoned, _ = poisoned_model(exp, progress=progress)
    indices = rep.class_indices(poisoned.labels, label)
    indices = indices[rep.subsample_indices(len(indices), config.max_samples, config.seed)]
    images = poisoned.images[indices]
    explanation = heatmaps_for(model, images, target=label, method=config.lrp_method, config=exp, progress=progress)
    maps = np.asarray(explanation.maps, dtype=np.float64)
    if config.space_lrp_method == config.lrp_method:
        space_maps = maps
    else:
        space_maps = np.asarray(heatmaps_for(model, images, target=label, method=config.space_lrp_method, config=exp, progress=progress).maps, dtype=np.float64)
    return ClassData(
        label=label,
        indices=indices,
        images=images,
        is_poison=poisoned.is_poison[indices].copy(),
        activations=rep.penultimate_activations(model, images),
        maps=maps,
        logits=np.asarray(explanation.logits_explained, dtype=np.float64),
        space_maps=space_maps,
    )


def spaces_of(data: ClassData, config: DetectionConfig, progress: bool = False) -> list:
    """Heatmap metric-measure spaces of the class (:func:`representations.heatmap_spaces`)."""
    return rep.heatmap_spaces(data.space_maps, config.space_mass, config.space_max_points, config.pool, config.space_scale, progress=progress)


def poison_share_for(exp: Any, config: DetectionConfig) -> float:
    """The poison share Spectral Signatures is told (config value, else the attack's, else 0.1)."""
    if config.assumed_poison_share is not None:
        return float(config.assumed_poison_share)
    return float(exp.attack.poison_share) if exp.attack is not None else 0.1


def run_detector(name: str, data: ClassData, config: DetectionConfig = DetectionConfig(), poison_share: float = 0.1, progress: bool = False) -> DetectionResult:
    """Run detector ``name`` (a key of :data:`DETECTORS`) on one class."""
    seed = config.seed
    if name == "gw_kmeans":
        return gw_kmeans(spaces_of(data, config, progress), max_iter=config.gw_max_iter, barycenter_size=config.barycenter_size, barycenter_samples=config.barycenter_samples,
                         barycenter_steps=config.barycenter_steps, seed=seed, n_init=config.gw_n_init, progress=progress)
    if name == "spray_euclidean":
        features = rep.heatmap_features(data.maps, config.heatmap_normalization, config.pool)
        return spray(rep.euclidean_distances(features), n_clusters=config.spray_clusters, n_neighbors=min(config.n_neighbors, data.n - 1), seed=seed)
    if name == "spray_gw":
        from ..transport import pairwise_gw

        with stopwatch() as clock:
            distances = pairwise_gw(spaces_of(data, config, progress))
        found = spray(distances, n_clusters=config.spray_clusters, n_neighbors=min(config.n_neighbors, data.n - 1), seed=seed)
        return dataclasses.replace(found, runtime_s=found.runtime_s + clock["seconds"])
    if name in ("ac_pca", "ac_ica"):
        return activation_clustering(data.activations, config.n_components, name[3:], seed)
    if name == "spectral_signatures":
        return spectral_signatures(data.activations, poison_share)
    if name == "concentration_max":
        return relevance_concentration(data.maps, "max")
    if name == "concentration_topk":
        return relevance_concentration(data.maps, "topk_share", config.topk)
    if name in ("raw_pca", "raw_ica"):
        found = activation_clustering(rep.raw_pixels(data.images), config.n_components, name[4:], seed)
        return dataclasses.replace(found, method=name)
    raise ValueError(f"unknown detector {name!r}: choose one of {', '.join(DETECTORS)}")


#: Modules whose source code is part of the cache key of :func:`evaluate`: the detectors and the
#: transport code that GW k-means and GW SpRAy run on (a faster or different GW solver changes results).
_CODE_MODULES = ("result", "clusters", "spectral", "gw_kmeans", "activation_clustering", "spectral_signatures", "concentration", "representations", "experiment")
_TRANSPORT_MODULES = ("spaces", "sinkhorn", "gromov", "engine", "barycenter")


def _detection_code() -> tuple:
    # sys.modules, because the packages re-export functions under the same names as these modules
    names = [f"{__package__}.{name}" for name in _CODE_MODULES]
    names += [f"{transport.__name__}.{name}" for name in _TRANSPORT_MODULES]
    return tuple(sys.modules[name] for name in names)


def evaluate(exp: Any, methods: Sequence[str], config: DetectionConfig = DetectionConfig(), label: int | None = None, progress: bool = True) -> tuple[np.ndarray, dict[str, DetectionResult]]:
    """Run ``methods`` on one class of the experiment's training set; cached per experiment and method.

    Returns
    -------
    is_poison : ndarray bool (n,)
        Truth for the inspected samples.
    results : dict name -> DetectionResult
        Reloaded from the cache with ``flagged``, ``scores``, ``labels``,
        ``runtime_s`` and ``extra["split_score"]`` (other diagnostics are not cached).
    """
    unknown = [m for m in methods if m not in DETECTORS]
    if unknown:
        raise ValueError(f"unknown detector(s) {unknown}: choose from {', '.join(DETECTORS)}")
    label = target_class(exp) if label is None else int(label)
    loaded: dict[str, Any] = {}

    def data() -> ClassData:
        if "data" not in loaded:
            loaded["data"] = class_data(exp, label, config, progress)
        return loaded["data"]

    results = {}
    truth = None
    for name in methods:
        key = {"experiment": exp, "config": config, "label": label, "method": name}

        def compute(name: str = name) -> dict[str, np.ndarray]:
            found = run_detector(name, data(), config, poison_share_for(exp, config), progress)
            return {
                "is_poison": data().is_poison,
                "flagged": found.flagged,
                "scores": found.scores if found.scores is not None else np.zeros(0),
                "labels": found.labels if found.labels is not None else np.zeros(0, dtype=np.int64),
                "runtime_s": np.array(found.runtime_s),
                "split_score": np.array(found.split_score),
            }

        stored = artifacts.cached_arrays("detections", key, compute, *_detection_code())
        truth = stored["is_poison"].astype(bool)
        results[name] = DetectionResult(
            method=name,
            flagged=stored["flagged"].astype(bool),
            scores=stored["scores"] if stored["scores"].size else None,
            labels=stored["labels"] if stored["labels"].size else None,
            extra={"split_score": float(stored["split_score"])},
            runtime_s=float(stored["runtime_s"]),
        )
    if truth is None:
        raise ValueError("methods is empty: name at least one detector")
    return truth, results
