"""Speed and quality of the batched GW engine against the loop a user would write with POT.

On the same heatmap spaces (relevance-like edge maps of real GTSRB images, or
SynthSigns when GTSRB is not available; see ``poisondetect.transport.examples``)
and the same pairs (within one class, as in detection), in one run, it times

- ``pot_exact``: ``ot.gromov.gromov_wasserstein`` per pair (conditional gradient from pq^T),
- ``pot_entropic``: ``ot.gromov.entropic_gromov_wasserstein`` per pair at the
  absolute epsilon our entropic solver ends with (a few pairs only: it is slow),
- ``ours``: the engine's default (``gw_pairs``, method ``"polished"``: 8 annealed
  entropic steps x 5 Sinkhorn iterations, then one exact conditional-gradient
  step), in this process on one torch thread,
- ``ours_without_polish``: the same entropic part alone (what the polish costs and buys),
- ``ours_entropic``: method ``"entropic"`` (the entropic solver's own defaults),

and reports pairs per second (median of repeated timings), the mean GW
objective of the returned couplings, ratios against POT's exact loop, and the
time the solver's matrix products alone take on the same batches. Then it
times the engine on full pairwise matrices of 300 spaces of 64 points and 40
of 256 (2 worker processes and 1 process; ``--quick``: 100 spaces of 64 points
in 1 process only, as that is below ``MIN_WORK_FOR_WORKERS``) beside POT's loop
on a random sample of the same pairs (the whole-machine comparison: both may
use the 2 cores, ours through its worker processes, worker start-up included),
extrapolates to 1,000 spaces, and measures ``gw_to_centers`` for k = 2 centres
of 32 points (one k-means assignment step of the detection chapter).

The machine is shared: the load average is reported; compare ratios, which are
measured on identical inputs in the same run, rather than absolute times.

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
from poisondetect.transport import edge_relevance, exact_gw, gw_pairs, gw_scale, gw_to_centers, heatmap_to_space, pad_spaces, pairwise_gw
from poisondetect.transport.engine import POLISHED, _batches


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


def median_time(fn, repeats: int):
    """Output of ``fn`` and the median of ``repeats`` wall-clock timings."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return out, float(np.median(times)), [round(t, 4) for t in times]


def bare_matmul_seconds(spaces, I, J, n_bmm: int, repeats: int) -> float:
    """Median time of ``n_bmm`` (B, n, n) x (B, n, m) products per pair, on the engine's batches."""
    C, _, mask = pad_spaces(spaces)
    C = torch.as_tensor(C, dtype=torch.float32)
    n = int(mask.sum(1).max())
    batches = _batches(I, J, n, 16 * 2**20, 4, None)

    def run():
        for bI, bJ in batches:
            A, B = C[bI], C[bJ]
            T = torch.ones(len(bI), n, n)
            for _ in range(n_bmm // 2):
                torch.bmm(torch.bmm(A, T), B)

    return median_time(run, repeats)[1]


def compare(spaces, pairs, n_entropic: int, repeats: int, pot_repeats: int) -> dict:
    I, J = pairs[:, 0], pairs[:, 1]
    exact, t_exact, all_exact = median_time(lambda: np.array([exact_gw(spaces[i], spaces[j], return_plan=False).value for i, j in pairs]), pot_repeats)
    result = {"n_pairs": len(pairs), "n_points": max(s.n for s in spaces)}
    result["pot_exact"] = {"pairs_per_s": len(pairs) / t_exact, "mean_objective": float(exact.mean()), "seconds_median": t_exact, "seconds_all": all_exact}
    variants = {"ours": {}, "ours_without_polish": {**POLISHED, "polish": 0}, "ours_entropic": {"method": "entropic"}}
    with torch.no_grad():
        for name, options in variants.items():
            gw_pairs(spaces, I[:2], J[:2], progress=False, **options)  # warm-up
            out, t, all_t = median_time(lambda: gw_pairs(spaces, I, J, n_workers=1, progress=False, **options), repeats)
            result[name] = {
                "pairs_per_s": len(pairs) / t,
                "mean_objective": float(out.mean()),
                "seconds_median": t,
                "seconds_all": all_t,
                "speedup_vs_pot_exact": t_exact / t,
                "objective_ratio_vs_pot_exact": float(out.mean() / exact.mean()),
                "share_of_pairs_worse_than_pot_exact_by_5pct": float(np.mean(out > 1.05 * exact)),
                "share_of_pairs_better_than_pot_exact_by_1pct": float(np.mean(out < 0.99 * exact)),
            }
    # matrix products of the default: 2 per entropic step, 2 for the gradient and 2 for the line search
    n_bmm = 2 * POLISHED["max_iter"] + 4
    t_mm = bare_matmul_seconds(spaces, I, J, n_bmm, repeats)
    result["ours"].update({"bmm_per_pair": n_bmm, "bare_matmul_seconds": t_mm, "solver_over_bare_matmul": result["ours"]["seconds_median"] / t_mm})
    result["ours"]["polish_share_of_time"] = 1 - result["ours_without_polish"]["seconds_median"] / result["ours"]["seconds_median"]
    # POT's entropic solver at the absolute epsilon ours ends with, on the first pairs only (slow)
    C, p, _ = pad_spaces(spaces)
    sub = pairs[:n_entropic]
    unit = gw_scale(*[torch.as_tensor(x[sub[:, k]]) for x, k in ((C, 0), (p, 0), (C, 1), (p, 1))]).numpy()

    def pot_entropic():
        values = []
        for (i, j), eps in zip(sub, 0.02 * unit):
            _, log = ot.gromov.entropic_gromov_wasserstein(spaces[i].C, spaces[j].C, spaces[i].p, spaces[j].p, epsilon=float(eps), log=True)
            values.append(log["gw_dist"])
        return np.array(values)

    ent, t_ent, _ = median_time(pot_entropic, 1)
    result["pot_entropic"] = {
        "n_pairs": len(sub),
        "pairs_per_s": len(sub) / t_ent,
        "mean_objective": float(ent.mean()),
        "objective_ratio_vs_pot_exact_same_pairs": float(ent.mean() / exact[:n_entropic].mean()),
        "seconds": t_ent,
    }
    result["ours"]["speedup_vs_pot_entropic"] = result["ours"]["pairs_per_s"] / result["pot_entropic"]["pairs_per_s"]
    return result


def pairwise_matrix(spaces, n_sample: int, workers: tuple[int, ...], rng) -> dict:
    """The engine's full matrix with 2 worker processes and with 1, beside POT's loop on a sample of its pairs.

    This is the whole-machine comparison: POT's loop may use both cores through
    numpy, ours through its worker processes (their start-up included). Values
    of the 1,000-space extrapolation assume the pairs per second stay the same.
    """
    n = len(spaces)
    I, J = np.triu_indices(n, 1)
    sample = rng.choice(len(I), n_sample, replace=False)
    pot, t_pot, _ = median_time(lambda: np.array([exact_gw(spaces[i], spaces[j], return_plan=False).value for i, j in zip(I[sample], J[sample])]), 1)
    pot_rate = n_sample / t_pot
    out = {"n_spaces": n, "n_points": max(s.n for s in spaces), "n_pairs": len(I),
           "pot_exact_loop_on_sample": {"n_pairs": n_sample, "pairs_per_s": pot_rate, "extrapolated_seconds_for_1000_spaces": 1000 * 999 / 2 / pot_rate}}
    for n_workers in workers:  # workers start only above MIN_WORK_FOR_WORKERS
        D, seconds, _ = median_time(lambda: pairwise_gw(spaces, n_workers=n_workers, progress=False), 1)
        out[f"workers_{n_workers}"] = {
            "seconds": seconds,
            "pairs_per_s": len(I) / seconds,
            "speedup_vs_pot_exact_loop": len(I) / seconds / pot_rate,
            "objective_ratio_vs_pot_exact_on_sample": float(D[I[sample], J[sample]].mean() / pot.mean()),
            "extrapolated_seconds_for_1000_spaces": 1000 * 999 / 2 / (len(I) / seconds),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pairs and a smaller pairwise matrix")
    args = parser.parse_args()
    quick = args.quick or os.environ.get("BENCH_QUICK") == "1"
    torch.set_num_threads(1)
    n_matrix = 100 if quick else 300  # 4,950 pairs (in this process) or 44,850 (2 workers and 1)
    n_assign = 300 if quick else 1000
    images, labels, source = load_images(max(n_matrix, n_assign))
    report = {
        "benchmark": "transport",
        "quick": quick,
        "data": f"edge_relevance of {source} training images (relevance-like stand-ins, not LRP)",
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": os.getloadavg(), "python": platform.python_version(), "torch": torch.__version__, "pot": ot.__version__},
        "solver_defaults": POLISHED,
        "sizes": {},
    }
    rng = np.random.default_rng(0)
    klass = 5 if np.sum(labels == 5) >= 40 else int(np.bincount(labels).argmax())
    members = np.flatnonzero(labels == klass)[:60]
    plan = ((64, 100 if quick else 300, 5 if quick else 20, 2 if quick else 3), (256, 4 if quick else 12, 1 if quick else 3, 1))
    for n_points, n_pairs, n_entropic, pot_repeats in plan:
        spaces = spaces_of(images[members], n_points)
        all_pairs = np.array(np.triu_indices(len(spaces), 1)).T
        pairs = all_pairs[rng.choice(len(all_pairs), min(n_pairs, len(all_pairs)), replace=False)]
        report["sizes"][str(n_points)] = compare(spaces, pairs, n_entropic, repeats=3, pot_repeats=pot_repeats)
    # full pairwise matrices with the engine's default, beside POT's loop on a sample of their pairs
    chosen = rng.choice(len(images), max(n_matrix, n_assign), replace=False)
    spaces = spaces_of(images[chosen], 64)
    report["pairwise_matrix"] = pairwise_matrix(spaces[:n_matrix], 60 if quick else 300, (1,) if quick else (2, 1), rng)
    if not quick:
        report["pairwise_matrix_256"] = pairwise_matrix(spaces_of(images[chosen[:40]], 256), 30, (2, 1), rng)
    # one k-means assignment step: every space to k = 2 centres of 32 points (in this process)
    centres = spaces_of(images[chosen[:2]], 32)
    _, seconds, all_t = median_time(lambda: gw_to_centers(spaces[:n_assign], centres, progress=False), 3)
    report["gw_to_centers"] = {"n_spaces": n_assign, "n_points": 64, "k": 2, "centre_points": 32, "seconds_median": seconds, "seconds_all": all_t, "pairs_per_s": 2 * n_assign / seconds}
    report["machine"]["load_average_at_end"] = os.getloadavg()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
