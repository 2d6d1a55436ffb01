"""The original thesis's reported numbers, and our results set beside them.

The thesis reported, on GTSRB with the simplified Inception v3, the standard
attack (50 -> 80 km/h, 3x3 sticker) and the mean of 5 runs, the detection
true-positive rates below by poison share of the final target class.
"""

from __future__ import annotations

import pandas as pd

from .grids import mean_std, summarize

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




def thesis_comparison(frame: pd.DataFrame) -> pd.DataFrame:
    """Our HC and AC beside the thesis's reported TPR, one row per poison share the thesis reports.

    ``frame`` is a :func:`run_grid` table with columns ``share``, ``method``
    (``gw_kmeans`` and ``ac_pca`` among them), ``tpr``, ``tnr`` and ``auroc``, one row per
    seed; an ``attack_success`` column adds the mean attack success. Our rates
    are "mean ± std" in percent; ``HC beats thesis`` applies :func:`beats_thesis`
    to the means. Where the frame holds ``spray_gw`` (SpRAy on fused GW, the package's
    other heatmap clustering by optimal transport), its TPR, TNR and verdict are added.
    """
    ours = summarize(frame[frame["method"].isin(["gw_kmeans", "ac_pca", "spray_gw"])], ["method", "share"], ("tpr", "tnr", "auroc")).set_index(["method", "share"])
    with_spray = "spray_gw" in set(frame["method"])
    rows = []
    for share in [s for s in dict.fromkeys(frame["share"]) if s in THESIS_HC_TPR]:
        hc, ac = ours.loc[("gw_kmeans", share)], ours.loc[("ac_pca", share)]
        row = {"share %": round(100 * share)}
        if "attack_success" in frame.columns:
            row["ASR %"] = 100 * frame.loc[frame["share"] == share, "attack_success"].mean()
        row.update({
            "thesis HC TPR": THESIS_HC_TPR[share], "our HC TPR": mean_std(hc["tpr_mean"], hc["tpr_std"]),
            "our HC TNR": mean_std(hc["tnr_mean"], hc["tnr_std"]), "our HC AUROC": mean_std(hc["auroc_mean"], hc["auroc_std"]),
            "thesis AC TPR": THESIS_AC_TPR[share],
            "our AC TPR": mean_std(ac["tpr_mean"], ac["tpr_std"]), "our AC TNR": mean_std(ac["tnr_mean"], ac["tnr_std"]),
            "our AC AUROC": mean_std(ac["auroc_mean"], ac["auroc_std"]),
            "HC beats thesis": "yes" if beats_thesis(share, hc["tpr_mean"], hc["tnr_mean"]) else "no",
        })
        if with_spray:
            spray = ours.loc[("spray_gw", share)]
            row.update({"our SpRAy-GW TPR": mean_std(spray["tpr_mean"], spray["tpr_std"]),
                        "our SpRAy-GW TNR": mean_std(spray["tnr_mean"], spray["tnr_std"]),
                        "SpRAy-GW beats thesis": "yes" if beats_thesis(share, spray["tpr_mean"], spray["tnr_mean"]) else "no"})
        rows.append(row)
    return pd.DataFrame(rows)
