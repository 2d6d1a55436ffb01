"""Profiles, dataset names and stable hashes of frozen experiment configs.

Profiles trade scale for time:

- ``smoke``: the test suite; seconds per notebook, tiny data, results meaningless
- ``quick``: default of ``make figures``; embedded SynthSigns, minutes
- ``full``: thesis scale, meant for real GTSRB

Chapters pick their per-profile settings with :func:`by_profile`; experiment
settings are frozen dataclasses whose :func:`stable_hash` keys the artifact cache;
:func:`code_hash` fingerprints the code that made an artifact.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import importlib
import inspect
import json
import pkgutil
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
        return code_hash(value)
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        return value.item()
    if isinstance(value, float):
        return repr(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    raise TypeError(f"cannot hash config value of type {type(value).__name__}: {value!r}")


def _without_docstrings(tree: ast.AST) -> ast.AST:
    """Drop the docstring of the module and of every class and function (in place)."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
    return tree


def module_source(module: ModuleType) -> str:
    """The source code of ``module`` (what :func:`code_hash` parses)."""
    return inspect.getsource(module)


def _with_submodules(module: ModuleType) -> list[ModuleType]:
    """A module, or a package with all its submodules (sorted by name)."""
    if not hasattr(module, "__path__"):
        return [module]
    names = sorted(f"{module.__name__}.{info.name}" for info in pkgutil.iter_modules(module.__path__))
    return [module] + [m for name in names for m in _with_submodules(importlib.import_module(name))]


def code_hash(*modules: ModuleType) -> str:
    """Short hash of what the code of ``modules`` does: changes with the code, not with its prose.

    The hash is taken from each module's abstract syntax tree without
    docstrings (comments, blank lines and formatting never reach the tree),
    so fixing a typo in a docstring or a comment invalidates no cache entry.
    A package stands for itself and all its submodules.
    """
    digest = hashlib.sha256()
    for module in (m for given in modules for m in _with_submodules(given)):
        digest.update(module.__name__.encode())
        digest.update(_tree_dump(module_source(module)).encode())
    return digest.hexdigest()[:12]


@functools.lru_cache(maxsize=None)
def _tree_dump(source: str) -> str:
    """The syntax tree of ``source`` without docstrings, as text (memoised: keys are computed often)."""
    return ast.dump(_without_docstrings(ast.parse(source)), include_attributes=False)


def stable_hash(*parts: Any) -> str:
    """16-hex-digit hash of configs, stable across runs and machines.

    Modules among ``parts`` contribute their :func:`code_hash`, so a cache
    keyed by ``stable_hash(cfg, poisondetect.training)`` is invalidated when the
    training code changes (but not when its docstrings do).
    """
    text = json.dumps(_canonical(list(parts)), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
