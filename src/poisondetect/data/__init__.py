"""Data sets in one array format: real GTSRB and the embedded SynthSigns.

>>> from poisondetect import data
>>> signs = data.load("synth", profile="quick")   # offline, cached
>>> signs.train_images.shape                      # (N, 32, 32, 3) uint8
"""

from __future__ import annotations

from ..config import by_profile, check_dataset, check_profile
from .base import SignData, subset
from .classes import ATTACK_CANDIDATES, GTSRB_CLASS_NAMES, N_CLASSES, class_name
from .splits import track_split

__all__ = [
    "ATTACK_CANDIDATES", "GTSRB_CLASS_NAMES", "N_CLASSES", "SignData",
    "class_name", "load", "subset", "track_split",
]


def load(dataset: str = "synth", profile: str = "quick") -> SignData:
    """Load a data set at the scale of ``profile``.

    ``synth`` is generated (and cached) at the profile's size; ``gtsrb`` is read
    from ``$POISONDETECT_DATA/gtsrb32.npz`` and, in the smoke profile, reduced to a
    few whole tracks per class.
    """
    check_dataset(dataset)
    check_profile(profile)
    if dataset == "synth":
        from . import synthetic

        return synthetic.load(profile)
    from . import gtsrb

    signs = gtsrb.load()
    if profile == "smoke":
        return subset(signs, tracks_per_class=2, test_per_class=10)
    return signs
