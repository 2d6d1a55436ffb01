"""The detector registry: every detector declares itself once, with its name, labels, settings and inputs.

A detector is registered next to the function that implements it (as zennit
registers its composites)::

    @register("ac_pca", label="AC (PCA)", short="AC", settings=ActivationClusteringSettings,
              inputs=("activations",), description="Activation Clustering, penultimate layer, PCA")
    def _ac_pca(settings, activations):
        return activation_clustering(activations, settings.n_components, "pca", settings.seed)

Tables, legends and the experiment layer read :data:`DETECTORS`; nothing else
lists detectors. Each detector has its own small frozen settings dataclass, so
the cache key of one detector's result holds only its own settings.

Inputs a detector may ask for (the experiment layer provides them for one class):

- ``"activations"``: penultimate-layer activations, (n, D);
- ``"maps"``: channel-summed relevance maps (n, H, W) of the explanation method
  named by the settings field ``explanation``;
- ``"images"``: the uint8 images (n, H, W, 3).
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from .result import DetectionResult

#: Representations a detector can ask for.
INPUTS = ("activations", "maps", "images")


@dataclass(frozen=True)
class Detector:
    """One registered detector.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"gw_kmeans"``.
    label : str
        Name in legends and one-column tables, e.g. ``"HC (GW k-means)"``.
    short : str
        Name in tables with several columns per detector, e.g. ``"HC"``.
    description : str
        What it looks at, one line.
    settings : type
        Frozen dataclass of its parameters; ``settings()`` are the defaults.
    inputs : tuple of str
        Representations of :data:`INPUTS` passed to ``run`` as keyword arguments.
    run : callable
        ``run(settings, **inputs) -> DetectionResult`` (optionally with a ``progress`` keyword).
    modules : tuple of modules
        The code the detector runs (its cache key holds their code hash).
    """

    name: str
    label: str
    short: str
    description: str
    settings: type
    inputs: tuple[str, ...]
    run: Callable[..., DetectionResult]
    modules: tuple[ModuleType, ...]

    def __call__(self, settings: Any = None, progress: bool = False, **inputs: Any) -> DetectionResult:
        """Run on one class: ``DETECTORS["ac_pca"](activations=a)`` (default settings when ``None``).

        ``progress`` reaches detectors whose run function takes it (GW k-means).
        """
        settings = self.settings() if settings is None else settings
        if not isinstance(settings, self.settings):
            raise TypeError(f"detector {self.name!r} takes {self.settings.__name__}, got {type(settings).__name__}")
        missing = [name for name in self.inputs if name not in inputs]
        if missing:
            raise ValueError(f"detector {self.name!r} needs the inputs {', '.join(self.inputs)}; missing {', '.join(missing)}")
        options = {"progress": progress} if "progress" in inspect.signature(self.run).parameters else {}
        found = self.run(settings, **{name: inputs[name] for name in self.inputs}, **options)
        return dataclasses.replace(found, method=self.name)

    @property
    def explanation(self) -> bool:
        """Whether the detector looks at relevance maps (so its settings name an ``explanation``)."""
        return "maps" in self.inputs


#: Every registered detector, in registration order.
DETECTORS: dict[str, Detector] = {}


def register(name: str, *, label: str, short: str, settings: type, inputs: tuple[str, ...], description: str,
             modules: tuple[ModuleType, ...] = ()) -> Callable[[Callable[..., DetectionResult]], Callable[..., DetectionResult]]:
    """Decorator registering ``run(settings, **inputs)`` as detector ``name``.

    The module defining ``run`` is always part of ``modules``. A detector that
    needs maps must have a settings field ``explanation`` (the method that makes them).
    """
    if name in DETECTORS:
        raise ValueError(f"detector {name!r} is registered twice")
    unknown = [i for i in inputs if i not in INPUTS]
    if unknown:
        raise ValueError(f"detector {name!r}: unknown inputs {unknown}; choose from {', '.join(INPUTS)}")
    if not (dataclasses.is_dataclass(settings) and settings.__dataclass_params__.frozen):
        raise TypeError(f"detector {name!r}: settings must be a frozen dataclass, got {settings!r}")
    if "maps" in inputs and "explanation" not in {f.name for f in dataclasses.fields(settings)}:
        raise TypeError(f"detector {name!r} reads maps, so {settings.__name__} needs a field 'explanation'")

    def decorate(run: Callable[..., DetectionResult]) -> Callable[..., DetectionResult]:
        own = sys.modules[run.__module__]
        DETECTORS[name] = Detector(name, label, short, description, settings, tuple(inputs), run,
                                   (own, *[m for m in modules if m is not own]))
        return run

    return decorate


def detector(name: str) -> Detector:
    """The registered detector ``name``, or a ``ValueError`` listing the known ones."""
    try:
        return DETECTORS[name]
    except KeyError:
        raise ValueError(f"unknown detector {name!r}: choose one of {', '.join(DETECTORS)}") from None


def labels(short: bool = False) -> Mapping[str, str]:
    """``{name: label}`` of every detector (``short=True``: the table names)."""
    return {name: (d.short if short else d.label) for name, d in DETECTORS.items()}
