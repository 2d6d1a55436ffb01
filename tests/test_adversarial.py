"""Evasion attacks and defences: closed forms, projections, query counts, detectors and input errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from poisondetect.adversarial import (
    AdversarialTraining, LogisticRegression, SqueezeDetector, adversarial_fit, autozoom, bim, bit_depth,
    carlini_wagner_l2, cascading_randomization, check_norm, coordinate_gradient, deepfool, fd_fgsm, fgm, fgsm,
    fgsm_closed_form, median_smooth, minimal_perturbation_curve, pgd, random_direction_gradient, resize_and_pad,
    robust_accuracy, square_mask, success_within_queries, universal_perturbation, weight_layers, zoo,
)
from poisondetect.adversarial.base import logits_of, pixels
from poisondetect.attacks import pgd_linf
from poisondetect.models import build_model

IDENTITY = lambda x: x  # noqa: E731  (models of these tests read pixels directly)


def random_images(n: int = 12, channels: int = 3, side: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, side, side, channels)).astype(np.uint8)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return build_model("net").eval()


def test_fgsm_on_logistic_regression_is_the_closed_form():
    torch.manual_seed(0)
    model = LogisticRegression(1 * 6 * 6)
    x = torch.rand(40, 1, 6, 6) * 0.8 + 0.1
    y = torch.randint(0, 2, (40,))
    for eps in (0.0, 0.05, 0.3):
        ours = fgsm(model, x, y, eps, preprocess=IDENTITY).images
        sign_w = model.linear.weight.detach().sign().view(1, 1, 6, 6)
        expected = (x - eps * (2 * y.float() - 1).view(-1, 1, 1, 1) * sign_w).clamp(0, 1)
        torch.testing.assert_close(ours, expected, rtol=0, atol=1e-7)
        torch.testing.assert_close(fgsm_closed_form(model, x, y, eps), expected, rtol=0, atol=1e-7)


@pytest.mark.parametrize("norm, eps", [("inf", 8 / 255), ("2", 0.5)])
@pytest.mark.parametrize("targeted", [False, True])
def test_pgd_never_leaves_the_ball_or_the_pixel_range(net, norm, eps, targeted):
    images = random_images()
    labels = np.arange(12) % 5
    target = np.full(12, 14) if targeted else None
    r = pgd(net, images, labels, eps, steps=7, step_size=eps, norm=norm, target=target, batch_size=5)
    clean = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    delta = (r.images - clean).flatten(1)
    size = delta.abs().amax(1) if norm == "inf" else delta.norm(dim=1)
    assert (size <= eps + 1e-5).all() and (size > eps / 4).all()  # inside, and it did move
    assert r.images.min() >= 0 and r.images.max() <= 1
    np.testing.assert_allclose(r.perturbation_norm, size.numpy(), rtol=1e-6)
    assert all(p.requires_grad for p in net.parameters())


def test_bim_and_fgsm_are_pgd_special_cases_and_pgd_linf_is_unchanged(net):
    images, labels = random_images(8), np.arange(8) % 3
    ours = pgd(net, images, labels, 8 / 255, steps=5, step_size=2 / 255, random_start=False)
    legacy = pgd_linf(net, images, labels, 8 / 255, steps=5, step_size=2 / 255)
    torch.testing.assert_close(ours.images, legacy, atol=1e-6, rtol=0)
    torch.testing.assert_close(bim(net, images, labels, 8 / 255, steps=5, step_size=2 / 255).images, ours.images)
    one = pgd(net, images, labels, 4 / 255, steps=1, step_size=4 / 255, random_start=False)
    torch.testing.assert_close(fgsm(net, images, labels, 4 / 255).images, one.images)


def test_fgm_steps_exactly_eps_in_l2_away_from_the_pixel_bounds(net):
    images = (random_images(6) // 2 + 64).astype(np.uint8)  # values in [64, 191]: no clipping at eps 0.5
    r = fgm(net, images, np.zeros(6, dtype=int), 0.5)
    np.testing.assert_allclose(r.perturbation_norm, 0.5, rtol=1e-4)


def test_deepfool_reaches_the_boundary_of_a_linear_binary_classifier_in_one_step():
    torch.manual_seed(3)
    d = 1 * 8 * 8
    w, b = torch.randn(d) * 0.1, 0.05
    model = nn.Sequential(nn.Flatten(), nn.Linear(d, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.stack([torch.zeros(d), w]))
        model[1].bias.copy_(torch.tensor([0.0, b]))
    x = torch.full((20, 1, 8, 8), 0.5) + 0.05 * torch.randn(20, 1, 8, 8)
    f = x.flatten(1) @ w + b
    labels = (f > 0).long()
    r = deepfool(model, x, labels, max_iter=1, overshoot=0.0, preprocess=IDENTITY)
    analytic = -f[:, None] * w[None, :] / w.dot(w)  # minimal perturbation onto w.x + b = 0
    delta = (r.images - x).flatten(1)
    torch.testing.assert_close(delta, analytic * (1 + 1e-4 / f.abs())[:, None], atol=1e-5, rtol=1e-4)
    assert (delta @ w + f).abs().max() < 1e-3  # on the boundary
    with_overshoot = deepfool(model, x, labels, overshoot=0.02, preprocess=IDENTITY)
    assert with_overshoot.success.all()
    np.testing.assert_allclose(with_overshoot.perturbation_norm, 1.02 * analytic.norm(dim=1).numpy(), rtol=1e-3)


def test_finite_differences_match_autograd_on_a_smooth_model():
    torch.manual_seed(0)
    smooth = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    loss = lambda batch: smooth(batch)[:, 0]  # noqa: E731
    x = torch.rand(3, 3, 2, 2, dtype=torch.float64)
    exact = torch.autograd.functional.jacobian(lambda v: loss(v).sum(), x)
    every = torch.arange(12).expand(3, -1)
    torch.testing.assert_close(coordinate_gradient(loss, x, every, 1e-5), exact.flatten(1), atol=1e-8, rtol=1e-6)
    estimate = random_direction_gradient(loss, x, loss(x), q=20000, beta=1e-5, generator=torch.Generator().manual_seed(0))
    cosine = nn.functional.cosine_similarity(estimate.flatten(1), exact.flatten(1))
    assert (cosine > 0.95).all(), cosine


def test_black_box_attacks_count_queries_and_stop_at_success_or_budget(net):
    images = random_images(6, side=32)
    labels = logits_of(net, pixels(images)).argmax(1).numpy()  # every image starts correctly classified
    for attack, cost in ((lambda b: zoo(net, images, labels, 8 / 255, budget=b, coordinates=16), 33),
                         (lambda b: autozoom(net, images, labels, 8 / 255, budget=b, directions=9), 10)):
        r = attack(200)
        assert (r.queries <= 200).all() and (r.queries >= 1).all()
        failed = ~r.success
        assert (r.queries[failed] > 200 - cost).all()  # a failure used the budget up
        assert ((r.queries - 1) % cost == 0).all()  # the clean query, then whole steps
        delta = (r.images - torch.from_numpy(images).permute(0, 3, 1, 2) / 255).abs().amax((1, 2, 3))
        assert (delta <= 8 / 255 + 1e-6).all()
    one = fd_fgsm(net, images[:2], labels[:2], 8 / 255)
    assert (one.queries == 2 * 3 * 32 * 32 + 2).all()
    assert success_within_queries(one, [10, 10**5]).tolist() == [0.0, one.success_rate]


def test_black_box_attack_succeeds_on_a_model_whose_label_is_easy_to_flip():
    torch.manual_seed(0)
    model = LogisticRegression(1 * 4 * 4)
    x = torch.rand(10, 1, 4, 4) * 0.5 + 0.25
    z = model.linear(x.flatten(1))[:, 0].detach()
    with torch.no_grad():
        model.linear.bias -= z.mean()  # images near the boundary
    y = (model.linear(x.flatten(1))[:, 0] > 0).long()
    r = zoo(model, x, y, eps=0.2, budget=500, coordinates=16, preprocess=IDENTITY)
    clean = zoo(model, x, y, eps=0.0, budget=500, coordinates=16, preprocess=IDENTITY)
    assert r.success_rate > 0.5 and clean.success_rate == 0.0
    assert np.median(r.queries[r.success]) <= 1 + 2 * 33  # it stops at success, within a step or two
    assert (r.queries[~r.success] > 500 - 33).all()


def test_carlini_wagner_finds_small_successful_perturbations(net):
    images, labels = random_images(6), np.full(6, 3)
    r = carlini_wagner_l2(net, images, labels, search_steps=3, steps=30, lr=0.05)
    assert r.images.min() >= 0 and r.images.max() <= 1
    assert r.success.all() and (r.predicted != labels).all()
    assert (r.perturbation_norm > 0).all()
    targeted = carlini_wagner_l2(net, images, labels, target=7, search_steps=3, steps=30, lr=0.05)
    assert (targeted.predicted[targeted.success] == 7).all() and targeted.success_rate > 0.5


def test_feature_squeezing_at_eight_bits_is_the_identity_and_medians_are_right():
    x = torch.from_numpy(random_images(4)).permute(0, 3, 1, 2).float() / 255
    torch.testing.assert_close(bit_depth(x, 8), x, atol=0, rtol=0)
    assert set(bit_depth(x, 1).unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(median_smooth(x, 1), x)
    spike = torch.zeros(1, 1, 5, 5)
    spike[0, 0, 2, 2] = 1.0
    assert median_smooth(spike, 3).abs().max() == 0  # an isolated pixel is removed
    block = torch.zeros(1, 1, 6, 6)
    block[0, 0, :, 3:] = 1.0
    torch.testing.assert_close(median_smooth(block, 3), block)  # an edge survives


def test_squeeze_detector_flags_at_the_chosen_false_positive_rate(net):
    clean = random_images(200, seed=1)
    detector = SqueezeDetector.fit(net, clean, [lambda x: bit_depth(x, 2), lambda x: median_smooth(x, 2)], 0.05)
    assert abs(detector.detect(net, clean).mean() - 0.05) <= 0.01
    with pytest.raises(ValueError, match="false_positive_rate"):
        SqueezeDetector.fit(net, clean, [lambda x: x], 1.5)


def test_resize_and_pad_keeps_size_and_range_and_full_size_is_identity():
    images = random_images(5)
    out = resize_and_pad(images, min_size=24, seed=1)
    assert out.shape == (5, 3, 32, 32) and out.min() >= 0 and out.max() <= 1
    assert (out == 0).flatten(1).any(1).all()  # padding present when shrunk... at least one zero pixel
    torch.testing.assert_close(resize_and_pad(images, min_size=32), torch.from_numpy(images).permute(0, 3, 1, 2) / 255)


def test_universal_perturbation_respects_mask_and_eps(net):
    images, labels = random_images(16), np.full(16, 2)
    mask = square_mask(5, (20, 22))
    u = universal_perturbation(net, images, labels, eps=1.0, mask=mask, target=9, epochs=3, step_size=0.2)
    assert (u.delta[:, mask[0] == 0] == 0).all() and u.delta.abs().max() <= 1.0
    changed = (u.apply(images) - torch.from_numpy(images).permute(0, 3, 1, 2) / 255).abs().sum((0, 1)) > 0
    assert changed[mask[0] == 0].sum() == 0 and changed.sum() > 0
    assert 0.0 <= u.fooling_rate <= 1.0
    with pytest.raises(ValueError, match="does not fit"):
        square_mask(5, (30, 0))


def test_adversarial_training_raises_robust_accuracy_on_a_toy_problem():
    # one robust pixel (class means 0.2 / 0.8) and 63 weak ones (0.45 / 0.55 plus noise): standard
    # training leans on the many weak pixels, which an eps = 0.1 attack flips together
    gen = torch.Generator().manual_seed(0)
    n = 600
    y = torch.randint(0, 2, (n,), generator=gen)
    sign = (2 * y - 1).float().view(-1, 1)
    weak = 0.5 + 0.05 * sign + 0.05 * torch.randn(n, 63, generator=gen)
    robust = 0.5 + 0.3 * sign + 0.05 * torch.randn(n, 1, generator=gen)
    x = torch.cat([robust, weak], 1).clamp(0, 1).view(n, 1, 8, 8)
    results = {}
    for name, config in {"standard": AdversarialTraining("fgsm", eps=0.1, alpha=1.0, epochs=30, batch_size=100, lr=0.05),
                         "fgsm": AdversarialTraining("fgsm", eps=0.1, alpha=0.5, epochs=30, batch_size=100, lr=0.05),
                         "pgd": AdversarialTraining("pgd", eps=0.1, pgd_steps=5, epochs=30, batch_size=100, lr=0.05)}.items():
        torch.manual_seed(0)
        model = LogisticRegression(64)
        adversarial_fit(model, x[:400], y[:400].numpy(), config, preprocess=IDENTITY, progress=False)
        attacked = pgd(model, x[400:], y[400:], 0.1, steps=10, preprocess=IDENTITY)
        results[name] = robust_accuracy(attacked, y[400:].numpy())
    assert results["pgd"] > results["standard"] + 0.2, results
    assert results["fgsm"] > results["standard"] + 0.2, results


def test_minimal_perturbation_curve_counts_only_attacks_within_eps(net):
    r = deepfool(net, random_images(10), np.zeros(10, dtype=int))
    correct = np.ones(10, dtype=bool)
    curve = minimal_perturbation_curve(r, correct, [0.0, np.inf])
    assert curve[0] == pytest.approx(1 - (r.success & (r.perturbation_norm == 0)).mean())
    assert curve[1] == pytest.approx(1 - r.success.mean())


def test_cascading_randomization_changes_every_layer_in_order(net):
    x = torch.randn(3, 3, 32, 32)
    layers, correlation = cascading_randomization(net, x, np.zeros(3, dtype=int), "gradient")
    assert layers == weight_layers(net) and layers[0] == "fc3" and layers[-1] == "conv1"
    assert correlation.shape == (len(layers), 3) and np.all(np.abs(correlation) <= 1)
    assert correlation[-1].mean() < 0.9  # a fully random network explains differently


@pytest.mark.parametrize("call, match", [
    (lambda m, x, y: fgsm(m, x, y, eps=-0.1), "eps must lie in .* got -0.1"),
    (lambda m, x, y: pgd(m, x, y, eps=2.0), "eps must lie in .* got 2.0"),
    (lambda m, x, y: pgd(m, x.transpose(0, 3, 1, 2).astype(np.float32) / 255 * 2, y, eps=0.1), r"\[0, 1\], got values in \[0, 2"),
    (lambda m, x, y: pgd(m, x[0], y, eps=0.1), r"shape \(N, H, W, 1 or 3\), got \(32, 32, 3\)"),
    (lambda m, x, y: pgd(m, x, y[:2], eps=0.1), r"labels must be integer class indices of shape \(4,\), got \(2,\)"),
    (lambda m, x, y: pgd(m, x, y, eps=0.1, norm="l7"), "unknown norm 'l7'"),
    (lambda m, x, y: pgd(m, x, y, eps=0.1, steps=0), "steps must be an integer >= 1, got 0"),
    (lambda m, x, y: zoo(m, x, y, eps=0.1, budget=0), "budget must be an integer >= 1, got 0"),
    (lambda m, x, y: autozoom(m, x, y, eps=0.1, budget=0), "budget must be an integer >= 1, got 0"),
    (lambda m, x, y: fd_fgsm(m, x, y, eps=0.1, budget=100), "budget must be at least 2d \\+ 2 = 6146 .* got 100"),
    (lambda m, x, y: deepfool(m, x, y, overshoot=-1), "overshoot must lie in .* got -1"),
    (lambda m, x, y: carlini_wagner_l2(m, x, y, c=0), "c must be positive, got 0"),
    (lambda m, x, y: universal_perturbation(m, x, y, eps=0.1, mask=torch.ones(1, 8, 8)), r"mask must have shape \(1, 32, 32\)"),
])
def test_bad_input_names_the_value(net, call, match):
    with pytest.raises(ValueError, match=match):
        call(net, random_images(4), np.zeros(4, dtype=int))


def test_norm_spellings_and_adversarial_training_settings():
    assert check_norm(np.inf) == check_norm("Linf") == "inf" and check_norm(2) == check_norm("l2") == "2"
    with pytest.raises(ValueError, match="unknown adversarial training method 'trades'"):
        AdversarialTraining("trades")
    with pytest.raises(ValueError, match="alpha must lie in \\[0, 1\\], got 1.5"):
        AdversarialTraining(alpha=1.5)
