"""Per-sample MINE: the Donsker-Varadhan bound on Gaussians of known MI, batching, bad input."""

import numpy as np
import pytest
import torch
from torch import nn

from poisondetect.adversarial.mine import (
    MineSettings, PerSampleMine, StatisticsNetwork, correlated_gaussians, dv_bound, estimate_mi, first_convolution,
    fit_statistics, gaussian_mi,
)


def tiny_cnn(maps: int = 6) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, maps, 3), nn.ReLU(), nn.Flatten(), nn.Linear(maps * 10 * 10, 3))


def test_dv_bound_is_exact_for_the_log_density_ratio_statistic():
    # T = log dP/dQ for P = N(1, 1), Q = N(0, 1): T(x) = x - 1/2, KL = 1/2; the bound is exact in expectation
    g = torch.Generator().manual_seed(0)
    p, q = torch.randn(1, 200_000, generator=g) + 1, torch.randn(1, 200_000, generator=g)
    assert dv_bound(p - 0.5, q - 0.5).item() == pytest.approx(0.5, abs=0.01)


def test_mine_estimate_of_correlated_gaussians_is_within_ten_percent_of_the_closed_form():
    rho, dim = torch.tensor([0.8, 0.9]), 2
    g = torch.Generator().manual_seed(0)
    statistics = StatisticsNetwork(len(rho), (dim,), hidden=32)
    fit_statistics(statistics, lambda: correlated_gaussians(rho, 256, dim, g), steps=500, lr=3e-3, generator=g)
    with torch.no_grad():
        a, b = correlated_gaussians(rho, 50_000, dim, g)
        estimate = statistics.bound(a, b, torch.randperm(50_000, generator=g)).numpy()
    truth = gaussian_mi(rho.numpy(), dim)
    np.testing.assert_allclose(estimate, truth, rtol=0.10)


def test_untrained_or_independent_samples_give_no_information():
    g = torch.Generator().manual_seed(1)
    statistics = StatisticsNetwork(1, (2,), hidden=16)
    fit_statistics(statistics, lambda: correlated_gaussians(torch.tensor([0.0]), 256, 2, g), steps=200, lr=3e-3, generator=g)
    with torch.no_grad():
        a, b = correlated_gaussians(torch.tensor([0.0]), 50_000, 2, g)
        assert abs(statistics.bound(a, b, torch.randperm(50_000, generator=g)).item()) < 0.05


def test_estimate_is_invariant_to_the_batch_order():
    model = tiny_cnn()
    g = torch.Generator().manual_seed(0)
    x = torch.rand(5, 1, 12, 12, generator=g)
    x_adv = (x + 0.2 * torch.randn(x.shape, generator=g) * torch.linspace(0, 1, 5).view(-1, 1, 1, 1)).clamp(0, 1)
    settings = MineSettings(k=6, steps=30, kernel=3)
    order = torch.tensor([3, 0, 4, 1, 2])
    plain = estimate_mi(model, x, x_adv, settings, preprocess=lambda v: v)
    shuffled = estimate_mi(model, x[order], x_adv[order], settings, preprocess=lambda v: v)
    np.testing.assert_allclose(shuffled, plain[order.numpy()], rtol=1e-4, atol=1e-5)
    split = estimate_mi(model, x, x_adv, settings, preprocess=lambda v: v, batch_size=2)
    np.testing.assert_allclose(split, plain, rtol=1e-4, atol=1e-5)


def test_bad_input_fails_early_naming_the_parameter():
    model = tiny_cnn(maps=6)
    x = torch.rand(2, 1, 12, 12)
    with pytest.raises(ValueError, match="k = 8 is larger than the 6 feature maps"):
        PerSampleMine(model, x, MineSettings(k=8), preprocess=lambda v: v)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        estimate_mi(model, x + 1, x, MineSettings(k=6, kernel=3), preprocess=lambda v: v)
    with pytest.raises(ValueError, match="same shape"):
        estimate_mi(model, x, x[:1], MineSettings(k=6, kernel=3), preprocess=lambda v: v)
    with pytest.raises(ValueError, match="MineSettings.steps"):
        MineSettings(steps=0)
    with pytest.raises(ValueError, match="no nn.Conv2d"):
        first_convolution(nn.Linear(3, 2))
    with pytest.raises(ValueError, match="rho"):
        gaussian_mi(1.0, 1)


def test_ssim_is_one_for_identical_images_symmetric_and_falls_with_noise():
    from poisondetect.adversarial.image_quality import ssim

    g = torch.Generator().manual_seed(3)
    x = torch.rand(3, 3, 16, 16, generator=g)
    small = (x + 0.02 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    large = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(0, 1)
    np.testing.assert_allclose(ssim(x, x), 1.0, atol=1e-5)
    np.testing.assert_allclose(ssim(x, large), ssim(large, x), atol=1e-6)
    assert (ssim(x, small) > ssim(x, large)).all()
    with pytest.raises(ValueError, match="11x11"):
        ssim(x[..., :8, :8], x[..., :8, :8])
