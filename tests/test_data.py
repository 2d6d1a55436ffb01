"""Data layer: GTSRB cache (built from a fake official tree), SynthSigns, splits, transforms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from poisondetect.data import SignData, gtsrb, track_split
from poisondetect.data import transforms

SHARED_GTSRB = Path("/work/shared/data/gtsrb")
HEADER = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"


# --------------------------------------------------------------------------- GTSRB


def _write_ppm(path: Path, size: tuple[int, int], colour: tuple[int, int, int]) -> None:
    """A solid image with a 1-pixel black frame, of (width, height) ``size``."""
    w, h = size
    pixels = np.zeros((h, w, 3), dtype=np.uint8)
    pixels[1:-1, 1:-1] = colour
    Image.fromarray(pixels).save(path)


# class -> (track -> number of frames); sizes vary so resizing is exercised both ways
FAKE_TRAIN = {0: {0: 3, 1: 2}, 14: {0: 2, 7: 3}, 38: {2: 4}}
FAKE_TEST = [14, 0, 38, 38, 14]


def _colour(label: int) -> tuple[int, int, int]:
    return (200, 10, 10) if label == 14 else (10, 10, 200) if label == 38 else (10, 200, 10)


def make_fake_release(root: Path) -> Path:
    """The official GTSRB layout as torchvision unpacks it, with tiny PPMs."""
    base = root / "gtsrb"
    k = 0
    for label, tracks in FAKE_TRAIN.items():
        folder = base / "GTSRB" / "Training" / f"{label:05d}"
        folder.mkdir(parents=True)
        lines = [HEADER]
        for track, n_frames in tracks.items():
            for frame in range(n_frames):
                size = (15 + 9 * k, 17 + 7 * k)
                k += 1
                name = f"{track:05d}_{frame:05d}.ppm"
                _write_ppm(folder / name, size, _colour(label))
                lines.append(f"{name};{size[0]};{size[1]};1;1;{size[0] - 2};{size[1] - 2};{label}")
        (folder / f"GT-{label:05d}.csv").write_text("\n".join(lines) + "\n")
    test_folder = base / "GTSRB" / "Final_Test" / "Images"
    test_folder.mkdir(parents=True)
    lines = [HEADER]
    for i, label in enumerate(FAKE_TEST):
        size = (40 + 30 * i, 33 + 25 * i)
        _write_ppm(test_folder / f"{i:05d}.ppm", size, _colour(label))
        lines.append(f"{i:05d}.ppm;{size[0]};{size[1]};2;3;{size[0] - 4};{size[1] - 5};{label}")
    (base / "GT-final_test.csv").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture
def no_network(monkeypatch):
    """Fail loudly if torchvision tries to download anything."""
    import torchvision.datasets.gtsrb as tv_gtsrb

    def refuse(*args, **kwargs):
        raise OSError("network access attempted in a test")

    monkeypatch.setattr(tv_gtsrb, "download_and_extract_archive", refuse)


def test_build_cache_from_fake_release(tmp_path, no_network):
    root = make_fake_release(tmp_path / "raw")
    target = tmp_path / "cache" / "gtsrb32.npz"
    assert gtsrb.build_cache(target, root) == target
    assert sorted(p.name for p in target.parent.iterdir()) == ["gtsrb32.npz"]  # no temp file left

    signs = gtsrb.load(target)
    n_train = sum(sum(t.values()) for t in FAKE_TRAIN.values())
    assert signs.train_images.shape == (n_train, 32, 32, 3) and signs.train_images.dtype == np.uint8
    assert signs.test_images.shape == (len(FAKE_TEST), 32, 32, 3)
    expected_labels = [c for c, tracks in FAKE_TRAIN.items() for n in tracks.values() for _ in range(n)]
    expected_tracks = [t for tracks in FAKE_TRAIN.values() for t, n in tracks.items() for _ in range(n)]
    np.testing.assert_array_equal(signs.train_labels, expected_labels)
    np.testing.assert_array_equal(signs.train_tracks, expected_tracks)
    np.testing.assert_array_equal(signs.test_labels, FAKE_TEST)
    assert signs.train_labels.dtype == np.int64 and signs.train_tracks.dtype == np.int64

    with np.load(target) as stored:
        expected_frames = [f for tracks in FAKE_TRAIN.values() for n in tracks.values() for f in range(n)]
        np.testing.assert_array_equal(stored["train_frames"], expected_frames)
        np.testing.assert_array_equal(stored["test_orig_sizes"][1], [70, 58])
        np.testing.assert_array_equal(stored["test_orig_rois"][1], [2, 3, 66, 53])
    # pixels: the class colour in the centre, the 1-px black frame blurred into the border
    for images, labels in ((signs.train_images, signs.train_labels), (signs.test_images, signs.test_labels)):
        for image, label in zip(images, labels):
            np.testing.assert_allclose(image[16, 16], _colour(label), atol=3)
            assert image[0, 0].sum() < image[16, 16].sum()


def test_build_cache_reports_failed_download(tmp_path, no_network):
    with pytest.raises(RuntimeError, match="POISONDETECT_DATA"):
        gtsrb.build_cache(tmp_path / "gtsrb32.npz", tmp_path / "raw")
    assert not (tmp_path / "gtsrb32.npz").exists()


def test_build_cache_rejects_inconsistent_annotations(tmp_path, no_network):
    root = make_fake_release(tmp_path / "raw")
    csv_path = root / "gtsrb" / "GTSRB" / "Training" / "00014" / "GT-00014.csv"
    csv_path.write_text(csv_path.read_text().replace(";14\n", ";13\n", 1))
    with pytest.raises(ValueError, match="ClassId"):
        gtsrb.build_cache(tmp_path / "gtsrb32.npz", root)
    assert not (tmp_path / "gtsrb32.npz").exists()


def test_main_builds_once(tmp_path, monkeypatch, capsys, no_network):
    root = make_fake_release(tmp_path / "raw")
    monkeypatch.setenv("POISONDETECT_DATA", str(tmp_path / "data"))
    assert gtsrb.main(["--download-root", str(root)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert gtsrb.main(["--download-root", str(root)]) == 0
    assert "nothing to do" in capsys.readouterr().out


def _valid_arrays(n: int = 6, m: int = 4) -> dict[str, np.ndarray]:
    return {
        "train_images": np.zeros((n, 32, 32, 3), np.uint8),
        "train_labels": np.arange(n, dtype=np.int64) % 3,
        "train_tracks": np.zeros(n, np.int64),
        "test_images": np.zeros((m, 32, 32, 3), np.uint8),
        "test_labels": np.arange(m, dtype=np.int64) % 3,
    }


def test_load_missing_file_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("POISONDETECT_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=r"make data.*POISONDETECT_DATA"):
        gtsrb.load()


def test_load_corrupt_file_names_it(tmp_path):
    path = tmp_path / "gtsrb32.npz"
    path.write_bytes(b"not a zip archive at all")
    with pytest.raises(ValueError, match="gtsrb32.npz"):
        gtsrb.load(path)


def test_load_missing_key_names_it(tmp_path):
    arrays = _valid_arrays()
    del arrays["train_tracks"]
    np.savez(tmp_path / "gtsrb32.npz", **arrays)
    with pytest.raises(ValueError, match="train_tracks"):
        gtsrb.load(tmp_path / "gtsrb32.npz")


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("train_images", np.zeros((6, 32, 32, 3), np.float32), "train_images"),
        ("test_images", np.zeros((4, 28, 28, 3), np.uint8), "test_images"),
        ("train_labels", np.full(6, 43, np.int64), "train_labels"),
        ("test_labels", np.full(4, -1, np.int64), "test_labels"),
        ("train_tracks", np.zeros(5, np.int64), "train_tracks"),
        ("train_labels", np.zeros(6, np.float64), "train_labels"),
    ],
)
def test_load_rejects_bad_arrays(tmp_path, key, value, message):
    arrays = {**_valid_arrays(), key: value}
    np.savez(tmp_path / "gtsrb32.npz", **arrays)
    with pytest.raises(ValueError, match=message):
        gtsrb.load(tmp_path / "gtsrb32.npz")


@pytest.mark.skipif(not (SHARED_GTSRB / "gtsrb32.npz").exists(), reason="shared GTSRB copy not on this machine")
def test_shared_gtsrb_copy(monkeypatch):
    monkeypatch.setenv("POISONDETECT_DATA", str(SHARED_GTSRB))
    signs = gtsrb.load()
    assert len(signs.train_labels) == 39_209 and len(signs.test_labels) == 12_630
    assert len(signs.classes) == 43 and len(np.unique(signs.test_labels)) == 43
    assert signs.track_counts().sum() == 1_307
    assert signs.class_counts()[14] == 780 and signs.track_counts()[14] == 26


# --------------------------------------------------------------------------- splits and transforms


def test_track_split_keeps_tracks_whole_and_stratifies():
    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(5), 60)
    tracks = np.tile(np.repeat(np.arange(10), 6), 5)  # 10 tracks of 6 frames per class
    order = rng.permutation(len(labels))
    labels, tracks = labels[order], tracks[order]
    train_idx, val_idx = track_split(labels, tracks, val_fraction=0.3, seed=3)
    assert np.intersect1d(train_idx, val_idx).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train_idx, val_idx])), np.arange(len(labels)))
    train_pairs = set(zip(labels[train_idx], tracks[train_idx]))
    val_pairs = set(zip(labels[val_idx], tracks[val_idx]))
    assert not train_pairs & val_pairs
    for label in range(5):  # 3 of 10 tracks of every class
        assert sum(1 for c, _ in val_pairs if c == label) == 3
    again = track_split(labels, tracks, val_fraction=0.3, seed=3)
    np.testing.assert_array_equal(again[1], val_idx)


def test_track_split_rejects_bad_fraction():
    with pytest.raises(ValueError, match="val_fraction"):
        track_split(np.zeros(4, int), np.arange(4), val_fraction=1.0)


def test_tensor_round_trip_is_exact():
    images = np.random.default_rng(0).integers(0, 256, size=(3, 32, 32, 3), dtype=np.uint8)
    x = transforms.to_tensor(images)
    assert tuple(x.shape) == (3, 3, 32, 32)
    np.testing.assert_array_equal(transforms.to_uint8(x), images)
    low, high = transforms.input_bounds()
    assert (x >= low - 1e-6).all() and (x <= high + 1e-6).all()


def test_to_tensor_rejects_float_images():
    with pytest.raises(ValueError, match="uint8"):
        transforms.to_tensor(np.zeros((1, 32, 32, 3), np.float32))


def test_signdata_rejects_mismatched_lengths():
    arrays = {**_valid_arrays(), "train_labels": np.zeros(5, np.int64)}
    with pytest.raises(ValueError, match="train_labels"):
        SignData(name="x", **arrays)


# --------------------------------------------------------------------------- SynthSigns

from poisondetect.data import synthetic  # noqa: E402

SMALL = dict(n_train=60, n_test=24, classes=(1, 2, 14, 38), frames_per_track=4)


@pytest.fixture(scope="module")
def small_synth() -> SignData:
    return synthetic.generate(seed=0, **SMALL)


def test_synth_format_and_classes(small_synth):
    s = small_synth
    assert s.train_images.dtype == np.uint8 and s.train_images.shape[1:] == (32, 32, 3)
    assert s.test_images.dtype == np.uint8 and s.test_images.shape[1:] == (32, 32, 3)
    assert s.train_labels.dtype == np.int64 and s.train_tracks.dtype == np.int64
    assert set(s.classes) == set(SMALL["classes"]) == set(np.unique(s.test_labels))
    assert len(s.train_labels) % SMALL["frames_per_track"] == 0
    # no test image is a training image (test tracks are other physical signs)
    train_bytes = {image.tobytes() for image in s.train_images}
    assert not any(image.tobytes() in train_bytes for image in s.test_images)


def test_synth_is_deterministic(small_synth):
    again = synthetic.generate(seed=0, **SMALL)
    for name in ("train_images", "train_labels", "train_tracks", "test_images", "test_labels"):
        np.testing.assert_array_equal(getattr(again, name), getattr(small_synth, name))
    other = synthetic.generate(seed=1, **SMALL)
    assert not np.array_equal(other.train_images, small_synth.train_images)


def test_synth_tracks_are_contiguous_and_numbered(small_synth):
    s, f = small_synth, SMALL["frames_per_track"]
    labels = s.train_labels.reshape(-1, f)
    tracks = s.train_tracks.reshape(-1, f)
    assert (labels == labels[:, :1]).all() and (tracks == tracks[:, :1]).all()  # a track shares label and id
    for label in s.classes:
        ids = tracks[labels[:, 0] == label, 0]
        np.testing.assert_array_equal(ids, np.arange(len(ids)))  # unique within the class
    # frames of a track show one sign, other tracks others: frames are closer within a track
    images = s.train_images.reshape(-1, f, 32 * 32 * 3).astype(float)
    within = np.abs(images[:, -1] - images[:, -2]).mean()
    between = np.abs(images[1:, -1] - images[:-1, -1]).mean()
    assert within < 0.7 * between


def test_synth_resolution_grows_along_a_track():
    """Late frames are captured at higher native resolution: more fine detail."""
    def detail(images):
        grey = images.astype(float).mean(-1)
        return np.abs(np.diff(grey, axis=1)).mean(axis=(1, 2))
    first, last = [], []
    for track in range(12):
        frames = synthetic.render_track(2, synthetic.track_rng(0, "train", 2, track), 6)
        first.append(detail(frames[:1])[0])
        last.append(detail(frames[-1:])[0])
    assert np.mean(last) > 1.2 * np.mean(first)


def test_allocate_tracks_follows_gtsrb_proportions():
    weights = np.array(synthetic.GTSRB_TRAIN_COUNTS)[list(synthetic.SYNTH_CLASSES)]
    tracks = synthetic.allocate_tracks(20_000, weights, 10)
    assert tracks.sum() == 2_000
    np.testing.assert_allclose(tracks, 2_000 * weights / weights.sum(), atol=1)
    assert tracks[synthetic.SYNTH_CLASSES.index(0)] < tracks[synthetic.SYNTH_CLASSES.index(2)] / 5  # 20 km/h is rare
    tiny = synthetic.allocate_tracks(10, weights, 10)
    assert (tiny >= 1).all()  # every class keeps a track


def test_synth_class_sizes_follow_allocation(small_synth):
    weights = np.array(synthetic.GTSRB_TRAIN_COUNTS)[list(SMALL["classes"])]
    expected = synthetic.allocate_tracks(SMALL["n_train"], weights, SMALL["frames_per_track"]) * SMALL["frames_per_track"]
    np.testing.assert_array_equal(small_synth.class_counts()[list(SMALL["classes"])], expected)


def test_synth_signs_have_their_colours():
    """Stop signs are red, keep-right signs blue, priority-road signs yellow, in the sign's centre."""
    def centre_mean(label):
        frames = np.concatenate([synthetic.render_track(label, synthetic.track_rng(0, "train", label, k), 3) for k in range(10)])
        return frames[:, 10:22, 10:22].reshape(-1, 3).astype(float).mean(0)
    stop, keep_right, priority = centre_mean(14), centre_mean(38), centre_mean(12)
    assert stop[0] - stop[2] > keep_right[0] - keep_right[2] + 40
    assert keep_right[2] - keep_right[0] > 20
    assert priority[:2].mean() - priority[2] > 30  # yellow: red and green above blue


def test_synth_speed_limits_differ_only_in_their_digits():
    """Drawn with the same random stream, 30 and 80 km/h differ only in the first digit,
    the hard pair of GTSRB: every differing pixel is inside the white disc, left of centre."""
    sign30 = synthetic.draw_sign(1, np.random.default_rng(7))
    sign80 = synthetic.draw_sign(5, np.random.default_rng(7))
    differ = np.any(sign30 != sign80, axis=2)
    assert differ.sum() > 200  # the digit is drawn
    yy, xx = np.nonzero(differ)
    (cx, cy), radius = synthetic._CENTRE, synthetic._RADIUS
    assert np.hypot(xx - cx, yy - cy).max() < 0.8 * radius
    assert xx.max() < cx + 0.1 * radius


def test_perspective_coefficients_map_points_back():
    source = np.array([[0, 0], [128, 0], [128, 160], [0, 160]], float)
    target = synthetic.project((source - [64, 60]) / 54, 0.5, -0.2, 0.1, 6.0) * 20 + 16
    a, b, c, d, e, g, h, k = synthetic.perspective_coefficients(source, target)
    X, Y = target[:, 0], target[:, 1]
    den = h * X + k * Y + 1
    np.testing.assert_allclose(np.c_[(a * X + b * Y + c) / den, (d * X + e * Y + g) / den], source, atol=1e-8)
    flat = np.array([[1.0, 0.0], [0.0, -1.0], [0.3, 0.2]])
    np.testing.assert_allclose(synthetic.project(flat, 0, 0, 0, 5.0), flat)  # facing the camera: unchanged


def test_synth_rejects_bad_arguments():
    with pytest.raises(ValueError, match="SYNTH_CLASSES"):
        synthetic.generate(50, 20, classes=(1, 6))
    with pytest.raises(ValueError, match="frames_per_track"):
        synthetic.generate(50, 20, frames_per_track=0)


def test_synth_load_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("POISONDETECT_ARTIFACTS", str(tmp_path))
    first = synthetic.load("smoke")
    stored = list((tmp_path / "synthsigns").glob("*.npz"))
    assert len(stored) == 1
    n_train, n_test = synthetic.PROFILE_SIZES["smoke"]
    assert abs(len(first.train_labels) - n_train) <= 30 and abs(len(first.test_labels) - n_test) <= 30
    assert set(first.classes) == set(synthetic.SYNTH_CLASSES)
    second = synthetic.load("smoke")
    np.testing.assert_array_equal(second.train_images, first.train_images)
    with pytest.raises(ValueError, match="profile"):
        synthetic.load("huge")
