"""The call cache: a hit equals a recomputation, the key sees every argument and the code."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torch import nn

from poisondetect.adversarial import AttackResult, fgsm, pgd
from poisondetect.calls import cached, code_modules, dependency_code


@pytest.fixture
def artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("POISONDETECT_ARTIFACTS", str(tmp_path))
    return tmp_path


def tiny_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 4)).eval()


def images(n: int = 6) -> tuple[torch.Tensor, np.ndarray]:
    generator = torch.Generator().manual_seed(1)
    return torch.rand(n, 3, 8, 8, generator=generator), np.arange(n) % 4


def entries(root) -> list:
    return sorted((root / "calls").rglob("*.pt"))


def test_hit_equals_recomputation_and_rebuilds_the_result(artifacts):
    net, (x, y) = tiny_net(), images()
    cached_pgd = cached(pgd)
    first = cached_pgd(net, x, y, 0.05, steps=3)
    assert len(entries(artifacts)) == 1
    again = cached_pgd(net, x, y, 0.05, steps=3, progress=True)  # progress is not part of the key
    assert len(entries(artifacts)) == 1
    direct = pgd(net, x, y, 0.05, steps=3)
    for result in (first, again):
        assert isinstance(result, AttackResult)
        assert torch.equal(result.images, direct.images)
        np.testing.assert_array_equal(result.success, direct.success)
        assert result.success.dtype == bool and result.norm == direct.norm and result.queries is None


def test_key_sees_model_weights_inputs_and_settings(artifacts):
    net, (x, y) = tiny_net(), images()
    cached_fgsm = cached(fgsm)
    cached_fgsm(net, x, y, 0.05)
    cached_fgsm(net, x, y, 0.06)                     # another budget
    cached_fgsm(tiny_net(seed=1), x, y, 0.05)        # other weights
    cached_fgsm(net, x[:4], y[:4], 0.05)             # other images
    cached_fgsm(net, x, y, 0.05, preprocess=lambda v: 2 * v)  # another preprocessing
    assert len(entries(artifacts)) == 5
    net.train()                                      # the training flag changes what the model computes (dropout)
    cached_fgsm(net, x, y, 0.05)
    assert len(entries(artifacts)) == 6


def test_function_arguments_are_keyed_by_code_and_closure_and_globals_refused(artifacts):
    apply = cached(lambda f, v: f(v))
    scale = 2.0
    assert apply(lambda v, s=scale: s * v, 1.0) == 2.0
    assert apply(lambda v, s=3.0: s * v, 1.0) == 3.0  # same code, other default: another entry
    assert len(entries(artifacts)) == 2
    with pytest.raises(TypeError, match="global variable 'GLOBAL_SCALE'"):
        apply(lambda v: GLOBAL_SCALE * v, 1.0)
    with pytest.raises(TypeError, match="pass a function"):  # a partial's bound values would not be keyed
        apply(functools.partial(max, 2.0), 1.0)
    assert apply(abs, -1.0) == 1.0  # a builtin is keyed by its name


GLOBAL_SCALE = 4.0


def test_result_does_not_depend_on_the_random_state_and_leaves_it_alone(artifacts):
    draw = cached(lambda n: torch.rand(n))
    torch.manual_seed(0)
    first = draw(5)
    after = torch.rand(1)
    torch.manual_seed(123)
    (artifacts / "calls").rename(artifacts / "moved")  # force a recomputation under another global state
    second = draw(5)
    assert torch.equal(first, second)
    torch.manual_seed(0)
    draw(5)
    assert torch.equal(torch.rand(1), after)


def test_module_results_rebuild_on_the_argument_and_timing_is_stored(artifacts):
    def train(model: nn.Module, steps: int) -> nn.Module:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(float(steps))
        return model

    cached_train = cached(train)
    trained, seconds = cached_train.timed(tiny_net(), 2)
    loaded, seconds_again = cached_train.timed(tiny_net(), 2)
    assert loaded is not trained and seconds_again == seconds >= 0
    for a, b in zip(trained.parameters(), loaded.parameters()):
        assert torch.equal(a, b)


def test_only_poisondetect_dataclasses_are_rebuilt(artifacts):
    from dataclasses import dataclass

    @dataclass
    class Foreign:
        value: int

    with pytest.raises(TypeError, match="not a poisondetect dataclass"):
        cached(lambda: Foreign(1))()


def test_code_key_follows_imports():
    # the attack's key covers the code it runs: its module, the shared attack core and the normalisation, nothing else
    names = [m.__name__ for m in code_modules("poisondetect.adversarial.gradient")]
    assert names == ["poisondetect.adversarial.base", "poisondetect.adversarial.gradient", "poisondetect.attacks.pgd",
                     "poisondetect.data.transforms"]
    assert dependency_code("poisondetect.adversarial.gradient") != dependency_code("poisondetect.adversarial.deepfool")
