"""Detectors run on the classes of an experiment, cached per detector.

::

    from poisondetect.experiments import ClassSelection, detector_settings, evaluate

    truth, results = evaluate(exp, ("gw_kmeans", "ac_pca"), ClassSelection(max_samples=600))
    detection_metrics(truth, results["gw_kmeans"])

A detector's cached result (flagged mask, scores, labels, runtime and the
diagnostics that are arrays or numbers) is keyed by the detector's name, its
own settings, the keys of the inputs it reads (heatmaps of one method,
activations or images: each chained to the model, the poisoned set and the
data) and the code of the detection step. Changing one detector's settings
reruns only that detector.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import artifacts, data
from ..config import by_profile, stable_hash
from ..detection import DETECTORS, DetectionResult, detector, rank_classes
from .experiment import AttackExperiment
from .representations import ClassData, ClassSelection, class_data
from .steps import drives, step_code

#: Share of poisons Spectral Signatures is told for a clean experiment (which has no attack share).
CLEAN_POISON_SHARE_HINT = 0.1


def detector_settings(profile: str, seed: int = 0) -> dict[str, Any]:
    """Settings of every registered detector for ``profile``: the defaults, seeded; the smoke profile
    cuts GW k-means to 2 rounds of 2 barycenter steps so that every code path runs in seconds."""
    settings = {}
    for name, entry in DETECTORS.items():
        chosen = entry.settings()
        if "seed" in {f.name for f in dataclasses.fields(chosen)}:
            chosen = dataclasses.replace(chosen, seed=seed)
        if name == "gw_kmeans":
            chosen = dataclasses.replace(chosen, max_iter=by_profile(profile, smoke=2, quick=20, full=20),
                                         barycenter_steps=by_profile(profile, smoke=2, quick=5, full=5))
        settings[name] = chosen
    return settings


def inspected(profile: str, seed: int = 0) -> ClassSelection:
    """The images of the target class that chapters 05 and 06 inspect: a random 600 in quick, all otherwise."""
    return ClassSelection(max_samples=by_profile(profile, smoke=None, quick=600, full=None), seed=seed)


def resolved_settings(exp: AttackExperiment, name: str, settings: Any | None = None) -> Any:
    """The settings ``name`` runs with on ``exp``: the given ones or the defaults; an unset
    ``poison_share`` (Spectral Signatures) becomes the attack's share (0.1 for a clean model)."""
    chosen = detector(name).settings() if settings is None else settings
    fields = {f.name for f in dataclasses.fields(chosen)}
    if "poison_share" in fields and chosen.poison_share is None:
        share = float(exp.attack.poison_share) if exp.attack is not None else CLEAN_POISON_SHARE_HINT
        chosen = dataclasses.replace(chosen, poison_share=share)
    return chosen


def _inputs(cls: ClassData, name: str, settings: Any) -> dict[str, str]:
    method = getattr(settings, "explanation", None)
    return {key: cls.input_key(key, method) for key in detector(name).inputs}


def detection_key(cls: ClassData, name: str, settings: Any) -> str:
    """Cache key of detector ``name`` with ``settings`` on the class ``cls``."""
    return stable_hash("detection", name, settings, _inputs(cls, name, settings), step_code("detect", detector=name))


def _storable(extra: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """The diagnostics that can be stored in an ``.npz``: numbers, strings and (stacks of) arrays."""
    stored = {}
    for key, value in extra.items():
        if isinstance(value, (bool, int, float, str, np.generic, np.ndarray)):
            stored[f"extra_{key}"] = np.asarray(value)
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, np.ndarray) for v in value) \
                and len({v.shape for v in value}) == 1:
            stored[f"extra_{key}"] = np.stack(value)
        elif isinstance(value, (list, tuple)) and value and all(isinstance(v, (int, float, np.generic)) for v in value):
            stored[f"extra_{key}"] = np.asarray(value)
    return stored


def _restored(stored: Mapping[str, np.ndarray], name: str) -> DetectionResult:
    extra = {key.removeprefix("extra_"): (value.item() if value.ndim == 0 else value)
             for key, value in stored.items() if key.startswith("extra_")}
    return DetectionResult(
        method=name,
        flagged=stored["flagged"].astype(bool),
        scores=stored["scores"] if stored["scores"].size else None,
        labels=stored["labels"] if stored["labels"].size else None,
        extra=extra,
        runtime_s=float(stored["runtime_s"]),
    )


def detect(cls: ClassData, name: str, settings: Any | None = None, progress: bool = False) -> DetectionResult:
    """Detector ``name`` on the class ``cls``, cached (:func:`detection_key`).

    The result holds the flagged mask, scores, labels, runtime and every
    diagnostic of ``extra`` that is a number, a string or an array (lists of
    spaces, such as GW k-means's barycenters, are kept only as their arrays
    ``barycenter_costs`` and ``barycenter_weights``).
    """
    entry = detector(name)
    settings = resolved_settings(cls.experiment, name, settings)

    def compute() -> dict[str, np.ndarray]:
        inputs = {key: cls.input(key, getattr(settings, "explanation", None)) for key in entry.inputs}
        found = entry(settings, progress=progress, **inputs)
        return {
            "flagged": found.flagged,
            "scores": found.scores if found.scores is not None else np.zeros(0),
            "labels": found.labels if found.labels is not None else np.zeros(0, dtype=np.int64),
            "runtime_s": np.array(found.runtime_s),
            **_storable(found.extra),
        }

    return _restored(artifacts.cached_arrays("detections", detection_key(cls, name, settings), compute), name)


def evaluate(exp: AttackExperiment, names: Sequence[str], selection: ClassSelection = ClassSelection(),
             settings: Mapping[str, Any] | None = None, progress: bool = True) -> tuple[np.ndarray, dict[str, DetectionResult]]:
    """Run detectors ``names`` on one class of the experiment's training set; cached per detector.

    Parameters
    ----------
    exp : AttackExperiment
    names : sequence of str
        Registered detectors (:data:`poisondetect.detection.DETECTORS`).
    selection : ClassSelection
        The class and the images inspected.
    settings : mapping name -> settings, optional
        Settings per detector (missing ones: the defaults; see :func:`detector_settings`).

    Returns
    -------
    is_poison : ndarray bool (n,)
        Truth for the inspected samples.
    results : dict name -> DetectionResult
    """
    if not names:
        raise ValueError("names is empty: name at least one detector")
    for name in names:
        detector(name)
    cls = class_data(exp, selection, progress)
    settings = settings or {}
    return cls.is_poison, {name: detect(cls, name, settings.get(name), progress) for name in names}


def rank_experiment_classes(exp: AttackExperiment, names: Sequence[str], selection: ClassSelection = ClassSelection(),
                            settings: Mapping[str, Any] | None = None, threshold: float = 3.0,
                            progress: bool = True) -> dict[str, pd.DataFrame]:
    """Which class is poisoned? Run detectors ``names`` on every class of the data set and rank the classes.

    Returns ``{name: rank_classes(...) table}`` (most suspicious class first;
    see :func:`poisondetect.detection.rank_classes`). ``selection.label`` is ignored.
    """
    classes = [int(c) for c in data.load(exp.dataset, exp.profile).classes]
    per_detector: dict[str, dict[int, DetectionResult]] = {name: {} for name in names}
    for label in tqdm(classes, desc="classes", disable=not progress):
        _, found = evaluate(exp, names, dataclasses.replace(selection, label=label), settings, progress=False)
        for name in names:
            per_detector[name][label] = found[name]
    return {name: rank_classes(per_detector[name], threshold) for name in names}


drives(__name__, "detect")
