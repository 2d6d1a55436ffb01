"""Content-addressed cache for expensive results (models, heatmaps, distance matrices).

An entry lives at ``artifacts/<kind>/<key>.<ext>`` where ``key`` is
:func:`poisondetect.config.stable_hash` of the config and of the code that made it.
Writes are atomic (temporary file in the same folder, then ``os.replace``), so an
interrupted run never leaves a half-written entry; torch files are loaded with
``weights_only=True``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import paths
from .config import stable_hash

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` only on success.

    The temporary name keeps the suffix, so writers that infer the format from
    the extension (matplotlib, numpy) work unchanged.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=f".tmp{target.suffix}")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the usual permissions of a new file
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def array_digest(*arrays: np.ndarray) -> str:
    """16-hex-digit hash of the dtype, shape and bytes of ``arrays``: keys results by the data they were made from."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(str((array.dtype.str, array.shape)).encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:16]


def entry_path(kind: str, key: str, ext: str) -> Path:
    """Path of a cache entry: ``artifacts/<kind>/<key>.<ext>``."""
    return paths.artifacts_dir() / kind / f"{key}.{ext}"


def cached_entry(kind: str, config: Any, ext: str, *code: Any) -> Path:
    """Path of the cache entry of ``config`` and ``code`` (whether or not it exists yet)."""
    return entry_path(kind, stable_hash(config, *code), ext)


def cached_arrays(kind: str, config: Any, compute: Callable[[], dict[str, np.ndarray]], *code: Any) -> dict[str, np.ndarray]:
    """Return ``compute()`` (a dict of arrays), cached as ``.npz`` by the hash of ``config`` and ``code``."""
    path = cached_entry(kind, config, "npz", *code)
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as stored:
                return {name: stored[name] for name in stored.files}
        except (OSError, ValueError) as error:  # corrupt entry: recompute below
            print(f"warning: ignoring unreadable cache entry {path} ({error}); recomputing")
    arrays = compute()
    with atomic_path(path) as tmp:
        np.savez(tmp, **arrays)
    return arrays


def cached_torch(kind: str, config: Any, compute: Callable[[], Any], *code: Any) -> Any:
    """Return ``compute()`` (tensors, state dicts, plain containers), cached with ``torch.save``.

    Loading uses ``torch.load(weights_only=True)``: only tensors and plain
    Python containers are accepted, never arbitrary pickled objects.
    """
    import torch

    path = cached_entry(kind, config, "pt", *code)
    if path.exists():
        try:
            return torch.load(path, weights_only=True, map_location="cpu")
        except Exception as error:  # corrupt entry: recompute below
            print(f"warning: ignoring unreadable cache entry {path} ({error}); recomputing")
    value = compute()
    with atomic_path(path) as tmp:
        torch.save(value, tmp)
    return value
