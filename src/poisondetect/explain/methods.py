"""The registry of explanation methods, and the settings they share.

Every method registers itself once, beside its implementation, with its name,
its label for figures and its kind:

- ``"lrp"`` (:mod:`.lrp`): the entry builds the rules of a zennit composite,
  ``rules(settings) -> Rules``;
- ``"attribution"`` (:mod:`.attributions`): the entry computes relevance directly,
  ``attribute(model, x, target, settings) -> Tensor (n, 3, H, W)``.

:func:`poisondetect.explain.explain` looks methods up here; nothing else lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class ExplainSettings:
    """Parameters of the explanation methods (part of the cache key of heatmaps).

    Attributes
    ----------
    epsilon : float
        Relative :math:`\\epsilon` of the LRP-:math:`\\epsilon` rule (times the per-image rms of the layer's pre-activations).
    gamma : float
        :math:`\\gamma` of the LRP-:math:`\\gamma` rule.
    stabilizer : float
        Absolute stabiliser of every LRP denominator.
    smoothgrad_noise, smoothgrad_samples : float, int
        Noise level (fraction of the image's value range) and number of samples of SmoothGrad.
    ig_steps : int
        Riemann steps of Integrated Gradients.
    occlusion_window, occlusion_stride : int
        Square occlusion window and its stride (pixels).
    gradcam_layer : str or None
        Module name for Grad-CAM; ``None`` picks the last convolution with at least 8x8 outputs.
    seed : int
        Seed of SmoothGrad's noise.
    """

    epsilon: float = 0.25
    gamma: float = 0.25
    stabilizer: float = 1e-6
    smoothgrad_noise: float = 0.1
    smoothgrad_samples: int = 20
    ig_steps: int = 20
    occlusion_window: int = 4
    occlusion_stride: int = 2
    gradcam_layer: str | None = None
    seed: int = 0


@dataclass(frozen=True)
class ExplanationMethod:
    """One registered explanation method: ``name``, ``label`` (figures), ``kind`` and its function ``run``."""

    name: str
    label: str
    kind: Literal["lrp", "attribution"]
    run: Callable[..., Any]


#: Every registered method, in registration order.
EXPLANATION_METHODS: dict[str, ExplanationMethod] = {}


def register_method(name: str, label: str, kind: Literal["lrp", "attribution"]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator registering a rule builder (``kind="lrp"``) or an attribution function as method ``name``."""
    if kind not in ("lrp", "attribution"):
        raise ValueError(f"kind must be 'lrp' or 'attribution', got {kind!r}")

    def decorate(run: Callable[..., Any]) -> Callable[..., Any]:
        if name in EXPLANATION_METHODS:
            raise ValueError(f"explanation method {name!r} is registered twice")
        EXPLANATION_METHODS[name] = ExplanationMethod(name, label, kind, run)
        return run

    return decorate


def explanation_method(name: str) -> ExplanationMethod:
    """The registered method ``name``, or a ``ValueError`` listing the known ones."""
    try:
        return EXPLANATION_METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}: choose one of {', '.join(EXPLANATION_METHODS)}") from None


def methods_of_kind(kind: str) -> tuple[str, ...]:
    """Names of the registered methods of ``kind`` (``"lrp"`` or ``"attribution"``)."""
    return tuple(name for name, method in EXPLANATION_METHODS.items() if method.kind == kind)
