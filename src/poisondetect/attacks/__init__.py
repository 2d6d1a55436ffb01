"""Poisoning attacks, their triggers, success metrics and test-time transformations.

>>> from poisondetect.attacks import BadNets, Sticker, poison
>>> poisoned = poison(images, labels, tracks, BadNets(poison_share=0.15, trigger=Sticker(size=3)), seed=0)

See :mod:`.poisoning` (attacks and :class:`PoisonedSet`), :mod:`.triggers`,
:mod:`.pgd`, :mod:`.metrics` and :mod:`.transformations`. Cached poisoned sets
and trained models are made by :mod:`poisondetect.experiments`.
"""

from .metrics import attack_success_rate, attacked_classes, clean_accuracy, per_class_success
from .pgd import pgd_linf
from .poisoning import (
    ATTACKS, Attack, BadNets, Blended, CleverHans, LabelConsistent, PoisonedSet, apply_trigger,
    attack_params, clean_set, poison,
)
from .transformations import TEST_TIME_TRANSFORMS, flip_horizontal, shift_images, zoom_images
from .triggers import THESIS_CORNERS, AmplitudePattern, BlendPattern, Sticker, Trigger

__all__ = [
    "ATTACKS", "TEST_TIME_TRANSFORMS", "THESIS_CORNERS", "AmplitudePattern", "Attack", "BadNets", "BlendPattern", "Blended",
    "CleverHans", "LabelConsistent", "PoisonedSet", "Sticker", "Trigger", "apply_trigger", "attack_params",
    "attack_success_rate", "attacked_classes", "clean_accuracy", "clean_set", "flip_horizontal", "per_class_success",
    "pgd_linf", "poison", "shift_images", "zoom_images",
]
