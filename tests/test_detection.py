"""Detectors on planted clusters, metrics against hand-computed confusion matrices, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from poisondetect.detection import (
    DETECTORS,
    ACAnalysisSettings,
    DetectionResult,
    activation_clustering,
    anomaly_index,
    auroc,
    cluster_concentration,
    concentration_scores,
    confusion,
    detection_metrics,
    flag_concentrated_clusters,
    rank_classes,
    relevance_concentration,
    roc_curve,
    spectral_signatures,
    spray,
    two_group_threshold,
)
from poisondetect.detection.clusters import kmeans
from poisondetect.detection.representations import euclidean_distances


def planted_points(n_clean=180, n_poison=20, dim=30, shift=4.0, seed=0):
    """Clean points N(0, I) and a small cluster shifted along a few coordinates."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_clean + n_poison, dim))
    x[n_clean:, :5] += shift
    truth = np.r_[np.zeros(n_clean, bool), np.ones(n_poison, bool)]
    order = rng.permutation(truth.size)  # poisons not at the end
    return x[order], truth[order]


def planted_heatmaps(n_clean=150, n_poison=20, size=16, seed=0):
    """Noisy relevance maps of a 'sign'; poisons get a strong 3x3 stamp in one corner."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    sign = np.exp(-((yy - size / 2) ** 2 + (xx - size / 2) ** 2) / (2 * (size / 5) ** 2))
    maps = sign[None] * rng.uniform(0.5, 1.5, size=(n_clean + n_poison, 1, 1)) + 0.1 * rng.normal(size=(n_clean + n_poison, size, size))
    maps[n_clean:, -4:-1, -4:-1] += 3.0
    truth = np.r_[np.zeros(n_clean, bool), np.ones(n_poison, bool)]
    order = rng.permutation(truth.size)
    return maps[order], truth[order]


# ----------------------------------------------------------------- metrics


def test_confusion_and_rates_match_hand_computation():
    truth = np.array([1, 1, 1, 0, 0, 0, 0, 0], bool)
    flagged = np.array([1, 1, 0, 1, 0, 0, 0, 0], bool)
    assert confusion(truth, flagged) == (4, 1, 1, 2)  # tn, fp, fn, tp
    m = detection_metrics(truth, flagged)
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["tpr"] == pytest.approx(2 / 3)
    assert m["tnr"] == pytest.approx(4 / 5)
    assert m["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 1))
    assert np.isnan(m["auroc"])


def test_rates_of_a_clean_class_are_nan_not_zero():
    truth = np.zeros(5, bool)
    m = detection_metrics(truth, np.array([1, 0, 0, 0, 0], bool))
    assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (4, 1, 0, 0)
    assert np.isnan(m["tpr"]) and m["tnr"] == pytest.approx(0.8)


def test_auroc_matches_pairwise_definition_with_ties():
    rng = np.random.default_rng(1)
    truth = rng.random(40) < 0.3
    scores = rng.integers(0, 5, size=40).astype(float)  # many ties
    pos, neg = scores[truth], scores[~truth]
    expected = np.mean([(p > q) + 0.5 * (p == q) for p in pos for q in neg])
    assert auroc(truth, scores) == pytest.approx(expected)
    assert auroc(truth, np.where(truth, 1.0, 0.0)) == 1.0


def test_roc_curve_endpoints_and_area():
    rng = np.random.default_rng(2)
    truth = rng.random(60) < 0.4
    scores = rng.normal(size=60) + truth
    fpr, tpr = roc_curve(truth, scores)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0, 0, 1, 1)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
    assert np.trapezoid(tpr, fpr) == pytest.approx(auroc(truth, scores))


def test_metrics_reject_mismatched_lengths():
    with pytest.raises(ValueError, match="flagged has 4 entries but the truth/result has 3"):
        detection_metrics(np.zeros(3, bool), DetectionResult("x", np.zeros(4, bool)))


def test_result_rejects_bad_shapes():
    with pytest.raises(TypeError, match="flagged"):
        DetectionResult("x", np.zeros(3))
    with pytest.raises(ValueError, match="scores"):
        DetectionResult("x", np.zeros(3, bool), scores=np.zeros(4))


# ----------------------------------------------------------------- detectors on planted clusters


def _all_detectors():
    points, _ = planted_points()
    maps, _ = planted_heatmaps()
    return {
        "spray": lambda: spray(euclidean_distances(points)),
        "spray_eigengap": lambda: spray(euclidean_distances(points), n_clusters="eigengap"),
        "ac_pca": lambda: activation_clustering(points, method="pca"),
        "ac_ica": lambda: activation_clustering(points, method="ica"),
        "ac_paper": lambda: DETECTORS["ac_paper"](ACAnalysisSettings(), activations=points),
        "spectral_signatures": lambda: spectral_signatures(points, poison_share=0.1),
        "concentration_max": lambda: relevance_concentration(maps, "max"),
        "concentration_topk": lambda: relevance_concentration(maps, "topk_share", k=9),
    }


@pytest.mark.parametrize("name", list(_all_detectors()))
def test_every_detector_returns_a_detection_result(name):
    result = _all_detectors()[name]()
    assert isinstance(result, DetectionResult)
    assert result.flagged.dtype == bool and result.flagged.ndim == 1
    assert result.scores is not None and result.scores.shape == result.flagged.shape
    assert np.isfinite(result.split_score)
    assert result.runtime_s >= 0


@pytest.mark.parametrize("method", ["pca", "ica"])
def test_activation_clustering_finds_planted_cluster(method):
    x, truth = planted_points()
    result = activation_clustering(x, method=method, seed=3)
    m = detection_metrics(truth, result)
    assert m["tpr"] >= 0.95 and m["tnr"] >= 0.98
    assert m["auroc"] > 0.99
    assert result.extra["relative_size"] == pytest.approx(truth.mean(), abs=0.02)


def test_activation_clustering_is_deterministic_given_seed():
    x, _ = planted_points(shift=1.0)  # ambiguous split: randomness would show
    a, b = activation_clustering(x, seed=5), activation_clustering(x, seed=5)
    np.testing.assert_array_equal(a.flagged, b.flagged)


def test_spray_finds_planted_cluster_and_eigengap_says_two():
    x, truth = planted_points()
    result = spray(euclidean_distances(x), n_clusters="eigengap")
    m = detection_metrics(truth, result)
    assert result.extra["eigengap_k"] == 2
    assert m["tpr"] >= 0.95 and m["tnr"] >= 0.98


def test_spectral_signatures_ranks_poisons_on_top():
    x, truth = planted_points()
    result = spectral_signatures(x, poison_share=truth.mean())
    assert result.n_flagged == int(np.ceil(1.5 * truth.mean() * truth.size))
    assert detection_metrics(truth, result)["tpr"] == 1.0  # removes 1.5x the poisons: all of them
    assert auroc(truth, result.scores) > 0.99


def test_spectral_signatures_score_is_squared_projection_on_top_direction():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)) * np.array([5.0, 1.0, 1.0, 1.0])  # dominant first axis
    scores = spectral_signatures(x, 0.1).scores
    centred = x - x.mean(0)
    v = np.linalg.svd(centred)[2][0]
    np.testing.assert_allclose(scores, (centred @ v) ** 2)


@pytest.mark.parametrize("statistic", ["max", "topk_share"])
def test_concentration_finds_stamped_heatmaps(statistic):
    maps, truth = planted_heatmaps()
    m = detection_metrics(truth, relevance_concentration(maps, statistic))
    assert m["tpr"] >= 0.95 and m["tnr"] >= 0.98


def test_topk_share_is_one_for_a_single_hot_pixel():
    maps = np.zeros((2, 4, 4))
    maps[0, 1, 1] = 2.0
    maps[1] = 1.0
    np.testing.assert_allclose(concentration_scores(maps, "topk_share", k=1), [1.0, 1 / 16])


def test_two_group_threshold_is_exact_1d_two_means():
    rng = np.random.default_rng(4)
    values = np.r_[rng.normal(0, 1, 30), rng.normal(10, 1, 7)]
    threshold = two_group_threshold(values)
    best = min(
        (np.sum((values[values <= t] - values[values <= t].mean()) ** 2) + np.sum((values[values > t] - values[values > t].mean()) ** 2), t)
        for t in np.sort(values)[:-1]
    )[1]
    assert (values > threshold).sum() == (values > best).sum() == 7


# ----------------------------------------------------------------- class ranking


def test_rank_classes_finds_the_poisoned_class_and_none_on_a_clean_model():
    def classes(poisoned: int | None):
        return {c: planted_points(shift=4.0 if c == poisoned else 0.0, seed=c)[0] for c in range(8)}

    detect = lambda x: activation_clustering(x, seed=0)  # noqa: E731
    poisoned = rank_classes({c: detect(x) for c, x in classes(5).items()})
    assert poisoned.loc[0, "class"] == 5 and poisoned.loc[0, "suspicious"]
    assert poisoned["suspicious"].sum() == 1
    clean = rank_classes({c: detect(x) for c, x in classes(None).items()})
    assert not clean["suspicious"].any()


def test_anomaly_index_is_robust_z_score():
    np.testing.assert_allclose(anomaly_index(np.array([1.0, 2.0, 3.0, 4.0, 100.0])), (np.array([1, 2, 3, 4, 100]) - 3) / 1.4826)
    np.testing.assert_array_equal(anomaly_index(np.ones(4)), np.zeros(4))


# ----------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: activation_clustering(np.ones((1, 5))), "at least 3 samples"),
        (lambda: activation_clustering(np.ones((10, 5))), "identical"),
        (lambda: activation_clustering(np.full((10, 5), np.nan)), "NaN"),
        (lambda: activation_clustering(np.random.rand(10, 5), method="svd"), "'pca' or 'ica'"),
        (lambda: spectral_signatures(np.random.rand(10, 5), poison_share=0.0), "poison_share"),
        (lambda: relevance_concentration(np.ones((10, 4, 4))), "identical"),
        (lambda: relevance_concentration(np.random.rand(10, 4, 4), "mean"), "statistic"),
        (lambda: spray(np.zeros((5, 5))), "all zeros"),
        (lambda: spray(np.random.rand(5, 4)), "square"),
        (lambda: rank_classes({0: spectral_signatures(np.random.rand(5, 3), 0.2)}), "at least 3 classes"),
    ],
)
def test_bad_input_raises_clear_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ----------------------------------------------------------------- result tables


def test_summarize_and_wide_table_average_over_seeds():
    import pandas as pd

    from poisondetect.experiments import mean_std, summarize, wide_table

    frame = pd.DataFrame({
        "share": [0.33, 0.33, 0.33, 0.33, 0.1],
        "seed": [0, 1, 0, 1, 0],
        "method": ["gw_kmeans", "gw_kmeans", "ac_pca", "ac_pca", "gw_kmeans"],
        "accuracy": [1.0, 0.9, 0.5, 0.7, 0.8],
        "tpr": [1.0, 0.8, 0.2, 0.4, 0.6],
        "tnr": [1.0, 1.0, 0.9, 0.9, np.nan],
        "auroc": [1.0, 0.9, 0.6, 0.7, 0.8],
    })
    summary = summarize(frame, ["share", "method"], ("tpr", "tnr"))
    row = summary[(summary["share"] == 0.33) & (summary["method"] == "gw_kmeans")].iloc[0]
    assert row["tpr_mean"] == pytest.approx(0.9) and row["tpr_std"] == pytest.approx(np.std([1.0, 0.8], ddof=1))
    assert row["seeds"] == 2
    table = wide_table(frame, "share", ("gw_kmeans", "ac_pca"), short=False)
    assert list(table["share"]) == [0.33, 0.1]
    assert table.loc[0, "HC (GW k-means) TPR"] == mean_std(0.9, np.std([1.0, 0.8], ddof=1)) == "90.0 ± 14.1"
    assert table.loc[1, "HC (GW k-means) TPR"] == "60.0"  # one seed: no std
    assert table.loc[1, "HC (GW k-means) TNR"] == "--"  # undefined
    assert table.loc[1, "AC (PCA) TPR"] == "--"  # not run


# ----------------------------------------------------------------- registry


def test_gw_detectors_build_spaces_from_their_settings_and_spray_takes_its_cluster_count_from_them():
    from poisondetect.detection import DETECTORS, GWKMeansSettings, SpaceSettings, SpraySettings

    stamped, truth = planted_heatmaps(n_clean=40, n_poison=8)
    space = SpaceSettings(max_points=16)
    assert all(s.n <= 16 for s in space.spaces(stamped))
    with pytest.raises(ValueError, match="heatmap 0 cannot become"):
        space.spaces(np.zeros_like(stamped))  # a blank map has no relevance mass
    hc = DETECTORS["gw_kmeans"](GWKMeansSettings(space=space, max_iter=5, barycenter_size=8), maps=np.clip(stamped, 0, None))
    assert hc.method == "gw_kmeans" and hc.n == truth.size
    assert DETECTORS["spray_euclidean"](SpraySettings(n_clusters=3), maps=stamped).extra["n_clusters"] == 3
    found = DETECTORS["spray_euclidean"](SpraySettings(n_clusters="eigengap"), maps=stamped)
    assert found.extra["n_clusters"] == found.extra["eigengap_k"]


def test_the_registry_names_every_detector_once_and_checks_its_inputs():
    from poisondetect.detection import DETECTORS, ClusteringSettings, detector, labels, register

    assert set(labels()) == set(DETECTORS) and labels()["gw_kmeans"] == "HC (GW k-means)" and labels(short=True)["gw_kmeans"] == "HC"
    with pytest.raises(ValueError, match="unknown detector 'nonsense'"):
        detector("nonsense")
    with pytest.raises(ValueError, match="needs the inputs activations"):
        DETECTORS["ac_pca"](maps=np.zeros((4, 8, 8)))
    with pytest.raises(ValueError, match="registered twice"):
        register("ac_pca", label="x", short="x", settings=ClusteringSettings, inputs=("activations",), description="x")
    with pytest.raises(TypeError, match="explanation"):
        register("no_method", label="x", short="x", settings=ClusteringSettings, inputs=("maps",), description="x")
    with pytest.raises(ValueError, match="poison_share"):
        DETECTORS["spectral_signatures"](activations=np.random.default_rng(0).normal(size=(20, 5)))


def test_beating_the_thesis_needs_a_higher_tpr_and_a_tnr_of_99_percent():
    from poisondetect.experiments import THESIS_HC_TPR, beats_thesis

    assert THESIS_HC_TPR[0.33] == 99.46
    assert beats_thesis(0.33, tpr=0.996, tnr=0.99)
    assert not beats_thesis(0.33, tpr=0.996, tnr=0.989)  # too many false alarms
    assert not beats_thesis(0.33, tpr=0.994, tnr=1.0)  # found fewer
    with pytest.raises(KeyError):
        beats_thesis(0.5, tpr=1.0, tnr=1.0)  # the thesis reports no rate for this share


def test_thesis_comparison_table_from_seeds():
    import pandas as pd

    from poisondetect.experiments import thesis_comparison

    rows = []
    for seed, (hc_tpr, hc_tnr) in enumerate([(1.0, 1.0), (0.99, 0.995)]):  # beats 99.46 at 33 % on average
        rows += [{"share": 0.33, "seed": seed, "method": "gw_kmeans", "tpr": hc_tpr, "tnr": hc_tnr, "auroc": 1.0, "attack_success": 0.9},
                 {"share": 0.33, "seed": seed, "method": "ac_pca", "tpr": 0.5, "tnr": 0.6, "auroc": 0.5, "attack_success": 0.9},
                 {"share": 0.05, "seed": seed, "method": "gw_kmeans", "tpr": 0.9, "tnr": 0.5 + seed / 10, "auroc": 0.8 + seed / 10, "attack_success": 0.3 + seed / 10},
                 {"share": 0.05, "seed": seed, "method": "ac_pca", "tpr": 0.4, "tnr": 0.7, "auroc": 0.6, "attack_success": 0.3 + seed / 10},
                 {"share": 0.25, "seed": seed, "method": "gw_kmeans", "tpr": 1.0, "tnr": 1.0, "auroc": 1.0, "attack_success": 1.0}]  # no thesis rate
    table = thesis_comparison(pd.DataFrame(rows))
    assert table["share %"].tolist() == [33, 5]
    assert table["HC beats thesis"].tolist() == ["yes", "no"]  # at 5 %: TPR 90 > 87.43, but TNR 55 < 99
    assert table.loc[0, "our HC TPR"] == "99.5 ± 0.7" and table.loc[1, "our HC TNR"] == "55.0 ± 7.1"
    assert table.loc[1, "ASR %"] == pytest.approx(35.0)
    assert table.loc[1, "our HC AUROC"] == "85.0 ± 7.1" and table.loc[0, "our AC AUROC"] == "50.0 ± 0.0"
    assert table.loc[0, "thesis HC TPR"] == 99.46 and table.loc[1, "thesis AC TPR"] == 36.55
    assert "ASR %" not in thesis_comparison(pd.DataFrame(rows).drop(columns="attack_success")).columns
    assert "our SpRAy-GW TPR" not in table.columns
    for seed, share, tpr in ((0, 0.33, 1.0), (1, 0.33, 0.99), (0, 0.05, 0.9), (1, 0.05, 0.8)):  # 5 %: 85 < 87.43
        rows.append({"share": share, "seed": seed, "method": "spray_gw", "tpr": tpr, "tnr": 1.0, "auroc": 1.0, "attack_success": 1.0})
    table = thesis_comparison(pd.DataFrame(rows))
    assert table["SpRAy-GW beats thesis"].tolist() == ["yes", "no"] and table.loc[1, "our SpRAy-GW TPR"] == "85.0 ± 7.1"
    assert table["HC beats thesis"].tolist() == ["yes", "no"]


def nuisance_activations(n_clean=300, n_poison=30, d=40, seed=0):
    """Clean activations with one direction of large variance (a nuisance of the class) and poisons
    shifted along a quiet direction: the setting where the top singular vector misses the poison."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_clean + n_poison, d))
    x[:, 0] *= 12.0  # nuisance: the largest variance, clean and poisoned alike
    x[n_clean:, 5] += 4.0  # the poisons stick out in a direction of unit variance
    truth = np.r_[np.zeros(n_clean, bool), np.ones(n_poison, bool)]
    return x, truth


def test_spectre_whitens_away_a_nuisance_direction_that_fools_spectral_signatures():
    from poisondetect.detection import spectre

    x, truth = nuisance_activations()
    share = truth.mean()
    plain = detection_metrics(truth, spectral_signatures(x, share))
    robust = detection_metrics(truth, spectre(x, share, n_components=16))
    assert plain["auroc"] < 0.7  # the top singular direction is the nuisance
    assert robust["auroc"] > 0.97 and robust["tpr"] > 0.9
    with pytest.raises(ValueError, match="poison_share"):
        spectre(x, 0.0)


def test_probe_auroc_is_the_ceiling_of_a_representation():
    from poisondetect.detection import probe_auroc

    x, truth = nuisance_activations()
    assert probe_auroc(x, truth) > 0.97
    noise = np.random.default_rng(1).normal(size=x.shape)
    assert 0.3 < probe_auroc(noise, truth) < 0.7  # nothing to find
    assert np.isnan(probe_auroc(x, np.zeros(len(x), bool)))  # no poisons: undefined


def test_neighbour_auroc_sees_groups_of_any_shape():
    from poisondetect.detection import neighbour_auroc

    rng = np.random.default_rng(0)
    angle = rng.uniform(0, 2 * np.pi, 60)  # clean: a ring; poisons: a tight blob at its centre
    points = np.r_[np.c_[np.cos(angle), np.sin(angle)] * 5, rng.normal(scale=0.1, size=(15, 2))]
    truth = np.r_[np.zeros(60, bool), np.ones(15, bool)]
    d = np.linalg.norm(points[:, None] - points[None], axis=-1)
    assert neighbour_auroc(d, truth, k=5) == 1.0
    shuffled = rng.permutation(truth)
    assert neighbour_auroc(d, shuffled, k=5) < 0.75
    with pytest.raises(ValueError, match="k must"):
        neighbour_auroc(d, truth, k=75)
    with pytest.raises(ValueError, match="square"):
        neighbour_auroc(d[:, :10], truth)


# ----------------------------------------------------------------- flagging clusters by their mean heatmap


def test_cluster_concentration_is_the_topk_share_of_the_mean_normalised_map():
    maps = np.zeros((3, 2, 2))
    maps[0, 0, 0] = 5.0  # all relevance on one pixel
    maps[1, 0, 1] = 1.0  # the same cluster, another pixel
    maps[2] = 1.0  # a flat map, its own cluster
    maps[2, 1, 1] = -3.0  # negative relevance does not count
    concentration = cluster_concentration(maps, np.array([0, 0, 1]), k=1)
    # cluster 0: the mean of two one-hot measures puts 1/2 on each pixel; cluster 1: 1/3 on three pixels
    np.testing.assert_allclose(concentration, [0.5, 1 / 3])


def test_the_concentrated_rule_flags_every_poisoned_cluster_and_nothing_in_a_clean_class():
    rng = np.random.default_rng(3)
    clean = rng.uniform(0, 1, size=(90, 12, 12))
    poisons = rng.uniform(0, 1, size=(20, 12, 12))
    poisons[:10, 2:5, 2:5] += 6.0  # the trigger at two places: one cluster for each
    poisons[10:, 7:10, 6:9] += 6.0
    maps = np.r_[clean, poisons]
    labels = np.r_[np.repeat([0, 1, 2], 30), np.full(10, 3), np.full(10, 4)]
    found = DetectionResult("clusters", flagged=labels == 4, labels=labels)
    flagged = flag_concentrated_clusters(found, maps, k=9, min_ratio=2.0)
    np.testing.assert_array_equal(flagged.flagged, labels >= 3)
    assert flagged.extra["split_score"] == pytest.approx(flagged.scores.max()) and flagged.extra["split_score"] > 2
    clean_only = DetectionResult("clusters", flagged=labels[:90] == 2, labels=labels[:90])
    assert not flag_concentrated_clusters(clean_only, clean, k=9).flagged.any()
    with pytest.raises(ValueError, match="min_ratio must exceed 1"):
        flag_concentrated_clusters(found, maps, min_ratio=1.0)
    with pytest.raises(ValueError, match="no cluster labels"):
        flag_concentrated_clusters(DetectionResult("scores", flagged=labels == 4), maps)


def test_spray_with_the_concentrated_rule_finds_stamped_heatmaps_and_rejects_unknown_rules():
    from poisondetect.detection import DETECTORS, SpraySettings

    maps, truth = planted_heatmaps()
    found = DETECTORS["spray_euclidean"](SpraySettings(), maps=maps)
    m = detection_metrics(truth, found)
    assert m["tpr"] >= 0.95 and m["tnr"] >= 0.98 and found.extra["flag"] == "concentrated"
    with pytest.raises(ValueError, match="flag must be one of smallest, concentrated"):
        SpraySettings(flag="tightest")


def test_gw_kmeans_with_the_concentrated_rule_flags_the_stamped_cluster():
    from poisondetect.detection import DETECTORS, GWKMeansSettings, SpaceSettings

    maps, truth = planted_heatmaps(n_clean=40, n_poison=10)
    settings = GWKMeansSettings(space=SpaceSettings(max_points=16), n_clusters=3, flag="concentrated", max_iter=5, barycenter_size=8)
    found = DETECTORS["gw_kmeans"](settings, maps=np.clip(maps, 0, None))
    m = detection_metrics(truth, found)
    assert found.extra["flag"] == "concentrated" and found.extra["cluster_concentration"].shape == (3,)
    assert m["tpr"] >= 0.9 and m["tnr"] >= 0.9
    with pytest.raises(ValueError, match="flag must be one of smallest, tightest, concentrated"):
        GWKMeansSettings(flag="largest")


# ----------------------------------------------------------------- Activation Clustering's analyses (Chen et al. 2019)


@pytest.mark.parametrize("method", ["pca", "ica"])
@pytest.mark.parametrize("analysis", ["relative_size", "silhouette"])
def test_the_size_and_silhouette_analyses_flag_the_planted_cluster(analysis, method):
    x, truth = planted_points()
    result = activation_clustering(x, method=method, analysis=analysis)
    m = detection_metrics(truth, result)
    assert m["tpr"] >= 0.95 and m["tnr"] >= 0.98 and m["auroc"] > 0.99
    assert result.extra["class_flagged"] and result.extra["analysis"] == analysis
    assert sorted(result.extra["cluster_sizes"]) == pytest.approx([0.1, 0.9], abs=0.02)
    assert result.extra["silhouette"] > 0.10


@pytest.mark.parametrize("method", ["pca", "ica"])
def test_the_silhouette_analysis_calls_one_blob_clean_where_the_smaller_cluster_rule_flags(method):
    x = np.random.default_rng(0).normal(size=(200, 30))
    clean = activation_clustering(x, method=method, analysis="silhouette")
    assert clean.extra["silhouette"] < 0.10
    assert not clean.extra["class_flagged"] and not clean.flagged.any() and clean.extra["relative_size"] == 0
    smaller = activation_clustering(x, method=method, analysis="smaller")
    assert smaller.extra["class_flagged"] and 0 < smaller.extra["relative_size"] <= 0.5
    np.testing.assert_array_equal(clean.scores, smaller.scores)  # nothing flagged: scored against the smallest cluster


def test_relative_size_with_four_clusters_flags_exactly_the_small_blob():
    rng = np.random.default_rng(0)
    sizes, centres = [90, 90, 90, 24], 12.0 * np.eye(4, 20)
    x = np.concatenate([centre + rng.normal(size=(size, 20)) for size, centre in zip(sizes, centres)])
    truth = np.repeat([False, False, False, True], sizes)
    found = activation_clustering(x, n_clusters=4, analysis="relative_size", size_threshold=0.15)
    np.testing.assert_array_equal(found.flagged, truth)
    assert sorted(found.extra["cluster_sizes"]) == pytest.approx(sorted(np.array(sizes) / sum(sizes)))
    assert auroc(truth, found.scores) == 1.0
    # at ART's 0.35 every cluster of four (~30 % each) is a minority: all are flagged, and the scores fall back to the smallest
    every = activation_clustering(x, n_clusters=4, analysis="relative_size")
    assert every.flagged.all()
    np.testing.assert_array_equal(every.scores, found.scores)


def test_two_clusters_and_the_smaller_rule_keep_the_margin_scores_of_two_means():
    x, _ = planted_points(shift=1.0)
    found = activation_clustering(x, seed=2)
    labels, centers = kmeans(found.extra["reduced"], 2, seed=2)
    distances = np.linalg.norm(found.extra["reduced"][:, None, :] - centers[None], axis=2)
    small = int(np.argmin(np.bincount(labels)))
    np.testing.assert_array_equal(found.labels, labels)
    np.testing.assert_array_equal(found.flagged, labels == small)
    np.testing.assert_allclose(found.scores, distances[:, 1 - small] - distances[:, small], rtol=0, atol=1e-12)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"analysis": "largest"}, "analysis must be one of smaller, relative_size, silhouette"),
        ({"n_clusters": 1}, "n_clusters must be an integer >= 2"),
        ({"n_clusters": 40}, "n_clusters must be at most n - 1 = 39"),
        ({"size_threshold": 0.0}, "size_threshold must lie in"),
        ({"size_threshold": 1.0}, "size_threshold must lie in"),
        ({"silhouette_threshold": 1.5}, "silhouette_threshold must lie in"),
        ({"silhouette_threshold": -1.5}, "silhouette_threshold must lie in"),
    ],
)
def test_bad_analysis_parameters_raise_errors_naming_them(options, match):
    x = np.random.default_rng(0).normal(size=(40, 5))
    with pytest.raises(ValueError, match=match):
        activation_clustering(x, **options)


def test_the_paper_detector_runs_ica_with_the_silhouette_analysis():
    x, truth = planted_points()
    found = DETECTORS["ac_paper"](ACAnalysisSettings(), activations=x)
    assert isinstance(found, DetectionResult) and found.method == "ac_paper"
    assert found.extra["analysis"] == "silhouette" and found.extra["class_flagged"]
    assert detection_metrics(truth, found)["tpr"] >= 0.95
    with pytest.raises(ValueError, match="analysis must be one of"):
        ACAnalysisSettings(analysis="largest")
