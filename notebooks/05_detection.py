# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Chapter 5: Finding the poisoned samples of a class
#
# A backdoor attack leaves a trace in the training set: the poisoned images of the
# target class are classified for a different reason than the clean ones. The clean
# 80 km/h signs are recognised by their digits; the poisoned ones, 50 km/h signs
# with a sticker and the label 80 km/h, by the sticker. A defender who inspects the
# training images of one class should therefore see two populations, and the
# smaller one is suspicious.
#
# This chapter takes one poisoned model (the thesis's attack: a 3x3 yellow-green
# sticker at one of four positions near the centre of the sign, 50 km/h relabelled as
# 80 km/h, a third of the class poisoned) and, once the backdoor is shown to be learned,
# looks at the training images labelled 80 km/h through several lenses:
#
# 1. their LRP heatmaps (chapter 3), compared pixel by pixel (Euclidean distance) or as
#    metric-measure spaces (Gromov-Wasserstein discrepancy, chapter 4);
# 2. **spectral relevance analysis** (SpRAy; Lapuschkin et al., 2019): spectral
#    clustering of the heatmaps;
# 3. **GW k-means with barycenters**, the heatmap clustering (HC) of the thesis;
# 4. two detectors that need no explanations: **Activation Clustering**
#    (Chen et al., 2019) and **Spectral Signatures** (Tran et al., 2018), both on the
#    activations of the penultimate layer;
# 5. the simplest explanation-based score, the **concentration of relevance**.
#
# Finally it drops the assumption that the target class is known: every class is
# inspected, and the classes are ranked by how clearly they split.

# %% tags=["parameters"]
profile = "quick"
dataset = "synth"
seed = 0

# %%
import dataclasses

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from poisondetect import citations, data, report
from poisondetect.config import by_profile
from poisondetect.detection import (
    affinity_graph, detection_metrics, labels, laplacian_spectrum, neighbour_auroc, normalized_laplacian, relevance_measures,
)
from poisondetect.detection.detectors import FUSED_ALPHA, fused_options
from poisondetect.detection.metrics import confusion
from poisondetect.detection.representations import euclidean_distances, heatmap_features
from poisondetect.experiments import (
    ClassSelection, backdoor_gate, class_data, clean_experiment, detect, detector_settings, evaluate, inspected, pct,
    rank_experiment_classes, rates_table, showcase_experiment, thesis_experiment,
)
from poisondetect.transport import mds_embedding, pairwise_gw

ch = report.Chapter("05_detection", profile, dataset)
exp = showcase_experiment(dataset, profile, seed)
# the harder series: the same attack with the sticker anywhere in the central 16x16 window
window_exp = thesis_experiment(dataset, profile, exp.attack.poison_share, seed, model=exp.model, corners=None)
gate = backdoor_gate(exp)
print(f"backdoor learned? attack success {100 * gate['attack_success']:.1f} %, own poisons classified as the target "
      f"{100 * gate['poisons_learned']:.1f} %: {'passes' if gate['passed'] else 'FAILS'} the gate (both >= 98 %)")
settings = detector_settings(profile, seed)
flat_rule, space_rule = settings["concentration_topk"].explanation, settings["gw_kmeans"].explanation
spray_settings = settings["spray_euclidean"]
names = labels()
target = exp.attack.target
cls = class_data(exp, inspected(profile, seed))
print(f"model {exp.model}, class {target} ({data.class_name(target)}): {cls.n} training images inspected, "
      f"{cls.is_poison.sum()} of them poisoned ({100 * cls.is_poison.mean():.1f} %)")

# %% [markdown]
# ## The heatmaps of the target class
#
# LRP explains, for every training image labelled 80 km/h, the logit of 80 km/h.
# The concentration scores read the EpsilonPlusFlat composite of chapter 3 (middle
# row); SpRAy and the detectors that turn heatmaps into metric-measure spaces use
# LRP-$\gamma$ (bottom row), which keeps a small trigger sharp where the flat rule of
# the first layer smears it over the 5x5 kernel (why that matters is measured below).
# On clean images the relevance lies on the digits; on poisoned images part of it
# moves to the sticker. Each row shares one colour scale, so that the magnitudes can
# be compared.

# %%
rng = np.random.default_rng(seed)
show_clean = rng.choice(np.flatnonzero(~cls.is_poison), size=4, replace=False)
show_poison = rng.choice(np.flatnonzero(cls.is_poison), size=min(4, int(cls.is_poison.sum())), replace=False)
shown = np.r_[show_clean, show_poison]
fig, axes = plt.subplots(3, len(shown), figsize=(1.0 * len(shown), 3.4))
for row, rule in enumerate((flat_rule, space_rule), start=1):
    maps = cls.maps(rule)
    limit = float(np.abs(maps[shown]).max())
    for col, i in enumerate(shown):
        image = report.show_heatmap(axes[row, col], maps[i], limit=limit)
    axes[row, 0].set_ylabel(rule.replace("_", " "), fontsize=6)
    fig.colorbar(image, ax=axes[row, :], fraction=0.02, pad=0.01, label="relevance")
for col, i in enumerate(shown):
    report.show_image(axes[0, col], cls.images[i], "poisoned" if cls.is_poison[i] else "clean")
ch.save_figure(fig, "heatmaps")

# %% [markdown]
# ## Spectral relevance analysis with Euclidean distances
#
# SpRAy builds a graph on the heatmaps: each heatmap is linked to its 10 nearest
# neighbours, and the link is kept if either end chose it, so that the affinity matrix
# $A$ is symmetric. The distance is the Euclidean distance of the LRP-$\gamma$ maps, each
# divided by its sum (a measure on the pixel grid, so that a map's magnitude does not
# count but where its relevance lies does) and sum-pooled 2x2. With the degree matrix $D = \operatorname{diag}(A\mathbf 1)$ the
# symmetric normalised Laplacian
#
# $$ L_\mathrm{sym} = I - D^{-1/2} A D^{-1/2} $$
#
# has eigenvalues $0 = \lambda_1 \le \lambda_2 \le \dots \le 2$, and the number of
# eigenvalues equal to 0 is the number of connected components of the graph
# (von Luxburg, 2007). A poisoned subpopulation that is well separated from the
# clean heatmaps forms an (almost) separate component: a second eigenvalue near 0
# followed by a gap. The number of clusters is read off at the largest gap
# (eigengap heuristic), and k-means on the rows of the first eigenvectors, scaled to
# unit length (Ng et al., 2002), gives the clusters.
#
# Which clusters are poisoned? With two clusters the thesis's answer is "the smaller
# one". With the number of clusters read from the spectrum the poisons may form
# several nearly pure clusters, and the clean
# maps several more. SpRAy's authors looked at each cluster's *mean heatmap*; our
# rule does this automatically. Each map is normalised to sum to one, the maps of a
# cluster are averaged, and the cluster's concentration $c_j$ is the share of that mean
# map held by its 9 most relevant pixels (the size of the sticker). A trigger at a
# fixed place adds up in the mean; clean relevance, spread over the digits and varying
# from image to image, averages out. Every cluster whose concentration is at least
# twice that of the largest cluster (the bulk of the clean maps) is flagged, and a
# class whose clusters all look alike flags nothing. Both results, with the clusters
# from the spectrum and with two, are printed below.
#
# The original thesis code computed this Laplacian incorrectly and in the end ran
# k-means on the maps themselves; thesis Figure 3.7 showed the absolute values of its
# first 30 eigenvalues. The figure below is the same plot computed correctly.

# %%
distances = euclidean_distances(heatmap_features(cls.maps(spray_settings.explanation), spray_settings.normalization, spray_settings.pool))
laplacian = normalized_laplacian(affinity_graph(distances, "knn", n_neighbors=min(10, cls.n - 1)))
eigenvalues, eigenvectors = laplacian_spectrum(laplacian, 30)
spray_result = detect(cls, "spray_euclidean", spray_settings)
spray_metrics = detection_metrics(cls.is_poison, spray_result)
spray_two = detect(cls, "spray_euclidean", dataclasses.replace(spray_settings, n_clusters=2))
spray_two_metrics = detection_metrics(cls.is_poison, spray_two)
print(f"eigengap suggests {spray_result.extra['eigengap_k']} clusters; graph has {spray_result.extra['n_components']} component(s)")
print("eigengap clusters:", {k: round(v, 3) for k, v in spray_metrics.items()})
print("two clusters:     ", {k: round(v, 3) for k, v in spray_two_metrics.items()})

fig, (ax_spec, ax_emb) = plt.subplots(1, 2, figsize=(6.4, 2.8))
ax_spec.plot(np.arange(1, len(eigenvalues) + 1), eigenvalues, "o", ms=3, color=report.PALETTE[0])
ax_spec.set_xlabel("index $k$")
ax_spec.set_ylabel(r"eigenvalue $\lambda_k$ of $L_\mathrm{sym}$")
ax_spec.set_title("spectrum (10 nearest neighbours)")
for truth, name, colour in ((False, "clean", report.PALETTE[0]), (True, "poisoned", report.PALETTE[3])):
    sel = cls.is_poison == truth
    ax_emb.scatter(eigenvectors[sel, 1], eigenvectors[sel, 2], s=6, alpha=0.6, color=colour, label=name, linewidths=0)
ax_emb.set_xlabel("eigenvector 2")
ax_emb.set_ylabel("eigenvector 3")
ax_emb.set_title("spectral embedding, coloured by the truth")
ax_emb.legend(loc="best", markerscale=2)
fig.tight_layout()
ch.save_figure(fig, "spray_euclidean")

# %% [markdown]
# The clusters themselves, as SpRAy's authors inspect them: the mean of each cluster's
# normalised LRP-$\gamma$ maps, with its size, how many of its members are really
# poisoned (which the detector does not know) and its concentration relative to the
# largest cluster. The flagged clusters are framed in red.

# %%
spray_ratio = spray_result.extra["cluster_ratio"]
spray_maps = cls.maps(spray_settings.explanation)
measures = relevance_measures(spray_maps).reshape(spray_maps.shape)
order = np.argsort(-spray_ratio)
fig, axes = plt.subplots(1, len(order), figsize=(1.1 * len(order), 1.6), squeeze=False)
for ax, j in zip(axes[0], order):
    members = spray_result.labels == j
    ratio = spray_ratio[j]
    ax.imshow(measures[members].mean(0), cmap="Reds", vmin=0)
    ax.set_title(f"{members.sum()} maps\n{cls.is_poison[members].sum()} poisoned\nratio {ratio:.1f}", fontsize=6)
    ax.set_xticks([])
    ax.set_yticks([])
    flagged_cluster = ratio >= spray_settings.flag_ratio
    for spine in ax.spines.values():
        spine.set_edgecolor(report.PALETTE[3] if flagged_cluster else "0.7")
        spine.set_linewidth(2.0 if flagged_cluster else 0.5)
fig.tight_layout()
ch.save_figure(fig, "spray_clusters")

# %% [markdown]
# ## GW k-means with barycenters
#
# The heatmap clustering of the thesis compares heatmaps as metric-measure spaces
# (chapter 4). Each map is sum-pooled 4x4, and the cells of the pooled 8x8 grid that
# hold 99 % of the positive relevance become points, with their relevance as weight and
# their distances as metric. Two heatmaps are close in the Gromov-Wasserstein sense when
# their relevance has the same *shape*; because a space keeps (almost) the whole grid,
# the shape includes where the relevance lies relative to the frame of the image. (A
# space of only the most relevant pixels would lose that: GW cannot tell a point cloud
# from a shifted copy of it. `make bench-thesis` measures the difference on real GTSRB.)
# k-means runs on these spaces:
#
# - **seeding** by k-means++ (Arthur and Vassilvitskii, 2007): the first centre is a random heatmap,
#   the second is drawn with probability proportional to its GW discrepancy to the
#   first; the original code rescaled the distances to the two centres differently,
#   here both come from the same solver on the same scale;
# - **assignment** of every heatmap to the barycenter with the smallest GW discrepancy;
# - **update** of each barycenter (32 points) from a random subset of 10 of its members, as in
#   the thesis;
# - **stop** when no assignment changes. The smaller cluster is flagged;
# - **restarts**: with `n_init > 1` (a field of `GWKMeansSettings`) the whole procedure is repeated from new
#   k-means++ seeds and the partition with the lowest total discrepancy
#   $\sum_i GW(X_i, c_{\ell_i})$ is kept, as in Euclidean k-means.
#
# The suspicion score of a heatmap (for the AUROC) is its GW margin: the discrepancy
# to the other barycenter minus that to the flagged one.
#
# The table lists the confusion counts after every round, as the original logs did
# (the thesis's run on GTSRB at 33 % ended with tn, fp, fn, tp = 1632, 18, 27, 786).

# %%
hc = detect(cls, "gw_kmeans", settings["gw_kmeans"], progress=True)
rows = []
for step, round_labels in enumerate(hc.extra["history"]):
    sizes = np.bincount(round_labels, minlength=2)
    flagged = round_labels == int(np.argmin(sizes))
    tn, fp, fn, tp = confusion(cls.is_poison, flagged)
    rows.append({"round": "seeding" if step == 0 else str(step), "tn": tn, "fp": fp, "fn": fn, "tp": tp,
                 "TPR": 100 * tp / max(tp + fn, 1), "TNR": 100 * tn / max(tn + fp, 1)})
iterations = pd.DataFrame(rows)
ch.write_table(iterations, "gw_kmeans_rounds")
hc_metrics = detection_metrics(cls.is_poison, hc)
print(iterations.to_string(index=False))
print(f"converged: {hc.extra['converged']} after {hc.extra['iterations']} rounds, {hc.runtime_s:.1f} s")

# %% [markdown]
# ### Which heatmaps GW k-means needs
#
# A metric-measure space keeps the grid cells that carry 99 % of the positive
# relevance, their weights and their distances; it forgets how much relevance there is
# in all, and it is blind to any isometry of the grid (a mirror image of a map is the
# same space). GW k-means can therefore only separate poisoned maps whose *shape* of
# relevance on the grid differs from that of clean maps. The explanation rule decides
# how much it does. The EpsilonPlusFlat composite passes relevance through the first
# convolution with the flat rule, which spreads every output's relevance evenly over
# its 5x5 receptive field: a 3x3 sticker becomes a blurred patch, much like a blurred
# stroke of a digit. LRP-$\gamma$ keeps it a small, sharp spot. The mean pairwise GW
# discrepancies on a random subsample of the class, within the poisoned maps, within
# the clean maps and between the two groups, and GW k-means on the whole inspected
# class, for both rules:

# %%
sub_rng = np.random.default_rng(seed)
n_sub_clean, n_sub_poison = by_profile(profile, smoke=(8, 4), quick=(60, 30), full=(60, 30))
sub = np.r_[sub_rng.choice(np.flatnonzero(~cls.is_poison), size=min(n_sub_clean, int((~cls.is_poison).sum())), replace=False),
            sub_rng.choice(np.flatnonzero(cls.is_poison), size=min(n_sub_poison, int(cls.is_poison.sum())), replace=False)]
sub_truth = cls.is_poison[sub]


def mean_offdiagonal(block: np.ndarray) -> float:
    return float(block[~np.eye(*block.shape, dtype=bool)].mean()) if block.shape[0] == block.shape[1] else float(block.mean())


rule_rows = []
for rule in (space_rule, flat_rule):
    rule_settings = dataclasses.replace(settings["gw_kmeans"], explanation=rule)
    rule_spaces = rule_settings.space.spaces(cls.maps(rule)[sub])
    sub_gw = pairwise_gw(rule_spaces, progress=False)
    rule_hc = detect(cls, "gw_kmeans", rule_settings)
    rule_metrics = detection_metrics(cls.is_poison, rule_hc)
    rule_rows.append({"rule": rule,
                      "GW poisoned-poisoned": mean_offdiagonal(sub_gw[np.ix_(sub_truth, sub_truth)]),
                      "GW clean-clean": mean_offdiagonal(sub_gw[np.ix_(~sub_truth, ~sub_truth)]),
                      "GW poisoned-clean": float(sub_gw[np.ix_(sub_truth, ~sub_truth)].mean()),
                      "HC TPR": 100 * rule_metrics["tpr"], "HC TNR": 100 * rule_metrics["tnr"], "HC AUROC": 100 * rule_metrics["auroc"]})
rules_table = pd.DataFrame(rule_rows)
shown_rules = rules_table.copy()
gw_columns = [c for c in shown_rules.columns if c.startswith("GW ")]
shown_rules[gw_columns] *= 1000  # the values are small: shown in units of 0.001 (P poisoned, C clean)
shown_rules = shown_rules.rename(columns={"GW poisoned-poisoned": "GW P-P", "GW clean-clean": "GW C-C", "GW poisoned-clean": "GW P-C"})
ch.write_table(shown_rules, "gw_rules", float_format="{:.2f}")
shown_rules

# %% [markdown]
# ### Shape and place: fused GW
#
# The GW discrepancy compares the distances *within* each map. A space that keeps the
# whole pooled grid therefore knows where its relevance lies only up to the eight
# symmetries of the square: a spot to the right of the digits and its mirror image to
# the left of them cost nothing to match. The thesis's trigger sits at the same place in
# every poisoned image, so its place is the one property that GW discards. Fused GW
# (Vayer et al., 2019) gives every point its position $x_i$ (in the same unit as the
# distances: the heatmap's diagonal) and charges the coupling for moving it,
#
# $$FGW_\alpha(X, Y) = \min_{T \in \Pi(p, q)} \; \alpha \sum_{i,j,k,l} (C_{ik} - \bar C_{jl})^2 T_{ij} T_{kl}
#   + (1 - \alpha) \sum_{i,j} \lVert x_i - y_j \rVert^2 T_{ij},$$
#
# between GW ($\alpha = 1$) and the Wasserstein distance of the two heatmaps
# ($\alpha \to 0$). The same solver runs it: the feature term only adds the constant
# matrix $(1 - \alpha) M$ to every gradient, and a barycenter's points get the
# barycentric projection of their partners' positions. The detectors use
# $\alpha = 1/2$. Before any clustering, the share of poisons among each map's ten
# nearest neighbours says how well a discrepancy separates them (its AUROC is told the
# truth, so it is a ceiling, not a detector); then, on the whole class, HC with each, and
# SpRAy on each. SpRAy needs only each map's nearest neighbours, so SpRAy-GW solves GW
# only between a map and its 20 nearest by the Euclidean distance of the pooled maps
# (about 20 n pairs instead of n²/2), and links each map to its 10 GW-nearest among them.

# %%
sub_maps = cls.maps(space_rule)[sub]
sub_spaces = settings["gw_kmeans"].space.spaces(sub_maps)
spray_features = heatmap_features(sub_maps, spray_settings.normalization, spray_settings.pool)
fused_rows = [{"distance": "Euclidean (SpRAy's maps)", "10-NN AUROC": 100 * neighbour_auroc(euclidean_distances(spray_features), sub_truth),
               **{f"SpRAy {key.upper()}": 100 * spray_metrics[key] for key in ("tpr", "tnr", "auroc")}}]
for label, alpha in (("GW (thesis)", 1.0), (f"fused GW, alpha = {FUSED_ALPHA}", FUSED_ALPHA)):
    alpha_settings = dataclasses.replace(settings["gw_kmeans"], alpha=alpha)
    sub_distances = pairwise_gw(sub_spaces, progress=False, **fused_options(alpha_settings, sub_maps))
    alpha_hc = detection_metrics(cls.is_poison, detect(cls, "gw_kmeans", alpha_settings))
    alpha_spray = detection_metrics(cls.is_poison, detect(cls, "spray_gw", dataclasses.replace(settings["spray_gw"], alpha=alpha)))
    fused_rows.append({"distance": label, "10-NN AUROC": 100 * neighbour_auroc(sub_distances, sub_truth),
                       **{f"HC {key.upper()}": 100 * alpha_hc[key] for key in ("tpr", "tnr", "auroc")},
                       **{f"SpRAy {key.upper()}": 100 * alpha_spray[key] for key in ("tpr", "tnr", "auroc")}})
fused_table = pd.DataFrame(fused_rows)[["distance", "10-NN AUROC"] + [f"{m} {k}" for m in ("HC", "SpRAy") for k in ("TPR", "TNR", "AUROC")]]
ch.write_table(fused_table, "fused_gw")
fused_table

# %% [markdown]
# Where the sticker sits matters. In this chapter's attack it sits at one of four
# neighbouring positions, as in the original thesis, so it lies at nearly the same place
# *relative to the digits* in every poisoned image, which the GW discrepancy does see.
# The harder series puts it anywhere in the central 16x16 window (196 positions); the
# model is retrained for it, so the backdoor itself may also be learned differently.

# %%
window_gate = backdoor_gate(window_exp)
print(f"random window: attack success {100 * window_gate['attack_success']:.1f} %, "
      f"{'passes' if window_gate['passed'] else 'FAILS'} the gate")
position_methods = ("gw_kmeans", "spray_euclidean", "concentration_topk", "ac_ica")
position_rows = []
for placement, experiment in (("four positions (thesis)", exp), ("random in a 16x16 window", window_exp)):
    position_truth, found = evaluate(experiment, position_methods, inspected(profile, seed), settings, progress=False)
    for m in position_methods:
        rates = detection_metrics(position_truth, found[m])
        position_rows.append({"sticker position": placement, "method": names[m],
                              "TPR": 100 * rates["tpr"], "TNR": 100 * rates["tnr"], "AUROC": 100 * rates["auroc"]})
positions_table = pd.DataFrame(position_rows)
ch.write_table(positions_table, "sticker_positions")
window_rates = positions_table[positions_table["sticker position"] == "random in a 16x16 window"].set_index("method")
positions_table

# %% [markdown]
# A barycenter is itself a metric-measure space, a matrix of distances without
# coordinates. Multidimensional scaling places its points in the plane so that their
# distances match as well as possible (thesis Figure 4). The barycenter of the flagged
# cluster should look like a compact blob (the sticker); that of the clean cluster
# like the spread-out relevance on the digits.

# %%
fig, axes = plt.subplots(1, 2, figsize=(5.0, 2.5))
flag_cluster = int(np.argmin(np.bincount(hc.labels, minlength=2)))
for ax, j in zip(axes, (1 - flag_cluster, flag_cluster)):
    weights = hc.extra["barycenter_weights"][j]
    points = weights > 0  # the padding of a smaller centre carries no mass
    xy = mds_embedding(hc.extra["barycenter_costs"][j][np.ix_(points, points)])
    ax.scatter(xy[:, 0], xy[:, 1], s=2000 * weights[points], color=report.PALETTE[3 if j == flag_cluster else 0], alpha=0.7, linewidths=0)
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_title(f"{'flagged' if j == flag_cluster else 'other'} cluster ({np.sum(hc.labels == j)} maps)")
    ax.set_xticks([])
    ax.set_yticks([])
fig.tight_layout()
ch.save_figure(fig, "gw_barycenters")

# %% [markdown]
# ## All detectors on the same class
#
# Activation Clustering reduces the penultimate-layer activations to 10 dimensions
# (PCA or FastICA) and splits them by 2-means; the original code used the logits.
# Spectral Signatures scores each sample by its squared projection on the top
# singular vector of the centred activations and removes the $1.5\,\varepsilon n$
# highest scores; it is told the true poison share $\varepsilon$, an advantage the
# other detectors do not get. SPECTRE (Hayase et al., 2021) first whitens the
# activations with a robust (minimum covariance determinant) estimate of the class's
# covariance, so that a direction in which the whole class varies a lot (lighting,
# viewpoint) no longer dominates, then scores by quantum entropy and removes as many
# samples as Spectral Signatures. The concentration scores use the raw heatmaps
# (maximum relevance; share of relevance in the 9 most relevant pixels), thresholded
# by the best two-group split. Raw pixels clustered like activations are the
# baseline (thesis Table 3.2).

# %%
methods = ("gw_kmeans", "spray_euclidean", "ac_pca", "ac_ica", "spectral_signatures", "spectre", "concentration_max",
           "concentration_topk", "raw_pca")
truth, results = evaluate(exp, methods, inspected(profile, seed), settings)  # GW k-means: the cached run above
shown_table = rates_table(truth, results)
ch.write_table(shown_table, "target_class")
shown_table

# %% [markdown]
# ## Which class is poisoned?
#
# A defender does not know the target class. Every detector also reports how clearly
# a class splits (the silhouette of its two clusters, or a separation ratio for the
# scores). Over all classes, a class whose split stands out is suspicious: its robust
# anomaly index, the distance of its split score from the median of all classes in
# units of the scaled median absolute deviation (Wang et al., 2019), exceeds 3.
# The same ranking on a model trained without poison should flag nothing.

# %%
ranking_methods = ("ac_pca", "spray_euclidean", "concentration_max")
ranking_selection = ClassSelection(max_samples=by_profile(profile, smoke=None, quick=200, full=500), seed=seed)
rankings = {name: rank_experiment_classes(experiment, ranking_methods, ranking_selection, settings)
            for name, experiment in (("poisoned", exp), ("clean", clean_experiment(exp)))}

fig, axes = plt.subplots(len(ranking_methods), 2, figsize=(6.4, 1.6 * len(ranking_methods)), sharex=True, squeeze=False)
for col, name in enumerate(("poisoned", "clean")):
    for row, m in enumerate(ranking_methods):
        ax = axes[row, col]
        ranked = rankings[name][m].sort_values("class")
        colours = [report.PALETTE[3] if c == target else report.PALETTE[0] for c in ranked["class"]]
        ax.bar(np.arange(len(ranked)), ranked["anomaly_index"], color=colours)
        ax.axhline(3.0, color="0.3", lw=0.8, ls="--")
        ax.set_xticks(np.arange(len(ranked)))
        ax.set_xticklabels(ranked["class"], fontsize=6)
        ax.set_title(f"{names[m]}, {name} model", fontsize=8)
        if col == 0:
            ax.set_ylabel("anomaly index")
for ax in axes[-1]:
    ax.set_xlabel("class id (red: the attack's target)")
fig.tight_layout()
ch.save_figure(fig, "class_ranking")
for name in rankings:
    for m in ranking_methods:
        top = rankings[name][m].iloc[0]
        print(f"{name:8s} {m:18s} top class {int(top['class']):2d} (index {top['anomaly_index']:.1f}); "
              f"flagged: {list(rankings[name][m].loc[rankings[name][m]['suspicious'], 'class'])}")

# %% [markdown]
# ## Summary
#
# The numbers quoted in the thesis text come from this run.

# %%
by_method = {m: detection_metrics(truth, r) for m, r in results.items()}
others_auroc = (spray_metrics["auroc"], by_method["concentration_topk"]["auroc"])
hc_verdict = ("below both" if hc_metrics["auroc"] < min(others_auroc)
              else "between the two" if hc_metrics["auroc"] < max(others_auroc) else "above both")
ch.write_numbers({
    "DetectInspected": cls.n,
    "DetectPoisoned": int(cls.is_poison.sum()),
    "DetectPoisonShare": f"{100 * exp.attack.poison_share:.0f}",
    "DetectEigengapK": spray_result.extra["eigengap_k"],
    "DetectSprayTPR": pct(spray_metrics["tpr"]),
    "DetectSprayTNR": pct(spray_metrics["tnr"]),
    "DetectSprayTwoTPR": pct(spray_two_metrics["tpr"]),
    "DetectSprayTwoTNR": pct(spray_two_metrics["tnr"]),
    "DetectSprayFlaggedClusters": int(np.unique(spray_result.labels[spray_result.flagged]).size),
    "DetectSprayClusters": spray_result.extra["n_clusters"],
    "DetectHcTPR": pct(hc_metrics["tpr"]),
    "DetectHcTNR": pct(hc_metrics["tnr"]),
    "DetectHcAUROC": pct(hc_metrics["auroc"]),
    "DetectHcVerdict": hc_verdict,
    "DetectSprayAUROC": pct(spray_metrics["auroc"]),
    "DetectTopkTPR": pct(by_method["concentration_topk"]["tpr"]),
    "DetectTopkTNR": pct(by_method["concentration_topk"]["tnr"]),
    "DetectTopkAUROC": pct(by_method["concentration_topk"]["auroc"]),
    "DetectGwPoisonPoison": f"{rule_rows[0]['GW poisoned-poisoned']:.2g}",
    "DetectGwCleanClean": f"{rule_rows[0]['GW clean-clean']:.2g}",
    "DetectGwPoisonClean": f"{rule_rows[0]['GW poisoned-clean']:.2g}",
    "DetectFlatGwPoisonPoison": f"{rule_rows[-1]['GW poisoned-poisoned']:.2g}",
    "DetectFlatGwCleanClean": f"{rule_rows[-1]['GW clean-clean']:.2g}",
    "DetectFlatGwPoisonClean": f"{rule_rows[-1]['GW poisoned-clean']:.2g}",
    "DetectFlatHcTPR": f"{rule_rows[-1]['HC TPR']:.1f}",
    "DetectFlatHcTNR": f"{rule_rows[-1]['HC TNR']:.1f}",
    "DetectFlatHcAUROC": f"{rule_rows[-1]['HC AUROC']:.1f}",
    "DetectFusedAlpha": f"{FUSED_ALPHA:g}",
    "DetectKnnEuclid": f"{fused_rows[0]['10-NN AUROC']:.1f}",
    "DetectKnnGw": f"{fused_rows[1]['10-NN AUROC']:.1f}",
    "DetectKnnFused": f"{fused_rows[2]['10-NN AUROC']:.1f}",
    "DetectPureGwHcTPR": f"{fused_rows[1]['HC TPR']:.1f}",
    "DetectPureGwHcTNR": f"{fused_rows[1]['HC TNR']:.1f}",
    "DetectFusedSprayTPR": f"{fused_rows[2]['SpRAy TPR']:.1f}",
    "DetectFusedSprayTNR": f"{fused_rows[2]['SpRAy TNR']:.1f}",
    "DetectSprayGwCandidates": settings["spray_gw"].candidates,
    "DetectWindowHcTPR": f"{window_rates.loc[names['gw_kmeans'], 'TPR']:.1f}",
    "DetectWindowHcTNR": f"{window_rates.loc[names['gw_kmeans'], 'TNR']:.1f}",
    "DetectWindowSprayTPR": f"{window_rates.loc[names['spray_euclidean'], 'TPR']:.1f}",
    "DetectWindowSprayTNR": f"{window_rates.loc[names['spray_euclidean'], 'TNR']:.1f}",
    "DetectWindowSuccess": f"{100 * window_gate['attack_success']:.1f}",
    "DetectWindowGate": "passes" if window_gate["passed"] else "fails",
    "DetectAttackSuccess": f"{100 * gate['attack_success']:.1f}",
    "DetectPoisonsLearned": f"{100 * gate['poisons_learned']:.1f}",
    "DetectGate": "passes" if gate["passed"] else "fails",
    "DetectHcRounds": hc.extra["iterations"],
    "DetectHcSeconds": f"{hc.runtime_s:.1f}",
    "DetectAcTPR": pct(by_method["ac_pca"]["tpr"]),
    "DetectAcTNR": pct(by_method["ac_pca"]["tnr"]),
    "DetectSsTPR": pct(by_method["spectral_signatures"]["tpr"]),
    "DetectMaxRelAUROC": pct(by_method["concentration_max"]["auroc"]),
    "DetectRankTopPoisoned": int(rankings["poisoned"]["ac_pca"].iloc[0]["class"]),
    "DetectRankTopSpray": int(rankings["poisoned"]["spray_euclidean"].iloc[0]["class"]),
    "DetectRankSprayIndex": f"{rankings['poisoned']['spray_euclidean'].iloc[0]['anomaly_index']:.1f}",
    "DetectRankSprayFlagged": int(rankings["poisoned"]["spray_euclidean"]["suspicious"].sum()),
    "DetectRankFlaggedClean": int(sum(rankings["clean"][m]["suspicious"].sum() for m in ranking_methods)),
})
print(shown_table.to_string(index=False))

# %% [markdown]
# ## References

# %%
citations.references(
    "lapuschkin2019", "chen2019ac", "tran2018", "vonluxburg2007", "ng2002", "arthur2007",
    "hayase2021spectre", "wang2019cleanse", "vayer2019",
)
