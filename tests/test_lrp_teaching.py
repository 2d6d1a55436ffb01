"""Teaching helpers of chapter 3: the hand-checked toy network, the four-step rule, canonization, LRP-0 and gradients."""

from fractions import Fraction

import numpy as np
import pytest
import torch

from poisondetect import lrp_teaching as teaching
from poisondetect.explain import ExplainSettings, canonized_logits, explain
from poisondetect.models import build_model

EXACT = ExplainSettings(stabilizer=1e-12)


def toy_relevance(method):
    model, x = teaching.toy_network()
    return explain(model, x, 0, method, progress=False, settings=EXACT).relevance.ravel()


def test_toy_network_matches_the_hand_computation_of_the_notebook():
    model, x = teaching.toy_network()
    assert model(x).item() == 8.0
    np.testing.assert_allclose(toy_relevance("lrp0"), [4, 0, 2], atol=1e-6)
    np.testing.assert_allclose(toy_relevance("epsilon"), [2.56, 0, 1.28], atol=1e-6)
    gamma = [Fraction(41, 11), Fraction(6, 11), Fraction(21, 11)]
    np.testing.assert_allclose(toy_relevance("gamma"), np.array(gamma, float), atol=1e-6)
    np.testing.assert_allclose(toy_relevance("alpha1beta0"), [3, 2, 5 / 3], atol=1e-6)
    np.testing.assert_allclose(toy_relevance("gradient_x_input"), toy_relevance("lrp0"), atol=1e-6)


@pytest.mark.parametrize("rule", ["lrp0", "epsilon", "gamma"])
def test_four_step_numpy_equals_the_package_on_random_relu_networks(rule):
    rng = np.random.default_rng(3)
    for _ in range(5):
        W, b = rng.normal(size=(4, 3)), rng.normal(size=4) * 0.3
        v, c = rng.normal(size=(2, 4)), rng.normal(size=2) * 0.3
        x = rng.uniform(0, 2, size=3)  # a >= 0: the condition of the gamma rule in its textbook form
        model, _ = teaching.toy_network(W, b, v, c)
        logits = model(torch.from_numpy(x).view(1, 3, 1, 1))
        target = int(logits.argmax())
        if logits[0, target] <= 0:
            continue
        rho, incr = teaching.rule_functions(rule)
        ours = teaching.four_step_lrp([W, v], [b, c], x, target, rho, incr)[0]
        theirs = explain(model, torch.from_numpy(x).view(1, 3, 1, 1), target, rule, progress=False, settings=EXACT).relevance.ravel()
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-9)
    with pytest.raises(ValueError, match="unknown rule"):
        teaching.rule_functions("flat")


def trained_like_net(seed=0):
    torch.manual_seed(seed)
    model = build_model("net", n_classes=5).double()
    model.train()
    with torch.no_grad():  # running statistics and affine parameters that are not the defaults
        for _ in range(3):
            model(torch.randn(16, 3, 32, 32, dtype=torch.float64))
        for module in model.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d, torch.nn.InstanceNorm2d)):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return model.eval()


def test_lrp0_is_gradient_times_input_once_the_instance_norm_is_frozen():
    model = trained_like_net()
    x = torch.randn(3, 3, 32, 32, dtype=torch.float64)
    lrp0 = explain(model, x, 1, "lrp0", progress=False, settings=EXACT).relevance
    frozen = teaching.frozen_norm_gradient_x_input(model, x, 1)
    plain = explain(model, x, 1, "gradient_x_input", progress=False).relevance
    np.testing.assert_allclose(lrp0, frozen, rtol=1e-6, atol=1e-8 * np.abs(frozen).max())
    assert np.abs(plain - frozen).max() > 1e-3 * np.abs(frozen).max()  # the statistics' own gradient


def test_canonizer_keeps_the_logits_and_matters_for_gamma_not_for_lrp0():
    model = trained_like_net(1)
    x = torch.randn(2, 3, 32, 32, dtype=torch.float64)
    before, during = canonized_logits(model, x)
    torch.testing.assert_close(before, during)
    for method, same in (("lrp0", True), ("gamma", False)):
        merged = explain(model, x, 2, method, progress=False, settings=EXACT).relevance
        unmerged = teaching.uncanonized_relevance(model, x, 2, method, EXACT)
        assert np.allclose(merged, unmerged, rtol=1e-6, atol=1e-9 * np.abs(merged).max()) == same, method
    with pytest.raises(ValueError, match="not an LRP method"):
        teaching.uncanonized_relevance(model, x, 2, "gradient")


def test_gamma_explorer_is_a_widget():
    pytest.importorskip("ipywidgets")
    model, x = teaching.toy_network()
    widget = teaching.gamma_explorer(model, x, 0, gammas=(0.0, 0.25))
    assert widget.children[0].description == "gamma"
