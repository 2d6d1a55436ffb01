"""Behaviour of poisondetect.explain: conservation, canonizers, planted pixel, shapes, errors, caching."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from zennit.layer import Sum

from poisondetect.explain import (
    LRP_METHODS, METHODS, ExplainSettings, canonized_logits, channel_sum, explain, normalize_maps,
    positive_part, relevance_magnitude, sum_pool,
)
from poisondetect.explain.canonizers import mergeable_batchnorms
from poisondetect.explain.lrp import input_layer_names
from poisondetect.models import build_model


def randomised(model: nn.Module, seed: int = 0) -> nn.Module:
    """Eval-mode model with non-trivial BatchNorm statistics (fresh ones are the identity)."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.running_mean.normal_(0, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.2)
    return model.eval()


def bias_free(model: nn.Module) -> nn.Module:
    """Remove every bias, also the ones BatchNorm merging would create (zero running mean and shift)."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.running_mean.zero_()
                module.bias.zero_()
            elif getattr(module, "bias", None) is not None:
                module.bias.zero_()
    return model


# ----------------------------------------------------------------------------- canonizers

@pytest.mark.parametrize("name, expected_inputs", [
    ("net", {"conv1"}),
    ("inception", {"inception.branch1x1.conv", "inception.branch5x5.0.conv", "inception.branch3x3dbl.0.conv", "inception.branch_pool.1.conv"}),
    ("vgg16", {"features.0"}),
])
def test_canonizer_merges_every_batchnorm_and_keeps_logits(name, expected_inputs):
    model = randomised(build_model(name))
    n_bn = sum(isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)) for m in model.modules())
    assert len(mergeable_batchnorms(model)) == n_bn
    x = torch.randn(4, 3, 32, 32)
    before, during = canonized_logits(model, x)
    assert (before - during).abs().max() < 1e-5
    assert torch.equal(model(x), before)  # the merge was undone
    assert input_layer_names(model) == expected_inputs


def test_explain_leaves_the_model_untouched():
    """Same parameter objects, same train mode, and it still converts to float64."""
    model = randomised(build_model("net")).train()
    params = [id(p) for p in model.parameters()]
    explain(model, torch.randn(2, 3, 32, 32), 0, "epsilon", progress=False)
    assert [id(p) for p in model.parameters()] == params and model.training
    model.eval().double()(torch.randn(1, 3, 32, 32, dtype=torch.float64))


def test_canonizer_is_undone_completely():
    """zennit's merge leaves instance attributes shadowing parameters and buffers; ours removes them."""
    model = randomised(build_model("net"))
    with torch.no_grad():
        model.fc1.bias = None  # a merged layer without bias must not gain one
    keys = list(model.state_dict())
    canonized_logits(model, torch.randn(2, 3, 32, 32))
    assert list(model.state_dict()) == keys
    assert not any(k in vars(m) for m in model.modules() for k in ("weight", "bias", "running_mean", "running_var"))
    model.double()(torch.randn(1, 3, 32, 32, dtype=torch.float64))


def test_canonizer_follows_the_graph_not_the_registration_order():
    class Shuffled(nn.Module):
        def __init__(self):
            super().__init__()
            self.bn = nn.BatchNorm2d(4)    # registered before its convolution
            self.conv = nn.Conv2d(3, 4, 3)
            self.bn_after_relu = nn.BatchNorm2d(4)  # follows a ReLU: cannot be merged
            self.relu = nn.ReLU()
            self.flatten = nn.Flatten()
            self.fc = nn.Linear(4 * 30 * 30, 2)

        def forward(self, x):
            return self.fc(self.flatten(self.bn_after_relu(self.relu(self.bn(self.conv(x))))))

    model = randomised(Shuffled())
    assert mergeable_batchnorms(model) == [("conv", "bn")]
    before, during = canonized_logits(model, torch.randn(2, 3, 32, 32))
    assert (before - during).abs().max() < 1e-5
    # the unmerged BatchNorm keeps its own (frozen affine) rule: LRP-0 equals gradient x input there too
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    model = bias_free(model.double())
    lrp = explain(model, x, 1, "lrp0", progress=False, settings=ExplainSettings(stabilizer=1e-15))
    gxi = explain(model, x, 1, "gradient_x_input", progress=False)
    np.testing.assert_allclose(lrp.relevance, gxi.relevance, atol=1e-6)


def zennit_and_fast_rule(name):
    """A zennit rule and our shortcut for non-negative inputs, with the layers each is tested on."""
    from zennit.rules import Gamma, ZPlus

    from poisondetect.explain.lrp import FastGamma, FastZPlus

    if name == "zplus":
        return ZPlus(), FastZPlus(), (nn.Conv2d,)
    return Gamma(0.5), FastGamma(0.5), (nn.Conv2d, nn.Linear)


@pytest.mark.parametrize("name", ["zplus", "gamma"])
@pytest.mark.parametrize("negative_inputs", [False, True])
def test_fast_rules_equal_zennits_rules(name, negative_inputs):
    """The shortcut for non-negative inputs (and the fallback otherwise) gives zennit's relevance."""
    from zennit.composites import LayerMapComposite

    torch.manual_seed(0 if name == "zplus" else 1)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.Identity() if negative_inputs else nn.ReLU(),
                          nn.Conv2d(4, 5, 3, bias=True), nn.Flatten(), nn.Linear(5 * 6 * 6, 2)).double()
    x = torch.randn(3, 3, 8, 8, dtype=torch.float64)
    *rules, layers = zennit_and_fast_rule(name)
    results = []
    for rule in rules:
        composite = LayerMapComposite([(layer, rule.copy()) for layer in layers])
        with composite.context(model):
            xg = x.clone().requires_grad_()
            out = model(xg)
            (r,) = torch.autograd.grad(out, xg, grad_outputs=torch.eye(2, dtype=out.dtype)[[0, 1, 0]] * out)
        results.append(r)
    assert results[0].abs().sum() > 0
    torch.testing.assert_close(results[0], results[1], atol=1e-10, rtol=1e-8)


# ----------------------------------------------------------------------------- conservation

@pytest.mark.parametrize("method", ["lrp0", "gamma", "alpha1beta0", "epsilon_plus_flat", "epsilon_gamma_box"])
@pytest.mark.parametrize("name", ["inception", pytest.param("vgg16", marks=pytest.mark.slow)])
def test_conservation_on_bias_free_networks(name, method):
    """Without biases (and epsilon = 0) the input relevance sums to the explained logit."""
    model = bias_free(randomised(build_model(name))).double()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    result = explain(model, x, "predicted", method, progress=False, settings=ExplainSettings(epsilon=0.0, stabilizer=1e-12))
    totals = result.maps.sum(axis=(1, 2))
    np.testing.assert_allclose(totals, result.logits_explained, rtol=1e-4)


def test_biases_absorb_relevance():
    """With biases the sum differs from the logit: the gap is what the biases take (the thesis's eq. 5.7)."""
    model = randomised(build_model("vgg16"))
    with torch.no_grad():
        model.classifier.fc3.bias.fill_(5.0)
    result = explain(model, torch.randn(2, 3, 32, 32), 0, "lrp0", progress=False)
    assert np.all(np.abs(result.maps.sum(axis=(1, 2)) - result.logits_explained) > 1.0)


def test_lrp0_equals_gradient_times_input_on_relu_network():
    model = randomised(build_model("inception")).double()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    lrp = explain(model, x, 3, "lrp0", progress=False, settings=ExplainSettings(stabilizer=1e-15))
    gxi = explain(model, x, 3, "gradient_x_input", progress=False)
    np.testing.assert_allclose(lrp.relevance, gxi.relevance, atol=1e-8)


# ----------------------------------------------------------------------------- planted pixel

@pytest.fixture(scope="module")
def pixel_model():
    """A small CNN trained to tell noise images with one bright pixel at (11, 20) from plain noise."""
    torch.manual_seed(0)
    n = 128
    x = torch.randn(n, 3, 32, 32) * 0.3
    y = torch.arange(n) % 2
    x[y == 1, :, 11, 20] = 3.0
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 2),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(40):
        optimizer.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
    model.eval()
    test = torch.randn(20, 3, 32, 32) * 0.3
    test[:, :, 11, 20] = 3.0
    assert (model(test).argmax(1) == 1).float().mean() > 0.9
    return model, test


@pytest.mark.parametrize("method", LRP_METHODS + ("gradient_x_input", "integrated_gradients"))
def test_heatmap_maximum_is_the_planted_pixel(pixel_model, method):
    model, test = pixel_model
    maps = explain(model, test, 1, method, progress=False).maps
    peaks = [np.unravel_index(np.argmax(m), m.shape) for m in maps]
    assert sum(peak == (11, 20) for peak in peaks) >= 0.9 * len(peaks)


# ----------------------------------------------------------------------------- shapes, batches, targets

@pytest.mark.parametrize("method", METHODS)
def test_shapes_and_dtypes(method):
    model = randomised(build_model("net"))
    settings = ExplainSettings(smoothgrad_samples=2, ig_steps=2, occlusion_window=8, occlusion_stride=8)
    result = explain(model, torch.randn(3, 3, 32, 32), np.array([0, 4, 2]), method, batch_size=2, progress=False, settings=settings)
    assert result.relevance.shape == (3, 3, 32, 32) and result.relevance.dtype == np.float32
    assert result.maps.shape == (3, 32, 32) and result.maps.dtype == np.float32
    assert result.targets.tolist() == [0, 4, 2] and result.targets.dtype == np.int64
    assert result.logits_explained.shape == (3,) and result.logits_explained.dtype == np.float32
    assert np.isfinite(result.relevance).all()


@pytest.mark.parametrize("method", ["epsilon", "epsilon_gamma_box"])
def test_result_does_not_depend_on_batch_size(method):
    model = randomised(build_model("net"))
    x = torch.randn(5, 3, 32, 32)
    one = explain(model, x, "predicted", method, batch_size=5, progress=False)
    many = explain(model, x, "predicted", method, batch_size=2, progress=False)
    np.testing.assert_allclose(one.relevance, many.relevance, atol=1e-6)
    assert np.array_equal(one.targets, one.predicted)


# ----------------------------------------------------------------------------- errors

def test_clear_errors_for_bad_input():
    model = randomised(build_model("net"))
    x = torch.randn(2, 3, 32, 32)
    with pytest.raises(ValueError, match="unknown method"):
        explain(model, x, 0, "deeplift")
    with pytest.raises(TypeError, match="to_tensor"):
        explain(model, np.zeros((2, 32, 32, 3), np.uint8), 0)
    with pytest.raises(ValueError, match="shape"):
        explain(model, x, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match="predicted"):
        explain(model, x, "target")
    with pytest.raises(ValueError, match="target classes"):
        explain(model, x, 99, "epsilon", progress=False)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.fc = nn.Linear(3 * 32 * 32, 2)

    def forward(self, x):
        return self.fc((x + self.conv(x)).flatten(1))


@pytest.mark.parametrize("model, message", [
    (nn.Sequential(nn.Flatten(), nn.LayerNorm(3 * 32 * 32), nn.Linear(3 * 32 * 32, 2)), "LayerNorm"),
    (nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 2), nn.Softmax(dim=1)), "logits"),
    (Residual(), "add"),
])
def test_clear_errors_for_models_lrp_cannot_handle(model, message):
    with pytest.raises(TypeError, match=message):
        explain(model, torch.randn(2, 3, 32, 32), 0, "epsilon_plus_flat", progress=False)
    explain(model, torch.randn(2, 3, 32, 32), 0, "gradient", progress=False)  # gradients still work


def test_sum_module_makes_residual_explainable():
    class SumResidual(Residual):
        def __init__(self):
            super().__init__()
            self.sum = Sum(dim=-1)

        def forward(self, x):
            return self.fc(self.sum(torch.stack([x, self.conv(x)], dim=-1)).flatten(1))

    with pytest.raises(TypeError, match="stack"):  # stack is not on the allow list either
        explain(SumResidual(), torch.randn(2, 3, 32, 32), 0, "epsilon", progress=False)


# ----------------------------------------------------------------------------- other attributions

def test_integrated_gradients_completeness():
    """Sum of IG = f(x) - f(baseline). (Not on "net": its InstanceNorm divides by ~0 at the constant baseline.)"""
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 16 * 16, 3),
    ).double()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    result = explain(model, x, 1, "integrated_gradients", progress=False, settings=ExplainSettings(ig_steps=200))
    with torch.no_grad():
        gap = (model(x)[:, 1] - model(torch.zeros_like(x))[:, 1]).numpy()
    np.testing.assert_allclose(result.maps.sum(axis=(1, 2)), gap, rtol=0.02, atol=1e-3)


def test_occlusion_sums_to_gradient_times_input_on_linear_model():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(3 * 32 * 32, 4)).double()
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    occlusion = explain(model, x, 2, "occlusion", progress=False)
    gxi = explain(model, x, 2, "gradient_x_input", progress=False)
    np.testing.assert_allclose(occlusion.maps.sum(axis=(1, 2)), gxi.maps.sum(axis=(1, 2)), rtol=1e-6)


def test_smoothgrad_without_noise_is_the_gradient_and_gradcam_is_nonnegative():
    model = randomised(build_model("net"))
    x = torch.randn(2, 3, 32, 32)
    smooth = explain(model, x, 0, "smoothgrad", progress=False, settings=ExplainSettings(smoothgrad_noise=0.0, smoothgrad_samples=3))
    grad = explain(model, x, 0, "gradient", progress=False)
    np.testing.assert_allclose(smooth.relevance, grad.relevance, atol=1e-6)
    cam = explain(model, x, 0, "gradcam", progress=False)
    assert (cam.relevance >= 0).all()
    with pytest.raises(ValueError, match="not a module"):
        explain(model, x, 0, "gradcam", progress=False, settings=ExplainSettings(gradcam_layer="nope"))


# ----------------------------------------------------------------------------- post-processing

def test_postprocessing():
    rng = np.random.default_rng(0)
    relevance = rng.normal(size=(4, 3, 8, 8)).astype(np.float32)
    maps = channel_sum(relevance)
    assert maps.shape == (4, 8, 8)
    np.testing.assert_allclose(maps, relevance[:, 0] + relevance[:, 1] + relevance[:, 2], rtol=1e-6)
    assert (positive_part(maps) >= 0).all()
    pooled = sum_pool(maps, 4)
    assert pooled.shape == (4, 2, 2)
    np.testing.assert_allclose(pooled.sum(axis=(1, 2)), maps.sum(axis=(1, 2)), rtol=1e-5)
    np.testing.assert_allclose(pooled[1, 0, 1], maps[1, :4, 4:].sum(), rtol=1e-5)
    assert np.allclose(np.abs(normalize_maps(maps, "max_abs")).reshape(4, -1).max(axis=1), 1)
    minmax = normalize_maps(maps, "min_max").reshape(4, -1)
    assert np.allclose(minmax.min(axis=1), 0) and np.allclose(minmax.max(axis=1), 1)
    np.testing.assert_allclose(normalize_maps(positive_part(maps), "sum").sum(axis=(1, 2)), 1, rtol=1e-5)
    np.testing.assert_array_equal(normalize_maps(maps, "none"), maps)
    # min-max destroys magnitude: a map and its tenfold give the same result
    np.testing.assert_allclose(normalize_maps(10 * maps, "min_max"), normalize_maps(maps, "min_max"), atol=1e-6)
    np.testing.assert_allclose(relevance_magnitude(10 * maps), 10 * relevance_magnitude(maps), rtol=1e-5)
    zero = np.zeros((1, 4, 4))
    assert np.all(normalize_maps(zero, "max_abs") == 0) and np.allclose(normalize_maps(zero, "sum"), 1 / 16)
    with pytest.raises(ValueError, match="how"):
        normalize_maps(maps, "zscore")
    with pytest.raises(ValueError, match="factor"):
        sum_pool(maps, 3)
    with pytest.raises(ValueError, match="dimensions"):
        channel_sum(maps)
