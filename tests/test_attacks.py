"""Attacks: exact trigger placement and colour, exact poison counts, moved images, PGD bounds, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from poisondetect.attacks import (
    AmplitudePattern, BadNets, Blended, BlendPattern, CleverHans, LabelConsistent, Sticker, apply_trigger,
    attack_success_rate, attacked_classes, clean_accuracy, flip_horizontal, per_class_success, pgd_linf, poison,
    shift_images, zoom_images,
)
from poisondetect.models import build_model


def toy_set(counts: dict[int, int], frames: int = 5, seed: int = 0):
    """Random uint8 images with ``counts[c]`` images of class ``c`` in tracks of ``frames`` frames."""
    rng = np.random.default_rng(seed)
    labels = np.concatenate([np.full(n, c) for c, n in counts.items()]).astype(np.int64)
    tracks = np.concatenate([np.arange(n) // frames for n in counts.values()]).astype(np.int64)
    images = rng.integers(0, 256, size=(len(labels), 32, 32, 3)).astype(np.uint8)
    return images, labels, tracks


COUNTS = {2: 300, 5: 200, 1: 100}


def test_sticker_exact_placement_and_colour():
    images = np.zeros((200, 32, 32, 3), dtype=np.uint8)
    sticker = Sticker(size=3, color=(245, 255, 0), window=(8, 10, 12, 9))
    out = sticker.apply(images, rng=1)
    positions = sticker.positions(200, np.random.default_rng(1))
    for image, (row, col) in zip(out, positions):
        changed = np.argwhere(image.any(axis=2))
        assert len(changed) == 9
        assert changed.min(0).tolist() == [row, col] and changed.max(0).tolist() == [row + 2, col + 2]
        assert (image[row:row + 3, col:col + 3] == (245, 255, 0)).all()
        assert 8 <= row <= 8 + 12 - 3 and 10 <= col <= 10 + 9 - 3
    # many positions, every one reachable
    assert sticker.n_positions == 10 * 7
    assert len({tuple(p) for p in sticker.positions(5000, np.random.default_rng(0))}) == sticker.n_positions
    assert images.sum() == 0  # input untouched


@pytest.mark.parametrize("size", [1, 2, 3])
def test_sticker_sizes_change_exactly_size_squared_pixels(size):
    images, _, _ = toy_set({0: 50})
    images[..., 0] = 0  # the red channel differs from the sticker colour everywhere
    out = Sticker(size=size).apply(images, rng=0)
    assert out.dtype == np.uint8
    assert ((out != images).any(axis=3).sum(axis=(1, 2)) == size * size).all()


def test_amplitude_pattern_is_a_clipped_checkerboard():
    images = np.full((2, 32, 32, 3), 100, dtype=np.uint8)
    images[1] = 250
    pattern = AmplitudePattern(amplitude=64, size=3, offset=10)
    out = pattern.apply(images).astype(int)
    row, col = pattern.corner
    assert (row, col) == (19, 19)
    expected = np.array([[1, -1, 1], [-1, 1, -1], [1, -1, 1]])
    np.testing.assert_array_equal(out[0, 19:22, 19:22, 1], 100 + 64 * expected)
    np.testing.assert_array_equal(out[1, 19:22, 19:22, 1], np.clip(250 + 64 * expected, 0, 255))
    mask = np.zeros((32, 32), dtype=bool)
    mask[19:22, 19:22] = True
    assert (out[:, ~mask] == images[:, ~mask]).all()


def test_blend_pattern_formula():
    images, _, _ = toy_set({0: 3})
    blend = BlendPattern(alpha=0.2, pattern_seed=1)
    expected = np.rint(0.8 * images + 0.2 * blend.pattern().astype(float))
    np.testing.assert_array_equal(blend.apply(images), expected.astype(np.uint8))


@pytest.mark.parametrize("share", [0.33, 0.15, 0.1, 0.05, 0.02, 0.01, 0.005])
@pytest.mark.parametrize("by_track", [False, True])
def test_badnets_exact_count_and_moved_images(share, by_track):
    images, labels, tracks = toy_set(COUNTS)
    attack = BadNets(source=2, target=5, poison_share=share, trigger=Sticker(size=2), by_track=by_track)
    result = poison(images, labels, tracks, attack, seed=3)
    n = round(share * COUNTS[5] / (1 - share))
    assert result.n_poison == n
    assert np.all(result.true_labels[result.is_poison] == 2)
    assert np.all(result.labels[result.is_poison] == 5)
    np.testing.assert_array_equal(result.labels[~result.is_poison], labels[~result.is_poison])
    np.testing.assert_array_equal(result.true_labels, labels)
    # the poisoned images left the source class; the final target class has the promised share
    assert np.sum(result.labels == 2) == COUNTS[2] - n
    assert result.is_poison[result.labels == 5].mean() == pytest.approx(share, abs=0.5 / (COUNTS[5] + n) + 1e-9)
    # clean images untouched, poisoned ones differ only by a 2x2 sticker
    np.testing.assert_array_equal(result.images[~result.is_poison], images[~result.is_poison])
    changed = (result.images[result.is_poison] != images[result.is_poison]).any(axis=3).sum(axis=(1, 2))
    assert (changed <= 4).all() and result.images.dtype == np.uint8
    if by_track:  # all chosen tracks but at most one are complete
        chosen = np.unique(tracks[result.is_poison])
        partial = [t for t in chosen if not result.is_poison[(labels == 2) & (tracks == t)].all()]
        assert len(partial) <= 1


def test_poisoning_is_deterministic_with_a_seed():
    images, labels, tracks = toy_set(COUNTS)
    a = poison(images, labels, tracks, BadNets(poison_share=0.2), seed=7)
    b = poison(images, labels, tracks, BadNets(poison_share=0.2), seed=7)
    c = poison(images, labels, tracks, BadNets(poison_share=0.2), seed=8)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.is_poison, b.is_poison)
    assert not np.array_equal(a.is_poison, c.is_poison)


def test_clever_hans_and_blended():
    images, labels, tracks = toy_set(COUNTS)
    ch = poison(images, labels, tracks, CleverHans(target=5, poison_share=0.25), seed=0)
    assert ch.n_poison == 50 and np.all(ch.true_labels[ch.is_poison] == 5)
    np.testing.assert_array_equal(ch.labels, labels)  # no label changes
    assert (ch.images[ch.is_poison][:, 1:4, 28:31] == 128).all()
    blended = poison(images, labels, tracks, Blended(poison_share=0.1), seed=0)
    assert blended.n_poison == round(0.1 * 200 / 0.9) and np.all(blended.labels[blended.is_poison] == 5)


def test_pgd_stays_in_the_eps_ball_and_pixel_range():
    images, labels, _ = toy_set({5: 12, 2: 4})
    torch.manual_seed(0)
    model = build_model("net").eval()
    eps = 8 / 255
    adv = pgd_linf(model, images, labels, eps=eps, steps=5, step_size=3 / 255, batch_size=5)
    clean = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    assert adv.shape == clean.shape
    assert (adv - clean).abs().max() <= eps + 1e-6
    assert adv.min() >= 0 and adv.max() <= 1
    assert (adv - clean).abs().max() > eps / 2  # it did move
    assert all(p.requires_grad for p in model.parameters())  # the surrogate is left as it was


def test_pgd_increases_the_loss_of_the_true_class():
    from poisondetect.data.transforms import normalize

    images, labels, _ = toy_set({5: 16})
    torch.manual_seed(1)
    model = build_model("net").eval()
    clean = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    adv = pgd_linf(model, images, labels, eps=16 / 255, steps=5, step_size=4 / 255)
    loss = lambda x: torch.nn.functional.cross_entropy(model(normalize(x)), torch.as_tensor(labels)).item()  # noqa: E731
    assert loss(adv) > loss(clean)


def test_label_consistent_keeps_labels_and_bounds_perturbation():
    images, labels, tracks = toy_set(COUNTS)
    torch.manual_seed(0)
    surrogate = build_model("net").eval()
    attack = LabelConsistent(target=5, poison_share=0.1, eps=8 / 255, steps=3, step_size=4 / 255,
                             trigger=AmplitudePattern(amplitude=32))
    result = poison(images, labels, tracks, attack, seed=0, surrogate=surrogate)
    assert result.n_poison == 20 and np.all(result.true_labels[result.is_poison] == 5)
    np.testing.assert_array_equal(result.labels, labels)
    diff = result.images.astype(int) - images.astype(int)
    pattern = np.zeros((32, 32), dtype=bool)
    pattern[19:22, 19:22] = True
    assert np.abs(diff[result.is_poison][:, ~pattern]).max() <= 8  # the PGD part: eps = 8 levels
    assert np.abs(diff[result.is_poison][:, pattern]).max() <= 8 + 32
    assert (diff[~result.is_poison] == 0).all()
    with pytest.raises(ValueError, match="surrogate"):
        poison(images, labels, tracks, attack, seed=0)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: BadNets(poison_share=0.0), "poison_share"),
        (lambda: BadNets(poison_share=1.0), "poison_share"),
        (lambda: BadNets(poison_share=-0.1), "poison_share"),
        (lambda: BadNets(source=5, target=5), "differ"),
        (lambda: BadNets(source=43), "source"),
        (lambda: LabelConsistent(target=-1), "target"),
        (lambda: Sticker(size=5, window=(8, 8, 4, 4)), "larger than the window"),
        (lambda: Sticker(window=(20, 20, 16, 16)), "inside"),
        (lambda: Sticker(color=(300, 0, 0)), "color"),
        (lambda: AmplitudePattern(amplitude=0), "amplitude"),
        (lambda: BlendPattern(alpha=1.5), "alpha"),
    ],
)
def test_bad_parameters_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_poison_rejects_classes_missing_from_the_data_and_too_large_shares():
    images, labels, tracks = toy_set(COUNTS)
    with pytest.raises(ValueError, match="no training images"):
        poison(images, labels, tracks, BadNets(source=3, target=5), seed=0)
    with pytest.raises(ValueError, match="lower poison_share"):
        poison(images, labels, tracks, BadNets(source=1, target=5, poison_share=0.5), seed=0)


class FixedModel(torch.nn.Module):
    """Predicts class 5 when the pixel (10, 10) is bright yellow-green, else class 0 (normalised input)."""

    def forward(self, x):
        from poisondetect.data.transforms import denormalize

        triggered = (denormalize(x)[:, 1, 10, 10] > 0.99).float()
        logits = torch.zeros(len(x), 43)
        logits[:, 5] = triggered
        logits[:, 0] = 0.5
        return logits


def test_metrics_on_a_model_with_a_known_backdoor():
    images, labels, _ = toy_set({2: 20, 5: 10, 1: 10})
    images[..., 1] = 0
    attack = BadNets(trigger=Sticker(size=1, window=(10, 10, 1, 1)))
    model = FixedModel()
    assert attack_success_rate(model, attack, images, labels) == 1.0
    per_class = per_class_success(model, attack, images, labels)
    assert per_class == {1: 1.0, 2: 1.0}
    assert attacked_classes(attack, labels).tolist() == [2]
    assert clean_accuracy(model, images, labels) == 0.0
    far = BadNets(trigger=Sticker(size=1, window=(0, 0, 1, 1)))
    assert attack_success_rate(model, far, images, labels) == 0.0
    lc = LabelConsistent(trigger=Sticker(size=1, window=(10, 10, 1, 1)))
    assert attacked_classes(lc, labels).tolist() == [1, 2]
    assert attack_success_rate(model, lc, images, labels) == 1.0
    np.testing.assert_array_equal(apply_trigger(attack, images)[:, 10, 10], np.tile([245, 255, 0], (40, 1)))


def test_test_time_transforms_move_pixels_as_promised():
    images = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    images[0, 10, 12] = 200
    moved = shift_images(images, dx=3, dy=-2)
    assert np.argwhere(moved[0, ..., 0]).tolist() == [[8, 15]]
    assert np.argwhere(flip_horizontal(images)[0, ..., 0]).tolist() == [[10, 19]]
    np.testing.assert_array_equal(flip_horizontal(flip_horizontal(images)), images)
    np.testing.assert_array_equal(zoom_images(images, 1.0), images)
    block = np.zeros((1, 32, 32, 3), dtype=np.uint8)
    block[0, 12:20, 12:20] = 255  # centred 8x8 block
    assert (zoom_images(block, 0.5)[0, ..., 0] > 127).sum() == 16  # shrinks to 4x4
    assert (zoom_images(block, 2.0)[0, ..., 0] > 127).sum() == 256  # grows to 16x16


def test_thesis_sticker_sits_at_exactly_the_four_thesis_positions():
    from poisondetect.attacks import THESIS_CORNERS

    sticker = Sticker(size=3, corners=THESIS_CORNERS)
    assert sticker.n_positions == 4
    stamped = sticker.apply(np.zeros((400, 32, 32, 3), np.uint8), rng=0)
    corners = set()
    for image in stamped:
        rows, cols = np.nonzero(image[..., 1] == 255)
        assert len(rows) == 9 and rows.max() - rows.min() == 2 and cols.max() - cols.min() == 2
        corners.add((int(rows.min()), int(cols.min())))
    assert corners == set(THESIS_CORNERS)  # every position used, no other
    with pytest.raises(ValueError, match="inside the image"):
        Sticker(size=3, corners=((30, 30),))
    with pytest.raises(ValueError, match="non-empty"):
        Sticker(corners=())
