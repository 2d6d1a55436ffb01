"""Profiles, dataset names and stable hashes of frozen experiment configs.

Profiles trade scale for time:

- ``smoke``: the test suite; seconds per notebook, tiny data, results meaningless
- ``quick``: default of ``make figures``; embedded SynthSigns, minutes
- ``full``: thesis scale, meant for real GTSRB

Chapters pick their per-profile settings with :func:`by_profile`; experiment
settings are frozen dataclasses whose :func:`stable_hash` keys the artifact cache.
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
from types import ModuleType
from typing import Any, TypeVar

PROFILES = ("smoke", "quick", "full")
DATASETS = ("synth", "gtsrb")

T = TypeVar("T")


def check_profile(profile: str) -> str:
    """Return ``profile`` or raise ``ValueError`` naming the valid choices."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    return profile


def check_dataset(dataset: str) -> str:
    """Return ``dataset`` or raise ``ValueError`` naming the valid choices."""
    if dataset not in DATASETS:
        raise ValueError(
            f"unknown dataset {dataset!r}: choose one of {', '.join(DATASETS)} "
            "('synth' is embedded and offline, 'gtsrb' reads $POISONDETECT_DATA/gtsrb32.npz)"
        )
    return dataset


def by_profile(profile: str, *, smoke: T, quick: T, full: T) -> T:
    """Pick the value for ``profile``: ``by_profile(p, smoke=1, quick=5, full=30)``."""
    return {"smoke": smoke, "quick": quick, "full": full}[check_profile(profile)]


def _canonical(value: Any) -> Any:
    """JSON-ready form of configs: dataclasses, tuples, numpy scalars, modules."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {"__type__": type(value).__name__, **{f.name: _canonical(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, ModuleType):
        return code_version(value)
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return value.item()
    if isinstance(value, float):
        return repr(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise TypeError(f"cannot hash config value of type {type(value).__name__}: {value!r}")


def code_version(*modules: ModuleType) -> str:
    """Short hash of the source code of ``modules``: changes when their code changes."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:12]


def stable_hash(*parts: Any) -> str:
    """16-hex-digit hash of configs, stable across runs and machines.

    Modules among ``parts`` contribute the hash of their source code, so a cache
    keyed by ``stable_hash(cfg, poisondetect.training)`` is invalidated when the
    training code changes.
    """
    text = json.dumps(_canonical(list(parts)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
