"""Speed of the evasion attacks on the small network: PGD against ART's, DeepFool and C&W rates, black-box queries.

Prints one JSON object:

- ``pgd``: PGD-20 (L-infinity, 8/255, step 2/255, random start) on 1,000 SynthSigns
  test images, ours and ART's ``ProjectedGradientDescent`` on the same model and
  inputs in one run, with the ratio ``art_seconds / ours_seconds`` (target: >= 1,
  ours at least as fast) and both accuracies under attack;
- ``deepfool`` and ``cw``: images per second (DeepFool: 50 iterations at most,
  10 candidate classes; C&W: 5 binary-search steps of 50 Adam iterations);
- ``black_box``: success rate and mean queries per successful attack of ZOO and
  AutoZOOM at 8/255 with a budget of 2,000 queries, on correctly classified images.

The model is the cached clean small network of the quick profile (trained on
first use). ``--quick`` (or ``BENCH_QUICK=1``) uses fewer images.

    .venv/bin/python benchmarks/bench_adversarial.py [--quick] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import torch
from art.attacks.evasion import ProjectedGradientDescent
from art.estimators.classification import PyTorchClassifier

from poisondetect import data
from poisondetect.adversarial import autozoom, carlini_wagner_l2, deepfool, pgd, queries_per_success, robust_accuracy, zoo
from poisondetect.adversarial.base import pixels
from poisondetect.experiments import AttackExperiment, poisoned_model
from poisondetect.data.transforms import MEAN, STD

EPS, STEP, STEPS = 8 / 255, 2 / 255, 20


def timed(call):
    start = time.perf_counter()
    value = call()
    return value, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", default=os.environ.get("BENCH_QUICK") == "1")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n_pgd, n_minimal, n_black = (200, 50, 10) if args.quick else (1000, 200, 40)
    model, _, _ = poisoned_model(AttackExperiment(dataset="synth", profile="quick", attack=None), progress=False)
    signs = data.load("synth", "quick")
    x = pixels(signs.test_images[:n_pgd])
    y = signs.test_labels[:n_pgd]

    ours, ours_s = timed(lambda: pgd(model, x, y, EPS, steps=STEPS, step_size=STEP, batch_size=250))
    art = PyTorchClassifier(model, torch.nn.CrossEntropyLoss(), input_shape=(3, 32, 32), nb_classes=43,
                            clip_values=(0.0, 1.0), preprocessing=(np.array(MEAN).reshape(3, 1, 1), np.array(STD).reshape(3, 1, 1)))
    attack = ProjectedGradientDescent(art, norm=np.inf, eps=EPS, eps_step=STEP, max_iter=STEPS, num_random_init=1,
                                      batch_size=250, verbose=False)
    theirs, art_s = timed(lambda: attack.generate(x.numpy(), y=y))
    art_acc = float((art.predict(theirs).argmax(1) == y).mean())

    df, df_s = timed(lambda: deepfool(model, x[:n_minimal], y[:n_minimal]))
    cw, cw_s = timed(lambda: carlini_wagner_l2(model, x[:n_minimal], y[:n_minimal], search_steps=5, steps=50))
    correct = np.flatnonzero(art.predict(x.numpy()).argmax(1) == y)[:n_black]  # correctly classified only
    black = {name: call() for name, call in {
        "zoo": lambda: zoo(model, x[correct], y[correct], EPS, budget=2000, coordinates=64),
        "autozoom": lambda: autozoom(model, x[correct], y[correct], EPS, budget=2000, directions=20),
    }.items()}
    print(json.dumps({
        "machine": platform.processor() or platform.machine(), "threads": args.threads, "quick": args.quick,
        "pgd": {"images": n_pgd, "steps": STEPS, "ours_seconds": round(ours_s, 2), "art_seconds": round(art_s, 2),
                "ratio_art_over_ours": round(art_s / ours_s, 2), "ours_accuracy": robust_accuracy(ours, y),
                "art_accuracy": art_acc, "ours_at_least_as_fast": ours_s <= art_s},
        "deepfool": {"images": n_minimal, "images_per_second": round(n_minimal / df_s, 1),
                     "success": df.success_rate},
        "cw": {"images": n_minimal, "images_per_second": round(n_minimal / cw_s, 1), "success": cw.success_rate},
        "black_box": {name: {"images": len(correct), "budget": 2000, "success": r.success_rate,
                             "queries_per_success": queries_per_success(r)} for name, r in black.items()},
    }, indent=1))


if __name__ == "__main__":
    main()
