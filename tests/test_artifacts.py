from dataclasses import dataclass

import numpy as np
import pytest
import torch

from poisondetect import artifacts, paths


@dataclass(frozen=True)
class Cfg:
    n: int = 3


def test_cached_arrays_computes_once_and_reloads(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return {"x": np.arange(5.0)}

    first = artifacts.cached_arrays("demo", Cfg(), compute)
    second = artifacts.cached_arrays("demo", Cfg(), compute)
    np.testing.assert_array_equal(first["x"], second["x"])
    assert len(calls) == 1
    artifacts.cached_arrays("demo", Cfg(n=4), compute)
    assert len(calls) == 2
    assert len(list((paths.artifacts_dir() / "demo").glob("*.npz"))) == 2


def test_cached_torch_uses_safe_loading_and_recovers_from_corruption():
    state = {"w": torch.randn(3, 2)}
    artifacts.cached_torch("demo_t", Cfg(), lambda: state)
    loaded = artifacts.cached_torch("demo_t", Cfg(), lambda: pytest.fail("should not recompute"))
    torch.testing.assert_close(loaded["w"], state["w"])
    entry = next((paths.artifacts_dir() / "demo_t").glob("*.pt"))
    entry.write_bytes(b"not a torch file")
    recomputed = artifacts.cached_torch("demo_t", Cfg(), lambda: {"w": torch.zeros(1)})
    assert recomputed["w"].shape == (1,)


def test_atomic_path_leaves_nothing_behind_on_failure(tmp_path):
    target = tmp_path / "out" / "table.tex"
    with pytest.raises(RuntimeError):
        with artifacts.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert not target.exists()
    assert list(target.parent.iterdir()) == []
    with artifacts.atomic_path(target) as tmp:
        tmp.write_text("whole")
    assert target.read_text() == "whole"
    assert [p.name for p in target.parent.iterdir()] == ["table.tex"]


def test_atomic_path_gives_normal_file_permissions(tmp_path):
    import os
    import stat

    target = tmp_path / "figure.png"
    with artifacts.atomic_path(target) as tmp:
        tmp.write_bytes(b"x")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def _slow_entry(log: str, barrier) -> None:
    """Worker of the lock test: ask for one entry at the same moment as the other worker, compute it slowly."""
    import time

    def compute():
        with open(log, "a") as handle:
            handle.write("computed\n")
        time.sleep(1.0)
        return {"x": np.arange(3.0)}

    barrier.wait(timeout=60)
    np.testing.assert_array_equal(artifacts.cached_arrays("shared", Cfg(), compute)["x"], np.arange(3.0))


def test_processes_sharing_the_cache_compute_a_missing_entry_once(tmp_path):
    import multiprocessing

    log = tmp_path / "log.txt"
    context = multiprocessing.get_context("spawn")  # the children read $POISONDETECT_ARTIFACTS set by the fixture
    barrier = context.Barrier(2)
    workers = [context.Process(target=_slow_entry, args=(str(log), barrier)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    assert log.read_text() == "computed\n"
    assert not list((paths.artifacts_dir() / "shared").glob(".*.lock"))  # no lock file left behind
