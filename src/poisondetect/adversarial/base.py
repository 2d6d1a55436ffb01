"""What every evasion attack shares: checked pixel-space inputs, the model seen through its normalisation, the result.

Attacks take a batch of images either as uint8 arrays (N, H, W, C) as the data
sets store them, or as float arrays / tensors (N, C, H, W) in [0, 1], with
``C`` = 1 or 3. They work in pixel space: the classifier sees
``preprocess(x)`` (by default :func:`poisondetect.data.transforms.normalize`), so
:math:`\\varepsilon` is measured in [0, 1] pixel units whatever the model's
normalisation is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..attacks.pgd import NORMS, frozen
from ..data import transforms

#: Accepted spellings of the two norms, mapped to :data:`poisondetect.attacks.pgd.NORMS`.
_NORM_NAMES = {"inf": "inf", "linf": "inf", "l_inf": "inf", np.inf: "inf", "2": "2", "l2": "2", 2: "2"}

Preprocess = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class AttackResult:
    """Adversarial images of one attack on ``n`` images.

    Attributes
    ----------
    images : Tensor, float32, (n, C, H, W)
        Adversarial images in [0, 1].
    perturbation_norm : ndarray, float, (n,)
        :math:`\\|x' - x\\|_p` in pixel units, in the norm ``norm``.
    success : ndarray, bool, (n,)
        Untargeted: the prediction differs from the true label; targeted: it equals the target.
    predicted : ndarray, int64, (n,)
        The model's class for each adversarial image.
    confidence : ndarray, float, (n,)
        The softmax probability of the predicted class.
    norm : str
        ``"inf"`` or ``"2"``.
    queries : ndarray, int64, (n,) or None
        Model queries (images evaluated) spent per image: black-box attacks only.
    """

    images: torch.Tensor
    perturbation_norm: np.ndarray
    success: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray
    norm: str
    queries: np.ndarray | None = None

    @property
    def success_rate(self) -> float:
        """Share of images on which the attack succeeded."""
        return float(self.success.mean()) if len(self.success) else float("nan")

    def __len__(self) -> int:
        return len(self.images)


def check_norm(norm: object) -> str:
    """``"inf"`` or ``"2"`` for the accepted spellings (``np.inf``, ``"linf"``, ``2``, ``"l2"``), else ``ValueError``."""
    key = norm.lower() if isinstance(norm, str) else norm
    try:
        return _NORM_NAMES[key]
    except (KeyError, TypeError):
        raise ValueError(f"unknown norm {norm!r}: choose one of 'inf' (np.inf, 'linf') or '2' (2, 'l2')") from None


def check_eps(eps: float, name: str = "eps", norm: str = "inf") -> float:
    """Return ``eps`` as float if it is finite, >= 0 and (for L-infinity) <= 1, else ``ValueError`` naming it."""
    value = float(eps)
    if not np.isfinite(value) or value < 0 or (norm == "inf" and value > 1):
        bound = "[0, 1] (pixel units)" if norm == "inf" else ">= 0 (pixel units)"
        raise ValueError(f"{name} must lie in {bound}, got {eps}")
    return value


def check_positive_int(value: int, name: str, minimum: int = 1) -> int:
    """Return ``value`` if it is an integer >= ``minimum``, else ``ValueError`` naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def pixels(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Checked images as float32 (N, C, H, W) in [0, 1].

    uint8 arrays are read as (N, H, W, C) and divided by 255; float arrays and
    tensors must already be (N, C, H, W) in [0, 1]. ``C`` must be 1 or 3.
    """
    if isinstance(images, np.ndarray) and images.dtype == np.uint8:
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(f"uint8 images must have shape (N, H, W, 1 or 3), got {images.shape}")
        return torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div(255.0)
    x = torch.as_tensor(images)
    if not x.is_floating_point():
        raise ValueError(f"images must be uint8 (N, H, W, C) or float (N, C, H, W) in [0, 1], got dtype {x.dtype}")
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"float images must have shape (N, 1 or 3, H, W), got {tuple(x.shape)}")
    if x.numel() and (x.min() < 0 or x.max() > 1 or not torch.isfinite(x).all()):
        raise ValueError(f"float images must lie in [0, 1], got values in [{x.min().item():.4g}, {x.max().item():.4g}]; divide uint8 values by 255")
    return x.detach().float().clone()


def class_labels(labels: np.ndarray | torch.Tensor | int, n: int, name: str = "labels") -> torch.Tensor:
    """Class indices as int64 (n,); a single int is repeated. ``ValueError`` naming ``name`` on a wrong shape."""
    y = torch.as_tensor(np.asarray(labels))
    if y.ndim == 0:
        y = y.expand(n)
    if y.shape != (n,) or (y.numel() and y.is_floating_point()):
        raise ValueError(f"{name} must be integer class indices of shape ({n},), got {tuple(y.shape)} {y.dtype}")
    if y.numel() and y.min() < 0:
        raise ValueError(f"{name} must be non-negative class indices, got minimum {y.min().item()}")
    return y.long().clone()


def perturbation_norm(delta: torch.Tensor, norm: str) -> np.ndarray:
    """:math:`\\|\\delta_i\\|_p` of each perturbation (N, ...) -> (N,) float."""
    flat = delta.detach().flatten(1)
    if norm == "inf":
        return flat.abs().amax(1).numpy() if len(flat) else np.zeros(0)
    return flat.norm(dim=1).numpy()


@torch.no_grad()
def logits_of(model: nn.Module, x: torch.Tensor, preprocess: Preprocess = transforms.normalize, batch_size: int = 512) -> torch.Tensor:
    """Logits (N, K) of pixel images ``x`` (N, C, H, W), in eval mode."""
    with frozen(model):
        parts = [model(preprocess(x[s:s + batch_size])) for s in range(0, len(x), batch_size)]
    return torch.cat(parts) if parts else torch.empty(0, 0)


def result(
    model: nn.Module,
    x: torch.Tensor,
    adv: torch.Tensor,
    labels: torch.Tensor,
    norm: str,
    targets: torch.Tensor | None = None,
    preprocess: Preprocess = transforms.normalize,
    queries: np.ndarray | None = None,
) -> AttackResult:
    """The :class:`AttackResult` of adversarial images ``adv`` of ``x`` (success against ``targets`` if given)."""
    probs = logits_of(model, adv, preprocess).softmax(1)
    confidence, predicted = probs.max(1)
    success = predicted == targets if targets is not None else predicted != labels
    return AttackResult(adv, perturbation_norm(adv - x, norm), success.numpy(), predicted.numpy(),
                        confidence.numpy(), norm, queries)
