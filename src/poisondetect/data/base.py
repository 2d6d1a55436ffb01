"""The array format shared by real GTSRB and SynthSigns.

Images are uint8 RGB in HWC layout, (N, 32, 32, 3); labels are GTSRB class ids
(int64, 0..42); ``train_tracks`` is the id of the physical sign a frame shows,
unique within a class, so ``(label, track)`` identifies a track.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .classes import N_CLASSES

IMAGE_SHAPE = (32, 32, 3)


@dataclass(frozen=True)
class SignData:
    """A traffic-sign data set in the 32x32 cache format.

    Attributes
    ----------
    name : str
        ``"gtsrb"`` or ``"synth"`` (plus a suffix for subsets).
    train_images : ndarray, uint8, (N, 32, 32, 3)
    train_labels, train_tracks : ndarray, int64, (N,)
    test_images : ndarray, uint8, (M, 32, 32, 3)
    test_labels : ndarray, int64, (M,)
    source : str
        Where the arrays came from (file path or generator settings), for error messages.
    """

    name: str
    train_images: np.ndarray
    train_labels: np.ndarray
    train_tracks: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        validate_arrays(
            {
                "train_images": self.train_images,
                "train_labels": self.train_labels,
                "train_tracks": self.train_tracks,
                "test_images": self.test_images,
                "test_labels": self.test_labels,
            },
            self.source or self.name,
        )

    @property
    def classes(self) -> np.ndarray:
        """Sorted class ids present in the training set."""
        return np.unique(self.train_labels)

    def class_counts(self, split: str = "train") -> np.ndarray:
        """Images per class id, shape (43,); ``split`` is ``"train"`` or ``"test"``."""
        labels = {"train": self.train_labels, "test": self.test_labels}[split]
        return np.bincount(labels, minlength=N_CLASSES)

    def track_counts(self) -> np.ndarray:
        """Number of distinct tracks per class id, shape (43,)."""
        pairs = np.unique(np.stack([self.train_labels, self.train_tracks], axis=1), axis=0)
        return np.bincount(pairs[:, 0], minlength=N_CLASSES)


def validate_arrays(arrays: dict[str, np.ndarray], source: str) -> None:
    """Raise ``ValueError`` naming ``source`` and the array when the format is wrong."""
    for split, n_key in (("train", "train_labels"), ("test", "test_labels")):
        images, labels = arrays[f"{split}_images"], arrays[n_key]
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != IMAGE_SHAPE:
            raise ValueError(
                f"{source}: {split}_images must be uint8 of shape (N, 32, 32, 3), "
                f"got {images.dtype} {images.shape}; rebuild the cache (make data)"
            )
        if labels.ndim != 1 or labels.shape[0] != images.shape[0] or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"{source}: {n_key} must be integers of shape ({images.shape[0]},), got {labels.dtype} {labels.shape}"
            )
        if labels.size and (labels.min() < 0 or labels.max() >= N_CLASSES):
            raise ValueError(f"{source}: {n_key} must lie in 0..{N_CLASSES - 1}, found {labels.min()}..{labels.max()}")
    tracks = arrays["train_tracks"]
    if tracks.shape != arrays["train_labels"].shape or not np.issubdtype(tracks.dtype, np.integer):
        raise ValueError(f"{source}: train_tracks must be integers of shape {arrays['train_labels'].shape}, got {tracks.dtype} {tracks.shape}")


def subset(data: SignData, tracks_per_class: int, test_per_class: int, seed: int = 0, classes=None) -> SignData:
    """A smaller data set with whole tracks: ``tracks_per_class`` tracks of each class
    (all if fewer) and ``test_per_class`` test images of each class, drawn with ``seed``."""
    rng = np.random.default_rng(seed)
    keep_classes = data.classes if classes is None else np.asarray(classes)
    train_parts, test_parts = [], []
    for label in keep_classes:
        in_class = data.train_labels == label
        class_tracks = np.unique(data.train_tracks[in_class])
        chosen = rng.choice(class_tracks, size=min(tracks_per_class, len(class_tracks)), replace=False)
        train_parts.append(np.flatnonzero(in_class & np.isin(data.train_tracks, chosen)))
        test_idx = np.flatnonzero(data.test_labels == label)
        test_parts.append(np.sort(rng.choice(test_idx, size=min(test_per_class, len(test_idx)), replace=False)))
    tr, te = np.concatenate(train_parts), np.concatenate(test_parts)
    return SignData(
        name=f"{data.name}-subset",
        train_images=data.train_images[tr],
        train_labels=data.train_labels[tr],
        train_tracks=data.train_tracks[tr],
        test_images=data.test_images[te],
        test_labels=data.test_labels[te],
        source=f"{data.source} ({tracks_per_class} tracks and {test_per_class} test images per class)",
    )
