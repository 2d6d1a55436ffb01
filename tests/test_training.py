"""Training: determinism, early stopping that restores the best epoch, augmentation, the model cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poisondetect.models import build_model
from poisondetect.training import TrainConfig, augment, evaluate, fit


def toy_data(n: int = 96, n_classes: int = 4, seed: int = 0):
    """Images whose class is a bright square in one of four quadrants: learnable in one epoch."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, size=n)
    images = rng.integers(0, 60, size=(n, 32, 32, 3)).astype(np.uint8)
    for image, label in zip(images, labels):
        row, col = divmod(int(label), 2)
        image[row * 16 + 4:row * 16 + 12, col * 16 + 4:col * 16 + 12] = 230
    tracks = np.arange(n) // 4
    return images, labels.astype(np.int64), tracks


def test_fit_is_deterministic():
    images, labels, _ = toy_data()
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        model = build_model("net", n_classes=4)
        history = fit(model, images, labels, images[:16], labels[:16], TrainConfig(epochs=2, batch_size=32, seed=5), progress=False)
        states.append(model.state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    assert history["epochs_run"] == 2 and len(history["val_loss"]) == 2


def test_fit_learns_a_planted_signal():
    images, labels, _ = toy_data(n=256)
    torch.manual_seed(0)
    model = build_model("net", n_classes=4)
    fit(model, images, labels, images[:0], labels[:0], TrainConfig(epochs=3, batch_size=32, augment=False), progress=False)
    test_images, test_labels, _ = toy_data(n=64, seed=1)
    assert evaluate(model, test_images, test_labels)[1] > 0.9


def test_early_stopping_restores_the_best_epoch():
    """Validation labels contradict the training labels, so validation loss rises while training fits.

    The returned weights must be those of the epoch with the lowest validation loss,
    not the last epoch's, and training must stop ``patience`` epochs after it.
    """
    images, labels, _ = toy_data(n=128)
    val_labels = (labels + 1) % 4
    torch.manual_seed(0)
    model = build_model("net", n_classes=4)
    config = TrainConfig(epochs=12, batch_size=32, patience=3, augment=False)
    history = fit(model, images, labels, images, val_labels, config, progress=False)
    best = history["best_epoch"]
    assert best == int(np.argmin(history["val_loss"]))
    assert history["epochs_run"] == best + 1 + config.patience < config.epochs
    assert history["val_loss"][-1] > history["val_loss"][best]
    loss, _ = evaluate(model, images, val_labels)
    assert loss == pytest.approx(history["val_loss"][best], rel=1e-5)


def test_augmentation_keeps_range_and_shape_and_varies():
    x = torch.rand(8, 3, 32, 32)
    generator = torch.Generator().manual_seed(0)
    y = augment(x, generator, TrainConfig())
    assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1
    assert not torch.allclose(y, x)
    identity = TrainConfig(max_rotation=0.0, max_shift=0.0, max_scale=0.0, jitter=0.0)
    torch.testing.assert_close(augment(x, generator, identity), x, rtol=0, atol=1e-5)


def test_train_config_rejects_bad_values():
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="val_fraction"):
        TrainConfig(val_fraction=1.0)


def test_keep_last_keeps_the_last_epoch_and_best_restores_the_lowest_validation_loss():
    images, labels, tracks = toy_data()
    train, val = np.arange(0, len(images), 2), np.arange(1, len(images), 2)
    runs = {}
    for keep in ("best", "last"):
        torch.manual_seed(0)
        model = build_model("net", n_classes=4)
        history = fit(model, images[train], labels[train], images[val], labels[val],
                      TrainConfig(epochs=4, batch_size=32, patience=4, augment=False, keep=keep), progress=False)
        runs[keep] = (model, history)
    best, last = runs["best"][1], runs["last"][1]
    assert best["kept_epoch"] == best["best_epoch"] == int(np.argmin(best["val_loss"]))
    assert last["kept_epoch"] == last["epochs_run"] - 1
    assert evaluate(runs["last"][0], images[val], labels[val])[0] == pytest.approx(last["val_loss"][-1], rel=1e-5)
    assert evaluate(runs["best"][0], images[val], labels[val])[0] == pytest.approx(min(best["val_loss"]), rel=1e-5)
    with pytest.raises(ValueError, match="keep"):
        TrainConfig(keep="median")


def test_colour_jitter_without_geometry_keeps_pixels_exact():
    """No rotation, shift or scale: nothing is resampled, so a sticker's pixels stay where and what they are."""
    x = torch.rand(4, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    still = TrainConfig(max_rotation=0.0, max_shift=0.0, max_scale=0.0, jitter=0.0)
    assert torch.allclose(augment(x, torch.Generator().manual_seed(1), still), x, atol=1e-6, rtol=0)
    jittered = augment(x, torch.Generator().manual_seed(1), TrainConfig(max_rotation=0.0, max_shift=0.0, max_scale=0.0, jitter=0.4))
    assert not torch.equal(jittered, x)
    # a per-image affine map of the colours (before clipping): unclipped pixels keep their order
    inside = (jittered[0] > 0) & (jittered[0] < 1)
    a, b = x[0][inside].flatten(), jittered[0][inside].flatten()
    assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.9999


def test_one_cycle_schedule_rises_then_anneals():
    images, labels, _ = toy_data()
    model = build_model("net", n_classes=4)
    history = fit(model, images, labels, images[:16], labels[:16],
                  TrainConfig(epochs=6, batch_size=32, lr=3e-3, patience=6, augment=False, schedule="onecycle"), progress=False)
    lr = np.array(history["lr"])
    assert lr.argmax() in (1, 2) and lr.max() <= 3e-3 and lr[-1] < lr.max() / 50 and np.all(np.diff(lr[1:]) < 0)
    constant = fit(build_model("net", n_classes=4), images, labels, images[:16], labels[:16],
                   TrainConfig(epochs=2, batch_size=32, lr=1e-3, augment=False), progress=False)
    assert constant["lr"] == [1e-3, 1e-3]
    with pytest.raises(ValueError, match="schedule"):
        TrainConfig(schedule="cosine")
