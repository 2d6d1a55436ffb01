from dataclasses import dataclass

import numpy as np
import pytest

from poisondetect import config, paths


@dataclass(frozen=True)
class Cfg:
    lr: float = 1e-3
    shares: tuple = (0.33, 0.1)


def test_stable_hash_is_deterministic_and_sensitive():
    assert config.stable_hash(Cfg()) == config.stable_hash(Cfg())
    assert config.stable_hash(Cfg()) != config.stable_hash(Cfg(lr=1e-4))
    assert config.stable_hash(Cfg()) != config.stable_hash(Cfg(shares=(0.33,)))
    # dict order does not matter, numpy scalars hash like Python numbers
    assert config.stable_hash({"a": 1, "b": 2}) == config.stable_hash({"b": 2, "a": 1})
    assert config.stable_hash({"n": np.int64(3)}) == config.stable_hash({"n": 3})


def test_stable_hash_includes_module_source():
    assert config.stable_hash(Cfg(), config) != config.stable_hash(Cfg(), paths)


def test_stable_hash_rejects_unhashable_values():
    with pytest.raises(TypeError, match="cannot hash config value"):
        config.stable_hash({"f": object()})


def test_by_profile_and_checks():
    assert config.by_profile("smoke", smoke=1, quick=2, full=3) == 1
    assert config.by_profile("full", smoke=1, quick=2, full=3) == 3
    with pytest.raises(ValueError, match="unknown profile 'fast'.*smoke, quick, full"):
        config.by_profile("fast", smoke=1, quick=2, full=3)
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        config.check_dataset("mnist")


def test_paths_follow_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("POISONDETECT_DATA", str(tmp_path))
    assert paths.data_dir() == tmp_path.resolve()
    monkeypatch.delenv("POISONDETECT_DATA")
    assert paths.data_dir() == paths.ROOT / "data"
