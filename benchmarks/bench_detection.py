"""Speed of GW k-means and SpRAy-GW on one GTSRB target class, beside POT's per-pair loop; speed of the other detectors.

The input is the 80 km/h class of real GTSRB after a standard attack (3x3
sticker, 20 % of the final class poisoned: about 2,475 images), read from
``$POISONDETECT_DATA/gtsrb32.npz``; without that file the benchmark runs on the
embedded SynthSigns (quick profile) and says so in its output. Heatmaps need a
trained model, which this benchmark does not train; the maps are the
relevance-like stand-ins of :func:`poisondetect.transport.edge_relevance`
(smoothed gradient magnitude), turned into metric-measure spaces exactly as in
the detection chapter (99 % of the mass, at most 64 points). So the *speed*
numbers are representative of the real input size; the detection *quality*
printed here is that of the stand-in maps, not of LRP heatmaps.

POT's exact solver (``ot.gromov.gromov_wasserstein``) is timed on a random
sample of (heatmap, barycenter) pairs and extrapolated to the number of GW
problems GW k-means solved in its assignments (barycenter updates excluded, so
the POT estimate is a lower bound).

Run: ``POISONDETECT_DATA=<folder of gtsrb32.npz> .venv/bin/python benchmarks/bench_detection.py`` (``--quick``: 600 images).
Prints one JSON object. Uses 2 torch threads / 2 worker processes.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import ot
import torch

from poisondetect import data, paths
from poisondetect.attacks import BadNets, Sticker, poison
from poisondetect.detection import DETECTORS, activation_clustering, detection_metrics, relevance_concentration, spectral_signatures, spray
from poisondetect.detection.detectors import DETECTION_SPACE, FUSED_ALPHA
from poisondetect.detection.gw_kmeans import gw_kmeans
from poisondetect.detection.representations import euclidean_distances, heatmap_features, heatmap_spaces, raw_pixels
from poisondetect.transport import edge_relevance, gw_barycenter, gw_to_centers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="600 images instead of the whole class")
    parser.add_argument("--pot-pairs", type=int, default=200, help="pairs timed with POT's exact solver")
    args = parser.parse_args()
    torch.set_num_threads(2)
    dataset = "gtsrb" if (paths.data_dir() / "gtsrb32.npz").exists() else "synth"
    signs = data.load(dataset, "full" if dataset == "gtsrb" else "quick")
    attack = BadNets(source=2, target=5, poison_share=0.2, trigger=Sticker(size=3))
    poisoned = poison(signs.train_images, signs.train_labels, signs.train_tracks, attack, seed=0)
    idx = np.flatnonzero(poisoned.labels == attack.target)
    if args.quick:
        idx = np.sort(np.random.default_rng(0).choice(idx, size=600, replace=False))
    images, truth = poisoned.images[idx], poisoned.is_poison[idx]
    maps = edge_relevance(images)

    start = time.perf_counter()
    spaces = heatmap_spaces(maps, mass=0.99, max_points=64, progress=False)
    t_spaces = time.perf_counter() - start

    solved = {"pairs": 0}

    def counting_distance(spaces_, centers):
        solved["pairs"] += len(spaces_) * len(centers)
        return gw_to_centers(spaces_, centers, progress=False)

    hc = gw_kmeans(spaces, seed=0, distance_to_centers=counting_distance, progress=False)
    # the detectors' default: fused GW on the pooled grid spaces (DETECTION_SPACE)
    fused = gw_kmeans(DETECTION_SPACE.spaces(maps), seed=0, alpha=FUSED_ALPHA, coord_unit=float(np.hypot(*maps.shape[1:])),
                      progress=False)

    # SpRAy on fused GW between Euclidean candidate neighbours (the detector's default) beside the full matrix it replaces
    spray_gw = DETECTORS["spray_gw"](maps=maps)
    candidates = spray_gw.extra["gw_pairs"]

    start = time.perf_counter()
    gw_barycenter(spaces[:30], n_points=64, n_steps=5)
    t_barycenter = time.perf_counter() - start

    rng = np.random.default_rng(1)
    centers = hc.extra["barycenters"]
    sample = rng.choice(len(spaces), size=min(args.pot_pairs, len(spaces)), replace=False)
    start = time.perf_counter()
    for i in sample:
        c = centers[int(rng.integers(len(centers)))]
        ot.gromov.gromov_wasserstein(spaces[i].C, c.C, spaces[i].p, c.p, loss_fun="square_loss")
    pot_per_pair = (time.perf_counter() - start) / len(sample)

    others = {}
    features = heatmap_features(maps, "max_abs")
    for name, call in {
        "spray_euclidean": lambda: spray(euclidean_distances(features), seed=0),
        "ac_pca_raw_pixels": lambda: activation_clustering(raw_pixels(images), seed=0),
        "spectral_signatures_raw_pixels": lambda: spectral_signatures(raw_pixels(images), poison_share=0.2),
        "concentration_max": lambda: relevance_concentration(maps, "max"),
    }.items():
        found = call()
        m = detection_metrics(truth, found)
        others[name] = {"seconds": round(found.runtime_s, 3), "tpr": round(m["tpr"], 4), "tnr": round(m["tnr"], 4)}

    m = detection_metrics(truth, hc)
    print(json.dumps({
        "benchmark": "detection",
        "input": f"{'GTSRB' if dataset == 'gtsrb' else 'SynthSigns (no gtsrb32.npz in $POISONDETECT_DATA)'} class 5 "
                 "after BadNets 3x3 at 20 %, edge-relevance stand-in maps (not LRP)",
        "n_images": int(len(idx)),
        "n_poison": int(truth.sum()),
        "median_points_per_space": float(np.median([s.n for s in spaces])),
        "torch_threads": torch.get_num_threads(),
        "spaces_seconds": round(t_spaces, 2),
        "gw_kmeans_seconds": round(hc.runtime_s, 2),
        "fused_gw_kmeans_grid_seconds": round(fused.runtime_s, 2),
        "fused_gw_kmeans_grid_tpr_standin": round(detection_metrics(truth, fused)["tpr"], 4),
        "fused_gw_kmeans_grid_tnr_standin": round(detection_metrics(truth, fused)["tnr"], 4),
        "gw_kmeans_rounds": hc.extra["iterations"],
        "gw_kmeans_converged": bool(hc.extra["converged"]),
        "gw_kmeans_assignment_pairs": solved["pairs"],
        "gw_kmeans_tpr_standin": round(m["tpr"], 4),
        "gw_kmeans_tnr_standin": round(m["tnr"], 4),
        "spray_gw_seconds": round(spray_gw.runtime_s, 2),
        "spray_gw_candidate_pairs": int(candidates),
        "spray_gw_full_matrix_pairs": len(idx) * (len(idx) - 1) // 2,
        "spray_gw_full_matrix_seconds_extrapolated": round(spray_gw.runtime_s * len(idx) * (len(idx) - 1) / 2 / candidates, 1),
        "spray_gw_tpr_standin": round(detection_metrics(truth, spray_gw)["tpr"], 4),
        "spray_gw_tnr_standin": round(detection_metrics(truth, spray_gw)["tnr"], 4),
        "barycenter_30_members_64_points_5_steps_seconds": round(t_barycenter, 3),
        "pot_exact_seconds_per_pair": round(pot_per_pair, 5),
        "pot_loop_seconds_for_same_assignments": round(pot_per_pair * solved["pairs"], 1),
        "under_2_minutes": bool(hc.runtime_s < 120),
        "other_detectors": others,
    }, indent=1))


if __name__ == "__main__":
    main()
