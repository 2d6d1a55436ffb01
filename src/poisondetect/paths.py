"""Repository-relative paths. No other module builds paths with '..'.

Environment variables (read at call time, so tests can redirect them):

- ``POISONDETECT_DATA``: folder with ``gtsrb32.npz`` (default ``<root>/data``)
- ``POISONDETECT_ARTIFACTS``: cache of models, heatmaps, distances (default ``<root>/artifacts``)
- ``POISONDETECT_FIGURES``: generated figures, tables, numbers (default ``<root>/figures``)
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
THESIS = ROOT / "thesis"
BUILD = ROOT / "build"


def _from_env(variable: str, default: Path) -> Path:
    value = os.environ.get(variable)
    return Path(value).expanduser().resolve() if value else default


def data_dir() -> Path:
    """Folder of the real GTSRB cache (``$POISONDETECT_DATA`` or ``<root>/data``)."""
    return _from_env("POISONDETECT_DATA", ROOT / "data")


def artifacts_dir() -> Path:
    """Content-addressed cache (``$POISONDETECT_ARTIFACTS`` or ``<root>/artifacts``)."""
    return _from_env("POISONDETECT_ARTIFACTS", ROOT / "artifacts")


def figures_dir() -> Path:
    """Generated outputs the thesis includes (``$POISONDETECT_FIGURES`` or ``<root>/figures``)."""
    return _from_env("POISONDETECT_FIGURES", ROOT / "figures")
