"""Which code makes each cached artifact, and the chained keys that tie every artifact to what it was made from.

The pipeline's artifacts and what each is made from::

    data ──> poisoned set ──> model ──┬─> heatmaps ────┐
                                      └─> activations ─┴─> detections

Every key holds the keys of its inputs and the :func:`step_code` of its own
step, so a change anywhere upstream gives new keys downstream: new LRP code
gives new heatmaps and detections but keeps the models; new training code
retrains the models and recomputes everything after them. Docstrings and
comments are not part of a code hash (:func:`poisondetect.config.code_hash`).
"""

from __future__ import annotations

import sys
from types import ModuleType

from .. import attacks, detection, explain, models, training
from ..config import check_dataset, code_hash
from ..data import base, classes, gtsrb, splits, synthetic, transforms

#: The steps of the pipeline, in order.
STEPS = ("data", "poison", "train", "explain", "activations", "detect")

#: The domain code each step runs (the data step adds the loader of its data set, see :data:`LOADERS`).
DOMAIN_CODE: dict[str, tuple[ModuleType, ...]] = {
    "data": (base, classes),
    "poison": (attacks.poisoning, attacks.triggers, attacks.pgd),
    "train": (training, models, splits, transforms),
    "explain": (explain, transforms),
    "activations": (models, transforms),
    "detect": (detection,),
}
#: The module that loads (or generates) each data set.
LOADERS: dict[str, ModuleType] = {"synth": synthetic, "gtsrb": gtsrb}

#: The experiment modules that drive each step (they declare it with :func:`drives`).
_DRIVERS: dict[str, list[ModuleType]] = {step: [] for step in STEPS}


def drives(module_name: str, *steps: str) -> None:
    """Declare that the experiment module ``module_name`` drives ``steps``: its code joins their code hash.

    Called once at the end of each driving module (``drives(__name__, "poison", "train")``).
    """
    module = sys.modules[module_name]
    for step in steps:
        if step not in _DRIVERS:
            raise ValueError(f"unknown step {step!r}: choose one of {', '.join(STEPS)}")
        if module not in _DRIVERS[step]:
            _DRIVERS[step].append(module)


def step_modules(step: str, dataset: str | None = None, detector: str | None = None) -> tuple[ModuleType, ...]:
    """The code of one step: the domain modules it runs and the experiment module that drives it.

    This is the one place that says which code makes which artifact. ``dataset``
    (``"synth"`` or ``"gtsrb"``) picks the loader of the ``"data"`` step;
    ``detector`` adds the code a registered detector declares beyond the
    detection package (the transport code of the GW detectors).
    """
    if step not in _DRIVERS:
        raise ValueError(f"unknown step {step!r}: choose one of {', '.join(STEPS)}")
    extra: tuple[ModuleType, ...] = ()
    if step == "data":
        if dataset is None:
            raise ValueError("the 'data' step needs the dataset ('synth' or 'gtsrb')")
        extra = (LOADERS[check_dataset(dataset)],)
    if step == "detect" and detector is not None:
        extra = detection.detector(detector).modules
    return (*DOMAIN_CODE[step], *extra, *_DRIVERS[step])


def step_code(step: str, dataset: str | None = None, detector: str | None = None) -> str:
    """Hash of the code of ``step`` (:func:`step_modules`), without docstrings and comments."""
    return code_hash(*step_modules(step, dataset, detector))
