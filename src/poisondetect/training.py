"""Training, evaluation and the model cache.

Models are trained with Adam :cite:`kingma2015` on the cross-entropy loss

.. math::  \\mathcal{L}(\\theta) = -\\frac{1}{|B|} \\sum_{i \\in B} \\log \\operatorname{softmax}(f_\\theta(x_i))_{y_i}

over shuffled mini-batches ``B``. After every epoch the loss on a held-out
validation split (un-augmented) is computed; training stops when it has not
improved for ``patience`` epochs. ``TrainConfig.keep`` says which weights
are kept: ``"best"`` restores the epoch of lowest validation loss, ``"last"``
keeps the last epoch, as the original thesis code did. The validation loss
hardly sees a backdoor (its poisons are a few percent of one class), so the
best-loss epoch can be one in which the backdoor is not yet learned; the
thesis setting keeps the last epoch.

Images are kept in memory as uint8 tensors (N, 3, 32, 32); each batch is
converted to [0, 1], optionally augmented with cheap batched tensor operations
(:func:`augment`: a random small rotation, shift and scale through one affine
grid, and brightness/contrast jitter), then normalised with
:func:`poisondetect.data.transforms.normalize`. Evaluation never augments.

Everything random (initial weights, shuffling, augmentation, dropout) is drawn
from generators seeded with ``TrainConfig.seed``, so two runs with the same
config give identical weights on the CPU.

Trained weights are cached by the experiment layer
(:func:`poisondetect.experiments.poisoned_model`), not here.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .data import track_split, transforms


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (part of the model cache key).

    Parameters
    ----------
    epochs : int
        Maximum number of epochs.
    batch_size : int
        Mini-batch size.
    lr : float
        Adam learning rate.
    patience : int
        Epochs without improvement of the validation loss before stopping.
    val_fraction : float
        Share of tracks per class held out for validation (split by
        :func:`poisondetect.data.track_split`).
    augment : bool
        Random rotation (up to ``max_rotation`` degrees), shift (up to
        ``max_shift`` pixels), scale (by up to ``max_scale``) and
        brightness/contrast jitter (up to ``jitter``) of training batches.
    seed : int
        Seeds weights, split, shuffling, augmentation and dropout.
    keep : {"best", "last"}
        Weights kept: of the epoch with the lowest validation loss, or of the last epoch run.
    schedule : {"constant", "onecycle"}
        Learning rate: ``lr`` throughout, or the one-cycle schedule of Smith and Topin
        (from ``lr / 25`` up to ``lr`` over the first 30 % of the ``epochs`` steps, then cosine
        annealing to ``lr / 250000``), which reaches a given accuracy in far fewer epochs. Early
        stopping cuts the cycle short, so a one-cycle run normally has ``patience >= epochs``.
    """

    epochs: int = 30
    batch_size: int = 128
    lr: float = 1e-3
    patience: int = 5
    val_fraction: float = 0.2
    augment: bool = True
    max_rotation: float = 10.0
    max_shift: float = 2.0
    max_scale: float = 0.05
    jitter: float = 0.2
    seed: int = 0
    keep: str = "best"
    schedule: str = "constant"

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ValueError(f"TrainConfig.epochs must be >= 1, got {self.epochs}")
        if self.batch_size < 2:
            raise ValueError(f"TrainConfig.batch_size must be >= 2 (BatchNorm), got {self.batch_size}")
        if not self.lr > 0:
            raise ValueError(f"TrainConfig.lr must be positive, got {self.lr}")
        if self.patience < 1:
            raise ValueError(f"TrainConfig.patience must be >= 1, got {self.patience}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"TrainConfig.val_fraction must lie in [0, 1), got {self.val_fraction}")
        if self.keep not in ("best", "last"):
            raise ValueError(f"TrainConfig.keep must be 'best' or 'last', got {self.keep!r}")
        if self.schedule not in ("constant", "onecycle"):
            raise ValueError(f"TrainConfig.schedule must be 'constant' or 'onecycle', got {self.schedule!r}")


def images_to_uint8_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 32, 32, 3) array -> uint8 tensor (N, 3, 32, 32) (no copy of the values' range)."""
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"images must be uint8 of shape (N, H, W, 3), got {images.dtype} {images.shape}")
    return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).contiguous()


def augment(x: torch.Tensor, generator: torch.Generator, config: TrainConfig) -> torch.Tensor:
    """Random geometric and colour jitter of a batch of images in [0, 1], (N, 3, H, W).

    One affine map per image, rotation by :math:`\\alpha \\sim U(-r, r)` degrees,
    scale :math:`s \\sim U(1-\\sigma, 1+\\sigma)` and shift :math:`t \\sim U(-m, m)^2`
    pixels, resampled bilinearly with border padding; then brightness
    :math:`b` and contrast :math:`c` factors in :math:`U(1-j, 1+j)`:
    :math:`x \\mapsto \\operatorname{clip}(c (b x - \\bar x) + \\bar x)` with the
    per-image mean :math:`\\bar x` of :math:`b x`. With rotation, shift and scale all zero the
    images are not resampled at all (pixels keep their exact values, only the colours change).
    """
    n, _, h, w = x.shape
    uniform = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    if config.max_rotation or config.max_shift or config.max_scale:
        x = _affine_jitter(x, uniform, config)
    brightness = 1 + (uniform(n, 1, 1, 1) * 2 - 1) * config.jitter
    contrast = 1 + (uniform(n, 1, 1, 1) * 2 - 1) * config.jitter
    x = x * brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return ((x - mean) * contrast + mean).clamp(0, 1)


def _affine_jitter(x: torch.Tensor, uniform, config: TrainConfig) -> torch.Tensor:
    """The geometric part of :func:`augment`: one random rotation, scale and shift per image."""
    n, _, h, w = x.shape
    angle = (uniform(n) * 2 - 1) * math.radians(config.max_rotation)
    scale = 1 + (uniform(n) * 2 - 1) * config.max_scale
    shift = (uniform(n, 2) * 2 - 1) * config.max_shift * 2 / torch.tensor([w, h])
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _batch(images: torch.Tensor, idx: torch.Tensor | slice) -> torch.Tensor:
    """uint8 tensor batch -> float in [0, 1]."""
    return images[idx].float().div_(255.0)


@torch.no_grad()
def predict_logits(model: nn.Module, images: np.ndarray | torch.Tensor, batch_size: int = 512) -> torch.Tensor:
    """Logits (N, n_classes) of un-augmented images in eval mode.

    ``images`` is either uint8 (N, 32, 32, 3) as stored in the data sets or an
    already normalised float tensor (N, 3, 32, 32).
    """
    was_training = model.training
    model.eval()
    try:
        if isinstance(images, np.ndarray):
            u8 = images_to_uint8_tensor(images)
            parts = [model(transforms.normalize(_batch(u8, slice(s, s + batch_size)))) for s in range(0, len(u8), batch_size)]
        else:
            parts = [model(images[s:s + batch_size]) for s in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    return torch.cat(parts) if parts else torch.empty(0, 0)


def predict(model: nn.Module, images: np.ndarray | torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """Predicted class ids (N,) of un-augmented images."""
    return predict_logits(model, images, batch_size).argmax(1).numpy()


def evaluate(model: nn.Module, images: np.ndarray, labels: np.ndarray, batch_size: int = 512) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on un-augmented uint8 images (N, 32, 32, 3)."""
    if len(images) == 0:
        return float("nan"), float("nan")
    logits = predict_logits(model, images, batch_size)
    target = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    loss = F.cross_entropy(logits, target).item()
    return loss, (logits.argmax(1) == target).float().mean().item()


def fit(
    model: nn.Module,
    train_images: np.ndarray,
    train_labels: np.ndarray,
    val_images: np.ndarray,
    val_labels: np.ndarray,
    config: TrainConfig = TrainConfig(),
    progress: bool = True,
) -> dict[str, Any]:
    """Train ``model`` in place with Adam and early stopping; keep the best (or the last) epoch.

    Parameters
    ----------
    model : nn.Module
        Any of :mod:`poisondetect.models`.
    train_images, val_images : ndarray, uint8, (N, 32, 32, 3) and (M, 32, 32, 3)
    train_labels, val_labels : ndarray, int, (N,) and (M,)
        Labels seen by training (for poisoned sets: the attacker's labels).
    config : TrainConfig
    progress : bool
        Show a tqdm bar over epochs with loss and accuracy.

    Returns
    -------
    history : dict
        ``train_loss``, ``train_acc`` (on the augmented batches), ``val_loss``,
        ``val_acc``, ``lr`` (the learning rate at the epoch's end) (lists, one entry per epoch run), ``best_epoch`` (0-based
        index of the lowest validation loss), ``kept_epoch`` (whose weights the
        model has: ``best_epoch`` or the last), ``epochs_run``, ``seconds``,
        ``images_per_second`` (training throughput). With an empty validation
        set, the training loss decides.
    """
    if len(train_images) != len(train_labels) or len(val_images) != len(val_labels):
        raise ValueError("images and labels must have the same length (train and val)")
    if len(train_images) < 2:
        raise ValueError(f"need at least 2 training images, got {len(train_images)}")
    generator = torch.Generator().manual_seed(config.seed)
    torch.manual_seed(config.seed)  # dropout draws from the global generator
    images = images_to_uint8_tensor(train_images)
    labels = torch.as_tensor(np.asarray(train_labels), dtype=torch.long)
    model.to(memory_format=torch.channels_last)  # about 10 % faster convolutions on the CPU
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    steps_per_epoch = math.ceil((len(images) - (len(images) % config.batch_size == 1)) / config.batch_size)
    scheduler = (torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch)
                 if config.schedule == "onecycle" else None)
    history: dict[str, Any] = {"train_loss": [], "train_acc": [], "val_loss": [], "val_acc": [], "lr": []}
    best_loss, best_state, best_epoch, since_best = math.inf, None, 0, 0
    start, seen = time.perf_counter(), 0
    bar = tqdm(range(config.epochs), desc=f"training {type(model).__name__}", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        order = torch.randperm(len(images), generator=generator)
        if len(order) % config.batch_size == 1:  # BatchNorm cannot train on a batch of one
            order = order[:-1]
        total_loss, total_correct, total = 0.0, 0, 0
        for s in range(0, len(order), config.batch_size):
            idx = order[s:s + config.batch_size]
            x = _batch(images, idx)
            if config.augment:
                x = augment(x, generator, config)
            logits = model(transforms.normalize(x).contiguous(memory_format=torch.channels_last))
            loss = F.cross_entropy(logits, labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            total_loss += loss.item() * len(idx)
            total_correct += (logits.argmax(1) == labels[idx]).sum().item()
            total += len(idx)
        seen += total
        train_loss, train_acc = total_loss / total, total_correct / total
        val_loss, val_acc = evaluate(model, val_images, val_labels) if len(val_images) else (train_loss, float("nan"))
        for key, value in zip(("train_loss", "train_acc", "val_loss", "val_acc", "lr"),
                              (train_loss, train_acc, val_loss, val_acc, optimizer.param_groups[0]["lr"])):
            history[key].append(float(value))
        bar.set_postfix(loss=f"{train_loss:.3f}", acc=f"{train_acc:.3f}", val_loss=f"{val_loss:.3f}", val_acc=f"{val_acc:.3f}")
        if val_loss < best_loss:
            best_loss, best_epoch, since_best = val_loss, epoch, 0
            best_state = copy.deepcopy(model.state_dict())
        else:
            since_best += 1
            if since_best >= config.patience:
                break
    bar.close()
    if best_state is not None and config.keep == "best":
        model.load_state_dict(best_state)
    kept_epoch = best_epoch if config.keep == "best" else len(history["train_loss"]) - 1
    model.to(memory_format=torch.contiguous_format)
    model.eval()
    seconds = time.perf_counter() - start
    history.update(best_epoch=best_epoch, kept_epoch=kept_epoch, epochs_run=len(history["train_loss"]), seconds=seconds,
                   images_per_second=seen / seconds if seconds > 0 else float("nan"))
    return history


def split(labels: np.ndarray, tracks: np.ndarray, config: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Train/validation indices by whole tracks (see :func:`poisondetect.data.track_split`).

    Pass the *true* labels of a poisoned set, so that the frames of one
    physical sign stay together whether or not they were relabelled.
    """
    return track_split(labels, tracks, config.val_fraction, seed=config.seed)
