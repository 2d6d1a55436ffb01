"""Scan your own model and training set for a backdoor: ``poisondetect scan`` (see :mod:`.cli`).

- :mod:`.inputs` reads what a user brings: the model, its normalisation, the images;
- :mod:`.run` ranks the classes and runs the detectors on the suspicious ones;
- :mod:`.html` writes the self-contained HTML report.
"""

from .inputs import ImageSet, Normalization, load_images, load_model
from .run import DEFAULT_DETECTORS, ScanResult, ScanSettings, scan

__all__ = ["DEFAULT_DETECTORS", "ImageSet", "Normalization", "ScanResult", "ScanSettings", "load_images", "load_model", "scan"]
