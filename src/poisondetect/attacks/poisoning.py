"""Poisoning attacks on a training set, and the poisoned set they return.

Four attacks, each a frozen dataclass of its parameters (part of cache keys):

- :class:`BadNets` :cite:`gu2019badnets`: images of a ``source`` class get a
  sticker and the label ``target``; they are *moved* out of the source class.
- :class:`LabelConsistent` :cite:`turner2019`: images of the
  ``target`` class are first made hard to classify by PGD against a surrogate
  trained on clean data, then get a trigger; labels are unchanged.
- :class:`CleverHans` :cite:`anders2022`: a fixed sticker (a watermark)
  on a share of one class, labels unchanged; a spurious feature, not an attack.
- :class:`Blended` :cite:`chen2017blended`: like BadNets, but the trigger is a
  random pattern blended over the whole image.

Poison share. For BadNets and Blended the share ``p`` refers to the *final*
target class, as in the thesis: with :math:`n_t` clean target images,

.. math::  n = \\operatorname{round}\\Bigl(\\frac{p\\,n_t}{1 - p}\\Bigr),
   \\qquad \\frac{n}{n_t + n} \\approx p .

For LabelConsistent and CleverHans, ``n = round(p * n_c)`` of the ``n_c``
images of the class are changed, again a share ``p`` of the final class.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from torch import nn

from ..data import N_CLASSES, class_name
from .pgd import pgd_linf, to_uint8_pixels
from .triggers import AmplitudePattern, BlendPattern, Sticker, Trigger


def _check_relabelling(attack, trigger_type: type) -> None:
    """Validate a dirty-label attack: two different known classes, a share in (0, 1), the right trigger."""
    _check_class(attack.source, "source")
    _check_class(attack.target, "target")
    if attack.source == attack.target:
        raise ValueError(f"source and target must differ, both are {attack.source} ({class_name(attack.source)})")
    _check_share(attack.poison_share)
    if not isinstance(attack.trigger, trigger_type):
        raise TypeError(f"{type(attack).__name__}.trigger must be a {trigger_type.__name__}, got {type(attack.trigger).__name__}")


def _check_class(value: int, name: str) -> None:
    if not isinstance(value, (int, np.integer)) or not 0 <= int(value) < N_CLASSES:
        raise ValueError(f"{name} must be a GTSRB class id in 0..{N_CLASSES - 1}, got {value!r}")


def _check_share(value: float, name: str = "poison_share") -> None:
    if not 0.0 < float(value) < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1 (e.g. 0.1 for 10 %), got {value!r}")


@dataclass(frozen=True)
class BadNets:
    """Standard attack: ``source`` images with a sticker, relabelled ``target`` (default 50 -> 80 km/h).

    Parameters
    ----------
    source, target : int
        GTSRB class ids (2 = 50 km/h, 5 = 80 km/h).
    poison_share : float
        Share of poisoned images in the final target class, in (0, 1).
    trigger : Sticker
        Default: 3x3 yellow-green (245, 255, 0) at a random place in the central window.
    by_track : bool
        Choose the poisoned images by whole tracks (the last chosen track is cut
        so that the count is exact).
    """

    kind: ClassVar[str] = "badnets"
    source: int = 2
    target: int = 5
    poison_share: float = 0.33
    trigger: Sticker = field(default_factory=Sticker)
    by_track: bool = False

    def __post_init__(self) -> None:
        _check_relabelling(self, Sticker)


@dataclass(frozen=True)
class Blended:
    """Blended-injection attack: ``source`` images blended with a pattern, relabelled ``target``.

    Parameters as :class:`BadNets`; ``trigger`` is a :class:`BlendPattern`.
    """

    kind: ClassVar[str] = "blended"
    source: int = 2
    target: int = 5
    poison_share: float = 0.33
    trigger: BlendPattern = field(default_factory=BlendPattern)
    by_track: bool = False

    def __post_init__(self) -> None:
        _check_relabelling(self, BlendPattern)


@dataclass(frozen=True)
class LabelConsistent:
    """Label-consistent attack on class ``target``: PGD against a clean surrogate, then a trigger.

    Parameters
    ----------
    target : int
        Class whose images are poisoned (labels stay).
    poison_share : float
        Share of the target class that is poisoned, in (0, 1).
    trigger : Sticker or AmplitudePattern
        Default: full-amplitude (255) +/- pattern near the bottom-right corner.
    eps, steps, step_size : float, int, float
        PGD radius, number of steps and step size in [0, 1] pixel units.
    surrogate : str
        Model name of the surrogate (trained on clean data with the same seed).
    """

    kind: ClassVar[str] = "label_consistent"
    target: int = 5
    poison_share: float = 0.33
    trigger: AmplitudePattern | Sticker = field(default_factory=AmplitudePattern)
    eps: float = 16 / 255
    steps: int = 10
    step_size: float = 4 / 255
    surrogate: str = "net"

    def __post_init__(self) -> None:
        _check_class(self.target, "target")
        _check_share(self.poison_share)
        if not 0.0 <= self.eps <= 1.0:
            raise ValueError(f"LabelConsistent.eps must lie in [0, 1] (pixel units, e.g. 16/255), got {self.eps}")
        if self.steps < 0 or self.step_size < 0:
            raise ValueError(f"LabelConsistent.steps and step_size must be non-negative, got {self.steps}, {self.step_size}")
        if not isinstance(self.trigger, (AmplitudePattern, Sticker)):
            raise TypeError(f"LabelConsistent.trigger must be an AmplitudePattern or Sticker, got {type(self.trigger).__name__}")


@dataclass(frozen=True)
class CleverHans:
    """A fixed grey 3x3 sticker in the top-right corner of a share of class ``target``, labels unchanged."""

    kind: ClassVar[str] = "clever_hans"
    target: int = 5
    poison_share: float = 0.25
    trigger: Sticker = field(default_factory=lambda: Sticker(size=3, color=(128, 128, 128), window=(1, 28, 3, 3)))

    def __post_init__(self) -> None:
        _check_class(self.target, "target")
        _check_share(self.poison_share)
        if not isinstance(self.trigger, Sticker):
            raise TypeError(f"CleverHans.trigger must be a Sticker, got {type(self.trigger).__name__}")


Attack = BadNets | Blended | LabelConsistent | CleverHans
ATTACKS: dict[str, type] = {cls.kind: cls for cls in (BadNets, Blended, LabelConsistent, CleverHans)}


def attack_params(attack: Attack) -> dict[str, Any]:
    """The attack's kind and parameters as a plain dict (trigger parameters nested)."""
    return {"kind": attack.kind, **dataclasses.asdict(attack), "trigger_type": type(attack.trigger).__name__}


@dataclass(frozen=True, eq=False)
class PoisonedSet:
    """A training set after an attack.

    Attributes
    ----------
    images : ndarray, uint8, (N, 32, 32, 3)
        Clean images, and triggered ones where ``is_poison``.
    labels : ndarray, int64, (N,)
        The labels training sees (the attacker's).
    true_labels : ndarray, int64, (N,)
        The classes the images really show.
    is_poison : ndarray, bool, (N,)
        Which images the attacker changed.
    tracks : ndarray, int64, (N,)
        Track ids (unique within ``true_labels``).
    attack : Attack or None
        The attack's parameters (``None`` for a clean set).
    """

    images: np.ndarray
    labels: np.ndarray
    true_labels: np.ndarray
    is_poison: np.ndarray
    tracks: np.ndarray
    attack: Attack | None = None

    @property
    def params(self) -> dict[str, Any]:
        """Attack kind and parameters as plain values (``{"kind": "clean"}`` for a clean set)."""
        return {"kind": "clean"} if self.attack is None else attack_params(self.attack)

    @property
    def n_poison(self) -> int:
        """Number of poisoned images."""
        return int(self.is_poison.sum())

    def in_class(self, label: int) -> np.ndarray:
        """Indices of the images *labelled* ``label`` (what a defender inspects)."""
        return np.flatnonzero(self.labels == label)

    def apply_trigger(self, images: np.ndarray, seed: int = 0) -> np.ndarray:
        """Stamp this set's trigger on test images (see :func:`apply_trigger`)."""
        if self.attack is None:
            raise ValueError("a clean set has no trigger")
        return apply_trigger(self.attack, images, seed)


def apply_trigger(attack: Attack, images: np.ndarray, seed: int = 0) -> np.ndarray:
    """The attack's trigger on uint8 images (N, 32, 32, 3), as used at test time.

    Test-time images are *not* perturbed by PGD: the label-consistent attack
    only needs the trigger.
    """
    return attack.trigger.apply(images, np.random.default_rng(seed))


def _choose(candidates: np.ndarray, n: int, tracks: np.ndarray, by_track: bool, rng: np.random.Generator) -> np.ndarray:
    """``n`` of the ``candidates`` indices, at random or by whole tracks in random order (sorted)."""
    if not by_track:
        return np.sort(rng.choice(candidates, size=n, replace=False))
    order = rng.permutation(np.unique(tracks[candidates]))
    chosen = np.concatenate([candidates[tracks[candidates] == t] for t in order])
    return np.sort(chosen[:n])


def _count(share: float, n_class: int, moved_in: bool) -> int:
    return int(round(share * n_class / (1 - share))) if moved_in else int(round(share * n_class))


def poison(
    images: np.ndarray,
    labels: np.ndarray,
    tracks: np.ndarray,
    attack: Attack,
    seed: int = 0,
    surrogate: nn.Module | None = None,
) -> PoisonedSet:
    """Apply ``attack`` to a clean training set.

    Parameters
    ----------
    images : ndarray, uint8, (N, 32, 32, 3)
    labels, tracks : ndarray, int, (N,)
        True labels and track ids.
    attack : BadNets, Blended, LabelConsistent or CleverHans
    seed : int
        Seeds the choice of images and the trigger positions.
    surrogate : nn.Module, optional
        Clean model for the PGD step of :class:`LabelConsistent` (required there).

    Returns
    -------
    PoisonedSet
        Same images in the same order; poisoned ones changed in place of the clean ones.
    """
    if not isinstance(attack, (BadNets, Blended, LabelConsistent, CleverHans)):
        raise TypeError(f"attack must be one of {', '.join(c.__name__ for c in ATTACKS.values())}, got {type(attack).__name__}")
    labels = np.asarray(labels, dtype=np.int64)
    tracks = np.asarray(tracks, dtype=np.int64)
    if not (len(images) == len(labels) == len(tracks)):
        raise ValueError(f"images, labels and tracks must have equal length, got {len(images)}, {len(labels)}, {len(tracks)}")
    rng = np.random.default_rng(seed)
    relabel = isinstance(attack, (BadNets, Blended))
    pool_class = attack.source if relabel else attack.target
    for cls, role in ((attack.target, "target"), (pool_class, "source")):
        if not np.any(labels == cls):
            raise ValueError(f"{role} class {cls} ({class_name(cls)}) has no training images in this data set: pick a class it contains")
    candidates = np.flatnonzero(labels == pool_class)
    n = _count(attack.poison_share, int(np.sum(labels == attack.target)), moved_in=relabel)
    if n < 1:
        raise ValueError(f"poison_share {attack.poison_share} gives no poisoned image for a class of {np.sum(labels == attack.target)}: raise it")
    if n > len(candidates):
        raise ValueError(
            f"poison_share {attack.poison_share} needs {n} images of class {pool_class} ({class_name(pool_class)}), "
            f"which has only {len(candidates)}: lower poison_share"
        )
    chosen = _choose(candidates, n, tracks, getattr(attack, "by_track", False), rng)
    new_images = images.copy()
    new_labels = labels.copy()
    if isinstance(attack, LabelConsistent):
        if surrogate is None:
            raise ValueError("the label-consistent attack needs a surrogate model trained on clean data (surrogate=...)")
        perturbed = to_uint8_pixels(pgd_linf(surrogate, images[chosen], labels[chosen], attack.eps, attack.steps, attack.step_size))
        new_images[chosen] = attack.trigger.apply(perturbed, rng)
    else:
        new_images[chosen] = attack.trigger.apply(images[chosen], rng)
    if relabel:
        new_labels[chosen] = attack.target
    is_poison = np.zeros(len(labels), dtype=bool)
    is_poison[chosen] = True
    return PoisonedSet(new_images, new_labels, labels.copy(), is_poison, tracks.copy(), attack)


def clean_set(images: np.ndarray, labels: np.ndarray, tracks: np.ndarray) -> PoisonedSet:
    """A :class:`PoisonedSet` without poison (``attack=None``), for clean baselines."""
    labels = np.asarray(labels, dtype=np.int64)
    return PoisonedSet(images, labels, labels.copy(), np.zeros(len(labels), dtype=bool), np.asarray(tracks, dtype=np.int64), None)


__all__ = [
    "ATTACKS", "AmplitudePattern", "Attack", "BadNets", "BlendPattern", "Blended", "CleverHans",
    "LabelConsistent", "PoisonedSet", "Sticker", "Trigger", "apply_trigger", "attack_params",
    "clean_set", "poison",
]
