"""Content-addressed cache for expensive results (models, heatmaps, distance matrices).

An entry lives at ``artifacts/<kind>/<key>.<ext>`` where ``key`` is
:func:`poisondetect.config.stable_hash` of the config and of the code that made it.
Writes are atomic (temporary file in the same folder, then ``os.replace``), so an
interrupted run never leaves a half-written entry; a missing entry is computed
under a per-entry file lock, so processes sharing the cache compute it once;
torch files are loaded with ``weights_only=True``.
"""

from __future__ import annotations

import contextlib
import fcntl
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


@contextlib.contextmanager
def entry_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the cache entry ``path`` (a ``.<name>.lock`` file beside it).

    Two processes that need the same missing entry (two chapters run side by side)
    then compute it once: the second waits and loads what the first wrote.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.parent / f".{path.name}.lock"
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            # a process still waiting holds the old file and finds the entry written; none is left behind
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _cached(path: Path, load: Callable[[Path], Any], save: Callable[[Any, Path], None], compute: Callable[[], Any]) -> Any:
    """Load the entry ``path``, or compute and write it under :func:`entry_lock`; a corrupt entry is recomputed."""
    def loaded() -> tuple[bool, Any]:
        if not path.exists():
            return False, None
        try:
            return True, load(path)
        except Exception as error:  # corrupt entry: recompute
            print(f"warning: ignoring unreadable cache entry {path} ({error}); recomputing")
            return False, None

    found, value = loaded()
    if found:
        return value
    with entry_lock(path):
        found, value = loaded()  # another process may have written it while we waited
        if found:
            return value
        value = compute()
        with atomic_path(path) as tmp:
            save(value, tmp)
    return value


def cached_arrays(kind: str, config: Any, compute: Callable[[], dict[str, np.ndarray]], *code: Any) -> dict[str, np.ndarray]:
    """Return ``compute()`` (a dict of arrays), cached as ``.npz`` by the hash of ``config`` and ``code``."""
    def load(path: Path) -> dict[str, np.ndarray]:
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in stored.files}

    return _cached(cached_entry(kind, config, "npz", *code), load, lambda arrays, tmp: np.savez(tmp, **arrays), compute)


def cached_torch(kind: str, config: Any, compute: Callable[[], Any], *code: Any) -> Any:
    """Return ``compute()`` (tensors, state dicts, plain containers), cached with ``torch.save``.

    Loading uses ``torch.load(weights_only=True)``: only tensors and plain
    Python containers are accepted, never arbitrary pickled objects.
    """
    import torch

    return _cached(cached_entry(kind, config, "pt", *code), lambda path: torch.load(path, weights_only=True, map_location="cpu"),
                   torch.save, compute)
