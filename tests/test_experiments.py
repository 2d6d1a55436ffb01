"""The experiment layer: cached models and heatmaps, chained cache keys, the detector registry through it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from poisondetect import config, detection, explain, training
from poisondetect.attacks import BadNets, LabelConsistent
from poisondetect.detection import ClusteringSettings, TopkShareSettings
from poisondetect.experiments import (
    AttackExperiment, class_data, detect, detection_key, detector_settings, evaluate, explanation_key, explanations,
    model_key, poisoned_data, poisoned_model,
)
from poisondetect.explain import ExplainSettings
from poisondetect.training import predict_logits

SMOKE = AttackExperiment(dataset="synth", profile="smoke", model="net", attack=BadNets(poison_share=0.2))


def edited(monkeypatch, module, change: str) -> None:
    """Make :func:`poisondetect.config.code_hash` see ``module`` with its source changed by ``change``."""
    original = config.module_source

    def source(m):
        text = original(m)
        if m is not module:
            return text
        if change == "code":
            return text + "\n_EDITED_FOR_A_TEST = 1\n"
        first = text.index('"""') + 3
        return text[:first] + "A docstring edited for a test. " + text[first:]  # the module docstring

    monkeypatch.setattr(config, "module_source", source)


def keys(cls, settings) -> dict[str, str]:
    return {
        "model": model_key(SMOKE),
        "heatmaps": explanation_key(SMOKE, cls.images, cls.label, "gamma", ExplainSettings()),
        "detection": detection_key(cls, "gw_kmeans", settings["gw_kmeans"]),
        "activation detection": detection_key(cls, "ac_pca", settings["ac_pca"]),
    }


@pytest.fixture(scope="module")
def smoke_class():
    return class_data(SMOKE, progress=False)


def test_lrp_code_change_invalidates_heatmaps_and_detections_but_not_models(monkeypatch, smoke_class):
    settings = detector_settings("smoke")
    before = keys(smoke_class, settings)
    edited(monkeypatch, explain.lrp, "code")
    after = keys(smoke_class, settings)
    assert after["model"] == before["model"]
    assert after["heatmaps"] != before["heatmaps"] and after["detection"] != before["detection"]
    assert after["activation detection"] == before["activation detection"]  # AC reads no heatmaps


def test_docstring_change_invalidates_nothing(monkeypatch, smoke_class):
    settings = detector_settings("smoke")
    before = keys(smoke_class, settings)
    for module in (explain.lrp, training, detection.gw_kmeans):
        original = config.module_source(module)
        edited(monkeypatch, module, "docstring")
        assert config.module_source(module) != original
        assert keys(smoke_class, settings) == before
        monkeypatch.undo()


def test_docstring_and_comments_do_not_reach_the_code_hash(tmp_path, monkeypatch):
    import importlib.util

    variants = {
        "a": '"""One docstring."""\n\ndef f(x):\n    """Doubles."""\n    return 2 * x  # a comment\n',
        "b": '"""Another docstring, longer."""\n\n\ndef f(x):\n    """Twice x."""\n    # a new comment line\n    return 2 * x\n',
        "c": '"""One docstring."""\n\ndef f(x):\n    """Doubles."""\n    return 3 * x\n',
    }
    hashes = {}
    for name, text in variants.items():
        path = tmp_path / f"variant_{name}.py"
        path.write_text(text)
        spec = importlib.util.spec_from_file_location("variant", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        monkeypatch.setattr(config, "module_source", lambda m, text=text: text)
        hashes[name] = config.code_hash(module)
    assert hashes["a"] == hashes["b"] != hashes["c"]


def test_training_code_change_invalidates_models_heatmaps_and_detections(monkeypatch, smoke_class):
    settings = detector_settings("smoke")
    before = keys(smoke_class, settings)
    edited(monkeypatch, training, "code")
    after = keys(smoke_class, settings)
    assert all(after[k] != before[k] for k in before)


def test_a_detectors_key_holds_only_its_own_settings(smoke_class):
    settings = detector_settings("smoke")
    changed = {**settings, "concentration_topk": TopkShareSettings(k=4)}
    assert detection_key(smoke_class, "concentration_topk", changed["concentration_topk"]) != \
        detection_key(smoke_class, "concentration_topk", settings["concentration_topk"])
    assert detection_key(smoke_class, "gw_kmeans", changed["gw_kmeans"]) == detection_key(smoke_class, "gw_kmeans", settings["gw_kmeans"])
    with pytest.raises(TypeError, match="ClusteringSettings"):
        detect(smoke_class, "ac_pca", TopkShareSettings())


@pytest.mark.slow
def test_experiment_smoke_end_to_end(monkeypatch):
    """poisoned_model on the smoke profile: consistent set, cached reload, label-consistent via a surrogate."""
    model, poisoned, history = poisoned_model(SMOKE, progress=False)
    n_target = np.sum(poisoned.true_labels == 5)
    assert poisoned.n_poison == round(0.2 * n_target / 0.8)
    again = poisoned_data(SMOKE, progress=False)
    np.testing.assert_array_equal(again.images, poisoned.images)
    monkeypatch.setattr(training, "fit", lambda *a, **k: pytest.fail("a cached model must not be retrained"))
    model2, _, history2 = poisoned_model(SMOKE, progress=False)
    assert history2 == history and not model2.training
    x = poisoned.images[:8]
    torch.testing.assert_close(predict_logits(model2, x), predict_logits(model, x), rtol=0, atol=0)
    monkeypatch.undo()
    lc = SMOKE.replace(attack=LabelConsistent(poison_share=0.2, steps=2))
    _, lc_set, _ = poisoned_model(lc, progress=False)
    np.testing.assert_array_equal(lc_set.labels, lc_set.true_labels)


@pytest.mark.slow
def test_heatmaps_are_cached_by_model_and_recomputed_after_an_lrp_change(monkeypatch):
    _, poisoned, _ = poisoned_model(SMOKE, progress=False)
    images = poisoned.images[:3]
    first = explanations(SMOKE, images, 2, "epsilon", progress=False)
    calls = []
    real_explain = explain.api.explain
    monkeypatch.setattr(explain.api, "explain", lambda *a, **k: calls.append(1) or real_explain(*a, **k))
    second = explanations(SMOKE, images, 2, "epsilon", progress=False)
    assert not calls
    np.testing.assert_array_equal(first.relevance, second.relevance)
    assert second.maps.shape == (3, 32, 32) and second.method == "epsilon"
    edited(monkeypatch, explain.lrp, "code")
    monkeypatch.setattr(training, "fit", lambda *a, **k: pytest.fail("an LRP change must not retrain the model"))
    third = explanations(SMOKE, images, 2, "epsilon", progress=False)
    assert calls == [1]
    np.testing.assert_array_equal(first.relevance, third.relevance)


@pytest.mark.slow
def test_evaluate_caches_results_with_their_diagnostics(monkeypatch):
    settings = detector_settings("smoke")
    truth, first = evaluate(SMOKE, ("gw_kmeans", "ac_pca"), settings=settings, progress=False)
    failing = dataclasses.replace(detection.DETECTORS["gw_kmeans"], run=lambda *a, **k: pytest.fail("cached: must not rerun"))
    monkeypatch.setitem(detection.DETECTORS, "gw_kmeans", failing)
    truth2, second = evaluate(SMOKE, ("gw_kmeans", "ac_pca"), settings=settings, progress=False)
    np.testing.assert_array_equal(truth, truth2)
    for name in first:
        np.testing.assert_array_equal(first[name].flagged, second[name].flagged)
        assert first[name].method == name
    hc = second["gw_kmeans"]
    assert hc.extra["history"].shape[1] == truth.size and hc.extra["barycenter_costs"].ndim == 3
    assert isinstance(hc.extra["converged"], bool) and np.isfinite(hc.split_score)
    with pytest.raises(ValueError, match="unknown detector"):
        evaluate(SMOKE, ("nonsense",), progress=False)
    assert detect(class_data(SMOKE, progress=False), "ac_ica", ClusteringSettings(n_components=3)).method == "ac_ica"
    assert dataclasses.is_dataclass(settings["spectral_signatures"])


@pytest.mark.parametrize(("make", "match"), [
    (lambda: AttackExperiment(model="resnet"), "unknown model"),
    (lambda: AttackExperiment(dataset="cifar"), "unknown dataset"),
    (lambda: AttackExperiment(profile="huge"), "unknown profile"),
])
def test_bad_experiments_raise_clear_errors(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.slow
def test_detectors_inspect_the_training_split_and_the_gate_reads_the_models_own_poisons():
    from poisondetect.experiments import ClassSelection, backdoor_gate, thesis_experiment, training_split

    _, poisoned, _ = poisoned_model(SMOKE, progress=False)
    trained = set(training_split(SMOKE, poisoned).tolist())
    parts = {split: class_data(SMOKE, ClassSelection(split=split), progress=False) for split in ("train", "validation", "all")}
    assert set(parts["train"].indices.tolist()) <= trained
    assert not set(parts["validation"].indices.tolist()) & trained
    assert sorted(np.r_[parts["train"].indices, parts["validation"].indices].tolist()) == parts["all"].indices.tolist()
    assert parts["train"].is_poison.any()
    with pytest.raises(ValueError, match="split"):
        ClassSelection(split="test")
    gate = backdoor_gate(SMOKE, progress=False)
    assert set(gate) == {"attack_success", "poisons_learned", "passed"}
    assert 0 <= gate["poisons_learned"] <= 1 and gate["passed"] == (min(gate["attack_success"], gate["poisons_learned"]) >= 0.98)
    with pytest.raises(ValueError, match="clean"):
        backdoor_gate(SMOKE.replace(attack=None))
    thesis = thesis_experiment("synth", "quick", 0.1)
    assert thesis.attack.trigger.n_positions == 4 and thesis.train.keep == "last" and thesis.train.schedule == "onecycle" and not (thesis.train.max_shift or thesis.train.max_rotation or thesis.train.max_scale)

