"""Heatmaps per second of LRP (and the gradient, for scale) for the three models on 2 CPU threads.

Prints one JSON object. ``--quick`` (or ``BENCH_QUICK=1``) measures fewer
images and one batch size. The weights are random (speed does not depend on
them), BatchNorm statistics are randomised so that the canonizer does real
work. Targets of the issue: the ~2,500 target-class images of a GTSRB
poisoned training set explained in under 20 s with ``net`` and under 2
minutes with ``inception``.

    .venv/bin/python benchmarks/bench_explain.py [--quick] [--models net inception] [--methods epsilon_plus_flat]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import torch

from poisondetect.explain import explain
from poisondetect.models import build_model

TARGET_IMAGES = 2500
TARGET_SECONDS = {"net": 20.0, "inception": 120.0}
#: The rules the detection chapter explains every class with (pixel-grid detectors, GW spaces).
DETECTION_RULES = ("epsilon_plus_flat", "gamma")


def randomised(name: str) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(name)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.running_mean.normal_(0, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def rate(model: torch.nn.Module, method: str, n: int, batch_size: int) -> float:
    x = torch.randn(n, 3, 32, 32)
    explain(model, x[:batch_size], 0, method, batch_size=batch_size, progress=False)  # warm-up
    start = time.perf_counter()
    explain(model, x, 0, method, batch_size=batch_size, progress=False)
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    parser.add_argument("--models", nargs="+", default=["net", "inception", "vgg16"])
    parser.add_argument("--methods", nargs="+", default=["epsilon_plus_flat", "gamma", "epsilon", "gradient"])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch_sizes = [128] if args.quick else [64, 256]
    results = {}
    for name in args.models:
        model = randomised(name)
        for method in args.methods:
            rates = {}
            for batch_size in batch_sizes:
                n = batch_size if args.quick else 256
                rates[batch_size] = rate(model, method, n, batch_size)
            best = max(rates, key=rates.get)
            entry = {
                "heatmaps_per_second": {str(b): round(r, 1) for b, r in rates.items()},
                "best_batch_size": best,
                "seconds_for_2500": round(TARGET_IMAGES / rates[best], 1),
            }
            if name in TARGET_SECONDS and method in DETECTION_RULES:
                entry["target_seconds"] = TARGET_SECONDS[name]
                entry["meets_target"] = entry["seconds_for_2500"] <= TARGET_SECONDS[name]
            results[f"{name}/{method}"] = entry
    print(json.dumps({
        "benchmark": "explain", "threads": args.threads, "quick": args.quick, "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(), "load_average_1min": round(os.getloadavg()[0], 2),
        "results": results,
    }, indent=1))


if __name__ == "__main__":
    main()
