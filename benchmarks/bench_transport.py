"""Speed and quality of the batched GW engine against the loop a user would write with POT.

On the same heatmap spaces (relevance-like edge maps of real GTSRB images, or
SynthSigns when GTSRB is not available; see ``poisondetect.transport.examples``)
and the same pairs (within one class, as in detection), it runs

- ``pot_exact``: ``ot.gromov.gromov_wasserstein`` per pair (conditional gradient),
- ``pot_entropic``: ``ot.gromov.entropic_gromov_wasserstein`` per pair at the same
  absolute epsilon our solver ends with,
- ``ours``: ``entropic_gw_batch`` with its defaults, and ``ours_fast`` with 10 steps
  and 50 final Sinkhorn iterations (float32, one thread, batched),

and reports pairs per second, the mean GW objective of the returned couplings,
the ratios against POT's exact loop, and the time the solver's matrix products
alone take (2 bmm per step). Finally it times the engine (2 worker processes) on
a full pairwise matrix and extrapolates to 1,000 spaces.

Run: ``.venv/bin/python benchmarks/bench_transport.py [--quick]``; prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import ot
import torch

from poisondetect import data
from poisondetect.transport import edge_relevance, entropic_gw_batch, exact_gw, gw_scale, heatmap_to_space, pad_spaces, pairwise_gw

FAST = dict(max_iter=10, final_iter=50)


def load_images(n_min: int) -> tuple[np.ndarray, np.ndarray, str]:
    try:
        signs = data.load("gtsrb", "smoke" if n_min <= 2000 else "full")
        name = "gtsrb"
    except (FileNotFoundError, OSError):
        signs = data.load("synth", "quick")
        name = "synth"
    return signs.train_images, signs.train_labels, name


def spaces_of(images: np.ndarray, n_points: int):
    return [heatmap_to_space(h, mass=0.99, max_points=n_points) for h in edge_relevance(images)]


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def compare(spaces, pairs, n_entropic: int) -> dict:
    I, J = pairs[:, 0], pairs[:, 1]
    C, p, _ = pad_spaces(spaces)
    exact, t_exact = timed(lambda: np.array([exact_gw(spaces[i], spaces[j], return_plan=False).value for i, j in pairs]))
    result = {"n_pairs": len(pairs), "n_points": int(C.shape[1])}
    result["pot_exact"] = {"pairs_per_s": len(pairs) / t_exact, "mean_objective": float(exact.mean()), "seconds": t_exact}
    args = [torch.as_tensor(x, dtype=torch.float32) for x in (C[I], p[I], C[J], p[J])]
    with torch.no_grad():
        for name, options in (("ours", {}), ("ours_fast", FAST)):
            entropic_gw_batch(*[a[:8] for a in args], dtype=torch.float32, return_plan=False, **options)  # warm-up
            out, t = timed(lambda: entropic_gw_batch(*args, dtype=torch.float32, return_plan=False, **options))
            steps = options.get("max_iter", 16)
            # bare matrix products: 2 bmm per step on the same shapes
            A, Cb = args[0], args[2]
            T = torch.ones(A.shape[0], A.shape[1], Cb.shape[1])
            _, t_mm = timed(lambda: [torch.bmm(torch.bmm(A, T), Cb) for _ in range(steps)])
            result[name] = {
                "pairs_per_s": len(pairs) / t,
                "mean_objective": float(out.value.mean()),
                "seconds": t,
                "speedup_vs_pot_exact": t_exact / t,
                "objective_ratio_vs_pot_exact": float(out.value.mean() / exact.mean()),
                "share_of_pairs_worse_than_pot_exact_by_5pct": float(np.mean(out.value > 1.05 * exact)),
                "bare_matmul_seconds": t_mm,
                "solver_over_bare_matmul": t / t_mm,
                "max_marginal_error_before_rounding": float(out.marginal_error.max()),
            }
    # POT's entropic solver at the absolute epsilon ours ends with, on the first pairs only (slow)
    sub = pairs[:n_entropic]
    unit = gw_scale(*[torch.as_tensor(x[sub[:, k]]) for x, k in ((C, 0), (p, 0), (C, 1), (p, 1))]).numpy()
    epsilon = 0.02 * unit

    def pot_entropic():
        values = []
        for (i, j), eps in zip(sub, epsilon):
            _, log = ot.gromov.entropic_gromov_wasserstein(spaces[i].C, spaces[j].C, spaces[i].p, spaces[j].p, epsilon=float(eps), log=True)
            values.append(log["gw_dist"])
        return np.array(values)

    ent, t_ent = timed(pot_entropic)
    result["pot_entropic"] = {
        "n_pairs": len(sub),
        "pairs_per_s": len(sub) / t_ent,
        "mean_objective": float(ent.mean()),
        "objective_ratio_vs_pot_exact_same_pairs": float(ent.mean() / exact[:n_entropic].mean()),
        "seconds": t_ent,
    }
    result["ours"]["speedup_vs_pot_entropic"] = result["ours"]["pairs_per_s"] / result["pot_entropic"]["pairs_per_s"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pairs and a smaller pairwise matrix")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("BENCH_QUICK") == "1"
    torch.set_num_threads(1)
    n_matrix = 150 if quick else 1000
    images, labels, source = load_images(n_matrix)
    report = {
        "benchmark": "transport",
        "quick": quick,
        "data": f"edge_relevance of {source} training images (relevance-like stand-ins, not LRP)",
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(), "python": platform.python_version(), "torch": torch.__version__, "pot": ot.__version__},
        "sizes": {},
    }
    rng = np.random.default_rng(0)
    klass = 5 if np.sum(labels == 5) >= 40 else int(np.bincount(labels).argmax())
    members = np.flatnonzero(labels == klass)[:60]
    for n_points, n_pairs, n_entropic in ((64, 100 if quick else 400, 5 if quick else 20), (256, 20 if quick else 60, 2 if quick else 5)):
        spaces = spaces_of(images[members], n_points)
        all_pairs = np.array(np.triu_indices(len(spaces), 1)).T
        pairs = all_pairs[rng.choice(len(all_pairs), min(n_pairs, len(all_pairs)), replace=False)]
        report["sizes"][str(n_points)] = compare(spaces, pairs, n_entropic)
    # full pairwise matrix with the engine (2 worker processes)
    chosen = rng.choice(len(images), n_matrix, replace=False)
    spaces = spaces_of(images[chosen], 64)
    n_pairs = n_matrix * (n_matrix - 1) // 2
    _, seconds = timed(lambda: pairwise_gw(spaces, n_workers=2, progress=False))
    report["pairwise_matrix"] = {
        "n_spaces": n_matrix,
        "n_points": 64,
        "n_pairs": n_pairs,
        "seconds": seconds,
        "pairs_per_s": n_pairs / seconds,
        "seconds_for_1000_spaces": seconds if n_matrix == 1000 else 1000 * 999 / 2 / (n_pairs / seconds),
        "extrapolated": n_matrix != 1000,
        "n_workers": 2,
    }
    report["machine"]["load_average_at_end"] = os.getloadavg()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
