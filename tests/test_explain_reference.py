"""LRP through zennit against a slow reference written from the rule formulas.

The reference turns every layer into a dense matrix (a convolution becomes the
matrix of its action on the basis images), runs the forward pass itself and
then redistributes relevance neuron by neuron with explicit loops, one rule per
layer. Everything runs in float64 so that differences are rounding only.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from poisondetect.data.transforms import input_bounds
from poisondetect.explain import ExplainSettings, explain

EPSILON, GAMMA, STAB = 0.25, 0.25, 1e-6


# ----------------------------------------------------------------------------- reference rules

def sign(z: float) -> float:
    return 1.0 if z >= 0 else -1.0


def rule_epsilon(a, W, b, R, eps_scale):
    """R_i = sum_j a_i w_ji / (z_j + sign(z_j) eps_j) R_j with eps_j = scale * rms(z) + STAB."""
    z = W @ a + b
    eps = eps_scale * np.sqrt(np.mean(z**2)) + STAB
    out = np.zeros_like(a)
    for j in range(len(z)):
        for i in range(len(a)):
            out[i] += a[i] * W[j, i] / (z[j] + sign(z[j]) * eps) * R[j]
    return out


def rule_gamma(a, W, b, R, gamma):
    """Generalised gamma rule (negative inputs allowed), one formula per sign of z_j."""
    z = W @ a + b
    out = np.zeros_like(a)
    for j in range(len(z)):
        if z[j] == 0:
            continue
        q = np.zeros_like(a)
        for i in range(len(a)):
            pos, neg = max(a[i], 0.0), min(a[i], 0.0)
            w_up, w_down = W[j, i] + gamma * max(W[j, i], 0.0), W[j, i] + gamma * min(W[j, i], 0.0)
            q[i] = pos * w_up + neg * w_down if z[j] > 0 else pos * w_down + neg * w_up
        bias = b[j] + gamma * (max(b[j], 0.0) if z[j] > 0 else min(b[j], 0.0))
        denominator = q.sum() + bias
        out += q / (denominator + sign(denominator) * STAB) * R[j]
    return out


def rule_alpha_beta(a, W, b, R, alpha, beta):
    """R_i = sum_j [alpha (a_i w_ji)^+ / (sum (a w)^+ + b^+) - beta (a_i w_ji)^- / (sum (a w)^- + b^-)] R_j."""
    out = np.zeros_like(a)
    for j in range(W.shape[0]):
        contributions = np.array([a[i] * W[j, i] for i in range(len(a))])
        positive, negative = np.maximum(contributions, 0), np.minimum(contributions, 0)
        den_pos = positive.sum() + max(b[j], 0.0)
        den_neg = negative.sum() + min(b[j], 0.0)
        out += alpha * positive / (den_pos + sign(den_pos) * STAB) * R[j]
        out -= beta * negative / (den_neg + sign(den_neg) * STAB) * R[j]
    return out


def rule_flat(a, M, R):
    """R_i = sum_j m_ji / sum_i' m_ji' R_j: uniform over each neuron's receptive field (mask M)."""
    out = np.zeros_like(a)
    for j in range(M.shape[0]):
        out += M[j] / (M[j].sum() + STAB) * R[j]
    return out


def rule_box(a, W, R, low, high):
    """R_i = sum_j (a_i w_ji - l_i w_ji^+ - h_i w_ji^-) / sum_i'(...) R_j (biases cancel)."""
    out = np.zeros_like(a)
    for j in range(W.shape[0]):
        q = a * W[j] - low * np.maximum(W[j], 0) - high * np.minimum(W[j], 0)
        den = q.sum()
        out += q / (den + sign(den) * STAB) * R[j]
    return out


# ----------------------------------------------------------------------------- reference network

def dense_of(layer: nn.Module, in_shape: tuple[int, ...], ones: bool = False):
    """Dense matrix (out, in) and bias (out,) of a Linear or Conv2d acting on inputs of ``in_shape``."""
    size = int(np.prod(in_shape))
    basis = torch.eye(size, dtype=torch.float64).reshape(size, *in_shape)
    weight = torch.ones_like(layer.weight) if ones else layer.weight
    with torch.no_grad():
        if isinstance(layer, nn.Conv2d):
            out = F.conv2d(basis, weight, None, layer.stride, layer.padding)
            out_shape = out.shape[1:]
            bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_channels, dtype=torch.float64)
            bias = bias[:, None, None].expand(out_shape).reshape(-1)
        else:
            out = basis @ weight.T
            out_shape = out.shape[1:]
            bias = layer.bias if layer.bias is not None else torch.zeros(layer.out_features, dtype=torch.float64)
    return out.reshape(size, -1).T.numpy(), bias.detach().numpy(), tuple(out_shape)


def maxpool_forward(a, shape):
    """2x2 max-pool of a flat (C*H*W,) activation; returns output and the argmax index of each output."""
    c, h, w = shape
    grid = a.reshape(c, h, w)
    out, where = [], []
    for k in range(c):
        for y in range(0, h - 1, 2):
            for x in range(0, w - 1, 2):
                window = [(k, y + dy, x + dx) for dy in (0, 1) for dx in (0, 1)]
                best = max(window, key=lambda p: grid[p])
                out.append(grid[best])
                where.append(np.ravel_multi_index(best, shape))
    return np.array(out), np.array(where), (c, h // 2, w // 2)


def reference_lrp(model: nn.Sequential, x: np.ndarray, target: int, method: str) -> np.ndarray:
    """Relevance of one image ``x`` (flat) for ``model`` (a Sequential of Conv2d/Linear/ReLU/MaxPool2d/Flatten)."""
    shape = tuple(x.shape)
    a = x.reshape(-1).astype(np.float64)
    tape = []  # (kind, input activation, data)
    for layer in model:
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            W, b, out_shape = dense_of(layer, shape)
            M = dense_of(layer, shape, ones=True)[0] != 0
            tape.append(("linear", a, (W, b, M, layer)))
            a, shape = W @ a + b, out_shape
        elif isinstance(layer, nn.ReLU):
            a = np.maximum(a, 0)
        elif isinstance(layer, nn.MaxPool2d):
            out, where, out_shape = maxpool_forward(a, shape)
            tape.append(("maxpool", a, where))
            a, shape = out, out_shape
        elif isinstance(layer, nn.Flatten):
            shape = (int(np.prod(shape)),)
    R = np.zeros_like(a)
    R[target] = a[target]  # relevance starts at the explained logit
    linears = [entry for entry in tape if entry[0] == "linear"]
    first = linears[0][2][3]
    for kind, a_in, data in reversed(tape):
        if kind == "maxpool":
            lower = np.zeros_like(a_in)
            for index, source in enumerate(data):
                lower[source] += R[index]
            R = lower
            continue
        W, b, M, layer = data
        is_conv = isinstance(layer, nn.Conv2d)
        if method == "lrp0":
            R = rule_epsilon(a_in, W, b, R, 0.0)
        elif method == "epsilon":
            R = rule_epsilon(a_in, W, b, R, EPSILON)
        elif method == "gamma":
            R = rule_gamma(a_in, W, b, R, GAMMA)
        elif method == "alpha1beta0":
            R = rule_alpha_beta(a_in, W, b, R, 1.0, 0.0)
        elif method == "alpha2beta1":
            R = rule_alpha_beta(a_in, W, b, R, 2.0, 1.0)
        elif method == "epsilon_plus_flat":
            if layer is first:
                R = rule_flat(a_in, M, R)
            elif is_conv:
                R = rule_alpha_beta(a_in, W, b, R, 1.0, 0.0)
            else:
                R = rule_epsilon(a_in, W, b, R, EPSILON)
        elif method == "epsilon_gamma_box":
            if layer is first:
                low, high = (t.expand(1, *x.shape).reshape(-1).double().numpy() for t in input_bounds((1, 3, 1, 1)))
                R = rule_box(a_in, W, R, low, high)
            elif is_conv:
                R = rule_gamma(a_in, W, b, R, GAMMA)
            else:
                R = rule_epsilon(a_in, W, b, R, EPSILON)
        else:
            raise ValueError(method)
    return R.reshape(x.shape)


# ----------------------------------------------------------------------------- networks

def small_mlp() -> nn.Sequential:
    torch.manual_seed(1)
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 7), nn.ReLU(), nn.Linear(7, 5), nn.ReLU(), nn.Linear(5, 3)).double()


def small_cnn() -> nn.Sequential:
    torch.manual_seed(2)
    return nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 5, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(5 * 3 * 3, 3),
    ).double()


def with_random_biases(model: nn.Module) -> nn.Module:
    with torch.no_grad():
        for module in model.modules():
            if getattr(module, "bias", None) is not None:
                module.bias.normal_(0, 0.3)
    return model


SETTINGS = ExplainSettings(epsilon=EPSILON, gamma=GAMMA, stabilizer=STAB)
PURE_RULES = ["lrp0", "epsilon", "gamma", "alpha1beta0", "alpha2beta1"]


@pytest.mark.parametrize("method", PURE_RULES + ["epsilon_plus_flat"])
def test_mlp_matches_reference(method):
    model = with_random_biases(small_mlp())
    x = torch.randn(3, 3, 2, 2, dtype=torch.float64)
    targets = np.array([0, 2, 1])
    result = explain(model, x, targets, method, progress=False, settings=SETTINGS)
    for k in range(len(x)):
        expected = reference_lrp(model, x[k].numpy(), int(targets[k]), method)
        np.testing.assert_allclose(result.relevance[k], expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("method", PURE_RULES + ["epsilon_plus_flat", "epsilon_gamma_box"])
def test_cnn_matches_reference(method):
    model = with_random_biases(small_cnn())
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    result = explain(model, x, "predicted", method, progress=False, settings=SETTINGS)
    for k in range(len(x)):
        expected = reference_lrp(model, x[k].numpy(), int(result.targets[k]), method)
        assert np.abs(expected).sum() > 1e-2  # the comparison is not between two zero maps
        np.testing.assert_allclose(result.relevance[k], expected, atol=1e-5, rtol=1e-4)


def test_reference_catches_a_wrong_rule():
    """The comparison can fail: gamma and epsilon differ on the same network."""
    model = with_random_biases(small_cnn())
    x = torch.randn(1, 3, 6, 6, dtype=torch.float64)
    result = explain(model, x, 0, "gamma", progress=False, settings=SETTINGS)
    assert not np.allclose(result.relevance[0], reference_lrp(model, x[0].numpy(), 0, "epsilon"), atol=1e-5)


def test_instance_norm_rule_equals_per_image_merge():
    """LRP-0 with the frozen InstanceNorm rule equals LRP-0 on the conv with the InstanceNorm merged into it, image by image."""
    torch.manual_seed(3)
    conv, norm = nn.Conv2d(3, 4, 3, padding=1), nn.InstanceNorm2d(4, affine=True)
    head = nn.Linear(4 * 6 * 6, 3)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.normal_(0, 0.3)
    model = nn.Sequential(conv, norm, nn.ReLU(), nn.Flatten(), head).double()
    x = torch.randn(3, 3, 6, 6, dtype=torch.float64)
    # a negligible stabiliser: it enters twice in the unmerged network, once in the merged one
    result = explain(model, x, 1, "lrp0", progress=False, settings=ExplainSettings(stabilizer=1e-15))
    for k in range(len(x)):
        with torch.no_grad():
            u = conv(x[k:k + 1])
            mean, var = u.mean(dim=(2, 3)), u.var(dim=(2, 3), unbiased=False)
            scale = norm.weight / torch.sqrt(var[0] + norm.eps)
            merged = nn.Conv2d(3, 4, 3, padding=1).double()
            merged.weight.copy_(conv.weight * scale[:, None, None, None])
            merged.bias.copy_(scale * (conv.bias - mean[0]) + norm.bias)
        reference = nn.Sequential(merged, nn.ReLU(), nn.Flatten(), head)
        np.testing.assert_allclose(model(x[k:k + 1]).detach(), reference(x[k:k + 1]).detach(), atol=1e-10)
        np.testing.assert_allclose(result.relevance[k], reference_lrp(reference, x[k].numpy(), 1, "lrp0"), atol=1e-5, rtol=1e-4)
