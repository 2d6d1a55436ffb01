"""Cache a deterministic call by what it is given: the attacks, evaluations and simulations of the chapters.

``cached(fgsm)`` is :func:`poisondetect.adversarial.fgsm` with a memory: the
result of ``fgsm(model, x, y, eps)`` is stored under ``artifacts/calls/<name>/``
by a key made of

- the code of the function's module and of every ``poisondetect`` module it
  imports, transitively (a change of the attack, of the model code or of the
  normalisation gives a new key; docstrings and comments do not),
- every argument: tensors and arrays by their bytes, modules by their class,
  parameters, buffers and training flag, functions (``preprocess``) by their
  qualified name, compiled code, defaults and closure, configs as :func:`poisondetect.config.stable_hash`
  sees them; ``progress`` is not part of the key.

The call runs with the torch random state seeded from the key and restored
afterwards, so a result depends on its arguments only, never on what ran before,
and a cached result equals a recomputation. Results may be tensors, arrays,
numbers, strings, containers of these, dataclasses of ``poisondetect``
(:class:`~poisondetect.adversarial.AttackResult`, ...) and a module with the
architecture of the call's first module argument (a trainer returns its model, trained).
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import hashlib
import importlib
import importlib.util
import inspect
import sys
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import torch
from torch import nn

from . import artifacts
from .config import code_hash, module_source, stable_hash

_PACKAGE = __name__.split(".")[0]
#: Modules that say where results are stored, not what they are: never part of a key.
_STORAGE = {f"{_PACKAGE}.artifacts", f"{_PACKAGE}.calls", f"{_PACKAGE}.paths"}


def _imported_modules(module: ModuleType) -> set[ModuleType]:
    """The ``poisondetect`` modules that ``module`` imports directly (``from .x import y``, ``import poisondetect.x``)."""
    found = set()
    package = module.__name__ if hasattr(module, "__path__") else module.__name__.rpartition(".")[0]
    for node in ast.walk(ast.parse(module_source(module))):
        if isinstance(node, ast.ImportFrom):
            base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level else node.module
            # ``from .x import y`` names the submodule x.y if there is one, else the module x
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in sys.modules else base for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found.update(sys.modules[name] for name in names
                     if name.split(".")[0] == _PACKAGE and name in sys.modules and name not in _STORAGE)
    return found


def code_modules(module_name: str) -> list[ModuleType]:
    """A module and every ``poisondetect`` module it imports, transitively, sorted by name (storage modules left out)."""
    seen, todo = set(), [sys.modules[module_name]]
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_imported_modules(module) - seen)
    return sorted(seen, key=lambda m: m.__name__)


@functools.cache
def dependency_code(module_name: str) -> str:
    """:func:`poisondetect.config.code_hash` of :func:`code_modules` (computed once per process)."""
    return code_hash(*code_modules(module_name))


def _digest(value: Any) -> Any:
    """A hashable stand-in for one argument (see the module docstring)."""
    if isinstance(value, nn.Module):
        return {"module": type(value).__qualname__, "training": value.training,
                "state": artifacts.array_digest(*(t.detach().cpu().numpy() for t in value.state_dict().values()))}
    if isinstance(value, torch.Tensor):
        return {"tensor": artifacts.array_digest(value.detach().cpu().numpy())}
    if isinstance(value, np.ndarray):
        return {"array": artifacts.array_digest(value)}
    if isinstance(value, (list, tuple)):
        return [_digest(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _digest(v) for k, v in value.items()}
    if isinstance(value, type):
        return {"class": f"{value.__module__}.{value.__qualname__}"}
    if inspect.isfunction(value):
        return _function_digest(value)
    if inspect.isbuiltin(value):
        return {"builtin": f"{value.__module__}.{value.__qualname__}"}
    if callable(value) and not dataclasses.is_dataclass(value):
        raise TypeError(f"cannot cache a call given the callable {value!r}: pass a function (its code is keyed) instead")
    return value


def _function_digest(function: Callable[..., Any]) -> dict:
    """A function argument (``preprocess=lambda v: v``) by its name, compiled code, defaults and closure.

    A ``poisondetect`` function it calls by name adds the code of its module (with
    :func:`dependency_code`); a function that reads a global *variable* cannot be
    keyed (the variable may change) and raises ``TypeError``.
    """
    code, called = function.__code__, []
    for name in code.co_names:
        value = function.__globals__.get(name)
        if inspect.isfunction(value) and value.__module__.split(".")[0] == _PACKAGE:
            called.append(dependency_code(value.__module__))
        elif value is not None and not (inspect.isfunction(value) or inspect.isbuiltin(value) or isinstance(value, (ModuleType, type))):
            raise TypeError(f"cannot cache a call given {function.__qualname__}: it reads the global variable {name!r}; "
                            "pass the value as an argument or a default instead")
    return {"function": f"{function.__module__}.{function.__qualname__}", "calls": called,
            "code": hashlib.sha256(code.co_code + repr(code.co_consts).encode()).hexdigest()[:16],
            "defaults": _digest(list(function.__defaults__ or ())),
            "closure": _digest([cell.cell_contents for cell in function.__closure__ or ()])}


def _encode(value: Any) -> Any:
    """Plain containers of tensors for ``torch.save`` (see :func:`poisondetect.artifacts.cached_torch`)."""
    if isinstance(value, nn.Module):
        return {"__module_state__": value.state_dict()}
    if isinstance(value, np.ndarray):
        return {"__ndarray__": torch.from_numpy(np.ascontiguousarray(value))}
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        kind = type(value)
        return {"__dataclass__": f"{kind.__module__}:{kind.__qualname__}",
                "fields": {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_encode(v) for v in value)
    return value


def _decode(value: Any, template: nn.Module | None) -> Any:
    """Inverse of :func:`_encode`; only dataclasses of ``poisondetect`` are rebuilt."""
    if isinstance(value, dict) and "__module_state__" in value:
        if template is None:
            raise TypeError("a cached module result needs a module argument of the same architecture")
        module = copy.deepcopy(template)
        module.load_state_dict(value["__module_state__"])
        return module
    if isinstance(value, dict) and "__ndarray__" in value:
        return value["__ndarray__"].numpy()
    if isinstance(value, dict) and "__dataclass__" in value:
        module_name, _, qualname = value["__dataclass__"].partition(":")
        if module_name.split(".")[0] != _PACKAGE:
            raise TypeError(f"refusing to rebuild {value['__dataclass__']} from the cache: not a {_PACKAGE} dataclass")
        kind = functools.reduce(getattr, qualname.split("."), importlib.import_module(module_name))
        if not dataclasses.is_dataclass(kind):
            raise TypeError(f"{value['__dataclass__']} is not a dataclass")
        return kind(**{name: _decode(v, template) for name, v in value["fields"].items()})
    if isinstance(value, dict):
        return {k: _decode(v, template) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_decode(v, template) for v in value)
    return value


def cached(function: Callable[..., Any]) -> Callable[..., Any]:
    """``function`` with its results cached by the key of its code and arguments (module docstring).

    The wrapper's ``timed`` attribute returns ``(result, seconds)``, where ``seconds``
    is the wall time the computation took when it ran (also on a cache hit, so a
    table of images per second reports the measured speed, not the loading).
    """
    name = f"{function.__module__}.{function.__qualname__}"

    def timed(*args: Any, **kwargs: Any) -> tuple[Any, float]:
        keyed = {k: v for k, v in kwargs.items() if k != "progress"}
        key = stable_hash(name, dependency_code(function.__module__), _digest(list(args)), _digest(keyed))
        template = next((a for a in (*args, *kwargs.values()) if isinstance(a, nn.Module)), None)

        def compute() -> dict:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(key, 16) % 2**63)
                start = time.perf_counter()
                result = function(*args, **kwargs)
                return {"result": _encode(result), "seconds": time.perf_counter() - start}

        stored = artifacts.cached_torch(f"calls/{name}", key, compute)
        return _decode(stored["result"], template), float(stored["seconds"])

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return timed(*args, **kwargs)[0]

    wrapper.timed = timed
    return wrapper
