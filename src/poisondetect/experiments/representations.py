"""The representations of one class under an experiment's model: heatmaps (cached), activations, images.

::

    from poisondetect.experiments import ClassSelection, class_data, explanations

    cls = class_data(exp, ClassSelection(max_samples=600))   # the target class's training images
    cls.maps("gamma")                                       # (n, 32, 32) LRP-gamma maps, cached
    cls.activations()                                       # (n, D) penultimate layer
    cls.is_poison                                           # the truth, for evaluation only

Heatmaps are cached under ``artifacts/heatmaps/`` by :func:`explanation_key`:
the model's key (:func:`poisondetect.experiments.model_key`), the content of
the images and targets, the method, its settings and the explanation code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import artifacts, explain, models
from ..config import stable_hash
from ..data.transforms import to_tensor
from ..detection import representations as rep
from ..explain import Explanation, ExplainSettings
from .experiment import AttackExperiment, model_key, poisoned_data, poisoned_model, training_split
from .steps import drives, step_code

#: Parts of the poisoned training set a detector may inspect.
SPLITS = ("train", "validation", "all")

#: The class inspected in clean experiments, which have no target (80 km/h, the standard attack's target).
CLEAN_TARGET = 5


def target_class(exp: AttackExperiment) -> int:
    """The class a detector should inspect: the attack's target (80 km/h for a clean model)."""
    return int(exp.attack.target) if exp.attack is not None else CLEAN_TARGET


@dataclass(frozen=True)
class ClassSelection:
    """Which training images of an experiment a detector inspects.

    Parameters
    ----------
    label : int or None
        The class (``None``: :func:`target_class` of the experiment).
    max_samples : int or None
        A random subset of that many images (``None``: all of them).
    seed : int
        Seed of the subset.
    split : {"train", "validation", "all"}
        Inspect what the model trained on (the default: a defender scans its
        training data), the held-out validation images, or both.
    """

    label: int | None = None
    max_samples: int | None = None
    seed: int = 0
    split: str = "train"

    def __post_init__(self) -> None:
        if self.split not in SPLITS:
            raise ValueError(f"ClassSelection.split must be one of {', '.join(SPLITS)}, got {self.split!r}")


def _resolve_targets(target: int | np.ndarray | str, n: int) -> np.ndarray | str:
    return target if isinstance(target, str) else np.broadcast_to(np.asarray(target, dtype=np.int64), (n,))


def explanation_key(exp: AttackExperiment, images: np.ndarray, target: int | np.ndarray | str, method: str,
                    settings: ExplainSettings) -> str:
    """Cache key of the heatmaps of ``images`` under the model of ``exp``."""
    targets = _resolve_targets(target, len(images))
    return stable_hash("heatmaps", model_key(exp), artifacts.array_digest(np.asarray(images)),
                       targets if isinstance(targets, str) else artifacts.array_digest(targets), method, settings,
                       step_code("explain"))


def explanations(exp: AttackExperiment, images: np.ndarray, target: int | np.ndarray | str = "predicted",
                 method: str = "epsilon_plus_flat", settings: ExplainSettings = ExplainSettings(),
                 progress: bool = True) -> Explanation:
    """Heatmaps of uint8 ``images`` (n, H, W, 3) under the model of ``exp``, cached (:func:`explanation_key`).

    See :func:`poisondetect.explain.explain` for ``target`` and ``method``.
    """
    images = np.asarray(images)

    def compute() -> dict[str, np.ndarray]:
        model, _, _ = poisoned_model(exp, progress=progress)
        result = explain.heatmaps_for(model, images, target, method, progress=progress, settings=settings)
        return {"relevance": result.relevance, "logits_explained": result.logits_explained,
                "targets": result.targets, "predicted": result.predicted}

    arrays = artifacts.cached_arrays("heatmaps", explanation_key(exp, images, target, method, settings), compute)
    return Explanation(method=method, **arrays)


def activations_key(exp: AttackExperiment, images: np.ndarray) -> str:
    """Key of the penultimate activations of ``images`` under the model of ``exp`` (they are not stored)."""
    return stable_hash("activations", model_key(exp), artifacts.array_digest(np.asarray(images)), step_code("activations"))


@dataclass(frozen=True)
class ClassData:
    """The training images of one class of an experiment, and their representations on demand.

    Attributes
    ----------
    experiment : AttackExperiment
    label : int
        The class inspected.
    indices : ndarray (n,)
        Positions in the poisoned training set.
    images : ndarray uint8 (n, 32, 32, 3)
    is_poison : ndarray bool (n,)
        Ground truth (only for evaluation, never shown to a detector).
    """

    experiment: AttackExperiment
    label: int
    indices: np.ndarray
    images: np.ndarray
    is_poison: np.ndarray
    progress: bool = True
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.indices)

    def explanation(self, method: str, settings: ExplainSettings = ExplainSettings()) -> Explanation:
        """The class's :class:`~poisondetect.explain.Explanation` of its own logit by ``method`` (cached)."""
        key = ("explanation", method, settings)
        if key not in self._memo:
            self._memo[key] = explanations(self.experiment, self.images, self.label, method, settings, self.progress)
        return self._memo[key]

    def maps(self, method: str, settings: ExplainSettings = ExplainSettings()) -> np.ndarray:
        """Channel-summed relevance maps (n, 32, 32) float64 for the class's logit by ``method``."""
        return np.asarray(self.explanation(method, settings).maps, dtype=np.float64)

    def activations(self) -> np.ndarray:
        """Penultimate-layer activations (n, D) float64 (the layer each model names, not the logits)."""
        if "activations" not in self._memo:
            model, _, _ = poisoned_model(self.experiment, progress=self.progress)
            self._memo["activations"] = models.penultimate_activations(model, to_tensor(self.images), batch_size=256).double().numpy()
        return self._memo["activations"]

    def input_key(self, name: str, method: str | None = None) -> str:
        """Cache key of input ``name`` of a detector (``"maps"`` of ``method``, ``"activations"``, ``"images"``)."""
        if name == "maps":
            return explanation_key(self.experiment, self.images, self.label, method, ExplainSettings())
        if name == "activations":
            return activations_key(self.experiment, self.images)
        if name == "images":
            return artifacts.array_digest(self.images)
        raise ValueError(f"unknown detector input {name!r}")

    def input(self, name: str, method: str | None = None) -> np.ndarray:
        """Detector input ``name`` (see :data:`poisondetect.detection.registry.INPUTS`)."""
        if name == "maps":
            return self.maps(method)
        if name == "activations":
            return self.activations()
        if name == "images":
            return self.images
        raise ValueError(f"unknown detector input {name!r}")


def class_data(exp: AttackExperiment, selection: ClassSelection = ClassSelection(), progress: bool = True) -> ClassData:
    """The images of the selected class and split of ``exp`` (heatmaps and activations follow on demand)."""
    label = target_class(exp) if selection.label is None else int(selection.label)
    poisoned = poisoned_data(exp, progress)
    indices = rep.class_indices(poisoned.labels, label)
    if selection.split != "all":
        trained = np.isin(indices, training_split(exp, poisoned))
        indices = indices[trained if selection.split == "train" else ~trained]
    indices = indices[rep.subsample_indices(len(indices), selection.max_samples, selection.seed)]
    return ClassData(exp, label, indices, poisoned.images[indices], poisoned.is_poison[indices].copy(), progress)


drives(__name__, "explain", "activations")
