"""The MinMax attack: constraints, the c >= 0 projection, a linear model of known minimal perturbation, bad input."""

import numpy as np
import pytest
import torch
from torch import nn

from poisondetect.adversarial.mine import MineSettings
from poisondetect.adversarial.minmax import MinMaxSettings, minmax_attack

MINE = MineSettings(k=4, steps=20, kernel=3, hidden=16)


def linear_model(seed: int = 0) -> nn.Module:
    """An affine classifier of 1x8x8 images that starts with a convolution (MINE reads its maps)."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Flatten(), nn.Linear(4 * 64, 3))


def affine_map(model: nn.Module, x: torch.Tensor, y: int, other: int) -> tuple[float, torch.Tensor]:
    """Z_y - Z_other at x and its (constant) gradient."""
    v = x.clone().requires_grad_(True)
    logits = model(v)
    gap = logits[0, y] - logits[0, other]
    (grad,) = torch.autograd.grad(gap, v)
    return gap.item(), grad


def test_perturbation_stays_in_the_box_and_c_stays_non_negative():
    model = linear_model()
    x = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    labels = model(x).argmax(1)
    settings = MinMaxSettings(eps=0.05, iterations=40, alpha=0.01, beta=0.5, mine=MINE)
    attack, game = minmax_attack(model, x, labels, settings, preprocess=lambda v: v)
    delta = attack.images - x
    assert delta.abs().max() <= 0.05 + 1e-6
    assert attack.images.min() >= 0 and attack.images.max() <= 1
    assert game.c.shape == (40, 6) and (game.c >= 0).all()
    assert (game.c > 0).any(), "c never left 0: the criterion was met at once, the test checks nothing"


def test_linear_model_is_attacked_within_a_stated_factor_of_the_minimal_perturbation():
    """For an affine margin f(x + d) = f(x) + g.d the smallest L-inf perturbation is f(x) / ||g||_1.

    Images in [0.3, 0.7] keep the clipping to [0, 1] inactive; with the box at 1.25 times the minimal
    perturbation the attack must find a direction close to -sign(g) to succeed.
    """
    model = linear_model(1)
    x = 0.3 + 0.4 * torch.rand(4, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    logits = model(x).detach()
    labels = logits.argmax(1)
    factor = 1.25
    for i in range(len(x)):
        y = labels[i].item()
        others = [j for j in range(3) if j != y]
        needed = min(affine_map(model, x[i:i + 1], y, o)[0] / affine_map(model, x[i:i + 1], y, o)[1].abs().sum().item()
                     for o in others)
        assert factor * needed < 0.2, "clipping to [0, 1] would interfere"
        settings = MinMaxSettings(eps=factor * needed, iterations=100, alpha=needed / 10, beta=0.5, mine=MINE)
        attack, _ = minmax_attack(model, x[i:i + 1], labels[i:i + 1], settings, preprocess=lambda v: v)
        assert attack.success[0]
        assert (attack.images - x[i:i + 1]).abs().max() <= factor * needed + 1e-6


def test_already_misclassified_images_are_returned_at_once():
    model = linear_model()
    x = torch.rand(3, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    wrong = (model(x).argmax(1) + 1) % 3
    settings = MinMaxSettings(eps=0.1, iterations=50, mine=MINE)
    attack, game = minmax_attack(model, x, wrong, settings, preprocess=lambda v: v)
    assert attack.success.all() and game.success.all()
    assert torch.equal(attack.images, x)
    assert (game.c == 0).all()


def test_bad_input_fails_early_naming_the_parameter():
    model = linear_model()
    x = torch.rand(2, 1, 8, 8)
    with pytest.raises(ValueError, match="eps must be positive"):
        MinMaxSettings(eps=0.0)
    with pytest.raises(ValueError, match="eps must lie in"):
        MinMaxSettings(eps=-0.1)
    with pytest.raises(ValueError, match="beta"):
        MinMaxSettings(beta=2.0)
    with pytest.raises(ValueError, match="k = 8 is larger than the 4 feature maps"):
        minmax_attack(model, x, [0, 1], MinMaxSettings(mine=MineSettings(k=8)), preprocess=lambda v: v)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        minmax_attack(model, x * 3, [0, 1], MinMaxSettings(mine=MINE), preprocess=lambda v: v)


def test_unsupervised_attacks_raise_the_reconstruction_error_within_their_budgets():
    from poisondetect.adversarial.autoencoders import (
        DenseAutoencoder, fit_autoencoder, gaussian_augmentation, l2_uae, mine_uae, reconstruction_error,
    )

    g = torch.Generator().manual_seed(4)
    x = torch.rand(6, 1, 28, 28, generator=g) * 0.5
    torch.manual_seed(0)
    autoencoder = fit_autoencoder(DenseAutoencoder(), x, epochs=3)
    features = nn.Sequential(nn.Conv2d(1, 4, 5))
    settings = MinMaxSettings(eps=0.1, iterations=15, alpha=0.02, beta=0.5, mine=MineSettings(k=4, steps=5, hidden=8))
    game = mine_uae(autoencoder, features, x, settings)
    with torch.no_grad():
        before, after = reconstruction_error(autoencoder, x), reconstruction_error(autoencoder, game.images)
    assert game.success.any()
    assert (after[torch.from_numpy(game.success)] >= 1.1 * before[torch.from_numpy(game.success)]).all()
    assert (game.images - x).abs().max() <= 0.1 + 1e-6
    adv = l2_uae(autoencoder, x, radius=1.0, steps=10)
    assert ((adv - x).flatten(1).norm(dim=1) <= 1.0 + 1e-5).all()
    with torch.no_grad():
        assert (reconstruction_error(autoencoder, adv) > before).all()
    noisy = gaussian_augmentation(x, 0.01)
    assert noisy.min() >= 0 and noisy.max() <= 1 and not torch.equal(noisy, x)
    with pytest.raises(ValueError, match="kappa"):
        mine_uae(autoencoder, features, x, settings, kappa=0.0)
    with pytest.raises(ValueError, match="radius"):
        l2_uae(autoencoder, x, radius=0.0)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_augmentation(x, -1.0)
