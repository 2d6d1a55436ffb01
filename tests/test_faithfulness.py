"""Region perturbation and AOPC: an oracle attribution beats a random order, and the curve is what it says."""

import numpy as np
import pytest
import torch
from torch import nn

from poisondetect.faithfulness import aopc, perturbation_curves, random_maps, region_order


def linear_model(weights):
    model = nn.Sequential(nn.Flatten(), nn.Linear(weights.size, 1, bias=False)).double()
    with torch.no_grad():
        model[1].weight.copy_(torch.from_numpy(weights.reshape(1, -1)))
    return model


def test_region_order_ranks_summed_patches():
    maps = np.zeros((1, 4, 4))
    maps[0, 2:, :2] = 1.0        # region 2 (row-major on the 2x2 grid of 2x2 patches) sums to 4
    maps[0, 0, 3] = 3.0          # region 1 sums to 3
    maps[0, 0, 0] = -1.0         # region 0 sums to -1
    assert region_order(maps, 2)[0].tolist() == [2, 1, 3, 0]
    assert region_order(maps, 1)[0, 0] == 3
    with pytest.raises(ValueError, match="patch"):
        region_order(maps, 3)


def test_oracle_attribution_of_a_linear_model_beats_random_and_is_optimal():
    # f(x) = <w, x> on one channel; replacing a pixel by the mean 0 removes exactly its contribution w_p x_p
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(1, 8, 8))
    images = torch.from_numpy(rng.normal(size=(6, 1, 8, 8)))
    images = images - images.mean(dim=(0, 2, 3), keepdim=True)   # so that the per-channel mean is exactly 0
    model = linear_model(weights)
    oracle = (images.numpy() * weights)[:, 0]                  # contributions w_p x_p
    kwargs = dict(patch=1, steps=16, fraction=0.5, replace="mean")
    curves = perturbation_curves(model, images, 0, oracle, **kwargs)
    logits = model(images).detach().numpy()[:, 0]
    np.testing.assert_allclose(curves[:, 0], logits)
    # after step k the 2k largest contributions are gone
    for k in (1, 8, 16):
        top = np.sort(oracle.reshape(6, -1), axis=1)[:, ::-1][:, :2 * k].sum(axis=1)
        np.testing.assert_allclose(curves[:, k], logits - top, atol=1e-12)
    best = aopc(curves)
    random = np.mean([aopc(perturbation_curves(model, images, 0, random_maps((6, 8, 8), seed), **kwargs)) for seed in range(5)], axis=0)
    worst = aopc(perturbation_curves(model, images, 0, -oracle, **kwargs))
    assert np.all(best > random) and np.all(random > worst)
    # no order of the pixels removes more logit at every step than the oracle's
    shuffled = aopc(perturbation_curves(model, images, 0, oracle + rng.normal(scale=0.5, size=oracle.shape), **kwargs))
    assert np.all(best >= shuffled - 1e-12)


def test_noise_replacement_stays_in_the_image_range_and_is_seeded():
    rng = np.random.default_rng(1)
    images = torch.from_numpy(rng.uniform(-1, 2, size=(3, 3, 8, 8)))
    model = nn.Sequential(nn.Flatten(), nn.Linear(192, 2)).double()
    maps = rng.normal(size=(3, 8, 8))
    one = perturbation_curves(model, images, [0, 1, 0], maps, patch=2, steps=4, fraction=1.0, replace="noise", seed=3)
    two = perturbation_curves(model, images, [0, 1, 0], maps, patch=2, steps=4, fraction=1.0, replace="noise", seed=3)
    np.testing.assert_array_equal(one, two)
    assert one.shape == (3, 5) and aopc(one).shape == (3,)
    with pytest.raises(ValueError, match="replace"):
        perturbation_curves(model, images, 0, maps, replace="blur")
    with pytest.raises(ValueError, match="shape"):
        perturbation_curves(model, images, 0, maps[:2])
