"""SynthSigns: deterministic, GTSRB-shaped, structured in tracks, with recognisable classes."""

import numpy as np
import pytest

from poisondetect import data
from poisondetect.data import synthetic
from poisondetect.data.splits import track_keys


@pytest.fixture(scope="module")
def signs():
    return synthetic.generate(n_train=520, n_test=130, seed=3)


def test_format_and_classes(signs):
    assert signs.train_images.dtype == np.uint8 and signs.train_images.shape[1:] == (32, 32, 3)
    assert set(np.unique(signs.train_labels)) == set(synthetic.SYNTH_CLASSES)
    assert set(np.unique(signs.test_labels)) <= set(synthetic.SYNTH_CLASSES)
    assert abs(len(signs.train_labels) - 520) <= 10 * len(synthetic.SYNTH_CLASSES)


def test_same_seed_same_arrays_other_seed_other_arrays(signs):
    again = synthetic.generate(n_train=520, n_test=130, seed=3)
    np.testing.assert_array_equal(again.train_images, signs.train_images)
    np.testing.assert_array_equal(again.test_images, signs.test_images)
    other = synthetic.generate(n_train=520, n_test=130, seed=4)
    assert not np.array_equal(other.train_images, signs.train_images)


def test_tracks_have_whole_frames_and_unique_ids(signs):
    keys = track_keys(signs.train_labels, signs.train_tracks)
    _, counts = np.unique(keys, return_counts=True)
    assert np.all(counts == 10)
    for label in synthetic.SYNTH_CLASSES:
        tracks = signs.train_tracks[signs.train_labels == label]
        assert np.array_equal(np.unique(tracks), np.arange(tracks.max() + 1))
    # frames of one track show the same sign growing: later frames differ from the first but stay correlated
    first = signs.train_images[keys == keys[0]].astype(float)
    assert np.corrcoef(first[0].ravel(), first[-1].ravel())[0, 1] > 0.2
    assert not np.array_equal(first[0], first[-1])


def test_class_sizes_follow_gtsrb_proportions():
    big = synthetic.generate(n_train=2600, n_test=130, seed=0)
    counts = big.class_counts()[list(synthetic.SYNTH_CLASSES)]
    gtsrb = np.array(synthetic.GTSRB_TRAIN_COUNTS)[list(synthetic.SYNTH_CLASSES)]
    share, expected = counts / counts.sum(), gtsrb / gtsrb.sum()
    assert np.max(np.abs(share - expected)) < 0.02
    assert counts[synthetic.SYNTH_CLASSES.index(0)] < counts[synthetic.SYNTH_CLASSES.index(2)]


def test_signs_have_their_colours(signs):
    def centre_mean(label):
        images = signs.train_images[signs.train_labels == label].astype(float)
        return images[:, 10:22, 10:22].mean(axis=(0, 1, 2))  # centre of the sign, RGB

    stop, keep_right, priority = centre_mean(14), centre_mean(38), centre_mean(12)
    assert stop[0] > stop[2] + 20  # red octagon
    assert keep_right[2] > keep_right[0] + 20  # blue disc
    assert priority[0] > priority[2] + 20 and priority[1] > priority[2] + 20  # yellow diamond


def test_bad_parameters_are_rejected():
    with pytest.raises(ValueError, match="SYNTH_CLASSES"):
        synthetic.generate(n_train=100, n_test=10, classes=(6,))
    with pytest.raises(ValueError, match="frames_per_track"):
        synthetic.generate(n_train=100, n_test=10, frames_per_track=0)


def test_load_by_profile_is_cached():
    first = data.load("synth", "smoke")
    second = data.load("synth", "smoke")
    np.testing.assert_array_equal(first.train_images, second.train_images)
    assert first.name == "synth"
