"""Is the backdoor learned? Clean accuracy, attack success and the gate, cached with :func:`poisondetect.calls.cached`.

Kept apart from :mod:`.experiment`, whose code keys the poisoned sets and models:
a change of how models are evaluated retrains nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from torch import nn

from .. import training
from ..attacks import metrics
from ..calls import cached
from .experiment import AttackExperiment, load_data, poisoned_model, training_split

#: The gate: detectors are judged only on models whose backdoor is learned this well.
GATE_MIN_RATE = 0.98


@cached
def backdoor_gate(exp: AttackExperiment, progress: bool = True) -> dict[str, Any]:
    """Is the backdoor of ``exp`` learned? Attack success on the test set and on the model's own poisons.

    Returns ``attack_success`` (share of triggered test images of the source class classified
    as the target), ``poisons_learned`` (share of the poisoned training-split images the model
    classifies as the target) and ``passed``: both at least :data:`GATE_MIN_RATE`. A model that
    fails the gate has not learned the attack; detection on it is not a test of the detector.
    """
    if exp.attack is None:
        raise ValueError("a clean experiment has no backdoor to gate")
    model, poisoned, _ = poisoned_model(exp, progress)
    own = training_split(exp, poisoned)
    own = own[poisoned.is_poison[own]]
    learned = float(np.mean(training.predict(model, poisoned.images[own]) == exp.attack.target)) if own.size else float("nan")
    success = attack_report(exp, model, exp.seed)["attack_success"]
    return {"attack_success": success, "poisons_learned": learned,
            "passed": bool(success >= GATE_MIN_RATE and learned >= GATE_MIN_RATE)}


@cached
def attack_report(exp: AttackExperiment, model: nn.Module, seed: int = 0) -> dict[str, Any]:
    """Clean accuracy, attack success rate and per-class success of ``model`` on the test set of ``exp``.

    Returns ``{"clean_accuracy": float, "attack_success": float or nan, "per_class": {class: rate}}``
    (no attack metrics for a clean experiment).
    """
    signs = load_data(exp)
    report: dict[str, Any] = {"clean_accuracy": metrics.clean_accuracy(model, signs.test_images, signs.test_labels)}
    if exp.attack is None:
        return {**report, "attack_success": float("nan"), "per_class": {}}
    report["attack_success"] = metrics.attack_success_rate(model, exp.attack, signs.test_images, signs.test_labels, seed)
    report["per_class"] = metrics.per_class_success(model, exp.attack, signs.test_images, signs.test_labels, seed)
    return report
