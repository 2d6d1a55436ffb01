"""Result tables over many experiments: run a grid of settings, then mean and standard deviation over seeds.

A *setting* is one row of a results table (an attack with its parameters) and
is run once per seed; :func:`run_grid` evaluates every detector on every
(setting, seed) and returns one long table, :func:`summarize` aggregates it
over seeds, and :func:`wide_table` lays it out like the thesis's Tables
3.2-3.7 (one row per setting, ACC / TPR / TNR per method as "mean ± std").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .experiment import DETECTOR_LABELS, DetectionConfig, evaluate
from .metrics import detection_metrics

#: Metrics shown in the thesis tables, as percentages.
RATE_COLUMNS = {"accuracy": "ACC", "tpr": "TPR", "tnr": "TNR"}
#: Short detector names for tables with several columns per detector ("HC TPR" rather than "HC (GW k-means) TPR").
SHORT_LABELS = {
    "gw_kmeans": "HC", "spray_euclidean": "SpRAy", "spray_gw": "SpRAy-GW", "ac_pca": "AC", "ac_ica": "AC-ICA",
    "spectral_signatures": "Spec. sig.", "concentration_max": "Max. rel.", "concentration_topk": "Top-k",
    "raw_pca": "Pixels", "raw_ica": "Pixels-ICA",
}

#: TPR (percent) the original thesis reported on GTSRB with the simplified Inception v3, standard
#: attack with a 3x3 sticker, mean of 5 runs, by poison share: heatmap clustering (HC) and
#: Activation Clustering on the logits (AC). Its HC TNR was about 100 % down to 10 % and 55.9 % at 2 %.
THESIS_HC_TPR = {0.33: 99.46, 0.15: 99.32, 0.10: 95.93, 0.05: 87.43, 0.02: 80.0}
THESIS_AC_TPR = {0.33: 94.41, 0.15: 96.56, 0.10: 77.92, 0.05: 36.55, 0.02: 24.1}
#: The bar for "beats the thesis": a higher TPR at a TNR of at least this (percent).
MIN_TNR_TO_BEAT_THESIS = 99.0


def beats_thesis(share: float, tpr: float, tnr: float) -> bool:
    """Whether HC rates (fractions) beat the thesis's HC TPR at ``share`` with TNR >= 99 %."""
    return bool(100 * tpr > THESIS_HC_TPR[share] and 100 * tnr >= MIN_TNR_TO_BEAT_THESIS)


def run_grid(settings: Sequence[Mapping[str, Any]], methods: Sequence[str], config: DetectionConfig = DetectionConfig(), progress: bool = True) -> pd.DataFrame:
    """Evaluate ``methods`` on every setting (cached per experiment and method).

    Parameters
    ----------
    settings : sequence of mappings
        Each has an ``"experiment"`` (an :class:`~poisondetect.attacks.AttackExperiment`)
        and any descriptive columns (``series``, ``share``, ``sticker``, ``seed``...).
    methods : sequence of str
        Detector names of :data:`~poisondetect.detection.experiment.DETECTORS`.

    Returns
    -------
    DataFrame
        One row per (setting, method): the descriptive columns, ``method``,
        ``n``, ``n_poison`` and every metric of :func:`detection_metrics`.
    """
    rows = []
    for setting in tqdm(list(settings), desc="settings", disable=not progress):
        if "experiment" not in setting:
            raise ValueError(f"setting {dict(setting)} has no 'experiment'")
        described = {k: v for k, v in setting.items() if k != "experiment"}
        truth, results = evaluate(setting["experiment"], methods, config, progress=False)
        for name, result in results.items():
            rows.append({**described, "method": name, "n": truth.size, "n_poison": int(truth.sum()), **detection_metrics(truth, result)})
    return pd.DataFrame(rows)


def summarize(frame: pd.DataFrame, by: Sequence[str], metrics: Sequence[str] = ("accuracy", "tpr", "tnr", "f1", "auroc", "runtime_s")) -> pd.DataFrame:
    """Mean, standard deviation (ddof=1; NaN for one seed) and number of seeds of ``metrics`` per group ``by``."""
    grouped = frame.groupby(list(by), sort=False, dropna=False)[list(metrics)]
    mean = grouped.mean().add_suffix("_mean")
    std = grouped.std(ddof=1).add_suffix("_std")
    count = grouped.size().rename("seeds")
    return pd.concat([mean, std, count], axis=1).reset_index()


def mean_std(mean: float, std: float, scale: float = 100.0, digits: int = 1) -> str:
    """``"99.5 ± 0.3"`` (or ``"99.5"`` when the std is undefined, ``"--"`` when the mean is)."""
    if not np.isfinite(mean):
        return "--"
    if not np.isfinite(std):
        return f"{scale * mean:.{digits}f}"
    return f"{scale * mean:.{digits}f} ± {scale * std:.{digits}f}"


def wide_table(frame: pd.DataFrame, row: str, methods: Sequence[str], rates: Mapping[str, str] = RATE_COLUMNS, row_label: str | None = None,
               labels: Mapping[str, str] = DETECTOR_LABELS) -> pd.DataFrame:
    """Thesis-style table: one row per value of ``row``, columns "<label> ACC/TPR/TNR" as "mean ± std" in percent.

    ``labels`` names the methods (``SHORT_LABELS`` keeps a table of many columns narrow).
    """
    summary = summarize(frame[frame["method"].isin(methods)], [row, "method"], tuple(rates))
    table = pd.DataFrame({row_label or row: list(dict.fromkeys(summary[row]))})
    for method in methods:
        part = summary[summary["method"] == method].set_index(row)
        for key, label in rates.items():
            table[f"{labels.get(method, method)} {label}"] = [
                mean_std(part.loc[v, f"{key}_mean"], part.loc[v, f"{key}_std"]) if v in part.index else "--" for v in table[row_label or row]
            ]
    return table


def thesis_comparison(frame: pd.DataFrame) -> pd.DataFrame:
    """Our HC and AC beside the thesis's reported TPR, one row per poison share the thesis reports.

    ``frame`` is a :func:`run_grid` table with columns ``share``, ``method``
    (``gw_kmeans`` and ``ac_pca`` among them), ``tpr`` and ``tnr``, one row per
    seed; an ``attack_success`` column adds the mean attack success. Our rates
    are "mean ± std" in percent; ``HC beats thesis`` applies :func:`beats_thesis`
    to the means.
    """
    ours = summarize(frame[frame["method"].isin(["gw_kmeans", "ac_pca"])], ["method", "share"], ("tpr", "tnr"))
    rows = []
    for share in [s for s in dict.fromkeys(frame["share"]) if s in THESIS_HC_TPR]:
        hc = ours[(ours["method"] == "gw_kmeans") & (ours["share"] == share)].iloc[0]
        ac = ours[(ours["method"] == "ac_pca") & (ours["share"] == share)].iloc[0]
        row = {"share %": round(100 * share)}
        if "attack_success" in frame.columns:
            row["ASR %"] = 100 * frame.loc[frame["share"] == share, "attack_success"].mean()
        rows.append({
            **row,
            "thesis HC TPR": THESIS_HC_TPR[share], "our HC TPR": mean_std(hc["tpr_mean"], hc["tpr_std"]),
            "our HC TNR": mean_std(hc["tnr_mean"], hc["tnr_std"]), "thesis AC TPR": THESIS_AC_TPR[share],
            "our AC TPR": mean_std(ac["tpr_mean"], ac["tpr_std"]), "our AC TNR": mean_std(ac["tnr_mean"], ac["tnr_std"]),
            "HC beats thesis": "yes" if beats_thesis(share, hc["tpr_mean"], hc["tnr_mean"]) else "no",
        })
    return pd.DataFrame(rows)
