"""MinMax examples per second on MNIST: all images of a batch at once against a Python loop over images.

Prints one JSON object. The issue's setting is 100 MNIST images at 1,000 MinMax
iterations on 2 CPU threads; the per-image loop is timed on ``--loop-images`` of
them (each a separate game of the same length) and its rate extrapolated, since a
loop over all 100 would take the better part of an hour on this machine. ``--quick``
(or ``BENCH_QUICK=1``) shortens both to a smoke-sized run. The classifier has
random weights (speed does not depend on them).

    .venv/bin/python benchmarks/bench_mine.py [--quick] [--images 100] [--iterations 1000] [--loop-images 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from poisondetect.adversarial import CarliniWagnerNet, MineSettings, MinMaxSettings, minmax_attack, mnist


def seconds(model, x, y, settings, batch_size) -> float:
    start = time.perf_counter()
    minmax_attack(model, x, y, settings, preprocess=lambda v: v, batch_size=batch_size)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--loop-images", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if args.quick:
        args.images, args.iterations, args.loop_images = 20, 50, 2
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    split = mnist(n_test=max(100, args.images), n_train=10)
    x, y = split.x_test[:args.images], split.y_test[:args.images]
    model = CarliniWagnerNet(1, 28, 10, width=16).eval()
    y = model(x).argmax(1).detach()  # attack the model's own predictions, so no image succeeds at once
    settings = MinMaxSettings(eps=0.3, iterations=args.iterations, alpha=0.01, beta=0.1, mine=MineSettings(k=16, steps=20))
    batched = seconds(model, x, y, settings, batch_size=args.images)
    looped = sum(seconds(model, x[i:i + 1], y[i:i + 1], settings, batch_size=1) for i in range(args.loop_images))
    batched_rate, loop_rate = args.images / batched, args.loop_images / looped
    print(json.dumps({
        "benchmark": "minmax_mnist", "images": args.images, "iterations": args.iterations, "threads": args.threads,
        "batched_seconds": round(batched, 2), "batched_examples_per_s": round(batched_rate, 4),
        "loop_images_timed": args.loop_images, "loop_seconds": round(looped, 2), "loop_examples_per_s": round(loop_rate, 4),
        "batched_over_loop": round(batched_rate / loop_rate, 2), "machine": platform.machine(),
    }, indent=1))


if __name__ == "__main__":
    main()
