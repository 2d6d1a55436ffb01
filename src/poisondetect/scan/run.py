"""Scan a labelled training set for a backdoor with a model trained on it.

Without knowing the target, every class is explained and inspected by the
ranking detector (the first explanation-based one named); classes are ranked by
the anomaly index of their split score (:func:`poisondetect.detection.rank_classes`),
and the other detectors then inspect the suspicious classes::

    result = scan(model, load_images("train/"), Normalization(), ScanSettings())
    result.ranking          # one row per class, most suspicious first
    result.samples()        # one row per image: scores and flags of every detector
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from .. import detection, explain
from ..detection import DetectionResult
from ..explain import METHODS as EXPLAINERS
from .inputs import ImageSet, Normalization, check_input_size, is_scripted, layer_activations

#: The best explanation-based detector measured on real GTSRB (chapter 6), and Activation Clustering as its paper.
DEFAULT_DETECTORS = ("spray_euclidean", "ac_paper")

#: Explanation methods that need no forward hooks, so they also explain TorchScript models.
HOOK_FREE_EXPLAINERS = ("gradient", "sensitivity", "gradient_x_input", "smoothgrad", "integrated_gradients", "occlusion")


@dataclass(frozen=True)
class ScanSettings:
    """What a scan runs.

    Parameters
    ----------
    detectors : tuple of str
        Registered detectors (:data:`poisondetect.detection.DETECTORS`); the first
        explanation-based one ranks the classes (the first one if none is).
    explainer : str
        Explanation method of the maps the explanation detectors read (default LRP-gamma).
    classes : tuple of int or None
        Class indices to scan (``None``: every class with images).
    threshold : float
        Anomaly index above which a class is suspicious.
    assumed_share : float or None
        Poison share assumed by Spectral Signatures and SPECTRE (which need one).
    layer : str or None
        Module whose output the activation detectors read (default: the model's
        ``penultimate`` layer, else the input of its last ``nn.Linear``).
    batch_size : int
        Images per forward/backward pass.
    device : str
        Where the model runs (``"cuda"`` with a GPU).
    """

    detectors: tuple[str, ...] = DEFAULT_DETECTORS
    explainer: str = "gamma"
    classes: tuple[int, ...] | None = None
    threshold: float = 3.0
    assumed_share: float | None = None
    layer: str | None = None
    batch_size: int = 256
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not self.detectors:
            raise ValueError("name at least one detector")
        for name in self.detectors:
            detection.detector(name)
        if self.explainer not in EXPLAINERS:
            raise ValueError(f"unknown explainer {self.explainer!r}: choose one of {', '.join(EXPLAINERS)}")
        if self.assumed_share is not None and not 0 < self.assumed_share < 1:
            raise ValueError(f"assumed_share must lie in (0, 1), got {self.assumed_share}")

    @property
    def ranking_detector(self) -> str:
        """The detector that ranks the classes."""
        return next((n for n in self.detectors if detection.detector(n).explanation), self.detectors[0])

    def detector_settings(self, name: str):
        """Default settings of detector ``name``, with this scan's explainer and assumed share filled in."""
        settings = detection.detector(name).settings()
        fields = {f.name for f in dataclasses.fields(settings)}
        if "explanation" in fields:
            settings = dataclasses.replace(settings, explanation=self.explainer)
        if "poison_share" in fields and self.assumed_share is not None:
            settings = dataclasses.replace(settings, poison_share=self.assumed_share)
        return settings


@dataclass
class ClassScan:
    """One class: its images' positions, maps, predictions and the detectors' results."""

    label: int
    name: str
    indices: np.ndarray
    predicted: np.ndarray
    maps: np.ndarray | None = None
    results: dict[str, DetectionResult] = field(default_factory=dict)

    @property
    def accuracy(self) -> float:
        """Share of the class's images the model assigns to the class."""
        return float(np.mean(self.predicted == self.label))


@dataclass
class ScanResult:
    """What a scan found.

    Attributes
    ----------
    images : ImageSet
    settings : ScanSettings
    ranking : DataFrame
        :func:`~poisondetect.detection.rank_classes` of the ranking detector, with a ``name`` column.
    classes : dict of int -> ClassScan
    seconds : dict of str -> float
        Wall time of each step.
    """

    images: ImageSet
    settings: ScanSettings
    ranking: pd.DataFrame
    classes: dict[int, ClassScan]
    seconds: dict[str, float]

    @property
    def suspicious(self) -> list[int]:
        """Suspicious classes, most suspicious first."""
        return [int(c) for c in self.ranking.loc[self.ranking["suspicious"], "class"]]

    def samples(self) -> pd.DataFrame:
        """One row per scanned image: position, file, class, every detector's score and flag, and the verdict.

        ``flagged`` is the verdict: the class is suspicious and the ranking detector flags the image.
        """
        ranker = self.settings.ranking_detector
        suspicious = set(self.suspicious)
        parts = []
        for scanned in self.classes.values():
            part = pd.DataFrame({"index": scanned.indices, "class": scanned.label, "class_name": scanned.name,
                                 "predicted": scanned.predicted, "suspicious_class": scanned.label in suspicious})
            if self.images.paths is not None:
                part.insert(1, "path", [self.images.paths[i] for i in scanned.indices])
            for name in self.settings.detectors:
                found = scanned.results.get(name)
                part[f"{name}_score"] = found.scores if found is not None and found.scores is not None else np.nan
                part[f"{name}_flag"] = found.flagged if found is not None else False
            part["flagged"] = part["suspicious_class"] & part[f"{ranker}_flag"]
            parts.append(part)
        return pd.concat(parts, ignore_index=True).sort_values("index", kind="stable").reset_index(drop=True)


def _run_detector(name: str, scanned: ClassScan, settings: ScanSettings, activations: np.ndarray | None,
                  images: np.ndarray) -> DetectionResult:
    inputs = {"maps": scanned.maps, "activations": activations, "images": images}
    found_detector = detection.detector(name)
    try:
        return found_detector(settings.detector_settings(name), **{k: inputs[k] for k in found_detector.inputs})
    except ValueError as error:
        raise ValueError(f"detector {name!r} on class {scanned.name!r} ({len(scanned.indices)} images): {error}") from None


def scan(model: nn.Module, images: ImageSet, normalization: Normalization = Normalization(),
         settings: ScanSettings = ScanSettings(), progress: bool = True) -> ScanResult:
    """Rank the classes of ``images`` by how clearly they split under ``model``, then inspect the suspicious ones.

    Parameters
    ----------
    model : nn.Module
        The classifier trained on ``images`` (eval mode; TorchScript works with the
        explainers of :data:`HOOK_FREE_EXPLAINERS` and no activation detector).
    images : ImageSet
        The training set, labelled as the model was trained.
    normalization : Normalization
        The model's input normalisation.
    settings : ScanSettings
    progress : bool
        Progress bars over classes.

    Returns
    -------
    ScanResult
    """
    wanted = [detection.detector(n) for n in settings.detectors]
    if is_scripted(model) and settings.explainer not in HOOK_FREE_EXPLAINERS and any(d.explanation for d in wanted):
        raise ValueError(f"LRP ({settings.explainer!r}) needs forward hooks, which TorchScript models do not support: pass the "
                         f"model as --factory module:function with its state_dict, or choose --explainer from {', '.join(HOOK_FREE_EXPLAINERS)}")
    n_classes = check_input_size(model, images.images, normalization, settings.device)
    if len(images.class_names) > n_classes:
        raise ValueError(f"{images.source} has {len(images.class_names)} classes but the model predicts {n_classes}")
    labels = settings.classes if settings.classes is not None else images.present_classes()
    missing = [c for c in labels if c not in images.present_classes()]
    if missing:
        raise ValueError(f"--classes {missing} have no images in {images.source}")
    seconds = {"explain": 0.0, "activations": 0.0, "detect": 0.0}
    classes: dict[int, ClassScan] = {}
    activations: dict[int, np.ndarray] = {}
    ranker = settings.ranking_detector

    def prepare(label: int) -> None:
        idx = images.class_indices(label)
        x = normalization.tensor(images.images[idx], settings.device)
        start = time.perf_counter()
        with torch.no_grad():
            predicted = torch.cat([model(x[s:s + settings.batch_size]).argmax(1) for s in range(0, len(x), settings.batch_size)])
        scanned = ClassScan(label, images.class_names[label], idx, predicted.cpu().numpy())
        if any(d.explanation for d in wanted):
            found = explain.explain(model, x, label, settings.explainer, settings.batch_size, progress=False)
            scanned.maps = np.asarray(found.maps, dtype=np.float64)
        seconds["explain"] += time.perf_counter() - start
        if any("activations" in d.inputs for d in wanted):
            start = time.perf_counter()
            activations[label] = layer_activations(model, x, settings.layer, settings.batch_size)
            seconds["activations"] += time.perf_counter() - start
        classes[label] = scanned

    def inspect(label: int, names) -> None:
        start = time.perf_counter()
        for name in names:
            classes[label].results[name] = _run_detector(name, classes[label], settings, activations.get(label),
                                                          images.images[classes[label].indices])
        seconds["detect"] += time.perf_counter() - start

    for label in tqdm(labels, desc=f"classes ({ranker})", disable=not progress):
        prepare(label)
        inspect(label, [ranker])
    if len(labels) >= 3:
        ranking = detection.rank_classes({c: s.results[ranker] for c, s in classes.items()}, settings.threshold)
    else:  # too few classes to rank: inspect all of them
        ranking = pd.DataFrame({"class": labels, "split_score": [classes[c].results[ranker].split_score for c in labels],
                                "anomaly_index": np.nan, "flagged_share": [classes[c].results[ranker].n_flagged / len(classes[c].indices) for c in labels],
                                "suspicious": True})
    ranking.insert(1, "name", [images.class_names[c] for c in ranking["class"]])
    others = [n for n in settings.detectors if n != ranker]
    suspicious = [int(c) for c in ranking.loc[ranking["suspicious"], "class"]]
    for label in tqdm(suspicious if others else [], desc="suspicious classes (other detectors)", disable=not progress):
        inspect(label, others)
    return ScanResult(images, settings, ranking, classes, {k: round(v, 2) for k, v in seconds.items()})
