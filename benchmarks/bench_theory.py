"""Speed of the finite-N simulation of chapter 8: vectorised over runs (and settings) against a plain per-example loop.

All three variants simulate the same on-line adversarial training (scenario 2 of
the chapter: p = 0.7, rho = 2, v1 = v2 = 1, eta_w = 0.04, eta_b = 0.2,
epsilon = 1) at N = 1000 with the same random numbers:

- ``loop``: :func:`poisondetect.theory.simulate_loop`, one example of one run at a
  time, the literal update of the vector w (what a reader would write);
- ``vectorised``: :func:`poisondetect.theory.simulate`, all runs of one setting in
  one (runs, N) array, with the new length of w computed from scalars;
- ``vectorised, 6 settings``: :func:`poisondetect.theory.simulate_settings` with the
  six settings of the chapter sharing their random numbers, as the notebook runs them.

Speeds are example-steps per second (one example for one student = one step), the
median of ``--repeats`` timings, for 5 runs per setting (the chapter's choice) and 20;
the loop and vectorised variants also check that they return the same order
parameters. Random numbers are drawn by the same function in all variants and
counted in every timing: N = 1000 normal numbers per example-step cost about as much
as the loop's arithmetic, so vectorising over runs alone gains little at 5 runs; sharing
the noise between settings (common random numbers) is what makes the chapter's
simulation several times faster. The machine is shared: the load average is
reported, and the ratios, measured side by side, are what to compare.

Run: ``.venv/bin/python benchmarks/bench_theory.py [--quick]``; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from poisondetect import theory as th


def median_seconds(function, repeats: int):
    """Result of ``function`` and the median of ``repeats`` wall-clock timings."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return result, float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (alpha = 1 instead of 4)")
    parser.add_argument("--runs", type=int, nargs="+", default=[5, 20], help="independent runs per setting (default 5, as in the chapter, and 20)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    N, alpha = 1000, 1.0 if args.quick else 4.0
    mixture = th.Mixture(p=0.7, rho=2.0, v1=1.0, v2=1.0)
    training = th.Training(eta_w=0.04, eta_b=0.2, epsilon=1.0)
    settings = [(m, th.Training(eta_w=0.04, eta_b=0.2, epsilon=e, epsilon_distribution=d, only_non_robust=g))
                for m, e, d, g in ((th.Mixture(p=0.5), 0.0, "fixed", False), (th.Mixture(p=0.5), 1.0, "fixed", False),
                                   (mixture, 0.0, "fixed", False), (mixture, 1.0, "fixed", False),
                                   (mixture, 2.0, "uniform", False), (mixture, 1.0, "fixed", True))]
    steps = int(alpha * N)
    results = []
    for runs in args.runs:
        common = dict(N=N, alpha_max=alpha, runs=runs, n_records=5, seed=0)
        loop, loop_s = median_seconds(lambda: th.simulate_loop(mixture, training, **common), args.repeats)
        fast, fast_s = median_seconds(lambda: th.simulate(mixture, training, **common), args.repeats)
        _, many_s = median_seconds(lambda: th.simulate_settings(settings, **common), args.repeats)
        loop_rate, fast_rate = steps * runs / loop_s, steps * runs / fast_s
        many_rate = steps * runs * len(settings) / many_s
        results.append({
            "runs": runs,
            "loop_example_steps_per_s": round(loop_rate),
            "vectorised_example_steps_per_s": round(fast_rate),
            "vectorised_6_settings_example_steps_per_s": round(many_rate),
            "ratio_vectorised_over_loop": round(fast_rate / loop_rate, 2),
            "ratio_6_settings_over_loop": round(many_rate / loop_rate, 2),
            "max_abs_difference_R": float(np.abs(loop.R - fast.R).max()),
            "max_abs_difference_b": float(np.abs(loop.b - fast.b).max()),
            "seconds": {"loop": round(loop_s, 3), "vectorised": round(fast_s, 3), "vectorised_6_settings": round(many_s, 3)},
        })
    print(json.dumps({"benchmark": "theory_simulation", "N": N, "steps_per_run": steps, "repeats": args.repeats,
                      "results": results, "load_average_1min": round(os.getloadavg()[0], 2)}, indent=1))


if __name__ == "__main__":
    main()
