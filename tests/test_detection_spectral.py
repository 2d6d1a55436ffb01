"""Mathematics of the spectral clustering steps of SpRAy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse.csgraph import laplacian as scipy_laplacian

from poisondetect.detection import affinity_graph, eigengap_clusters, laplacian_spectrum, normalized_laplacian, spray
from poisondetect.detection.representations import euclidean_distances


def random_distances(n=40, seed=0):
    return euclidean_distances(np.random.default_rng(seed).normal(size=(n, 5)))


@pytest.mark.parametrize("graph", ["knn", "epsilon", "rbf"])
def test_affinity_is_symmetric_nonnegative_with_zero_diagonal(graph):
    a = affinity_graph(random_distances(), graph=graph, n_neighbors=5)
    np.testing.assert_array_equal(a, a.T)
    assert a.min() >= 0 and np.all(np.diag(a) == 0)


def test_knn_graph_links_each_point_to_its_nearest_neighbours():
    d = random_distances(30)
    a = affinity_graph(d, "knn", n_neighbors=4)
    for i in range(30):
        nearest = np.argsort(d[i] + np.where(np.arange(30) == i, np.inf, 0))[:4]
        assert np.all(a[i, nearest] == 1)
    assert np.all(a.sum(axis=1) >= 4)


def test_default_epsilon_graph_is_connected():
    from scipy.sparse.csgraph import connected_components

    a = affinity_graph(random_distances(50, seed=3), "epsilon")
    assert connected_components(a, directed=False)[0] == 1


def test_normalized_laplacian_matches_scipy_and_definition():
    a = affinity_graph(random_distances(), "rbf")
    lap = normalized_laplacian(a)
    np.testing.assert_allclose(lap, scipy_laplacian(a, normed=True), atol=1e-12)
    d = a.sum(1)
    np.testing.assert_allclose(lap, np.eye(len(a)) - a / np.sqrt(np.outer(d, d)), atol=1e-12)


@pytest.mark.parametrize("graph", ["knn", "epsilon", "rbf"])
def test_spectrum_lies_in_0_2_and_smallest_is_zero_on_connected_graph(graph):
    a = affinity_graph(random_distances(60, seed=1), graph=graph, n_neighbors=10)
    values = np.linalg.eigvalsh(normalized_laplacian(a))
    assert values.min() > -1e-10 and values.max() < 2 + 1e-10
    assert abs(values[0]) < 1e-10 and values[1] > 1e-6  # connected: 0 is simple
    # its eigenvector is D^{1/2} 1
    small, vectors = laplacian_spectrum(normalized_laplacian(a), 3)
    expected = np.sqrt(a.sum(1))
    assert abs(abs(vectors[:, 0] @ expected) / np.linalg.norm(expected) - 1) < 1e-8


def test_zero_eigenvalue_multiplicity_counts_components_and_eigengap_finds_them():
    rng = np.random.default_rng(0)
    blobs = np.concatenate([rng.normal(size=(40, 3)) + 50 * k for k in range(3)])
    a = affinity_graph(euclidean_distances(blobs), "knn", n_neighbors=10)
    values, _ = laplacian_spectrum(normalized_laplacian(a), 10)
    assert np.sum(values < 1e-10) == 3
    assert eigengap_clusters(values) == 3
    result = spray(euclidean_distances(blobs), n_clusters="eigengap")
    assert result.extra["n_clusters"] == 3 and result.extra["n_components"] == 3
    # each blob is one cluster
    for k in range(3):
        assert np.unique(result.labels[40 * k : 40 * (k + 1)]).size == 1


def test_spray_is_invariant_to_sample_order():
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(size=(80, 6)), rng.normal(size=(12, 6)) + 4]
    perm = rng.permutation(len(x))
    a = spray(euclidean_distances(x))
    b = spray(euclidean_distances(x[perm]))
    np.testing.assert_array_equal(a.flagged[perm], b.flagged)


def test_candidate_pairs_hold_every_samples_nearest_once():
    from poisondetect.detection.representations import candidate_pairs

    x = np.random.default_rng(2).normal(size=(70, 4))
    d = euclidean_distances(x) + np.diag(np.full(70, np.inf))
    I, J = candidate_pairs(x, 6, chunk=16)  # several chunks
    assert np.all(I < J) and len(set(zip(I, J))) == len(I)
    assert 70 * 6 / 2 <= len(I) <= 70 * 6
    pairs = set(zip(I, J))
    for i in range(70):
        for j in np.argsort(d[i])[:6]:
            assert (min(i, j), max(i, j)) in pairs
    with pytest.raises(ValueError, match="n_candidates"):
        candidate_pairs(x, 70)


def test_spray_on_a_candidate_graph_equals_spray_when_the_candidates_hold_the_neighbours():
    """Distances known only on candidate pairs (inf elsewhere) give the same k-NN graph and clusters
    as the full matrix whenever each sample's k nearest are among its candidates."""
    from poisondetect.detection.representations import candidate_pairs
    from poisondetect.detection.spectral import knn_affinity, spray_graph

    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(size=(90, 5)), rng.normal(size=(15, 5)) + 3]
    full = euclidean_distances(x)
    I, J = candidate_pairs(x, 12)
    sparse = np.full(full.shape, np.inf)
    sparse[I, J] = sparse[J, I] = full[I, J]
    np.testing.assert_array_equal(knn_affinity(sparse, 10), affinity_graph(full, "knn", n_neighbors=10))
    expected = spray(full, n_clusters="eigengap")
    found = spray_graph(knn_affinity(sparse, 10), n_clusters="eigengap")
    np.testing.assert_array_equal(found.labels, expected.labels)
    assert found.extra["n_clusters"] == expected.extra["n_clusters"] and -1 <= found.split_score <= 1
    with pytest.raises(ValueError, match="fewer than n_neighbors"):
        knn_affinity(sparse, 13 * 8)
    with pytest.raises(ValueError, match="candidates"):
        from poisondetect.detection.detectors import GWSpraySettings
        GWSpraySettings(candidates=5)
