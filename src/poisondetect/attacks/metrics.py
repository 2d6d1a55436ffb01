"""How well an attack worked: attack success rate, clean accuracy, per-class success.

For a model :math:`f`, a trigger :math:`T` and the test images :math:`X_c` of class :math:`c`,
the success on class :math:`c` is

.. math::  \\mathrm{ASR}_c = \\frac{1}{|X_c|} \\sum_{x \\in X_c} [\\, f(T(x)) = t \\,].

The attack success rate of a source-to-target attack (BadNets, Blended) is
:math:`\\mathrm{ASR}_s` for its source class :math:`s`; for attacks without a
source class (label-consistent, Clever-Hans) it is the mean of
:math:`\\mathrm{ASR}_c` over all classes :math:`c \\ne t` of the test set.
Clean accuracy is measured on the untouched, un-augmented test set.

Every metric takes an optional ``transform`` (uint8 images -> uint8 images,
see :mod:`.transformations`) applied after the trigger, to measure how a test-time
transformation changes success and accuracy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from torch import nn

from ..training import predict
from .poisoning import Attack, BadNets, Blended, apply_trigger

Transform = Callable[[np.ndarray], np.ndarray]


def _identity(images: np.ndarray) -> np.ndarray:
    return images


def attacked_classes(attack: Attack, test_labels: np.ndarray) -> np.ndarray:
    """Classes whose triggered test images count for the attack success rate."""
    if isinstance(attack, (BadNets, Blended)):
        return np.array([attack.source])
    present = np.unique(test_labels)
    return present[present != attack.target]


def per_class_success(model: nn.Module, attack: Attack, test_images: np.ndarray, test_labels: np.ndarray, seed: int = 0,
                      transform: Transform | None = None) -> dict[int, float]:
    """:math:`\\mathrm{ASR}_c` for every class :math:`c \\ne t` present in the test set.

    Returns ``{class id: share of its triggered test images classified as the target}``.
    """
    test_labels = np.asarray(test_labels)
    keep = test_labels != attack.target
    predicted = predict(model, (transform or _identity)(apply_trigger(attack, test_images[keep], seed)))
    labels = test_labels[keep]
    return {int(c): float(np.mean(predicted[labels == c] == attack.target)) for c in np.unique(labels)}


def attack_success_rate(model: nn.Module, attack: Attack, test_images: np.ndarray, test_labels: np.ndarray, seed: int = 0,
                        transform: Transform | None = None) -> float:
    """Attack success rate (see the module docstring), in [0, 1]."""
    classes = attacked_classes(attack, test_labels)
    test_labels = np.asarray(test_labels)
    mask = np.isin(test_labels, classes)
    if not mask.any():
        raise ValueError(f"the test set has no images of the attacked classes {classes.tolist()}")
    predicted = predict(model, (transform or _identity)(apply_trigger(attack, test_images[mask], seed)))
    labels = test_labels[mask]
    return float(np.mean([np.mean(predicted[labels == c] == attack.target) for c in classes if np.any(labels == c)]))


def clean_accuracy(model: nn.Module, test_images: np.ndarray, test_labels: np.ndarray, transform: Transform | None = None) -> float:
    """Share of correctly classified test images (untouched unless ``transform`` is given)."""
    return float(np.mean(predict(model, (transform or _identity)(test_images)) == np.asarray(test_labels)))
