"""The thesis's experiment done fairly, on real GTSRB, against the thesis's reported rates.

The quality benchmark of the detection issue. The *thesis setting*
(:func:`poisondetect.experiments.thesis_experiment`): standard attack 50 -> 80
km/h, 3x3 yellow-green sticker at the original four positions, the thesis's
poison shares, the small network trained for 20 epochs of a one-cycle schedule
with brightness/contrast jitter, last epoch kept (``THESIS_TRAINING``). Every model first passes the *gate* (attack success and the
model's own poisons classified as the target, both at least 98 %); a model
that fails is reported as "attack not learned", never as a detection failure.
Detectors inspect the training-split images of the target class (what the model
trained on). The *random-window* series (the sticker anywhere in the central
16x16 window) is the harder second series.

For each share it prints every detector's mean and standard deviation of TPR,
TNR and AUROC over the seeds that passed the gate, the attack success, the
gate's verdicts, and whether heatmap clustering beats the thesis (higher TPR at
a TNR of at least 99 %); the comparison table goes to
``figures/tables/bench_thesis_comparison.tex`` (shown by thesis chapter 6).
Models, heatmaps and detections are cached in ``artifacts/``: an interrupted run resumes.

Run: ``POISONDETECT_DATA=<folder of gtsrb32.npz> .venv/bin/python benchmarks/thesis_comparison.py
[--seeds 0 1 2] [--shares 0.33 0.15 0.10 0.05 0.02] [--window-shares 0.33 0.10 0.02] [--model net]``;
prints one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time

import numpy as np
import pandas as pd

from poisondetect import artifacts, detection, report, transport
from poisondetect.attacks import THESIS_CORNERS
from poisondetect.detection.detectors import FUSED_ALPHA, fused_options
from poisondetect.experiments import (
    THESIS_AC_TPR, THESIS_HC_TPR, ClassSelection, backdoor_gate, class_data, clean_experiment, detect, detector_settings,
    model_key, rank_experiment_classes, run_grid, summarize, thesis_comparison, thesis_experiment,
)

#: Every detector of the registry except the raw-pixel baselines.
METHODS = ("gw_kmeans", "spray_gw", "gw_outlier", "spray_euclidean", "ac_pca", "ac_ica", "ac_paper", "spectral_signatures", "spectre",
           "concentration_max", "concentration_topk")


def percent_or_none(value: float) -> float | None:
    """100 * value, None for NaN (the std of one seed), so that the output stays valid JSON."""
    return None if not np.isfinite(value) else round(100 * float(value), 2)


def is_trained(exp) -> bool:
    """Whether the model of ``exp`` is in the cache (the experiment layer would load, not train, it)."""
    return artifacts.cached_entry("models", model_key(exp), "pt").exists()


def series_runs(series: str, shares: list[float], seeds: list[int], model: str, corners, trained_only: bool = False) -> list[dict]:
    """Train (or load) and gate every model of one series (``trained_only``: only the models in the cache)."""
    runs = []
    for share in shares:
        for seed in seeds:
            exp = thesis_experiment("gtsrb", "quick", share, seed, model, corners)
            if trained_only and not is_trained(exp):
                print(f"{series} {100 * share:.0f} % seed {seed}: not trained yet, left out (--trained-only)", flush=True)
                continue
            gate = backdoor_gate(exp, progress=False)
            runs.append({"series": series, "share": share, "seed": seed, "experiment": exp, **gate})
            print(f"{series} {100 * share:.0f} % seed {seed}: attack success {100 * gate['attack_success']:.1f} %, "
                  f"own poisons {100 * gate['poisons_learned']:.1f} %, gate {'passed' if gate['passed'] else 'FAILED'}", flush=True)
    return runs


#: Detectors that rank the classes (cheap enough for all 43 classes of a model) and the images per class.
RANKING_METHODS = ("spectre", "spray_euclidean", "ac_pca", "concentration_max")
RANKING_SAMPLES = 400


def class_ranking(runs: list[dict], share: float, methods, settings) -> dict:
    """Which class is poisoned, and false alarms: rank all classes of each gated model at ``share`` and
    of a clean model of the same seed; report the target's rank and the classes called suspicious."""
    selection = ClassSelection(split="train", max_samples=RANKING_SAMPLES)
    out = {"share": share, "images_per_class": RANKING_SAMPLES, "poisoned": {}, "clean": {}}
    for run in runs:
        if run["series"] != "thesis" or run["share"] != share or not run["passed"]:
            continue
        exp, target = run["experiment"], run["experiment"].attack.target
        poisoned = rank_experiment_classes(exp, methods, selection, settings, progress=False)
        clean = rank_experiment_classes(clean_experiment(exp), methods, selection, settings, progress=False)
        out["poisoned"][run["seed"]] = {m: {"target_rank": int(np.flatnonzero(t["class"] == target)[0]) + 1,
                                            "target_anomaly_index": round(float(t.loc[t["class"] == target, "anomaly_index"].iloc[0]), 2),
                                            "suspicious_classes": [int(c) for c in t.loc[t["suspicious"], "class"]]}
                                        for m, t in poisoned.items()}
        out["clean"][run["seed"]] = {m: {"suspicious_classes": [int(c) for c in t.loc[t["suspicious"], "class"]],
                                         "top_anomaly_index": round(float(t["anomaly_index"].iloc[0]), 2)}
                                     for m, t in clean.items()}
        print(f"class ranking, seed {run['seed']}: " + ", ".join(f"{m} puts the target at rank {v['target_rank']}"
                                                                 for m, v in out["poisoned"][run["seed"]].items()), flush=True)
    return out


#: Heatmap spaces and discrepancies compared by :func:`space_sizes`, by their names in the macros: pure GW
#: (alpha 1) on the most relevant 8, 16 or 64 pixels (a shape without its place) and on the grid spaces of the
#: package's GW detectors (the map pooled 4x4, every cell of the 99 % of positive relevance kept: the frame of
#: the image stays in the space), and fused GW on the grid spaces (the package's default: the place stays too).
SPACES = {"Eight": (detection.SpaceSettings(max_points=8), 1.0), "Sixteen": (detection.SpaceSettings(max_points=16), 1.0),
          "SixtyFour": (detection.SpaceSettings(max_points=64), 1.0), "Grid": (detection.DETECTION_SPACE, 1.0),
          "Fused": (detection.DETECTION_SPACE, FUSED_ALPHA)}


def space_sizes(exp, settings, n_clean: int = 80, n_poison: int = 20) -> list[dict]:
    """Why HC's spaces keep the grid: for each space of :data:`SPACES`, the mean pairwise GW within the poisoned
    maps, within the clean ones and between the groups (a random subsample of the class), and HC on the whole class."""
    cls = class_data(exp, ClassSelection(split="train"), progress=False)
    rng = np.random.default_rng(0)
    sub = np.r_[rng.choice(np.flatnonzero(~cls.is_poison), n_clean, replace=False),
                rng.choice(np.flatnonzero(cls.is_poison), min(n_poison, int(cls.is_poison.sum())), replace=False)]
    truth = cls.is_poison[sub]
    base = settings["gw_kmeans"]
    top9 = detection.concentration_scores(cls.maps(base.explanation), "topk_share", k=9)
    print(f"median share of positive relevance in the 9 most relevant pixels: poisoned {np.median(top9[cls.is_poison]):.2f}, "
          f"clean {np.median(top9[~cls.is_poison]):.2f}", flush=True)
    rows = []
    for name, (space, alpha) in SPACES.items():
        hc = dataclasses.replace(base, space=space, alpha=alpha)
        sub_maps = cls.maps(hc.explanation)[sub]
        spaces = hc.space.spaces(sub_maps)
        D = transport.pairwise_gw(spaces, progress=False, **fused_options(hc, sub_maps))
        within = lambda mask: float(D[np.ix_(mask, mask)][~np.eye(int(mask.sum()), dtype=bool)].mean())  # noqa: E731
        rates = detection.detection_metrics(cls.is_poison, detect(cls, "gw_kmeans", hc))
        rows.append({"space": name, "points": float(np.mean([s.n for s in spaces])), "gw_poison_poison": within(truth),
                     "gw_clean_clean": within(~truth), "gw_poison_clean": float(D[np.ix_(truth, ~truth)].mean()),
                     "top9_poison": float(np.median(top9[cls.is_poison])), "top9_clean": float(np.median(top9[~cls.is_poison])),
                     **{f"hc_{k}": round(100 * float(rates[k]), 2) for k in ("tpr", "tnr", "auroc")}})
        print(f"spaces {name}: " + ", ".join(f"{k} {v:.4g}" for k, v in rows[-1].items() if k != "space"), flush=True)
    return rows


#: How :func:`space_table` names the spaces of :data:`SPACES`.
SPACE_LABELS = {"Eight": "8 most relevant pixels", "Sixteen": "16 most relevant pixels", "SixtyFour": "64 most relevant pixels",
                "Grid": "pooled 8x8 grid, 99 % of the mass", "Fused": f"the same grid, fused GW (alpha = {FUSED_ALPHA:g})"}


def space_table(rows: list[dict]) -> pd.DataFrame:
    """The rows of :func:`space_sizes` as the thesis's table: GW in units of 1e-3, rates in percent."""
    return pd.DataFrame({"space": [SPACE_LABELS[r["space"]] for r in rows], "points": [r["points"] for r in rows],
                         **{label: [1000 * r[key] for r in rows] for key, label in
                            (("gw_poison_poison", "GW P-P"), ("gw_clean_clean", "GW C-C"), ("gw_poison_clean", "GW P-C"))},
                         **{f"HC {key.upper()}": [r[f"hc_{key}"] for r in rows] for key in ("tpr", "tnr", "auroc")}})


#: Names of shares in LaTeX macros (letters only).
NUMBER_NAMES = {0.33: "ThirtyThree", 0.15: "Fifteen", 0.10: "Ten", 0.05: "Five", 0.02: "Two"}
#: Detectors quoted in the thesis text, by their macro names.
QUOTED = {"gw_kmeans": "Hc", "spray_gw": "SprayGw", "spray_euclidean": "Spray", "spectre": "Spectre", "ac_pca": "Ac",
          "concentration_topk": "Topk", "gw_outlier": "GwOutlier", "concentration_max": "MaxRel", "ac_paper": "AcPaper"}


def thesis_numbers(results: dict) -> dict[str, str]:
    """The macros chapter 6 quotes from this run: gate verdicts, quoted detectors' rates, space sizes, ranking."""
    numbers = {"BenchSeeds": str(len(results["seeds"]))}
    for series, prefix in (("thesis", "Bench"), ("random window", "BenchWindow")):
        for share, entry in results["series"][series].items():
            name = NUMBER_NAMES[float(share)]
            success = [v for v in entry["attack_success"] if v is not None]
            numbers[f"{prefix}Asr{name}"] = f"{np.mean(success):.1f}" if success else "n/a"
            numbers[f"{prefix}Gate{name}"] = f"{sum(entry['gate_passed'])} of {len(entry['gate_passed'])}"
            probes = [v for v in entry.get("probe_auroc", []) if v is not None]
            if probes:
                numbers[f"{prefix}ProbeAuroc{name}"] = f"{np.mean(probes):.1f}"
            if isinstance(entry["detectors"], dict):
                for method, macro in QUOTED.items():
                    for key in ("tpr", "tnr", "auroc"):
                        value = entry["detectors"].get(method, {}).get(f"{key}_mean")
                        if value is not None:
                            numbers[f"{prefix}{macro}{key.capitalize()}{name}"] = f"{value:.1f}"
    for key, macro in (("hc_beats_thesis", "Hc"), ("spray_gw_beats_thesis", "SprayGw")):
        if key in results:
            numbers[f"Bench{macro}BeatsThesis"] = f"{sum(results[key].values())} of {len(results[key])}"
    if "space_sizes" in results:
        numbers["BenchSpaceShare"] = f"{100 * results['space_sizes']['share']:.0f}"
    for row in results.get("space_sizes", {}).get("rows", [])[:1]:
        numbers["BenchTopNinePoison"], numbers["BenchTopNineClean"] = f"{row['top9_poison']:.2f}", f"{row['top9_clean']:.2f}"
    for row in results.get("space_sizes", {}).get("rows", []):
        name = row["space"]
        numbers[f"BenchSpacePoints{name}"] = f"{row['points']:.0f}"
        for key, macro in (("gw_poison_poison", "PP"), ("gw_clean_clean", "CC"), ("gw_poison_clean", "PC")):
            numbers[f"BenchSpace{macro}{name}"] = f"{1000 * row[key]:.2f}"
        for key in ("tpr", "tnr", "auroc"):
            numbers[f"BenchSpaceHc{key.capitalize()}{name}"] = f"{row[f'hc_{key}']:.1f}"
    ranking = results.get("class_ranking")
    if ranking and ranking["poisoned"]:
        numbers["BenchRankShare"] = f"{100 * ranking['share']:.0f}"
        for method in RANKING_METHODS:
            macro = QUOTED[method]
            numbers[f"BenchRank{macro}"] = ", ".join(str(v[method]["target_rank"]) for v in ranking["poisoned"].values())
            numbers[f"BenchCleanFlags{macro}"] = str(sum(len(v[method]["suspicious_classes"]) for v in ranking["clean"].values()))
        numbers["BenchRankSeeds"] = str(len(ranking["poisoned"]))
    return numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="net", choices=("net", "inception", "vgg16"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--shares", type=float, nargs="+", default=sorted(THESIS_HC_TPR, reverse=True))
    parser.add_argument("--window-shares", type=float, nargs="*", default=[0.33, 0.10, 0.02])
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(detection.DETECTORS))
    parser.add_argument("--rank-share", type=float, default=0.15,
                        help="share at which all classes are ranked, for the gated models and clean ones (0: skip)")
    parser.add_argument("--trained-only", action="store_true",
                        help="leave out the models not in the cache yet (a partial grid, reported as such)")
    args = parser.parse_args()
    unknown = [s for s in args.shares if s not in THESIS_HC_TPR]
    if unknown:
        parser.error(f"the thesis reports no rates for shares {unknown}; choose from {sorted(THESIS_HC_TPR)}")
    start = time.perf_counter()
    settings = detector_settings("quick")
    runs = series_runs("thesis", args.shares, args.seeds, args.model, THESIS_CORNERS, args.trained_only)
    runs += series_runs("random window", args.window_shares, args.seeds, args.model, None, args.trained_only)
    gated = [run for run in runs if run["passed"]]
    frame = run_grid(gated, args.methods, ClassSelection(split="train"), settings) if gated else pd.DataFrame()
    for run in gated:  # the ceiling of the activation detectors: a cross-validated linear probe on the same activations
        cls = class_data(run["experiment"], ClassSelection(split="train"), progress=False)
        run["probe_auroc"] = detection.probe_auroc(cls.activations(), cls.is_poison)
    results = {"benchmark": "thesis_comparison", "dataset": "gtsrb", "model": args.model, "seeds": args.seeds,
               "runs": [f"{run['series']} {100 * run['share']:.0f} % seed {run['seed']}" for run in runs],
               "training": "20 epochs, one-cycle schedule (peak 3e-3), brightness/contrast jitter 0.4, no geometric augmentation, last epoch kept",
               "inspected": "training-split images of the target class", "series": {}}
    for series in ("thesis", "random window"):
        part = [run for run in runs if run["series"] == series]
        shares = {}
        for share in dict.fromkeys(run["share"] for run in part):
            at = [run for run in part if run["share"] == share]
            entry = {"attack_success": [percent_or_none(run["attack_success"]) for run in at],
                     "poisons_learned": [percent_or_none(run["poisons_learned"]) for run in at],
                     "gate_passed": [run["passed"] for run in at]}
            entry["probe_auroc"] = [percent_or_none(run["probe_auroc"]) for run in at if "probe_auroc" in run]
            rows = frame[(frame["series"] == series) & (frame["share"] == share)] if len(frame) else frame
            if len(rows):
                summary = summarize(rows, ["method"], ("tpr", "tnr", "auroc")).set_index("method")
                entry["detectors"] = {m: {k: percent_or_none(summary.loc[m, k]) for k in
                                          ("tpr_mean", "tpr_std", "tnr_mean", "tnr_std", "auroc_mean", "auroc_std")}
                                      for m in args.methods}
                entry["n_inspected"], entry["n_poison"] = int(rows.iloc[0]["n"]), int(rows.iloc[0]["n_poison"])
            else:
                entry["detectors"] = "attack not learned by any seed: no detection run"
            shares[str(share)] = entry
        results["series"][series] = shares
    thesis_rows = frame[frame["series"] == "thesis"] if len(frame) else frame
    if len(thesis_rows) and {"gw_kmeans", "ac_pca"} <= set(args.methods):
        table = thesis_comparison(thesis_rows)
        results["hc_beats_thesis"] = dict(zip(map(str, table["share %"]), table["HC beats thesis"] == "yes"))
        if "SpRAy-GW beats thesis" in table.columns:
            results["spray_gw_beats_thesis"] = dict(zip(map(str, table["share %"]), table["SpRAy-GW beats thesis"] == "yes"))
        table = table.rename(columns={"share %": f"share % ({args.model}, {len(args.seeds)} seeds, gate passed)"})
        results["table"] = str(report.write_table(table, "bench", "thesis_comparison", "quick", "gtsrb", float_format="{:.2f}"))
    sized = [run for run in gated if run["series"] == "thesis"]
    if sized:
        rows = space_sizes(sized[-1]["experiment"], settings)
        results["space_sizes"] = {"experiment": f"thesis setting, {100 * sized[-1]['share']:.0f} % poisoned, seed {sized[-1]['seed']}",
                                  "share": sized[-1]["share"], "rows": rows}
        results["space_table"] = str(report.write_table(space_table(rows), "bench", "thesis_spaces", "quick", "gtsrb", float_format="{:.2f}"))
    if args.rank_share:
        results["class_ranking"] = class_ranking(runs, args.rank_share, RANKING_METHODS, settings)
    results["thesis_reported"] = {"hc_tpr": THESIS_HC_TPR, "ac_tpr": THESIS_AC_TPR}
    results["seconds"] = round(time.perf_counter() - start, 1)
    results["numbers"] = str(report.write_numbers(thesis_numbers(results), "bench_thesis", "quick", "gtsrb"))
    results["load_average_at_end"] = os.getloadavg()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
