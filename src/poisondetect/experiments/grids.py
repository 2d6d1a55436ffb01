"""Result tables over many experiments: run a grid of settings, then mean and standard deviation over seeds.

A *setting* is one row of a results table (an attack with its parameters) and
is run once per seed; :func:`run_grid` evaluates every detector on every
(setting, seed) and returns one long table, :func:`summarize` aggregates it
over seeds, and :func:`wide_table` lays it out like the thesis's Tables
3.2-3.7 (one row per setting, ACC / TPR / TNR / AUROC per method as "mean ± std").
:func:`method_table` is the one-row-per-detector form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..detection import DetectionResult, detection_metrics, labels
from .detections import evaluate
from .representations import ClassSelection

#: Metrics shown in the thesis tables, as percentages: the thesis's ACC / TPR / TNR, and the AUROC of the scores.
RATE_COLUMNS = {"accuracy": "ACC", "tpr": "TPR", "tnr": "TNR", "auroc": "AUROC"}

def run_grid(settings: Sequence[Mapping[str, Any]], methods: Sequence[str], selection: ClassSelection = ClassSelection(),
             detector_settings: Mapping[str, Any] | None = None, progress: bool = True) -> pd.DataFrame:
    """Evaluate ``methods`` on every setting (cached per experiment and detector).

    Parameters
    ----------
    settings : sequence of mappings
        Each has an ``"experiment"`` (an :class:`~poisondetect.experiments.AttackExperiment`)
        and any descriptive columns (``series``, ``share``, ``sticker``, ``seed``...).
    methods : sequence of str
        Registered detectors (:data:`poisondetect.detection.DETECTORS`).
    selection : ClassSelection
        The images inspected in each experiment.
    detector_settings : mapping name -> settings, optional
        Settings per detector (:func:`~poisondetect.experiments.detector_settings`).

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
        truth, results = evaluate(setting["experiment"], methods, selection, detector_settings, progress=False)
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
               short: bool = True) -> pd.DataFrame:
    """Thesis-style table: one row per value of ``row``, columns "<label> ACC/TPR/TNR/AUROC" as "mean ± std" in percent.

    ``short`` names the detectors by their short labels, which keep a table of many columns narrow.
    """
    names = labels(short)
    summary = summarize(frame[frame["method"].isin(methods)], [row, "method"], tuple(rates))
    table = pd.DataFrame({row_label or row: list(dict.fromkeys(summary[row]))})
    for method in methods:
        part = summary[summary["method"] == method].set_index(row)
        for key, label in rates.items():
            table[f"{names[method]} {label}"] = [
                mean_std(part.loc[v, f"{key}_mean"], part.loc[v, f"{key}_std"]) if v in part.index else "--" for v in table[row_label or row]
            ]
    return table


def method_table(frame: pd.DataFrame, rates: Mapping[str, str] = RATE_COLUMNS, by: str = "method") -> pd.DataFrame:
    """One row per detector: its label and ``rates`` as "mean ± std" in percent over the rows of ``frame``."""
    summary = summarize(frame, [by], tuple(rates))
    names = labels()
    return pd.DataFrame({
        "method": [names[m] for m in summary[by]],
        **{label: [mean_std(m, s) for m, s in zip(summary[f"{key}_mean"], summary[f"{key}_std"])] for key, label in rates.items()},
    })


def rates_table(truth: np.ndarray, results: Mapping[str, DetectionResult], percent: tuple[str, ...] = ("accuracy", "tpr", "tnr", "f1", "auroc")) -> pd.DataFrame:
    """One row per detector of one class: ACC, TPR, TNR, F1, AUROC in percent and the runtime in seconds."""
    names = labels()
    table = pd.DataFrame([{"method": names[m], **detection_metrics(truth, r)} for m, r in results.items()])
    table = table[["method", *percent, "runtime_s"]].copy()
    table[list(percent)] *= 100
    table.columns = ["method", *[RATE_COLUMNS.get(p, p.upper()) for p in percent], "time (s)"]
    return table


def pct(value: float) -> str:
    """A rate as a percentage with one decimal for the thesis's number macros (``"--"`` when undefined)."""
    return "--" if not np.isfinite(value) else f"{100 * value:.1f}"
