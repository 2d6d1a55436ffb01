"""Training throughput of each model on a fixed number of CPU threads; prints one JSON object.

- ``throughput``: training images per second (Adam step, batch 128, with and
  without augmentation) for ``net``, ``inception`` and ``vgg16``, on random
  uint8 images (speed does not depend on the content).
- ``gtsrb_epoch_net``: one epoch of the small network over the track-wise
  training split of the full GTSRB training set, *measured* when
  ``$POISONDETECT_DATA/gtsrb32.npz`` exists and ``--quick`` is not given,
  otherwise *extrapolated* from the throughput (the JSON says which).
- ``bare_step_net``: images per second of the bare Adam step (forward, backward, update) of
  the small network on one fixed, already normalised batch of 128, beside ``fit``'s
  throughput: their ratio is what data handling and bookkeeping cost.
- ``two_workers_net``: the small network trained in two processes of one thread each
  at once, total images per second, against one process on ``--threads`` threads: whether
  training independent models side by side would pay on this machine (on an idle 2-core
  machine it did not: ratio 1.01, and two quick SynthSigns models took 31.0 s either way,
  so the package trains one model at a time).
- ``chapter02_quick`` (only with ``--chapter``): wall time of the quick profile of
  notebook 02 from an empty model cache (a temporary artifacts folder; the
  SynthSigns data are generated there too, unless ``--reuse-data``).

Targets (issue 3): one GTSRB epoch of ``net`` under 60 s on 2 cores; chapter 02
quick under 4 minutes.

    .venv/bin/python benchmarks/bench_training.py --threads 2 [--quick] [--chapter]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
import torch.nn.functional as F

from poisondetect import paths
from poisondetect.models import MODELS, build_model
from poisondetect.training import TrainConfig, fit


def throughput(name: str, n_images: int, augment: bool) -> float:
    """Training images per second of one epoch over ``n_images`` random images (after one warm-up batch)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n_images, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, 43, size=n_images)
    torch.manual_seed(0)
    model = build_model(name)
    fit(model, images[:128], labels[:128], images[:0], labels[:0], TrainConfig(epochs=1, augment=augment), progress=False)
    history = fit(model, images, labels, images[:0], labels[:0], TrainConfig(epochs=1, augment=augment), progress=False)
    return round(history["images_per_second"], 1)


def bare_step(steps: int = 60) -> float:
    """Images per second of ``steps`` bare Adam steps of ``net`` on one normalised channels-last batch of 128."""
    torch.manual_seed(0)
    model = build_model("net").to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(128, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 43, (128,))
    for k in range(steps + 5):  # 5 warm-up steps
        if k == 5:
            start = time.perf_counter()
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return round(128 * steps / (time.perf_counter() - start), 1)


def _one_thread_throughput(n_images: int) -> float:
    torch.set_num_threads(1)
    return throughput("net", n_images, augment=True)


def two_workers(n_images: int) -> dict:
    """Total images per second of two one-thread processes training ``net`` at the same time."""
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_one_thread_throughput, [128, 128]))  # start-up and imports outside the timing
        rates = list(pool.map(_one_thread_throughput, [n_images, n_images]))
    return {"images_per_second": round(sum(rates), 1), "per_worker": rates}


def gtsrb_epoch(measure: bool, net_rate: float) -> dict:
    from poisondetect import data
    from poisondetect.training import split

    cache = paths.data_dir() / "gtsrb32.npz"
    config = TrainConfig(epochs=1, augment=True)
    if not cache.exists():
        n_train = 31_367  # about 80 % of the 39,209 official training images (track-wise split)
        return {"how": f"extrapolated ({cache} missing)", "train_images": n_train, "seconds": round(n_train / net_rate, 1)}
    signs = data.load("gtsrb", "full")
    train_idx, val_idx = split(signs.train_labels, signs.train_tracks, config)
    if not measure:
        return {"how": "extrapolated from the net throughput with augmentation", "train_images": len(train_idx),
                "seconds": round(len(train_idx) / net_rate, 1)}
    torch.manual_seed(0)
    model = build_model("net")
    start = time.perf_counter()
    history = fit(model, signs.train_images[train_idx], signs.train_labels[train_idx],
                  signs.train_images[val_idx], signs.train_labels[val_idx], config, progress=False)
    return {"how": "measured (training epoch with augmentation plus validation)", "train_images": len(train_idx),
            "seconds": round(time.perf_counter() - start, 1), "val_acc": round(history["val_acc"][0], 4)}


def chapter02_quick(threads: int, reuse_data: bool) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "POISONDETECT_ARTIFACTS": os.path.join(tmp, "artifacts"),
               "POISONDETECT_FIGURES": os.path.join(tmp, "figures"), "OMP_NUM_THREADS": str(threads)}
        if reuse_data and (paths.artifacts_dir() / "synthsigns").exists():
            shutil.copytree(paths.artifacts_dir() / "synthsigns", os.path.join(tmp, "artifacts", "synthsigns"))
        start = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "poisondetect.pipeline", "--profile", "quick", "--dataset", "synth",
                              "--only", "02", "--output-dir", os.path.join(tmp, "nb")], env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
    return {"seconds": round(seconds, 1), "ok": run.returncode == 0, "data_reused": reuse_data,
            **({} if run.returncode == 0 else {"error": run.stderr[-2000:]})}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    parser.add_argument("--quick", action="store_true", help="fewer images per model; GTSRB epoch extrapolated")
    parser.add_argument("--chapter", action="store_true", help="also time the quick profile of notebook 02 from an empty cache")
    parser.add_argument("--reuse-data", action="store_true", help="with --chapter: copy the SynthSigns cache instead of regenerating it")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sizes = {"net": 1024, "inception": 256, "vgg16": 256} if args.quick else {"net": 4096, "inception": 512, "vgg16": 512}
    result: dict = {"threads": args.threads, "load_average": [round(x, 2) for x in os.getloadavg()], "throughput": {}}
    for name in MODELS:
        result["throughput"][name] = {
            "images_per_second": throughput(name, sizes[name], augment=False),
            "images_per_second_augmented": throughput(name, sizes[name], augment=True),
            "images": sizes[name],
        }
    net_rate = result["throughput"]["net"]["images_per_second_augmented"]
    bare = bare_step()
    result["bare_step_net"] = {"images_per_second": bare, "fit_over_bare": round(net_rate / bare, 3)}
    workers = two_workers(sizes["net"])
    result["two_workers_net"] = {**workers, "ratio_to_one_process": round(workers["images_per_second"] / net_rate, 2)}
    result["gtsrb_epoch_net"] = gtsrb_epoch(measure=not args.quick, net_rate=net_rate)
    result["gtsrb_epoch_net"]["target_seconds"] = 60
    if args.chapter:
        result["chapter02_quick"] = {**chapter02_quick(args.threads, args.reuse_data), "target_seconds": 240}
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
