"""Poisoning attacks, their triggers, success metrics and the cached experiment.

>>> from poisondetect.attacks import AttackExperiment, BadNets, poisoned_model
>>> model, poisoned, history = poisoned_model(AttackExperiment(profile="smoke"))

See :mod:`.poisoning` (attacks and :class:`PoisonedSet`), :mod:`.triggers`,
:mod:`.pgd`, :mod:`.metrics` and :mod:`.experiment`.
"""

from .experiment import (
    AttackExperiment, attack_report, clean_experiment, default_train_config, load_data,
    poisoned_data, poisoned_model, surrogate_model,
)
from .metrics import attack_success_rate, attacked_classes, clean_accuracy, per_class_success
from .pgd import pgd_linf
from .poisoning import (
    ATTACKS, Attack, BadNets, Blended, CleverHans, LabelConsistent, PoisonedSet, apply_trigger,
    attack_params, clean_set, poison,
)
from .triggers import AmplitudePattern, BlendPattern, Sticker, Trigger

__all__ = [
    "ATTACKS", "AmplitudePattern", "Attack", "AttackExperiment", "BadNets", "BlendPattern", "Blended",
    "CleverHans", "LabelConsistent", "PoisonedSet", "Sticker", "Trigger", "apply_trigger",
    "attack_params", "attack_report", "attack_success_rate", "attacked_classes", "clean_accuracy",
    "clean_experiment", "clean_set", "default_train_config", "load_data", "per_class_success",
    "pgd_linf", "poison", "poisoned_data", "poisoned_model", "surrogate_model",
]
