"""Optimal transport: Sinkhorn, exact OT, Gromov-Wasserstein, barycenters, heatmap spaces."""

import numpy as np
import ot
import pytest
import torch

from poisondetect.transport import (
    MetricMeasureSpace, edge_relevance, emd, entropic_gw, entropic_gw_batch, exact_gw, gw_barycenter,
    gw_objective, gw_pairs, gw_to_centers, heatmap_to_space, mds_embedding, pad_spaces, pairwise_gw, round_to_couplings,
    sinkhorn, sinkhorn_knopp, wasserstein_heatmaps,
)


def random_space(rng, n, dim=2):
    return MetricMeasureSpace.from_points(rng.normal(size=(n, dim)), rng.random(n) + 0.2, scale=3.0)


def rotate(space, angle, shift=(0.0, 0.0)):
    R = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return MetricMeasureSpace.from_points(space.coords @ R.T + np.asarray(shift), space.p, scale=3.0)


@pytest.fixture
def rng():
    return np.random.default_rng(0)


# --- Sinkhorn ---------------------------------------------------------------

@pytest.mark.parametrize("method", ["log", "stabilized"])
def test_sinkhorn_meets_marginals_and_matches_pot(rng, method):
    a, b = rng.random(7) + 0.1, rng.random(5) + 0.1
    a, b = a / a.sum(), b / b.sum()
    M = rng.random((7, 5))
    out = sinkhorn(a, b, M, 0.05, method=method, tol=1e-11)
    np.testing.assert_allclose(out.plan.sum(1), a, atol=1e-10)
    np.testing.assert_allclose(out.plan.sum(0), b, atol=1e-10)
    reference = ot.sinkhorn(a, b, M, 0.05, stopThr=1e-12, numItermax=100_000)
    np.testing.assert_allclose(out.plan, reference, atol=1e-10)
    assert out.cost == pytest.approx(np.sum(reference * M), rel=1e-9)
    assert out.marginal_error < 1e-10


def test_sinkhorn_batched_equals_one_by_one(rng):
    a = rng.random((3, 6)) + 0.1
    b = rng.random((3, 4)) + 0.1
    M = rng.random((3, 6, 4))
    batch = sinkhorn(a, b, M, 0.1, tol=1e-12)
    for k in range(3):
        single = sinkhorn(a[k], b[k], M[k], 0.1, tol=1e-12)
        np.testing.assert_allclose(batch.plan[k], single.plan, atol=1e-12)


def test_sinkhorn_small_epsilon_is_finite_and_near_exact(rng):
    a, b = np.full(6, 1 / 6), np.full(6, 1 / 6)
    M = rng.random((6, 6))
    out = sinkhorn(a, b, M, 1e-3, method="stabilized", relative=True, tol=1e-4, max_iter=20_000)
    assert np.all(np.isfinite(out.plan)) and out.marginal_error < 1e-4
    assert out.cost == pytest.approx(emd(a, b, M)[1], rel=1e-2)
    with pytest.raises(FloatingPointError):
        sinkhorn_knopp(a, b, 1000 * M, 1e-3)


def test_sinkhorn_knopp_matches_log_domain(rng):
    a, b = np.full(5, 0.2), np.full(4, 0.25)
    M = rng.random((5, 4))
    plan, errors = sinkhorn_knopp(a, b, M, 0.1, tol=1e-12)
    np.testing.assert_allclose(plan, sinkhorn(a, b, M, 0.1, tol=1e-12).plan, atol=1e-10)
    assert errors[-1] < 1e-12 and errors[0] > errors[-1]


def test_epsilon_limits():
    a, b = np.array([0.5, 0.5]), np.array([0.5, 0.5])
    M = np.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_allclose(sinkhorn(a, b, M, 1e3).plan, np.outer(a, b), atol=1e-3)
    np.testing.assert_allclose(sinkhorn(a, b, M, 1e-3).plan, np.diag(a), atol=1e-6)


def test_zero_weights_act_as_padding(rng):
    a = np.array([0.3, 0.0, 0.7])
    b = np.array([0.5, 0.5])
    M = rng.random((3, 2))
    out = sinkhorn(a, b, M, 0.1, tol=1e-11)
    assert np.all(out.plan[1] == 0)
    np.testing.assert_allclose(out.plan.sum(1), a, atol=1e-10)


def test_rounding_gives_exact_couplings(rng):
    P = torch.as_tensor(rng.random((2, 4, 3)))
    a = torch.full((2, 4), 0.25, dtype=torch.float64)
    b = torch.full((2, 3), 1 / 3, dtype=torch.float64)
    R = round_to_couplings(P / P.sum((1, 2), keepdim=True), a, b)
    torch.testing.assert_close(R.sum(2), a)
    torch.testing.assert_close(R.sum(1), b)
    assert (R >= 0).all()


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.array([0.5, np.nan]), np.ones(2), np.ones((2, 2))), "NaN"),
        ((np.array([0.5, -0.5]), np.ones(2), np.ones((2, 2))), "negative"),
        ((np.zeros(2), np.ones(2), np.ones((2, 2))), "zero total mass"),
        ((np.ones(3), np.ones(2), np.ones((2, 2))), "shapes do not match"),
    ],
)
def test_sinkhorn_rejects_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        sinkhorn(*args, 0.1)


# --- exact OT ---------------------------------------------------------------

def test_wasserstein_of_a_shifted_heatmap_is_the_shift():
    h = np.zeros((8, 8))
    h[2, 3] = 1.0
    g = np.zeros((8, 8))
    g[5, 7] = 1.0
    assert wasserstein_heatmaps(h, g) == pytest.approx(5.0)
    assert wasserstein_heatmaps(h, h) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="same shape"):
        wasserstein_heatmaps(h, np.zeros((4, 4)))


# --- Gromov-Wasserstein -----------------------------------------------------

def test_entropic_gw_matches_pot(rng):
    s1, s2 = random_space(rng, 12), random_space(rng, 15)
    eps = 0.05
    _, log = ot.gromov.entropic_gromov_wasserstein(s1.C, s2.C, s1.p, s2.p, epsilon=eps, log=True, max_iter=5000, tol=1e-11, stopThr=1e-12, numItermax=100_000)
    ours = entropic_gw(s1, s2, epsilon=eps, relative=False, eps_start=None, max_iter=2000, inner_iter=50, tol=1e-11)
    assert abs(ours.value - log["gw_dist"]) / log["gw_dist"] < 1e-3
    assert ours.marginal_error < 1e-9


def test_batched_gw_with_padding_equals_unpadded(rng):
    spaces = [random_space(rng, n) for n in (5, 9, 7)]
    C, p, mask = pad_spaces(spaces)
    assert mask.sum(1).tolist() == [5, 9, 7]
    opts = dict(epsilon=0.05, eps_start=None, max_iter=300, tol=1e-10, inner_iter=30)
    batch = entropic_gw_batch(C[[0, 1]], p[[0, 1]], C[[2, 2]], p[[2, 2]], **opts)
    for k, i in enumerate((0, 1)):
        single = entropic_gw(spaces[i], spaces[2], **opts)
        assert batch.value[k] == pytest.approx(single.value, rel=1e-6)
        assert np.all(batch.plan[k, spaces[i].n :] == 0)


def test_gw_symmetric_zero_on_permutation_and_rotation_invariant(rng):
    s = random_space(rng, 10)
    t = random_space(rng, 12)
    perm = rng.permutation(10)
    permuted = MetricMeasureSpace(s.C[np.ix_(perm, perm)], s.p[perm])
    rotated = rotate(s, 1.1, shift=(3.0, -2.0))
    assert exact_gw(s, permuted).value == pytest.approx(0.0, abs=1e-12)
    assert exact_gw(s, t).value == pytest.approx(exact_gw(t, s).value, rel=1e-6)
    assert exact_gw(rotated, t).value == pytest.approx(exact_gw(s, t).value, rel=1e-6)
    sharp = dict(epsilon=1e-3, eps_start=0.2, max_iter=60, inner_iter=50, final_iter=500)
    assert entropic_gw(s, permuted, **sharp).value < 0.02 * exact_gw(s, t).value
    converged = dict(epsilon=0.02, eps_start=None, max_iter=500, inner_iter=50, tol=1e-10)
    assert entropic_gw(s, t, **converged).value == pytest.approx(entropic_gw(t, s, **converged).value, rel=1e-6)
    assert entropic_gw(rotated, t).value == pytest.approx(entropic_gw(s, t).value, rel=1e-6)


def test_objective_of_returned_plan(rng):
    s, t = random_space(rng, 8), random_space(rng, 6)
    out = entropic_gw(s, t)
    np.testing.assert_allclose(out.plan.sum(1), s.p, atol=1e-12)
    np.testing.assert_allclose(out.plan.sum(0), t.p, atol=1e-12)
    assert out.value == pytest.approx(gw_objective(s.C, t.C, out.plan))
    # the objective is quartic in distances: brute force on a tiny pair
    L = (s.C[:, None, :, None] - t.C[None, :, None, :]) ** 2
    assert out.value == pytest.approx(np.einsum("ijkl,ij,kl->", L, out.plan, out.plan))


def test_small_epsilon_stays_finite(rng):
    s, t = random_space(rng, 20), random_space(rng, 20)
    for eps in (5e-4, 1e-6):
        out = entropic_gw(s, t, epsilon=eps, relative=False, eps_start=None)
        assert np.isfinite(out.value) and out.value > 1e-6
        assert np.all(np.isfinite(out.plan))


def test_gw_rejects_bad_input(rng):
    s = random_space(rng, 4)
    with pytest.raises(ValueError, match="negative"):
        entropic_gw_batch(s.C[None], -s.p[None], s.C[None], s.p[None])
    with pytest.raises(ValueError, match="NaN"):
        entropic_gw_batch(np.full((1, 4, 4), np.nan), s.p[None], s.C[None], s.p[None])
    with pytest.raises(ValueError, match="shapes do not match"):
        entropic_gw_batch(s.C[None], s.p[None, :3], s.C[None], s.p[None])
    with pytest.raises(ValueError, match="one weight per point"):
        MetricMeasureSpace(s.C, np.ones(3))


# --- engine -----------------------------------------------------------------

def test_polish_lowers_the_objective_and_returns_a_coupling(rng):
    pairs = [(random_space(rng, n), random_space(rng, m)) for n, m in ((9, 12), (12, 12), (10, 7))]
    opts = dict(max_iter=6, inner_iter=5, final_iter=0)
    for s, t in pairs:
        values = [entropic_gw(s, t, polish=k, **opts) for k in (0, 1, 3)]
        assert values[1].value <= values[0].value * (1 + 1e-12)
        assert values[2].value <= values[1].value * (1 + 1e-12)
        for out in values[1:]:
            np.testing.assert_allclose(out.plan.sum(1), s.p, atol=1e-12)
            np.testing.assert_allclose(out.plan.sum(0), t.p, atol=1e-12)
            assert out.value == pytest.approx(gw_objective(s.C, t.C, out.plan), rel=1e-10)
    with pytest.raises(ValueError, match="polish"):
        entropic_gw(*pairs[0], polish=-1)


def test_polish_finds_the_permutation_and_competes_with_pot(rng):
    s = random_space(rng, 10)
    perm = rng.permutation(10)
    permuted = MetricMeasureSpace(s.C[np.ix_(perm, perm)], s.p[perm])
    out = entropic_gw(s, permuted, polish=1, max_iter=10, inner_iter=5, final_iter=0)
    assert out.value == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(out.plan, np.diag(s.p)[:, perm], atol=1e-12)  # point perm[k] of s is point k
    spaces = [random_space(rng, n) for n in (8, 10, 12, 9, 11)]
    I, J = np.triu_indices(len(spaces), 1)
    ours = gw_pairs(spaces, I, J, dtype=torch.float64, progress=False)  # default: polished
    pot = np.array([exact_gw(spaces[i], spaces[j]).value for i, j in zip(I, J)])
    assert ours.mean() <= 1.05 * pot.mean()
    with pytest.raises(ValueError, match="method"):
        gw_pairs(spaces, I, J, method="sinkhorn")


def test_pairwise_matrix_and_centres_agree(rng):
    spaces = [random_space(rng, n) for n in (6, 8, 6, 7)]
    converged = dict(epsilon=0.02, eps_start=None, max_iter=500, inner_iter=50, tol=1e-10)
    D = pairwise_gw(spaces, method="entropic", dtype=torch.float64, progress=False, **converged)
    assert D.shape == (4, 4)
    np.testing.assert_allclose(D, D.T)
    assert np.all(np.diag(D) == 0) and np.all(D[~np.eye(4, dtype=bool)] > 0)
    single = entropic_gw(spaces[3], spaces[1], **converged)
    assert D[1, 3] == pytest.approx(single.value, rel=1e-6)
    centres = gw_to_centers(spaces, spaces[:2], method="entropic", dtype=torch.float64, progress=False, **converged)
    assert centres.shape == (4, 2)
    np.testing.assert_allclose(centres[2:], D[2:, :2], rtol=1e-6)
    exact = pairwise_gw(spaces, method="exact", progress=False)
    np.testing.assert_allclose(exact[0, 1], exact_gw(spaces[0], spaces[1]).value)



def test_worker_processes_give_the_same_matrix(rng, monkeypatch):
    """The pool of spawned workers solves the same batches as this process, value for value."""
    from poisondetect.transport import engine

    spaces = [random_space(rng, n) for n in (5, 9, 7, 6, 8, 9, 5, 7)]
    here = pairwise_gw(spaces, n_workers=1, batch_size=6, progress=False)
    monkeypatch.setattr(engine, "MIN_WORK_FOR_WORKERS", 0)
    spawned = pairwise_gw(spaces, n_workers=2, batch_size=6, progress=False)
    np.testing.assert_array_equal(spawned, here)


def test_work_decides_when_workers_start(rng, monkeypatch):
    """Few pairs of large spaces are worth the workers' start-up; as many pairs of small ones are not."""
    from poisondetect.transport import engine

    class WorkersStarted(Exception):
        pass

    def pool(*args, max_workers, **kwargs):  # stands in for the process pool
        raise WorkersStarted(max_workers)

    monkeypatch.setattr(engine, "ProcessPoolExecutor", pool)
    monkeypatch.setattr(engine, "MIN_WORK_FOR_WORKERS", 60)  # 60 pairs of 64-point spaces
    small = [random_space(rng, 8) for _ in range(12)]  # 66 pairs, 1/512 of a 64-point pair each
    assert pairwise_gw(small, n_workers=2, batch_size=10, progress=False).shape == (12, 12)
    large = [random_space(rng, 80) for _ in range(12)]  # 66 pairs, about 2 each
    with pytest.raises(WorkersStarted):
        pairwise_gw(large, n_workers=2, batch_size=10, progress=False)



# --- fused GW ---------------------------------------------------------------

def test_fused_gw_sees_a_shift_that_gw_cannot(rng):
    """GW is blind to a translated copy; fused GW with the positions as features charges the shift, as POT does."""
    s = random_space(rng, 9)
    shifted = rotate(s, 0.0, shift=(1.5, 0.0))
    assert entropic_gw(s, shifted, polish=1).value == pytest.approx(0.0, abs=1e-12)
    M = ot.dist(s.coords / 3.0, shifted.coords / 3.0)
    fused = entropic_gw_batch(s.C[None], s.p[None], shifted.C[None], shifted.p[None], M=M[None], alpha=0.5, polish=1)
    pot = ot.gromov.fused_gromov_wasserstein2(M, s.C, shifted.C, s.p / s.p.sum(), shifted.p / shifted.p.sum(), alpha=0.5)
    assert fused.value[0] == pytest.approx(0.5 * (1.5 / 3.0) ** 2, rel=1e-6)  # the identity plan moves every point by 1.5
    assert fused.value[0] == pytest.approx(pot, rel=1e-6)


def test_fused_value_is_the_objective_of_its_plan_and_competes_with_pot(rng):
    pairs = [(random_space(rng, n), random_space(rng, m)) for n, m in ((9, 12), (12, 12), (10, 7), (8, 11))]
    ours, pot = [], []
    for s, t in pairs:
        M = ot.dist(s.coords / 3.0, t.coords / 3.0)
        out = entropic_gw_batch(s.C[None], s.p[None], t.C[None], t.p[None], M=M[None], alpha=0.3, polish=1)
        T = out.plan[0]
        np.testing.assert_allclose(T.sum(1), s.p / s.p.sum(), atol=1e-12)
        assert out.value[0] == pytest.approx(0.3 * gw_objective(s.C, t.C, T) + 0.7 * (M * T).sum(), rel=1e-10)
        ours.append(out.value[0])
        pot.append(ot.gromov.fused_gromov_wasserstein2(M, s.C, t.C, s.p / s.p.sum(), t.p / t.p.sum(), alpha=0.3))
    assert np.mean(ours) <= 1.05 * np.mean(pot)
    with pytest.raises(ValueError, match="alpha"):
        entropic_gw_batch(s.C[None], s.p[None], t.C[None], t.p[None], M=M[None], alpha=0.0)
    with pytest.raises(ValueError, match="M must have shape"):
        entropic_gw_batch(s.C[None], s.p[None], t.C[None], t.p[None], M=M.T[None], alpha=0.5)


def test_engine_fused_values_match_single_pairs_and_need_coords(rng):
    spaces = [random_space(rng, n) for n in (6, 8, 7, 6)]
    D = pairwise_gw(spaces, alpha=0.5, coord_unit=3.0, dtype=torch.float64, progress=False)
    np.testing.assert_allclose(D, D.T)
    s, t = spaces[1], spaces[3]
    M = ot.dist(s.coords / 3.0, t.coords / 3.0)
    single = entropic_gw_batch(s.C[None], s.p[None], t.C[None], t.p[None], M=M[None], alpha=0.5, max_iter=8, inner_iter=5, final_iter=0, polish=1)
    assert D[1, 3] == pytest.approx(single.value[0], rel=1e-9)
    exact = pairwise_gw(spaces, method="exact", alpha=0.5, coord_unit=3.0, progress=False)
    assert exact[1, 3] == pytest.approx(ot.gromov.fused_gromov_wasserstein2(M, s.C, t.C, s.p / s.p.sum(), t.p / t.p.sum(), alpha=0.5))
    assert np.allclose(pairwise_gw(spaces, alpha=1.0, progress=False), pairwise_gw(spaces, progress=False))
    bare = [MetricMeasureSpace(x.C, x.p) for x in spaces]
    with pytest.raises(ValueError, match="no coords"):
        pairwise_gw(bare, alpha=0.5, progress=False)
    with pytest.raises(ValueError, match="alpha"):
        pairwise_gw(spaces, alpha=1.5, progress=False)


def test_fused_barycenter_of_one_space_keeps_its_positions(rng):
    s = random_space(rng, 7)
    bary = gw_barycenter([s, s], n_points=7, p=s.p, alpha=0.5, coord_unit=3.0, epsilon=1e-3, n_steps=10, polish=1)
    assert bary.coords.shape == (7, 2)
    # every point of the barycenter sits on a point of s (up to order), and the fused value vanishes
    nearest = np.linalg.norm(bary.coords[:, None] - s.coords[None], axis=-1).min(1)
    assert nearest.max() < 1e-6
    M = ot.dist(bary.coords / 3.0, s.coords / 3.0)
    assert ot.gromov.fused_gromov_wasserstein2(M, bary.C, s.C, bary.p, s.p / s.p.sum(), alpha=0.5) < 1e-8
    shifted = rotate(s, 0.0, shift=(2.0, 0.0))
    middle = gw_barycenter([s, shifted], n_points=7, p=s.p, alpha=0.5, coord_unit=3.0, n_steps=10, polish=1)
    np.testing.assert_allclose(middle.coords.mean(0), s.coords.mean(0) + [1.0, 0.0], atol=0.05)  # halfway
    with pytest.raises(ValueError, match="coords"):
        gw_barycenter([MetricMeasureSpace(s.C, s.p)], n_points=3, alpha=0.5)


# --- barycenter -------------------------------------------------------------

def test_barycenter_of_identical_spaces_is_that_space(rng):
    s = random_space(rng, 7)
    bary = gw_barycenter([s, s, s], n_points=7, p=s.p, epsilon=1e-3, eps_start=0.2, n_steps=20, inner_iter=50, final_iter=500)
    assert exact_gw(bary, s).value < 1e-3 * np.mean(s.C**2)
    X = mds_embedding(bary)
    assert X.shape == (7, 2)


def test_barycenter_is_between_two_spaces(rng):
    s, t = random_space(rng, 6), random_space(rng, 6)
    bary = gw_barycenter([s, t], n_points=6, n_steps=5)
    assert exact_gw(bary, s).value < exact_gw(s, t).value
    assert exact_gw(bary, t).value < exact_gw(s, t).value
    kl = gw_barycenter([s, t], n_points=6, loss="kl", n_steps=3)
    assert np.all(np.isfinite(kl.C)) and np.all(kl.C >= 0)


def test_mds_recovers_a_point_configuration(rng):
    X = rng.normal(size=(9, 2))
    C = np.linalg.norm(X[:, None] - X[None], axis=-1)
    Y = mds_embedding(C)
    np.testing.assert_allclose(np.linalg.norm(Y[:, None] - Y[None], axis=-1), C, atol=1e-10)


# --- heatmap spaces ---------------------------------------------------------

def test_heatmap_to_space_keeps_the_promised_mass():
    h = np.zeros((8, 8))
    h[1, 1], h[6, 6], h[3, 5], h[0, 7] = 0.5, 0.3, 0.15, 0.05
    h[4, 4] = -1.0  # negative relevance is ignored
    half = heatmap_to_space(h, mass=0.5)
    assert half.n == 1 and half.coords.tolist() == [[1.0, 1.0]]
    most = heatmap_to_space(h, mass=0.9)
    assert most.n == 3
    np.testing.assert_allclose(most.p, np.array([0.5, 0.3, 0.15]) / 0.95)
    assert most.C[0, 1] == pytest.approx(np.hypot(5, 5) / np.hypot(8, 8))
    assert heatmap_to_space(h, mass=1.0).n == 4
    assert heatmap_to_space(h, mass=1.0, max_points=2).n == 2
    assert heatmap_to_space(h, mass=0.9, scale="max").C.max() == pytest.approx(1.0)
    pooled = heatmap_to_space(h, mass=1.0, pool=2)
    assert pooled.coords.tolist()[0] == [0.5, 0.5]


@pytest.mark.parametrize(
    "h, kwargs, match",
    [
        (np.zeros((4, 4)), {}, "no positive relevance"),
        (-np.ones((4, 4)), {}, "no positive relevance"),
        (np.full((4, 4), np.nan), {}, "NaN"),
        (np.ones((4, 4, 3)), {}, "2-d"),
        (np.ones((4, 4)), {"mass": 0.0}, "mass"),
        (np.ones((5, 5)), {"pool": 2}, "divide"),
    ],
)
def test_heatmap_to_space_rejects_bad_input(h, kwargs, match):
    with pytest.raises(ValueError, match=match):
        heatmap_to_space(h, **kwargs)


def test_edge_relevance_marks_a_sticker():
    images = np.full((1, 16, 16, 3), 100, dtype=np.uint8)
    images[0, 10:13, 10:13] = 250
    h = edge_relevance(images)[0]
    assert h.sum() == pytest.approx(1.0)
    space = heatmap_to_space(h, mass=0.9)
    assert np.all((space.coords >= 8) & (space.coords <= 14))


def test_flush_denormals_is_scoped():
    from poisondetect.transport.sinkhorn import flush_denormals

    subnormal = torch.tensor([1e-39], dtype=torch.float32)
    with flush_denormals():
        assert (subnormal * 1.0).item() == 0.0
    assert (subnormal * 1.0).item() > 0.0
