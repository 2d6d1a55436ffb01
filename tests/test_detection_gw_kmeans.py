"""GW k-means on small planted metric-measure spaces: recovery, order invariance, determinism, errors."""

from __future__ import annotations

import numpy as np
import pytest

from poisondetect.detection import detection_metrics
from poisondetect.detection.gw_kmeans import content_keys, gw_kmeans, gw_outlier_scores, robust_z, weighted_choice
from poisondetect.transport.spaces import MetricMeasureSpace
from poisondetect.transport.gromov import exact_gw


def planted_spaces(n_clean=24, n_poison=6, seed=0):
    """Clean: mass spread over a jittered 3x3 grid (a 'sign'). Poisoned: the same plus a heavy 'sticker' blob."""
    rng = np.random.default_rng(seed)
    grid = np.stack(np.meshgrid(np.linspace(0, 1, 3), np.linspace(0, 1, 3)), -1).reshape(-1, 2)
    spaces, truth = [], []
    for i in range(n_clean + n_poison):
        poison = i >= n_clean
        points = grid + 0.05 * rng.normal(size=grid.shape)
        weights = rng.uniform(0.5, 1.5, size=len(grid))
        if poison:
            points = np.vstack([points, 1.2 + 0.03 * rng.normal(size=(4, 2))])
            weights = np.r_[weights, np.full(4, 1.5 * weights.sum() / 4)]
        spaces.append(MetricMeasureSpace.from_points(points, weights))
        truth.append(poison)
    order = rng.permutation(len(spaces))
    return [spaces[i] for i in order], np.array(truth)[order]


def exact_distances(spaces, centers):
    """Reference GW (POT's exact solver, through the transport package) to each centre."""
    return np.array([[exact_gw(s, c, return_plan=False).value for c in centers] for s in spaces])


def medoid(members, size, seed):
    """Stand-in barycenter for testing the loop: the member with the smallest total GW to the others."""
    d = exact_distances(members, members)
    return members[int(np.argmin(d.sum(axis=1)))]


def run(spaces, seed=0, **kwargs):
    kwargs.setdefault("barycenter_samples", 8)
    return gw_kmeans(spaces, seed=seed, distance_to_centers=exact_distances, barycenter=medoid, progress=False, **kwargs)


def test_planted_cluster_is_found():
    spaces, truth = planted_spaces()
    result = run(spaces)
    m = detection_metrics(truth, result)
    assert m["tpr"] == 1.0 and m["tnr"] == 1.0
    assert result.extra["converged"]
    assert m["auroc"] == 1.0


def test_invariant_to_reordering_the_inputs():
    spaces, truth = planted_spaces(seed=1)
    a = run(spaces, seed=3)
    perm = np.random.default_rng(7).permutation(len(spaces))
    b = run([spaces[i] for i in perm], seed=3)
    np.testing.assert_array_equal(a.flagged[perm], b.flagged)
    np.testing.assert_array_equal(a.labels[perm], b.labels)
    np.testing.assert_allclose(a.scores[perm], b.scores)


def test_deterministic_given_seed_and_history_logged():
    spaces, _ = planted_spaces(seed=2)
    a, b = run(spaces, seed=11), run(spaces, seed=11)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.extra["seeds"] == b.extra["seeds"]
    history = a.extra["history"]
    assert len(history) == a.extra["iterations"] + 1
    np.testing.assert_array_equal(history[-1], a.labels)  # converged: last two equal
    np.testing.assert_array_equal(history[-2], a.labels)


def test_weighted_choice_follows_the_weights():
    rng = np.random.default_rng(0)
    weights = np.array([0.0, 1.0, 3.0])
    draws = [weighted_choice(rng.uniform(size=3), weights) for _ in range(4000)]
    counts = np.bincount(draws, minlength=3) / 4000
    np.testing.assert_allclose(counts, [0, 0.25, 0.75], atol=0.03)


def test_content_keys_depend_on_content_and_seed_not_position():
    spaces, _ = planted_spaces()
    keys = content_keys(spaces, seed=0, purpose="x")
    np.testing.assert_array_equal(content_keys(spaces[::-1], seed=0, purpose="x"), keys[::-1])
    assert not np.array_equal(content_keys(spaces, seed=1, purpose="x"), keys)
    assert np.all((keys > 0) & (keys < 1))


def test_bad_input_raises_clear_errors():
    spaces, _ = planted_spaces()
    with pytest.raises(ValueError, match="at least 3"):
        run(spaces[:1])
    with pytest.raises(TypeError, match="metric-measure space"):
        run([np.zeros((3, 3))] * 5)
    with pytest.raises(ValueError, match="n_clusters"):
        run(spaces, n_clusters=1)
    with pytest.raises(ValueError, match="n_init"):
        run(spaces, n_init=0)


def test_restarts_keep_the_run_with_the_lowest_inertia():
    spaces, truth = planted_spaces(seed=4)
    single = [run(spaces, seed=5, n_init=1, max_iter=1)]
    best = run(spaces, seed=5, n_init=4, max_iter=1)
    inertias = best.extra["inertias"]
    assert len(inertias) == 4
    # restart 0 is exactly the single run
    np.testing.assert_allclose(inertias[0], single[0].extra["inertia"])
    assert best.extra["inertia"] == min(inertias)
    assert best.extra["restart"] == int(np.argmin(inertias))
    # the reported inertia is the sum of each sample's GW to its own centre
    d = best.extra["distances"]
    np.testing.assert_allclose(best.extra["inertia"], d[np.arange(len(spaces)), best.labels].sum())
    # and is never worse than any single restart
    assert best.extra["inertia"] <= single[0].extra["inertia"] + 1e-12


def test_the_tightest_rule_flags_a_compact_majority_that_the_smallest_rule_misses():
    rng = np.random.default_rng(0)
    blob = lambda: MetricMeasureSpace.from_points(0.02 * rng.normal(size=(5, 2)))  # noqa: E731 - one trigger: alike
    spread = lambda: MetricMeasureSpace.from_points(rng.uniform(0, 1 + rng.uniform(0, 2), size=(8, 2)))  # noqa: E731
    spaces = [blob() for _ in range(14)] + [spread() for _ in range(10)]
    truth = np.r_[np.ones(14, bool), np.zeros(10, bool)]
    smallest = detection_metrics(truth, run(spaces))
    tightest = run(spaces, flag="tightest")
    assert smallest["tpr"] < 0.5  # the poisons are the larger group
    assert detection_metrics(truth, tightest)["tpr"] == 1.0
    assert tightest.extra["spread"].shape == (2,)
    with pytest.raises(ValueError, match="flag"):
        run(spaces, flag="largest")


def test_gw_outlier_scores_rank_the_planted_poisons_first():
    spaces, truth = planted_spaces(n_clean=24, n_poison=4)
    scores = gw_outlier_scores(spaces, barycenter_samples=None, rounds=2, trim=0.5,
                               distance_to_centers=exact_distances, barycenter=medoid)
    assert scores.shape == (len(spaces),) and np.all(scores >= 0)
    assert set(np.argsort(scores)[-4:]) == set(np.flatnonzero(truth))
    z = robust_z(scores)
    assert np.all(z[truth] > 3) and np.median(z[~truth]) == pytest.approx(0, abs=1)
    with pytest.raises(ValueError, match="trim"):
        gw_outlier_scores(spaces, trim=1.0, distance_to_centers=exact_distances, barycenter=medoid)


def mirrored_maps(n_clean=30, n_poison=10, seed=0):
    """Heatmaps whose relevance is one blob: left of centre on clean maps, at its mirror image on poisoned ones."""
    rng = np.random.default_rng(seed)
    maps = rng.uniform(0.0, 0.02, size=(n_clean + n_poison, 32, 32))
    maps[:n_clean, 12:16, 4:8] += 1.0
    maps[n_clean:, 12:16, 24:28] += 1.0
    return maps, np.r_[np.zeros(n_clean, bool), np.ones(n_poison, bool)]


def test_fused_gw_separates_mirror_images_that_gw_cannot():
    """GW is blind to the symmetries of the grid; fused GW (alpha < 1) also compares where relevance lies."""
    import dataclasses

    from poisondetect.detection import DETECTORS, GWKMeansSettings
    from poisondetect.detection.detectors import GWOutlierSettings, GWSpraySettings

    maps, truth = mirrored_maps()
    blind = detection_metrics(truth, DETECTORS["gw_kmeans"](GWKMeansSettings(alpha=1.0), maps=maps))
    assert blind["tpr"] + blind["tnr"] < 1.2  # no better than chance
    # the blobs are equally concentrated, so SpRAy-GW flags by size here (its concentration rule would flag nothing)
    for name, settings in (("gw_kmeans", GWKMeansSettings()), ("spray_gw", GWSpraySettings(flag="smallest")), ("gw_outlier", GWOutlierSettings())):
        fused = detection_metrics(truth, DETECTORS[name](dataclasses.replace(settings, alpha=0.5), maps=maps))
        assert fused["tpr"] == 1.0 and fused["tnr"] >= 0.95, name
    with pytest.raises(ValueError, match="alpha"):
        GWKMeansSettings(alpha=0.0)
    with pytest.raises(ValueError, match="scale='grid'"):
        from poisondetect.detection import SpaceSettings
        DETECTORS["gw_kmeans"](GWKMeansSettings(alpha=0.5, space=SpaceSettings(pool=4, max_points=None, scale="max")), maps=maps)
