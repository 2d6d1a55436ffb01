"""Models: shapes, the penultimate layer, no in-place ops, BatchNorm right after its conv (zennit)."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from zennit.attribution import Gradient
from zennit.canonizers import SequentialMergeBatchNorm
from zennit.composites import EpsilonPlusFlat

from poisondetect.models import MODELS, build_model, penultimate_activations, penultimate_layer

PENULTIMATE_DIM = {"net": 128, "inception": 128, "vgg16": 512}
#: The last dense layer, which maps the penultimate activations to the logits.
LAST_LAYER = {"net": "fc3", "inception": "head.fc3", "vgg16": "classifier.fc3"}


@pytest.fixture(scope="module", params=sorted(MODELS))
def model(request):
    torch.manual_seed(0)
    m = build_model(request.param, n_classes=11)
    m.name = request.param
    # BatchNorm with non-trivial running statistics, so merging it is a real test
    with torch.no_grad():
        for module in m.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)
    return m.eval()


def test_logits_shape(model):
    x = torch.randn(4, 3, 32, 32)
    assert model(x).shape == (4, 11)


def test_penultimate_activations_feed_the_last_layer(model):
    """In eval mode, logits = last_layer(penultimate activations): the hook reads the right layer."""
    x = torch.randn(5, 3, 32, 32)
    feats = penultimate_activations(model, x, batch_size=2)
    assert feats.shape == (5, PENULTIMATE_DIM[model.name])
    assert (feats >= 0).all()  # taken after the ReLU
    last = model.get_submodule(LAST_LAYER[model.name])
    torch.testing.assert_close(last(feats), model(x), rtol=1e-5, atol=1e-5)
    assert isinstance(penultimate_layer(model), nn.ReLU)


def test_no_inplace_activations(model):
    for name, module in model.named_modules():
        assert not getattr(module, "inplace", False), f"{name} is in-place"


def test_every_batchnorm_follows_its_linear_layer(model):
    """zennit's SequentialMergeBatchNorm finds every BatchNorm and merging keeps the logits."""
    n_batchnorm = sum(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    x = torch.randn(3, 3, 32, 32)
    before = model(x)
    canonizer = SequentialMergeBatchNorm()
    instances = canonizer.apply(model)
    assert len(instances) == n_batchnorm
    try:
        torch.testing.assert_close(model(x), before, rtol=1e-4, atol=1e-4)
    finally:
        for instance in instances:
            instance.remove()
    torch.testing.assert_close(model(x), before)


def test_zennit_lrp_runs(model):
    x = torch.randn(2, 3, 32, 32, requires_grad=True)
    composite = EpsilonPlusFlat(canonizers=[SequentialMergeBatchNorm()])
    with Gradient(model=model, composite=composite) as attributor:
        output, relevance = attributor(x, torch.eye(11)[[0, 1]])
    assert relevance.shape == x.shape
    assert torch.isfinite(relevance).all()


def test_build_model_rejects_bad_names():
    with pytest.raises(ValueError, match="unknown model"):
        build_model("resnet")
    with pytest.raises(ValueError, match="n_classes"):
        build_model("net", n_classes=1)


def test_weights_depend_on_the_seed_only():
    torch.manual_seed(3)
    a = build_model("net").state_dict()
    torch.manual_seed(3)
    b = build_model("net").state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
