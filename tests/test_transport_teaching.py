"""Teaching helpers of chapter 4: hand-checkable Sinkhorn scalings, iteration counts, GW over permutations."""

from fractions import Fraction

import numpy as np
import pytest

from poisondetect.transport import MetricMeasureSpace, exact_gw, mds_embedding, sinkhorn, sinkhorn_knopp
from poisondetect.transport.teaching import gw_over_permutations, plan_explorer, sinkhorn_iterations, sinkhorn_scalings


def line_space(positions):
    return MetricMeasureSpace.from_points(np.asarray(positions, float)[:, None])


def test_sinkhorn_scalings_match_the_hand_computation():
    # K = [[1, 1/2], [1/2, 1]] when epsilon = 1 / log 2; the notebook's worked example
    a, b = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    K, u, v = sinkhorn_scalings(a, b, [[0.0, 1.0], [1.0, 0.0]], 1 / np.log(2), n_iter=2)
    np.testing.assert_allclose(K, [[1, 0.5], [0.5, 1]])
    hand_u = [[Fraction(1, 3), Fraction(1, 3)], [Fraction(2, 5), Fraction(2, 7)]]
    hand_v = [[Fraction(1, 2), Fraction(3, 2)], [Fraction(35, 76), Fraction(105, 68)]]
    np.testing.assert_allclose(u, np.array(hand_u, dtype=float), rtol=1e-14)
    np.testing.assert_allclose(v, np.array(hand_v, dtype=float), rtol=1e-14)


def test_sinkhorn_scalings_converge_to_the_plan_of_sinkhorn_knopp():
    rng = np.random.default_rng(1)
    a, b, M = rng.random(4) + 0.1, rng.random(3) + 0.1, rng.random((4, 3))
    K, u, v = sinkhorn_scalings(a, b, M, 0.2, n_iter=500)
    plan, _ = sinkhorn_knopp(a, b, M, 0.2, tol=1e-14, max_iter=500)
    np.testing.assert_allclose(u[-1][:, None] * K * v[-1][None], plan, atol=1e-12)
    with pytest.raises(ValueError, match="n_iter"):
        sinkhorn_scalings(a, b, M, 0.2, n_iter=0)


def test_sinkhorn_iterations_grow_as_epsilon_shrinks():
    grid = np.linspace(0, 1, 20)
    a = np.exp(-((grid - 0.3) ** 2) / 0.01)
    b = np.exp(-((grid - 0.7) ** 2) / 0.02)
    a, b = a / a.sum(), b / b.sum()
    M = (grid[:, None] - grid[None]) ** 2
    counts = sinkhorn_iterations(a, b, M, [0.3, 0.03, 0.01], tol=1e-6)
    assert counts.dtype.kind == "i"
    assert 1 <= counts[0] < counts[1] < counts[2] < 20_000
    assert sinkhorn(a, b, M, 0.01, relative=True, tol=1e-6).marginal_error < 1e-6


def test_gw_over_permutations_enumerates_the_hand_values():
    # X = {0, 1, 3} and Y = {0, 1, 2.5} on a line: E(P_sigma) = 2/9 * sum over the 3 edges of the squared differences
    perms, values = gw_over_permutations(line_space([0, 1, 3]), line_space([0, 1, 2.5]))
    assert perms.shape == (6, 3) and perms[0].tolist() == [0, 1, 2]
    edges_x = {(0, 1): 1.0, (1, 2): 2.0, (0, 2): 3.0}
    edges_y = np.abs(np.subtract.outer([0, 1, 2.5], [0, 1, 2.5]))
    for perm, value in zip(perms, values):
        hand = 2 / 9 * sum((d - edges_y[perm[i], perm[k]]) ** 2 for (i, k), d in edges_x.items())
        assert value == pytest.approx(hand, abs=1e-14)
    assert values.min() == pytest.approx(1 / 9) and np.argmin(values) == 0


def test_gw_of_euclidean_uniform_spaces_is_attained_at_a_permutation():
    rng = np.random.default_rng(2)
    for _ in range(5):
        X = MetricMeasureSpace.from_points(rng.normal(size=(4, 2)))
        Y = MetricMeasureSpace.from_points(rng.normal(size=(4, 2)))
        _, values = gw_over_permutations(X, Y)
        assert exact_gw(X, Y).value >= values.min() - 1e-12


def test_gw_over_permutations_rejects_what_it_cannot_enumerate():
    with pytest.raises(ValueError, match="equally many"):
        gw_over_permutations(line_space([0, 1]), line_space([0, 1, 2]))
    with pytest.raises(ValueError, match="non-uniform"):
        gw_over_permutations(MetricMeasureSpace.from_points([[0.0], [1.0]], [0.3, 0.7]), line_space([0, 1]))
    with pytest.raises(ValueError, match="n <= 8"):
        gw_over_permutations(line_space(range(9)), line_space(range(9)))


def test_mds_of_a_non_euclidean_space_clips_a_negative_eigenvalue():
    # the star metric (a centre at distance 1 from three leaves 2 apart) is not Euclidean: one eigenvalue of B < 0
    C = np.array([[0, 1, 1, 1], [1, 0, 2, 2], [1, 2, 0, 2], [1, 2, 2, 0]], float)
    J = np.eye(4) - 0.25
    assert np.linalg.eigvalsh(-0.5 * J @ C**2 @ J).min() < -1e-9
    X = mds_embedding(C, dim=3)
    D = np.linalg.norm(X[:, None] - X[None], axis=-1)
    assert np.abs(D - C).max() > 0.1


def test_plan_explorer_needs_ipywidgets_or_returns_a_widget():
    a = b = np.full(3, 1 / 3)
    M = np.abs(np.subtract.outer(np.arange(3.0), np.arange(3.0)))
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="ipywidgets"):
            plan_explorer(a, b, M)
    else:
        assert plan_explorer(a, b, M).children[0].description == "epsilon"
