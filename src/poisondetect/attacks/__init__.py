"""Poisoning attacks, their triggers, success metrics and the cached experiment.

>>> from poisondetect.attacks import AttackExperiment, BadNets, poisoned_model
>>> model, poisoned, history = poisoned_model(AttackExperiment(profile="smoke"))

See :mod:`.poisoning` (attacks and :class:`PoisonedSet`), :mod:`.triggers`,
:mod:`.pgd`, :mod:`.metrics`, :mod:`.test_time` and :mod:`.experiment`.
"""

from .experiment import (
    AttackExperiment, attack_report, clean_experiment, default_train_config, load_data,
    poisoned_data, poisoned_model, showcase_experiment, surrogate_model,
)
from .metrics import attack_success_rate, attacked_classes, clean_accuracy, per_class_success
from .pgd import pgd_linf
from .poisoning import (
    ATTACKS, Attack, BadNets, Blended, CleverHans, LabelConsistent, PoisonedSet, apply_trigger,
    attack_params, clean_set, poison,
)
from .test_time import TRANSFORMS, flip_horizontal, rescale, shift
from .triggers import AmplitudePattern, BlendPattern, Sticker, Trigger

__all__ = [
    "ATTACKS", "TRANSFORMS", "AmplitudePattern", "Attack", "AttackExperiment", "BadNets", "BlendPattern", "Blended",
    "CleverHans", "LabelConsistent", "PoisonedSet", "Sticker", "Trigger", "apply_trigger",
    "attack_params", "attack_report", "attack_success_rate", "attacked_classes", "clean_accuracy",
    "clean_experiment", "clean_set", "default_train_config", "load_data", "per_class_success",
    "flip_horizontal", "pgd_linf", "poison", "poisoned_data", "poisoned_model", "rescale", "shift",
    "showcase_experiment", "surrogate_model",
]
